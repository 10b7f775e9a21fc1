/*
 * racelane's optional row scanner: the rows of ``spans`` lines read in C.
 *
 * Same result as the numpy reader in _scan.py (``SpanScanner._read_numpy``),
 * which stays the reference implementation (and runs wherever this module was
 * not built, or with RACELANE_PURE=1). numpy reads a block with about a hundred
 * whole-array calls, whose fixed cost dominates the small reads of a follower;
 * here each line is read once, front to back, against the one layout the
 * recorder writes:
 *
 *     [[id,parent,lane,start_ns,end_ns,"name","cat",null],[...,["Type","message"]],...]
 *
 * A line is read or refused whole: at its first byte off that layout, or a
 * value out of its column's range, the rows read from it so far are dropped
 * and it is marked bad (the general path reads it and says what is wrong).
 * Left to Python: interning the strings (``SpanScanner.finish``), checking that
 * they are UTF-8 (when first interned), and parsing the rare errors with orjson
 * (only their extent is found here).
 *
 * No numpy headers are needed: the text and the line bounds come in through the
 * buffer protocol, the results go out as bytearrays that Python views with
 * ``np.frombuffer``. The GIL is released while scanning and hashing (a load
 * reads blocks in worker threads).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define INTEGERS 5          /* id, parent, lane, start_ns, end_ns */
#define MAX_DIGITS 19       /* 19 digits never overflow uint64; longer numbers take the general path */
/* The shortest row read here, with its comma: [1,0,1,5,9,"","",""]], (an error of three bytes, one
 * less than null: orjson refuses it later, but the row is in the table by then) */
#define MIN_ROW_BYTES 22
#define HASH_MUL UINT64_C(0x9E3779B97F4A7C15)

/* The int64 columns of the result, each ``capacity`` long (rows past ``rows`` unused). */
enum {
    COL_LINE,
    COL_ID,
    COL_PARENT,
    COL_LANE,
    COL_START,
    COL_END,
    COL_NAME_START,
    COL_NAME_END,
    COL_NAME_LENGTH,
    COL_NAME_HASH,
    COL_CAT_START,
    COL_CAT_END,
    COL_CAT_LENGTH,
    COL_CAT_HASH,
    N_COLUMNS
};

/* The byte columns: whether a name or category is short enough to be hashed (see hash_column). */
enum { FLAG_NAME_OK, FLAG_CAT_OK, N_FLAGS };

typedef struct {
    const unsigned char *text;
    Py_ssize_t size;
    uint64_t time_limit;    /* lane, start_ns and end_ns stay below */
    Py_ssize_t max_string;  /* longer names and categories are not hashed: not ok */
    int64_t *table;         /* N_COLUMNS columns of ``capacity`` */
    unsigned char *flags;   /* N_FLAGS columns of ``capacity`` */
    Py_ssize_t capacity;    /* at most this many rows: see row_capacity */
    Py_ssize_t rows;
    int64_t *errors;        /* (row, begin, end) of each row's error: text[begin:end] is its JSON */
    Py_ssize_t n_errors;
    Py_ssize_t errors_capacity;
    int no_memory;
} Scan;

/* The column ``col`` of the table. */
static inline int64_t *
column(Scan *s, int col)
{
    return s->table + (Py_ssize_t)col * s->capacity;
}

/* --- 8 bytes at a time (where 8 can be read: the scanner's text ends in padding) ---------------- */

#define ONES UINT64_C(0x0101010101010101)
#define HIGHS UINT64_C(0x8080808080808080)

static const uint64_t POWERS_OF_10[8] = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000};

/* The 8 bytes at ``at`` as a little-endian word. */
static inline uint64_t
load8(const unsigned char *at)
{
    uint64_t w;
    memcpy(&w, at, 8);
    return w;
}

