/* The optional C walk of otel_llm.redaction: a JSON-like value with secrets replaced.

   redaction.Redactor's walk over a run's values costs ~6 us a run in Python (a few dozen
   dict and list nodes), ~5x less here. Only the walk is here: whether a key names
   a secret and what a string becomes are decided by the caller's rules, passed as
   keyword arguments (see _redact_walk.pyi): their caches are read here, their callbacks
   called on a miss, and values of any other type go to `other`. The Python walk in
   redaction.py is the reference; tests/processor/test_redaction_walks.py holds this one
   to it.
*/
#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* The rules of one walk, borrowed from the call's arguments. */
typedef struct {
    PyObject *secret_key;  /* secret_key(key) -> bool, on a key_cache miss */
    PyObject *key_cache;   /* dict: key -> bool */
    PyObject *text;        /* text(s) -> str, on a memo miss; None: strings stay as they are */
    PyObject *memo;        /* dict: text -> what it becomes, or `unchanged` */
    PyObject *unchanged;   /* the memo's "nothing to redact" marker */
    PyObject *replacement; /* what replaces the value of a secret key */
    PyObject *other;       /* other(value) -> value, for values of any other type */
} Walk;

/* The keyword arguments, in Walk's order. */
static const char *const rule_names[] = {
    "secret_key", "key_cache", "text", "memo", "unchanged", "replacement", "other",
};
enum { N_RULES = sizeof(rule_names) / sizeof(rule_names[0]) };
static PyObject *rule_keywords[N_RULES]; /* interned rule_names */

static PyObject *walk_value(Walk *w, PyObject *value);

static int
is_plain_scalar(PyObject *v)
{
    return v == Py_None || PyLong_CheckExact(v) || PyFloat_CheckExact(v) || PyBool_Check(v);
}

/* A new reference: the text itself when nothing changed. */
static PyObject *
walk_text(Walk *w, PyObject *text)
{
    if (w->text == Py_None) return Py_NewRef(text);
    PyObject *hit = PyDict_GetItemWithError(w->memo, text); /* borrowed */
    if (hit == w->unchanged) return Py_NewRef(text);
    if (hit != NULL) return Py_NewRef(hit);
    if (PyErr_Occurred()) return NULL;
    return PyObject_CallOneArg(w->text, text);
}

static int
secret_key(Walk *w, PyObject *key)
{
    if (!PyUnicode_CheckExact(key)) return 0;
    PyObject *hit = PyDict_GetItemWithError(w->key_cache, key); /* borrowed */
    if (hit == Py_True) return 1;
    if (hit == Py_False) return 0;
    if (hit == NULL && PyErr_Occurred()) return -1;
    PyObject *answer = PyObject_CallOneArg(w->secret_key, key);
    if (answer == NULL) return -1;
    int truth = PyObject_IsTrue(answer);
    Py_DECREF(answer);
    return truth;
}

/* `skip`: keys of this mapping (not of nested ones) whose values are left as they are. */
static PyObject *
walk_dict(Walk *w, PyObject *dict, PyObject *skip)
{
    PyObject *out = NULL, *key, *value;
    Py_ssize_t pos = 0;
    while (PyDict_Next(dict, &pos, &key, &value)) {
        if (value == Py_None) continue;
        Py_INCREF(key); /* the callbacks below run Python code */
        Py_INCREF(value);
        PyObject *new = NULL; /* stays NULL on an error */
        int skipped = skip == NULL ? 0 : PySet_Contains(skip, key);
        if (skipped > 0) new = Py_NewRef(value);
        else if (skipped == 0) {
            int secret = secret_key(w, key);
            if (secret > 0) new = Py_NewRef(w->replacement);
            else if (secret == 0) new = walk_value(w, value);
        }
        int failed = new == NULL;
        if (!failed && new != value) {
            if (out == NULL && (out = PyDict_Copy(dict)) == NULL) failed = 1;
            else failed = PyDict_SetItem(out, key, new) < 0;
        }
        Py_XDECREF(new);
        Py_DECREF(value);
        Py_DECREF(key);
        if (failed) {
            Py_XDECREF(out);
            return NULL;
        }
    }
    return out != NULL ? out : Py_NewRef(dict);
}

