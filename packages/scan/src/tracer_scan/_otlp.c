/* One bounds-checked pass over an OTLP ExportLogsServiceRequest (protobuf wire format) that
 * returns the columns Tracer reads, without building a message object per record.
 *
 * Every read is checked against the end of its enclosing message. Anything this scanner does
 * not handle exactly like the reference decoder (truncation, varints over 64 bits, groups,
 * invalid wire types, a known field with an unexpected wire type, nesting deeper than
 * MAX_DEPTH) makes it return None, and the caller decodes the body with the reference decoder
 * instead. Invalid UTF-8 in any string field is not a refusal: it marks the smallest group of
 * records holding it (the record, its scope, or its resource) as bad text.
 *
 * Schema walked (field numbers of opentelemetry-proto 1.x):
 *   ExportLogsServiceRequest: 1 resource_logs
 *   ResourceLogs: 1 resource, 2 scope_logs, 3 schema_url
 *   Resource: 1 attributes, 2 dropped_attributes_count, 3 entity_refs
 *   EntityRef: 1 schema_url, 2 type, 3 id_keys, 4 description_keys
 *   ScopeLogs: 1 scope, 2 log_records, 3 schema_url
 *   InstrumentationScope: 1 name, 2 version, 3 attributes, 4 dropped_attributes_count
 *   LogRecord: 1 time_unix_nano, 2 severity_number, 3 severity_text, 5 body, 6 attributes,
 *              7 dropped_attributes_count, 8 flags, 9 trace_id, 10 span_id,
 *              11 observed_time_unix_nano, 12 event_name
 *   KeyValue: 1 key, 2 value, 3 key_strindex
 *   AnyValue: 1 string, 2 bool, 3 int, 4 double, 5 array, 6 kvlist, 7 bytes, 8 strindex
 *   ArrayValue / KeyValueList: 1 values
 * Other field numbers are unknown fields and skipped, as the reference decoder does.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 48 /* message nesting; the reference decoder allows more */

enum { OK = 0, REFUSE = -1, NO_MEMORY = -2 };

/* Record flags (one byte per record). */
enum {
    F_ERROR = 1,      /* severity, severity text or a numeric HTTP status says error */
    F_BAD_TEXT = 2,   /* invalid UTF-8 in the record, its scope or its resource */
    F_SLOW = 4,       /* an attribute Tracer reads holds a string: Python reads the record */
    F_BODY_TEXT = 8,  /* the body is a string (span columns 2-3) */
    F_BODY_OTHER = 16 /* the body is another kind: Python reads the record */
};

enum { K_NONE, K_STRING, K_BOOL, K_INT, K_DOUBLE, K_ARRAY, K_KVLIST, K_BYTES, K_STRINDEX };

typedef const uint8_t *Ptr;

typedef struct {
    int present; /* the key was seen (its value may still be empty) */
    int kind;
    Ptr text;
    size_t len;
    int64_t integer;
    double number;
} Any;

typedef struct {
    Ptr base;
    size_t limit;  /* records stored at most; more are validated and counted only */
    size_t count;  /* records seen */
    size_t cap;
    uint64_t *stamps;
    uint8_t *flags;
    double *durations;
    int64_t *spans; /* per record: record offset, length, body text offset, length */
    size_t resources, resource_cap;
    int64_t *resource_rows; /* RESOURCE_COLUMNS per resource holding stored records */
} Scan;

#define SPAN_COLUMNS 4
#define RESOURCE_COLUMNS 9

static Ptr varint(Ptr p, Ptr end, uint64_t *out) {
    uint64_t value = 0;
    for (int shift = 0; shift <= 63; shift += 7) {
        if (p >= end) return NULL;
        uint8_t byte = *p++;
        if (shift == 63 && byte > 1) return NULL; /* more than 64 bits */
        value |= (uint64_t)(byte & 0x7F) << shift;
        if (!(byte & 0x80)) {
            *out = value;
            return p;
        }
    }
    return NULL;
}