/* Which byte of a word holds the lowest high bit set in ``mask`` (not 0). */
static inline int
first_byte(uint64_t mask)
{
#if defined(__GNUC__) || defined(__clang__)
    return __builtin_ctzll(mask) >> 3;
#else
    int k = 0;
    while (!(mask & 0x80)) {
        mask >>= 8;
        k++;
    }
    return k;
#endif
}

/* The value of the 8 digits of ``x``, as bytes 0 to 9, the first in the lowest byte (Lemire's SWAR
 * method, as _scan._integers). */
static inline uint64_t
eight_digits(uint64_t x)
{
    x = ((x * 2561) >> 8) & UINT64_C(0x00FF00FF00FF00FF);
    x = ((x * 6553601) >> 16) & UINT64_C(0x0000FFFF0000FFFF);
    return (x * UINT64_C(42949672960001)) >> 32;
}

/* The length of the run of digits at text[p] (counted no further than 20) and, in *value, its value
 * when it has at most 19 digits. */
static Py_ssize_t
digit_run(const Scan *s, Py_ssize_t p, uint64_t *value)
{
    const unsigned char *t = s->text;
    uint64_t v = 0;
    Py_ssize_t n = 0;
#if PY_LITTLE_ENDIAN
    for (; s->size - (p + n) >= 8 && n <= MAX_DIGITS; n += 8) {
        uint64_t x = load8(t + p + n) ^ (0x30 * ONES);  /* digits become bytes 0 to 9, all else 10 or more */
        /* the high bit of the bytes that are not digits (a carry only reaches bytes after them) */
        uint64_t other = ((x + 0x76 * ONES) | x) & HIGHS;
        if (other != 0) {
            int k = first_byte(other);
            if (k > 0) {
                v = v * POWERS_OF_10[k] + eight_digits(x << (64 - 8 * k));
            }
            *value = v;
            return n + k;
        }
        v = v * 100000000 + eight_digits(x);
    }
#endif
    for (; p + n < s->size && n <= MAX_DIGITS && (unsigned char)(t[p + n] - '0') <= 9; n++) {
        v = v * 10 + (uint64_t)(t[p + n] - '0');
    }
    *value = v;  /* wrapped past 19 digits, which are refused */
    return n;
}

/* Read a run of digits ending at a comma, from text[p]; return where the next field starts, or -1
 * for anything but a plain integer (a sign, a fraction, a leading zero, no digit, over 19 digits). */
static Py_ssize_t
read_integer(const Scan *s, Py_ssize_t p, Py_ssize_t end, uint64_t *value)
{
    Py_ssize_t digits = digit_run(s, p, value);
    if (digits < 1 || digits > MAX_DIGITS || (digits > 1 && s->text[p] == '0') || p + digits >= end
        || s->text[p + digits] != ',') {
        return -1;
    }
    return p + digits + 1;
}

/* Find the quote that closes the string opened before text[p]; -1 if the line ends first or a control
 * character comes first (not JSON). Escapes are not looked at: lines holding a backslash never reach
 * the scanner. */
static Py_ssize_t
string_end(const Scan *s, Py_ssize_t p, Py_ssize_t end)
{
    const unsigned char *t = s->text;
#if PY_LITTLE_ENDIAN
    for (; p < end && s->size - p >= 8; p += 8) {
        uint64_t w = load8(t + p), quotes = w ^ (0x22 * ONES);
        /* the high bit of each quote and control character (exact up to the first) */
        uint64_t found = ((quotes - ONES) & ~quotes & HIGHS) | ((w - 0x20 * ONES) & ~w & HIGHS);
        if (found != 0) {
            p += first_byte(found);
            return p < end && t[p] == '"' ? p : -1;
        }
    }
#endif
    for (; p < end; p++) {
        unsigned char c = t[p];
        if (c == '"') {
            return p;
        }
        if (c < 0x20) {
            return -1;
        }
    }
    return -1;
}

