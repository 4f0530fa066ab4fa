/* dp_json: the strict parser and the typed field readers of request bodies. */
#include <string.h>
#include <stdlib.h>
#include <errno.h>
#include <math.h>
#include <apr_strings.h>
#include <apr_hash.h>

#include "dp_json.h"
#include "dp_util.h"

/* ------------------------------------------------------------------------------------------ */
/* strict parser */

typedef struct {
    const char *s;
    apr_size_t len, pos;
    apr_pool_t *scratch;
    const char *err;
} jp_t;

static void jp_ws(jp_t *j)
{
    while (j->pos < j->len) {
        char c = j->s[j->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
            break;
        }
        ++j->pos;
    }
}

static json_object *jp_value(jp_t *j, int depth);

static int jp_hex4(jp_t *j, unsigned *out)
{
    unsigned v = 0;
    int i;

    if (j->pos + 4 > j->len) {
        return 0;
    }
    for (i = 0; i < 4; ++i) {
        char c = j->s[j->pos + (apr_size_t)i];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
        else return 0;
    }
    j->pos += 4;
    *out = v;
    return 1;
}

static void put_utf8(char *buf, apr_size_t *o, unsigned long cp)
{
    if (cp < 0x80) {
        buf[(*o)++] = (char)cp;
    }
    else if (cp < 0x800) {
        buf[(*o)++] = (char)(0xc0 | (cp >> 6));
        buf[(*o)++] = (char)(0x80 | (cp & 0x3f));
    }
    else if (cp < 0x10000) {
        buf[(*o)++] = (char)(0xe0 | (cp >> 12));
        buf[(*o)++] = (char)(0x80 | ((cp >> 6) & 0x3f));
        buf[(*o)++] = (char)(0x80 | (cp & 0x3f));
    }
    else {
        buf[(*o)++] = (char)(0xf0 | (cp >> 18));
        buf[(*o)++] = (char)(0x80 | ((cp >> 12) & 0x3f));
        buf[(*o)++] = (char)(0x80 | ((cp >> 6) & 0x3f));
        buf[(*o)++] = (char)(0x80 | (cp & 0x3f));
    }
}

/* Reads a string at j->pos (on the opening quote) into scratch memory. */
static char *jp_string(jp_t *j, apr_size_t *plen)
{
    apr_size_t start = ++j->pos, o = 0;
    char *buf;

    /* the decoded string is never longer than the raw one */
    while (j->pos < j->len && j->s[j->pos] != '"') {
        j->pos += (j->s[j->pos] == '\\') ? 2 : 1;
    }
    if (j->pos >= j->len) {
        j->err = "unterminated string";
        return NULL;
    }
    buf = apr_palloc(j->scratch, j->pos - start + 1);
    j->pos = start;
    while (j->s[j->pos] != '"') {
        unsigned char c = (unsigned char)j->s[j->pos];
        if (c < 0x20) {
            j->err = "control character in string";
            return NULL;
        }
        if (c == '\\') {
            char e = j->s[++j->pos];
            ++j->pos;
            switch (e) {
            case '"': buf[o++] = '"'; break;
            case '\\': buf[o++] = '\\'; break;
            case '/': buf[o++] = '/'; break;
            case 'b': buf[o++] = '\b'; break;
            case 'f': buf[o++] = '\f'; break;
            case 'n': buf[o++] = '\n'; break;
            case 'r': buf[o++] = '\r'; break;
            case 't': buf[o++] = '\t'; break;
            case 'u': {
                unsigned hi, lo;
                unsigned long cp;
                if (!jp_hex4(j, &hi)) {
                    j->err = "bad \\u escape";
                    return NULL;
                }
                cp = hi;
                if (hi >= 0xd800 && hi <= 0xdbff) {
                    if (j->pos + 2 > j->len || j->s[j->pos] != '\\' || j->s[j->pos + 1] != 'u') {
                        j->err = "unpaired surrogate";
                        return NULL;
                    }
                    j->pos += 2;
                    if (!jp_hex4(j, &lo) || lo < 0xdc00 || lo > 0xdfff) {
                        j->err = "unpaired surrogate";
                        return NULL;
                    }
                    cp = 0x10000 + (((unsigned long)hi - 0xd800) << 10) + (lo - 0xdc00);
                }
                else if (hi >= 0xdc00 && hi <= 0xdfff) {
                    j->err = "unpaired surrogate";
                    return NULL;
                }
                if (cp == 0) {
                    j->err = "NUL character in string";
                    return NULL;
                }
                put_utf8(buf, &o, cp);
                break;
            }
            default:
                j->err = "bad escape";
                return NULL;
            }
            continue;
        }
        buf[o++] = (char)c;
        ++j->pos;
    }
    ++j->pos; /* closing quote */
    if (!dp_utf8_valid(buf, o)) {
        j->err = "invalid UTF-8 in string";
        return NULL;
    }
    buf[o] = '\0';
    *plen = o;
    return buf;
}

