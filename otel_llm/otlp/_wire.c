/* The optional C wire codec of otel_llm.otlp.protobuf: SpanRecords <-> OTLP protobuf bytes.

   Reading and building protobuf messages through the upb Python API costs ~0.5 us per
   attribute, which bounded both protobuf directions; reading and writing the wire format
   directly costs a few dozen nanoseconds. The upb path in otlp/protobuf.py stays the
   reference: this code handles only the common, canonical case and raises Unsupported on
   anything else, and the caller then takes the reference path for the whole request,
   which either handles the input or reports the problem in its own words.
   - encode_request: byte-for-byte what upb serializes for the same message.
   - decode_request: the SpanRecords protobuf.decode_request reads from upb's parse.
   tests/test_otlp.py holds both to upb on generated, hand-made and damaged input.
   Field numbers are those of opentelemetry/proto/{collector/trace,trace,common,
   resource}/v1.
*/
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

/* --- an append-only byte buffer ------------------------------------------------------- */

typedef struct {
    char *data;
    Py_ssize_t len, cap;
} Buf;

static int
buf_grow(Buf *b, Py_ssize_t extra)
{
    Py_ssize_t need = b->len + extra, cap = b->cap ? b->cap : 1 << 16;
    while (cap < need) {
        if (cap > PY_SSIZE_T_MAX / 2) {
            PyErr_NoMemory();
            return -1;
        }
        cap *= 2;
    }
    char *data = PyMem_Realloc(b->data, (size_t)cap);
    if (data == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    b->data = data;
    b->cap = cap;
    return 0;
}

#define RESERVE(b, n) \
    if ((b)->len + (n) > (b)->cap && buf_grow((b), (n)) < 0) return -1

static int
put_raw(Buf *b, const char *src, Py_ssize_t n)
{
    RESERVE(b, n);
    memcpy(b->data + b->len, src, (size_t)n);
    b->len += n;
    return 0;
}

static int
varint_size(uint64_t v)
{
    int n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static void
write_varint(char *out, uint64_t v)
{
    while (v >= 0x80) {
        *out++ = (char)((v & 0x7F) | 0x80);
        v >>= 7;
    }
    *out = (char)v;
}

static int
put_varint(Buf *b, uint64_t v)
{
    RESERVE(b, 10);
    write_varint(b->data + b->len, v);
    b->len += varint_size(v);
    return 0;
}

enum { VARINT = 0, I64 = 1, LEN = 2, I32 = 5 };

#define TAG(field, wire) ((uint64_t)(((field) << 3) | (wire)))

/* A fixed64 (size 8) or fixed32 (size 4) field, little-endian. */
static int
put_fixed(Buf *b, int field, uint64_t v, int size)
{
    if (put_varint(b, TAG(field, size == 8 ? I64 : I32)) < 0) return -1;
    RESERVE(b, size);
    for (int i = 0; i < size; i++) b->data[b->len++] = (char)(v >> (8 * i));
    return 0;
}

static int
put_len(Buf *b, int field, const char *src, Py_ssize_t n)
{
    if (put_varint(b, TAG(field, LEN)) < 0 || put_varint(b, (uint64_t)n) < 0) return -1;
    return put_raw(b, src, n);
}

/* A length-delimited field whose size is known only once written: open() leaves one byte
   for the length (most values are short) and close() widens it when needed. */
static Py_ssize_t
open_len(Buf *b, int field)
{
    if (put_varint(b, TAG(field, LEN)) < 0) return -1;
    RESERVE(b, 1);
    return b->len++;
}

static int
close_len(Buf *b, Py_ssize_t mark)
{
    Py_ssize_t body = b->len - mark - 1;
    int width = varint_size((uint64_t)body);
    if (width > 1) {
        RESERVE(b, width - 1);
        memmove(b->data + mark + width, b->data + mark + 1, (size_t)body);
        b->len += width - 1;
    }
    write_varint(b->data + mark, (uint64_t)body);
    return 0;
}

/* --- encoding: Python values -> fields ----------------------------------------------------- */

/* Raised for what the reference path must handle; never seen by users. */
static PyObject *Unsupported;

static int
unsupported(const char *what)
{
    PyErr_SetString(Unsupported, what);
    return -1;
}

static PyObject *s_trace_id, *s_span_id, *s_name, *s_parent_span_id, *s_kind,
    *s_start_time_unix_nano, *s_end_time_unix_nano, *s_attributes, *s_events, *s_links,
    *s_status_code, *s_status_message, *s_trace_state, *s_flags, *s_dropped_attributes_count,
    *s_dropped_events_count, *s_dropped_links_count, *s_resource, *s_resource_schema_url,
    *s_scope_name, *s_scope_version, *s_scope_attributes, *s_scope_schema_url,
    *s_time_unix_nano;
static PyObject *s_empty_str, *s_empty_bytes, *s_zero; /* the decoder's defaults */

/* An attribute of `obj`, as a new reference. */
#define GET(obj, name) PyObject_GetAttr((obj), s_##name)

/* A string field, not written when empty (proto3). */
static int
put_str(Buf *b, int field, PyObject *value, int always)
{
    if (!PyUnicode_Check(value)) return unsupported("not a str");
    Py_ssize_t n;
    const char *utf8 = PyUnicode_AsUTF8AndSize(value, &n);
    if (utf8 == NULL) { /* a lone surrogate: the reference path replaces it */
        if (!PyErr_ExceptionMatches(PyExc_UnicodeEncodeError)) return -1;
        PyErr_Clear();
        return unsupported("not valid UTF-8");
    }
    if (n == 0 && !always) return 0;
    return put_len(b, field, utf8, n);
}

static int
put_bytes(Buf *b, int field, PyObject *value)
{
    if (!PyBytes_Check(value)) return unsupported("not bytes");
    Py_ssize_t n = PyBytes_GET_SIZE(value);
    return n ? put_len(b, field, PyBytes_AS_STRING(value), n) : 0;
}

/* An integer in [low, high] (not a bool: upb refuses those for integer fields). */
static int
int_in_range(PyObject *value, long long low, unsigned long long high, unsigned long long *out)
{
    if (!PyLong_Check(value) || PyBool_Check(value)) return unsupported("not an int");
    if (low < 0) {
        int overflow;
        long long v = PyLong_AsLongLongAndOverflow(value, &overflow);
        if (v == -1 && PyErr_Occurred()) return -1;
        if (overflow || v < low || (v > 0 && (unsigned long long)v > high))
            return unsupported("out of range");
        *out = (unsigned long long)v;
        return 0;
    }
    unsigned long long v = PyLong_AsUnsignedLongLong(value);
    if (v == (unsigned long long)-1 && PyErr_Occurred()) {
        PyErr_Clear();
        return unsupported("out of range");
    }
    if (v > high) return unsupported("out of range");
    *out = v;
    return 0;
}

/* Integer fields of a message, from an attribute; zero is not written (proto3). */
static int
put_int_attr(Buf *b, PyObject *obj, PyObject *name, int field, int wire, long long low,
             unsigned long long high)
{
    PyObject *value = PyObject_GetAttr(obj, name);
    if (value == NULL) return -1;
    unsigned long long v;
    int rc = int_in_range(value, low, high, &v);
    Py_DECREF(value);
    if (rc < 0 || v == 0) return rc;
    if (wire == I64) return put_fixed(b, field, v, 8);
    if (wire == I32) return put_fixed(b, field, v, 4);
    /* enums are int32, written sign-extended to 64 bits as protobuf does */
    if (put_varint(b, TAG(field, VARINT)) < 0) return -1;
    return put_varint(b, (uint64_t)(int64_t)(long long)v);
}

#define INT32 (-2147483648LL), 2147483647ULL
#define UINT32 0, 4294967295ULL
#define UINT64 0, 18446744073709551615ULL

static int put_key_values(Buf *b, int field, PyObject *attrs, int depth);

/* The body of an AnyValue (common.proto): which field carries `value`. */
static int
put_any(Buf *b, PyObject *value, int depth)
{
    if (PyUnicode_Check(value)) return put_str(b, 1, value, 1);
    if (PyBool_Check(value)) {
        if (put_varint(b, TAG(2, VARINT)) < 0) return -1;
        return put_varint(b, value == Py_True);
    }
    if (PyLong_Check(value)) {
        int overflow;
        long long v = PyLong_AsLongLongAndOverflow(value, &overflow);
        if (v == -1 && PyErr_Occurred()) return -1;
        if (overflow) return unsupported("int beyond int64"); /* becomes a decimal string */
        if (put_varint(b, TAG(3, VARINT)) < 0) return -1;
        return put_varint(b, (uint64_t)v);
    }
    if (PyFloat_Check(value)) {
        double d = PyFloat_AS_DOUBLE(value);
        uint64_t bits;
        memcpy(&bits, &d, sizeof bits);
        return put_fixed(b, 4, bits, 8);
    }
    if (PyBytes_Check(value))
        return put_len(b, 7, PyBytes_AS_STRING(value), PyBytes_GET_SIZE(value));
    if (value == Py_None) return 0; /* an empty AnyValue */
    if (depth > 64) return unsupported("nested too deep");
    if (PyDict_CheckExact(value)) {
        Py_ssize_t mark = open_len(b, 6); /* kvlist_value: KeyValueList */
        if (mark < 0 || put_key_values(b, 1, value, depth + 1) < 0) return -1;
        return close_len(b, mark);
    }
    if (PyList_CheckExact(value) || PyTuple_CheckExact(value)) {
        Py_ssize_t mark = open_len(b, 5); /* array_value: ArrayValue */
        if (mark < 0) return -1;
        for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(value); i++) {
            Py_ssize_t item = open_len(b, 1);
            if (item < 0 || put_any(b, PySequence_Fast_GET_ITEM(value, i), depth + 1) < 0 ||
                close_len(b, item) < 0)
                return -1;
        }
        return close_len(b, mark);
    }
    return unsupported("value type");
}

/* Repeated KeyValue `field` from a dict of str keys. */
static int
put_key_values(Buf *b, int field, PyObject *attrs, int depth)
{
    if (!PyDict_CheckExact(attrs)) return unsupported("attributes not a dict");
    Py_ssize_t pos = 0;
    PyObject *key, *value;
    while (PyDict_Next(attrs, &pos, &key, &value)) {
        Py_ssize_t kv = open_len(b, field);
        if (kv < 0 || put_str(b, 1, key, 0) < 0) return -1;
        Py_ssize_t any = open_len(b, 2);
        if (any < 0 || put_any(b, value, depth) < 0 || close_len(b, any) < 0) return -1;
        if (close_len(b, kv) < 0) return -1;
    }
    return 0;
}

/* One attribute of `obj`, written as field `field`: a string, bytes or KeyValues. */
enum { AS_STR, AS_BYTES, AS_KEY_VALUES };

static int
put_attr(Buf *b, PyObject *obj, PyObject *name, int field, int as)
{
    PyObject *value = PyObject_GetAttr(obj, name);
    if (value == NULL) return -1;
    int rc = as == AS_STR     ? put_str(b, field, value, 0)
             : as == AS_BYTES ? put_bytes(b, field, value)
                              : put_key_values(b, field, value, 0);
    Py_DECREF(value);
    return rc;
}

/* A list attribute of `obj`, each item written by `put` as message `field`. */
static int
put_messages(Buf *b, PyObject *obj, PyObject *name, int field, int (*put)(Buf *, PyObject *))
{
    PyObject *items = PyObject_GetAttr(obj, name);
    if (items == NULL) return -1;
    int rc = 0;
    if (!PyList_CheckExact(items)) {
        rc = unsupported("not a list");
    }
    else {
        for (Py_ssize_t i = 0; rc == 0 && i < PyList_GET_SIZE(items); i++) {
            Py_ssize_t mark = open_len(b, field);
            rc = (mark < 0 || put(b, PyList_GET_ITEM(items, i)) < 0) ? -1 : close_len(b, mark);
        }
    }
    Py_DECREF(items);
    return rc;
}

/* --- encoding: SpanRecords -> messages ---------------------------------------------------- */

static int
put_event(Buf *b, PyObject *ev) /* Span.Event */
{
    if (put_int_attr(b, ev, s_time_unix_nano, 1, I64, UINT64) < 0 ||
        put_attr(b, ev, s_name, 2, AS_STR) < 0 ||
        put_attr(b, ev, s_attributes, 3, AS_KEY_VALUES) < 0)
        return -1;
    return put_int_attr(b, ev, s_dropped_attributes_count, 4, VARINT, UINT32);
}

static int
put_link(Buf *b, PyObject *ln) /* Span.Link */
{
    if (put_attr(b, ln, s_trace_id, 1, AS_BYTES) < 0 ||
        put_attr(b, ln, s_span_id, 2, AS_BYTES) < 0 ||
        put_attr(b, ln, s_trace_state, 3, AS_STR) < 0 ||
        put_attr(b, ln, s_attributes, 4, AS_KEY_VALUES) < 0 ||
        put_int_attr(b, ln, s_dropped_attributes_count, 5, VARINT, UINT32) < 0)
        return -1;
    return put_int_attr(b, ln, s_flags, 6, I32, UINT32);
}

static int
put_status(Buf *b, PyObject *span) /* Span.status: present when code or message is set */
{
    PyObject *code = GET(span, status_code), *message = NULL;
    int rc = -1;
    if (code == NULL || (message = GET(span, status_message)) == NULL) goto done;
    int has_code = PyObject_IsTrue(code), has_message = PyObject_IsTrue(message);
    if (has_code < 0 || has_message < 0) goto done;
    if (!has_code && !has_message) {
        rc = 0;
        goto done;
    }
    Py_ssize_t mark = open_len(b, 15);
    if (mark < 0 || put_str(b, 2, message, 0) < 0 ||
        put_int_attr(b, span, s_status_code, 3, VARINT, INT32) < 0)
        goto done;
    rc = close_len(b, mark);
done:
    Py_XDECREF(code);
    Py_XDECREF(message);
    return rc;
}

static int
put_span(Buf *b, PyObject *span) /* trace.proto Span */
{
    if (put_attr(b, span, s_trace_id, 1, AS_BYTES) < 0 ||
        put_attr(b, span, s_span_id, 2, AS_BYTES) < 0 ||
        put_attr(b, span, s_trace_state, 3, AS_STR) < 0 ||
        put_attr(b, span, s_parent_span_id, 4, AS_BYTES) < 0 ||
        put_attr(b, span, s_name, 5, AS_STR) < 0 ||
        put_int_attr(b, span, s_kind, 6, VARINT, INT32) < 0 ||
        put_int_attr(b, span, s_start_time_unix_nano, 7, I64, UINT64) < 0 ||
        put_int_attr(b, span, s_end_time_unix_nano, 8, I64, UINT64) < 0 ||
        put_attr(b, span, s_attributes, 9, AS_KEY_VALUES) < 0 ||
        put_int_attr(b, span, s_dropped_attributes_count, 10, VARINT, UINT32) < 0 ||
        put_messages(b, span, s_events, 11, put_event) < 0 ||
        put_int_attr(b, span, s_dropped_events_count, 12, VARINT, UINT32) < 0 ||
        put_messages(b, span, s_links, 13, put_link) < 0 ||
        put_int_attr(b, span, s_dropped_links_count, 14, VARINT, UINT32) < 0 ||
        put_status(b, span) < 0)
        return -1;
    return put_int_attr(b, span, s_flags, 16, I32, UINT32);
}

/* ScopeSpans: the scope of its first span, then every span of the group. */
static int
put_scope_spans(Buf *b, PyObject *group)
{
    PyObject *first, *members;
    if (!PyTuple_CheckExact(group) || PyTuple_GET_SIZE(group) != 2)
        return unsupported("scope group");
    first = PyTuple_GET_ITEM(group, 0);
    members = PyTuple_GET_ITEM(group, 1);
    if (!PyList_CheckExact(members)) return unsupported("scope members");
    Py_ssize_t scope = open_len(b, 1); /* InstrumentationScope, always present */
    if (scope < 0 || put_attr(b, first, s_scope_name, 1, AS_STR) < 0 ||
        put_attr(b, first, s_scope_version, 2, AS_STR) < 0 ||
        put_attr(b, first, s_scope_attributes, 3, AS_KEY_VALUES) < 0 || close_len(b, scope) < 0)
        return -1;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(members); i++) {
        Py_ssize_t mark = open_len(b, 2);
        if (mark < 0 || put_span(b, PyList_GET_ITEM(members, i)) < 0 || close_len(b, mark) < 0)
            return -1;
    }
    return put_attr(b, first, s_scope_schema_url, 3, AS_STR);
}

