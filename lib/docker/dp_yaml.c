/* dp_yaml: YAML text into json-c with libyaml's event parser: bounded depth, node count and
 * text size (aliases counted as expanded), core tags only, merge keys applied. */
#include <string.h>
#include <stdlib.h>
#include <errno.h>
#include <yaml.h>
#include <apr_strings.h>
#include <apr_hash.h>

#include "dp_yaml.h"
#include "dp_json.h"

#define TAG_PREFIX "tag:yaml.org,2002:"

typedef struct {
    json_object *obj;           /* the array or object being filled (a reference we hold) */
    int is_map;
    char *key;                  /* mapping: the key waiting for its value, or NULL */
    int key_merge;              /* the waiting key is the merge key "<<" */
    json_object *merges;        /* mapping: merge sources, applied at the end (held) */
    const char *anchor;
    apr_size_t nodes0, text0;   /* totals when the node started */
} frame_t;

typedef struct {
    json_object *obj;           /* a held reference (NULL for a null node) */
    int is_scalar;
    const char *text;           /* a scalar's text as written */
    apr_size_t nodes, text_len; /* the subtree's size */
} anchor_t;

typedef struct {
    apr_pool_t *p;
    dp_problem_t **pprob;
    frame_t stack[DP_YAML_MAX_DEPTH];
    int depth;
    apr_hash_t *anchors;
    apr_size_t nodes, text;
    json_object *root;
    int have_root;
    int line, col;
} st_t;

static apr_status_t fail(st_t *s, const char *code, const char *fmt, const char *arg)
{
    return dp_problem_fail(s->pprob, s->p, 422, code, "the compose YAML is refused: %s (line %d, column %d)",
                           apr_psprintf(s->p, fmt, arg), s->line, s->col);
}

/* True when s (NUL-terminated) is one of the words of list. */
static int word_in(const char *s, const char *const *list)
{
    for (; *list; ++list) {
        if (!strcmp(s, *list)) return 1;
    }
    return 0;
}

/* True when s[0..n) has no DEL, no C1 control, no NEL/LS/PS line break and no U+FFFE/U+FFFF:
 * characters that a YAML reader would refuse or fold when the document is written back as
 * JSON (json-c escapes only the C0 controls). */
static int printable(const char *s, apr_size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    apr_size_t i;

    for (i = 0; i < n; ++i) {
        if (u[i] == 0x7f || (u[i] == 0xc2 && i + 1 < n && u[i + 1] >= 0x80 && u[i + 1] <= 0x9f)
            || (u[i] == 0xe2 && i + 2 < n && u[i + 1] == 0x80 && (u[i + 2] == 0xa8 || u[i + 2] == 0xa9))
            || (u[i] == 0xef && i + 2 < n && u[i + 1] == 0xbf && (u[i + 2] == 0xbe || u[i + 2] == 0xbf))) {
            return 0;
        }
    }
    return 1;
}

/* Resolves a plain scalar: *pnull set for null; otherwise a new json object. */
static json_object *resolve_plain(const char *v, apr_size_t n, int *pnull)
{
    static const char *const nulls[] = { "", "~", "null", "Null", "NULL", NULL };
    static const char *const trues[] = { "true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON", NULL };
    static const char *const falses[] = { "false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF", NULL };
    const char *d = v;
    char *end;
    int digits = 0, dot = 0, exp = 0;

    *pnull = 0;
    if (strlen(v) != n) {
        return json_object_new_string_len(v, (int)n);  /* an embedded NUL: a string */
    }
    if (word_in(v, nulls)) {
        *pnull = 1;
        return NULL;
    }
    if (word_in(v, trues)) return json_object_new_boolean(1);
    if (word_in(v, falses)) return json_object_new_boolean(0);
    if (*d == '-' || *d == '+') ++d;
    if ((d[0] == '0' && (d[1] == 'x' || d[1] == 'o')) && d[2] && d == v) {
        long long x;
        errno = 0;
        x = strtoll(d + 2, &end, d[1] == 'x' ? 16 : 8);
        if (*end == '\0' && errno == 0 && d[2] != '-' && d[2] != '+' && d[2] != ' ') {
            return json_object_new_int64(x);
        }
        return json_object_new_string_len(v, (int)n);
    }
    for (; *d; ++d) {
        if (*d >= '0' && *d <= '9') ++digits;
        else if (*d == '.' && !dot && !exp) dot = 1;
        else if ((*d == 'e' || *d == 'E') && digits && !exp && (d[1] == '-' || d[1] == '+' || (d[1] >= '0' && d[1] <= '9'))) {
            exp = 1;
            if (d[1] == '-' || d[1] == '+') ++d;
            if (!(d[1] >= '0' && d[1] <= '9')) return json_object_new_string_len(v, (int)n);
        }
        else return json_object_new_string_len(v, (int)n);
    }
    if (digits == 0) {
        return json_object_new_string_len(v, (int)n);
    }
    d = (*v == '-' || *v == '+') ? v + 1 : v;
    if (!dot && !exp) {
        long long x;
        if (d[0] == '0' && d[1] != '\0') {
            return json_object_new_string_len(v, (int)n);  /* "0755": YAML 1.1 octal; kept as written */
        }
        errno = 0;
        x = strtoll(v, &end, 10);
        if (errno || *end) return json_object_new_string_len(v, (int)n);
        return json_object_new_int64(x);
    }
    return json_object_new_double_s(strtod(v, NULL), v);
}

