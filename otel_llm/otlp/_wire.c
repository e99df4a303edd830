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

   The codec is one extension module in three units sharing _wire.h: this file (the
   module: method table and init), _wire_encode.c (encode_request) and _wire_decode.c
   (decode_request).
*/
#include "_wire.h"

/* The shared state _wire.h declares, set by exec_module. */
PyObject *wire_Unsupported;
WireNames wire_names;
PyObject *wire_empty_str, *wire_empty_bytes, *wire_zero;

static PyMethodDef methods[] = {
    {"encode_request", wire_encode_request, METH_O,
     "encode_request(groups) -> bytes\n\n"
     "The ExportTraceServiceRequest bytes of spans grouped as grouping.group_spans returns\n"
     "them. Raises Unsupported for anything the reference encoder must handle."},
    {"decode_request", (PyCFunction)(void (*)(void))wire_decode_request, METH_FASTCALL,
     "decode_request(data, (SpanRecord, SpanEvent, SpanLink)) -> list[SpanRecord]\n\n"
     "The spans of ExportTraceServiceRequest bytes, as protobuf.decode_request reads them.\n"
     "Raises Unsupported for anything the upb parser must handle."},
    {NULL, NULL, 0, NULL},
};

static int
exec_module(PyObject *module)
{
#define INTERN(name) \
    if ((wire_names.name = PyUnicode_InternFromString(#name)) == NULL) return -1;
    WIRE_NAMES(INTERN)
#undef INTERN
    if ((wire_empty_str = PyUnicode_FromStringAndSize("", 0)) == NULL ||
        (wire_empty_bytes = PyBytes_FromStringAndSize("", 0)) == NULL ||
        (wire_zero = PyLong_FromLong(0)) == NULL)
        return -1;
    wire_Unsupported = PyErr_NewExceptionWithDoc(
        "otel_llm.otlp._wire.Unsupported",
        "Input only the reference (pure-Python) codec handles.", PyExc_ValueError, NULL);
    if (wire_Unsupported == NULL) return -1;
    Py_INCREF(wire_Unsupported);
    return PyModule_AddObject(module, "Unsupported", wire_Unsupported);
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