/* ResourceSpans: the resource of its first span, then its scope groups. */
static int
put_resource_spans(Buf *b, PyObject *group)
{
    PyObject *first, *scopes, *resource;
    if (!PyTuple_CheckExact(group) || PyTuple_GET_SIZE(group) != 2)
        return unsupported("resource group");
    first = PyTuple_GET_ITEM(group, 0);
    scopes = PyTuple_GET_ITEM(group, 1);
    if (!PyList_CheckExact(scopes)) return unsupported("scope groups");
    if ((resource = GET(first, resource)) == NULL) return -1;
    int rc = 0;
    if (!PyDict_CheckExact(resource)) {
        rc = unsupported("resource not a dict");
    }
    else if (PyDict_GET_SIZE(resource)) { /* Resource, present only with attributes */
        Py_ssize_t mark = open_len(b, 1);
        rc = (mark < 0 || put_key_values(b, 1, resource, 0) < 0) ? -1 : close_len(b, mark);
    }
    Py_DECREF(resource);
    if (rc < 0) return -1;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(scopes); i++) {
        Py_ssize_t mark = open_len(b, 2);
        if (mark < 0 || put_scope_spans(b, PyList_GET_ITEM(scopes, i)) < 0 ||
            close_len(b, mark) < 0)
            return -1;
    }
    return put_attr(b, first, s_resource_schema_url, 3, AS_STR);
}