static json_object *jp_number(jp_t *j)
{
    apr_size_t start = j->pos;
    int is_int = 1;
    char tmp[64];
    apr_size_t n;

    if (j->pos < j->len && j->s[j->pos] == '-') ++j->pos;
    if (j->pos >= j->len || !(j->s[j->pos] >= '0' && j->s[j->pos] <= '9')) {
        j->err = "bad number";
        return NULL;
    }
    if (j->s[j->pos] == '0') {
        ++j->pos;
    }
    else {
        while (j->pos < j->len && j->s[j->pos] >= '0' && j->s[j->pos] <= '9') ++j->pos;
    }
    if (j->pos < j->len && j->s[j->pos] == '.') {
        is_int = 0;
        ++j->pos;
        if (j->pos >= j->len || !(j->s[j->pos] >= '0' && j->s[j->pos] <= '9')) {
            j->err = "bad number";
            return NULL;
        }
        while (j->pos < j->len && j->s[j->pos] >= '0' && j->s[j->pos] <= '9') ++j->pos;
    }
    if (j->pos < j->len && (j->s[j->pos] == 'e' || j->s[j->pos] == 'E')) {
        is_int = 0;
        ++j->pos;
        if (j->pos < j->len && (j->s[j->pos] == '+' || j->s[j->pos] == '-')) ++j->pos;
        if (j->pos >= j->len || !(j->s[j->pos] >= '0' && j->s[j->pos] <= '9')) {
            j->err = "bad number";
            return NULL;
        }
        while (j->pos < j->len && j->s[j->pos] >= '0' && j->s[j->pos] <= '9') ++j->pos;
    }
    n = j->pos - start;
    if (n >= sizeof(tmp)) {
        j->err = "number too long";
        return NULL;
    }
    memcpy(tmp, j->s + start, n);
    tmp[n] = '\0';
    errno = 0;
    if (is_int) {
        long long v = strtoll(tmp, NULL, 10);
        if (errno == 0) {
            return json_object_new_int64((int64_t)v);
        }
    }
    {
        double d = strtod(tmp, NULL);
        if (!isfinite(d)) {
            j->err = "number out of range";
            return NULL;
        }
        return json_object_new_double(d);
    }
}

static int jp_lit(jp_t *j, const char *lit)
{
    apr_size_t n = strlen(lit);
    if (j->pos + n <= j->len && !memcmp(j->s + j->pos, lit, n)) {
        j->pos += n;
        return 1;
    }
    return 0;
}

static json_object *jp_container(jp_t *j, int depth, int is_obj)
{
    json_object *c = is_obj ? json_object_new_object() : json_object_new_array();
    apr_hash_t *keys = is_obj ? apr_hash_make(j->scratch) : NULL;
    char close = is_obj ? '}' : ']';

    ++j->pos;
    jp_ws(j);
    if (j->pos < j->len && j->s[j->pos] == close) {
        ++j->pos;
        return c;
    }
    for (;;) {
        json_object *v;
        char *key = NULL;
        apr_size_t klen = 0;

        jp_ws(j);
        if (is_obj) {
            if (j->pos >= j->len || j->s[j->pos] != '"') {
                j->err = "expected a member name";
                goto fail;
            }
            if ((key = jp_string(j, &klen)) == NULL) {
                goto fail;
            }
            if (apr_hash_get(keys, key, (apr_ssize_t)klen)) {
                j->err = apr_psprintf(j->scratch, "duplicate member \"%.64s\"", key);
                goto fail;
            }
            apr_hash_set(keys, key, (apr_ssize_t)klen, "");
            jp_ws(j);
            if (j->pos >= j->len || j->s[j->pos] != ':') {
                j->err = "expected ':'";
                goto fail;
            }
            ++j->pos;
        }
        v = jp_value(j, depth + 1);
        if (j->err) {
            goto fail;
        }
        if (is_obj) {
            json_object_object_add_ex(c, key, v, 0);
        }
        else {
            json_object_array_add(c, v);
        }
        jp_ws(j);
        if (j->pos < j->len && j->s[j->pos] == ',') {
            ++j->pos;
            continue;
        }
        if (j->pos < j->len && j->s[j->pos] == close) {
            ++j->pos;
            return c;
        }
        j->err = is_obj ? "expected ',' or '}'" : "expected ',' or ']'";
        goto fail;
    }
fail:
    json_object_put(c);
    return NULL;
}

