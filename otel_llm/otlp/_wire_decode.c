/* OTLP protobuf bytes -> SpanRecords: decode_request of the optional C wire codec
   otel_llm.otlp._wire (the module, and why it exists: _wire.c). */
#include "_wire.h"

#include <string.h>

/* --- decoding: protobuf bytes -> SpanRecords ---------------------------------------------

   The input comes from the network, so every read is bounds-checked against the end of
   the enclosing message. Anything outside the canonical layout (a singular message or a
   oneof set twice, a known field with another wire type, groups, invalid UTF-8, nesting
   deeper than 32 values, truncation) raises Unsupported and the caller parses through
   upb, which either reads it (merging, unknown fields) or reports the DecodeError. */

typedef struct {
    const uint8_t *p, *end;
} Cur;

static void *
refuse(const char *what) /* wire_unsupported(), for functions returning a pointer */
{
    wire_unsupported(what);
    return NULL;
}

static int
read_varint(Cur *c, uint64_t *out)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (c->p >= c->end) return wire_unsupported("truncated varint");
        uint8_t byte = *c->p++;
        v |= (uint64_t)(byte & 0x7F) << shift;
        if (!(byte & 0x80)) {
            *out = v;
            return 0;
        }
    }
    return wire_unsupported("varint too long");
}

static int
read_tag(Cur *c, uint32_t *field, int *wire)
{
    uint64_t tag;
    if (read_varint(c, &tag) < 0) return -1;
    if (tag >> 32 || (tag >> 3) == 0) return wire_unsupported("bad tag");
    *field = (uint32_t)(tag >> 3);
    *wire = (int)(tag & 7);
    return 0;
}

/* The body of a length-delimited field (wire type `wire`), as a cursor of its own. */
static int
read_len(Cur *c, int wire, Cur *body)
{
    uint64_t n;
    if (wire != LEN) return wire_unsupported("unexpected wire type");
    if (read_varint(c, &n) < 0) return -1;
    if (n > (uint64_t)(c->end - c->p)) return wire_unsupported("truncated field");
    body->p = c->p;
    body->end = c->p + n;
    c->p += n;
    return 0;
}

static int
read_fixed(Cur *c, int size, uint64_t *out)
{
    if (c->end - c->p < size) return wire_unsupported("truncated fixed field");
    uint64_t v = 0;
    for (int i = 0; i < size; i++) v |= (uint64_t)c->p[i] << (8 * i);
    c->p += size;
    *out = v;
    return 0;
}

static int
skip_field(Cur *c, int wire)
{
    uint64_t ignored;
    Cur body;
    switch (wire) {
    case VARINT: return read_varint(c, &ignored);
    case I64: return read_fixed(c, 8, &ignored);
    case LEN: return read_len(c, wire, &body);
    case I32: return read_fixed(c, 4, &ignored);
    default: return wire_unsupported("group or unknown wire type");
    }
}

/* Field readers: each checks the wire type, then returns a new reference. */
static PyObject *
read_str(Cur *c, int wire)
{
    Cur body;
    if (read_len(c, wire, &body) < 0) return NULL;
    PyObject *s = PyUnicode_DecodeUTF8((const char *)body.p, body.end - body.p, NULL);
    if (s == NULL && PyErr_ExceptionMatches(PyExc_UnicodeDecodeError)) {
        PyErr_Clear(); /* upb rejects it too, in its own words */
        wire_unsupported("invalid UTF-8");
    }
    return s;
}

static PyObject *
read_bytes(Cur *c, int wire)
{
    Cur body;
    if (read_len(c, wire, &body) < 0) return NULL;
    return PyBytes_FromStringAndSize((const char *)body.p, body.end - body.p);
}

/* A varint as the field's type: int32 (enums) and uint32 truncate as protobuf does. */
enum { AS_INT32, AS_UINT32, AS_INT64, AS_BOOL };