static Ptr read_tag(Ptr p, Ptr end, uint32_t *field, uint32_t *wire) {
    uint64_t tag;
    Ptr next = varint(p, end, &tag);
    if (next == NULL || next - p > 5 || tag > UINT32_MAX || (tag >> 3) == 0) return NULL;
    *field = (uint32_t)(tag >> 3);
    *wire = (uint32_t)(tag & 7);
    return next;
}

/* A length-delimited field's contents: returns their start, sets *sub_end. */
static Ptr delimited(Ptr p, Ptr end, Ptr *sub_end) {
    uint64_t length;
    p = varint(p, end, &length);
    if (p == NULL || length > (uint64_t)(end - p)) return NULL;
    *sub_end = p + length;
    return p;
}

static Ptr skip_field(Ptr p, Ptr end, uint32_t wire) {
    uint64_t ignored;
    Ptr sub_end;
    switch (wire) {
    case 0: return varint(p, end, &ignored);
    case 1: return end - p >= 8 ? p + 8 : NULL;
    case 2: return delimited(p, end, &sub_end) == NULL ? NULL : sub_end;
    case 5: return end - p >= 4 ? p + 4 : NULL;
    default: return NULL; /* groups (3, 4) and invalid wire types (6, 7) */
    }
}

static uint64_t fixed64(Ptr p) {
    uint64_t value = 0;
    for (int i = 7; i >= 0; i--) value = (value << 8) | p[i];
    return value;
}

/* Well-formed UTF-8 as protobuf requires it: no overlongs, surrogates or values past U+10FFFF. */
static int utf8_valid(Ptr s, size_t n) {
    size_t i = 0;
    while (i < n) {
        while (i + 8 <= n) {
            uint64_t word;
            memcpy(&word, s + i, 8);
            if (word & 0x8080808080808080ULL) break;
            i += 8;
        }
        if (i >= n) break;
        uint8_t c = s[i];
        if (c < 0x80) {
            i++;
        } else if (c < 0xC2) {
            return 0;
        } else if (c < 0xE0) {
            if (n - i < 2 || (s[i + 1] & 0xC0) != 0x80) return 0;
            i += 2;
        } else if (c < 0xF0) {
            if (n - i < 3 || (s[i + 1] & 0xC0) != 0x80 || (s[i + 2] & 0xC0) != 0x80) return 0;
            if (c == 0xE0 && s[i + 1] < 0xA0) return 0; /* overlong */
            if (c == 0xED && s[i + 1] > 0x9F) return 0; /* surrogate */
            i += 3;
        } else if (c < 0xF5) {
            if (n - i < 4 || (s[i + 1] & 0xC0) != 0x80 || (s[i + 2] & 0xC0) != 0x80 ||
                (s[i + 3] & 0xC0) != 0x80)
                return 0;
            if (c == 0xF0 && s[i + 1] < 0x90) return 0; /* overlong */
            if (c == 0xF4 && s[i + 1] > 0x8F) return 0; /* past U+10FFFF */
            i += 4;
        } else {
            return 0;
        }
    }
    return 1;
}

/* A string field: bounds-checked, UTF-8 checked (a bad one sets *bad, it is no refusal). */
static Ptr string_field(Ptr p, Ptr end, uint32_t wire, int *bad, Ptr *text, size_t *len) {
    Ptr sub_end;
    if (wire != 2) return NULL;
    p = delimited(p, end, &sub_end);
    if (p == NULL) return NULL;
    if (!utf8_valid(p, (size_t)(sub_end - p))) *bad = 1;
    if (text != NULL) {
        *text = p;
        *len = (size_t)(sub_end - p);
    }
    return sub_end;
}

static int parse_any(Ptr p, Ptr end, Any *value, int depth, int *bad);