static json_object *jp_value(jp_t *j, int depth)
{
    char c;

    if (depth > DP_JSON_MAX_DEPTH) {
        j->err = "nested too deeply";
        return NULL;
    }
    jp_ws(j);
    if (j->pos >= j->len) {
        j->err = "unexpected end of input";
        return NULL;
    }
    c = j->s[j->pos];
    if (c == '{' || c == '[') {
        return jp_container(j, depth, c == '{');
    }
    if (c == '"') {
        apr_size_t n = 0;
        char *s = jp_string(j, &n);
        return s ? json_object_new_string_len(s, (int)n) : NULL;
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
        return jp_number(j);
    }
    if (jp_lit(j, "true")) return json_object_new_boolean(1);
    if (jp_lit(j, "false")) return json_object_new_boolean(0);
    if (jp_lit(j, "null")) return NULL;
    j->err = "unexpected character";
    return NULL;
}

/* Parses len bytes strictly into a value owned by p. */
apr_status_t dp_json_parse(json_object **pobj, dp_problem_t **pprob, apr_pool_t *p,
                           const char *data, apr_size_t len)
{
    jp_t j;
    json_object *v;
    apr_size_t i, line = 1, col = 1;
    apr_status_t rv = APR_SUCCESS;

    memset(&j, 0, sizeof(j));
    j.s = data;
    j.len = len;
    apr_pool_create(&j.scratch, p);
    v = jp_value(&j, 1);
    if (!j.err) {
        jp_ws(&j);
        if (j.pos != j.len) {
            j.err = "trailing data after the JSON value";
        }
    }
    if (j.err) {
        json_object_put(v);
        for (i = 0; i < j.pos && i < len; ++i) {
            if (data[i] == '\n') {
                ++line;
                col = 1;
            }
            else {
                ++col;
            }
        }
        rv = dp_problem_fail(pprob, p, 400, "malformed_json",
                             "the body is not valid JSON: %s at line %lu, column %lu (byte %lu)",
                             j.err, (unsigned long)line, (unsigned long)col, (unsigned long)j.pos);
        *pobj = NULL;
    }
    else {
        *pobj = dp_json_own(p, v);
    }
    apr_pool_destroy(j.scratch);
    return rv;
}

/* ------------------------------------------------------------------------------------------ */
/* field readers */

static const char *type_name(json_object *v)
{
    switch (json_object_get_type(v)) {
    case json_type_null: return "null";
    case json_type_boolean: return "a boolean";
    case json_type_double: return "a number";
    case json_type_int: return "an integer";
    case json_type_object: return "an object";
    case json_type_array: return "an array";
    case json_type_string: return "a string";
    }
    return "something else";
}

static apr_status_t field_missing(dp_problem_t **pprob, apr_pool_t *p, const char *key)
{
    return dp_problem_fail(pprob, p, 400, "missing_field", "the field '%s' is required", key);
}

/* Reads string field key (1..maxlen bytes, no control characters). */
apr_status_t dp_json_field_str(const char **pval, dp_problem_t **pprob, apr_pool_t *p,
                               json_object *o, const char *key, int required, apr_size_t maxlen)
{
    json_object *v = dp_json_get(o, key);
    const char *s;
    apr_size_t n, i;

    if (v == NULL) {
        return required ? field_missing(pprob, p, key) : APR_SUCCESS;
    }
    if (!json_object_is_type(v, json_type_string)) {
        return dp_problem_fail(pprob, p, 400, "wrong_type", "the field '%s' must be a string, not %s",
                               key, type_name(v));
    }
    s = json_object_get_string(v);
    n = (apr_size_t)json_object_get_string_len(v);
    if (n == 0 && required) {
        return dp_problem_fail(pprob, p, 422, "invalid_value", "the field '%s' must not be empty", key);
    }
    if (n > maxlen) {
        return dp_problem_fail(pprob, p, 422, "invalid_value",
                               "the field '%s' is longer than %lu bytes", key, (unsigned long)maxlen);
    }
    for (i = 0; i < n; ++i) {
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) {
            return dp_problem_fail(pprob, p, 422, "invalid_value",
                                   "the field '%s' contains a control character", key);
        }
    }
    *pval = apr_pstrmemdup(p, s, n);
    return APR_SUCCESS;
}

