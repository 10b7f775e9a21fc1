/*
 * racelane's optional accelerator: the span hot path in C.
 *
 * Same behaviour as the pure-Python ``Span`` and ``span()`` in core.py, which
 * stay the reference implementation (and run wherever this module was not
 * built, or with RACELANE_PURE=1). core.py owns the recorder state; it pushes
 * every change into this module through ``configure()``, so a span reads its
 * state from C variables instead of module globals.
 *
 * Rules kept from core.py:
 *   - nothing here raises into traced code: an ``Exception`` inside the
 *     recorder is swallowed (KeyboardInterrupt and friends still propagate);
 *   - a finished span is added to the row buffer as two items (the plain
 *     columns tuple, then the attrs) with no Python code running in between,
 *     so the flusher always sees whole pairs;
 *   - a span entered under an older generation (stop, restart, fork) is
 *     ignored at exit.
 *
 * The state is process-global (single-phase init): racelane records one
 * process's spans, and sub-interpreters are not supported.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <time.h>

typedef struct {
    PyObject *active;       /* the Recorder, or NULL while nothing records */
    PyObject *rows;         /* core._rows */
    Py_ssize_t soft;        /* core._span_soft_limit */
    Py_ssize_t hard;        /* core._span_hard_limit */
    long gen;               /* core._gen */
    PyObject *now;          /* core._now, or NULL for CLOCK_MONOTONIC */
    PyObject *lane;         /* core._lane */
    PyObject *wake;         /* core._wake */
    PyObject *async_set;
    PyObject *async_reset;
    /* the fast lane lookup (the recorder's own registry only) */
    PyObject *registry;
    PyObject *getcurrent;   /* greenlet.getcurrent, or NULL in thread mode */
    PyObject *tls;          /* registry._tls */
    PyObject *running_loop; /* asyncio._get_running_loop */
    /* set once by init() */
    PyObject *noop;
    PyObject *error;
    PyObject *forget;
    PyObject *handle_type;
    unsigned long long next_id;
} State;

static State st;

static PyObject *s_stack, *s_spawned_by, *s_is_task, *s_id, *s_registry, *s_lane_attr, *s_tls_lane,
    *s_stats, *s_dropped, *s_name, *s_cat, *s_empty, *s_one;

typedef struct {
    PyObject_HEAD
    PyObject *name;
    PyObject *cat;
    PyObject *attrs;
    PyObject *lane;
    PyObject *id;
    PyObject *parent;
    PyObject *start_ns;
    PyObject *atoken;
    PyObject *announced;
    long gen;
} SpanObject;

static PyTypeObject SpanType;

/* --- helpers --------------------------------------------------------------- */

/* Swallow an Exception raised inside the recorder; anything else (KeyboardInterrupt,
 * SystemExit) is left set and reported by returning -1. */
static int
swallow(void)
{
    if (PyErr_ExceptionMatches(PyExc_Exception)) {
        PyErr_Clear();
        return 0;
    }
    return -1;
}

static PyObject *
now_ns(void)
{
    if (st.now != NULL) {
        return PyObject_CallNoArgs(st.now);
    }
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return PyLong_FromLongLong((long long)ts.tv_sec * 1000000000LL + ts.tv_nsec);
}

/* What a span needs of its lane: the last lane used is cached with its stack
 * list, id and kind, which never change. Only the lane is referenced (never a
 * greenlet, which must not be released from another thread). */
typedef struct {
    PyObject *lane;
    PyObject *stack;
    PyObject *lane_id;
    int is_task;
} LaneEntry;

static LaneEntry cache;

static void
cache_clear(void)
{
    Py_CLEAR(cache.lane);
    Py_CLEAR(cache.stack);
    Py_CLEAR(cache.lane_id);
}

