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
#include <math.h>
#include <stdint.h>
#include <string.h>
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
    vectorcallfunc vectorcall; /* calls with 0 arguments enter, with 3 exit (see SelfDescr) */
    PyObject *name;
    PyObject *cat;
    PyObject *attrs;  /* a dict, or the values matching ``keys`` (a tuple): see attrs_pair */
    PyObject *keys;   /* NULL when ``attrs`` is a dict (or NULL) */
    PyObject *lane;
    PyObject *atoken;
    PyObject *announced;
    unsigned long long id;     /* 0 until entered */
    unsigned long long parent;
    long long start_ns;
    long long lane_id;
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

/* The clock in ns; -1 with an exception set when a custom clock failed. */
static long long
now_ns(void)
{
    if (st.now != NULL) {
        PyObject *value = PyObject_CallNoArgs(st.now);
        if (value == NULL) {
            return -1;
        }
        long long ns = PyLong_AsLongLong(value);
        Py_DECREF(value);
        return ns;
    }
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* What a span needs of its lane: the last lane used is cached with its stack
 * list, id and kind, which never change. Only the lane is referenced (never a
 * greenlet, which must not be released from another thread). */
typedef struct {
    PyObject *lane;
    PyObject *stack;
    long long lane_id;
    int is_task;
    /* Whose lane it is, to skip the lookup when the same one asks again: a weak
     * reference to the greenlet (dead greenlets never match, and the greenlet is
     * never owned), or the thread state's id (never reused) in thread mode. */
    PyObject *owner_ref;
    uint64_t owner_thread;
} LaneEntry;

static LaneEntry cache;

static void
cache_clear(void)
{
    Py_CLEAR(cache.lane);
    Py_CLEAR(cache.stack);
    Py_CLEAR(cache.owner_ref);
    cache.owner_thread = 0;
}

/* A lane's id (an int) and whether it is an asyncio task's; -1 with an exception set. */
static int
lane_numbers(PyObject *lane, long long *lane_id, int *is_task)
{
    PyObject *value = PyObject_GetAttr(lane, s_id);
    if (value == NULL) {
        return -1;
    }
    *lane_id = PyLong_AsLongLong(value);
    Py_DECREF(value);
    if (*lane_id == -1 && PyErr_Occurred()) {
        return -1;
    }
    PyObject *flag = PyObject_GetAttr(lane, s_is_task);
    if (flag == NULL) {
        return -1;
    }
    *is_task = PyObject_IsTrue(flag);
    Py_DECREF(flag);
    return *is_task < 0 ? -1 : 0;
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
    long long lane_id = -1;
    int is_task = -1;
    if (stack != NULL && lane_numbers(lane, &lane_id, &is_task) < 0) {
        is_task = -1;
    }
    if (is_task < 0 || !PyList_Check(stack)) {
        if (is_task >= 0) {
            PyErr_SetString(PyExc_TypeError, "lane stack is not a list");
        }
        Py_DECREF(lane);
        Py_XDECREF(stack);
        return NULL;
    }
    PyObject *old_lane = cache.lane, *old_stack = cache.stack, *old_owner = cache.owner_ref;
    cache.lane = lane;
    cache.stack = stack;
    cache.lane_id = lane_id;
    cache.is_task = is_task;
    cache.owner_ref = NULL;
    cache.owner_thread = 0;
    /* Released last: a destructor may run Python code, which must find the cache whole. */
    Py_XDECREF(old_lane);
    Py_XDECREF(old_stack);
    Py_XDECREF(old_owner);
    return &cache;
}

/* Note whose lane the cache holds (see LaneEntry). */
static void
remember_owner(PyObject *glet, uint64_t thread)
{
    if (glet != NULL) {
        PyObject *ref = PyWeakref_NewRef(glet, NULL);
        if (ref == NULL) {
            PyErr_Clear(); /* not weak-referenceable: look it up every time */
        }
        Py_XSETREF(cache.owner_ref, ref);
    }
    else {
        cache.owner_thread = thread;
    }
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
            PyObject *lane, *glet = NULL;
            uint64_t thread = 0;
            if (st.getcurrent != NULL) {
                glet = PyObject_CallNoArgs(st.getcurrent);
                if (glet == NULL) {
                    return NULL;
                }
                if (cache.owner_ref != NULL && PyWeakref_GET_OBJECT(cache.owner_ref) == glet) {
                    Py_DECREF(glet);
                    return &cache;
                }
                lane = PyObject_GetAttr(glet, s_lane_attr);
            }
            else {
                thread = PyThreadState_GetID(PyThreadState_Get());
                if (cache.owner_thread == thread && cache.lane != NULL) {
                    return &cache;
                }
                lane = PyObject_GetAttr(st.tls, s_tls_lane);
            }
            LaneEntry *found = NULL;
            if (lane != NULL) {
                if (lane == cache.lane) { /* checked when it was cached */
                    Py_DECREF(lane);
                    found = &cache;
                }
                else {
                    PyObject *registry = PyObject_GetAttr(lane, s_registry);
                    if (registry != NULL) {
                        int ours = registry == st.registry;
                        Py_DECREF(registry);
                        if (ours) {
                            found = cache_fill(lane);
                            lane = NULL; /* stolen */
                        }
                    }
                    else {
                        PyErr_Clear();
                    }
                    Py_XDECREF(lane);
                }
                if (found != NULL) {
                    remember_owner(glet, thread);
                }
                Py_XDECREF(glet);
                if (found != NULL || PyErr_Occurred()) {
                    return found;
                }
            }
            else {
                Py_XDECREF(glet);
                if (!PyErr_ExceptionMatches(PyExc_AttributeError)) {
                    return NULL;
                }
                PyErr_Clear();
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

/* --- the finished-span buffer ------------------------------------------------
 *
 * A finished span is kept as a C struct, not as Python objects: no tuple and
 * no int objects are made per span, and the garbage collector never walks
 * the buffer. The flusher takes the whole buffer at once (take_spans), as a
 * SpanBatch, and serializes it with SpanBatch.dump. */

typedef struct {
    unsigned long long id;
    unsigned long long parent;
    long long lane_id;
    long long start_ns;
    long long end_ns;
    PyObject *name;  /* owned */
    PyObject *cat;   /* owned */
    PyObject *error; /* owned, NULL when the span ended without an exception */
    PyObject *attrs; /* owned, NULL when it has none; a dict, or a tuple of values for ``keys`` */
    PyObject *keys;  /* owned, NULL unless ``attrs`` is a tuple of values */
} Row;

typedef struct {
    Row *rows;
    Py_ssize_t len;
    Py_ssize_t cap;
    int woken; /* the flusher was woken for these rows: once is enough */
} RowBuffer;

static RowBuffer pending;

/* One emptied row array kept for the next batch: a batch's array is big enough
 * for malloc to map it afresh each time, and touching new pages costs more than
 * the spans written into them. */
static Row *spare_rows;
static Py_ssize_t spare_cap;
#define SPARE_ROWS_MAX 65536

static void
rows_release(Row *rows, Py_ssize_t len, Py_ssize_t cap)
{
    for (Py_ssize_t i = 0; i < len; i++) {
        Py_DECREF(rows[i].name);
        Py_DECREF(rows[i].cat);
        Py_XDECREF(rows[i].error);
        Py_XDECREF(rows[i].attrs);
        Py_XDECREF(rows[i].keys);
    }
    if (rows != NULL && spare_rows == NULL && cap <= SPARE_ROWS_MAX) {
        spare_rows = rows;
        spare_cap = cap;
    }
    else {
        PyMem_Free(rows);
    }
}

/* Forget every buffered span (a new recording, or a forked child's). */
static void
pending_discard(void)
{
    Row *rows = pending.rows;
    Py_ssize_t len = pending.len, cap = pending.cap;
    pending.rows = NULL;
    pending.len = pending.cap = 0;
    pending.woken = 0;
    rows_release(rows, len, cap); /* last: destructors may run Python code */
}

/* A free slot at the end of the buffer, or NULL (out of memory). */
static Row *
pending_slot(void)
{
    if (pending.rows == NULL && spare_rows != NULL) {
        pending.rows = spare_rows;
        pending.cap = spare_cap;
        spare_rows = NULL;
    }
    if (pending.len == pending.cap) {
        Py_ssize_t cap = pending.cap ? pending.cap * 2 : 1024;
        Row *grown = PyMem_Realloc(pending.rows, (size_t)cap * sizeof(Row));
        if (grown == NULL) {
            return NULL;
        }
        pending.rows = grown;
        pending.cap = cap;
    }
    return &pending.rows[pending.len];
}

/* --- Span ------------------------------------------------------------------ */

static PyObject *Span_vectorcall(PyObject *self, PyObject *const *args, size_t nargsf, PyObject *kwnames);

/* Attributes are kept as given to span(): the call's keyword names (a tuple the
 * code object owns, shared by every call) and a tuple of the values. A dict is
 * made only when someone asks for one (``s.attrs``, ``s.set``, the redactor):
 * most spans never need it, and a dict costs two allocations and a hash insert
 * per key, then an iteration to write it. */
static PyObject *
attrs_dict(PyObject *keys, PyObject *values)
{
    PyObject *dict = PyDict_New();
    if (dict == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(keys); i++) {
        if (PyDict_SetItem(dict, PyTuple_GET_ITEM(keys, i), PyTuple_GET_ITEM(values, i)) < 0) {
            Py_DECREF(dict);
            return NULL;
        }
    }
    return dict;
}

/* Turn ``*attrs``/``*keys`` into a dict (in place); -1 with an exception set. */
static int
attrs_materialize(PyObject **attrs, PyObject **keys)
{
    if (*keys == NULL) {
        if (*attrs == NULL) { /* a span without attributes gets its dict when asked */
            *attrs = PyDict_New();
            return *attrs == NULL ? -1 : 0;
        }
        return 0;
    }
    PyObject *dict = attrs_dict(*keys, *attrs);
    if (dict == NULL) {
        return -1;
    }
    Py_SETREF(*attrs, dict);
    Py_CLEAR(*keys);
    return 0;
}

static SpanObject *
span_new_raw(PyObject *name, PyObject *cat, PyObject *attrs)
{
    SpanObject *self = PyObject_GC_New(SpanObject, &SpanType);
    if (self == NULL) {
        Py_XDECREF(attrs);
        return NULL;
    }
    self->vectorcall = Span_vectorcall;
    self->name = Py_NewRef(name);
    self->cat = Py_NewRef(cat);
    self->attrs = attrs; /* stolen */
    self->keys = NULL;
    self->lane = NULL;
    self->atoken = NULL;
    self->announced = NULL;
    self->id = 0;
    self->parent = 0;
    self->start_ns = 0;
    self->lane_id = 0;
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
    Py_VISIT(self->keys);
    Py_VISIT(self->lane);
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
    Py_CLEAR(self->keys);
    Py_CLEAR(self->lane);
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

/* An id given as a Python int (a parent span's, a lane's spawner); -1 with an exception set. */
static int
as_id(PyObject *value, unsigned long long *out)
{
    if (value == NULL) {
        return -1;
    }
    *out = PyLong_AsUnsignedLongLong(value);
    Py_DECREF(value);
    return *out == (unsigned long long)-1 && PyErr_Occurred() ? -1 : 0;
}

static PyObject *
span_enter(SpanObject *self)
{
    LaneEntry *entry = current_lane();
    PyObject *stack = NULL;
    if (entry == NULL) {
        goto fail;
    }
    stack = Py_NewRef(entry->stack);
    int is_task = entry->is_task;
    self->lane_id = entry->lane_id;
    Py_XSETREF(self->lane, Py_NewRef(entry->lane)); /* entry is not used below: Python code may run */
    Py_ssize_t depth = PyList_GET_SIZE(stack);
    if (depth > 0) {
        PyObject *top = PyList_GET_ITEM(stack, depth - 1);
        if (Py_IS_TYPE(top, &SpanType) && ((SpanObject *)top)->id != 0) {
            self->parent = ((SpanObject *)top)->id;
        }
        else if (as_id(PyObject_GetAttr(top, s_id), &self->parent) < 0) {
            goto fail;
        }
    }
    else if (as_id(PyObject_GetAttr(self->lane, s_spawned_by), &self->parent) < 0) {
        goto fail;
    }
    self->id = st.next_id++;
    self->gen = st.gen;
    if (is_task) {
        PyObject *span_id = PyLong_FromUnsignedLongLong(self->id);
        PyObject *token = span_id == NULL ? NULL : PyObject_CallOneArg(st.async_set, span_id);
        Py_XDECREF(span_id);
        if (token == NULL) {
            goto fail;
        }
        Py_XSETREF(self->atoken, token);
    }
    self->start_ns = now_ns();
    if (self->start_ns == -1 && PyErr_Occurred()) {
        goto fail;
    }
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
span_exit(SpanObject *self, PyObject *exc_type, PyObject *exc)
{
    long long end = now_ns();
    PyObject *stack = NULL, *error = NULL;
    if (end == -1 && PyErr_Occurred()) {
        goto fail;
    }
    if (self->gen != st.gen || self->gen < 0 || self->lane == NULL) {
        if (call_forget(self) < 0) {
            return NULL;
        }
        Py_RETURN_FALSE;
    }
    int is_task = 0;
    if (cache.lane == self->lane) {
        stack = Py_NewRef(cache.stack);
        is_task = cache.is_task;
    }
    else {
        long long lane_id;
        stack = PyObject_GetAttr(self->lane, s_stack);
        if (stack == NULL || lane_numbers(self->lane, &lane_id, &is_task) < 0) {
            goto fail;
        }
    }
    Py_ssize_t depth = PyList_Check(stack) ? PyList_GET_SIZE(stack) : 0;
    if (depth > 0 && PyList_GET_ITEM(stack, depth - 1) == (PyObject *)self) {
        /* list.pop() without its call: the caller still holds a reference to self */
        Py_SET_SIZE(stack, depth - 1);
        Py_DECREF(self);
    }
    else if (call_forget(self) < 0) {
        Py_DECREF(stack);
        return NULL;
    }
    Py_CLEAR(stack);
    if (is_task && self->atoken != NULL) {
        PyObject *result = PyObject_CallOneArg(st.async_reset, self->atoken);
        if (result == NULL) {
            goto fail;
        }
        Py_DECREF(result);
    }
    if (st.rows == NULL) { /* not recording */
        Py_RETURN_FALSE;
    }
    if (exc_type != Py_None) {
        error = PyObject_CallFunctionObjArgs(st.error, exc_type, exc, NULL);
        if (error == NULL) {
            goto fail;
        }
    }
    /* From here to the end of the row, no Python code runs: no other thread
     * can take the buffer while a row is half written. */
    Py_ssize_t buffered = pending.len;
    Row *row = buffered < st.hard / 2 ? pending_slot() : NULL;
    if (row == NULL) {
        Py_XDECREF(error);
        count_drop();
        Py_RETURN_FALSE;
    }
    row->id = self->id;
    row->parent = self->parent;
    row->lane_id = self->lane_id;
    row->start_ns = self->start_ns;
    row->end_ns = end;
    row->name = Py_NewRef(self->name);
    row->cat = Py_NewRef(self->cat);
    row->error = error;
    PyObject *attrs = self->attrs;
    if (self->keys != NULL) {
        row->attrs = Py_NewRef(attrs);
        row->keys = Py_NewRef(self->keys);
    }
    else {
        row->attrs = attrs == NULL || (PyDict_CheckExact(attrs) && PyDict_GET_SIZE(attrs) == 0) ? NULL : Py_NewRef(attrs);
        row->keys = NULL;
    }
    pending.len = buffered + 1;
    if (buffered >= st.soft / 2 && st.wake != NULL && !pending.woken) {
        /* Once: the flusher takes every row when it runs, but it needs the
         * GIL, which this thread may hold for a few more milliseconds. */
        pending.woken = 1;
        PyObject *result = PyObject_CallNoArgs(st.wake);
        if (result == NULL) {
            goto fail;
        }
        Py_DECREF(result);
    }
    Py_RETURN_FALSE;
fail:
    Py_XDECREF(stack);
    if (swallow() < 0) {
        return NULL;
    }
    Py_RETURN_FALSE;
}

/* The ``with`` statement looks ``__enter__`` and ``__exit__`` up on the type
 * and binds them to the span: for methods that makes a bound-method object at
 * every ``with``, two per span. Here both are SelfDescr objects, whose
 * binding is the span itself; the span is callable, and a call with no
 * argument enters it while one with three (exc_type, exc, tb) exits it. So
 * ``s.__enter__()`` and ``s.__exit__(None, None, None)`` behave as methods do,
 * and ``Span.__enter__(s)`` works too. */
static PyObject *
Span_vectorcall(PyObject *self, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    if (kwnames == NULL || PyTuple_GET_SIZE(kwnames) == 0) {
        if (nargs == 0) {
            return span_enter((SpanObject *)self);
        }
        if (nargs == 3) {
            return span_exit((SpanObject *)self, args[0], args[1]);
        }
    }
    PyErr_SetString(PyExc_TypeError,
                    "a span is called by the with statement only: with no argument to enter it, "
                    "with (exc_type, exc, tb) to exit it");
    return NULL;
}

typedef struct {
    PyObject_HEAD
    int exits; /* 0: __enter__, 1: __exit__ */
} SelfDescrObject;

static PyObject *
SelfDescr_get(PyObject *descr, PyObject *obj, PyObject *Py_UNUSED(type))
{
    return Py_NewRef(obj == NULL || obj == Py_None ? descr : obj);
}

/* Span.__enter__(span) and Span.__exit__(span, exc_type, exc, tb) */
static PyObject *
SelfDescr_call(PyObject *descr, PyObject *args, PyObject *kwargs)
{
    int exits = ((SelfDescrObject *)descr)->exits;
    Py_ssize_t want = exits ? 4 : 1;
    if ((kwargs != NULL && PyDict_GET_SIZE(kwargs) != 0) || PyTuple_GET_SIZE(args) != want ||
        !PyObject_TypeCheck(PyTuple_GET_ITEM(args, 0), &SpanType)) {
        PyErr_Format(PyExc_TypeError, "Span.%s takes a span%s", exits ? "__exit__" : "__enter__",
                     exits ? " and (exc_type, exc, tb)" : "");
        return NULL;
    }
    SpanObject *self = (SpanObject *)PyTuple_GET_ITEM(args, 0);
    return exits ? span_exit(self, PyTuple_GET_ITEM(args, 1), PyTuple_GET_ITEM(args, 2)) : span_enter(self);
}

static PyTypeObject SelfDescrType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "tracer.record._speedups.SpanMethod",
    .tp_basicsize = sizeof(SelfDescrObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Span.__enter__ / Span.__exit__: bound to a span, the span itself.",
    .tp_descr_get = SelfDescr_get,
    .tp_call = SelfDescr_call,
};

static PyObject *
Span_set(SpanObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_Format(PyExc_TypeError, "set() takes 2 arguments (key, value), got %zd", nargs);
        return NULL;
    }
    if (attrs_materialize(&self->attrs, &self->keys) < 0) {
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
    if (attrs_materialize(&self->attrs, &self->keys) < 0) {
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
    if (self->gen != st.gen || self->gen < 0 || self->lane == NULL || self->id == 0 || st.handle_type == NULL) {
        Py_RETURN_NONE;
    }
    PyObject *span_id = PyLong_FromUnsignedLongLong(self->id);
    PyObject *lane_id = span_id == NULL ? NULL : PyLong_FromLongLong(self->lane_id);
    PyObject *handle = lane_id == NULL ? NULL : PyObject_CallFunctionObjArgs(st.handle_type, span_id, lane_id, NULL);
    Py_XDECREF(span_id);
    Py_XDECREF(lane_id);
    return handle;
}

/* id, parent and start_ns exist once the span was entered, as in the Python Span. */
static PyObject *
entered_field(SpanObject *self, const char *field, PyObject *value)
{
    if (self->id == 0) {
        Py_XDECREF(value);
        PyErr_Format(PyExc_AttributeError, "'Span' object has no attribute '%s' (it was never entered)", field);
        return NULL;
    }
    return value;
}

static PyObject *
Span_get_id(SpanObject *self, void *Py_UNUSED(closure))
{
    return entered_field(self, "id", PyLong_FromUnsignedLongLong(self->id));
}

static PyObject *
Span_get_parent(SpanObject *self, void *Py_UNUSED(closure))
{
    return entered_field(self, "parent", PyLong_FromUnsignedLongLong(self->parent));
}

static PyObject *
Span_get_start_ns(SpanObject *self, void *Py_UNUSED(closure))
{
    return entered_field(self, "start_ns", PyLong_FromLongLong(self->start_ns));
}

static PyObject *
Span_get_attrs(SpanObject *self, void *Py_UNUSED(closure))
{
    if (attrs_materialize(&self->attrs, &self->keys) < 0) {
        return NULL;
    }
    return Py_NewRef(self->attrs);
}

static int
Span_set_attrs(SpanObject *self, PyObject *value, void *Py_UNUSED(closure))
{
    Py_XSETREF(self->attrs, Py_XNewRef(value));
    Py_CLEAR(self->keys);
    return 0;
}

static PyMethodDef Span_methods[] = {
    {"set", (PyCFunction)(void (*)(void))Span_set, METH_FASTCALL,
     "set(key, value): set attribute key; the last value set before the span ends wins."},
    {"update", (PyCFunction)(void (*)(void))Span_update, METH_VARARGS | METH_KEYWORDS,
     "update(**attrs): set several attributes at once."},
    {NULL, NULL, 0, NULL},
};

static PyMemberDef Span_members[] = {
    {"name", T_OBJECT_EX, offsetof(SpanObject, name), 0, NULL},
    {"cat", T_OBJECT_EX, offsetof(SpanObject, cat), 0, NULL},
    {"lane", T_OBJECT_EX, offsetof(SpanObject, lane), 0, NULL},
    {"_atoken", T_OBJECT_EX, offsetof(SpanObject, atoken), 0, NULL},
    {"announced", T_OBJECT_EX, offsetof(SpanObject, announced), 0, NULL},
    {"gen", T_LONG, offsetof(SpanObject, gen), 0, NULL},
    {NULL, 0, 0, 0, NULL},
};

static PyGetSetDef Span_getset[] = {
    {"handle", (getter)Span_get_handle, NULL, "A handle to pass to another lane, or None when not recording.", NULL},
    {"id", (getter)Span_get_id, NULL, "The span id (once entered).", NULL},
    {"attrs", (getter)Span_get_attrs, (setter)Span_set_attrs, "The attributes (a dict).", NULL},
    {"parent", (getter)Span_get_parent, NULL, "The parent span id, 0 for none (once entered).", NULL},
    {"start_ns", (getter)Span_get_start_ns, NULL, "When the span was entered, in ns (once entered).", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject SpanType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "tracer.record._speedups.Span",
    .tp_basicsize = sizeof(SpanObject),
    .tp_dealloc = (destructor)Span_dealloc,
    .tp_vectorcall_offset = offsetof(SpanObject, vectorcall),
    .tp_call = PyVectorcall_Call,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_doc = "A timed stretch of work in one lane; use it as a context manager.",
    .tp_traverse = (traverseproc)Span_traverse,
    .tp_clear = (inquiry)Span_clear,
    .tp_methods = Span_methods,
    .tp_members = Span_members,
    .tp_getset = Span_getset,
    .tp_new = Span_tp_new,
};

/* Whether is_secret(key) says no (it then adds key to the safe keys); -1 on error. */
static int
learn_safe(PyObject *is_secret, PyObject *key)
{
    PyObject *verdict = PyObject_CallOneArg(is_secret, key);
    if (verdict == NULL) {
        return -1;
    }
    int secret = PyObject_IsTrue(verdict);
    Py_DECREF(verdict);
    return secret < 0 ? -1 : !secret;
}

/* 1 when the redactor must look at this attribute: a key not known to be safe,
 * a long string or one with '@' (a URL with credentials), or a value of another
 * type; else 0. The same test as the flusher's pure-Python fast path. */
static int
pair_unsafe(PyObject *key, PyObject *value, PyObject *safe, Py_ssize_t limit, PyObject *is_secret)
{
    int known = PySet_Contains(safe, key);
    if (known == 0 && is_secret != NULL && PyUnicode_CheckExact(key)) {
        Py_INCREF(key);
        Py_INCREF(value);
        known = learn_safe(is_secret, key);
        Py_DECREF(key);
        Py_DECREF(value);
    }
    if (known <= 0) {
        PyErr_Clear();
        return 1;
    }
    if (PyUnicode_CheckExact(value)) {
        return PyUnicode_GET_LENGTH(value) > limit ||
               PyUnicode_FindChar(value, '@', 0, PyUnicode_GET_LENGTH(value), 1) != -1;
    }
    return !(PyLong_CheckExact(value) || PyFloat_CheckExact(value) || PyBool_Check(value) || value == Py_None);
}

/* pair_unsafe for a whole attribute dict (not None), or for keys and their values. */
static int
attrs_unsafe(PyObject *attrs, PyObject *keys, PyObject *safe, Py_ssize_t limit, PyObject *is_secret)
{
    int unsafe = 0;
    Py_INCREF(attrs);
    if (keys != NULL) {
        Py_INCREF(keys);
        for (Py_ssize_t i = 0; !unsafe && i < PyTuple_GET_SIZE(keys); i++) {
            unsafe = pair_unsafe(PyTuple_GET_ITEM(keys, i), PyTuple_GET_ITEM(attrs, i), safe, limit, is_secret);
        }
        Py_DECREF(keys);
    }
    else if (!PyDict_CheckExact(attrs)) {
        unsafe = 1;
    }
    else {
        Py_ssize_t pos = 0;
        PyObject *key, *value;
        while (!unsafe && PyDict_Next(attrs, &pos, &key, &value)) {
            unsafe = pair_unsafe(key, value, safe, limit, is_secret);
        }
    }
    Py_DECREF(attrs);
    return unsafe;
}

/* Append the index i to the list ``found``; -1 with an exception set. */
static int
append_index(PyObject *found, Py_ssize_t i)
{
    PyObject *index = PyLong_FromSsize_t(i);
    int rc = index == NULL ? -1 : PyList_Append(found, index);
    Py_XDECREF(index);
    return rc;
}

/* A row's attributes as a dict (made from keys and values when so kept), or None. */
static PyObject *
row_attrs(Row *row)
{
    if (row->attrs == NULL) {
        Py_RETURN_NONE;
    }
    if (row->keys != NULL) {
        return attrs_dict(row->keys, row->attrs);
    }
    return Py_NewRef(row->attrs);
}

/* --- SpanBatch: buffered spans taken by the flusher ---------------------------- */

typedef struct {
    PyObject_HEAD
    Row *rows;
    Py_ssize_t len;
    Py_ssize_t cap;
} BatchObject;

static PyTypeObject BatchType;

static void
Batch_dealloc(BatchObject *self)
{
    Row *rows = self->rows;
    Py_ssize_t len = self->len, cap = self->cap;
    self->rows = NULL;
    self->len = self->cap = 0;
    rows_release(rows, len, cap);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static Py_ssize_t
Batch_length(BatchObject *self)
{
    return self->len;
}

static int
batch_range(BatchObject *self, Py_ssize_t start, Py_ssize_t stop)
{
    if (start < 0 || stop > self->len || start > stop) {
        PyErr_Format(PyExc_IndexError, "rows %zd:%zd out of a batch of %zd", start, stop, self->len);
        return -1;
    }
    return 0;
}

/* unsafe(safe_keys, limit, is_secret): the rows whose attributes the redactor must see. */
static PyObject *
Batch_unsafe(BatchObject *self, PyObject *args)
{
    PyObject *safe, *is_secret;
    Py_ssize_t limit;
    if (!PyArg_ParseTuple(args, "O!nO:unsafe", &PySet_Type, &safe, &limit, &is_secret)) {
        return NULL;
    }
    PyObject *found = PyList_New(0);
    if (found == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < self->len; i++) {
        Row *row = &self->rows[i];
        if (row->attrs == NULL) {
            continue;
        }
        if (attrs_unsafe(row->attrs, row->keys, safe, limit, is_secret) && append_index(found, i) < 0) {
            Py_DECREF(found);
            return NULL;
        }
    }
    return found;
}

static int
batch_index(BatchObject *self, Py_ssize_t i)
{
    if (i < 0 || i >= self->len) {
        PyErr_Format(PyExc_IndexError, "row %zd out of a batch of %zd", i, self->len);
        return -1;
    }
    return 0;
}

/* attrs_at(i): row i's attributes, or None. */
static PyObject *
Batch_attrs_at(BatchObject *self, PyObject *arg)
{
    Py_ssize_t i = PyLong_AsSsize_t(arg);
    if ((i == -1 && PyErr_Occurred()) || batch_index(self, i) < 0) {
        return NULL;
    }
    return row_attrs(&self->rows[i]);
}

/* set_attrs(i, attrs): replace row i's attributes (the redactor's cleaned copy). */
static PyObject *
Batch_set_attrs(BatchObject *self, PyObject *args)
{
    Py_ssize_t i;
    PyObject *attrs;
    if (!PyArg_ParseTuple(args, "nO:set_attrs", &i, &attrs) || batch_index(self, i) < 0) {
        return NULL;
    }
    Py_XSETREF(self->rows[i].attrs, attrs == Py_None ? NULL : Py_NewRef(attrs));
    Py_CLEAR(self->rows[i].keys);
    Py_RETURN_NONE;
}

/* A row's plain columns as a tuple, as the pure-Python hot path buffers them. */
static PyObject *
row_tuple(Row *r)
{
    return Py_BuildValue("(KKLLLOOO)", r->id, r->parent, r->lane_id, r->start_ns, r->end_ns, r->name, r->cat,
                         r->error != NULL ? r->error : Py_None);
}

/* A list of item(row) for the rows start:stop given in ``args`` (``format`` parses them). */
static PyObject *
batch_list(BatchObject *self, PyObject *args, const char *format, PyObject *(*item)(Row *))
{
    Py_ssize_t start, stop;
    if (!PyArg_ParseTuple(args, format, &start, &stop) || batch_range(self, start, stop) < 0) {
        return NULL;
    }
    PyObject *list = PyList_New(stop - start);
    if (list == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = start; i < stop; i++) {
        PyObject *value = item(&self->rows[i]);
        if (value == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, i - start, value);
    }
    return list;
}

/* attrs_range(start, stop): the attributes of rows start:stop (None for none). */
static PyObject *
Batch_attrs_range(BatchObject *self, PyObject *args)
{
    return batch_list(self, args, "nn:attrs_range", row_attrs);
}

/* rows(start, stop): the plain columns as tuples, as the pure-Python hot path buffers them. */
static PyObject *
Batch_rows(BatchObject *self, PyObject *args)
{
    return batch_list(self, args, "nn:rows", row_tuple);
}


/* --- JSON, the subset racelane writes ------------------------------------------
 *
 * Ints that fit 64 bits, finite floats, str, None, bools, and dicts (str keys),
 * lists and tuples of those are written here; anything else is handed to the
 * ``encode`` callable given to dump() (orjson.dumps with the recorder's default),
 * so every value is written exactly as the pure-Python flusher writes it, and
 * an error from ``encode`` propagates (the flusher then takes its general path). */

typedef struct {
    char *data;
    size_t len;
    size_t cap;
    PyObject *encode;
} Out;

static int out_grow(Out *out, size_t more);

static inline int
out_reserve(Out *out, size_t more)
{
    return out->len + more <= out->cap ? 0 : out_grow(out, more);
}

static int
out_grow(Out *out, size_t more)
{
    size_t cap = out->cap ? out->cap : 4096;
    while (cap < out->len + more) {
        cap *= 2;
    }
    char *grown = PyMem_Realloc(out->data, cap);
    if (grown == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    out->data = grown;
    out->cap = cap;
    return 0;
}

/* Inlined, so that literals are copied with their constant size. */
static inline __attribute__((always_inline)) int
out_write(Out *out, const char *text, size_t n)
{
    if (out_reserve(out, n) < 0) {
        return -1;
    }
    memcpy(out->data + out->len, text, n);
    out->len += n;
    return 0;
}

#define OUT_LITERAL(out, text) out_write((out), (text), sizeof(text) - 1)

static const char digit_pairs[] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

/* Write ``value`` (below 10**8) at ``at`` without leading zeros; return the end. */
static char *
put_small(char *at, uint32_t value)
{
    int n = value >= 10000 ? (value >= 1000000 ? (value >= 10000000 ? 8 : 7) : (value >= 100000 ? 6 : 5))
                           : (value >= 100 ? (value >= 1000 ? 4 : 3) : (value >= 10 ? 2 : 1));
    char *end = at + n, *p = end;
    while (value >= 100) {
        uint32_t idx = (value % 100) * 2;
        value /= 100;
        *--p = digit_pairs[idx + 1];
        *--p = digit_pairs[idx];
    }
    if (value >= 10) {
        *--p = digit_pairs[value * 2 + 1];
        *--p = digit_pairs[value * 2];
    }
    else {
        *--p = (char)('0' + value);
    }
    return end;
}

/* Write ``value`` (below 10**8) at ``at`` as exactly 8 digits; return the end. */
static char *
put_eight(char *at, uint32_t value)
{
    for (int i = 6; i >= 0; i -= 2) {
        uint32_t idx = (value % 100) * 2;
        value /= 100;
        at[i] = digit_pairs[idx];
        at[i + 1] = digit_pairs[idx + 1];
    }
    return at + 8;
}

/* Write ``value`` at ``at`` (20 bytes free at least); return the end. Works in
 * 8-digit pieces with 32-bit arithmetic: ids and times have 14 to 19 digits. */
static char *
put_unsigned(char *at, unsigned long long value)
{
    const unsigned long long e8 = 100000000ULL, e16 = e8 * e8;
    if (value < e8) {
        return put_small(at, (uint32_t)value);
    }
    if (value < e16) {
        at = put_small(at, (uint32_t)(value / e8));
        return put_eight(at, (uint32_t)(value % e8));
    }
    at = put_small(at, (uint32_t)(value / e16));
    value %= e16;
    at = put_eight(at, (uint32_t)(value / e8));
    return put_eight(at, (uint32_t)(value % e8));
}

/* Write ``value`` at ``at`` (21 bytes free at least); return the end. */
static char *
put_signed(char *at, long long value)
{
    if (value < 0) {
        *at++ = '-';
        return put_unsigned(at, 0ULL - (unsigned long long)value);
    }
    return put_unsigned(at, (unsigned long long)value);
}

/* Anything the fast writer does not cover: the ``encode`` callable's bytes. */
static int
out_encoded(Out *out, PyObject *value)
{
    PyObject *encoded = PyObject_CallOneArg(out->encode, value);
    if (encoded == NULL) {
        return -1;
    }
    if (!PyBytes_Check(encoded)) {
        Py_DECREF(encoded);
        PyErr_SetString(PyExc_TypeError, "encode() must return bytes");
        return -1;
    }
    int rc = out_write(out, PyBytes_AS_STRING(encoded), (size_t)PyBytes_GET_SIZE(encoded));
    Py_DECREF(encoded);
    return rc;
}

/* A str, escaped as orjson escapes it; other strings (lone surrogates) go to encode. */
static int
out_str(Out *out, PyObject *text)
{
    Py_ssize_t size;
    const char *utf8 = PyUnicode_AsUTF8AndSize(text, &size);
    if (utf8 == NULL) {
        PyErr_Clear();
        return out_encoded(out, text);
    }
    if (out_reserve(out, (size_t)size + 2) < 0) {
        return -1;
    }
    char *at = out->data + out->len;
    *at++ = '"';
    Py_ssize_t clean = 0;
    while (clean < size) {
        unsigned char c = (unsigned char)utf8[clean];
        if (c < 0x20 || c == '"' || c == '\\') {
            break;
        }
        at[clean++] = (char)c;
    }
    if (clean == size) { /* the usual case: nothing to escape */
        at[clean] = '"';
        out->len += (size_t)size + 2;
        return 0;
    }
    out->len++;
    Py_ssize_t done = 0;
    for (Py_ssize_t i = 0; i < size; i++) {
        unsigned char c = (unsigned char)utf8[i];
        if (c >= 0x20 && c != '"' && c != '\\') {
            continue;
        }
        if (out_write(out, utf8 + done, (size_t)(i - done)) < 0) {
            return -1;
        }
        done = i + 1;
        char escaped[8];
        size_t n = 2;
        switch (c) {
        case '"': memcpy(escaped, "\\\"", 2); break;
        case '\\': memcpy(escaped, "\\\\", 2); break;
        case '\n': memcpy(escaped, "\\n", 2); break;
        case '\r': memcpy(escaped, "\\r", 2); break;
        case '\t': memcpy(escaped, "\\t", 2); break;
        case '\b': memcpy(escaped, "\\b", 2); break;
        case '\f': memcpy(escaped, "\\f", 2); break;
        default: snprintf(escaped, sizeof(escaped), "\\u%04x", c); n = 6; break;
        }
        if (out_write(out, escaped, n) < 0) {
            return -1;
        }
    }
    if (out_write(out, utf8 + done, (size_t)(size - done)) < 0 || out_reserve(out, 1) < 0) {
        return -1;
    }
    out->data[out->len++] = '"';
    return 0;
}

static int out_value(Out *out, PyObject *value, int depth);

static int
out_dict(Out *out, PyObject *dict, int depth)
{
    size_t mark = out->len;
    if (OUT_LITERAL(out, "{") < 0) {
        return -1;
    }
    Py_ssize_t pos = 0;
    PyObject *key, *item;
    int first = 1;
    while (PyDict_Next(dict, &pos, &key, &item)) {
        if (!PyUnicode_CheckExact(key)) {
            out->len = mark; /* orjson says what is wrong with the key */
            return out_encoded(out, dict);
        }
        Py_INCREF(key);
        Py_INCREF(item);
        int rc = (first ? 0 : OUT_LITERAL(out, ",")) < 0 || out_str(out, key) < 0 || OUT_LITERAL(out, ":") < 0 ||
                 out_value(out, item, depth + 1) < 0;
        Py_DECREF(key);
        Py_DECREF(item);
        if (rc) {
            return -1;
        }
        first = 0;
    }
    return OUT_LITERAL(out, "}");
}

static int
out_sequence(Out *out, PyObject *seq, int depth)
{
    if (OUT_LITERAL(out, "[") < 0) {
        return -1;
    }
    for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(seq); i++) {
        PyObject *item = Py_NewRef(PySequence_Fast_GET_ITEM(seq, i));
        int rc = (i ? OUT_LITERAL(out, ",") : 0) < 0 || out_value(out, item, depth + 1) < 0;
        Py_DECREF(item);
        if (rc) {
            return -1;
        }
    }
    return OUT_LITERAL(out, "]");
}

static int
out_value(Out *out, PyObject *value, int depth)
{
    if (value == Py_None) {
        return OUT_LITERAL(out, "null");
    }
    if (value == Py_True) {
        return OUT_LITERAL(out, "true");
    }
    if (value == Py_False) {
        return OUT_LITERAL(out, "false");
    }
    if (depth > 32) { /* deep nesting: orjson applies its own limit */
        return out_encoded(out, value);
    }
    if (PyUnicode_CheckExact(value)) {
        return out_str(out, value);
    }
    if (PyLong_CheckExact(value)) {
        int overflow;
        long long number = PyLong_AsLongLongAndOverflow(value, &overflow);
        if (overflow == 0 && !(number == -1 && PyErr_Occurred())) {
            if (out_reserve(out, 21) < 0) {
                return -1;
            }
            out->len = (size_t)(put_signed(out->data + out->len, number) - out->data);
            return 0;
        }
        PyErr_Clear();
        return out_encoded(out, value); /* orjson writes up to 2**64 - 1 and refuses beyond */
    }
    if (PyFloat_CheckExact(value)) {
        double number = PyFloat_AS_DOUBLE(value);
        if (!isfinite(number)) {
            return OUT_LITERAL(out, "null"); /* as orjson does */
        }
        char *text = PyOS_double_to_string(number, 'r', 0, 0, NULL);
        if (text == NULL) {
            return -1;
        }
        int rc = out_write(out, text, strlen(text));
        PyMem_Free(text);
        return rc;
    }
    if (PyDict_CheckExact(value)) {
        return out_dict(out, value, depth);
    }
    if (PyList_CheckExact(value) || PyTuple_CheckExact(value)) {
        return out_sequence(out, value, depth);
    }
    return out_encoded(out, value);
}

/* An attribute object from keyword names and their values. */
static int
out_pairs(Out *out, PyObject *keys, PyObject *values)
{
    if (OUT_LITERAL(out, "{") < 0) {
        return -1;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(keys); i++) {
        if ((i > 0 && OUT_LITERAL(out, ",") < 0) || out_str(out, PyTuple_GET_ITEM(keys, i)) < 0 ||
            OUT_LITERAL(out, ":") < 0 || out_value(out, PyTuple_GET_ITEM(values, i), 1) < 0) {
            return -1;
        }
    }
    return OUT_LITERAL(out, "}");
}

/* The output buffer, kept between lines (NULL while a dump uses it). */
static char *spare_out;
static size_t spare_out_cap;
#define SPARE_OUT_MAX (4 << 20)

static void
out_release(Out *out)
{
    if (spare_out == NULL && out->cap <= SPARE_OUT_MAX) {
        spare_out = out->data;
        spare_out_cap = out->cap;
    }
    else {
        PyMem_Free(out->data);
    }
}

/* dump(start, stop, encode): the ``spans`` line (with its newline) of rows start:stop. */
static PyObject *
Batch_dump(BatchObject *self, PyObject *args)
{
    Py_ssize_t start, stop;
    PyObject *encode;
    if (!PyArg_ParseTuple(args, "nnO:dump", &start, &stop, &encode) || batch_range(self, start, stop) < 0) {
        return NULL;
    }
    Out out = {spare_out, 0, spare_out == NULL ? 0 : spare_out_cap, encode};
    spare_out = NULL;
    if (out_reserve(&out, 64 + (size_t)(stop - start) * 128) < 0 ||
        OUT_LITERAL(&out, "{\"type\":\"spans\",\"rows\":[") < 0) {
        goto fail;
    }
    for (Py_ssize_t i = start; i < stop; i++) {
        Row *r = &self->rows[i];
        if (out_reserve(&out, 128) < 0) { /* the numbers: 2 + 5 * 21 + 5 commas */
            goto fail;
        }
        char *p = out.data + out.len;
        if (i > start) {
            *p++ = ',';
        }
        *p++ = '[';
        p = put_unsigned(p, r->id);
        *p++ = ',';
        p = put_unsigned(p, r->parent);
        *p++ = ',';
        p = put_signed(p, r->lane_id);
        *p++ = ',';
        p = put_signed(p, r->start_ns);
        *p++ = ',';
        p = put_signed(p, r->end_ns);
        *p++ = ',';
        out.len = (size_t)(p - out.data);
        if (out_value(&out, r->name, 1) < 0 || OUT_LITERAL(&out, ",") < 0 || out_value(&out, r->cat, 1) < 0 ||
            (r->error == NULL ? OUT_LITERAL(&out, ",null]") < 0
                              : (OUT_LITERAL(&out, ",") < 0 || out_value(&out, r->error, 1) < 0 ||
                                 OUT_LITERAL(&out, "]") < 0))) {
            goto fail;
        }
    }
    if (OUT_LITERAL(&out, "],\"attrs\":[") < 0) {
        goto fail;
    }
    for (Py_ssize_t i = start; i < stop && i < self->len; i++) { /* a callback may run Python code */
        Row *row = &self->rows[i];
        if (i > start && OUT_LITERAL(&out, ",") < 0) {
            goto fail;
        }
        PyObject *item = Py_NewRef(row->attrs != NULL ? row->attrs : Py_None);
        PyObject *keys = Py_XNewRef(row->keys);
        int rc = keys != NULL ? out_pairs(&out, keys, item) : out_value(&out, item, 1);
        Py_DECREF(item);
        Py_XDECREF(keys);
        if (rc < 0) {
            goto fail;
        }
    }
    if (OUT_LITERAL(&out, "]}\n") < 0) {
        goto fail;
    }
    PyObject *line = PyBytes_FromStringAndSize(out.data, (Py_ssize_t)out.len);
    out_release(&out);
    return line;
fail:
    out_release(&out);
    return NULL;
}

static PyMethodDef Batch_methods[] = {
    {"unsafe", (PyCFunction)Batch_unsafe, METH_VARARGS,
     "unsafe(safe_keys, limit, is_secret): the rows whose attributes the redactor must see."},
    {"attrs_at", (PyCFunction)Batch_attrs_at, METH_O, "attrs_at(i): row i's attributes, or None."},
    {"set_attrs", (PyCFunction)Batch_set_attrs, METH_VARARGS, "set_attrs(i, attrs): replace row i's attributes."},
    {"attrs_range", (PyCFunction)Batch_attrs_range, METH_VARARGS,
     "attrs_range(start, stop): the attributes of rows start:stop (None for none)."},
    {"rows", (PyCFunction)Batch_rows, METH_VARARGS, "rows(start, stop): the plain columns as tuples."},
    {"dump", (PyCFunction)Batch_dump, METH_VARARGS,
     "dump(start, stop, encode): the spans line of rows start:stop, with its newline."},
    {NULL, NULL, 0, NULL},
};

static PySequenceMethods Batch_as_sequence = {
    .sq_length = (lenfunc)Batch_length,
};

static PyTypeObject BatchType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "tracer.record._speedups.SpanBatch",
    .tp_basicsize = sizeof(BatchObject),
    .tp_dealloc = (destructor)Batch_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Finished spans taken from the buffer by the flusher.",
    .tp_as_sequence = &Batch_as_sequence,
    .tp_methods = Batch_methods,
};

/* take_spans(): the buffered spans as a SpanBatch, or None; the buffer starts empty again. */
static PyObject *
take_spans_fn(PyObject *Py_UNUSED(module), PyObject *Py_UNUSED(ignored))
{
    if (pending.len == 0) {
        Py_RETURN_NONE;
    }
    BatchObject *batch = PyObject_New(BatchObject, &BatchType);
    if (batch == NULL) {
        return NULL;
    }
    batch->rows = pending.rows;
    batch->len = pending.len;
    batch->cap = pending.cap;
    pending.rows = NULL;
    pending.len = pending.cap = 0;
    pending.woken = 0;
    return (PyObject *)batch;
}

/* pending(): how many finished spans wait in the buffer. */
static PyObject *
pending_fn(PyObject *Py_UNUSED(module), PyObject *Py_UNUSED(ignored))
{
    return PyLong_FromSsize_t(pending.len);
}

/* --- module functions ---------------------------------------------------------- */

/* The attribute names of a call: its keyword names without name= and cat= (at
 * taken_at). Calls from one line of code pass the same kwnames tuple each time,
 * so the filtered tuple is cached by the tuple it came from (held, so that its
 * address is never reused while cached). */
#define NAMES_CACHE 32
static PyObject *names_from[NAMES_CACHE], *names_to[NAMES_CACHE];

static PyObject *
attribute_names(PyObject *kwnames, const Py_ssize_t taken_at[2])
{
    if (taken_at[0] < 0) {
        return Py_NewRef(kwnames);
    }
    size_t slot = ((uintptr_t)kwnames >> 4) % NAMES_CACHE;
    if (names_from[slot] == kwnames) {
        return Py_NewRef(names_to[slot]);
    }
    Py_ssize_t nkw = PyTuple_GET_SIZE(kwnames);
    PyObject *names = PyTuple_New(nkw - (taken_at[1] >= 0 ? 2 : 1));
    if (names == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = 0, k = 0; i < nkw; i++) {
        if (i != taken_at[0] && i != taken_at[1]) {
            PyTuple_SET_ITEM(names, k++, Py_NewRef(PyTuple_GET_ITEM(kwnames, i)));
        }
    }
    PyObject *old_from = names_from[slot], *old_to = names_to[slot];
    names_from[slot] = Py_NewRef(kwnames);
    names_to[slot] = Py_NewRef(names);
    Py_XDECREF(old_from);
    Py_XDECREF(old_to);
    return names;
}

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
    Py_ssize_t taken = 0, taken_at[2] = {-1, -1};
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
            taken_at[taken++] = i;
        }
    }
    if (name == NULL) {
        PyErr_SetString(PyExc_TypeError, "span() missing 1 required positional argument: 'name'");
        return NULL;
    }
    if (st.active == NULL) {
        return Py_NewRef(st.noop);
    }
    if (cat == NULL) {
        cat = s_empty;
    }
    PyObject *keys = NULL, *values = NULL;
    if (nkw > taken) {
        keys = attribute_names(kwnames, taken_at);
        values = keys == NULL ? NULL : PyTuple_New(nkw - taken);
        if (values == NULL) {
            Py_XDECREF(keys);
            return NULL;
        }
        int atomic = 1;
        for (Py_ssize_t i = 0, k = 0; i < nkw; i++) {
            if (i == taken_at[0] || i == taken_at[1]) {
                continue;
            }
            PyObject *value = args[nargs + i];
            PyTuple_SET_ITEM(values, k++, Py_NewRef(value));
            atomic &= PyLong_CheckExact(value) || PyUnicode_CheckExact(value) || PyFloat_CheckExact(value) ||
                      value == Py_None || PyBool_Check(value);
        }
        if (atomic) { /* it can be in no cycle: the garbage collector may skip it */
            PyObject_GC_UnTrack(values);
        }
    }
    SpanObject *span = span_new_raw(name, cat, values);
    if (span == NULL) {
        Py_XDECREF(keys);
        return NULL;
    }
    span->keys = keys;
    return (PyObject *)span;
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
    int new_buffer = (rows == Py_None ? NULL : rows) != st.rows;
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
    if (new_buffer) { /* core._rows was replaced: a new recording, or a forked child's */
        pending_discard();
    }
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

/* unsafe_rows(attrs_list, safe_keys, limit[, is_secret]): indexes of the attribute
 * dicts the redactor must look at (same test as the flusher's pure-Python fast
 * path). With is_secret, a key not yet known is judged on the spot, as the
 * pure-Python path learns it at its first row, instead of sending every row of
 * a recording's first batch to the redactor. */
static PyObject *
unsafe_rows_fn(PyObject *Py_UNUSED(module), PyObject *args)
{
    PyObject *attrs_list, *safe, *is_secret = NULL;
    Py_ssize_t limit;
    if (!PyArg_ParseTuple(args, "O!O!n|O:unsafe_rows", &PyList_Type, &attrs_list, &PySet_Type, &safe, &limit,
                          &is_secret)) {
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
        if (attrs_unsafe(attrs, NULL, safe, limit, is_secret) && append_index(found, i) < 0) {
            Py_DECREF(found);
            return NULL;
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
    {"take_spans", take_spans_fn, METH_NOARGS, "take_spans(): the buffered spans as a SpanBatch, or None."},
    {"pending", pending_fn, METH_NOARGS, "pending(): how many finished spans wait in the buffer."},
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
    if (PyType_Ready(&SpanType) < 0 || PyType_Ready(&SelfDescrType) < 0 || PyType_Ready(&BatchType) < 0) {
        return NULL;
    }
    for (int exits = 0; exits <= 1; exits++) {
        SelfDescrObject *descr = PyObject_New(SelfDescrObject, &SelfDescrType);
        if (descr == NULL) {
            return NULL;
        }
        descr->exits = exits;
        int rc = PyDict_SetItemString(SpanType.tp_dict, exits ? "__exit__" : "__enter__", (PyObject *)descr);
        Py_DECREF(descr);
        if (rc < 0) {
            return NULL;
        }
    }
    PyType_Modified(&SpanType);
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