static PyObject *
read_varint_as(Cur *c, int wire, int as)
{
    uint64_t v;
    if (wire != VARINT) return refuse("unexpected wire type");
    if (read_varint(c, &v) < 0) return NULL;
    switch (as) {
    case AS_INT32: return PyLong_FromLong((int32_t)(uint32_t)v);
    case AS_UINT32: return PyLong_FromUnsignedLong((uint32_t)v);
    case AS_INT64: return PyLong_FromLongLong((int64_t)v);
    default: return PyBool_FromLong(v != 0);
    }
}

static PyObject *
read_fixed_int(Cur *c, int wire, int size)
{
    uint64_t v;
    if (wire != (size == 8 ? I64 : I32)) return refuse("unexpected wire type");
    if (read_fixed(c, size, &v) < 0) return NULL;
    return PyLong_FromUnsignedLongLong(v);
}

/* Replace *slot (a new reference or NULL) with `value`; -1 when `value` is NULL. */
static int
store(PyObject **slot, PyObject *value)
{
    if (value == NULL) return -1;
    Py_XSETREF(*slot, value);
    return 0;
}

static int read_key_value(Cur *c, int wire, PyObject *attrs, int depth);

static PyObject *
read_any(Cur body, int depth) /* AnyValue */
{
    PyObject *value = NULL;
    uint32_t field;
    int wire;
    /* Each level is two messages (AnyValue, ArrayValue or KeyValueList); upb stops at
       100 in all, i.e. 47 levels of values. Stopping sooner leaves the error to upb. */
    if (depth > 32) return refuse("nested too deep");
    while (body.p < body.end) {
        if (read_tag(&body, &field, &wire) < 0) goto fail;
        if (field > 7) {
            if (skip_field(&body, wire) < 0) goto fail;
            continue;
        }
        if (value != NULL) { /* the oneof set twice: upb merges or replaces */
            wire_unsupported("oneof set twice");
            goto fail;
        }
        if (field == 1) {
            value = read_str(&body, wire);
        }
        else if (field == 2) {
            value = read_varint_as(&body, wire, AS_BOOL);
        }
        else if (field == 3) {
            value = read_varint_as(&body, wire, AS_INT64);
        }
        else if (field == 4) {
            uint64_t bits;
            double d;
            if (wire != I64) {
                wire_unsupported("unexpected wire type");
                goto fail;
            }
            if (read_fixed(&body, 8, &bits) < 0) goto fail;
            memcpy(&d, &bits, sizeof d);
            value = PyFloat_FromDouble(d);
        }
        else if (field == 7) {
            value = read_bytes(&body, wire);
        }
        else { /* 5: ArrayValue{1: AnyValue*}, 6: KeyValueList{1: KeyValue*} */
            Cur inner, item;
            uint32_t f;
            int w;
            if (read_len(&body, wire, &inner) < 0) goto fail;
            value = field == 5 ? PyList_New(0) : PyDict_New();
            while (value != NULL && inner.p < inner.end) {
                if (read_tag(&inner, &f, &w) < 0) goto fail;
                if (f != 1) {
                    if (skip_field(&inner, w) < 0) goto fail;
                }
                else if (field == 6) {
                    if (read_key_value(&inner, w, value, depth + 1) < 0) goto fail;
                }
                else {
                    if (read_len(&inner, w, &item) < 0) goto fail;
                    PyObject *element = read_any(item, depth + 1);
                    if (element == NULL) goto fail;
                    int rc = PyList_Append(value, element);
                    Py_DECREF(element);
                    if (rc < 0) goto fail;
                }
            }
        }
        if (value == NULL) return NULL;
    }
    if (value == NULL) Py_RETURN_NONE; /* an empty AnyValue */
    return value;
fail:
    Py_XDECREF(value);
    return NULL;
}