static int parse_key_value(Ptr p, Ptr end, Ptr *key, size_t *key_len, Any *value, int depth,
                           int *bad) {
    uint32_t field, wire;
    Ptr sub_end;
    if (depth > MAX_DEPTH) return REFUSE;
    while (p < end) {
        if ((p = read_tag(p, end, &field, &wire)) == NULL) return REFUSE;
        if (field == 1) {
            p = string_field(p, end, wire, bad, key, key_len);
        } else if (field == 2) {
            if (wire != 2 || (p = delimited(p, end, &sub_end)) == NULL) return REFUSE;
            /* a repeated singular message merges into the first: keep filling the same value */
            int rc = parse_any(p, sub_end, value, depth + 1, bad);
            if (rc != OK) return rc;
            p = sub_end;
        } else if (field == 3) {
            uint64_t ignored;
            p = wire == 0 ? varint(p, end, &ignored) : NULL;
        } else {
            p = skip_field(p, end, wire);
        }
        if (p == NULL) return REFUSE;
    }
    return OK;
}

/* ArrayValue and KeyValueList: field 1 repeated, of AnyValue or KeyValue. */
static int parse_values(Ptr p, Ptr end, int pairs, int depth, int *bad) {
    uint32_t field, wire;
    Ptr sub_end;
    if (depth > MAX_DEPTH) return REFUSE;
    while (p < end) {
        if ((p = read_tag(p, end, &field, &wire)) == NULL) return REFUSE;
        if (field == 1) {
            if (wire != 2 || (p = delimited(p, end, &sub_end)) == NULL) return REFUSE;
            Any item = {0};
            Ptr key = NULL;
            size_t key_len = 0;
            int rc = pairs ? parse_key_value(p, sub_end, &key, &key_len, &item, depth + 1, bad)
                           : parse_any(p, sub_end, &item, depth + 1, bad);
            if (rc != OK) return rc;
            p = sub_end;
        } else if ((p = skip_field(p, end, wire)) == NULL) {
            return REFUSE;
        }
    }
    return OK;
}

/* An AnyValue; the last member of the oneof seen wins, as when the reference decoder merges. */
static int parse_any(Ptr p, Ptr end, Any *value, int depth, int *bad) {
    uint32_t field, wire;
    uint64_t number = 0;
    Ptr sub_end;
    int rc;
    if (depth > MAX_DEPTH) return REFUSE;
    while (p < end) {
        if ((p = read_tag(p, end, &field, &wire)) == NULL) return REFUSE;
        switch (field) {
        case 1:
            p = string_field(p, end, wire, bad, &value->text, &value->len);
            value->kind = K_STRING;
            break;
        case 2:
        case 3:
        case 8:
            p = wire == 0 ? varint(p, end, &number) : NULL;
            value->kind = field == 2 ? K_BOOL : field == 3 ? K_INT : K_STRINDEX;
            value->integer = (int64_t)number;
            break;
        case 4:
            if (wire != 1 || end - p < 8) return REFUSE;
            number = fixed64(p);
            memcpy(&value->number, &number, 8);
            value->kind = K_DOUBLE;
            p += 8;
            break;
        case 5:
        case 6:
            if (wire != 2 || (p = delimited(p, end, &sub_end)) == NULL) return REFUSE;
            rc = parse_values(p, sub_end, field == 6, depth + 1, bad);
            if (rc != OK) return rc;
            value->kind = field == 5 ? K_ARRAY : K_KVLIST;
            p = sub_end;
            break;
        case 7:
            p = wire == 2 && delimited(p, end, &sub_end) != NULL ? sub_end : NULL;
            value->kind = K_BYTES;
            break;
        default:
            p = skip_field(p, end, wire);
        }
        if (p == NULL) return REFUSE;
    }
    return OK;
}

/* Repeated KeyValue fields: each pair whose key is one of `keys` replaces that key's value
 * (the last pair of a key wins, as in a dict built from the list). */