/* Builds the value of a scalar event (tag checked); *pnull for a null. */
static apr_status_t scalar_value(json_object **pv, int *pnull, st_t *s, const yaml_event_t *ev)
{
    const char *tag = (const char *)ev->data.scalar.tag;
    const char *v = (const char *)ev->data.scalar.value;
    apr_size_t n = ev->data.scalar.length;
    int plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
    json_object *r;
    const char *want;

    *pnull = 0;
    *pv = NULL;
    if (tag == NULL || !strcmp(tag, "!")) {
        if (plain && tag == NULL) {
            *pv = resolve_plain(v, n, pnull);
        }
        else {
            *pv = json_object_new_string_len(v, (int)n);
        }
        return APR_SUCCESS;
    }
    if (strncmp(tag, TAG_PREFIX, strlen(TAG_PREFIX)) != 0) {
        return fail(s, "invalid_yaml", "the tag '%s' is not accepted", tag);
    }
    want = tag + strlen(TAG_PREFIX);
    if (!strcmp(want, "str")) {
        *pv = json_object_new_string_len(v, (int)n);
        return APR_SUCCESS;
    }
    if (strcmp(want, "int") && strcmp(want, "float") && strcmp(want, "bool") && strcmp(want, "null")) {
        return fail(s, "invalid_yaml", "the tag '%s' is not accepted", tag);
    }
    r = resolve_plain(v, n, pnull);
    if ((!strcmp(want, "null") && !*pnull)
        || (!strcmp(want, "bool") && !json_object_is_type(r, json_type_boolean))
        || (!strcmp(want, "int") && !json_object_is_type(r, json_type_int))
        || (!strcmp(want, "float") && !json_object_is_type(r, json_type_double) && !json_object_is_type(r, json_type_int))) {
        json_object_put(r);
        return fail(s, "invalid_yaml", "'%s' does not match its tag", apr_pstrmemdup(s->p, v, n > 64 ? 64 : n));
    }
    *pv = r;
    return APR_SUCCESS;
}

/* Counts a node of text_len bytes against the bounds. */
static apr_status_t count(st_t *s, apr_size_t nodes, apr_size_t text_len)
{
    s->nodes += nodes;
    s->text += text_len;
    if (s->nodes > DP_YAML_MAX_NODES || s->text > DP_YAML_MAX_TEXT) {
        return fail(s, "yaml_too_complex", "%s", apr_psprintf(s->p, "more than %d nodes or %d bytes once aliases "
                                                                     "are expanded", DP_YAML_MAX_NODES, DP_YAML_MAX_TEXT));
    }
    return APR_SUCCESS;
}

/* Remembers an anchor (replacing an earlier one of the same name). */
static void anchor_set(st_t *s, const char *name, json_object *v, const char *text, apr_size_t nodes, apr_size_t tl)
{
    anchor_t *a = apr_hash_get(s->anchors, name, APR_HASH_KEY_STRING);

    if (a == NULL) {
        a = apr_pcalloc(s->p, sizeof(*a));
        apr_hash_set(s->anchors, apr_pstrdup(s->p, name), APR_HASH_KEY_STRING, a);
    }
    else {
        json_object_put(a->obj);
    }
    a->obj = json_object_get(v);
    a->is_scalar = text != NULL;
    a->text = text ? apr_pstrdup(s->p, text) : NULL;
    a->nodes = nodes;
    a->text_len = tl;
}

