/* Optional accelerator for otel_llm.otlp: SpanRecords -> OTLP protobuf wire bytes.

   Building protobuf messages through the upb Python API costs ~0.5 us per attribute,
   which bounds `runs -> protobuf`; writing the wire format directly costs a few dozen
   nanoseconds. The pure-Python path (otlp.encode_request) stays the reference: this
   module handles only the common, canonical case and raises on anything else (a value
   type it does not know, a lone surrogate, a number out of range), and the caller then
   encodes the whole request through the reference path, which either succeeds or reports
   the problem in its own words. Its output is byte-for-byte what upb serializes for the
   same message (tests/test_speedups.py checks that on generated spans).

   Field numbers are those of opentelemetry/proto/{collector/trace,trace,common,resource}/v1.
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

static int
put_fixed64(Buf *b, int field, uint64_t v)
{
    if (put_varint(b, TAG(field, I64)) < 0) return -1;
    RESERVE(b, 8);
    for (int i = 0; i < 8; i++) b->data[b->len++] = (char)(v >> (8 * i));
    return 0;
}

static int
put_fixed32(Buf *b, int field, uint32_t v)
{
    if (put_varint(b, TAG(field, I32)) < 0) return -1;
    RESERVE(b, 4);
    for (int i = 0; i < 4; i++) b->data[b->len++] = (char)(v >> (8 * i));
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

/* --- reading Python values -------------------------------------------------------------- */

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

/* An attribute of `obj`, as a new reference. */
#define GET(obj, name) PyObject_GetAttr((obj), s_##name)

/* A string field, not written when empty (proto3). */
static int
put_str(Buf *b, int field, PyObject *value, int always)
{
    if (!PyUnicode_Check(value)) return unsupported("not a str");
    Py_ssize_t n;
    const char *utf8 = PyUnicode_AsUTF8AndSize(value, &n);
    if (utf8 == NULL) return -1; /* a lone surrogate: the reference path replaces it */
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
read_int(PyObject *value, long long low, unsigned long long high, unsigned long long *out)
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
    int rc = read_int(value, low, high, &v);
    Py_DECREF(value);
    if (rc < 0 || v == 0) return rc;
    if (wire == I64) return put_fixed64(b, field, v);
    if (wire == I32) return put_fixed32(b, field, (uint32_t)v);
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
        return put_fixed64(b, 4, bits);
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

/* Helpers reading one attribute of an object and writing it. */
static int
put_str_attr(Buf *b, PyObject *obj, PyObject *name, int field)
{
    PyObject *value = PyObject_GetAttr(obj, name);
    if (value == NULL) return -1;
    int rc = put_str(b, field, value, 0);
    Py_DECREF(value);
    return rc;
}

static int
put_bytes_attr(Buf *b, PyObject *obj, PyObject *name, int field)
{
    PyObject *value = PyObject_GetAttr(obj, name);
    if (value == NULL) return -1;
    int rc = put_bytes(b, field, value);
    Py_DECREF(value);
    return rc;
}

static int
put_attrs_attr(Buf *b, PyObject *obj, PyObject *name, int field)
{
    PyObject *value = PyObject_GetAttr(obj, name);
    if (value == NULL) return -1;
    int rc = put_key_values(b, field, value, 0);
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

/* --- messages ----------------------------------------------------------------------------- */

static int
put_event(Buf *b, PyObject *ev) /* Span.Event */
{
    if (put_int_attr(b, ev, s_time_unix_nano, 1, I64, UINT64) < 0 ||
        put_str_attr(b, ev, s_name, 2) < 0 || put_attrs_attr(b, ev, s_attributes, 3) < 0)
        return -1;
    return put_int_attr(b, ev, s_dropped_attributes_count, 4, VARINT, UINT32);
}

static int
put_link(Buf *b, PyObject *ln) /* Span.Link */
{
    if (put_bytes_attr(b, ln, s_trace_id, 1) < 0 || put_bytes_attr(b, ln, s_span_id, 2) < 0 ||
        put_str_attr(b, ln, s_trace_state, 3) < 0 || put_attrs_attr(b, ln, s_attributes, 4) < 0 ||
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
    if (put_bytes_attr(b, span, s_trace_id, 1) < 0 || put_bytes_attr(b, span, s_span_id, 2) < 0 ||
        put_str_attr(b, span, s_trace_state, 3) < 0 ||
        put_bytes_attr(b, span, s_parent_span_id, 4) < 0 || put_str_attr(b, span, s_name, 5) < 0 ||
        put_int_attr(b, span, s_kind, 6, VARINT, INT32) < 0 ||
        put_int_attr(b, span, s_start_time_unix_nano, 7, I64, UINT64) < 0 ||
        put_int_attr(b, span, s_end_time_unix_nano, 8, I64, UINT64) < 0 ||
        put_attrs_attr(b, span, s_attributes, 9) < 0 ||
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
    if (scope < 0 || put_str_attr(b, first, s_scope_name, 1) < 0 ||
        put_str_attr(b, first, s_scope_version, 2) < 0 ||
        put_attrs_attr(b, first, s_scope_attributes, 3) < 0 || close_len(b, scope) < 0)
        return -1;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(members); i++) {
        Py_ssize_t mark = open_len(b, 2);
        if (mark < 0 || put_span(b, PyList_GET_ITEM(members, i)) < 0 || close_len(b, mark) < 0)
            return -1;
    }
    return put_str_attr(b, first, s_scope_schema_url, 3);
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
    return put_str_attr(b, first, s_resource_schema_url, 3);
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

static PyMethodDef methods[] = {
    {"encode_request", encode_request, METH_O,
     "encode_request(groups) -> bytes\n\n"
     "The ExportTraceServiceRequest bytes of spans grouped as otlp._group returns them.\n"
     "Raises Unsupported for anything the reference encoder must handle."},
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
    Unsupported = PyErr_NewExceptionWithDoc(
        "otel_llm._speedups.Unsupported",
        "Input only the reference (pure-Python) encoder handles.", PyExc_ValueError, NULL);
    if (Unsupported == NULL) return -1;
    Py_INCREF(Unsupported);
    return PyModule_AddObject(module, "Unsupported", Unsupported);
}

static PyModuleDef_Slot slots[] = {
    {Py_mod_exec, exec_module},
    {0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "otel_llm._speedups",
    "Optional C accelerator for otel_llm.otlp (see _speedups.c).", 0, methods, slots,
};

PyMODINIT_FUNC
PyInit__speedups(void)
{
    return PyModuleDef_Init(&module_def);
}