/* The error starting at text[p] (after its row's category and comma): return where it ends, or -1.
 *
 * It ends at the first closing quote followed by ``]]`` (the array's and the row's bracket). For an
 * array of strings, the one valid error, that is its last string. What comes before is left to
 * orjson, which refuses the row unless it is an array of strings (perhaps with spaces, as JSON
 * allows): the numpy reader hands orjson the same bytes. */
static Py_ssize_t
error_end(const Scan *s, Py_ssize_t p, Py_ssize_t end)
{
    const unsigned char *t = s->text;
    for (; p < end; p++) {
        unsigned char c = t[p];
        if (c < 0x20) {
            return -1;
        }
        if (c != '"') {
            continue;
        }
        p = string_end(s, p + 1, end);
        if (p < 0) {
            return -1;
        }
        if (p + 2 < end && t[p + 1] == ']' && t[p + 2] == ']') {
            return p + 1;
        }
    }
    return -1;
}

/* Note that row ``row``'s error is text[begin:end]; 0, or -1 when out of memory. */
static int
add_error(Scan *s, Py_ssize_t row, Py_ssize_t begin, Py_ssize_t end)
{
    if (s->n_errors == s->errors_capacity) {
        Py_ssize_t capacity = s->errors_capacity ? 2 * s->errors_capacity : 16;
        int64_t *grown = realloc(s->errors, (size_t)capacity * 3 * sizeof(int64_t));
        if (grown == NULL) {
            s->no_memory = 1;
            return -1;
        }
        s->errors = grown;
        s->errors_capacity = capacity;
    }
    int64_t *error = s->errors + 3 * s->n_errors++;
    error[0] = row;
    error[1] = begin;
    error[2] = end;
    return 0;
}

/* Read one row from text[p] (its first integer) and append it; return where the row ends (just past
 * its ``]``), or -1 when it is not exactly the layout or holds a value out of range. */
static Py_ssize_t
read_row(Scan *s, Py_ssize_t line, Py_ssize_t p, Py_ssize_t end)
{
    const unsigned char *t = s->text;
    Py_ssize_t r = s->rows;
    uint64_t v[INTEGERS];
    if (r == s->capacity) {
        return -1;  /* cannot happen (see row_capacity); refusing the line keeps the writes in bounds */
    }
    for (int j = 0; j < INTEGERS; j++) {
        p = read_integer(s, p, end, &v[j]);
        if (p < 0) {
            return -1;
        }
    }
    uint64_t lane = v[2], start_ns = v[3], end_ns = v[4];
    if (v[0] == 0 || lane >= s->time_limit || start_ns >= s->time_limit || end_ns >= s->time_limit
        || end_ns < start_ns) {
        return -1;
    }
    /* "name","cat", */
    if (p >= end || t[p] != '"') {
        return -1;
    }
    Py_ssize_t name_start = p + 1, name_end = string_end(s, name_start, end);
    if (name_end < 0 || name_end + 2 >= end || t[name_end + 1] != ',' || t[name_end + 2] != '"') {
        return -1;
    }
    Py_ssize_t cat_start = name_end + 3, cat_end = string_end(s, cat_start, end);
    if (cat_end < 0 || cat_end + 1 >= end || t[cat_end + 1] != ',') {
        return -1;
    }
    /* null], or the error and the row's ] */
    p = cat_end + 2;
    if (end - p >= 5 && memcmp(t + p, "null]", 5) == 0) {
        p += 5;
    }
    else {
        Py_ssize_t last = error_end(s, p, end);
        if (last < 0 || add_error(s, r, p, last + 1) < 0) {
            return -1;
        }
        p = last + 2;
    }
    column(s, COL_LINE)[r] = line;
    for (int j = 0; j < INTEGERS; j++) {
        column(s, COL_ID + j)[r] = (int64_t)v[j];
    }
    column(s, COL_NAME_START)[r] = name_start;
    column(s, COL_NAME_END)[r] = name_end;
    column(s, COL_NAME_LENGTH)[r] = name_end - name_start;
    column(s, COL_CAT_START)[r] = cat_start;
    column(s, COL_CAT_END)[r] = cat_end;
    column(s, COL_CAT_LENGTH)[r] = cat_end - cat_start;
    s->flags[FLAG_NAME_OK * s->capacity + r] = name_end - name_start <= s->max_string;
    s->flags[FLAG_CAT_OK * s->capacity + r] = cat_end - cat_start <= s->max_string;
    s->rows = r + 1;
    return p;
}