/* Places a finished node v (we hand over our reference) into the parent or as the root.
 * key_text: the scalar's text when the node is a scalar (for use as a mapping key). */
static apr_status_t place(st_t *s, json_object *v, const char *key_text, int plain)
{
    frame_t *f;

    if (s->depth == 0) {
        s->root = v;
        s->have_root = 1;
        return APR_SUCCESS;
    }
    f = &s->stack[s->depth - 1];
    if (!f->is_map) {
        json_object_array_add(f->obj, v);
        return APR_SUCCESS;
    }
    if (f->key == NULL) {
        json_object *old;
        if (key_text == NULL) {
            json_object_put(v);
            return fail(s, "invalid_yaml", "%s", "mapping keys must be scalars");
        }
        json_object_put(v);
        if (plain && !strcmp(key_text, "<<")) {
            f->key = apr_pstrdup(s->p, "<<");
            f->key_merge = 1;
            return APR_SUCCESS;
        }
        if (json_object_object_get_ex(f->obj, key_text, &old)) {
            return fail(s, "invalid_yaml", "the key '%s' appears twice", key_text);
        }
        f->key = apr_pstrdup(s->p, key_text);
        f->key_merge = 0;
        return APR_SUCCESS;
    }
    if (f->key_merge) {
        int ok = json_object_is_type(v, json_type_object);
        apr_size_t i;
        if (json_object_is_type(v, json_type_array)) {
            ok = 1;
            for (i = 0; i < json_object_array_length(v); ++i) {
                ok = ok && json_object_is_type(json_object_array_get_idx(v, i), json_type_object);
            }
        }
        if (!ok) {
            json_object_put(v);
            return fail(s, "invalid_yaml", "%s", "a merge key '<<' takes a mapping or a list of mappings");
        }
        if (f->merges == NULL) f->merges = json_object_new_array();
        json_object_array_add(f->merges, v);
    }
    else {
        json_object_object_add(f->obj, f->key, v);
    }
    f->key = NULL;
    f->key_merge = 0;
    return APR_SUCCESS;
}

/* Applies the merge sources of a finished mapping: keys it does not have, first source first. */
static void apply_merges(json_object *obj, json_object *merges)
{
    apr_size_t i, j;

    for (i = 0; merges && i < json_object_array_length(merges); ++i) {
        json_object *m = json_object_array_get_idx(merges, i);
        apr_size_t n = json_object_is_type(m, json_type_array) ? json_object_array_length(m) : 1;
        for (j = 0; j < n; ++j) {
            json_object *src = json_object_is_type(m, json_type_array) ? json_object_array_get_idx(m, j) : m;
            json_object_object_foreach(src, k, val) {
                if (!json_object_object_get_ex(obj, k, NULL)) {
                    json_object_object_add(obj, k, json_object_get(val));
                }
            }
        }
    }
}