/* encode_request(groups) -> bytes: an ExportTraceServiceRequest. */
static PyObject *
encode_request(PyObject *module, PyObject *groups)
{
    if (!PyList_CheckExact(groups)) {
        PyErr_SetString(PyExc_TypeError, "groups must be a list");
        return NULL;
    }
    Buf b = {NULL, 0, 0};
    PyObject *out = NULL;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(groups); i++) {
        Py_ssize_t mark = open_len(&b, 1);
        if (mark < 0 || put_resource_spans(&b, PyList_GET_ITEM(groups, i)) < 0 ||
            close_len(&b, mark) < 0)
            goto done;
    }
    out = PyBytes_FromStringAndSize(b.data ? b.data : "", b.len);
done:
    PyMem_Free(b.data);
    return out;
}

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
refuse(const char *what) /* unsupported(), for functions returning a pointer */
{
    unsupported(what);
    return NULL;
}

static int
read_varint(Cur *c, uint64_t *out)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (c->p >= c->end) return unsupported("truncated varint");
        uint8_t byte = *c->p++;
        v |= (uint64_t)(byte & 0x7F) << shift;
        if (!(byte & 0x80)) {
            *out = v;
            return 0;
        }
    }
    return unsupported("varint too long");
}

static int
read_tag(Cur *c, uint32_t *field, int *wire)
{
    uint64_t tag;
    if (read_varint(c, &tag) < 0) return -1;
    if (tag >> 32 || (tag >> 3) == 0) return unsupported("bad tag");
    *field = (uint32_t)(tag >> 3);
    *wire = (int)(tag & 7);
    return 0;
}