/* One KeyValue into `attrs` (a later equal key replaces the value, as in a dict). */
static int
read_key_value(Cur *c, int wire, PyObject *attrs, int depth)
{
    Cur body, any;
    PyObject *key = NULL, *value = NULL;
    uint32_t field;
    int w, rc = -1;
    if (read_len(c, wire, &body) < 0) return -1;
    while (body.p < body.end) {
        if (read_tag(&body, &field, &w) < 0) goto done;
        if (field == 1) {
            if (store(&key, read_str(&body, w)) < 0) goto done;
        }
        else if (field == 2) {
            if (value != NULL) {
                wire_unsupported("value set twice");
                goto done;
            }
            if (read_len(&body, w, &any) < 0 || (value = read_any(any, depth)) == NULL) goto done;
        }
        else if (skip_field(&body, w) < 0) {
            goto done;
        }
    }
    if (key == NULL) key = Py_NewRef(wire_empty_str);
    if (value == NULL) value = Py_NewRef(Py_None);
    rc = PyDict_SetItem(attrs, key, value);
done:
    Py_XDECREF(key);
    Py_XDECREF(value);
    return rc;
}

#define DEFAULT(slot, value) \
    if ((slot) == NULL) (slot) = Py_NewRef(value)

/* The types the decoder builds, passed by the caller: (SpanRecord, SpanEvent, SpanLink). */
typedef struct {
    PyObject *span, *event, *link;
} Types;

static PyObject *
read_event(Cur body, Types *types) /* Span.Event -> SpanEvent */
{
    PyObject *f[4] = {NULL, NULL, NULL, NULL}; /* name, time, attributes, dropped */
    PyObject *out = NULL;
    uint32_t field;
    int wire;
    if ((f[2] = PyDict_New()) == NULL) return NULL;
    while (body.p < body.end) {
        if (read_tag(&body, &field, &wire) < 0) goto done;
        int rc;
        switch (field) {
        case 1: rc = store(&f[1], read_fixed_int(&body, wire, 8)); break;
        case 2: rc = store(&f[0], read_str(&body, wire)); break;
        case 3: rc = read_key_value(&body, wire, f[2], 0); break;
        case 4: rc = store(&f[3], read_varint_as(&body, wire, AS_UINT32)); break;
        default: rc = skip_field(&body, wire);
        }
        if (rc < 0) goto done;
    }
    DEFAULT(f[0], wire_empty_str);
    DEFAULT(f[1], wire_zero);
    DEFAULT(f[3], wire_zero);
    out = PyObject_Vectorcall(types->event, f, 4, NULL);
done:
    for (int i = 0; i < 4; i++) Py_XDECREF(f[i]);
    return out;
}

static PyObject *
read_link(Cur body, Types *types) /* Span.Link -> SpanLink */
{
    /* trace_id, span_id, trace_state, attributes, dropped, flags */
    PyObject *f[6] = {NULL, NULL, NULL, NULL, NULL, NULL};
    PyObject *out = NULL;
    uint32_t field;
    int wire;
    if ((f[3] = PyDict_New()) == NULL) return NULL;
    while (body.p < body.end) {
        if (read_tag(&body, &field, &wire) < 0) goto done;
        int rc;
        switch (field) {
        case 1: rc = store(&f[0], read_bytes(&body, wire)); break;
        case 2: rc = store(&f[1], read_bytes(&body, wire)); break;
        case 3: rc = store(&f[2], read_str(&body, wire)); break;
        case 4: rc = read_key_value(&body, wire, f[3], 0); break;
        case 5: rc = store(&f[4], read_varint_as(&body, wire, AS_UINT32)); break;
        case 6: rc = store(&f[5], read_fixed_int(&body, wire, 4)); break;
        default: rc = skip_field(&body, wire);
        }
        if (rc < 0) goto done;
    }
    DEFAULT(f[0], wire_empty_bytes);
    DEFAULT(f[1], wire_empty_bytes);
    DEFAULT(f[2], wire_empty_str);
    DEFAULT(f[4], wire_zero);
    DEFAULT(f[5], wire_zero);
    out = PyObject_Vectorcall(types->link, f, 6, NULL);
done:
    for (int i = 0; i < 6; i++) Py_XDECREF(f[i]);
    return out;
}