/* The entry of ``lane`` (stolen), from the cache or filled from the lane. */
static LaneEntry *
cache_fill(PyObject *lane)
{
    if (lane == cache.lane) {
        Py_DECREF(lane);
        return &cache;
    }
    PyObject *stack = PyObject_GetAttr(lane, s_stack);
    PyObject *lane_id = stack == NULL ? NULL : PyObject_GetAttr(lane, s_id);
    PyObject *flag = lane_id == NULL ? NULL : PyObject_GetAttr(lane, s_is_task);
    int is_task = flag == NULL ? -1 : PyObject_IsTrue(flag);
    Py_XDECREF(flag);
    if (is_task < 0 || !PyList_Check(stack)) {
        if (is_task >= 0) {
            PyErr_SetString(PyExc_TypeError, "lane stack is not a list");
        }
        Py_DECREF(lane);
        Py_XDECREF(stack);
        Py_XDECREF(lane_id);
        return NULL;
    }
    PyObject *old_lane = cache.lane, *old_stack = cache.stack, *old_id = cache.lane_id;
    cache.lane = lane;
    cache.stack = stack;
    cache.lane_id = lane_id;
    cache.is_task = is_task;
    /* Released last: a destructor may run Python code, which must find the cache whole. */
    Py_XDECREF(old_lane);
    Py_XDECREF(old_stack);
    Py_XDECREF(old_id);
    return &cache;
}

/* The current lane, as LaneRegistry.current would return it. The entry is
 * borrowed: copy what you keep before running any Python code. */
static LaneEntry *
current_lane(void)
{
    if (st.registry != NULL && st.running_loop != NULL) {
        PyObject *loop = PyObject_CallNoArgs(st.running_loop);
        if (loop == NULL) {
            return NULL;
        }
        int outside_loop = loop == Py_None;
        Py_DECREF(loop);
        if (outside_loop) {
            PyObject *lane;
            if (st.getcurrent != NULL) {
                PyObject *glet = PyObject_CallNoArgs(st.getcurrent);
                if (glet == NULL) {
                    return NULL;
                }
                lane = PyObject_GetAttr(glet, s_lane_attr);
                Py_DECREF(glet);
            }
            else {
                lane = PyObject_GetAttr(st.tls, s_tls_lane);
            }
            if (lane != NULL) {
                if (lane == cache.lane) { /* checked when it was cached */
                    Py_DECREF(lane);
                    return &cache;
                }
                PyObject *registry = PyObject_GetAttr(lane, s_registry);
                if (registry != NULL) {
                    int ours = registry == st.registry;
                    Py_DECREF(registry);
                    if (ours) {
                        return cache_fill(lane);
                    }
                }
                else {
                    PyErr_Clear();
                }
                Py_DECREF(lane);
            }
            else if (PyErr_ExceptionMatches(PyExc_AttributeError)) {
                PyErr_Clear();
            }
            else {
                return NULL;
            }
        }
    }
    if (st.lane == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "racelane is not recording");
        return NULL;
    }
    PyObject *lane = PyObject_CallNoArgs(st.lane);
    if (lane == NULL) {
        return NULL;
    }
    return cache_fill(lane);
}

static int
lane_is_task(PyObject *lane)
{
    PyObject *flag = PyObject_GetAttr(lane, s_is_task);
    if (flag == NULL) {
        return -1;
    }
    int result = PyObject_IsTrue(flag);
    Py_DECREF(flag);
    return result;
}

static void
count_drop(void)
{
    if (st.active == NULL) {
        return;
    }
    PyObject *stats = PyObject_GetAttr(st.active, s_stats);
    if (stats == NULL) {
        PyErr_Clear();
        return;
    }
    PyObject *dropped = PyObject_GetAttr(stats, s_dropped);
    if (dropped != NULL) {
        PyObject *more = PyNumber_Add(dropped, s_one);
        Py_DECREF(dropped);
        if (more != NULL) {
            PyObject_SetAttr(stats, s_dropped, more);
            Py_DECREF(more);
        }
    }
    if (PyErr_Occurred()) {
        PyErr_Clear();
    }
    Py_DECREF(stats);
}

/* --- Span ------------------------------------------------------------------ */

static SpanObject *
span_new_raw(PyObject *name, PyObject *cat, PyObject *attrs)
{
    SpanObject *self = PyObject_GC_New(SpanObject, &SpanType);
    if (self == NULL) {
        return NULL;
    }
    self->name = Py_NewRef(name);
    self->cat = Py_NewRef(cat);
    self->attrs = attrs; /* stolen */
    self->lane = NULL;
    self->id = NULL;
    self->parent = NULL;
    self->start_ns = NULL;
    self->atoken = NULL;
    self->announced = NULL;
    self->gen = -1;
    PyObject_GC_Track(self);
    return self;
}

static PyObject *
Span_tp_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"name", "cat", "attrs", NULL};
    PyObject *name, *cat, *attrs;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OOO!:Span", kwlist, &name, &cat, &PyDict_Type, &attrs)) {
        return NULL;
    }
    return (PyObject *)span_new_raw(name, cat, Py_NewRef(attrs));
}