static apr_status_t on_event(st_t *s, yaml_event_t *ev)
{
    apr_status_t rv;

    s->line = (int)ev->start_mark.line + 1;
    s->col = (int)ev->start_mark.column + 1;
    switch (ev->type) {
    case YAML_SCALAR_EVENT: {
        json_object *v = NULL;
        int isnull;
        const char *text = apr_pstrmemdup(s->p, (const char *)ev->data.scalar.value, ev->data.scalar.length);
        if (!printable(text, ev->data.scalar.length)) {
            return fail(s, "invalid_yaml", "%s", "a control character or a Unicode line separator in a value");
        }
        if ((rv = count(s, 1, ev->data.scalar.length)) != APR_SUCCESS
            || (rv = scalar_value(&v, &isnull, s, ev)) != APR_SUCCESS) {
            return rv;
        }
        if (ev->data.scalar.anchor) {
            anchor_set(s, (const char *)ev->data.scalar.anchor, v, text, 1, ev->data.scalar.length);
        }
        return place(s, v, text, ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && ev->data.scalar.tag == NULL);
    }
    case YAML_ALIAS_EVENT: {
        anchor_t *a = apr_hash_get(s->anchors, (const char *)ev->data.alias.anchor, APR_HASH_KEY_STRING);
        json_object *copy = NULL;
        if (a == NULL) {
            return fail(s, "invalid_yaml", "the alias '*%s' names no earlier anchor", (const char *)ev->data.alias.anchor);
        }
        if ((rv = count(s, a->nodes, a->text_len)) != APR_SUCCESS) {
            return rv;
        }
        if (a->obj && json_object_deep_copy(a->obj, &copy, NULL) != 0) {
            return fail(s, "yaml_too_complex", "%s", "an alias could not be copied");
        }
        return place(s, copy, a->is_scalar ? a->text : NULL, 0);
    }
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT: {
        int map = ev->type == YAML_MAPPING_START_EVENT;
        const char *tag = (const char *)(map ? ev->data.mapping_start.tag : ev->data.sequence_start.tag);
        const char *anchor = (const char *)(map ? ev->data.mapping_start.anchor : ev->data.sequence_start.anchor);
        frame_t *f;
        if (tag && strcmp(tag, "!") && strcmp(tag, map ? TAG_PREFIX "map" : TAG_PREFIX "seq")) {
            return fail(s, "invalid_yaml", "the tag '%s' is not accepted", tag);
        }
        if (s->depth >= DP_YAML_MAX_DEPTH) {
            return fail(s, "yaml_too_complex", "more than %s levels of nesting",
                        apr_itoa(s->p, DP_YAML_MAX_DEPTH));
        }
        if ((rv = count(s, 1, 0)) != APR_SUCCESS) {
            return rv;
        }
        f = &s->stack[s->depth++];
        memset(f, 0, sizeof(*f));
        f->obj = map ? json_object_new_object() : json_object_new_array();
        f->is_map = map;
        f->anchor = anchor ? apr_pstrdup(s->p, anchor) : NULL;
        f->nodes0 = s->nodes - 1;
        f->text0 = s->text;
        return APR_SUCCESS;
    }
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT: {
        frame_t *f = &s->stack[s->depth - 1];
        json_object *v = f->obj;
        if (f->is_map) {
            apply_merges(v, f->merges);
            json_object_put(f->merges);
            f->merges = NULL;
        }
        if (f->anchor) {
            anchor_set(s, f->anchor, v, NULL, s->nodes - f->nodes0, s->text - f->text0);
        }
        f->obj = NULL;
        --s->depth;
        return place(s, v, NULL, 0);
    }
    default:
        return APR_SUCCESS;
    }
}

/* Converts the first YAML document of text into json-c. */
apr_status_t dp_yaml_parse(json_object **pout, dp_problem_t **pprob, apr_pool_t *p, const char *text,
                           apr_size_t len)
{
    yaml_parser_t parser;
    yaml_event_t ev;
    st_t s;
    apr_status_t rv = APR_SUCCESS;
    apr_hash_index_t *hi;
    int done = 0;

    *pout = NULL;
    if (len > DP_YAML_MAX_INPUT) {
        return dp_problem_fail(pprob, p, 422, "yaml_too_complex", "the compose YAML is longer than %d bytes",
                               DP_YAML_MAX_INPUT);
    }
    memset(&s, 0, sizeof(s));
    s.p = p;
    s.pprob = pprob;
    s.anchors = apr_hash_make(p);
    if (!yaml_parser_initialize(&parser)) {
        return dp_problem_fail(pprob, p, 500, "internal_error", "the YAML parser could not start");
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    while (!done && rv == APR_SUCCESS) {
        if (!yaml_parser_parse(&parser, &ev)) {
            s.line = (int)parser.problem_mark.line + 1;
            s.col = (int)parser.problem_mark.column + 1;
            rv = fail(&s, "invalid_yaml", "%s", apr_pstrcat(p, parser.problem ? parser.problem : "a syntax error",
                                                             parser.context ? " " : "", parser.context ? parser.context : "",
                                                             NULL));
            break;
        }
        if (ev.type == YAML_DOCUMENT_END_EVENT || ev.type == YAML_STREAM_END_EVENT) {
            done = 1;  /* only the first document */
        }
        else {
            rv = on_event(&s, &ev);
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&parser);
    while (s.depth > 0) {
        frame_t *f = &s.stack[--s.depth];
        json_object_put(f->obj);
        json_object_put(f->merges);
    }
    for (hi = apr_hash_first(p, s.anchors); hi; hi = apr_hash_next(hi)) {
        anchor_t *a = apr_hash_this_val(hi);
        json_object_put(a->obj);
    }
    if (rv != APR_SUCCESS) {
        json_object_put(s.root);
        return rv;
    }
    *pout = s.root ? dp_json_own(p, s.root) : NULL;
    return APR_SUCCESS;
}