/* A list or tuple; a changed one comes back as a list, as the Python walk gives it. */
static PyObject *
walk_sequence(Walk *w, PyObject *seq)
{
    PyObject *out = NULL;
    for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(seq); i++) {
        PyObject *item = PySequence_Fast_GET_ITEM(seq, i);
        if (is_plain_scalar(item)) continue;
        Py_INCREF(item);
        PyObject *new = walk_value(w, item);
        int failed = new == NULL;
        if (!failed && new != item) {
            if (out == NULL && (out = PySequence_List(seq)) == NULL) failed = 1;
            else failed = PyList_SetItem(out, i, Py_NewRef(new)) < 0; /* steals */
        }
        Py_XDECREF(new);
        Py_DECREF(item);
        if (failed) {
            Py_XDECREF(out);
            return NULL;
        }
    }
    return out != NULL ? out : Py_NewRef(seq);
}

static PyObject *
walk_value(Walk *w, PyObject *value)
{
    if (PyUnicode_CheckExact(value)) return walk_text(w, value);
    if (is_plain_scalar(value)) return Py_NewRef(value);
    if (Py_EnterRecursiveCall(" while redacting a run")) return NULL;
    PyObject *out;
    if (PyDict_CheckExact(value)) out = walk_dict(w, value, NULL);
    else if (PyList_CheckExact(value) || PyTuple_CheckExact(value)) out = walk_sequence(w, value);
    else out = PyObject_CallOneArg(w->other, value);
    Py_LeaveRecursiveCall();
    return out;
}

/* Which rule a keyword names, or -1. Keywords written in code are interned: the pointer
   comparison almost always decides. */
static int
rule_index(PyObject *keyword)
{
    for (int i = 0; i < N_RULES; i++)
        if (keyword == rule_keywords[i]) return i;
    for (int i = 0; i < N_RULES; i++)
        if (PyUnicode_Compare(keyword, rule_keywords[i]) == 0) return i;
    return -1;
}

static PyObject *
usage(void)
{
    PyErr_SetString(PyExc_TypeError,
                    "redact_walk(value, skip: frozenset | None = None, *, secret_key, "
                    "key_cache: dict, text, memo: dict, unchanged, replacement, other)");
    return NULL;
}

/* redact_walk(value, skip=None, *, secret_key, key_cache, text, memo, unchanged,
               replacement, other) */
static PyObject *
redact_walk(PyObject *module, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    PyObject *rules[N_RULES] = {NULL};
    Py_ssize_t n_keywords = kwnames == NULL ? 0 : PyTuple_GET_SIZE(kwnames);
    if (nargs < 1 || nargs > 2 || n_keywords != N_RULES) return usage();
    for (Py_ssize_t j = 0; j < n_keywords; j++) {
        int i = rule_index(PyTuple_GET_ITEM(kwnames, j));
        if (i < 0 || rules[i] != NULL) return usage();
        rules[i] = args[nargs + j];
    }
    Walk w = {rules[0], rules[1], rules[2], rules[3], rules[4], rules[5], rules[6]};
    PyObject *skip = nargs == 2 && args[1] != Py_None ? args[1] : NULL;
    if ((skip != NULL && !PyAnySet_Check(skip)) || !PyDict_CheckExact(w.key_cache) ||
        !PyDict_CheckExact(w.memo) || !PyCallable_Check(w.secret_key) ||
        !PyCallable_Check(w.other) || (w.text != Py_None && !PyCallable_Check(w.text)))
        return usage();
    PyObject *value = args[0];
    if (skip != NULL && PyDict_CheckExact(value)) {
        if (Py_EnterRecursiveCall(" while redacting a run")) return NULL;
        PyObject *out = walk_dict(&w, value, skip);
        Py_LeaveRecursiveCall();
        return out;
    }
    return walk_value(&w, value);
}

static PyMethodDef methods[] = {
    {"redact_walk", (PyCFunction)(void (*)(void))redact_walk, METH_FASTCALL | METH_KEYWORDS,
     "redact_walk(value, skip=None, *, secret_key, key_cache, text, memo, unchanged,\n"
     "            replacement, other) -> value\n\n"
     "Redactor's walk: the value with secrets replaced, the very same object when\n"
     "nothing changed. `skip` names keys of the top mapping to leave as they are."},
    {NULL, NULL, 0, NULL},
};

static int
exec_module(PyObject *module)
{
    for (int i = 0; i < N_RULES; i++)
        if ((rule_keywords[i] = PyUnicode_InternFromString(rule_names[i])) == NULL) return -1;
    return 0;
}

static PyModuleDef_Slot slots[] = {
    {Py_mod_exec, exec_module},
    {0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "otel_llm._redact_walk",
    "Optional C walk for otel_llm.redaction (see _redact_walk.c).",
    0, methods, slots,
    NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit__redact_walk(void)
{
    return PyModuleDef_Init(&module_def);
}
