/* Columns of decoded JSON log records in one pass, without a Python loop per field.
 *
 * The records are msgspec structs already validated by their decoder; this pass only reads
 * their fields. Struct fields are member descriptors, so each field is read at its slot offset
 * (looked up once per call from the type, and checked to be an object slot), after checking
 * that every record is exactly of that type.
 *
 * Timestamps: RFC 3339 strings in UTC ("2026-03-02T11:59:30.250Z", "Z" only, any number of
 * fraction digits, truncated to microseconds) and epoch milliseconds (int or float) are
 * converted here; any other form is NaN and counted as slow, for the caller to parse (with
 * its own error text) value by value.
 *
 * Names: `plain` is true when every service and project name is non-empty printable ASCII,
 * which needs no cleaning; otherwise the caller cleans the name columns.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <structmember.h>

enum { F_TIMESTAMP, F_SERVICE, F_LEVEL, F_PROJECT, F_STATUS, F_DURATION, FIELDS };
static const char *const FIELD_NAMES[FIELDS] = {"timestamp", "service",     "level",
                                                "project",   "status_code", "duration_ms"};

static int digits(const char *s, int n, int *out) {
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return 0;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 1;
}

static int days_in_month(int year, int month) {
    static const int DAYS[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return DAYS[month - 1] + (month == 2 && leap);
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's civil algorithm). */
static int64_t days_from_civil(int64_t y, int m, int d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* "YYYY-MM-DDTHH:MM:SS[.f...]Z" to epoch seconds (as microseconds * 1e-6); 0 when the text is
 * not exactly that form or not a real date and time. */
static int utc_text(const char *s, Py_ssize_t n, double *out) {
    int year, month, day, hour, minute, second;
    if (n < 20 || s[n - 1] != 'Z' || s[4] != '-' || s[7] != '-' || s[10] != 'T' ||
        s[13] != ':' || s[16] != ':')
        return 0;
    if (!digits(s, 4, &year) || !digits(s + 5, 2, &month) || !digits(s + 8, 2, &day) ||
        !digits(s + 11, 2, &hour) || !digits(s + 14, 2, &minute) || !digits(s + 17, 2, &second))
        return 0;
    if (year < 1 || month < 1 || month > 12 || day < 1 || day > days_in_month(year, month) ||
        hour > 23 || minute > 59 || second > 59)
        return 0;
    int64_t micros = 0;
    if (n > 20) {
        if (s[19] != '.' || n == 21) return 0;
        int64_t scale = 100000;
        for (Py_ssize_t i = 20; i < n - 1; i++) {
            if (s[i] < '0' || s[i] > '9') return 0;
            if (scale > 0) {
                micros += (s[i] - '0') * scale;
                scale /= 10;
            }
        }
    }
    int64_t seconds = days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 +
                      second;
    *out = (double)(seconds * 1000000 + micros) * 1e-6;
    return 1;
}

/* Epoch seconds of one timestamp value; 0 when the caller must parse it. */
static int epoch_seconds(PyObject *value, double *out) {
    if (PyUnicode_CheckExact(value)) {
        if (!PyUnicode_IS_COMPACT_ASCII(value)) return 0;
        return utc_text((const char *)PyUnicode_DATA(value), PyUnicode_GET_LENGTH(value), out);
    }
    if (PyLong_CheckExact(value)) {
        double millis = PyLong_AsDouble(value);
        if (millis == -1.0 && PyErr_Occurred()) {
            PyErr_Clear(); /* too large for a double: the caller reports it */
            return 0;
        }
        *out = millis * 0.001;
        return 1;
    }
    if (PyFloat_CheckExact(value)) {
        double millis = PyFloat_AS_DOUBLE(value);
        if (!isfinite(millis)) return 0;
        *out = millis * 0.001;
        return 1;
    }
    return 0;
}

static int plain_name(PyObject *name) {
    if (!PyUnicode_CheckExact(name) || !PyUnicode_IS_COMPACT_ASCII(name)) return 0;
    Py_ssize_t n = PyUnicode_GET_LENGTH(name);
    const unsigned char *s = (const unsigned char *)PyUnicode_DATA(name);
    if (n == 0) return 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (s[i] < 0x20 || s[i] == 0x7f) return 0;
    }
    return 1;
}

/* The slot offset of each field of `type`; 0 (with an exception set) when a field is not an
 * object slot. */