static int
Span_traverse(SpanObject *self, visitproc visit, void *arg)
{
    Py_VISIT(self->name);
    Py_VISIT(self->cat);
    Py_VISIT(self->attrs);
    Py_VISIT(self->lane);
    Py_VISIT(self->id);
    Py_VISIT(self->parent);
    Py_VISIT(self->start_ns);
    Py_VISIT(self->atoken);
    Py_VISIT(self->announced);
    return 0;
}

static int
Span_clear(SpanObject *self)
{
    Py_CLEAR(self->name);
    Py_CLEAR(self->cat);
    Py_CLEAR(self->attrs);
    Py_CLEAR(self->lane);
    Py_CLEAR(self->id);
    Py_CLEAR(self->parent);
    Py_CLEAR(self->start_ns);
    Py_CLEAR(self->atoken);
    Py_CLEAR(self->announced);
    return 0;
}

static void
Span_dealloc(SpanObject *self)
{
    PyObject_GC_UnTrack(self);
    Span_clear(self);
    PyObject_GC_Del(self);
}

static PyObject *
Span_enter(SpanObject *self, PyObject *Py_UNUSED(ignored))
{
    LaneEntry *entry = current_lane();
    PyObject *stack = NULL;
    if (entry == NULL) {
        goto fail;
    }
    stack = Py_NewRef(entry->stack);
    int is_task = entry->is_task;
    Py_XSETREF(self->lane, Py_NewRef(entry->lane)); /* entry is not used below: Python code may run */
    Py_ssize_t depth = PyList_GET_SIZE(stack);
    PyObject *parent;
    if (depth > 0) {
        PyObject *top = PyList_GET_ITEM(stack, depth - 1);
        if (Py_IS_TYPE(top, &SpanType) && ((SpanObject *)top)->id != NULL) {
            parent = Py_NewRef(((SpanObject *)top)->id);
        }
        else {
            parent = PyObject_GetAttr(top, s_id);
        }
    }
    else {
        parent = PyObject_GetAttr(self->lane, s_spawned_by);
    }
    if (parent == NULL) {
        goto fail;
    }
    Py_XSETREF(self->parent, parent);
    PyObject *span_id = PyLong_FromUnsignedLongLong(st.next_id++);
    if (span_id == NULL) {
        goto fail;
    }
    Py_XSETREF(self->id, span_id);
    self->gen = st.gen;
    if (is_task) {
        PyObject *token = PyObject_CallOneArg(st.async_set, span_id);
        if (token == NULL) {
            goto fail;
        }
        Py_XSETREF(self->atoken, token);
    }
    PyObject *start = now_ns();
    if (start == NULL) {
        goto fail;
    }
    Py_XSETREF(self->start_ns, start);
    if (PyList_Append(stack, (PyObject *)self) < 0) { /* last: the flusher may read it from now on */
        goto fail;
    }
    Py_DECREF(stack);
    return Py_NewRef(self);
fail:
    Py_XDECREF(stack);
    self->gen = -1;
    if (swallow() < 0) {
        return NULL;
    }
    return Py_NewRef(self);
}

static int
call_forget(SpanObject *self)
{
    PyObject *result = PyObject_CallOneArg(st.forget, (PyObject *)self);
    if (result == NULL) {
        return swallow();
    }
    Py_DECREF(result);
    return 0;
}