/* Read the rows of line ``line``, text[p:end]; 0, or -1 when the line is not exactly the layout (the
 * caller drops the rows read from it). */
static int
read_line(Scan *s, Py_ssize_t line, Py_ssize_t p, Py_ssize_t end)
{
    const unsigned char *t = s->text;
    if (end - p < 4 || t[p] != '[' || t[p + 1] != '[') {
        return -1;
    }
    p += 2;
    for (;;) {
        p = read_row(s, line, p, end);
        if (p < 0) {
            return -1;
        }
        if (p == end - 1 && t[p] == ']') {
            return 0;
        }
        if (end - p < 2 || t[p] != ',' || t[p + 1] != '[') {
            return -1;
        }
        p += 2;
    }
}

/* The little-endian word of the n (1 to 8) bytes at ``at``, zero-padded; ``room``: how many bytes
 * may be read from there (a whole word is loaded and masked when there is room). */
static inline uint64_t
load_word(const unsigned char *at, Py_ssize_t n, Py_ssize_t room)
{
    uint64_t w = 0;
#if PY_LITTLE_ENDIAN
    if (room >= 8) {
        memcpy(&w, at, 8);
        return n >= 8 ? w : w & ((UINT64_C(1) << (8 * n)) - 1);
    }
#else
    (void)room;
#endif
    for (Py_ssize_t i = n; i-- > 0;) {
        w = (w << 8) | at[i];
    }
    return w;
}

/* How many words the longest hashed string of a kind takes (at least 1): every string is hashed over
 * that many, as _scan.hash_strings does for a block, so that the hashes are the same bit for bit. */
static Py_ssize_t
word_count(Scan *s, int length_col)
{
    const int64_t *length = column(s, length_col);
    int64_t longest = 0;
    for (Py_ssize_t r = 0; r < s->rows; r++) {
        if (length[r] <= s->max_string && length[r] > longest) {
            longest = length[r];
        }
    }
    return longest > 0 ? (Py_ssize_t)(longest + 7) / 8 : 1;
}

/* Load and hash one kind of string (names or categories) of every row: words[r * count + k] is the
 * k-th word of row r's string, zero-padded (nothing of a string too long to be hashed), and the hash
 * is _scan.hash_strings's. */
static void
hash_column(Scan *s, int start_col, int length_col, int hash_col, Py_ssize_t count, uint64_t *words)
{
    const int64_t *start = column(s, start_col), *length = column(s, length_col);
    int64_t *hash = column(s, hash_col);
    for (Py_ssize_t r = 0; r < s->rows; r++) {
        int64_t n = length[r];
        int64_t loaded = n <= s->max_string ? n : 0;
        uint64_t h = (uint64_t)n;
        for (Py_ssize_t k = 0; k < count; k++) {
            int64_t left = loaded - 8 * k;
            uint64_t w = 0;
            if (left > 0) {
                Py_ssize_t at = (Py_ssize_t)start[r] + 8 * k;
                w = load_word(s->text + at, left < 8 ? (Py_ssize_t)left : 8, s->size - at);
            }
            words[r * count + k] = w;
            h ^= w;
            h *= HASH_MUL;
            h ^= h >> 29;
        }
        hash[r] = (int64_t)h;
    }
}

/* The most rows the lines can hold: a line of L bytes holds at most (L - 1) / MIN_ROW_BYTES (its
 * brackets, and per row at least MIN_ROW_BYTES with the comma after it, one fewer comma than rows).
 * -1 with an exception set when a bound is outside the text. */