/* Reads integer field key in [min,max]. */
apr_status_t dp_json_field_int(apr_int64_t *pval, dp_problem_t **pprob, apr_pool_t *p,
                               json_object *o, const char *key, int required,
                               apr_int64_t min, apr_int64_t max)
{
    json_object *v = dp_json_get(o, key);
    apr_int64_t n;

    if (v == NULL) {
        return required ? field_missing(pprob, p, key) : APR_SUCCESS;
    }
    if (json_object_is_type(v, json_type_double)) {
        return dp_problem_fail(pprob, p, 422, "invalid_value",
                               "the field '%s' must be a whole number between %" APR_INT64_T_FMT
                               " and %" APR_INT64_T_FMT, key, min, max);
    }
    if (!json_object_is_type(v, json_type_int)) {
        return dp_problem_fail(pprob, p, 400, "wrong_type", "the field '%s' must be a number, not %s",
                               key, type_name(v));
    }
    n = (apr_int64_t)json_object_get_int64(v);
    if (n < min || n > max) {
        return dp_problem_fail(pprob, p, 422, "invalid_value",
                               "the field '%s' must be between %" APR_INT64_T_FMT " and %"
                               APR_INT64_T_FMT, key, min, max);
    }
    *pval = n;
    return APR_SUCCESS;
}

/* Reads boolean field key. */
apr_status_t dp_json_field_bool(int *pval, dp_problem_t **pprob, apr_pool_t *p,
                                json_object *o, const char *key, int required)
{
    json_object *v = dp_json_get(o, key);

    if (v == NULL) {
        return required ? field_missing(pprob, p, key) : APR_SUCCESS;
    }
    if (!json_object_is_type(v, json_type_boolean)) {
        return dp_problem_fail(pprob, p, 400, "wrong_type", "the field '%s' must be a boolean, not %s",
                               key, type_name(v));
    }
    *pval = json_object_get_boolean(v);
    return APR_SUCCESS;
}

/* Refuses any member of o whose name is not in allowed. */
apr_status_t dp_json_only_fields(dp_problem_t **pprob, apr_pool_t *p, json_object *o,
                                 const char *const *allowed)
{
    if (o == NULL || !json_object_is_type(o, json_type_object)) {
        return dp_problem_fail(pprob, p, 400, "wrong_type", "the body must be a JSON object");
    }
    json_object_object_foreach(o, k, v) {
        const char *const *a;
        (void)v;
        for (a = allowed; *a; ++a) {
            if (!strcmp(*a, k)) {
                break;
            }
        }
        if (*a == NULL) {
            return dp_problem_fail(pprob, p, 400, "unknown_field", "unknown field '%.64s'", k);
        }
    }
    return APR_SUCCESS;
}

/* Reads a boolean query parameter. */
apr_status_t dp_query_field_bool(int *pval, dp_problem_t **pprob, apr_pool_t *p, apr_table_t *query,
                                 const char *name, int dflt)
{
    const char *v = apr_table_get(query, name);

    *pval = dflt;
    if (v == NULL) {
        return APR_SUCCESS;
    }
    if (*v == '\0') {
        *pval = 1;  /* "?force" alone means true */
        return APR_SUCCESS;
    }
    if (dp_parse_bool(pval, v) != APR_SUCCESS) {
        return dp_problem_fail(pprob, p, 400, "bad_query", "the query parameter '%s' must be true or false", name);
    }
    return APR_SUCCESS;
}

/* Reads an integer query parameter in [min,max]. */
apr_status_t dp_query_field_int(apr_int64_t *pval, dp_problem_t **pprob, apr_pool_t *p, apr_table_t *query,
                                const char *name, apr_int64_t dflt, apr_int64_t min, apr_int64_t max)
{
    const char *v = apr_table_get(query, name);

    *pval = dflt;
    if (v == NULL) {
        return APR_SUCCESS;
    }
    if (dp_parse_int(pval, v, min, max) != APR_SUCCESS) {
        return dp_problem_fail(pprob, p, 400, "bad_query",
                               "the query parameter '%s' must be a whole number from %" APR_INT64_T_FMT
                               " to %" APR_INT64_T_FMT, name, min, max);
    }
    return APR_SUCCESS;
}