/* Append the message at `c` (a LEN field) built by `read` to `list`. */
static int
append_message(Cur *c, int wire, PyObject *list, PyObject *(*read)(Cur, Types *), Types *types)
{
    Cur body;
    if (read_len(c, wire, &body) < 0) return -1;
    PyObject *item = read(body, types);
    if (item == NULL) return -1;
    int rc = PyList_Append(list, item);
    Py_DECREF(item);
    return rc;
}

/* SpanRecord's fields, in its declaration order (model.py; pinned by tests/test_otlp.py). */
enum {
    F_TRACE_ID, F_SPAN_ID, F_NAME, F_PARENT, F_KIND, F_START, F_END, F_ATTRS, F_EVENTS,
    F_LINKS, F_STATUS_CODE, F_STATUS_MESSAGE, F_TRACE_STATE, F_FLAGS, F_DROPPED_ATTRS,
    F_DROPPED_EVENTS, F_DROPPED_LINKS, F_RESOURCE, F_RESOURCE_URL, F_SCOPE_NAME,
    F_SCOPE_VERSION, F_SCOPE_ATTRS, F_SCOPE_URL, N_FIELDS
};

/* What the spans of one ScopeSpans share: resource and scope fields, borrowed. */
typedef struct {
    Types *types;
    PyObject *resource, *resource_url, *scope_name, *scope_version, *scope_attrs, *scope_url;
} Shared;

static int
read_status(Cur *c, int wire, PyObject **f)
{
    Cur body;
    uint32_t field;
    int w;
    if (f[F_STATUS_CODE] != NULL || f[F_STATUS_MESSAGE] != NULL)
        return wire_unsupported("status set twice");
    if (read_len(c, wire, &body) < 0) return -1;
    while (body.p < body.end) {
        if (read_tag(&body, &field, &w) < 0) return -1;
        int rc;
        if (field == 2)
            rc = store(&f[F_STATUS_MESSAGE], read_str(&body, w));
        else if (field == 3)
            rc = store(&f[F_STATUS_CODE], read_varint_as(&body, w, AS_INT32));
        else
            rc = skip_field(&body, w);
        if (rc < 0) return -1;
    }
    /* Marks the status as read, for a second occurrence. */
    DEFAULT(f[F_STATUS_CODE], wire_zero);
    DEFAULT(f[F_STATUS_MESSAGE], wire_empty_str);
    return 0;
}