static Ptr attribute(Ptr p, Ptr end, uint32_t wire, const char *const *keys, Any *found,
                     int count, int depth, int *bad, int *rc) {
    Ptr sub_end, key = NULL;
    size_t key_len = 0;
    Any value = {0};
    if (wire != 2 || (p = delimited(p, end, &sub_end)) == NULL) {
        *rc = REFUSE;
        return NULL;
    }
    *rc = parse_key_value(p, sub_end, &key, &key_len, &value, depth, bad);
    if (*rc != OK) return NULL;
    for (int i = 0; i < count; i++) {
        if (key_len == strlen(keys[i]) && (key_len == 0 || memcmp(key, keys[i], key_len) == 0)) {
            found[i] = value;
            found[i].present = 1;
            break;
        }
    }
    return sub_end;
}

static const char *const RECORD_KEYS[] = {
    "http.response.status_code", "http.status_code", "duration_ms",
    "http.server.request.duration",
};
static const char *const RESOURCE_KEYS[] = {"service.name", "tracer.project",
                                            "service.namespace"};
static const char *const ERROR_TEXTS[] = {"error", "err",   "fatal",    "critical",
                                          "crit",  "alert", "emergency"};

/* Severity text naming an error, compared as Python's str.lower() would: no non-ASCII
 * character lowers to a letter of these words (the Kelvin sign lowers to "k", in none). */