/* The body of a length-delimited field (wire type `wire`), as a cursor of its own. */
static int
read_len(Cur *c, int wire, Cur *body)
{
    uint64_t n;
    if (wire != LEN) return unsupported("unexpected wire type");
    if (read_varint(c, &n) < 0) return -1;
    if (n > (uint64_t)(c->end - c->p)) return unsupported("truncated field");
    body->p = c->p;
    body->end = c->p + n;
    c->p += n;
    return 0;
}

static int
read_fixed(Cur *c, int size, uint64_t *out)
{
    if (c->end - c->p < size) return unsupported("truncated fixed field");
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
    default: return unsupported("group or unknown wire type");
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
        unsupported("invalid UTF-8");
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
            unsupported("oneof set twice");
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
                unsupported("unexpected wire type");
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
                unsupported("value set twice");
                goto done;
            }
            if (read_len(&body, w, &any) < 0 || (value = read_any(any, depth)) == NULL) goto done;
        }
        else if (skip_field(&body, w) < 0) {
            goto done;
        }
    }
    if (key == NULL) key = Py_NewRef(s_empty_str);
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
    DEFAULT(f[0], s_empty_str);
    DEFAULT(f[1], s_zero);
    DEFAULT(f[3], s_zero);
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
    DEFAULT(f[0], s_empty_bytes);
    DEFAULT(f[1], s_empty_bytes);
    DEFAULT(f[2], s_empty_str);
    DEFAULT(f[4], s_zero);
    DEFAULT(f[5], s_zero);
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
        return unsupported("status set twice");
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
    DEFAULT(f[F_STATUS_CODE], s_zero);
    DEFAULT(f[F_STATUS_MESSAGE], s_empty_str);
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
    DEFAULT(f[F_TRACE_ID], s_empty_bytes);
    DEFAULT(f[F_SPAN_ID], s_empty_bytes);
    DEFAULT(f[F_NAME], s_empty_str);
    DEFAULT(f[F_PARENT], s_empty_bytes);
    DEFAULT(f[F_KIND], s_zero);
    DEFAULT(f[F_START], s_zero);
    DEFAULT(f[F_END], s_zero);
    DEFAULT(f[F_STATUS_CODE], s_zero);
    DEFAULT(f[F_STATUS_MESSAGE], s_empty_str);
    DEFAULT(f[F_TRACE_STATE], s_empty_str);
    DEFAULT(f[F_FLAGS], s_zero);
    DEFAULT(f[F_DROPPED_ATTRS], s_zero);
    DEFAULT(f[F_DROPPED_EVENTS], s_zero);
    DEFAULT(f[F_DROPPED_LINKS], s_zero);
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
    if ((*seen)++) return unsupported("message set twice");
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
    DEFAULT(*url, s_empty_str);
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
    DEFAULT(name, s_empty_str);
    DEFAULT(version, s_empty_str);
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
static PyObject *
decode_request(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
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

static PyMethodDef methods[] = {
    {"encode_request", encode_request, METH_O,
     "encode_request(groups) -> bytes\n\n"
     "The ExportTraceServiceRequest bytes of spans grouped as grouping.group_spans returns\n"
     "them. Raises Unsupported for anything the reference encoder must handle."},
    {"decode_request", (PyCFunction)(void (*)(void))decode_request, METH_FASTCALL,
     "decode_request(data, (SpanRecord, SpanEvent, SpanLink)) -> list[SpanRecord]\n\n"
     "The spans of ExportTraceServiceRequest bytes, as protobuf.decode_request reads them.\n"
     "Raises Unsupported for anything the upb parser must handle."},
    {NULL, NULL, 0, NULL},
};

static int
exec_module(PyObject *module)
{
#define INTERN(name) \
    if ((s_##name = PyUnicode_InternFromString(#name)) == NULL) return -1
    INTERN(trace_id);
    INTERN(span_id);
    INTERN(name);
    INTERN(parent_span_id);
    INTERN(kind);
    INTERN(start_time_unix_nano);
    INTERN(end_time_unix_nano);
    INTERN(attributes);
    INTERN(events);
    INTERN(links);
    INTERN(status_code);
    INTERN(status_message);
    INTERN(trace_state);
    INTERN(flags);
    INTERN(dropped_attributes_count);
    INTERN(dropped_events_count);
    INTERN(dropped_links_count);
    INTERN(resource);
    INTERN(resource_schema_url);
    INTERN(scope_name);
    INTERN(scope_version);
    INTERN(scope_attributes);
    INTERN(scope_schema_url);
    INTERN(time_unix_nano);
#undef INTERN
    if ((s_empty_str = PyUnicode_FromStringAndSize("", 0)) == NULL ||
        (s_empty_bytes = PyBytes_FromStringAndSize("", 0)) == NULL ||
        (s_zero = PyLong_FromLong(0)) == NULL)
        return -1;
    Unsupported = PyErr_NewExceptionWithDoc(
        "otel_llm.otlp._wire.Unsupported",
        "Input only the reference (pure-Python) codec handles.", PyExc_ValueError, NULL);
    if (Unsupported == NULL) return -1;
    Py_INCREF(Unsupported);
    return PyModule_AddObject(module, "Unsupported", Unsupported);
}

static PyModuleDef_Slot slots[] = {
    {Py_mod_exec, exec_module},
    {0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "otel_llm.otlp._wire",
    "Optional C wire codec for otel_llm.otlp.protobuf (see _wire.c).",
    0, methods, slots,
    NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit__wire(void)
{
    return PyModuleDef_Init(&module_def);
}