static PyObject *
read_span(Cur body, Shared *shared) /* Span -> SpanRecord */
{
    PyObject *f[N_FIELDS] = {NULL};
    PyObject *out = NULL;
    uint32_t field;
    int wire;
    if ((f[F_ATTRS] = PyDict_New()) == NULL || (f[F_EVENTS] = PyList_New(0)) == NULL ||
        (f[F_LINKS] = PyList_New(0)) == NULL)
        goto done;
    while (body.p < body.end) {
        if (read_tag(&body, &field, &wire) < 0) goto done;
        int rc;
        switch (field) {
        case 1: rc = store(&f[F_TRACE_ID], read_bytes(&body, wire)); break;
        case 2: rc = store(&f[F_SPAN_ID], read_bytes(&body, wire)); break;
        case 3: rc = store(&f[F_TRACE_STATE], read_str(&body, wire)); break;
        case 4: rc = store(&f[F_PARENT], read_bytes(&body, wire)); break;
        case 5: rc = store(&f[F_NAME], read_str(&body, wire)); break;
        case 6: rc = store(&f[F_KIND], read_varint_as(&body, wire, AS_INT32)); break;
        case 7: rc = store(&f[F_START], read_fixed_int(&body, wire, 8)); break;
        case 8: rc = store(&f[F_END], read_fixed_int(&body, wire, 8)); break;
        case 9: rc = read_key_value(&body, wire, f[F_ATTRS], 0); break;
        case 10: rc = store(&f[F_DROPPED_ATTRS], read_varint_as(&body, wire, AS_UINT32)); break;
        case 11:
            rc = append_message(&body, wire, f[F_EVENTS], read_event, shared->types);
            break;
        case 12: rc = store(&f[F_DROPPED_EVENTS], read_varint_as(&body, wire, AS_UINT32)); break;
        case 13:
            rc = append_message(&body, wire, f[F_LINKS], read_link, shared->types);
            break;
        case 14: rc = store(&f[F_DROPPED_LINKS], read_varint_as(&body, wire, AS_UINT32)); break;
        case 15: rc = read_status(&body, wire, f); break;
        case 16: rc = store(&f[F_FLAGS], read_fixed_int(&body, wire, 4)); break;
        default: rc = skip_field(&body, wire);
        }
        if (rc < 0) goto done;
    }
    DEFAULT(f[F_TRACE_ID], wire_empty_bytes);
    DEFAULT(f[F_SPAN_ID], wire_empty_bytes);
    DEFAULT(f[F_NAME], wire_empty_str);
    DEFAULT(f[F_PARENT], wire_empty_bytes);
    DEFAULT(f[F_KIND], wire_zero);
    DEFAULT(f[F_START], wire_zero);
    DEFAULT(f[F_END], wire_zero);
    DEFAULT(f[F_STATUS_CODE], wire_zero);
    DEFAULT(f[F_STATUS_MESSAGE], wire_empty_str);
    DEFAULT(f[F_TRACE_STATE], wire_empty_str);
    DEFAULT(f[F_FLAGS], wire_zero);
    DEFAULT(f[F_DROPPED_ATTRS], wire_zero);
    DEFAULT(f[F_DROPPED_EVENTS], wire_zero);
    DEFAULT(f[F_DROPPED_LINKS], wire_zero);
    /* Each span its own copies of the shared dicts, as the reference decoder makes. */
    if ((f[F_RESOURCE] = PyDict_Copy(shared->resource)) == NULL ||
        (f[F_SCOPE_ATTRS] = PyDict_Copy(shared->scope_attrs)) == NULL)
        goto done;
    f[F_RESOURCE_URL] = Py_NewRef(shared->resource_url);
    f[F_SCOPE_NAME] = Py_NewRef(shared->scope_name);
    f[F_SCOPE_VERSION] = Py_NewRef(shared->scope_version);
    f[F_SCOPE_URL] = Py_NewRef(shared->scope_url);
    out = PyObject_Vectorcall(shared->types->span, f, N_FIELDS, NULL);
done:
    for (int i = 0; i < N_FIELDS; i++) Py_XDECREF(f[i]);
    return out;
}

/* A singular message field: its body (a second occurrence would be merged by upb). */
static int
read_once(Cur *c, int wire, Cur *body, int *seen)
{
    if ((*seen)++) return wire_unsupported("message set twice");
    return read_len(c, wire, body);
}

/* The attributes (field `attrs_field`) of a Resource or InstrumentationScope body, and for
   a scope its name and version. */
static int
read_origin(Cur body, int attrs_field, PyObject *attrs, PyObject **name, PyObject **version)
{
    uint32_t field;
    int wire;
    while (body.p < body.end) {
        if (read_tag(&body, &field, &wire) < 0) return -1;
        int rc;
        if (field == (uint32_t)attrs_field)
            rc = read_key_value(&body, wire, attrs, 0);
        else if (name != NULL && field == 1)
            rc = store(name, read_str(&body, wire));
        else if (version != NULL && field == 2)
            rc = store(version, read_str(&body, wire));
        else
            rc = skip_field(&body, wire);
        if (rc < 0) return -1;
    }
    return 0;
}

/* ResourceSpans and ScopeSpans share a layout: 1 what the spans come from (Resource,
   InstrumentationScope), 2 the repeated children, 3 a schema url. read_envelope reads 1
   and 3, which may follow the children on the wire; next_child then walks field 2. */