static Py_ssize_t
row_capacity(const int64_t *starts, const int64_t *ends, Py_ssize_t lines, Py_ssize_t size)
{
    Py_ssize_t capacity = 0;
    for (Py_ssize_t i = 0; i < lines; i++) {
        if (starts[i] < 0 || starts[i] > ends[i] || ends[i] > size) {
            PyErr_Format(PyExc_ValueError, "line %zd spans bytes %lld:%lld of a text of %zd", i,
                         (long long)starts[i], (long long)ends[i], size);
            return -1;
        }
        if (ends[i] > starts[i]) {
            capacity += (Py_ssize_t)(ends[i] - starts[i] - 1) / MIN_ROW_BYTES;
        }
    }
    return capacity;
}

/* Read every line into the table; bad[i] is 1 for a line refused. Runs without the GIL. */
static void
read_lines(Scan *s, const int64_t *starts, const int64_t *ends, Py_ssize_t lines, unsigned char *bad)
{
    for (Py_ssize_t i = 0; i < lines; i++) {
        Py_ssize_t first_row = s->rows, first_error = s->n_errors;
        bad[i] = read_line(s, i, (Py_ssize_t)starts[i], (Py_ssize_t)ends[i]) < 0;
        if (bad[i]) {
            s->rows = first_row;
            s->n_errors = first_error;
        }
    }
}

/* A new bytearray of ``size`` bytes, its contents unset. */
static PyObject *
new_bytes(Py_ssize_t size, void **data)
{
    PyObject *bytes = PyByteArray_FromStringAndSize(NULL, size);
    if (bytes != NULL) {
        *data = PyByteArray_AS_STRING(bytes);
    }
    return bytes;
}

/* Hash the names and categories of the rows read (see hash_column) into new word arrays; 0, or -1
 * with an exception set. */
static int
hash_strings(Scan *s, PyObject **names, PyObject **cats)
{
    Py_ssize_t name_count = word_count(s, COL_NAME_LENGTH), cat_count = word_count(s, COL_CAT_LENGTH);
    void *name_words, *cat_words;
    *names = new_bytes(s->rows * name_count * (Py_ssize_t)sizeof(uint64_t), &name_words);
    *cats = *names == NULL ? NULL : new_bytes(s->rows * cat_count * (Py_ssize_t)sizeof(uint64_t), &cat_words);
    if (*cats == NULL) {
        Py_CLEAR(*names);
        return -1;
    }
    Py_BEGIN_ALLOW_THREADS
    hash_column(s, COL_NAME_START, COL_NAME_LENGTH, COL_NAME_HASH, name_count, name_words);
    hash_column(s, COL_CAT_START, COL_CAT_LENGTH, COL_CAT_HASH, cat_count, cat_words);
    Py_END_ALLOW_THREADS
    return 0;
}

/* The result of scan() once the lines are read into ``s`` (see module_methods). */
static PyObject *
scan_result(Scan *s, PyObject *bad, PyObject *table, PyObject *flags)
{
    PyObject *names, *cats;
    if (hash_strings(s, &names, &cats) < 0) {
        return NULL;
    }
    PyObject *errors = PyBytes_FromStringAndSize((const char *)s->errors,
                                                 s->n_errors * 3 * (Py_ssize_t)sizeof(int64_t));
    if (errors == NULL) {
        Py_DECREF(names);
        Py_DECREF(cats);
        return NULL;
    }
    return Py_BuildValue("(OnOONNN)", bad, s->rows, table, flags, errors, names, cats);
}

