/* What the units of the optional C wire codec otel_llm.otlp._wire share; one extension
   module built from three sources (see _wire.c):
   - _wire.c         the module: method table, init (the exception, the interned names);
   - _wire_encode.c  SpanRecords -> protobuf bytes, behind encode_request;
   - _wire_decode.c  protobuf bytes -> SpanRecords, behind decode_request.
   All else is static in its unit. The shared symbols carry a wire_ prefix and are hidden
   from the shared object's exports, which stay PyInit__wire alone. */
#ifndef OTEL_LLM_OTLP_WIRE_H
#define OTEL_LLM_OTLP_WIRE_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

#if defined(__GNUC__) && !defined(_WIN32)
#define WIRE_SHARED __attribute__((visibility("hidden")))
#else
#define WIRE_SHARED
#endif

/* Protobuf wire types. */
enum { VARINT = 0, I64 = 1, LEN = 2, I32 = 5 };

/* Raised for what the reference path must handle; never seen by users. */
WIRE_SHARED extern PyObject *wire_Unsupported;

/* Sets wire_Unsupported with `what`; returns -1. Inline, so that the compiler sees the -1
   on the paths that return it (it would warn of outputs left unset otherwise). */
static inline int
wire_unsupported(const char *what)
{
    PyErr_SetString(wire_Unsupported, what);
    return -1;
}

/* The attribute names the encoder reads SpanRecords, SpanEvents and SpanLinks by. */
#define WIRE_NAMES(X)                                                                          \
    X(trace_id) X(span_id) X(name) X(parent_span_id) X(kind) X(start_time_unix_nano)           \
    X(end_time_unix_nano) X(attributes) X(events) X(links) X(status_code)                      \
    X(status_message) X(trace_state) X(flags) X(dropped_attributes_count)                      \
    X(dropped_events_count) X(dropped_links_count) X(resource) X(resource_schema_url)          \
    X(scope_name) X(scope_version) X(scope_attributes) X(scope_schema_url)                     \
    X(time_unix_nano)

#define WIRE_NAME_FIELD(name) PyObject *name;
typedef struct {
    WIRE_NAMES(WIRE_NAME_FIELD)
} WireNames;
#undef WIRE_NAME_FIELD

/* Interned by the module init. */
WIRE_SHARED extern WireNames wire_names;

/* The decoder's defaults for absent fields: "", b"" and 0. */
WIRE_SHARED extern PyObject *wire_empty_str, *wire_empty_bytes, *wire_zero;

/* The module's functions (the method table's docstrings say what they do). */
WIRE_SHARED PyObject *wire_encode_request(PyObject *module, PyObject *groups);
WIRE_SHARED PyObject *wire_decode_request(PyObject *module, PyObject *const *args,
                                          Py_ssize_t nargs);

#endif /* OTEL_LLM_OTLP_WIRE_H */
