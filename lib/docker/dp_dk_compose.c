/* dp_dk_compose: Compose projects from labels, the name and compose-file checks, and running
 * the Compose command with a time limit. */
#define _POSIX_C_SOURCE 200809L
#include <string.h>
#include <stdlib.h>
#include <signal.h>
#include <unistd.h>
#include <apr_strings.h>
#include <apr_lib.h>
#include <apr_hash.h>
#include <apr_file_io.h>
#include <apr_file_info.h>
#include <apr_thread_proc.h>
#include <apr_time.h>
#include <stdarg.h>

#include "dp_dk_compose.h"
#include "dp_json.h"
#include "dp_yaml.h"
#include "dp_dk_quota.h"

#define LABEL_SERVICE    "com.docker.compose.service"
#define LABEL_NUMBER     "com.docker.compose.container-number"
#define LABEL_ONEOFF     "com.docker.compose.oneoff"
#define LABEL_WORKDIR    "com.docker.compose.project.working_dir"
#define LABEL_FILES      "com.docker.compose.project.config_files"
#define SETSID_PATH      "/usr/bin/setsid"
#define DEFAULT_PATH     "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* True when name matches ^[a-z0-9][a-z0-9_-]{0,62}$. */
int dp_dk_compose_name_ok(const char *name)
{
    apr_size_t i;

    if (name == NULL || !(apr_islower((unsigned char)name[0]) || apr_isdigit((unsigned char)name[0]))) {
        return 0;
    }
    for (i = 0; name[i]; ++i) {
        unsigned char c = (unsigned char)name[i];
        if (i >= 63 || !(apr_islower(c) || apr_isdigit(c) || c == '_' || c == '-')) {
            return 0;
        }
    }
    return 1;
}

/* ------------------------------------------------------------------------------------------ */
/* the compose checker: YAML -> an allow-listed, normalised document */

typedef struct {
    apr_pool_t *p;
    dp_problem_t **pprob;
    const dp_dk_policy_t *pol;
    const char *project, *key;
    json_object *in_volumes, *in_networks, *services;   /* the input's sections (or NULL) */
    dp_dk_compose_plan_t *plan;
    int default_net;                                     /* some service uses "default" */
} ck_t;

