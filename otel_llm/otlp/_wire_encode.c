/* SpanRecords -> OTLP protobuf bytes: encode_request of the optional C wire codec
   otel_llm.otlp._wire (the module, and why it exists: _wire.c). */
#include "_wire.h"

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

/* An attribute of `obj`, as a new reference. */
#define GET(obj, name) PyObject_GetAttr((obj), wire_names.name)

/* A string field, not written when empty (proto3). */
static int
put_str(Buf *b, int field, PyObject *value, int always)
{
    if (!PyUnicode_Check(value)) return wire_unsupported("not a str");
    Py_ssize_t n;
    const char *utf8 = PyUnicode_AsUTF8AndSize(value, &n);
    if (utf8 == NULL) { /* a lone surrogate: the reference path replaces it */
        if (!PyErr_ExceptionMatches(PyExc_UnicodeEncodeError)) return -1;
        PyErr_Clear();
        return wire_unsupported("not valid UTF-8");
    }
    if (n == 0 && !always) return 0;
    return put_len(b, field, utf8, n);
}

static int
put_bytes(Buf *b, int field, PyObject *value)
{
    if (!PyBytes_Check(value)) return wire_unsupported("not bytes");
    Py_ssize_t n = PyBytes_GET_SIZE(value);
    return n ? put_len(b, field, PyBytes_AS_STRING(value), n) : 0;
}

/* An integer in [low, high] (not a bool: upb refuses those for integer fields). */
static int
int_in_range(PyObject *value, long long low, unsigned long long high, unsigned long long *out)
{
    if (!PyLong_Check(value) || PyBool_Check(value)) return wire_unsupported("not an int");
    if (low < 0) {
        int overflow;
        long long v = PyLong_AsLongLongAndOverflow(value, &overflow);
        if (v == -1 && PyErr_Occurred()) return -1;
        if (overflow || v < low || (v > 0 && (unsigned long long)v > high))
            return wire_unsupported("out of range");
        *out = (unsigned long long)v;
        return 0;
    }
    unsigned long long v = PyLong_AsUnsignedLongLong(value);
    if (v == (unsigned long long)-1 && PyErr_Occurred()) {
        PyErr_Clear();
        return wire_unsupported("out of range");
    }
    if (v > high) return wire_unsupported("out of range");
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
        if (overflow) return wire_unsupported("int beyond int64"); /* becomes a decimal string */
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
    if (depth > 64) return wire_unsupported("nested too deep");
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
    return wire_unsupported("value type");
}

/* Repeated KeyValue `field` from a dict of str keys. */
static int
put_key_values(Buf *b, int field, PyObject *attrs, int depth)
{
    if (!PyDict_CheckExact(attrs)) return wire_unsupported("attributes not a dict");
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
        rc = wire_unsupported("not a list");
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
    if (put_int_attr(b, ev, wire_names.time_unix_nano, 1, I64, UINT64) < 0 ||
        put_attr(b, ev, wire_names.name, 2, AS_STR) < 0 ||
        put_attr(b, ev, wire_names.attributes, 3, AS_KEY_VALUES) < 0)
        return -1;
    return put_int_attr(b, ev, wire_names.dropped_attributes_count, 4, VARINT, UINT32);
}