static int field_offsets(PyTypeObject *type, Py_ssize_t offsets[FIELDS]) {
    for (int f = 0; f < FIELDS; f++) {
        const char *name = FIELD_NAMES[f];
        PyObject *descr = PyObject_GetAttrString((PyObject *)type, name);
        if (descr == NULL) return 0;
        int is_member = Py_IS_TYPE(descr, &PyMemberDescr_Type);
        PyMemberDef *member = is_member ? ((PyMemberDescrObject *)descr)->d_member : NULL;
        Py_DECREF(descr);
        if (member == NULL || (member->type != T_OBJECT_EX && member->type != T_OBJECT)) {
            PyErr_Format(PyExc_TypeError, "%s.%s is not an object slot", type->tp_name, name);
            return 0;
        }
        offsets[f] = member->offset;
    }
    return 1;
}

static PyObject *field(PyObject *record, Py_ssize_t offset) {
    return *(PyObject **)((char *)record + offset);
}

static PyObject *columns(PyObject *module, PyObject *args) {
    (void)module;
    PyObject *records, *error_levels;
    PyTypeObject *type;
    if (!PyArg_ParseTuple(args, "O!O!O!", &PyList_Type, &records, &PyType_Type, &type,
                          &PyFrozenSet_Type, &error_levels))
        return NULL;
    Py_ssize_t offsets[FIELDS];
    if (!field_offsets(type, offsets)) return NULL;
    Py_ssize_t n = PyList_GET_SIZE(records);
    PyObject *stamps = PyByteArray_FromStringAndSize(NULL, n * (Py_ssize_t)sizeof(double));
    PyObject *errors = PyByteArray_FromStringAndSize(NULL, n);
    PyObject *durations = PyByteArray_FromStringAndSize(NULL, n * (Py_ssize_t)sizeof(double));
    PyObject *projects = PyList_New(n);
    PyObject *services = PyList_New(n);
    PyObject *result = NULL;
    if (stamps == NULL || errors == NULL || durations == NULL || projects == NULL ||
        services == NULL)
        goto done;
    double *stamp_out = (double *)PyByteArray_AS_STRING(stamps);
    char *error_out = PyByteArray_AS_STRING(errors);
    double *duration_out = (double *)PyByteArray_AS_STRING(durations);
    Py_ssize_t slow = 0;
    int plain = 1;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *record = PyList_GET_ITEM(records, i);
        if (Py_TYPE(record) != type) {
            PyErr_Format(PyExc_TypeError, "record %zd is not a %s", i, type->tp_name);
            goto done;
        }
        PyObject *values[FIELDS];
        for (int f = 0; f < FIELDS; f++) {
            values[f] = field(record, offsets[f]);
            if (values[f] == NULL) {
                PyErr_Format(PyExc_AttributeError, "record %zd has no %s", i,
                             FIELD_NAMES[f]);
                goto done;
            }
        }
        if (!epoch_seconds(values[F_TIMESTAMP], &stamp_out[i])) {
            stamp_out[i] = NAN;
            slow++;
        }
        int is_error = PySet_Contains(error_levels, values[F_LEVEL]);
        if (is_error < 0) goto done;
        PyObject *status = values[F_STATUS];
        if (!is_error && status != Py_None) {
            long code = PyLong_AsLong(status);
            if (code == -1 && PyErr_Occurred()) goto done;
            is_error = code >= 500;
        }
        error_out[i] = (char)is_error;
        PyObject *duration = values[F_DURATION];
        if (duration == Py_None) {
            duration_out[i] = -1.0;
        } else {
            duration_out[i] = PyFloat_AsDouble(duration);
            if (duration_out[i] == -1.0 && PyErr_Occurred()) goto done;
        }
        plain = plain && plain_name(values[F_SERVICE]) && plain_name(values[F_PROJECT]);
        Py_INCREF(values[F_PROJECT]);
        PyList_SET_ITEM(projects, i, values[F_PROJECT]);
        Py_INCREF(values[F_SERVICE]);
        PyList_SET_ITEM(services, i, values[F_SERVICE]);
    }
    result = Py_BuildValue("(OOOOOnO)", stamps, errors, durations, projects, services, slow,
                           plain ? Py_True : Py_False);
done:
    Py_XDECREF(stamps);
    Py_XDECREF(errors);
    Py_XDECREF(durations);
    Py_XDECREF(projects);
    Py_XDECREF(services);
    return result;
}

static PyMethodDef methods[] = {
    {"columns", columns, METH_VARARGS,
     "columns(records, type, error_levels) -> (stamps, is_error, durations, projects, "
     "services, slow, plain)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "tracer_scan._records",
    .m_doc = "Columns of decoded JSON log records.",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC PyInit__records(void) { return PyModule_Create(&module); }