static apr_status_t ck_fail(ck_t *c, int status, const char *code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Fails with status/code, a detail "FIELD: ..." and a "field" member. */
static apr_status_t ck_fail(ck_t *c, int status, const char *code, const char *field, const char *fmt, ...)
{
    dp_problem_t *prob = dp_problem_make(c->p, status, code, NULL);
    va_list ap;

    va_start(ap, fmt);
    prob->detail = apr_pstrcat(c->p, field, ": ", apr_pvsprintf(c->p, fmt, ap), NULL);
    va_end(ap);
    dp_problem_add(prob, c->p, "field", json_object_new_string(field));
    if (c->pprob) *c->pprob = prob;
    return DP_EPROBLEM;
}

#define DENY(c, f, ...) ck_fail(c, 403, "policy_denied", f, __VA_ARGS__)
#define BAD(c, f, ...)  ck_fail(c, 422, "invalid_value", f, __VA_ARGS__)

static const char *at(ck_t *c, const char *base, const char *key)
{
    return apr_pstrcat(c->p, base, ".", key, NULL);
}

static const char *at_i(ck_t *c, const char *base, apr_size_t i)
{
    return apr_psprintf(c->p, "%s[%" APR_SIZE_T_FMT "]", base, i);
}

static int is(json_object *v, json_type t)
{
    return v != NULL && json_object_is_type(v, t);
}

/* A scalar (string, number or bool) as text, or NULL for null and containers. */
static const char *scalar_text(json_object *v)
{
    if (is(v, json_type_string) || is(v, json_type_int) || is(v, json_type_double) || is(v, json_type_boolean)) {
        return json_object_get_string(v);
    }
    return NULL;
}

/* True when s is non-empty, at most max bytes and has no control characters. */
static int text_ok(const char *s, apr_size_t max)
{
    apr_size_t n = 0;

    for (; s[n]; ++n) {
        if ((unsigned char)s[n] < 0x20 || s[n] == 0x7f || n >= max) return 0;
    }
    return n > 0;
}

/* True for [A-Za-z0-9][A-Za-z0-9_.-]* of at most max bytes. */
static int name_ok(const char *s, apr_size_t max)
{
    apr_size_t n;

    if (!s || !apr_isalnum((unsigned char)s[0])) return 0;
    for (n = 0; s[n]; ++n) {
        if (n >= max || !(apr_isalnum((unsigned char)s[n]) || s[n] == '_' || s[n] == '.' || s[n] == '-')) return 0;
    }
    return 1;
}

static int in_list(const char *s, const char *const *list)
{
    for (; *list; ++list) {
        if (!strcmp(s, *list)) return 1;
    }
    return 0;
}

/* Refuses '$' other than "$$" in every key and string below v (Compose would substitute the
 * variables of its own environment). x-* members of the top level are skipped (dropped). */
static apr_status_t no_interpolation(ck_t *c, json_object *v, const char *field, int top)
{
    apr_size_t i;

    if (is(v, json_type_string)) {
        const char *s = json_object_get_string(v);
        for (i = 0; s[i]; ++i) {
            if (s[i] == '$' && s[i + 1] == '$') { ++i; continue; }
            if (s[i] == '$') {
                return ck_fail(c, 422, "interpolation_not_allowed", field,
                               "variable substitution ('$') is not allowed; write a literal '$' as '$$'");
            }
        }
    }
    else if (is(v, json_type_array)) {
        for (i = 0; i < json_object_array_length(v); ++i) {
            apr_status_t rv = no_interpolation(c, json_object_array_get_idx(v, i), at_i(c, field, i), 0);
            if (rv != APR_SUCCESS) return rv;
        }
    }
    else if (is(v, json_type_object)) {
        json_object_object_foreach(v, k, m) {
            const char *f = *field ? at(c, field, k) : k;
            const char *d = strchr(k, '$');
            apr_status_t rv;
            if (top && !strncmp(k, "x-", 2)) continue;
            for (; d; d = strchr(d + 2, '$')) {
                if (d[1] != '$') {
                    return ck_fail(c, 422, "interpolation_not_allowed", f,
                                   "variable substitution ('$') is not allowed; write a literal '$' as '$$'");
                }
            }
            if ((rv = no_interpolation(c, m, f, 0)) != APR_SUCCESS) return rv;
        }
    }
    return APR_SUCCESS;
}

/* Refuses keys of o outside allowed: 403 naming base.key. */
static apr_status_t only_keys(ck_t *c, json_object *o, const char *base, const char *const *allowed, const char *why)
{
    json_object_object_foreach(o, k, v) {
        (void)v;
        if (!in_list(k, allowed)) {
            return DENY(c, at(c, base, k), "'%s' is not allowed here%s", k, why ? why : "");
        }
    }
    return APR_SUCCESS;
}

/* Reads a string or a list of scalars (command, entrypoint): a new json value, or NULL. */
static apr_status_t str_or_list(json_object **pout, ck_t *c, json_object *v, const char *field)
{
    apr_size_t i;
    json_object *a;

    *pout = NULL;
    if (is(v, json_type_string)) {
        if (!text_ok(json_object_get_string(v), 65536)) return BAD(c, field, "must be a non-empty string");
        *pout = json_object_new_string(json_object_get_string(v));
        return APR_SUCCESS;
    }
    if (!is(v, json_type_array)) return BAD(c, field, "must be a string or a list of strings");
    a = json_object_new_array();
    for (i = 0; i < json_object_array_length(v); ++i) {
        const char *s = scalar_text(json_object_array_get_idx(v, i));
        if (s == NULL || strlen(s) > 65536) {
            json_object_put(a);
            return BAD(c, at_i(c, field, i), "must be a string");
        }
        json_object_array_add(a, json_object_new_string(s));
    }
    *pout = a;
    return APR_SUCCESS;
}

/* Reads a list of strings (or one string when one_ok) into a new array. */
static apr_status_t str_list(json_object **pout, ck_t *c, json_object *v, const char *field, int one_ok)
{
    json_object *a;
    apr_size_t i;

    *pout = NULL;
    if (one_ok && is(v, json_type_string)) {
        a = json_object_new_array();
        json_object_array_add(a, json_object_get(v));
        *pout = a;
        return APR_SUCCESS;
    }
    if (!is(v, json_type_array)) return BAD(c, field, "must be a list of strings");
    a = json_object_new_array();
    for (i = 0; i < json_object_array_length(v); ++i) {
        const char *s = scalar_text(json_object_array_get_idx(v, i));
        if (s == NULL || !text_ok(s, 4096)) {
            json_object_put(a);
            return BAD(c, at_i(c, field, i), "must be a non-empty string");
        }
        json_object_array_add(a, json_object_new_string(s));
    }
    *pout = a;
    return APR_SUCCESS;
}

/* Reads labels (a mapping or a "k=v" list) into a new object; refuses the dockpay. and
 * com.docker.compose. prefixes, then stamps the managed labels. */
static apr_status_t labels_in(json_object **pout, ck_t *c, json_object *v, const char *field)
{
    json_object *o = json_object_new_object();
    apr_size_t i;

    *pout = o;
    if (is(v, json_type_array)) {
        for (i = 0; i < json_object_array_length(v); ++i) {
            const char *s = scalar_text(json_object_array_get_idx(v, i)), *eq;
            if (s == NULL || (eq = strchr(s, '=')) == NULL || eq == s) {
                return BAD(c, at_i(c, field, i), "must be a \"key=value\" string");
            }
            json_object_object_add(o, apr_pstrmemdup(c->p, s, (apr_size_t)(eq - s)), json_object_new_string(eq + 1));
        }
    }
    else if (is(v, json_type_object)) {
        json_object_object_foreach(v, k, val) {
            const char *s = scalar_text(val);
            if (s == NULL) return BAD(c, at(c, field, k), "must be a string");
            json_object_object_add(o, k, json_object_new_string(s));
        }
    }
    else if (v != NULL) {
        return BAD(c, field, "must be a mapping or a list of \"key=value\"");
    }
    {
        json_object_object_foreach(o, k, val) {
            (void)val;
            if (!text_ok(k, 256)) return BAD(c, field, "label names must be non-empty text");
            if (!strncmp(k, "dockpay.", 8) || !strncmp(k, "com.docker.compose.", 19)) {
                return DENY(c, at(c, field, k), "labels under 'dockpay.' and 'com.docker.compose.' are set by the server");
            }
        }
    }
    json_object_object_add(o, DP_DK_LABEL_MANAGED, json_object_new_string("true"));
    json_object_object_add(o, DP_DK_LABEL_KEY, json_object_new_string(c->key));
    return APR_SUCCESS;
}

/* Reads environment (a mapping or a "K=V" list) into a new "K=V" array; a variable without a
 * value (Compose would copy it from its own environment) is refused. */
static apr_status_t env_in(json_object **pout, ck_t *c, json_object *v, const char *field)
{
    json_object *a = json_object_new_array();
    apr_size_t i;

    *pout = a;
    if (is(v, json_type_array)) {
        for (i = 0; i < json_object_array_length(v); ++i) {
            const char *s = scalar_text(json_object_array_get_idx(v, i)), *eq;
            if (s == NULL || (eq = strchr(s, '=')) == NULL || eq == s) {
                return BAD(c, at_i(c, field, i), "must be a \"NAME=value\" string (a value is required)");
            }
            json_object_array_add(a, json_object_new_string(s));
        }
        return APR_SUCCESS;
    }
    if (!is(v, json_type_object)) {
        return BAD(c, field, "must be a mapping or a list of \"NAME=value\"");
    }
    {
        json_object_object_foreach(v, k, val) {
            const char *s = scalar_text(val);
            if (s == NULL) return BAD(c, at(c, field, k), "must have a value (a string or a number)");
            if (*k == '\0' || strchr(k, '=')) return BAD(c, at(c, field, k), "is not a variable name");
            json_object_array_add(a, json_object_new_string(apr_pstrcat(c->p, k, "=", s, NULL)));
        }
    }
    return APR_SUCCESS;
}

/* True for a port spec of digits, '.', ':', '-', '/', brackets, hex digits and protocol names. */
static int port_spec_ok(const char *s)
{
    apr_size_t n = strlen(s);

    return n > 0 && n < 128 && strspn(s, "0123456789.:-/[]abcdefABCDEFtcpudps") == n;
}

static apr_status_t ports_in(json_object **pout, ck_t *c, json_object *v, const char *field, int expose)
{
    static const char *const long_keys[] = { "target", "published", "protocol", "mode", NULL };
    json_object *a;
    apr_size_t i;
    apr_status_t rv;

    *pout = NULL;
    if (!is(v, json_type_array)) return BAD(c, field, "must be a list");
    *pout = a = json_object_new_array();
    for (i = 0; i < json_object_array_length(v); ++i) {
        json_object *it = json_object_array_get_idx(v, i);
        const char *f = at_i(c, field, i), *s;
        if (!expose && is(it, json_type_object)) {
            const char *tgt = scalar_text(dp_json_get(it, "target")), *pub = scalar_text(dp_json_get(it, "published"));
            const char *proto = dp_json_get_str(it, "protocol"), *mode = dp_json_get_str(it, "mode");
            if ((rv = only_keys(c, it, f, long_keys, NULL)) != APR_SUCCESS) return rv;
            if (tgt == NULL || !port_spec_ok(tgt) || (pub && !port_spec_ok(pub))) {
                return BAD(c, f, "needs a numeric 'target' (and 'published')");
            }
            if ((proto && strcmp(proto, "tcp") && strcmp(proto, "udp")) || (mode && strcmp(mode, "host") && strcmp(mode, "ingress"))) {
                return BAD(c, f, "protocol must be tcp or udp, mode host or ingress");
            }
            s = apr_pstrcat(c->p, pub ? pub : "", pub ? ":" : "", tgt, proto ? "/" : "", proto ? proto : "", NULL);
        }
        else if ((s = scalar_text(it)) == NULL || is(it, json_type_boolean) || !port_spec_ok(s)) {
            return BAD(c, f, "is not a port (\"8080:80\", \"127.0.0.1:8080:80/tcp\", 80)");
        }
        json_object_array_add(a, json_object_new_string(s));
    }
    return APR_SUCCESS;
}

/* True for an absolute container path without control characters or ':' / ','. */
static int cpath_ok(const char *s)
{
    return s && s[0] == '/' && text_ok(s, 4096) && !strchr(s, ':') && !strchr(s, ',');
}

/* Checks a bind/volume mode string: ro, rw, z, Z, nocopy (comma-separated). */
static int mode_ok(ck_t *c, const char *m)
{
    static const char *const ok[] = { "ro", "rw", "z", "Z", "nocopy", NULL };
    char *copy = apr_pstrdup(c->p, m), *last = NULL, *w;

    if (*m == '\0') return 0;
    for (w = apr_strtok(copy, ",", &last); w; w = apr_strtok(NULL, ",", &last)) {
        if (!in_list(w, ok)) return 0;
    }
    return 1;
}

/* Resolves a volume source: a host path (added to Binds), or a volume of the document. */
static apr_status_t mount_source(ck_t *c, const char *src, const char *dst, const char *mode, json_object *binds,
                                 json_object *mounts, const char *field)
{
    if (src[0] == '.' || src[0] == '~') {
        return DENY(c, field, "'%s': relative host paths are not allowed (the project folder holds only the "
                              "checked file)", src);
    }
    if (src[0] == '/') {
        json_object_array_add(binds, json_object_new_string(apr_pstrcat(c->p, src, ":", dst, mode ? ":" : "",
                                                                         mode ? mode : "", NULL)));
        return APR_SUCCESS;
    }
    if (!(c->in_volumes && json_object_object_get_ex(c->in_volumes, src, NULL))) {
        return BAD(c, field, "'%s' is not a volume of the top-level 'volumes'", src);
    }
    {
        json_object *m = json_object_new_object();
        dp_json_set_str(m, "Type", "volume");
        dp_json_set_str(m, "Source", apr_pstrcat(c->p, c->project, "_", src, NULL));
        dp_json_set_str(m, "Target", dst);
        json_object_array_add(mounts, m);
    }
    return APR_SUCCESS;
}

static apr_status_t volumes_in(json_object **pout, json_object **ptmpfs, ck_t *c, json_object *v, const char *field,
                               json_object *binds, json_object *mounts)
{
    static const char *const long_keys[] = { "type", "source", "target", "read_only", "volume", "tmpfs", NULL };
    json_object *a;
    apr_size_t i;
    apr_status_t rv;

    *pout = NULL;
    if (!is(v, json_type_array)) return BAD(c, field, "must be a list");
    *pout = a = json_object_new_array();
    for (i = 0; i < json_object_array_length(v); ++i) {
        json_object *it = json_object_array_get_idx(v, i);
        const char *f = at_i(c, field, i), *src = NULL, *dst, *mode = NULL;
        if (is(it, json_type_string)) {
            char *copy = apr_pstrdup(c->p, json_object_get_string(it)), *c1 = strchr(copy, ':'), *c2;
            if (c1) {
                *c1 = '\0';
                src = copy;
                dst = c1 + 1;
                if ((c2 = strchr(dst, ':')) != NULL) {
                    *c2 = '\0';
                    mode = c2 + 1;
                }
            }
            else {
                dst = copy;
            }
        }
        else if (is(it, json_type_object)) {
            const char *type = dp_json_get_str(it, "type");
            json_object *ro = dp_json_get(it, "read_only"), *vo = dp_json_get(it, "volume");
            if ((rv = only_keys(c, it, f, long_keys, NULL)) != APR_SUCCESS) return rv;
            src = dp_json_get_str(it, "source");
            dst = dp_json_get_str(it, "target");
            if (ro && !is(ro, json_type_boolean)) return BAD(c, at(c, f, "read_only"), "must be true or false");
            if (type == NULL) return BAD(c, at(c, f, "type"), "is required (volume, bind or tmpfs)");
            if (!strcmp(type, "tmpfs")) {
                json_object *t = dp_json_get(it, "tmpfs");
                const char *size = scalar_text(dp_json_get(t, "size"));
                if (src || !cpath_ok(dst)) return BAD(c, f, "a tmpfs mount takes only an absolute 'target'");
                if (t && (!is(t, json_type_object) || json_object_object_length(t) != (size ? 1 : 0)
                          || (size && strspn(size, "0123456789kmgKMGb") != strlen(size)))) {
                    return BAD(c, at(c, f, "tmpfs"), "takes only 'size'");
                }
                json_object_array_add(*ptmpfs, json_object_new_string(apr_pstrcat(c->p, dst, size ? ":size=" : "",
                                                                                   size ? size : "", NULL)));
                continue;
            }
            if (strcmp(type, "volume") && strcmp(type, "bind")) {
                return DENY(c, at(c, f, "type"), "mounts of type '%s' are not allowed", type);
            }
            if (!strcmp(type, "bind") && (src == NULL || src[0] != '/')) {
                return DENY(c, at(c, f, "source"), "a bind needs an absolute host path");
            }
            if (!strcmp(type, "volume") && src && src[0] == '/') {
                return BAD(c, at(c, f, "source"), "a volume source is a volume name");
            }
            if (dp_json_get(it, "tmpfs")) return BAD(c, at(c, f, "tmpfs"), "only for type tmpfs");
            if (vo) {
                json_object *nc = dp_json_get(vo, "nocopy");
                if (!is(vo, json_type_object) || json_object_object_length(vo) != (nc ? 1 : 0) || (nc && !is(nc, json_type_boolean))) {
                    return DENY(c, at(c, f, "volume"), "takes only 'nocopy'");
                }
                if (nc && json_object_get_boolean(nc)) mode = "nocopy";
            }
            if (ro && json_object_get_boolean(ro)) mode = mode ? "ro,nocopy" : "ro";
        }
        else {
            return BAD(c, f, "must be a string or a mapping");
        }
        if (!cpath_ok(dst)) return BAD(c, f, "needs an absolute container path as its target");
        if (mode && !mode_ok(c, mode)) return DENY(c, f, "the mode '%s' is not allowed (ro, rw, z, Z, nocopy)", mode);
        if (src == NULL || *src == '\0') {
            json_object_array_add(a, json_object_new_string(dst));
            ++c->plan->need.volumes;  /* an anonymous volume */
            continue;
        }
        if ((rv = mount_source(c, src, dst, mode, binds, mounts, f)) != APR_SUCCESS) return rv;
        json_object_array_add(a, json_object_new_string(apr_pstrcat(c->p, src, ":", dst, mode ? ":" : "",
                                                                      mode ? mode : "", NULL)));
    }
    return APR_SUCCESS;
}

/* Parses a memory size (string or number of bytes). */
static apr_status_t mem_in(apr_int64_t *pbytes, ck_t *c, json_object *v, const char *field)
{
    if (is(v, json_type_int)) {
        *pbytes = json_object_get_int64(v);
    }
    else if (!is(v, json_type_string) || dp_parse_size(pbytes, json_object_get_string(v)) != APR_SUCCESS) {
        return BAD(c, field, "is not a memory size (e.g. 256m, 1g, or bytes)");
    }
    if (*pbytes < 6 * 1024 * 1024) return BAD(c, field, "is below Docker's minimum of 6m");
    return APR_SUCCESS;
}

static apr_status_t cpus_in(apr_int64_t *pnano, ck_t *c, json_object *v, const char *field)
{
    double d;
    char *end = NULL;

    if (is(v, json_type_int) || is(v, json_type_double)) {
        d = json_object_get_double(v);
    }
    else if (is(v, json_type_string)) {
        d = strtod(json_object_get_string(v), &end);
        if (end == json_object_get_string(v) || *end) return BAD(c, field, "is not a CPU count");
    }
    else {
        return BAD(c, field, "is not a CPU count");
    }
    if (!(d >= 0.01 && d <= 1024)) return BAD(c, field, "is not a CPU count from 0.01 to 1024");
    *pnano = (apr_int64_t)(d * 1e9 + 0.5);
    return APR_SUCCESS;
}

/* A duration as Compose writes it ("10s", "1m30s", "500ms"). */
static int duration_ok(const char *s)
{
    apr_size_t n = s ? strlen(s) : 0;
    return n > 0 && n < 32 && strspn(s, "0123456789.hmsun") == n && apr_isdigit((unsigned char)s[0]);
}

static apr_status_t healthcheck_in(json_object **pout, ck_t *c, json_object *v, const char *field)
{
    static const char *const keys[] = { "test", "interval", "timeout", "retries", "start_period", "disable", NULL };
    static const char *const durations[] = { "interval", "timeout", "start_period", NULL };
    json_object *o, *t;
    apr_status_t rv;
    int i;

    *pout = NULL;
    if (!is(v, json_type_object)) return BAD(c, field, "must be a mapping");
    if ((rv = only_keys(c, v, field, keys, NULL)) != APR_SUCCESS) return rv;
    *pout = o = json_object_new_object();
    if ((t = dp_json_get(v, "test")) != NULL) {
        json_object *tt;
        if ((rv = str_or_list(&tt, c, t, at(c, field, "test"))) != APR_SUCCESS) return rv;
        json_object_object_add(o, "test", tt);
    }
    for (i = 0; durations[i]; ++i) {
        json_object *d = dp_json_get(v, durations[i]);
        if (d == NULL) continue;
        if (!is(d, json_type_string) || !duration_ok(json_object_get_string(d))) {
            return BAD(c, at(c, field, durations[i]), "is not a duration (\"30s\")");
        }
        dp_json_set_str(o, durations[i], json_object_get_string(d));
    }
    if ((t = dp_json_get(v, "retries")) != NULL) {
        if (!is(t, json_type_int) || json_object_get_int64(t) < 0 || json_object_get_int64(t) > 1000) {
            return BAD(c, at(c, field, "retries"), "must be a number from 0 to 1000");
        }
        json_object_object_add(o, "retries", json_object_new_int64(json_object_get_int64(t)));
    }
    if ((t = dp_json_get(v, "disable")) != NULL) {
        if (!is(t, json_type_boolean)) return BAD(c, at(c, field, "disable"), "must be true or false");
        json_object_object_add(o, "disable", json_object_new_boolean(json_object_get_boolean(t)));
    }
    return APR_SUCCESS;
}

static apr_status_t logging_in(json_object **pout, json_object *hc, ck_t *c, json_object *v, const char *field)
{
    static const char *const keys[] = { "driver", "options", NULL };
    static const char *const drivers[] = { "json-file", "local", "none", NULL };
    static const char *const opts[] = { "max-size", "max-file", "compress", "mode", "max-buffer-size", NULL };
    const char *driver;
    json_object *o, *op, *cfg = json_object_new_object(), *lc = json_object_new_object();
    apr_status_t rv;

    *pout = NULL;
    json_object_object_add(lc, "Config", cfg);
    json_object_object_add(hc, "LogConfig", lc);
    if (!is(v, json_type_object)) return BAD(c, field, "must be a mapping");
    if ((rv = only_keys(c, v, field, keys, NULL)) != APR_SUCCESS) return rv;
    driver = dp_json_get_str(v, "driver");
    if (driver == NULL) driver = "json-file";
    if (!in_list(driver, drivers)) {
        return DENY(c, at(c, field, "driver"), "the log driver '%s' is not allowed (json-file, local, none)", driver);
    }
    dp_json_set_str(lc, "Type", driver);
    *pout = o = json_object_new_object();
    dp_json_set_str(o, "driver", driver);
    if ((op = dp_json_get(v, "options")) != NULL) {
        json_object *oo = json_object_new_object();
        json_object_object_add(o, "options", oo);
        if (!is(op, json_type_object)) return BAD(c, at(c, field, "options"), "must be a mapping");
        if ((rv = only_keys(c, op, at(c, field, "options"), opts, NULL)) != APR_SUCCESS) return rv;
        {
            json_object_object_foreach(op, k, val) {
                const char *s = scalar_text(val);
                if (s == NULL || !text_ok(s, 64)) return BAD(c, at(c, at(c, field, "options"), k), "must be a string");
                dp_json_set_str(oo, k, s);
                dp_json_set_str(cfg, k, s);
            }
        }
    }
    return APR_SUCCESS;
}

static apr_status_t svc_networks_in(json_object **pout, ck_t *c, json_object *v, const char *field)
{
    static const char *const keys[] = { "aliases", NULL };
    json_object *o = json_object_new_object();
    apr_size_t i;
    apr_status_t rv;

    *pout = o;
    if (is(v, json_type_array)) {
        for (i = 0; i < json_object_array_length(v); ++i) {
            json_object *it = json_object_array_get_idx(v, i);
            const char *n = is(it, json_type_string) ? json_object_get_string(it) : NULL;
            if (n == NULL) return BAD(c, at_i(c, field, i), "must be a network name");
            json_object_object_add(o, n, NULL);
        }
    }
    else if (is(v, json_type_object)) {
        json_object_object_foreach(v, k, val) {
            json_object *al, *nv = NULL;
            if (val != NULL) {
                const char *f = at(c, field, k);
                if (!is(val, json_type_object)) return BAD(c, f, "must be a mapping or null");
                if ((rv = only_keys(c, val, f, keys, NULL)) != APR_SUCCESS) return rv;
                nv = json_object_new_object();
                if ((al = dp_json_get(val, "aliases")) != NULL) {
                    json_object *aa;
                    if ((rv = str_list(&aa, c, al, at(c, f, "aliases"), 0)) != APR_SUCCESS) {
                        json_object_put(nv);
                        return rv;
                    }
                    json_object_object_add(nv, "aliases", aa);
                }
            }
            json_object_object_add(o, k, nv);
        }
    }
    else {
        return BAD(c, field, "must be a list or a mapping of network names");
    }
    {
        json_object_object_foreach(o, k, val) {
            (void)val;
            if (!strcmp(k, "default")) {
                c->default_net = 1;
            }
            else if (!(c->in_networks && json_object_object_get_ex(c->in_networks, k, NULL))) {
                return BAD(c, at(c, field, k), "'%s' is not a network of the top-level 'networks'", k);
            }
        }
    }
    return APR_SUCCESS;
}

static apr_status_t depends_in(json_object **pout, ck_t *c, json_object *v, const char *field)
{
    static const char *const conds[] = { "service_started", "service_healthy", "service_completed_successfully", NULL };
    apr_size_t i;

    *pout = NULL;
    if (is(v, json_type_array)) {
        json_object *a = json_object_new_array();
        *pout = a;
        for (i = 0; i < json_object_array_length(v); ++i) {
            json_object *it = json_object_array_get_idx(v, i);
            if (!is(it, json_type_string) || !json_object_object_get_ex(c->services, json_object_get_string(it), NULL)) {
                return BAD(c, at_i(c, field, i), "must name a service of this file");
            }
            json_object_array_add(a, json_object_get(it));
        }
        return APR_SUCCESS;
    }
    if (!is(v, json_type_object)) return BAD(c, field, "must be a list or a mapping of service names");
    *pout = json_object_new_object();
    {
        json_object_object_foreach(v, k, val) {
            const char *cond = dp_json_get_str(val, "condition");
            json_object *o;
            if (!json_object_object_get_ex(c->services, k, NULL)) return BAD(c, at(c, field, k), "must name a service of this file");
            if (!is(val, json_type_object) || json_object_object_length(val) != 1 || cond == NULL || !in_list(cond, conds)) {
                return BAD(c, at(c, field, k), "takes only 'condition' (service_started, service_healthy, "
                                                "service_completed_successfully)");
            }
            o = json_object_new_object();
            dp_json_set_str(o, "condition", cond);
            json_object_object_add(*pout, k, o);
        }
    }
    return APR_SUCCESS;
}

/* Maps the field a policy problem names (HostConfig.Binds[0]) to the service's key. */
static const char *policy_field(ck_t *c, const char *svc_field, const char *docker_field)
{
    static const char *const map[][2] = {
        { "HostConfig.Binds", "volumes" }, { "HostConfig.Mounts", "volumes" }, { "HostConfig.CapAdd", "cap_add" },
        { "HostConfig.SecurityOpt", "security_opt" }, { "HostConfig.Tmpfs", "tmpfs" },
        { "HostConfig.LogConfig", "logging" }, { "Labels", "labels" }, { "Image", "image" },
    };
    apr_size_t i;

    for (i = 0; docker_field && i < sizeof(map) / sizeof(map[0]); ++i) {
        if (!strncmp(docker_field, map[i][0], strlen(map[i][0]))) {
            return at(c, svc_field, map[i][1]);
        }
    }
    return docker_field ? at(c, svc_field, docker_field) : svc_field;
}

/* Writes the limits the create policy built (defaults applied) into normalised service o:
 * mem_limit with memswap_limit equal to it, cpus, pids_limit, and the quota labels that
 * POST /containers stamps, so compose containers count against the key's quotas. */
static apr_status_t limits_out(ck_t *c, json_object *o, json_object *hc)
{
    apr_int64_t mem = dp_json_get(hc, "Memory") ? json_object_get_int64(dp_json_get(hc, "Memory")) : 0;
    apr_int64_t nano = dp_json_get(hc, "NanoCpus") ? json_object_get_int64(dp_json_get(hc, "NanoCpus")) : 0;
    json_object *labels = dp_json_get(o, "labels");

    json_object_object_del(o, "mem_limit");
    json_object_object_del(o, "memswap_limit");
    json_object_object_del(o, "cpus");
    json_object_object_del(o, "pids_limit");
    if (mem > 0) {
        json_object_object_add(o, "mem_limit", json_object_new_int64(mem));
        json_object_object_add(o, "memswap_limit", json_object_new_int64(mem));
    }
    if (nano > 0) {
        json_object_object_add(o, "cpus", json_object_new_double((double)nano / 1e9));
    }
    if (dp_json_get(hc, "PidsLimit")) {
        json_object_object_add(o, "pids_limit", json_object_new_int64(json_object_get_int64(dp_json_get(hc, "PidsLimit"))));
    }
    if (!is(labels, json_type_object)) {
        labels = json_object_new_object();
        json_object_object_add(o, "labels", labels);
    }
    json_object_object_add(labels, DP_DK_LABEL_MEMORY, json_object_new_string(apr_psprintf(c->p, "%" APR_INT64_T_FMT, mem)));
    json_object_object_add(labels, DP_DK_LABEL_NANOCPUS, json_object_new_string(apr_psprintf(c->p, "%" APR_INT64_T_FMT, nano)));
    c->plan->need.memory += mem;
    c->plan->need.nanocpus += nano;
    return APR_SUCCESS;
}

/* Checks and normalises one service; *pout gets the new service object. */
static apr_status_t service_in(json_object **pout, ck_t *c, const char *name, json_object *s)
{
    static const char *const allowed[] = {
        "image", "command", "entrypoint", "environment", "ports", "expose", "volumes", "labels", "restart",
        "healthcheck", "working_dir", "user", "hostname", "networks", "depends_on", "mem_limit", "memswap_limit", "cpus",
        "pids_limit", "stop_signal", "stop_grace_period", "tty", "stdin_open", "read_only", "tmpfs", "cap_add",
        "cap_drop", "init", "logging", "container_name", "security_opt", "deploy", NULL
    };
    json_object *built = NULL;
    static const char *const bools[][2] = {
        { "tty", "Tty" }, { "stdin_open", "OpenStdin" }, { "read_only", "ReadonlyRootfs" }, { "init", "Init" },
    };
    static const char *const restarts[] = { "no", "always", "on-failure", "unless-stopped", NULL };
    const char *base = apr_pstrcat(c->p, "services.", name, NULL), *str;
    json_object *o = json_object_new_object(), *body = json_object_new_object(), *hc = json_object_new_object();
    json_object *binds = json_object_new_array(), *mounts = json_object_new_array(), *tmpfs = json_object_new_array();
    json_object *v, *nv = NULL;
    apr_int64_t mem = 0, nano = 0;
    apr_size_t i;
    apr_status_t rv = APR_SUCCESS;

    *pout = o;
    json_object_object_add(o, "tmpfs", tmpfs);   /* removed again below when empty */
    dp_json_own(c->p, body);
    json_object_object_add(body, "HostConfig", hc);
    json_object_object_add(hc, "Binds", binds);
    json_object_object_add(hc, "Mounts", mounts);
    if (!is(s, json_type_object)) return BAD(c, base, "must be a mapping");
    if (!name_ok(name, 63)) return BAD(c, base, "service names are [A-Za-z0-9][A-Za-z0-9_.-]*");
    {
        json_object_object_foreach(s, k, val) {
            (void)val;
            if (!in_list(k, allowed)) {
                const char *hint = !strcmp(k, "build") ? " (build the image with POST /images/build, then name its tag in 'image')" : "";
                return DENY(c, at(c, base, k), "'%s' is not allowed in a compose service%s", k, hint);
            }
        }
    }
    /* image */
    if ((str = dp_json_get_str(s, "image")) == NULL || !text_ok(str, 255) || strchr(str, ' ')) {
        return BAD(c, at(c, base, "image"), "is required (an image name; build images with POST /images/build)");
    }
    dp_json_set_str(o, "image", str);
    dp_json_set_str(body, "Image", str);
    if ((str = dp_json_get_str(s, "container_name")) != NULL || dp_json_get(s, "container_name")) {
        if (str == NULL || !dp_dk_valid_id(str)) return BAD(c, at(c, base, "container_name"), "is not a container name");
        dp_json_set_str(o, "container_name", str);
    }
    for (i = 0; i < 2; ++i) {
        const char *k = i ? "entrypoint" : "command";
        if ((v = dp_json_get(s, k)) != NULL) {
            if ((rv = str_or_list(&nv, c, v, at(c, base, k))) != APR_SUCCESS) return rv;
            json_object_object_add(o, k, nv);
        }
    }
    if ((v = dp_json_get(s, "environment")) != NULL) {
        rv = env_in(&nv, c, v, at(c, base, "environment"));
        json_object_object_add(o, "environment", nv);
        if (rv != APR_SUCCESS) return rv;
        json_object_object_add(body, "Env", json_object_get(nv));
    }
    for (i = 0; i < 2; ++i) {
        const char *k = i ? "expose" : "ports";
        if ((v = dp_json_get(s, k)) != NULL) {
            rv = ports_in(&nv, c, v, at(c, base, k), (int)i);
            json_object_object_add(o, k, nv);
            if (rv != APR_SUCCESS) return rv;
        }
    }
    if ((v = dp_json_get(s, "volumes")) != NULL) {
        rv = volumes_in(&nv, &tmpfs, c, v, at(c, base, "volumes"), binds, mounts);
        json_object_object_add(o, "volumes", nv);
        if (rv != APR_SUCCESS) return rv;
    }
    rv = labels_in(&nv, c, dp_json_get(s, "labels"), at(c, base, "labels"));
    json_object_object_add(o, "labels", nv);
    if (rv != APR_SUCCESS) return rv;
    json_object_object_add(body, "Labels", json_object_get(nv));
    if ((v = dp_json_get(s, "restart")) != NULL) {
        const char *r = is(v, json_type_string) ? json_object_get_string(v) : NULL;
        int ok = r && (in_list(r, restarts) || (!strncmp(r, "on-failure:", 11) && r[11]
                                                 && strspn(r + 11, "0123456789") == strlen(r + 11) && strlen(r + 11) < 6));
        if (!ok) return BAD(c, at(c, base, "restart"), "must be no, always, on-failure[:N] or unless-stopped");
        dp_json_set_str(o, "restart", r);
    }
    if ((v = dp_json_get(s, "healthcheck")) != NULL) {
        rv = healthcheck_in(&nv, c, v, at(c, base, "healthcheck"));
        json_object_object_add(o, "healthcheck", nv);
        if (rv != APR_SUCCESS) return rv;
    }
    if ((v = dp_json_get(s, "working_dir")) != NULL) {
        if (!is(v, json_type_string) || !cpath_ok(json_object_get_string(v))) {
            return BAD(c, at(c, base, "working_dir"), "must be an absolute container path");
        }
        json_object_object_add(o, "working_dir", json_object_get(v));
    }
    if ((v = dp_json_get(s, "user")) != NULL) {
        str = scalar_text(v);
        if (str == NULL || !text_ok(str, 64) || strspn(str, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.:-") != strlen(str)) {
            return BAD(c, at(c, base, "user"), "must be a user name or uid[:gid]");
        }
        dp_json_set_str(o, "user", str);
    }
    if ((v = dp_json_get(s, "hostname")) != NULL) {
        if (!is(v, json_type_string) || !name_ok(json_object_get_string(v), 63)) {
            return BAD(c, at(c, base, "hostname"), "is not a host name");
        }
        json_object_object_add(o, "hostname", json_object_get(v));
    }
    if ((v = dp_json_get(s, "stop_signal")) != NULL) {
        str = scalar_text(v);
        if (str == NULL || !text_ok(str, 16) || strspn(str, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+") != strlen(str)) {
            return BAD(c, at(c, base, "stop_signal"), "is not a signal name (SIGTERM)");
        }
        dp_json_set_str(o, "stop_signal", str);
    }
    if ((v = dp_json_get(s, "stop_grace_period")) != NULL) {
        if (!is(v, json_type_string) || !duration_ok(json_object_get_string(v))) {
            return BAD(c, at(c, base, "stop_grace_period"), "is not a duration (\"10s\")");
        }
        json_object_object_add(o, "stop_grace_period", json_object_get(v));
    }
    if ((v = dp_json_get(s, "deploy")) != NULL) {
        static const char *const k1[] = { "resources", NULL }, *const k2[] = { "limits", NULL };
        static const char *const k3[] = { "memory", "cpus", NULL };
        json_object *r = dp_json_get(v, "resources"), *l = dp_json_get(r, "limits");
        const char *f = at(c, base, "deploy");
        if (!is(v, json_type_object) || (r && !is(r, json_type_object)) || (l && !is(l, json_type_object))) {
            return BAD(c, f, "takes only resources.limits.memory and resources.limits.cpus");
        }
        if ((rv = only_keys(c, v, f, k1, " (only resources.limits)")) != APR_SUCCESS
            || (r && (rv = only_keys(c, r, at(c, f, "resources"), k2, " (only limits)")) != APR_SUCCESS)
            || (l && (rv = only_keys(c, l, at(c, f, "resources.limits"), k3, " (only memory and cpus)")) != APR_SUCCESS)) {
            return rv;
        }
        if (dp_json_get(l, "memory") && (rv = mem_in(&mem, c, dp_json_get(l, "memory"), at(c, f, "resources.limits.memory"))) != APR_SUCCESS) return rv;
        if (dp_json_get(l, "cpus") && (rv = cpus_in(&nano, c, dp_json_get(l, "cpus"), at(c, f, "resources.limits.cpus"))) != APR_SUCCESS) return rv;
    }
    if ((v = dp_json_get(s, "mem_limit")) != NULL) {
        if (mem) return BAD(c, at(c, base, "mem_limit"), "is set twice (mem_limit and deploy.resources.limits.memory)");
        if ((rv = mem_in(&mem, c, v, at(c, base, "mem_limit"))) != APR_SUCCESS) return rv;
    }
    if ((v = dp_json_get(s, "cpus")) != NULL) {
        if (nano) return BAD(c, at(c, base, "cpus"), "is set twice (cpus and deploy.resources.limits.cpus)");
        if ((rv = cpus_in(&nano, c, v, at(c, base, "cpus"))) != APR_SUCCESS) return rv;
    }
    if (mem) {
        json_object_object_add(o, "mem_limit", json_object_new_int64(mem));
        json_object_object_add(hc, "Memory", json_object_new_int64(mem));
    }
    if (nano) {
        json_object_object_add(o, "cpus", json_object_new_double((double)nano / 1e9));
        json_object_object_add(hc, "NanoCpus", json_object_new_int64(nano));
    }
    if ((v = dp_json_get(s, "pids_limit")) != NULL) {
        if (!is(v, json_type_int) || json_object_get_int64(v) < -1 || json_object_get_int64(v) > 4194304) {
            return BAD(c, at(c, base, "pids_limit"), "must be a number from -1 to 4194304");
        }
        json_object_object_add(o, "pids_limit", json_object_new_int64(json_object_get_int64(v)));
        json_object_object_add(hc, "PidsLimit", json_object_new_int64(json_object_get_int64(v)));
    }
    for (i = 0; i < sizeof(bools) / sizeof(bools[0]); ++i) {
        if ((v = dp_json_get(s, bools[i][0])) != NULL) {
            if (!is(v, json_type_boolean)) return BAD(c, at(c, base, bools[i][0]), "must be true or false");
            json_object_object_add(o, bools[i][0], json_object_new_boolean(json_object_get_boolean(v)));
            json_object_object_add(i < 2 ? body : hc, bools[i][1], json_object_new_boolean(json_object_get_boolean(v)));
        }
    }
    if ((v = dp_json_get(s, "tmpfs")) != NULL) {
        json_object *t;
        if ((rv = str_list(&t, c, v, at(c, base, "tmpfs"), 1)) != APR_SUCCESS) {
            return rv;
        }
        for (i = 0; i < json_object_array_length(t); ++i) {
            const char *e = json_object_get_string(json_object_array_get_idx(t, i));
            const char *colon = strchr(e, ':');
            const char *path = colon ? apr_pstrmemdup(c->p, e, (apr_size_t)(colon - e)) : e;
            if (!cpath_ok(path) || (colon && strspn(colon + 1, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789=,") != strlen(colon + 1))) {
                json_object_put(t);
                return BAD(c, at_i(c, at(c, base, "tmpfs"), i), "must be an absolute path with optional size/mode options");
            }
            json_object_array_add(tmpfs, json_object_get(json_object_array_get_idx(t, i)));
        }
        json_object_put(t);
    }
    if (json_object_array_length(tmpfs) > 0) {
        json_object *tm = json_object_new_object();
        for (i = 0; i < json_object_array_length(tmpfs); ++i) {
            const char *e = json_object_get_string(json_object_array_get_idx(tmpfs, i)), *colon = strchr(e, ':');
            json_object_object_add(tm, colon ? apr_pstrmemdup(c->p, e, (apr_size_t)(colon - e)) : e,
                                   json_object_new_string(colon ? colon + 1 : ""));
        }
        json_object_object_add(hc, "Tmpfs", tm);
    }
    else {
        json_object_object_del(o, "tmpfs");
    }
    for (i = 0; i < 3; ++i) {
        static const char *const lists[][2] = { { "cap_add", "CapAdd" }, { "cap_drop", "CapDrop" },
                                                { "security_opt", "SecurityOpt" } };
        if ((v = dp_json_get(s, lists[i][0])) != NULL) {
            if ((rv = str_list(&nv, c, v, at(c, base, lists[i][0]), 0)) != APR_SUCCESS) return rv;
            json_object_object_add(o, lists[i][0], nv);
            json_object_object_add(hc, lists[i][1], json_object_get(nv));
        }
    }
    if ((v = dp_json_get(s, "security_opt")) != NULL) {
        for (i = 0; i < json_object_array_length(v); ++i) {
            const char *so = json_object_get_string(json_object_array_get_idx(v, i));
            if (strcmp(so, "no-new-privileges") && strcmp(so, "no-new-privileges:true")) {
                return DENY(c, at_i(c, at(c, base, "security_opt"), i), "only no-new-privileges is allowed");
            }
        }
    }
    if ((v = dp_json_get(s, "logging")) != NULL) {
        rv = logging_in(&nv, hc, c, v, at(c, base, "logging"));
        json_object_object_add(o, "logging", nv);
        if (rv != APR_SUCCESS) return rv;
    }
    v = dp_json_get(s, "networks");
    if (v == NULL && json_object_object_get_ex(s, "networks", NULL)) {
        return BAD(c, at(c, base, "networks"), "must be a list or a mapping of network names");
    }
    if (v != NULL) {
        rv = svc_networks_in(&nv, c, v, at(c, base, "networks"));
        json_object_object_add(o, "networks", nv);
        if (rv != APR_SUCCESS) return rv;
    }
    else {
        c->default_net = 1;
    }
    if ((v = dp_json_get(s, "depends_on")) != NULL) {
        rv = depends_in(&nv, c, v, at(c, base, "depends_on"));
        json_object_object_add(o, "depends_on", nv);
        if (rv != APR_SUCCESS) return rv;
    }
    if (json_object_array_length(binds) == 0) json_object_object_del(hc, "Binds");
    if (json_object_array_length(mounts) == 0) json_object_object_del(hc, "Mounts");

    /* the same create policy as POST /containers; the service runs with the limits it built */
    if ((rv = dp_dk_policy_build(&built, c->pprob, c->p, c->pol, body)) != APR_SUCCESS) {
        dp_problem_t *pr = *c->pprob;
        const char *df = dp_json_get_str(pr->ext, "field");
        const char *cf = policy_field(c, base, df);
        pr->detail = apr_pstrcat(c->p, cf, ": ", pr->detail, NULL);
        dp_problem_add(pr, c->p, "field", json_object_new_string(cf));
        return rv;
    }
    if ((rv = limits_out(c, o, dp_json_get(built, "HostConfig"))) != APR_SUCCESS) {
        return rv;
    }
    ++c->plan->need.containers;
    return APR_SUCCESS;
}

/* Checks a top-level volume or network definition; *pout gets the normalised one. */
static apr_status_t object_in(json_object **pout, ck_t *c, const char *kind, const char *name, json_object *v)
{
    static const char *const vol_keys[] = { "driver", "driver_opts", "labels", "external", "name", NULL };
    static const char *const net_keys[] = { "driver", "labels", "external", "name", "internal", "attachable", NULL };
    int vol = !strcmp(kind, "volume");
    const char *base = apr_pstrcat(c->p, vol ? "volumes." : "networks.", name, NULL), *driver, *ename;
    json_object *o = json_object_new_object(), *ext, *nv;
    dp_dk_compose_ref_t *ref = apr_array_push(c->plan->refs);
    apr_status_t rv;

    *pout = o;
    ref->kind = kind;
    ref->field = base;
    if (!name_ok(name, 63)) return BAD(c, base, "names are [A-Za-z0-9][A-Za-z0-9_.-]*");
    if (v != NULL && !is(v, json_type_object)) return BAD(c, base, "must be a mapping or null");
    if (v && (rv = only_keys(c, v, base, vol ? vol_keys : net_keys, NULL)) != APR_SUCCESS) return rv;
    ext = dp_json_get(v, "external");
    ename = dp_json_get_str(v, "name");
    if (dp_json_get(v, "name") && (ename == NULL || !name_ok(ename, 200))) {
        return BAD(c, at(c, base, "name"), "is not a %s name", kind);
    }
    if (ext && !(is(ext, json_type_boolean) && !json_object_get_boolean(ext))) {
        static const char *const ext_keys[] = { "external", "name", NULL };
        if (is(ext, json_type_object)) {
            const char *en = dp_json_get_str(ext, "name");
            if (json_object_object_length(ext) != 1 || en == NULL || !name_ok(en, 200) || (ename && strcmp(en, ename))) {
                return BAD(c, at(c, base, "external"), "must be true or {name: NAME}");
            }
            ename = en;
        }
        else if (!is(ext, json_type_boolean)) {
            return BAD(c, at(c, base, "external"), "must be true or false");
        }
        if ((rv = only_keys(c, v, base, ext_keys, " (an external object takes only 'name')")) != APR_SUCCESS) return rv;
        ref->external = 1;
        ref->name = ename ? ename : name;
        if (!vol && (!strcmp(ref->name, "host") || !strcmp(ref->name, "none"))
            && !(c->pol->allow & DP_DK_ALLOW_HOST_NAMESPACES)) {
            return DENY(c, base, "the engine's '%s' network is not allowed (DockpayPolicyAllow host-namespaces)",
                        ref->name);
        }
        json_object_object_add(o, "external", json_object_new_boolean(1));
        dp_json_set_str(o, "name", ref->name);
        return APR_SUCCESS;
    }
    if (ename) {
        return DENY(c, at(c, base, "name"), "a custom name is not allowed: the %s is named %s_%s", kind, c->project, name);
    }
    ref->name = apr_pstrcat(c->p, c->project, "_", name, NULL);
    driver = dp_json_get_str(v, "driver");
    if (dp_json_get(v, "driver") && (driver == NULL || strcmp(driver, vol ? "local" : "bridge"))) {
        return DENY(c, at(c, base, "driver"), "only the %s driver is allowed", vol ? "local" : "bridge");
    }
    if (driver) dp_json_set_str(o, "driver", driver);
    if (vol) {
        json_object *opts = dp_json_get(v, "driver_opts");
        if (opts) {
            json_object *no = json_object_new_object();
            json_object_object_add(o, "driver_opts", no);
            if (!is(opts, json_type_object)) return BAD(c, at(c, base, "driver_opts"), "must be a mapping of strings");
            {
                json_object_object_foreach(opts, k, val) {
                    const char *s = scalar_text(val);
                    if (s == NULL) return BAD(c, at(c, at(c, base, "driver_opts"), k), "must be a string");
                    dp_json_set_str(no, k, s);
                }
            }
            if ((rv = dp_dk_policy_volume(c->pprob, c->p, c->pol, "local", no, at(c, base, "driver_opts"))) != APR_SUCCESS) {
                return rv;
            }
        }
        ++c->plan->need.volumes;
    }
    else {
        int i;
        for (i = 0; i < 2; ++i) {
            const char *k = i ? "attachable" : "internal";
            json_object *b = dp_json_get(v, k);
            if (b == NULL) continue;
            if (!is(b, json_type_boolean)) return BAD(c, at(c, base, k), "must be true or false");
            json_object_object_add(o, k, json_object_new_boolean(json_object_get_boolean(b)));
        }
    }
    rv = labels_in(&nv, c, dp_json_get(v, "labels"), at(c, base, "labels"));
    json_object_object_add(o, "labels", nv);
    return rv;
}

/* Checks a compose file and builds the normalised document. */
apr_status_t dp_dk_compose_check(dp_dk_compose_plan_t *plan, dp_problem_t **pprob, apr_pool_t *p,
                                 const dp_dk_policy_t *pol, const char *yaml, apr_size_t len,
                                 const char *project, const char *key_name)
{
    static const char *const top_keys[] = { "version", "services", "volumes", "networks", NULL };
    json_object *in = NULL, *doc, *v, *sec;
    dp_problem_t *prob = NULL;
    ck_t c;
    apr_status_t rv;
    int i;

    memset(plan, 0, sizeof(*plan));
    memset(&c, 0, sizeof(c));
    plan->refs = apr_array_make(p, 8, sizeof(dp_dk_compose_ref_t));
    c.p = p;
    c.pprob = pprob ? pprob : &prob;
    c.pol = pol;
    c.project = project;
    c.key = key_name ? key_name : "";
    c.plan = plan;
    if ((rv = dp_yaml_parse(&in, c.pprob, p, yaml, len)) != APR_SUCCESS) {
        return rv;
    }
    if (!is(in, json_type_object)) {
        return dp_problem_fail(c.pprob, p, 422, "invalid_value", "the compose file must be a mapping with 'services'");
    }
    {
        json_object_object_foreach(in, k, val) {
            (void)val;
            if (strncmp(k, "x-", 2) && !in_list(k, top_keys)) {
                const char *why = !strcmp(k, "secrets") || !strcmp(k, "configs") ? " (they read host files)"
                                  : !strcmp(k, "include") ? " (it reads other files)" : "";
                return ck_fail(&c, 403, "policy_denied", k, "the top-level key '%s' is not allowed%s", k, why);
            }
        }
    }
    if ((rv = no_interpolation(&c, in, "", 1)) != APR_SUCCESS) {
        return rv;
    }
    if ((v = dp_json_get(in, "version")) != NULL) {
        const char *ver = scalar_text(v);
        if (ver == NULL || is(v, json_type_boolean) || !(ver[0] == '2' || ver[0] == '3') || (ver[1] && ver[1] != '.')
            || strlen(ver) > 4) {
            return BAD(&c, "version", "must be a 2.x or 3.x file format version");
        }
    }
    c.services = dp_json_get(in, "services");
    c.in_volumes = dp_json_get(in, "volumes");
    c.in_networks = dp_json_get(in, "networks");
    if (!is(c.services, json_type_object)) return BAD(&c, "services", "must be a mapping of services");
    if (c.in_volumes && !is(c.in_volumes, json_type_object)) return BAD(&c, "volumes", "must be a mapping");
    if (c.in_networks && !is(c.in_networks, json_type_object)) return BAD(&c, "networks", "must be a mapping");
    if (json_object_object_length(c.services) > 64) return BAD(&c, "services", "at most 64 services");

    doc = dp_json_object(p);
    dp_json_set_str(doc, "version", "2.4");
    sec = json_object_new_object();
    json_object_object_add(doc, "services", sec);
    {
        json_object_object_foreach(c.services, name, s) {
            json_object *out = NULL;
            rv = service_in(&out, &c, name, s);
            json_object_object_add(sec, name, out);
            if (rv != APR_SUCCESS) return rv;
        }
    }
    for (i = 0; i < 2; ++i) {
        json_object *src = i ? c.in_networks : c.in_volumes;
        if (src == NULL && !(i && c.default_net)) continue;
        sec = json_object_new_object();
        json_object_object_add(doc, i ? "networks" : "volumes", sec);
        if (src) {
            json_object_object_foreach(src, name, d) {
                json_object *out = NULL;
                rv = object_in(&out, &c, i ? "network" : "volume", name, d);
                json_object_object_add(sec, name, out);
                if (rv != APR_SUCCESS) return rv;
            }
        }
        if (i && c.default_net && !json_object_object_get_ex(sec, "default", NULL)) {
            json_object *out = NULL;
            rv = object_in(&out, &c, "network", "default", NULL);
            json_object_object_add(sec, "default", out);
            if (rv != APR_SUCCESS) return rv;
        }
    }
    plan->doc = doc;
    return APR_SUCCESS;
}

/* ------------------------------------------------------------------------------------------ */
/* projects from labels */

static const char *label_of(json_object *c, const char *key)
{
    return dp_json_get_str(dp_json_get(c, "Labels"), key);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Returns the alphabetically ordered status summary of containers. */
const char *dp_dk_compose_status(apr_pool_t *p, json_object *containers)
{
    apr_hash_t *counts = apr_hash_make(p);
    apr_array_header_t *keys = apr_array_make(p, 4, sizeof(const char *));
    const char *out = "";
    size_t i, n = containers ? json_object_array_length(containers) : 0;
    int k;

    for (i = 0; i < n; ++i) {
        const char *st = dp_json_get_str(json_object_array_get_idx(containers, i), "State");
        int *cnt;
        if (st == NULL || *st == '\0') st = "unknown";
        if ((cnt = apr_hash_get(counts, st, APR_HASH_KEY_STRING)) == NULL) {
            cnt = apr_pcalloc(p, sizeof(*cnt));
            apr_hash_set(counts, st, APR_HASH_KEY_STRING, cnt);
            APR_ARRAY_PUSH(keys, const char *) = st;
        }
        ++*cnt;
    }
    qsort(keys->elts, (size_t)keys->nelts, sizeof(const char *), cmp_str);
    for (k = 0; k < keys->nelts; ++k) {
        const char *st = APR_ARRAY_IDX(keys, k, const char *);
        out = apr_psprintf(p, "%s%s%s(%d)", out, k ? ", " : "", st,
                           *(int *)apr_hash_get(counts, st, APR_HASH_KEY_STRING));
    }
    return out;
}

typedef struct {
    const char *name;
    json_object *members;       /* borrowed container objects (array owned by the pool) */
    apr_array_header_t *services;
    apr_hash_t *seen;
    const char *working_dir, *config_files;
} project_t;

/* Groups Docker list objects by their project label. */
json_object *dp_dk_compose_group(apr_pool_t *p, json_object *containers)
{
    apr_hash_t *projects = apr_hash_make(p);
    apr_array_header_t *names = apr_array_make(p, 8, sizeof(const char *));
    json_object *out = dp_json_array(p);
    size_t i, n = containers ? json_object_array_length(containers) : 0;
    int k;

    for (i = 0; i < n; ++i) {
        json_object *c = json_object_array_get_idx(containers, i);
        const char *name = label_of(c, DP_DK_COMPOSE_LABEL_PROJECT);
        const char *oneoff = label_of(c, LABEL_ONEOFF);
        const char *svc = label_of(c, LABEL_SERVICE);
        project_t *pr;

        if (name == NULL || *name == '\0' || (oneoff && !strcasecmp(oneoff, "true"))) {
            continue;
        }
        if ((pr = apr_hash_get(projects, name, APR_HASH_KEY_STRING)) == NULL) {
            pr = apr_pcalloc(p, sizeof(*pr));
            pr->name = name;
            pr->members = dp_json_array(p);
            pr->services = apr_array_make(p, 4, sizeof(const char *));
            pr->seen = apr_hash_make(p);
            apr_hash_set(projects, name, APR_HASH_KEY_STRING, pr);
            APR_ARRAY_PUSH(names, const char *) = name;
        }
        json_object_array_add(pr->members, json_object_get(c));
        if (svc && !apr_hash_get(pr->seen, svc, APR_HASH_KEY_STRING)) {
            apr_hash_set(pr->seen, svc, APR_HASH_KEY_STRING, svc);
            APR_ARRAY_PUSH(pr->services, const char *) = svc;
        }
        if (pr->working_dir == NULL) pr->working_dir = label_of(c, LABEL_WORKDIR);
        if (pr->config_files == NULL) pr->config_files = label_of(c, LABEL_FILES);
    }
    qsort(names->elts, (size_t)names->nelts, sizeof(const char *), cmp_str);
    for (k = 0; k < names->nelts; ++k) {
        project_t *pr = apr_hash_get(projects, APR_ARRAY_IDX(names, k, const char *), APR_HASH_KEY_STRING);
        json_object *o = json_object_new_object(), *svcs = json_object_new_array();
        json_object *files = json_object_new_array();
        int j;

        qsort(pr->services->elts, (size_t)pr->services->nelts, sizeof(const char *), cmp_str);
        for (j = 0; j < pr->services->nelts; ++j) {
            json_object_array_add(svcs, json_object_new_string(APR_ARRAY_IDX(pr->services, j, const char *)));
        }
        if (pr->config_files) {
            char *list = apr_pstrdup(p, pr->config_files), *last = NULL, *f;
            for (f = apr_strtok(list, ",", &last); f; f = apr_strtok(NULL, ",", &last)) {
                json_object_array_add(files, json_object_new_string(f));
            }
        }
        json_object_object_add(o, "name", json_object_new_string(pr->name));
        json_object_object_add(o, "status", json_object_new_string(dp_dk_compose_status(p, pr->members)));
        json_object_object_add(o, "services", svcs);
        json_object_object_add(o, "container_count", json_object_new_int((int)json_object_array_length(pr->members)));
        json_object_object_add(o, "working_dir", pr->working_dir ? json_object_new_string(pr->working_dir) : NULL);
        json_object_object_add(o, "config_files", files);
        json_object_array_add(out, o);
    }
    return out;
}

typedef struct {
    json_object *c;
    const char *service;
    long number;
} order_t;

static int cmp_order(const void *a, const void *b)
{
    const order_t *x = a, *y = b;
    int r = strcmp(x->service, y->service);

    if (r) return r;
    return x->number < y->number ? -1 : x->number > y->number;
}

/* Orders the containers by service then container number. */
json_object *dp_dk_compose_order(apr_pool_t *p, json_object *containers, int reverse)
{
    size_t i, n = containers ? json_object_array_length(containers) : 0;
    order_t *v = apr_pcalloc(p, (n ? n : 1) * sizeof(*v));
    json_object *out = dp_json_array(p);

    for (i = 0; i < n; ++i) {
        const char *num;
        v[i].c = json_object_array_get_idx(containers, i);
        v[i].service = label_of(v[i].c, LABEL_SERVICE);
        if (v[i].service == NULL) v[i].service = "";
        num = label_of(v[i].c, LABEL_NUMBER);
        v[i].number = num ? strtol(num, NULL, 10) : 0;
    }
    qsort(v, n, sizeof(*v), cmp_order);
    for (i = 0; i < n; ++i) {
        json_object_array_add(out, json_object_get(v[reverse ? n - 1 - i : i].c));
    }
    return out;
}

/* Splits the compose command into argv words and appends args. */
const char **dp_dk_compose_argv(apr_pool_t *p, const char *command, const char *const *args)
{
    apr_array_header_t *a = apr_array_make(p, 12, sizeof(const char *));
    char *cmd = apr_pstrdup(p, command), *last = NULL, *w;

    for (w = apr_strtok(cmd, " \t", &last); w; w = apr_strtok(NULL, " \t", &last)) {
        APR_ARRAY_PUSH(a, const char *) = w;
    }
    for (; args && *args; ++args) {
        APR_ARRAY_PUSH(a, const char *) = *args;
    }
    APR_ARRAY_PUSH(a, const char *) = NULL;
    return (const char **)a->elts;
}

/* ------------------------------------------------------------------------------------------ */
/* running a command */

/* Finds prog in the PATH of env (or a default PATH); absolute names are taken as they are. */
static const char *find_program(apr_pool_t *p, const char *prog, const char *const *env)
{
    const char *path = DEFAULT_PATH;
    char *dirs, *last = NULL, *d;

    if (strchr(prog, '/')) {
        return access(prog, X_OK) == 0 ? prog : NULL;
    }
    for (; env && *env; ++env) {
        if (!strncmp(*env, "PATH=", 5)) path = *env + 5;
    }
    dirs = apr_pstrdup(p, path);
    for (d = apr_strtok(dirs, ":", &last); d; d = apr_strtok(NULL, ":", &last)) {
        const char *f = apr_pstrcat(p, d, "/", prog, NULL);
        if (d[0] == '/' && access(f, X_OK) == 0) {
            return f;
        }
    }
    return NULL;
}

/* Appends what the pipe has (up to the cap; the rest is read and dropped). */
static void collect(dp_dk_run_t *res, char *buf, apr_size_t *plen, apr_size_t max, const char *data,
                    apr_size_t n)
{
    apr_size_t room = max - *plen;

    if (n > room) {
        res->output_truncated = 1;
        n = room;
    }
    memcpy(buf + *plen, data, n);
    *plen += n;
}

/* Runs argv with a time limit, capturing its output. */
apr_status_t dp_dk_run(dp_dk_run_t *res, dp_problem_t **pprob, apr_pool_t *p, const char *const *argv,
                       const char *const *env, const char *dir, int timeout_s, apr_size_t max_output)
{
    apr_procattr_t *attr;
    apr_proc_t proc;
    apr_file_t *rd = NULL, *wr = NULL, *devnull = NULL;
    const char *prog;
    const char **args;
    char *buf = apr_palloc(p, max_output + 1), chunk[8192];
    apr_size_t len = 0, i, n;
    apr_time_t deadline = apr_time_now() + apr_time_from_sec(timeout_s), killed_at = 0;
    int use_setsid = access(SETSID_PATH, X_OK) == 0, code = 0, sig = 0;
    apr_exit_why_e why;
    apr_status_t rv;

    memset(res, 0, sizeof(*res));
    if ((prog = find_program(p, argv[0], env)) == NULL) {
        return dp_problem_fail(pprob, p, 503, "compose_unavailable",
                               "the compose command '%s' is not installed", argv[0]);
    }
    for (n = 0; argv[n]; ++n) ;
    args = apr_pcalloc(p, (n + 2) * sizeof(*args));
    i = 0;
    if (use_setsid) args[i++] = SETSID_PATH;
    args[i++] = prog;
    memcpy(args + i, argv + 1, n * sizeof(*args));  /* the rest and the NULL */
    if ((rv = apr_file_pipe_create_ex(&rd, &wr, APR_WRITE_BLOCK, p)) != APR_SUCCESS
        || (rv = apr_file_open(&devnull, "/dev/null", APR_FOPEN_READ, APR_OS_DEFAULT, p)) != APR_SUCCESS
        || (rv = apr_procattr_create(&attr, p)) != APR_SUCCESS
        || (rv = apr_procattr_child_in_set(attr, devnull, NULL)) != APR_SUCCESS
        || (rv = apr_procattr_child_out_set(attr, wr, NULL)) != APR_SUCCESS
        || (rv = apr_procattr_child_err_set(attr, wr, NULL)) != APR_SUCCESS
        || (rv = apr_procattr_dir_set(attr, dir)) != APR_SUCCESS
        || (rv = apr_procattr_cmdtype_set(attr, APR_PROGRAM)) != APR_SUCCESS
        || (rv = apr_procattr_error_check_set(attr, 1)) != APR_SUCCESS
        || (rv = apr_proc_create(&proc, args[0], args, env, attr, p)) != APR_SUCCESS) {
        if (wr) apr_file_close(wr);
        if (rd) apr_file_close(rd);
        return dp_problem_fail(pprob, p, 500, "compose_start_failed", "the compose command could not be started");
    }
    apr_file_close(wr);
    apr_file_close(devnull);

    for (;;) {
        apr_time_t now = apr_time_now();
        if (killed_at == 0 && now >= deadline) {
            res->timed_out = 1;
            kill(use_setsid ? -proc.pid : proc.pid, SIGTERM);
            killed_at = now;
        }
        else if (killed_at && now >= killed_at + apr_time_from_sec(3)) {
            kill(use_setsid ? -proc.pid : proc.pid, SIGKILL);
            if (now >= killed_at + apr_time_from_sec(6)) {
                break;  /* something keeps the pipe open: stop reading */
            }
        }
        apr_file_pipe_timeout_set(rd, apr_time_from_msec(200));
        n = sizeof(chunk);
        rv = apr_file_read(rd, chunk, &n);
        if (n > 0) {
            collect(res, buf, &len, max_output, chunk, n);
        }
        if (rv == APR_EOF) {
            break;
        }
        if (rv != APR_SUCCESS && !APR_STATUS_IS_TIMEUP(rv) && !APR_STATUS_IS_EAGAIN(rv)) {
            break;
        }
    }
    apr_file_close(rd);
    /* the output ended; the process should be gone or going */
    while ((rv = apr_proc_wait(&proc, &code, &why, APR_NOWAIT)) == APR_CHILD_NOTDONE) {
        apr_time_t now = apr_time_now();
        if (killed_at == 0 && now >= deadline) {
            res->timed_out = 1;
            kill(use_setsid ? -proc.pid : proc.pid, SIGTERM);
            killed_at = now;
        }
        else if (killed_at && now >= killed_at + apr_time_from_sec(3) && !sig) {
            kill(use_setsid ? -proc.pid : proc.pid, SIGKILL);
            sig = 1;
        }
        apr_sleep(apr_time_from_msec(50));
    }
    if (use_setsid) {
        kill(-proc.pid, SIGKILL);  /* leftovers of the group, if any */
    }
    res->exit_code = rv == APR_CHILD_DONE ? (why == APR_PROC_EXIT ? code : 128 + code) : -1;
    buf[len] = '\0';
    res->output = buf;
    res->output_len = len;
    return APR_SUCCESS;
}

/* Writes data to dir/name atomically. */
apr_status_t dp_dk_write_file(dp_problem_t **pprob, apr_pool_t *p, const char *dir, const char *name,
                              const char *data, apr_size_t len)
{
    apr_file_t *f = NULL;
    char *tmp = apr_pstrcat(p, dir, "/.", name, ".XXXXXX", NULL);
    const char *final = apr_pstrcat(p, dir, "/", name, NULL);
    apr_size_t done = 0;
    apr_status_t rv;

    if ((rv = apr_dir_make_recursive(dir, APR_FPROT_UREAD | APR_FPROT_UWRITE | APR_FPROT_UEXECUTE
                                          | APR_FPROT_GREAD | APR_FPROT_GEXECUTE, p)) != APR_SUCCESS) {
        return dp_problem_fail(pprob, p, 500, "compose_root_unwritable",
                               "the compose folder cannot be created (DockpayComposeRoot)");
    }
    if ((rv = apr_file_mktemp(&f, tmp, APR_FOPEN_CREATE | APR_FOPEN_WRITE | APR_FOPEN_EXCL
                                       | APR_FOPEN_BINARY, p)) != APR_SUCCESS) {
        return dp_problem_fail(pprob, p, 500, "compose_root_unwritable",
                               "the compose file cannot be written (DockpayComposeRoot)");
    }
    rv = apr_file_write_full(f, data, len, &done);
    if (rv == APR_SUCCESS) rv = apr_file_flush(f);
    if (apr_file_close(f) != APR_SUCCESS && rv == APR_SUCCESS) rv = APR_EGENERAL;
    if (rv == APR_SUCCESS) rv = apr_file_perms_set(tmp, APR_FPROT_UREAD | APR_FPROT_UWRITE | APR_FPROT_GREAD);
    if (rv == APR_SUCCESS) rv = apr_file_rename(tmp, final, p);
    if (rv != APR_SUCCESS) {
        apr_file_remove(tmp, p);
        return dp_problem_fail(pprob, p, 500, "compose_root_unwritable",
                               "the compose file cannot be written (DockpayComposeRoot)");
    }
    return APR_SUCCESS;
}

/* Removes every entry of dir except keep. */
apr_status_t dp_dk_clean_dir(dp_problem_t **pprob, apr_pool_t *p, const char *dir, const char *keep)
{
    apr_dir_t *d;
    apr_finfo_t fi;
    apr_status_t rv = APR_SUCCESS;

    if (apr_dir_open(&d, dir, p) != APR_SUCCESS) {
        return APR_SUCCESS;
    }
    while (apr_dir_read(&fi, APR_FINFO_NAME | APR_FINFO_TYPE, d) == APR_SUCCESS) {
        const char *path;
        if (!strcmp(fi.name, ".") || !strcmp(fi.name, "..") || (keep && !strcmp(fi.name, keep))) {
            continue;
        }
        path = apr_pstrcat(p, dir, "/", fi.name, NULL);
        if ((fi.filetype == APR_DIR ? apr_dir_remove(path, p) : apr_file_remove(path, p)) != APR_SUCCESS) {
            rv = dp_problem_fail(pprob, p, 500, "compose_root_unwritable",
                                 "the project folder cannot be emptied (DockpayComposeRoot)");
            break;
        }
    }
    apr_dir_close(d);
    return rv;
}