/* Read the lines text[starts[i]:ends[i]]: the work of scan() once its arguments are checked. */
static PyObject *
scan_lines(const Py_buffer *text, const int64_t *starts, const int64_t *ends, Py_ssize_t lines,
           uint64_t time_limit, Py_ssize_t max_string)
{
    Scan s = {.text = text->buf, .size = text->len, .time_limit = time_limit, .max_string = max_string};
    s.capacity = row_capacity(starts, ends, lines, text->len);
    if (s.capacity < 0) {
        return NULL;
    }
    void *bad_data, *table_data, *flags_data;
    PyObject *bad = new_bytes(lines, &bad_data);
    PyObject *table = bad == NULL ? NULL : new_bytes(N_COLUMNS * s.capacity * (Py_ssize_t)sizeof(int64_t), &table_data);
    PyObject *flags = table == NULL ? NULL : new_bytes(N_FLAGS * s.capacity, &flags_data);
    PyObject *result = NULL;
    if (flags != NULL) {
        s.table = table_data;
        s.flags = flags_data;
        Py_BEGIN_ALLOW_THREADS
        read_lines(&s, starts, ends, lines, bad_data);
        Py_END_ALLOW_THREADS
        result = s.no_memory ? PyErr_NoMemory() : scan_result(&s, bad, table, flags);
    }
    free(s.errors);
    Py_XDECREF(bad);
    Py_XDECREF(table);
    Py_XDECREF(flags);
    return result;
}

/* The line bounds as one int64 array, starts then ends (copied: a bytes-like object need not be
 * aligned for int64); NULL with an exception set when they are not two int64 arrays of one length. */
static int64_t *
copy_bounds(const Py_buffer *starts, const Py_buffer *ends, Py_ssize_t *lines)
{
    if (starts->len != ends->len || starts->len % (Py_ssize_t)sizeof(int64_t) != 0) {
        PyErr_SetString(PyExc_ValueError, "line starts and ends must be int64 arrays of one length");
        return NULL;
    }
    *lines = starts->len / (Py_ssize_t)sizeof(int64_t);
    int64_t *bounds = PyMem_Malloc(2 * (size_t)starts->len + 1);
    if (bounds == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    memcpy(bounds, starts->buf, (size_t)starts->len);
    memcpy(bounds + *lines, ends->buf, (size_t)ends->len);
    return bounds;
}

/* scan(text, starts, ends, time_limit, max_string): see module_methods. */
static PyObject *
scan_fn(PyObject *Py_UNUSED(module), PyObject *args)
{
    Py_buffer text, starts, ends;
    unsigned long long time_limit;
    Py_ssize_t max_string;
    if (!PyArg_ParseTuple(args, "y*y*y*Kn:scan", &text, &starts, &ends, &time_limit, &max_string)) {
        return NULL;
    }
    PyObject *result = NULL;
    Py_ssize_t lines = 0;
    int64_t *bounds = copy_bounds(&starts, &ends, &lines);
    if (bounds != NULL) {
        result = scan_lines(&text, bounds, bounds + lines, lines, time_limit, max_string);
        PyMem_Free(bounds);
    }
    PyBuffer_Release(&text);
    PyBuffer_Release(&starts);
    PyBuffer_Release(&ends);
    return result;
}

static PyMethodDef module_methods[] = {
    {"scan", scan_fn, METH_VARARGS,
     "scan(text, starts, ends, time_limit, max_string) -> (bad, rows, table, flags, errors, name_words, cat_words)\n"
     "\n"
     "Read the rows of the lines text[starts[i]:ends[i]] (starts, ends: int64 arrays). bad: a byte per\n"
     "line, 1 where the line was refused (its rows left out); rows: how many were read; table: int64\n"
     "columns of equal length (capacity >= rows), see the COL_ enum; flags: byte columns, whether each\n"
     "name and category is short enough to be hashed; errors: int64 (row, begin, end) triples; the\n"
     "word arrays: per row, the name's (category's) bytes as zero-padded little-endian words."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "tracer.analysis._scanrows",
    .m_doc = "The rows of spans lines read in C (optional; _scan.py's numpy reader is the reference).",
    .m_size = -1,
    .m_methods = module_methods,
};

PyMODINIT_FUNC
PyInit__scanrows(void)
{
    return PyModule_Create(&module_def);
}