static int error_text(Ptr text, size_t len) {
    char lowered[16];
    if (text == NULL || len == 0 || len >= sizeof lowered) return 0;
    for (size_t i = 0; i < len; i++) {
        uint8_t c = text[i];
        lowered[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
    for (size_t i = 0; i < sizeof ERROR_TEXTS / sizeof *ERROR_TEXTS; i++)
        if (strlen(ERROR_TEXTS[i]) == len && memcmp(lowered, ERROR_TEXTS[i], len) == 0) return 1;
    return 0;
}

static int as_number(const Any *value, double *out) {
    if (!value->present) return 0;
    if (value->kind == K_INT) {
        *out = (double)value->integer;
        return 1;
    }
    if (value->kind == K_DOUBLE) {
        *out = value->number;
        return 1;
    }
    return 0;
}

static int grow_records(Scan *s) {
    size_t cap = s->cap ? s->cap * 2 : 1024;
    if (cap > s->limit) cap = s->limit;
    uint64_t *stamps = realloc(s->stamps, cap * sizeof *stamps);
    if (stamps == NULL) return NO_MEMORY;
    s->stamps = stamps;
    uint8_t *flags = realloc(s->flags, cap);
    if (flags == NULL) return NO_MEMORY;
    s->flags = flags;
    double *durations = realloc(s->durations, cap * sizeof *durations);
    if (durations == NULL) return NO_MEMORY;
    s->durations = durations;
    int64_t *spans = realloc(s->spans, cap * SPAN_COLUMNS * sizeof *spans);
    if (spans == NULL) return NO_MEMORY;
    s->spans = spans;
    s->cap = cap;
    return OK;
}

static int parse_record(Scan *s, Ptr start, Ptr end, int depth) {
    uint32_t field, wire;
    uint64_t number = 0, time = 0, observed = 0;
    int32_t severity = 0;
    Ptr p = start, severity_text = NULL, sub_end;
    size_t severity_len = 0;
    Any body = {0}, found[4] = {{0}};
    int bad = 0, rc;
    if (depth > MAX_DEPTH) return REFUSE;
    while (p < end) {
        if ((p = read_tag(p, end, &field, &wire)) == NULL) return REFUSE;
        switch (field) {
        case 1:
        case 11:
            if (wire != 1 || end - p < 8) return REFUSE;
            *(field == 1 ? &time : &observed) = fixed64(p);
            p += 8;
            break;
        case 2:
            p = wire == 0 ? varint(p, end, &number) : NULL;
            severity = (int32_t)(uint32_t)number; /* an int32 enum keeps the low 32 bits */
            break;
        case 3:
            p = string_field(p, end, wire, &bad, &severity_text, &severity_len);
            break;
        case 5:
            if (wire != 2 || (p = delimited(p, end, &sub_end)) == NULL) return REFUSE;
            body.present = 1;
            if ((rc = parse_any(p, sub_end, &body, depth + 1, &bad)) != OK) return rc;
            p = sub_end;
            break;
        case 6:
            p = attribute(p, end, wire, RECORD_KEYS, found, 4, depth + 1, &bad, &rc);
            if (p == NULL) return rc;
            break;
        case 7:
            p = wire == 0 ? varint(p, end, &number) : NULL;
            break;
        case 8:
            p = wire == 5 && end - p >= 4 ? p + 4 : NULL;
            break;
        case 9:
        case 10:
            p = wire == 2 && delimited(p, end, &sub_end) != NULL ? sub_end : NULL;
            break;
        case 12:
            p = string_field(p, end, wire, &bad, NULL, NULL);
            break;
        default:
            p = skip_field(p, end, wire);
        }
        if (p == NULL) return REFUSE;
    }
    size_t row = s->count++;
    if (row >= s->limit) return OK; /* over the limit: counted, not kept */
    if (row == s->cap && (rc = grow_records(s)) != OK) return rc;

    uint8_t flags = bad ? F_BAD_TEXT : 0;
    if (severity >= 17 || (severity == 0 && error_text(severity_text, severity_len)))
        flags |= F_ERROR;
    double duration = -1.0;
    int strings = 0;
    for (int i = 0; i < 4; i++) strings |= found[i].present && found[i].kind == K_STRING;
    if (strings) {
        flags |= F_SLOW; /* numbers written as strings: parsed the way Python's float() does */
    } else {
        double value;
        if (!(flags & F_ERROR)) {
            for (int i = 0; i < 2; i++) {
                if (as_number(&found[i], &value)) {
                    if (value >= 500.0 && value <= 999.0) flags |= F_ERROR;
                    break;
                }
            }
        }
        int have = as_number(&found[2], &value);
        if (!have && as_number(&found[3], &value)) {
            value *= 1000.0; /* seconds */
            have = 1;
        }
        if (have && value >= 0.0 && value <= 1e12) duration = value; /* also no NaN */
    }
    int64_t *span = s->spans + row * SPAN_COLUMNS;
    span[0] = start - s->base;
    span[1] = end - start;
    span[2] = span[3] = 0;
    if (body.kind == K_STRING) {
        flags |= F_BODY_TEXT;
        span[2] = body.text - s->base;
        span[3] = (int64_t)body.len;
    } else if (body.kind != K_NONE) {
        flags |= F_BODY_OTHER;
    }
    s->stamps[row] = time ? time : observed;
    s->flags[row] = flags;
    s->durations[row] = duration;
    return OK;
}

static void mark_bad(Scan *s, size_t first) {
    size_t stop = s->count < s->limit ? s->count : s->limit;
    for (size_t row = first; row < stop; row++) s->flags[row] |= F_BAD_TEXT;
}

static int parse_scope(Ptr p, Ptr end, int depth, int *bad) {
    uint32_t field, wire;
    uint64_t ignored;
    int rc;
    if (depth > MAX_DEPTH) return REFUSE;
    while (p < end) {
        if ((p = read_tag(p, end, &field, &wire)) == NULL) return REFUSE;
        if (field == 1 || field == 2) {
            p = string_field(p, end, wire, bad, NULL, NULL);
        } else if (field == 3) {
            p = attribute(p, end, wire, NULL, NULL, 0, depth + 1, bad, &rc);
            if (p == NULL) return rc;
        } else if (field == 4) {
            p = wire == 0 ? varint(p, end, &ignored) : NULL;
        } else {
            p = skip_field(p, end, wire);
        }
        if (p == NULL) return REFUSE;
    }
    return OK;
}

static int parse_scope_logs(Scan *s, Ptr p, Ptr end, int depth) {
    uint32_t field, wire;
    Ptr sub_end;
    size_t first = s->count;
    int bad = 0, rc;
    if (depth > MAX_DEPTH) return REFUSE;
    while (p < end) {
        if ((p = read_tag(p, end, &field, &wire)) == NULL) return REFUSE;
        if (field == 1 || field == 2) {
            if (wire != 2 || (p = delimited(p, end, &sub_end)) == NULL) return REFUSE;
            rc = field == 1 ? parse_scope(p, sub_end, depth + 1, &bad)
                            : parse_record(s, p, sub_end, depth + 1);
            if (rc != OK) return rc;
            p = sub_end;
        } else if (field == 3) {
            p = string_field(p, end, wire, &bad, NULL, NULL);
        } else {
            p = skip_field(p, end, wire);
        }
        if (p == NULL) return REFUSE;
    }
    if (bad) mark_bad(s, first);
    return OK;
}

static int parse_entity_ref(Ptr p, Ptr end, int depth, int *bad) {
    uint32_t field, wire;
    if (depth > MAX_DEPTH) return REFUSE;
    while (p < end) {
        if ((p = read_tag(p, end, &field, &wire)) == NULL) return REFUSE;
        if (field >= 1 && field <= 4)
            p = string_field(p, end, wire, bad, NULL, NULL);
        else
            p = skip_field(p, end, wire);
        if (p == NULL) return REFUSE;
    }
    return OK;
}

static int parse_resource(Ptr p, Ptr end, Any *names, int depth, int *bad) {
    uint32_t field, wire;
    uint64_t ignored;
    Ptr sub_end;
    int rc;
    if (depth > MAX_DEPTH) return REFUSE;
    while (p < end) {
        if ((p = read_tag(p, end, &field, &wire)) == NULL) return REFUSE;
        if (field == 1) {
            p = attribute(p, end, wire, RESOURCE_KEYS, names, 3, depth + 1, bad, &rc);
            if (p == NULL) return rc;
        } else if (field == 2) {
            p = wire == 0 ? varint(p, end, &ignored) : NULL;
        } else if (field == 3) {
            if (wire != 2 || (p = delimited(p, end, &sub_end)) == NULL) return REFUSE;
            if ((rc = parse_entity_ref(p, sub_end, depth + 1, bad)) != OK) return rc;
            p = sub_end;
        } else {
            p = skip_field(p, end, wire);
        }
        if (p == NULL) return REFUSE;
    }
    return OK;
}

static int parse_resource_logs(Scan *s, Ptr p, Ptr end, int depth) {
    uint32_t field, wire;
    Ptr sub_end;
    size_t first = s->count;
    Any names[3] = {{0}};
    int bad = 0, rc;
    if (depth > MAX_DEPTH) return REFUSE;
    while (p < end) {
        if ((p = read_tag(p, end, &field, &wire)) == NULL) return REFUSE;
        if (field == 1 || field == 2) {
            if (wire != 2 || (p = delimited(p, end, &sub_end)) == NULL) return REFUSE;
            /* a second `resource` merges into the first: the attribute list continues */
            rc = field == 1 ? parse_resource(p, sub_end, names, depth + 1, &bad)
                            : parse_scope_logs(s, p, sub_end, depth + 1);
            if (rc != OK) return rc;
            p = sub_end;
        } else if (field == 3) {
            p = string_field(p, end, wire, &bad, NULL, NULL);
        } else {
            p = skip_field(p, end, wire);
        }
        if (p == NULL) return REFUSE;
    }
    if (bad) mark_bad(s, first);
    size_t stop = s->count < s->limit ? s->count : s->limit;
    if (stop <= first) return OK; /* no stored record to name */
    if (s->resources == s->resource_cap) {
        size_t cap = s->resource_cap ? s->resource_cap * 2 : 16;
        int64_t *rows = realloc(s->resource_rows, cap * RESOURCE_COLUMNS * sizeof *rows);
        if (rows == NULL) return NO_MEMORY;
        s->resource_rows = rows;
        s->resource_cap = cap;
    }
    int64_t *row = s->resource_rows + s->resources++ * RESOURCE_COLUMNS;
    row[0] = (int64_t)first;
    row[1] = (int64_t)(stop - first);
    for (int i = 0; i < 3; i++) {
        int text = names[i].present && names[i].kind == K_STRING;
        row[2 + 2 * i] = text ? names[i].text - s->base : -1;
        row[3 + 2 * i] = text ? (int64_t)names[i].len : 0;
    }
    row[8] = bad;
    return OK;
}

static int parse_request(Scan *s, Ptr p, Ptr end) {
    uint32_t field, wire;
    Ptr sub_end;
    int rc;
    while (p < end) {
        if ((p = read_tag(p, end, &field, &wire)) == NULL) return REFUSE;
        if (field == 1) {
            if (wire != 2 || (p = delimited(p, end, &sub_end)) == NULL) return REFUSE;
            if ((rc = parse_resource_logs(s, p, sub_end, 1)) != OK) return rc;
            p = sub_end;
        } else if ((p = skip_field(p, end, wire)) == NULL) {
            return REFUSE;
        }
    }
    return OK;
}

static void release(Scan *s) {
    free(s->stamps);
    free(s->flags);
    free(s->durations);
    free(s->spans);
    free(s->resource_rows);
}

static PyObject *scan(PyObject *module, PyObject *args) {
    Py_buffer view;
    Py_ssize_t limit;
    (void)module;
    if (!PyArg_ParseTuple(args, "y*n:scan", &view, &limit)) return NULL;
    if (limit < 0) {
        PyBuffer_Release(&view);
        PyErr_SetString(PyExc_ValueError, "max_records must be >= 0");
        return NULL;
    }
    Scan s = {0};
    s.base = view.buf;
    s.limit = (size_t)limit;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = parse_request(&s, s.base, s.base + view.len);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&view);
    if (rc != OK) {
        release(&s);
        if (rc == NO_MEMORY) return PyErr_NoMemory();
        Py_RETURN_NONE;
    }
    size_t rows = s.count < s.limit ? s.count : s.limit;
    PyObject *stamps = PyBytes_FromStringAndSize((const char *)s.stamps, rows * 8);
    PyObject *flags = PyBytes_FromStringAndSize((const char *)s.flags, rows);
    PyObject *durations = PyBytes_FromStringAndSize((const char *)s.durations, rows * 8);
    PyObject *spans =
        PyBytes_FromStringAndSize((const char *)s.spans, rows * SPAN_COLUMNS * 8);
    PyObject *resources = PyBytes_FromStringAndSize((const char *)s.resource_rows,
                                                    s.resources * RESOURCE_COLUMNS * 8);
    release(&s);
    PyObject *result = NULL;
    if (stamps && flags && durations && spans && resources)
        result = Py_BuildValue("(nOOOOO)", (Py_ssize_t)s.count, stamps, flags, durations, spans,
                               resources);
    Py_XDECREF(stamps);
    Py_XDECREF(flags);
    Py_XDECREF(durations);
    Py_XDECREF(spans);
    Py_XDECREF(resources);
    return result;
}

static PyMethodDef methods[] = {
    {"scan", scan, METH_VARARGS,
     "scan(body, max_records) -> (received, stamps, flags, durations, spans, resources) | None"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "tracer_scan._otlp",
    .m_doc = "Bounds-checked OTLP logs wire scanner.",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC PyInit__otlp(void) {
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) return NULL;
    if (PyModule_AddIntConstant(m, "ERROR", F_ERROR) < 0 ||
        PyModule_AddIntConstant(m, "BAD_TEXT", F_BAD_TEXT) < 0 ||
        PyModule_AddIntConstant(m, "SLOW", F_SLOW) < 0 ||
        PyModule_AddIntConstant(m, "BODY_TEXT", F_BODY_TEXT) < 0 ||
        PyModule_AddIntConstant(m, "BODY_OTHER", F_BODY_OTHER) < 0 ||
        PyModule_AddIntConstant(m, "SPAN_COLUMNS", SPAN_COLUMNS) < 0 ||
        PyModule_AddIntConstant(m, "RESOURCE_COLUMNS", RESOURCE_COLUMNS) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