static PyObject *
Span_exit(SpanObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3) {
        PyErr_Format(PyExc_TypeError, "__exit__ expected 3 arguments, got %zd", nargs);
        return NULL;
    }
    PyObject *exc_type = args[0];
    PyObject *end = now_ns();
    PyObject *stack = NULL, *lane_id = NULL, *err = NULL, *row = NULL;
    if (end == NULL) {
        goto fail;
    }
    if (self->gen != st.gen || self->gen < 0 || self->lane == NULL) {
        Py_DECREF(end);
        if (call_forget(self) < 0) {
            return NULL;
        }
        Py_RETURN_FALSE;
    }
    int is_task;
    if (cache.lane == self->lane) {
        stack = Py_NewRef(cache.stack);
        lane_id = Py_NewRef(cache.lane_id);
        is_task = cache.is_task;
    }
    else {
        stack = PyObject_GetAttr(self->lane, s_stack);
        if (stack == NULL) {
            goto fail;
        }
        lane_id = PyObject_GetAttr(self->lane, s_id);
        if (lane_id == NULL) {
            goto fail;
        }
        is_task = lane_is_task(self->lane);
        if (is_task < 0) {
            goto fail;
        }
    }
    Py_ssize_t depth = PyList_Check(stack) ? PyList_GET_SIZE(stack) : 0;
    if (depth > 0 && PyList_GET_ITEM(stack, depth - 1) == (PyObject *)self) {
        if (PyList_SetSlice(stack, depth - 1, depth, NULL) < 0) {
            goto fail;
        }
    }
    else if (call_forget(self) < 0) {
        goto fail_hard;
    }
    if (is_task && self->atoken != NULL) {
        PyObject *result = PyObject_CallOneArg(st.async_reset, self->atoken);
        if (result == NULL) {
            goto fail;
        }
        Py_DECREF(result);
    }
    PyObject *rows = st.rows;
    if (rows == NULL || !PyList_Check(rows)) {
        goto done;
    }
    Py_ssize_t buffered = PyList_GET_SIZE(rows);
    if (buffered >= st.hard) {
        count_drop();
        goto done;
    }
    if (exc_type == Py_None) {
        err = Py_NewRef(Py_None);
    }
    else {
        err = PyObject_CallFunctionObjArgs(st.error, exc_type, args[1], NULL);
        if (err == NULL) {
            goto fail;
        }
    }
    row = PyTuple_New(8);
    if (row == NULL) {
        goto fail;
    }
    PyTuple_SET_ITEM(row, 0, Py_NewRef(self->id));
    PyTuple_SET_ITEM(row, 1, Py_NewRef(self->parent));
    PyTuple_SET_ITEM(row, 2, lane_id);
    lane_id = NULL;
    PyTuple_SET_ITEM(row, 3, Py_NewRef(self->start_ns));
    PyTuple_SET_ITEM(row, 4, end);
    end = NULL;
    PyTuple_SET_ITEM(row, 5, Py_NewRef(self->name));
    PyTuple_SET_ITEM(row, 6, Py_NewRef(self->cat));
    PyTuple_SET_ITEM(row, 7, err);
    err = NULL;
    if (PyTuple_GET_ITEM(row, 7) == Py_None && PyUnicode_CheckExact(self->name) && PyUnicode_CheckExact(self->cat) &&
        PyLong_CheckExact(self->parent) && PyLong_CheckExact(PyTuple_GET_ITEM(row, 2)) &&
        PyLong_CheckExact(self->start_ns) && PyLong_CheckExact(PyTuple_GET_ITEM(row, 4))) {
        /* Only ints, strings and None: the tuple can never be part of a cycle.
         * Untracked now, it costs the garbage collector nothing while it waits
         * for the flusher (otherwise it is traversed by every collection,
         * and old ones traverse the whole heap). */
        PyObject_GC_UnTrack(row);
    }
    PyObject *attrs = self->attrs;
    if (attrs == NULL || (PyDict_CheckExact(attrs) && PyDict_GET_SIZE(attrs) == 0)) {
        attrs = Py_None;
    }
    /* Both appends, with no Python code in between: the flusher sees whole pairs. */
    if (PyList_Append(rows, row) < 0) {
        goto fail;
    }
    if (PyList_Append(rows, attrs) < 0) {
        goto fail;
    }
    if (buffered >= st.soft && st.wake != NULL) {
        PyObject *result = PyObject_CallNoArgs(st.wake);
        if (result == NULL) {
            goto fail;
        }
        Py_DECREF(result);
    }
done:
    Py_XDECREF(end);
    Py_XDECREF(stack);
    Py_XDECREF(lane_id);
    Py_XDECREF(row);
    Py_RETURN_FALSE;
fail:
    Py_XDECREF(end);
    Py_XDECREF(stack);
    Py_XDECREF(lane_id);
    Py_XDECREF(err);
    Py_XDECREF(row);
    if (swallow() < 0) {
        return NULL;
    }
    Py_RETURN_FALSE;
fail_hard:
    Py_XDECREF(end);
    Py_XDECREF(stack);
    Py_XDECREF(lane_id);
    return NULL;
}