static int
put_link(Buf *b, PyObject *ln) /* Span.Link */
{
    if (put_attr(b, ln, wire_names.trace_id, 1, AS_BYTES) < 0 ||
        put_attr(b, ln, wire_names.span_id, 2, AS_BYTES) < 0 ||
        put_attr(b, ln, wire_names.trace_state, 3, AS_STR) < 0 ||
        put_attr(b, ln, wire_names.attributes, 4, AS_KEY_VALUES) < 0 ||
        put_int_attr(b, ln, wire_names.dropped_attributes_count, 5, VARINT, UINT32) < 0)
        return -1;
    return put_int_attr(b, ln, wire_names.flags, 6, I32, UINT32);
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
        put_int_attr(b, span, wire_names.status_code, 3, VARINT, INT32) < 0)
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
    if (put_attr(b, span, wire_names.trace_id, 1, AS_BYTES) < 0 ||
        put_attr(b, span, wire_names.span_id, 2, AS_BYTES) < 0 ||
        put_attr(b, span, wire_names.trace_state, 3, AS_STR) < 0 ||
        put_attr(b, span, wire_names.parent_span_id, 4, AS_BYTES) < 0 ||
        put_attr(b, span, wire_names.name, 5, AS_STR) < 0 ||
        put_int_attr(b, span, wire_names.kind, 6, VARINT, INT32) < 0 ||
        put_int_attr(b, span, wire_names.start_time_unix_nano, 7, I64, UINT64) < 0 ||
        put_int_attr(b, span, wire_names.end_time_unix_nano, 8, I64, UINT64) < 0 ||
        put_attr(b, span, wire_names.attributes, 9, AS_KEY_VALUES) < 0 ||
        put_int_attr(b, span, wire_names.dropped_attributes_count, 10, VARINT, UINT32) < 0 ||
        put_messages(b, span, wire_names.events, 11, put_event) < 0 ||
        put_int_attr(b, span, wire_names.dropped_events_count, 12, VARINT, UINT32) < 0 ||
        put_messages(b, span, wire_names.links, 13, put_link) < 0 ||
        put_int_attr(b, span, wire_names.dropped_links_count, 14, VARINT, UINT32) < 0 ||
        put_status(b, span) < 0)
        return -1;
    return put_int_attr(b, span, wire_names.flags, 16, I32, UINT32);
}

/* ScopeSpans: the scope of its first span, then every span of the group. */
static int
put_scope_spans(Buf *b, PyObject *group)
{
    PyObject *first, *members;
    if (!PyTuple_CheckExact(group) || PyTuple_GET_SIZE(group) != 2)
        return wire_unsupported("scope group");
    first = PyTuple_GET_ITEM(group, 0);
    members = PyTuple_GET_ITEM(group, 1);
    if (!PyList_CheckExact(members)) return wire_unsupported("scope members");
    Py_ssize_t scope = open_len(b, 1); /* InstrumentationScope, always present */
    if (scope < 0 || put_attr(b, first, wire_names.scope_name, 1, AS_STR) < 0 ||
        put_attr(b, first, wire_names.scope_version, 2, AS_STR) < 0 ||
        put_attr(b, first, wire_names.scope_attributes, 3, AS_KEY_VALUES) < 0 ||
        close_len(b, scope) < 0)
        return -1;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(members); i++) {
        Py_ssize_t mark = open_len(b, 2);
        if (mark < 0 || put_span(b, PyList_GET_ITEM(members, i)) < 0 || close_len(b, mark) < 0)
            return -1;
    }
    return put_attr(b, first, wire_names.scope_schema_url, 3, AS_STR);
}

/* ResourceSpans: the resource of its first span, then its scope groups. */
static int
put_resource_spans(Buf *b, PyObject *group)
{
    PyObject *first, *scopes, *resource;
    if (!PyTuple_CheckExact(group) || PyTuple_GET_SIZE(group) != 2)
        return wire_unsupported("resource group");
    first = PyTuple_GET_ITEM(group, 0);
    scopes = PyTuple_GET_ITEM(group, 1);
    if (!PyList_CheckExact(scopes)) return wire_unsupported("scope groups");
    if ((resource = GET(first, resource)) == NULL) return -1;
    int rc = 0;
    if (!PyDict_CheckExact(resource)) {
        rc = wire_unsupported("resource not a dict");
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
    return put_attr(b, first, wire_names.resource_schema_url, 3, AS_STR);
}

/* encode_request(groups) -> bytes: an ExportTraceServiceRequest. */
PyObject *
wire_encode_request(PyObject *module, PyObject *groups)
{
    (void)module;
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