static int
read_envelope(Cur body, Cur *origin, int *has_origin, PyObject **url)
{
    uint32_t field;
    int wire;
    while (body.p < body.end) {
        if (read_tag(&body, &field, &wire) < 0) return -1;
        int rc;
        if (field == 1)
            rc = read_once(&body, wire, origin, has_origin);
        else if (field == 3)
            rc = store(url, read_str(&body, wire));
        else
            rc = skip_field(&body, wire);
        if (rc < 0) return -1;
    }
    DEFAULT(*url, wire_empty_str);
    return 0;
}

/* The body of the next message field `number` at `c`: 1, or 0 at the end, -1 on error. */
static int
next_child(Cur *c, uint32_t number, Cur *child)
{
    uint32_t field;
    int wire;
    while (c->p < c->end) {
        if (read_tag(c, &field, &wire) < 0) return -1;
        if (field == number) return read_len(c, wire, child) < 0 ? -1 : 1;
        if (skip_field(c, wire) < 0) return -1;
    }
    return 0;
}

static int
read_scope_spans(Cur body, Shared *shared, PyObject *out) /* ScopeSpans */
{
    Cur scope = {NULL, NULL}, span;
    PyObject *name = NULL, *version = NULL, *attrs = NULL, *url = NULL;
    int seen = 0, more, rc = -1;
    if (read_envelope(body, &scope, &seen, &url) < 0 || (attrs = PyDict_New()) == NULL ||
        (seen && read_origin(scope, 3, attrs, &name, &version) < 0))
        goto done;
    DEFAULT(name, wire_empty_str);
    DEFAULT(version, wire_empty_str);
    shared->scope_name = name;
    shared->scope_version = version;
    shared->scope_attrs = attrs;
    shared->scope_url = url;
    while ((more = next_child(&body, 2, &span)) > 0) {
        PyObject *record = read_span(span, shared);
        if (record == NULL) goto done;
        int r = PyList_Append(out, record);
        Py_DECREF(record);
        if (r < 0) goto done;
    }
    rc = more;
done:
    Py_XDECREF(name);
    Py_XDECREF(version);
    Py_XDECREF(attrs);
    Py_XDECREF(url);
    return rc;
}

static int
read_resource_spans(Cur body, Types *types, PyObject *out) /* ResourceSpans */
{
    Cur resource = {NULL, NULL}, scope_spans;
    PyObject *attrs = NULL, *url = NULL;
    int seen = 0, more = -1;
    if (read_envelope(body, &resource, &seen, &url) < 0 || (attrs = PyDict_New()) == NULL ||
        (seen && read_origin(resource, 1, attrs, NULL, NULL) < 0))
        goto done;
    Shared shared = {types, attrs, url, NULL, NULL, NULL, NULL};
    while ((more = next_child(&body, 2, &scope_spans)) > 0) {
        if (read_scope_spans(scope_spans, &shared, out) < 0) {
            more = -1;
            break;
        }
    }
done:
    Py_XDECREF(attrs);
    Py_XDECREF(url);
    return more;
}

/* decode_request(data, types) -> list[SpanRecord] */
PyObject *
wire_decode_request(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    Py_buffer view;
    Types types;
    if (nargs != 2 || !PyTuple_Check(args[1]) || PyTuple_GET_SIZE(args[1]) != 3) {
        PyErr_SetString(PyExc_TypeError,
                        "decode_request(data, (SpanRecord, SpanEvent, SpanLink))");
        return NULL;
    }
    types.span = PyTuple_GET_ITEM(args[1], 0);
    types.event = PyTuple_GET_ITEM(args[1], 1);
    types.link = PyTuple_GET_ITEM(args[1], 2);
    if (PyObject_GetBuffer(args[0], &view, PyBUF_SIMPLE) < 0) return NULL;
    Cur c = {(const uint8_t *)view.buf, (const uint8_t *)view.buf + view.len}, body;
    PyObject *out = PyList_New(0);
    int more = out == NULL ? -1 : 0;
    while (out != NULL && (more = next_child(&c, 1, &body)) > 0) {
        if (read_resource_spans(body, &types, out) < 0) {
            more = -1;
            break;
        }
    }
    if (more < 0) Py_CLEAR(out);
    PyBuffer_Release(&view);
    return out;
}