static PyObject *
Span_set(SpanObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_Format(PyExc_TypeError, "set() takes 2 arguments (key, value), got %zd", nargs);
        return NULL;
    }
    PyObject *key = PyObject_Str(args[0]);
    if (key == NULL) {
        return NULL;
    }
    int rc = PyObject_SetItem(self->attrs, key, args[1]);
    Py_DECREF(key);
    if (rc < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
Span_update(SpanObject *self, PyObject *args, PyObject *kwargs)
{
    if (PyTuple_GET_SIZE(args) != 0) {
        PyErr_SetString(PyExc_TypeError, "update() takes keyword arguments only");
        return NULL;
    }
    if (kwargs != NULL && PyDict_Update(self->attrs, kwargs) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
Span_get_handle(SpanObject *self, void *Py_UNUSED(closure))
{
    if (self->gen != st.gen || self->gen < 0 || self->lane == NULL || self->id == NULL || st.handle_type == NULL) {
        Py_RETURN_NONE;
    }
    PyObject *lane_id = PyObject_GetAttr(self->lane, s_id);
    if (lane_id == NULL) {
        return NULL;
    }
    PyObject *handle = PyObject_CallFunctionObjArgs(st.handle_type, self->id, lane_id, NULL);
    Py_DECREF(lane_id);
    return handle;
}

static PyMethodDef Span_methods[] = {
    {"__enter__", (PyCFunction)Span_enter, METH_NOARGS, NULL},
    {"__exit__", (PyCFunction)(void (*)(void))Span_exit, METH_FASTCALL, NULL},
    {"set", (PyCFunction)(void (*)(void))Span_set, METH_FASTCALL,
     "set(key, value): set attribute key; the last value set before the span ends wins."},
    {"update", (PyCFunction)(void (*)(void))Span_update, METH_VARARGS | METH_KEYWORDS,
     "update(**attrs): set several attributes at once."},
    {NULL, NULL, 0, NULL},
};

static PyMemberDef Span_members[] = {
    {"name", T_OBJECT_EX, offsetof(SpanObject, name), 0, NULL},
    {"cat", T_OBJECT_EX, offsetof(SpanObject, cat), 0, NULL},
    {"attrs", T_OBJECT_EX, offsetof(SpanObject, attrs), 0, NULL},
    {"lane", T_OBJECT_EX, offsetof(SpanObject, lane), 0, NULL},
    {"id", T_OBJECT_EX, offsetof(SpanObject, id), 0, NULL},
    {"parent", T_OBJECT_EX, offsetof(SpanObject, parent), 0, NULL},
    {"start_ns", T_OBJECT_EX, offsetof(SpanObject, start_ns), 0, NULL},
    {"_atoken", T_OBJECT_EX, offsetof(SpanObject, atoken), 0, NULL},
    {"announced", T_OBJECT_EX, offsetof(SpanObject, announced), 0, NULL},
    {"gen", T_LONG, offsetof(SpanObject, gen), 0, NULL},
    {NULL, 0, 0, 0, NULL},
};

static PyGetSetDef Span_getset[] = {
    {"handle", (getter)Span_get_handle, NULL, "A handle to pass to another lane, or None when not recording.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject SpanType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "tracer.record._speedups.Span",
    .tp_basicsize = sizeof(SpanObject),
    .tp_dealloc = (destructor)Span_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "A timed stretch of work in one lane; use it as a context manager.",
    .tp_traverse = (traverseproc)Span_traverse,
    .tp_clear = (inquiry)Span_clear,
    .tp_methods = Span_methods,
    .tp_members = Span_members,
    .tp_getset = Span_getset,
    .tp_new = Span_tp_new,
};

/* --- module functions ---------------------------------------------------------- */

/* span(name, cat="", **attrs) */
static PyObject *
span_fn(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    if (st.active == NULL && nargs >= 1 && nargs <= 2 && kwnames == NULL) {
        return Py_NewRef(st.noop);
    }
    PyObject *name = nargs >= 1 ? args[0] : NULL;
    PyObject *cat = nargs >= 2 ? args[1] : NULL;
    if (nargs > 2) {
        PyErr_Format(PyExc_TypeError, "span() takes from 1 to 2 positional arguments but %zd were given", nargs);
        return NULL;
    }
    Py_ssize_t nkw = kwnames == NULL ? 0 : PyTuple_GET_SIZE(kwnames);
    /* Find name= and cat= among the keywords; the rest are attributes. */
    Py_ssize_t taken = 0;
    for (Py_ssize_t i = 0; i < nkw; i++) {
        PyObject *key = PyTuple_GET_ITEM(kwnames, i);
        PyObject **slot = NULL;
        if (key == s_cat) { /* keywords written in code are interned: compare pointers first */
            slot = &cat;
        }
        else if (key == s_name) {
            slot = &name;
        }
        else if (PyUnicode_GET_LENGTH(key) == 3 && PyUnicode_Compare(key, s_cat) == 0) {
            slot = &cat;
        }
        else if (PyUnicode_GET_LENGTH(key) == 4 && PyUnicode_Compare(key, s_name) == 0) {
            slot = &name;
        }
        if (slot != NULL) {
            if (*slot != NULL) {
                PyErr_Format(PyExc_TypeError, "span() got multiple values for argument '%U'", key);
                return NULL;
            }
            *slot = args[nargs + i];
            taken++;
        }
    }
    if (name == NULL) {
        PyErr_SetString(PyExc_TypeError, "span() missing 1 required positional argument: 'name'");
        return NULL;
    }
    if (st.active == NULL) {
        return Py_NewRef(st.noop);
    }
    PyObject *attrs = PyDict_New();
    if (attrs == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < nkw; i++) {
        PyObject *key = PyTuple_GET_ITEM(kwnames, i);
        if (taken && (key == s_cat || key == s_name || PyUnicode_Compare(key, s_name) == 0 ||
                      PyUnicode_Compare(key, s_cat) == 0)) {
            continue;
        }
        if (PyDict_SetItem(attrs, key, args[nargs + i]) < 0) {
            Py_DECREF(attrs);
            return NULL;
        }
    }
    if (cat == NULL) {
        cat = s_empty;
    }
    return (PyObject *)span_new_raw(name, cat, attrs);
}

static PyObject *
init_fn(PyObject *Py_UNUSED(module), PyObject *args)
{
    PyObject *noop, *error, *forget, *handle_type;
    if (!PyArg_ParseTuple(args, "OOOO:init", &noop, &error, &forget, &handle_type)) {
        return NULL;
    }
    Py_XSETREF(st.noop, Py_NewRef(noop));
    Py_XSETREF(st.error, Py_NewRef(error));
    Py_XSETREF(st.forget, Py_NewRef(forget));
    Py_XSETREF(st.handle_type, Py_NewRef(handle_type));
    Py_RETURN_NONE;
}

static void
set_optional(PyObject **slot, PyObject *value)
{
    Py_XSETREF(*slot, value == Py_None ? NULL : Py_NewRef(value));
}

/* configure(active, rows, soft, hard, gen, now, lane, wake, async_set, async_reset, registry) */
static PyObject *
configure_fn(PyObject *Py_UNUSED(module), PyObject *args)
{
    PyObject *active, *rows, *now, *lane, *wake, *async_set, *async_reset, *registry;
    Py_ssize_t soft, hard;
    long gen;
    if (!PyArg_ParseTuple(args, "OOnnlOOOOOO:configure", &active, &rows, &soft, &hard, &gen, &now, &lane, &wake,
                          &async_set, &async_reset, &registry)) {
        return NULL;
    }
    PyObject *getcurrent = NULL, *tls = NULL, *running_loop = NULL;
    if (registry != Py_None) {
        getcurrent = PyObject_GetAttrString(registry, "_getcurrent");
        tls = PyObject_GetAttrString(registry, "_tls");
        PyObject *asyncio = PyImport_ImportModule("asyncio");
        if (asyncio != NULL) {
            running_loop = PyObject_GetAttrString(asyncio, "_get_running_loop");
            Py_DECREF(asyncio);
        }
        if (getcurrent == NULL || tls == NULL || running_loop == NULL) {
            Py_XDECREF(getcurrent);
            Py_XDECREF(tls);
            Py_XDECREF(running_loop);
            return NULL;
        }
        if (getcurrent == Py_None) {
            Py_CLEAR(getcurrent);
        }
    }
    set_optional(&st.active, active);
    set_optional(&st.rows, rows);
    st.soft = soft;
    st.hard = hard;
    st.gen = gen;
    set_optional(&st.now, now);
    set_optional(&st.lane, lane);
    set_optional(&st.wake, wake);
    set_optional(&st.async_set, async_set);
    set_optional(&st.async_reset, async_reset);
    set_optional(&st.registry, registry);
    Py_XSETREF(st.getcurrent, getcurrent);
    Py_XSETREF(st.tls, tls);
    Py_XSETREF(st.running_loop, running_loop);
    cache_clear();
    Py_RETURN_NONE;
}

static PyObject *
reseed_fn(PyObject *Py_UNUSED(module), PyObject *arg)
{
    unsigned long long start = PyLong_AsUnsignedLongLong(arg);
    if (start == (unsigned long long)-1 && PyErr_Occurred()) {
        return NULL;
    }
    st.next_id = start;
    Py_RETURN_NONE;
}

/* unsafe_rows(attrs_list, safe_keys, limit): indexes of the attribute dicts the
 * redactor must look at (same test as the flusher's pure-Python fast path). */
static PyObject *
unsafe_rows_fn(PyObject *Py_UNUSED(module), PyObject *args)
{
    PyObject *attrs_list, *safe;
    Py_ssize_t limit;
    if (!PyArg_ParseTuple(args, "O!O!n:unsafe_rows", &PyList_Type, &attrs_list, &PySet_Type, &safe, &limit)) {
        return NULL;
    }
    PyObject *found = PyList_New(0);
    if (found == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(attrs_list); i++) {
        PyObject *attrs = PyList_GET_ITEM(attrs_list, i);
        if (attrs == Py_None) {
            continue;
        }
        int unsafe = !PyDict_CheckExact(attrs);
        Py_ssize_t pos = 0;
        PyObject *key, *value;
        while (!unsafe && PyDict_Next(attrs, &pos, &key, &value)) {
            int known = PySet_Contains(safe, key);
            if (known < 0) {
                PyErr_Clear();
                unsafe = 1;
            }
            else if (!known) {
                unsafe = 1;
            }
            else if (PyUnicode_CheckExact(value)) {
                unsafe = PyUnicode_GET_LENGTH(value) > limit ||
                         PyUnicode_FindChar(value, '@', 0, PyUnicode_GET_LENGTH(value), 1) != -1;
            }
            else {
                unsafe = !(PyLong_CheckExact(value) || PyFloat_CheckExact(value) || PyBool_Check(value) ||
                           value == Py_None);
            }
        }
        if (unsafe) {
            PyObject *index = PyLong_FromSsize_t(i);
            if (index == NULL || PyList_Append(found, index) < 0) {
                Py_XDECREF(index);
                Py_DECREF(found);
                return NULL;
            }
            Py_DECREF(index);
        }
    }
    return found;
}

static PyMethodDef module_methods[] = {
    {"unsafe_rows", unsafe_rows_fn, METH_VARARGS, "unsafe_rows(attrs_list, safe_keys, limit): rows to redact."},
    {"span", (PyCFunction)(void (*)(void))span_fn, METH_FASTCALL | METH_KEYWORDS,
     "span(name, cat='', **attrs): a context manager timing the with block as a span."},
    {"init", init_fn, METH_VARARGS, "init(noop, error, forget, handle_type): set the helpers from core.py."},
    {"configure", configure_fn, METH_VARARGS, "configure(...): push core.py's recorder state."},
    {"reseed", reseed_fn, METH_O, "reseed(start): the next span id."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "tracer.record._speedups",
    .m_doc = "The span hot path in C (optional; core.py is the reference implementation).",
    .m_size = -1,
    .m_methods = module_methods,
};

#define INTERN(var, text)                            \
    do {                                             \
        var = PyUnicode_InternFromString(text);      \
        if (var == NULL) {                           \
            return NULL;                             \
        }                                            \
    } while (0)

PyMODINIT_FUNC
PyInit__speedups(void)
{
    INTERN(s_stack, "stack");
    INTERN(s_spawned_by, "spawned_by");
    INTERN(s_is_task, "is_task");
    INTERN(s_id, "id");
    INTERN(s_registry, "registry");
    INTERN(s_lane_attr, "_racelane_lane");
    INTERN(s_tls_lane, "lane");
    INTERN(s_stats, "stats");
    INTERN(s_dropped, "dropped");
    INTERN(s_name, "name");
    INTERN(s_cat, "cat");
    INTERN(s_empty, "");
    s_one = PyLong_FromLong(1);
    if (s_one == NULL) {
        return NULL;
    }
    st.next_id = 1;
    if (PyType_Ready(&SpanType) < 0) {
        return NULL;
    }
    PyObject *module = PyModule_Create(&module_def);
    if (module == NULL) {
        return NULL;
    }
    if (PyModule_AddObjectRef(module, "Span", (PyObject *)&SpanType) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
