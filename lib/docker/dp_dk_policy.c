/* dp_dk_policy: simple create body → Docker create body; the fail-closed create policy. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <errno.h>
#include <limits.h>
#include <arpa/inet.h>
#include <apr_strings.h>
#include <apr_lib.h>

#include "dp_dk_policy.h"
#include "dp_json.h"

/* ------------------------------------------------------------------------------------------ */
/* problems that name a field */

/* Fails with status/code, a detail "FIELD: ..." and a "field" extension member. */
static apr_status_t field_fail(dp_problem_t **pprob, apr_pool_t *p, int status, const char *code,
                               const char *field, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

static apr_status_t field_fail(dp_problem_t **pprob, apr_pool_t *p, int status, const char *code,
                               const char *field, const char *fmt, ...)
{
    dp_problem_t *prob;
    va_list ap;

    if (pprob == NULL) {
        return DP_EPROBLEM;
    }
    prob = dp_problem_make(p, status, code, NULL);
    va_start(ap, fmt);
    prob->detail = apr_pstrcat(p, field, ": ", apr_pvsprintf(p, fmt, ap), NULL);
    va_end(ap);
    dp_problem_add(prob, p, "field", json_object_new_string(field));
    *pprob = prob;
    return DP_EPROBLEM;
}

/* 403 policy_denied, 400 wrong_type and 422 invalid_value, each naming the field. */
#define deny(pprob, p, field, ...)      field_fail(pprob, p, 403, "policy_denied", field, __VA_ARGS__)
#define bad_type(pprob, p, field, ...)  field_fail(pprob, p, 400, "wrong_type", field, __VA_ARGS__)
#define bad_value(pprob, p, field, ...) field_fail(pprob, p, 422, "invalid_value", field, __VA_ARGS__)

static const char *idx(apr_pool_t *p, const char *field, apr_size_t i)
{
    return apr_psprintf(p, "%s[%lu]", field, (unsigned long)i);
}

static int is_type(json_object *v, json_type t)
{
    return v && json_object_is_type(v, t);
}

/* Reads an optional array of strings at o.key (400 for another type). */
static apr_status_t str_array(json_object **parr, dp_problem_t **pprob, apr_pool_t *p,
                              json_object *o, const char *key, const char *field)
{
    json_object *a = dp_json_get(o, key);
    apr_size_t i, n;

    *parr = NULL;
    if (a == NULL) {
        return APR_SUCCESS;
    }
    if (!is_type(a, json_type_array)) {
        return bad_type(pprob, p, field, "must be an array of strings");
    }
    n = json_object_array_length(a);
    for (i = 0; i < n; ++i) {
        if (!is_type(json_object_array_get_idx(a, i), json_type_string)) {
            return bad_type(pprob, p, idx(p, field, i), "must be a string");
        }
    }
    *parr = a;
    return APR_SUCCESS;
}

static const char *arr_str(json_object *a, apr_size_t i)
{
    return json_object_get_string(json_object_array_get_idx(a, i));
}

/* ------------------------------------------------------------------------------------------ */
/* names, sizes, paths */

/* True when s is 1..max characters of [A-Za-z0-9][A-Za-z0-9_.-]*. */
static int name_chars(const char *s, apr_size_t max)
{
    apr_size_t i;

    if (s == NULL || !apr_isalnum(s[0])) {
        return 0;
    }
    for (i = 1; s[i]; ++i) {
        if (!(apr_isalnum(s[i]) || s[i] == '_' || s[i] == '.' || s[i] == '-') || i >= max) {
            return 0;
        }
    }
    return 1;
}

/* True for a container id or name this API passes to Docker. */
int dp_dk_valid_id(const char *s)
{
    return name_chars(s, 128);
}

/* True for a volume name Docker accepts. */
int dp_dk_valid_volume_name(const char *s)
{
    return name_chars(s, 255) && s[1] != '\0';
}

/* Returns path normalised, or NULL when not absolute. */
const char *dp_dk_path_normalise(apr_pool_t *p, const char *path)
{
    apr_size_t n, o = 0;
    const char *s;
    char *out;

    if (path == NULL || path[0] != '/') {
        return NULL;
    }
    n = strlen(path);
    out = apr_palloc(p, n + 2);
    s = path;
    while (*s) {
        const char *e;
        apr_size_t len;
        while (*s == '/') ++s;
        if (*s == '\0') break;
        e = strchr(s, '/');
        len = e ? (apr_size_t)(e - s) : strlen(s);
        if (len == 1 && s[0] == '.') {
            /* nothing */
        }
        else if (len == 2 && s[0] == '.' && s[1] == '.') {
            while (o > 0 && out[o - 1] != '/') --o;
            if (o > 0) --o;   /* the '/' before the dropped segment */
        }
        else {
            out[o++] = '/';
            memcpy(out + o, s, len);
            o += len;
        }
        s += len;
    }
    if (o == 0) {
        out[o++] = '/';
    }
    out[o] = '\0';
    return out;
}

/* True when path is base or below it (whole segments). */
static int path_under(const char *path, const char *base)
{
    apr_size_t n = strlen(base);

    if (n == 1 && base[0] == '/') {
        return 1;
    }
    return !strncmp(path, base, n) && (path[n] == '\0' || path[n] == '/');
}

/* Host paths that are never mountable, nor their parents or children. */
static const char *const never_paths[] = {
    "/etc", "/proc", "/sys", "/dev", "/boot", "/var/lib/docker",
    "/var/run/docker.sock", "/run/docker.sock", NULL
};

/* Returns why the normalised path is never allowed, or NULL. */
static const char *never_reason(const dp_dk_policy_t *pol, const char *path)
{
    const char *const *n;
    const char *base = strrchr(path, '/');
    apr_size_t bl = strlen(base);

    if (!strcmp(path, "/")) {
        return "the host's root is never mountable";
    }
    if (bl >= 11 && !strcmp(base + bl - 11, "docker.sock")) {
        return "a Docker socket is never mountable";
    }
    for (n = never_paths; *n; ++n) {
        if (path_under(path, *n) || path_under(*n, path)) {
            return "this host path (or what it contains) is never mountable";
        }
    }
    if (pol->socket && (path_under(pol->socket, path) || path_under(path, pol->socket))) {
        return "the Docker socket is never mountable";
    }
    return NULL;
}

/* True when path is below one of the allowed prefixes. */
static int path_allowed(const dp_dk_policy_t *pol, const char *path)
{
    int i;

    for (i = 0; pol->binds && i < pol->binds->nelts; ++i) {
        if (path_under(path, APR_ARRAY_IDX(pol->binds, i, const char *))) {
            return 1;
        }
    }
    return 0;
}

/* True when the raw path has a ".." component: refused before anything is resolved, because
 * mount(2) follows the raw string while a normaliser would drop it. */
static int has_dotdot(const char *path)
{
    const char *s = path;

    while ((s = strstr(s, "..")) != NULL) {
        if ((s == path || s[-1] == '/') && (s[2] == '\0' || s[2] == '/')) {
            return 1;
        }
        s += 2;
    }
    return 0;
}

/* Checks that a host path may be bind-mounted and resolves it. */
apr_status_t dp_dk_policy_bind_source(const char **preal, dp_problem_t **pprob, apr_pool_t *p,
                                      const dp_dk_policy_t *pol, const char *path, const char *field)
{
    const char *norm = dp_dk_path_normalise(p, path), *real, *why;
    char buf[PATH_MAX];

    if (preal) {
        *preal = NULL;
    }
    if (norm == NULL) {
        return deny(pprob, p, field, "'%s' is not an absolute host path", path);
    }
    if (has_dotdot(path)) {
        return deny(pprob, p, field, "a host path with a '..' component is not allowed (%s)", path);
    }
    if ((why = never_reason(pol, norm)) != NULL) {
        return deny(pprob, p, field, "%s (%s)", why, norm);
    }
    if (!path_allowed(pol, norm)) {
        return deny(pprob, p, field, "bind mounts of host paths outside DockpayBindAllow are not "
                    "allowed (%s)", norm);
    }
    if (realpath(norm, buf) == NULL) {
        return deny(pprob, p, field, "the host path %s %s", norm,
                    errno == ENOENT || errno == ENOTDIR ? "does not exist (create it first)"
                                                         : "cannot be examined");
    }
    real = apr_pstrdup(p, buf);
    if ((why = never_reason(pol, real)) != NULL) {
        return deny(pprob, p, field, "%s (%s leads to %s)", why, norm, real);
    }
    if (!path_allowed(pol, real)) {
        return deny(pprob, p, field, "%s leads to %s, outside DockpayBindAllow", norm, real);
    }
    if (preal) {
        *preal = real;
    }
    return APR_SUCCESS;
}

/* Checks that a host path may be bind-mounted. */
apr_status_t dp_dk_policy_host_path(dp_problem_t **pprob, apr_pool_t *p, const dp_dk_policy_t *pol,
                                    const char *path, const char *field)
{
    return dp_dk_policy_bind_source(NULL, pprob, p, pol, path, field);
}

/* ------------------------------------------------------------------------------------------ */
/* policy helpers */

/* Reads an optional string member (400 for another type). */
static apr_status_t opt_str(const char **pval, dp_problem_t **pprob, apr_pool_t *p, json_object *o,
                            const char *key, const char *field)
{
    json_object *v = dp_json_get(o, key);

    *pval = NULL;
    if (v && !is_type(v, json_type_string)) {
        return bad_type(pprob, p, field, "must be a string");
    }
    *pval = v ? json_object_get_string(v) : NULL;
    return APR_SUCCESS;
}

/* Reads an optional object member (400 for another type). */
static apr_status_t opt_obj(json_object **pval, dp_problem_t **pprob, apr_pool_t *p, json_object *o,
                            const char *key, const char *field)
{
    json_object *v = dp_json_get(o, key);

    *pval = NULL;
    if (v && !is_type(v, json_type_object)) {
        return bad_type(pprob, p, field, "must be an object");
    }
    *pval = v;
    return APR_SUCCESS;
}

/* True when the capability name (with or without CAP_, any case) is in list. */
static int cap_in(const char *cap, const char *const *list, const apr_array_header_t *arr)
{
    int i;

    if (!strncasecmp(cap, "CAP_", 4)) {
        cap += 4;
    }
    for (i = 0; list && list[i]; ++i) {
        if (!strcasecmp(cap, list[i])) return 1;
    }
    for (i = 0; arr && i < arr->nelts; ++i) {
        if (!strcasecmp(cap, APR_ARRAY_IDX(arr, i, const char *))) return 1;
    }
    return 0;
}

/* Docker's default capability set (HostConfig.Capabilities may restate it). */
static const char *const default_caps[] = {
    "CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD", "NET_RAW", "SETGID", "SETUID",
    "SETFCAP", "SETPCAP", "NET_BIND_SERVICE", "SYS_CHROOT", "KILL", "AUDIT_WRITE", NULL
};

/* Checks a volume's driver and options. */
apr_status_t dp_dk_policy_volume(dp_problem_t **pprob, apr_pool_t *p, const dp_dk_policy_t *pol,
                                 const char *driver, json_object *opts, const char *field)
{
    const char *type = NULL, *o = NULL, *device = NULL;
    apr_status_t rv;

    if (driver && *driver && strcmp(driver, "local")) {
        return APR_SUCCESS;  /* a plugin the administrator installed: its options are its own */
    }
    if (opts == NULL) {
        return APR_SUCCESS;
    }
    if (!is_type(opts, json_type_object)) {
        return bad_type(pprob, p, field, "must be an object of strings");
    }
    {
        json_object_object_foreach(opts, k, v) {
            if (!is_type(v, json_type_string)) {
                return bad_type(pprob, p, apr_pstrcat(p, field, ".", k, NULL), "must be a string");
            }
        }
    }
    if ((rv = opt_str(&type, pprob, p, opts, "type", field)) != APR_SUCCESS
        || (rv = opt_str(&o, pprob, p, opts, "o", field)) != APR_SUCCESS
        || (rv = opt_str(&device, pprob, p, opts, "device", field)) != APR_SUCCESS) {
        return rv;
    }
    if (type && *type && strcmp(type, "none") && strcmp(type, "tmpfs") && !(pol->allow & DP_DK_ALLOW_DEVICES)) {
        /* another filesystem type takes host paths or devices in device= and in o= (overlay's
         * lowerdir=, ...), whether a device is named or not */
        return deny(pprob, p, apr_pstrcat(p, field, device ? ".device" : ".type", NULL),
                    "volumes that mount a device or a '%s' filesystem are not allowed", type);
    }
    if (device == NULL) {
        return APR_SUCCESS;  /* no source: nothing of the host is mounted */
    }
    field = apr_pstrcat(p, field, ".device", NULL);
    if (type && !strcmp(type, "tmpfs") && !(o && strstr(o, "bind"))) {
        return APR_SUCCESS;
    }
    if (type == NULL || !strcmp(type, "none") || !strcmp(type, "") || (o && strstr(o, "bind"))) {
        /* a bind mount of a host path dressed as a volume: Docker gets the resolved path */
        const char *real;
        if ((rv = dp_dk_policy_bind_source(&real, pprob, p, pol, device, field)) != APR_SUCCESS) {
            return rv;
        }
        json_object_object_add(opts, "device", json_object_new_string(real));
        return APR_SUCCESS;
    }
    if (!(pol->allow & DP_DK_ALLOW_DEVICES)) {
        return deny(pprob, p, field, "volumes that mount a device or a '%s' filesystem are not allowed", type);
    }
    return APR_SUCCESS;
}

/* Stamps the managed labels on a create body. */
apr_status_t dp_dk_stamp_labels(dp_problem_t **pprob, apr_pool_t *p, json_object *body,
                                const char *key_name)
{
    json_object *labels;
    apr_status_t rv;

    if ((rv = opt_obj(&labels, pprob, p, body, "Labels", "Labels")) != APR_SUCCESS) {
        return rv;
    }
    if (labels == NULL) {
        labels = json_object_new_object();
        json_object_object_add(body, "Labels", labels);
    }
    json_object_object_add(labels, DP_DK_LABEL_MANAGED, json_object_new_string("true"));
    json_object_object_add(labels, DP_DK_LABEL_KEY, json_object_new_string(key_name ? key_name : ""));
    return APR_SUCCESS;
}

/* ------------------------------------------------------------------------------------------ */
/* the simple create body */

/* Parses a port number 1..65535 of exactly n characters at s. */
static int port_num(const char *s, apr_size_t n)
{
    apr_size_t i;
    long v = 0;

    if (n == 0 || n > 5) {
        return 0;
    }
    for (i = 0; i < n; ++i) {
        if (!apr_isdigit(s[i])) return 0;
        v = v * 10 + (s[i] - '0');
    }
    return v >= 1 && v <= 65535 ? (int)v : 0;
}

/* Parses "[[IP:]HOST:]CONTAINER[/PROTO]" into the port key ("80/tcp"), host IP and host port
 * (both possibly ""); APR_EINVAL when malformed. */
static apr_status_t parse_port(const char **pkey, const char **pip, const char **phost, apr_pool_t *p,
                               const char *spec)
{
    const char *proto = "tcp", *slash = strrchr(spec, '/'), *end, *c, *h;
    const char *ip = "";
    char addr[16];
    apr_size_t n = slash ? (apr_size_t)(slash - spec) : strlen(spec);
    int cport, hport = 0;

    if (slash) {
        proto = slash + 1;
        if (strcmp(proto, "tcp") && strcmp(proto, "udp") && strcmp(proto, "sctp")) {
            return APR_EINVAL;
        }
    }
    end = spec + n;
    if (spec[0] == '[') {                      /* [IPv6]:HOST:CONTAINER */
        const char *rb = memchr(spec, ']', n);
        if (rb == NULL || rb[1] != ':') return APR_EINVAL;
        ip = apr_pstrmemdup(p, spec + 1, (apr_size_t)(rb - spec - 1));
        if (inet_pton(AF_INET6, ip, addr) != 1) return APR_EINVAL;
        h = rb + 2;
    }
    else {
        const char *c1 = memchr(spec, ':', n), *c2 = c1 ? memchr(c1 + 1, ':', (apr_size_t)(end - c1 - 1)) : NULL;
        if (c2) {                              /* IP:HOST:CONTAINER */
            ip = apr_pstrmemdup(p, spec, (apr_size_t)(c1 - spec));
            if (inet_pton(AF_INET, ip, addr) != 1) return APR_EINVAL;
            h = c1 + 1;
        }
        else {
            h = spec;
        }
    }
    c = memchr(h, ':', (apr_size_t)(end - h));
    if (c) {
        if (memchr(c + 1, ':', (apr_size_t)(end - c - 1))) return APR_EINVAL;
        if (c > h && !(hport = port_num(h, (apr_size_t)(c - h)))) return APR_EINVAL;
        if (c == h && !*ip) return APR_EINVAL;  /* ":80" */
        ++c;
    }
    else {
        if (*ip) return APR_EINVAL;
        c = h;
    }
    if (!(cport = port_num(c, (apr_size_t)(end - c)))) {
        return APR_EINVAL;
    }
    *pkey = apr_psprintf(p, "%d/%s", cport, proto);
    *pip = ip;
    *phost = hport ? apr_itoa(p, hport) : "";
    return APR_SUCCESS;
}

static apr_status_t tr_ports(dp_problem_t **pprob, apr_pool_t *p, json_object *in, json_object *cfg,
                             json_object *hc)
{
    json_object *a, *exposed = NULL, *bindings = NULL;
    apr_size_t i;
    apr_status_t rv;

    if ((rv = str_array(&a, pprob, p, in, "ports", "ports")) != APR_SUCCESS || a == NULL) {
        return rv;
    }
    for (i = 0; i < json_object_array_length(a); ++i) {
        const char *key, *ip, *host, *spec = arr_str(a, i);
        json_object *list, *b;
        if (parse_port(&key, &ip, &host, p, spec) != APR_SUCCESS) {
            return bad_value(pprob, p, idx(p, "ports", i), "'%s' is not a port spec (CONTAINER, "
                             "HOST:CONTAINER or IP:HOST:CONTAINER, optionally /tcp, /udp or /sctp)", spec);
        }
        if (exposed == NULL) {
            exposed = json_object_new_object();
            bindings = json_object_new_object();
            json_object_object_add(cfg, "ExposedPorts", exposed);
            json_object_object_add(hc, "PortBindings", bindings);
        }
        json_object_object_add(exposed, key, json_object_new_object());
        if (!*host && !*ip && !strchr(spec, ':')) {
            continue;  /* exposed only */
        }
        if ((list = dp_json_get(bindings, key)) == NULL) {
            list = json_object_new_array();
            json_object_object_add(bindings, key, list);
        }
        b = json_object_new_object();
        json_object_object_add(b, "HostIp", json_object_new_string(ip));
        json_object_object_add(b, "HostPort", json_object_new_string(host));
        json_object_array_add(list, b);
    }
    return APR_SUCCESS;
}

static apr_status_t tr_env(dp_problem_t **pprob, apr_pool_t *p, json_object *in, json_object *cfg)
{
    json_object *v = dp_json_get(in, "env"), *out;
    apr_size_t i;

    if (v == NULL) {
        return APR_SUCCESS;
    }
    out = json_object_new_array();
    json_object_object_add(cfg, "Env", out);
    if (is_type(v, json_type_object)) {
        json_object_object_foreach(v, k, val) {
            const char *field = apr_pstrcat(p, "env.", k, NULL);
            if (!is_type(val, json_type_string)) {
                return bad_type(pprob, p, field, "must be a string");
            }
            if (!*k || strchr(k, '=')) {
                return bad_value(pprob, p, field, "'%s' is not a variable name", k);
            }
            json_object_array_add(out, json_object_new_string(apr_pstrcat(p, k, "=",
                                                              json_object_get_string(val), NULL)));
        }
        return APR_SUCCESS;
    }
    if (!is_type(v, json_type_array)) {
        return bad_type(pprob, p, "env", "must be an object or an array of \"KEY=VALUE\" strings");
    }
    for (i = 0; i < json_object_array_length(v); ++i) {
        json_object *e = json_object_array_get_idx(v, i);
        const char *s;
        if (!is_type(e, json_type_string)) {
            return bad_type(pprob, p, idx(p, "env", i), "must be a string");
        }
        s = json_object_get_string(e);
        if (s[0] == '=' || !strchr(s, '=')) {
            return bad_value(pprob, p, idx(p, "env", i), "'%s' is not KEY=VALUE", s);
        }
        json_object_array_add(out, json_object_get(e));
    }
    return APR_SUCCESS;
}

/* True for a Binds option list ("ro", "rw,z", "nocopy", propagation modes). */
static int bind_opts_ok(apr_pool_t *p, const char *opts)
{
    static const char *const ok[] = { "ro", "rw", "z", "Z", "nocopy", "private", "rprivate", "shared",
                                      "rshared", "slave", "rslave", "consistent", "cached", "delegated", NULL };
    char *copy = apr_pstrdup(p, opts), *last, *o;

    if (*opts == '\0') {
        return 0;
    }
    for (o = apr_strtok(copy, ",", &last); o; o = apr_strtok(NULL, ",", &last)) {
        const char *const *k;
        for (k = ok; *k && strcmp(*k, o); ++k) {}
        if (*k == NULL) return 0;
    }
    return opts[strlen(opts) - 1] != ',';
}

static apr_status_t tr_volumes(dp_problem_t **pprob, apr_pool_t *p, json_object *in, json_object *cfg,
                               json_object *hc)
{
    json_object *a, *binds = NULL, *anon = NULL;
    apr_size_t i;
    apr_status_t rv;

    if ((rv = str_array(&a, pprob, p, in, "volumes", "volumes")) != APR_SUCCESS || a == NULL) {
        return rv;
    }
    for (i = 0; i < json_object_array_length(a); ++i) {
        const char *spec = arr_str(a, i), *field = idx(p, "volumes", i), *c;
        int n = 1;

        for (c = spec; *c; ++c) {
            n += *c == ':';
        }
        if (n == 1) {
            if (spec[0] != '/') {
                return bad_value(pprob, p, field, "'%s' is not a volume spec (SOURCE:/container/path[:ro], "
                                 "or /container/path)", spec);
            }
            if (anon == NULL) {
                anon = json_object_new_object();
                json_object_object_add(cfg, "Volumes", anon);
            }
            json_object_object_add(anon, spec, json_object_new_object());
            continue;
        }
        {
            char *copy = apr_pstrdup(p, spec), *src = copy, *dst, *opts = NULL;
            dst = strchr(copy, ':');
            *dst++ = '\0';
            if ((opts = strchr(dst, ':')) != NULL) {
                *opts++ = '\0';
            }
            if (n > 3 || !*src || dst[0] != '/' || (opts && !bind_opts_ok(p, opts))
                || !(src[0] == '/' || dp_dk_valid_volume_name(src))) {
                return bad_value(pprob, p, field, "'%s' is not a volume spec (SOURCE:/container/path[:ro] "
                                 "with SOURCE a volume name or an absolute host path)", spec);
            }
        }
        if (binds == NULL) {
            binds = json_object_new_array();
            json_object_object_add(hc, "Binds", binds);
        }
        json_object_array_add(binds, json_object_new_string(spec));
    }
    return APR_SUCCESS;
}

static apr_status_t tr_restart(dp_problem_t **pprob, apr_pool_t *p, json_object *in, json_object *hc)
{
    const char *s = NULL;
    apr_int64_t retries = 0;
    json_object *rp;
    apr_status_t rv;

    if ((rv = dp_json_field_str(&s, pprob, p, in, "restart", 0, 64)) != APR_SUCCESS || s == NULL) {
        return rv;
    }
    if (!strncmp(s, "on-failure:", 11)) {
        if (dp_parse_int(&retries, s + 11, 0, 1000000) != APR_SUCCESS) {
            return bad_value(pprob, p, "restart", "'%s': the retry count must be a whole number", s);
        }
    }
    else if (strcmp(s, "no") && strcmp(s, "always") && strcmp(s, "unless-stopped") && strcmp(s, "on-failure")) {
        return bad_value(pprob, p, "restart", "'%s' is not a restart policy (no, always, unless-stopped, "
                         "on-failure[:N])", s);
    }
    rp = json_object_new_object();
    json_object_object_add(rp, "Name", json_object_new_string(strncmp(s, "on-failure", 10) ? s : "on-failure"));
    json_object_object_add(rp, "MaximumRetryCount", json_object_new_int64(retries));
    json_object_object_add(hc, "RestartPolicy", rp);
    return APR_SUCCESS;
}

static apr_status_t tr_resources(dp_problem_t **pprob, apr_pool_t *p, json_object *in, json_object *hc)
{
    json_object *v = dp_json_get(in, "memory");
    apr_int64_t bytes;

    if (v) {
        if (is_type(v, json_type_int)) {
            bytes = json_object_get_int64(v);
        }
        else if (!is_type(v, json_type_string)) {
            return bad_type(pprob, p, "memory", "must be a string (\"256m\") or a number of bytes");
        }
        else if (dp_parse_size(&bytes, json_object_get_string(v)) != APR_SUCCESS) {
            return bad_value(pprob, p, "memory", "'%s' is not a memory size (e.g. 256m, 1g, or bytes)",
                             json_object_get_string(v));
        }
        if (bytes < 6 * 1024 * 1024) {
            return bad_value(pprob, p, "memory", "'%s' is below Docker's minimum of 6m", json_object_get_string(v));
        }
        json_object_object_add(hc, "Memory", json_object_new_int64(bytes));
    }
    if ((v = dp_json_get(in, "cpus")) != NULL) {
        double cpus;
        if (!is_type(v, json_type_int) && !is_type(v, json_type_double)) {
            return bad_type(pprob, p, "cpus", "must be a number");
        }
        cpus = json_object_get_double(v);
        if (!(cpus >= 0.01 && cpus <= 1024)) {
            return bad_value(pprob, p, "cpus", "'%s' is not a CPU count from 0.01 to 1024",
                             json_object_get_string(v));
        }
        json_object_object_add(hc, "NanoCpus", json_object_new_int64((apr_int64_t)(cpus * 1e9 + 0.5)));
    }
    return APR_SUCCESS;
}

/* Copies a string array field into out.key. */
static apr_status_t tr_argv(dp_problem_t **pprob, apr_pool_t *p, json_object *in, const char *field,
                            json_object *out, const char *key)
{
    json_object *a;
    apr_status_t rv;

    if ((rv = str_array(&a, pprob, p, in, field, field)) == APR_SUCCESS && a) {
        json_object_object_add(out, key, json_object_get(a));
    }
    return rv;
}

/* Copies string field (≤ max) into out.key; check (if any) validates the value. */
static apr_status_t tr_str(dp_problem_t **pprob, apr_pool_t *p, json_object *in, const char *field,
                           json_object *out, const char *key, int required, apr_size_t max,
                           int (*check)(const char *), const char *what)
{
    const char *s = NULL;
    apr_status_t rv;

    if ((rv = dp_json_field_str(&s, pprob, p, in, field, required, max)) != APR_SUCCESS || s == NULL) {
        return rv;
    }
    if (check && !check(s)) {
        return bad_value(pprob, p, field, "'%s' is not %s", s, what);
    }
    json_object_object_add(out, key, json_object_new_string(s));
    return APR_SUCCESS;
}

static int image_ok(const char *s)
{
    return *s && !strpbrk(s, " \t");
}

static int abs_path_ok(const char *s)
{
    return s[0] == '/';
}

static int hostname_ok(const char *s)
{
    apr_size_t i;
    for (i = 0; s[i]; ++i) {
        if (!(apr_isalnum(s[i]) || s[i] == '-' || s[i] == '.')) return 0;
    }
    return i <= 253 && apr_isalnum(s[0]);
}

static int container_name_ok(const char *s)
{
    return dp_dk_valid_id(s[0] == '/' ? s + 1 : s) && strlen(s) > 1;
}

static apr_status_t tr_labels(dp_problem_t **pprob, apr_pool_t *p, json_object *in, json_object *cfg)
{
    json_object *v = dp_json_get(in, "labels");

    if (v == NULL) {
        return APR_SUCCESS;
    }
    if (!is_type(v, json_type_object)) {
        return bad_type(pprob, p, "labels", "must be an object of strings");
    }
    {
        json_object_object_foreach(v, k, val) {
            if (!is_type(val, json_type_string)) {
                return bad_type(pprob, p, apr_pstrcat(p, "labels.", k, NULL), "must be a string");
            }
        }
    }
    json_object_object_add(cfg, "Labels", json_object_get(v));
    return APR_SUCCESS;
}

/* Translates the simple body into a Docker create body. */
static apr_status_t translate(json_object **pbody, const char **pname, dp_problem_t **pprob, apr_pool_t *p,
                              json_object *in)
{
    static const char *const fields[] = {
        "image", "name", "ports", "env", "cmd", "entrypoint", "volumes", "labels", "restart", "network",
        "memory", "cpus", "workdir", "user", "hostname", NULL
    };
    json_object *cfg = dp_json_object(p), *hc = json_object_new_object();
    const char *name = NULL;
    apr_status_t rv;

    json_object_object_add(cfg, "HostConfig", hc);
    if ((rv = dp_json_only_fields(pprob, p, in, fields)) != APR_SUCCESS
        || (rv = tr_str(pprob, p, in, "image", cfg, "Image", 1, 512, image_ok, "an image reference")) != APR_SUCCESS
        || (rv = dp_json_field_str(&name, pprob, p, in, "name", 0, 128)) != APR_SUCCESS
        || (name && !container_name_ok(name)
            && (rv = bad_value(pprob, p, "name", "'%s' is not a container name ([a-zA-Z0-9][a-zA-Z0-9_.-]+)",
                               name)) != APR_SUCCESS)
        || (rv = tr_ports(pprob, p, in, cfg, hc)) != APR_SUCCESS
        || (rv = tr_env(pprob, p, in, cfg)) != APR_SUCCESS
        || (rv = tr_argv(pprob, p, in, "cmd", cfg, "Cmd")) != APR_SUCCESS
        || (rv = tr_argv(pprob, p, in, "entrypoint", cfg, "Entrypoint")) != APR_SUCCESS
        || (rv = tr_volumes(pprob, p, in, cfg, hc)) != APR_SUCCESS
        || (rv = tr_labels(pprob, p, in, cfg)) != APR_SUCCESS
        || (rv = tr_restart(pprob, p, in, hc)) != APR_SUCCESS
        || (rv = tr_str(pprob, p, in, "network", hc, "NetworkMode", 0, 256, NULL, NULL)) != APR_SUCCESS
        || (rv = tr_resources(pprob, p, in, hc)) != APR_SUCCESS
        || (rv = tr_str(pprob, p, in, "workdir", cfg, "WorkingDir", 0, 4096, abs_path_ok, "an absolute path")) != APR_SUCCESS
        || (rv = tr_str(pprob, p, in, "user", cfg, "User", 0, 256, NULL, NULL)) != APR_SUCCESS
        || (rv = tr_str(pprob, p, in, "hostname", cfg, "Hostname", 0, 253, hostname_ok, "a host name")) != APR_SUCCESS) {
        return rv;
    }
    *pname = name;
    *pbody = cfg;
    return APR_SUCCESS;
}

/* Builds Docker's create body from an API request body. */
apr_status_t dp_dk_create_body(json_object **pbody, const char **pname, dp_problem_t **pprob,
                               apr_pool_t *p, json_object *req)
{
    static const char *const raw_fields[] = { "docker", "name", NULL };
    json_object *raw = dp_json_get(req, "docker");
    const char *name = NULL, *image;
    apr_status_t rv;

    *pbody = NULL;
    *pname = NULL;
    if (raw == NULL) {
        return translate(pbody, pname, pprob, p, req);
    }
    if ((rv = dp_json_only_fields(pprob, p, req, raw_fields)) != APR_SUCCESS
        || (rv = dp_json_field_str(&name, pprob, p, req, "name", 0, 128)) != APR_SUCCESS) {
        return rv;
    }
    if (name && !container_name_ok(name)) {
        return bad_value(pprob, p, "name", "'%s' is not a container name ([a-zA-Z0-9][a-zA-Z0-9_.-]+)", name);
    }
    if (!is_type(raw, json_type_object) || json_object_object_length(raw) == 0) {
        return bad_type(pprob, p, "docker", "must be a non-empty Docker create body (an object)");
    }
    if ((rv = opt_str(&image, pprob, p, raw, "Image", "docker.Image")) != APR_SUCCESS) {
        return rv;
    }
    if (image == NULL || !image_ok(image)) {
        return bad_value(pprob, p, "docker.Image", "an image is required");
    }
    *pbody = raw;
    *pname = name;
    return APR_SUCCESS;
}

/* ------------------------------------------------------------------------------------------ */
/* the create allow-list: a new body is built from the caller's, field by field */

typedef struct spec_t spec_t;

typedef struct {
    apr_pool_t *p;
    dp_problem_t **pprob;
    const dp_dk_policy_t *pol;
} bctx_t;

/* Checks v (the value of field, never NULL or JSON null) against s and adds what Docker gets to
 * parent under key (key NULL: parent is an array). */
typedef apr_status_t (*val_fn)(bctx_t *c, const spec_t *s, json_object *v, const char *field,
                               json_object *parent, const char *key);

/* Checks a built object (out) once all its fields are in. */
typedef apr_status_t (*post_fn)(bctx_t *c, json_object *out, const char *field);

enum { SH_LEAF, SH_OBJ, SH_MAP, SH_OBJMAP, SH_OPAQUE };

struct spec_t {
    const char *name;
    val_fn fn;
    int shape;                    /* for dp_dk_policy_field_known */
    const spec_t *sub;            /* SH_OBJ / SH_OBJMAP: the fields of the (member) objects */
    post_fn post;                 /* SH_OBJ / SH_OBJMAP: the check of a built object */
    apr_int64_t min, max;         /* v_int: the range; v_str: max is the longest length */
    const char *const *values;    /* v_str: the allowed values (NULL: any) */
    unsigned bit;                 /* the DockpayPolicyAllow relaxation that lifts the check */
};

#define relaxed(c, s) ((s)->bit && ((c)->pol->allow & (s)->bit))

static void put(json_object *parent, const char *key, json_object *v)
{
    if (key) {
        json_object_object_add(parent, key, v);
    }
    else {
        json_object_array_add(parent, v);
    }
}

static apr_status_t build_obj(bctx_t *c, const spec_t *table, post_fn post, json_object *in,
                              const char *field, json_object *out);

/* a field path below field */
static const char *sub_field(apr_pool_t *p, const char *field, const char *key)
{
    return *field ? apr_pstrcat(p, field, ".", key, NULL) : key;
}

/* ---- generic value checks */

static apr_status_t v_str(bctx_t *c, const spec_t *s, json_object *v, const char *field,
                          json_object *parent, const char *key)
{
    const char *str;
    const char *const *a;

    if (!is_type(v, json_type_string)) {
        return bad_type(c->pprob, c->p, field, "must be a string");
    }
    str = json_object_get_string(v);
    if (s->max && (apr_int64_t)strlen(str) > s->max) {
        return bad_value(c->pprob, c->p, field, "is longer than %" APR_INT64_T_FMT " characters", s->max);
    }
    if (s->values && !relaxed(c, s)) {
        const char *list = "";
        for (a = s->values; *a && strcmp(*a, str); ++a) {
            list = apr_pstrcat(c->p, list, *list ? ", " : "", **a ? *a : "\"\"", NULL);
        }
        if (*a == NULL) {
            return deny(c->pprob, c->p, field, "'%s' is not allowed (allowed: %s)", str, list);
        }
    }
    put(parent, key, json_object_new_string(str));
    return APR_SUCCESS;
}

/* min 1: true is refused unless the relaxation bit is set (never when bit is 0) */
static apr_status_t v_bool(bctx_t *c, const spec_t *s, json_object *v, const char *field,
                           json_object *parent, const char *key)
{
    if (!is_type(v, json_type_boolean)) {
        return bad_type(c->pprob, c->p, field, "must be a boolean");
    }
    if (s->min == 1 && json_object_get_boolean(v) && !relaxed(c, s)) {
        return deny(c->pprob, c->p, field, "true is not allowed");
    }
    put(parent, key, json_object_new_boolean(json_object_get_boolean(v)));
    return APR_SUCCESS;
}

static apr_status_t v_int(bctx_t *c, const spec_t *s, json_object *v, const char *field,
                          json_object *parent, const char *key)
{
    apr_int64_t n;

    if (!is_type(v, json_type_int)) {
        return bad_type(c->pprob, c->p, field, "must be a whole number");
    }
    errno = 0;
    n = json_object_get_int64(v);
    if (errno || n < s->min || n > s->max) {
        return deny(c->pprob, c->p, field, "'%s' is not allowed (from %" APR_INT64_T_FMT " to %"
                    APR_INT64_T_FMT ")", json_object_get_string(v), s->min, s->max);
    }
    put(parent, key, json_object_new_int64(n));
    return APR_SUCCESS;
}

/* True when s has no control characters. */
static int printable(const char *s)
{
    for (; *s; ++s) {
        if ((unsigned char)*s < 0x20 || *s == 0x7f) return 0;
    }
    return 1;
}

static apr_status_t v_strarr(bctx_t *c, const spec_t *s, json_object *v, const char *field,
                             json_object *parent, const char *key)
{
    json_object *out;
    apr_size_t i, n;

    if (!is_type(v, json_type_array)) {
        return bad_type(c->pprob, c->p, field, "must be an array of strings");
    }
    out = json_object_new_array();
    put(parent, key, out);
    n = json_object_array_length(v);
    for (i = 0; i < n; ++i) {
        json_object *e = json_object_array_get_idx(v, i);
        if (!is_type(e, json_type_string)) {
            return bad_type(c->pprob, c->p, idx(c->p, field, i), "must be a string");
        }
        if (s->max && (apr_int64_t)strlen(json_object_get_string(e)) > s->max) {
            return bad_value(c->pprob, c->p, idx(c->p, field, i), "is too long");
        }
        json_object_array_add(out, json_object_new_string(json_object_get_string(e)));
    }
    return APR_SUCCESS;
}

/* Checks item i of a string array (field names the array); non-success is its problem. */
typedef apr_status_t item_fn(bctx_t *c, const spec_t *s, const char *item, const char *field, apr_size_t i);

/* An array of strings (v_strarr) whose every item passes check. */
static apr_status_t strarr_each(bctx_t *c, const spec_t *s, json_object *v, const char *field,
                                json_object *parent, const char *key, item_fn *check)
{
    apr_size_t i;
    apr_status_t rv;

    if ((rv = v_strarr(c, s, v, field, parent, key)) != APR_SUCCESS) {
        return rv;
    }
    for (i = 0; i < json_object_array_length(v); ++i) {
        if ((rv = check(c, s, arr_str(v, i), field, i)) != APR_SUCCESS) {
            return rv;
        }
    }
    return APR_SUCCESS;
}

/* an object of strings (Labels, LogConfig.Config, driver options, Tmpfs) */
static apr_status_t v_strmap(bctx_t *c, const spec_t *s, json_object *v, const char *field,
                             json_object *parent, const char *key)
{
    json_object *out;

    (void)s;
    if (!is_type(v, json_type_object)) {
        return bad_type(c->pprob, c->p, field, "must be an object of strings");
    }
    out = json_object_new_object();
    put(parent, key, out);
    {
        json_object_object_foreach(v, k, val) {
            if (!is_type(val, json_type_string)) {
                return bad_type(c->pprob, c->p, apr_pstrcat(c->p, field, ".", k, NULL), "must be a string");
            }
            if (!*k) {
                return bad_value(c->pprob, c->p, field, "an empty name is not allowed");
            }
            json_object_object_add(out, k, json_object_new_string(json_object_get_string(val)));
        }
    }
    return APR_SUCCESS;
}

/* Whether a label name is reserved: com.docker.compose.* names the Compose project an object
 * belongs to (ownership of projects is read from it), so no caller may set it. */
int dp_dk_label_reserved(const char *name)
{
    return name && !strncasecmp(name, "com.docker.compose.", 19);
}

/* Labels: an object of strings without reserved names. */
static apr_status_t v_labels(bctx_t *c, const spec_t *s, json_object *v, const char *field,
                             json_object *parent, const char *key)
{
    if (is_type(v, json_type_object)) {
        json_object_object_foreach(v, k, val) {
            (void)val;
            if (dp_dk_label_reserved(k)) {
                return deny(c->pprob, c->p, apr_pstrcat(c->p, field, ".", k, NULL),
                            "com.docker.compose.* labels are set by Compose only");
            }
        }
    }
    return v_strmap(c, s, v, field, parent, key);
}

static apr_status_t v_obj(bctx_t *c, const spec_t *s, json_object *v, const char *field,
                          json_object *parent, const char *key)
{
    json_object *out;

    if (!is_type(v, json_type_object)) {
        return bad_type(c->pprob, c->p, field, "must be an object");
    }
    out = json_object_new_object();
    put(parent, key, out);
    return build_obj(c, s->sub, s->post, v, field, out);
}

/* an array of objects, each built by s->sub and checked by s->post */
static apr_status_t v_objarr(bctx_t *c, const spec_t *s, json_object *v, const char *field,
                             json_object *parent, const char *key)
{
    json_object *out;
    apr_size_t i, n;
    apr_status_t rv;

    if (!is_type(v, json_type_array)) {
        return bad_type(c->pprob, c->p, field, "must be an array of objects");
    }
    out = json_object_new_array();
    put(parent, key, out);
    n = json_object_array_length(v);
    for (i = 0; i < n; ++i) {
        json_object *e = json_object_array_get_idx(v, i), *o;
        const char *f = idx(c->p, field, i);
        if (!is_type(e, json_type_object)) {
            return bad_type(c->pprob, c->p, f, "must be an object");
        }
        o = json_object_new_object();
        json_object_array_add(out, o);
        if ((rv = build_obj(c, s->sub, s->post, e, f, o)) != APR_SUCCESS) {
            return rv;
        }
    }
    return APR_SUCCESS;
}

/* True for an empty value: null, false, 0, "", [] or {}. */
static int empty_value(json_object *v)
{
    switch (v ? json_object_get_type(v) : json_type_null) {
    case json_type_null: return 1;
    case json_type_boolean: return !json_object_get_boolean(v);
    case json_type_int: return json_object_get_int64(v) == 0;
    case json_type_string: return json_object_get_string_len(v) == 0;
    case json_type_array: return json_object_array_length(v) == 0;
    case json_type_object: return json_object_object_length(v) == 0;
    default: return 0;
    }
}

/* A field only a relaxation opens: passed as given when s->bit is allowed; otherwise only an
 * empty value (min 1: not even that, it would change a default) and nothing is sent. */
static apr_status_t v_relax(bctx_t *c, const spec_t *s, json_object *v, const char *field,
                            json_object *parent, const char *key)
{
    if (relaxed(c, s)) {
        put(parent, key, json_object_get(v));
        return APR_SUCCESS;
    }
    if (empty_value(v) && s->min == 0) {
        return APR_SUCCESS;
    }
    return deny(c->pprob, c->p, field, "%s", s->values ? s->values[0] : "not allowed");
}

/* ---- Config fields */

static int image_ok(const char *s);
static int hostname_ok(const char *s);
static int bind_opts_ok(apr_pool_t *p, const char *opts);
static int port_num(const char *s, apr_size_t n);

static apr_status_t v_image(bctx_t *c, const spec_t *s, json_object *v, const char *field,
                            json_object *parent, const char *key)
{
    (void)s;
    if (!is_type(v, json_type_string)) {
        return bad_type(c->pprob, c->p, field, "must be a string");
    }
    if (!image_ok(json_object_get_string(v)) || json_object_get_string_len(v) > 512
        || !printable(json_object_get_string(v))) {
        return bad_value(c->pprob, c->p, field, "'%s' is not an image reference", json_object_get_string(v));
    }
    put(parent, key, json_object_new_string(json_object_get_string(v)));
    return APR_SUCCESS;
}

static apr_status_t v_hostname(bctx_t *c, const spec_t *s, json_object *v, const char *field,
                               json_object *parent, const char *key)
{
    const char *h;

    (void)s;
    if (!is_type(v, json_type_string)) {
        return bad_type(c->pprob, c->p, field, "must be a string");
    }
    h = json_object_get_string(v);
    if (*h && !hostname_ok(h)) {
        return bad_value(c->pprob, c->p, field, "'%s' is not a host name", h);
    }
    put(parent, key, json_object_new_string(h));
    return APR_SUCCESS;
}

/* "" or an absolute path without control characters */
static apr_status_t v_abs(bctx_t *c, const spec_t *s, json_object *v, const char *field,
                          json_object *parent, const char *key)
{
    const char *path;

    (void)s;
    if (!is_type(v, json_type_string)) {
        return bad_type(c->pprob, c->p, field, "must be a string");
    }
    path = json_object_get_string(v);
    if ((*path && path[0] != '/') || !printable(path) || strlen(path) > 4096) {
        return bad_value(c->pprob, c->p, field, "'%s' is not an absolute path", path);
    }
    put(parent, key, json_object_new_string(path));
    return APR_SUCCESS;
}

/* Cmd, Entrypoint, Shell, Healthcheck.Test: a string or an array of strings */
static apr_status_t v_argv(bctx_t *c, const spec_t *s, json_object *v, const char *field,
                           json_object *parent, const char *key)
{
    if (is_type(v, json_type_string)) {
        put(parent, key, json_object_new_string(json_object_get_string(v)));
        return APR_SUCCESS;
    }
    return v_strarr(c, s, v, field, parent, key);
}

/* Env: KEY=VALUE */
static apr_status_t env_item(bctx_t *c, const spec_t *s, const char *e, const char *field, apr_size_t i)
{
    (void)s;
    if (e[0] == '=' || e[0] == '\0') {
        return bad_value(c->pprob, c->p, idx(c->p, field, i), "'%s' is not KEY=VALUE", e);
    }
    return APR_SUCCESS;
}

static apr_status_t v_env(bctx_t *c, const spec_t *s, json_object *v, const char *field,
                          json_object *parent, const char *key)
{
    return strarr_each(c, s, v, field, parent, key, env_item);
}

/* Parses a port key "80", "80/tcp", "53/udp", "9/sctp" into "N/proto"; NULL when malformed. */
static const char *port_key(apr_pool_t *p, const char *k)
{
    const char *slash = strchr(k, '/');
    apr_size_t n = slash ? (apr_size_t)(slash - k) : strlen(k);

    if (!port_num(k, n)) {
        return NULL;
    }
    if (slash && strcmp(slash + 1, "tcp") && strcmp(slash + 1, "udp") && strcmp(slash + 1, "sctp")) {
        return NULL;
    }
    return slash ? k : apr_pstrcat(p, k, "/tcp", NULL);
}

/* ExposedPorts and Volumes: an object of empty objects, names a port key or an absolute path */
static apr_status_t v_set(bctx_t *c, const spec_t *s, json_object *v, const char *field,
                          json_object *parent, const char *key)
{
    json_object *out;

    if (!is_type(v, json_type_object)) {
        return bad_type(c->pprob, c->p, field, "must be an object");
    }
    out = json_object_new_object();
    put(parent, key, out);
    {
        json_object_object_foreach(v, k, val) {
            const char *f = apr_pstrcat(c->p, field, ".", k, NULL), *name = k;
            if (val && !(is_type(val, json_type_object) && json_object_object_length(val) == 0)) {
                return bad_type(c->pprob, c->p, f, "must be {}");
            }
            if (s->min == 1 ? (name = port_key(c->p, k)) == NULL
                            : (k[0] != '/' || !printable(k) || strlen(k) > 4096)) {
                return bad_value(c->pprob, c->p, f, "'%s' is not %s", k,
                                 s->min == 1 ? "a port (80, 80/tcp, 53/udp)" : "an absolute path");
            }
            json_object_object_add(out, name, json_object_new_object());
        }
    }
    return APR_SUCCESS;
}

/* ---- HostConfig fields */

/* Checks a network name (NetworkMode, EndpointsConfig member): never the host's network nor
 * another container's, unless host namespaces are allowed. */
static apr_status_t net_name(bctx_t *c, const char *name, const char *field, int mode)
{
    if (c->pol->allow & DP_DK_ALLOW_HOST_NAMESPACES) {
        return APR_SUCCESS;
    }
    if (!strcasecmp(name, "host")) {
        return deny(c->pprob, c->p, field, "the host's network is not allowed");
    }
    if (!strncasecmp(name, "container:", 10)) {
        return deny(c->pprob, c->p, field, "joining another container's network is not allowed");
    }
    if (mode && (!*name || !strcmp(name, "default") || !strcmp(name, "bridge") || !strcmp(name, "none"))) {
        return APR_SUCCESS;
    }
    if (!name_chars(name, 255)) {
        return deny(c->pprob, c->p, field, "'%s' is not a network name", name);
    }
    return APR_SUCCESS;
}

static apr_status_t v_netmode(bctx_t *c, const spec_t *s, json_object *v, const char *field,
                              json_object *parent, const char *key)
{
    apr_status_t rv;

    (void)s;
    if (!is_type(v, json_type_string)) {
        return bad_type(c->pprob, c->p, field, "must be a string");
    }
    if ((rv = net_name(c, json_object_get_string(v), field, 1)) != APR_SUCCESS) {
        return rv;
    }
    put(parent, key, json_object_new_string(json_object_get_string(v)));
    return APR_SUCCESS;
}

/* PidMode, IpcMode, UTSMode, UsernsMode, CgroupnsMode: the values in s->values; host or
 * container:<id> only with DockpayPolicyAllow host-namespaces */
static apr_status_t v_nsmode(bctx_t *c, const spec_t *s, json_object *v, const char *field,
                             json_object *parent, const char *key)
{
    const char *m;
    const char *const *a;

    if (!is_type(v, json_type_string)) {
        return bad_type(c->pprob, c->p, field, "must be a string");
    }
    m = json_object_get_string(v);
    for (a = s->values; *a && strcmp(*a, m); ++a) {}
    if (*a == NULL && !relaxed(c, s)) {
        return deny(c->pprob, c->p, field, "'%s' is not allowed: %s", m,
                    !strcasecmp(m, "host") ? "the host's namespace is not allowed"
                    : !strncasecmp(m, "container:", 10) ? "joining another container's namespace is not allowed"
                    : "not a namespace mode this server allows");
    }
    put(parent, key, json_object_new_string(m));
    return APR_SUCCESS;
}

/* CapAdd (only DockpayCapAllow) and Capabilities (Docker's defaults or DockpayCapAllow) */
static apr_status_t cap_item(bctx_t *c, const spec_t *s, const char *cap, const char *field, apr_size_t i)
{
    if (!cap_in(cap, s->values, c->pol->caps)) {
        return deny(c->pprob, c->p, idx(c->p, field, i), "the capability '%s' is not in DockpayCapAllow", cap);
    }
    return APR_SUCCESS;
}

static apr_status_t v_caps(bctx_t *c, const spec_t *s, json_object *v, const char *field,
                           json_object *parent, const char *key)
{
    return strarr_each(c, s, v, field, parent, key, cap_item);
}

/* SecurityOpt: only no-new-privileges, which only takes privileges away */
static apr_status_t secopt_item(bctx_t *c, const spec_t *s, const char *o, const char *field, apr_size_t i)
{
    if (!relaxed(c, s) && strcmp(o, "no-new-privileges") && strcmp(o, "no-new-privileges:true")
        && strcmp(o, "no-new-privileges=true")) {
        return deny(c->pprob, c->p, idx(c->p, field, i), "security options other than no-new-privileges "
                    "are not allowed ('%s'; DockpayPolicyAllow security-opt)", o);
    }
    return APR_SUCCESS;
}

static apr_status_t v_secopt(bctx_t *c, const spec_t *s, json_object *v, const char *field,
                             json_object *parent, const char *key)
{
    return strarr_each(c, s, v, field, parent, key, secopt_item);
}

/* Dns: IP addresses */
static int ip_ok(const char *s)
{
    unsigned char buf[16];
    return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

static apr_status_t ip_item(bctx_t *c, const spec_t *s, const char *ip, const char *field, apr_size_t i)
{
    (void)s;
    if (!ip_ok(ip)) {
        return bad_value(c->pprob, c->p, idx(c->p, field, i), "'%s' is not an IP address", ip);
    }
    return APR_SUCCESS;
}

static apr_status_t v_ips(bctx_t *c, const spec_t *s, json_object *v, const char *field,
                          json_object *parent, const char *key)
{
    return strarr_each(c, s, v, field, parent, key, ip_item);
}

static apr_status_t v_ip(bctx_t *c, const spec_t *s, json_object *v, const char *field,
                         json_object *parent, const char *key)
{
    (void)s;
    if (!is_type(v, json_type_string)) {
        return bad_type(c->pprob, c->p, field, "must be a string");
    }
    if (json_object_get_string_len(v) && !ip_ok(json_object_get_string(v))) {
        return bad_value(c->pprob, c->p, field, "'%s' is not an IP address", json_object_get_string(v));
    }
    put(parent, key, json_object_new_string(json_object_get_string(v)));
    return APR_SUCCESS;
}

/* DnsOptions, DnsSearch, ExtraHosts, GroupAdd, CapDrop: strings without spaces or controls */
static apr_status_t word_item(bctx_t *c, const spec_t *s, const char *w, const char *field, apr_size_t i)
{
    (void)s;
    if (!*w || !printable(w) || strchr(w, ' ')) {
        return bad_value(c->pprob, c->p, idx(c->p, field, i), "'%s' is not allowed here", w);
    }
    return APR_SUCCESS;
}

static apr_status_t v_words(bctx_t *c, const spec_t *s, json_object *v, const char *field,
                            json_object *parent, const char *key)
{
    return strarr_each(c, s, v, field, parent, key, word_item);
}

/* CpusetCpus, CpusetMems: "0-3,5" */
static apr_status_t v_cpuset(bctx_t *c, const spec_t *s, json_object *v, const char *field,
                             json_object *parent, const char *key)
{
    const char *x;

    (void)s;
    if (!is_type(v, json_type_string)) {
        return bad_type(c->pprob, c->p, field, "must be a string");
    }
    for (x = json_object_get_string(v); *x; ++x) {
        if (!(apr_isdigit(*x) || *x == '-' || *x == ',')) {
            return bad_value(c->pprob, c->p, field, "'%s' is not a CPU or node list (0-3,5)",
                             json_object_get_string(v));
        }
    }
    if (json_object_get_string_len(v) > 256) {
        return bad_value(c->pprob, c->p, field, "is too long");
    }
    put(parent, key, json_object_new_string(json_object_get_string(v)));
    return APR_SUCCESS;
}

/* ConsoleSize: [height, width] */
static apr_status_t v_console(bctx_t *c, const spec_t *s, json_object *v, const char *field,
                              json_object *parent, const char *key)
{
    json_object *out;
    apr_size_t i;

    (void)s;
    if (!is_type(v, json_type_array) || json_object_array_length(v) != 2) {
        return bad_type(c->pprob, c->p, field, "must be [height, width]");
    }
    out = json_object_new_array();
    put(parent, key, out);
    for (i = 0; i < 2; ++i) {
        json_object *e = json_object_array_get_idx(v, i);
        if (!is_type(e, json_type_int) || json_object_get_int64(e) < 0 || json_object_get_int64(e) > 10000) {
            return bad_value(c->pprob, c->p, idx(c->p, field, i), "must be a number from 0 to 10000");
        }
        json_object_array_add(out, json_object_new_int64(json_object_get_int64(e)));
    }
    return APR_SUCCESS;
}

/* Tmpfs: {"/container/path": "size=64m,mode=1777"} */
static apr_status_t v_tmpfs(bctx_t *c, const spec_t *s, json_object *v, const char *field,
                            json_object *parent, const char *key)
{
    json_object *out;
    apr_status_t rv;

    if ((rv = v_strmap(c, s, v, field, parent, key)) != APR_SUCCESS) {
        return rv;
    }
    out = key ? dp_json_get(parent, key) : NULL;
    {
        json_object_object_foreach(out, k, val) {
            const char *o = json_object_get_string(val);
            if (k[0] != '/' || !printable(k) || !printable(o) || strchr(o, ' ')) {
                return bad_value(c->pprob, c->p, apr_pstrcat(c->p, field, ".", k, NULL),
                                 "'%s' is not an absolute path with tmpfs options", k);
            }
        }
    }
    return APR_SUCCESS;
}

/* Binds: "VOLUME:/path[:opts]", "/host/path:/path[:opts]" (DockpayBindAllow, sent resolved)
 * or "/path" (an anonymous volume) */
static apr_status_t v_binds(bctx_t *c, const spec_t *s, json_object *v, const char *field,
                            json_object *parent, const char *key)
{
    json_object *out;
    apr_size_t i;

    (void)s;
    if (!is_type(v, json_type_array)) {
        return bad_type(c->pprob, c->p, field, "must be an array of strings");
    }
    out = json_object_new_array();
    put(parent, key, out);
    for (i = 0; i < json_object_array_length(v); ++i) {
        json_object *e = json_object_array_get_idx(v, i);
        const char *f = idx(c->p, field, i), *spec, *real;
        char *copy, *src, *dst, *opts;
        apr_status_t rv;

        if (!is_type(e, json_type_string)) {
            return bad_type(c->pprob, c->p, f, "must be a string");
        }
        spec = json_object_get_string(e);
        copy = apr_pstrdup(c->p, spec);
        src = copy;
        dst = strchr(copy, ':');
        opts = dst ? strchr(dst + 1, ':') : NULL;
        if (dst) *dst++ = '\0';
        if (opts) *opts++ = '\0';
        if (!printable(spec) || (opts && strchr(opts, ':'))) {
            return deny(c->pprob, c->p, f, "'%s' is not a bind spec this server understands", spec);
        }
        if (dst == NULL) {
            if (src[0] != '/' || has_dotdot(src)) {
                return deny(c->pprob, c->p, f, "'%s' is not a bind spec this server understands", spec);
            }
            json_object_array_add(out, json_object_new_string(spec));  /* an anonymous volume */
            continue;
        }
        if (dst[0] != '/' || has_dotdot(dst)) {
            return deny(c->pprob, c->p, f, "'%s': the container path must be absolute, without '..'", spec);
        }
        if (opts && !bind_opts_ok(c->p, opts)) {
            return deny(c->pprob, c->p, f, "'%s': unknown bind options", spec);
        }
        if (opts && (strstr(opts, "shared") != NULL) && !(c->pol->allow & DP_DK_ALLOW_PRIVILEGED)) {
            return deny(c->pprob, c->p, f, "shared mount propagation is not allowed");
        }
        if (src[0] == '/') {
            if ((rv = dp_dk_policy_bind_source(&real, c->pprob, c->p, c->pol, src, f)) != APR_SUCCESS) {
                return rv;
            }
            src = (char *)real;
        }
        else if (!dp_dk_valid_volume_name(src)) {
            return deny(c->pprob, c->p, f, "'%s' is neither an absolute host path nor a volume name", src);
        }
        json_object_array_add(out, json_object_new_string(apr_pstrcat(c->p, src, ":", dst, opts ? ":" : "",
                                                                       opts ? opts : "", NULL)));
    }
    return APR_SUCCESS;
}

/* Mounts[i] once built: the type decides which options and sources are allowed */
static apr_status_t post_mount(bctx_t *c, json_object *m, const char *field)
{
    const char *type = dp_json_get_str(m, "Type"), *src = dp_json_get_str(m, "Source");
    const char *target = dp_json_get_str(m, "Target"), *real;
    json_object *bo = dp_json_get(m, "BindOptions"), *vo = dp_json_get(m, "VolumeOptions");
    json_object *to = dp_json_get(m, "TmpfsOptions"), *dc;
    apr_status_t rv;

    if (type == NULL) {
        return deny(c->pprob, c->p, sub_field(c->p, field, "Type"), "a mount needs a Type (bind, volume or tmpfs)");
    }
    if (target == NULL || target[0] != '/' || has_dotdot(target)) {
        return deny(c->pprob, c->p, sub_field(c->p, field, "Target"), "a mount needs an absolute Target without '..'");
    }
    if (!strcmp(type, "bind")) {
        if (vo || to) {
            return deny(c->pprob, c->p, sub_field(c->p, field, vo ? "VolumeOptions" : "TmpfsOptions"),
                        "only for mounts of that type");
        }
        if ((rv = dp_dk_policy_bind_source(&real, c->pprob, c->p, c->pol, src ? src : "",
                                           sub_field(c->p, field, "Source"))) != APR_SUCCESS) {
            return rv;
        }
        json_object_object_add(m, "Source", json_object_new_string(real));
        return APR_SUCCESS;
    }
    if (bo) {
        return deny(c->pprob, c->p, sub_field(c->p, field, "BindOptions"), "only for bind mounts");
    }
    if (!strcmp(type, "volume")) {
        if (to) {
            return deny(c->pprob, c->p, sub_field(c->p, field, "TmpfsOptions"), "only for tmpfs mounts");
        }
        if (src && *src && !dp_dk_valid_volume_name(src)) {
            return deny(c->pprob, c->p, sub_field(c->p, field, "Source"), "'%s' is not a volume name", src);
        }
        if ((dc = dp_json_get(vo, "DriverConfig")) != NULL) {
            field = sub_field(c->p, field, "VolumeOptions.DriverConfig");
            return dp_dk_policy_volume(c->pprob, c->p, c->pol, dp_json_get_str(dc, "Name"),
                                       dp_json_get(dc, "Options"), sub_field(c->p, field, "Options"));
        }
        return APR_SUCCESS;
    }
    /* tmpfs */
    if (vo) {
        return deny(c->pprob, c->p, sub_field(c->p, field, "VolumeOptions"), "only for volume mounts");
    }
    if (src && *src) {
        return deny(c->pprob, c->p, sub_field(c->p, field, "Source"), "a tmpfs mount has no source");
    }
    return APR_SUCCESS;
}

static const char *const log_local[] = { "json-file", "local", "none", NULL };

/* LogConfig once built: local drivers (and DockpayLogDriverAllow's), known options */
static apr_status_t post_log(bctx_t *c, json_object *lc, const char *field)
{
    static const char *const opts[] = {
        "max-size", "max-file", "compress", "labels", "labels-regex", "env", "env-regex", "tag",
        "mode", "max-buffer-size", NULL
    };
    const char *type = dp_json_get_str(lc, "Type");
    json_object *cfg = dp_json_get(lc, "Config");
    const char *const *a;
    int i;

    if (type == NULL || *type == '\0') {
        type = "";
    }
    for (a = log_local; *a && strcmp(*a, type); ++a) {}
    if (*a == NULL && *type) {
        for (i = 0; c->pol->log_drivers && i < c->pol->log_drivers->nelts; ++i) {
            if (!strcmp(type, APR_ARRAY_IDX(c->pol->log_drivers, i, const char *))) {
                return APR_SUCCESS;   /* a driver the administrator allowed: its options are its own */
            }
        }
        return deny(c->pprob, c->p, sub_field(c->p, field, "Type"), "the log driver '%s' is not allowed "
                    "(json-file, local, none, or DockpayLogDriverAllow)", type);
    }
    if (cfg) {
        json_object_object_foreach(cfg, k, val) {
            (void)val;
            for (a = opts; *a && strcmp(*a, k); ++a) {}
            if (*a == NULL) {
                return deny(c->pprob, c->p, apr_pstrcat(c->p, field, ".Config.", k, NULL),
                            "the log option '%s' is not allowed", k);
            }
        }
    }
    return APR_SUCCESS;
}

/* RestartPolicy once built */
static apr_status_t post_restart(bctx_t *c, json_object *rp, const char *field)
{
    const char *name = dp_json_get_str(rp, "Name");

    if (dp_json_get_int(rp, "MaximumRetryCount", 0) != 0 && (name == NULL || strcmp(name, "on-failure"))) {
        return bad_value(c->pprob, c->p, sub_field(c->p, field, "MaximumRetryCount"), "only with on-failure");
    }
    return APR_SUCCESS;
}

/* Ulimits[i] once built */
static apr_status_t post_ulimit(bctx_t *c, json_object *u, const char *field)
{
    static const char *const names[] = {
        "nofile", "nproc", "core", "stack", "fsize", "cpu", "locks", "sigpending", "msgqueue", NULL
    };
    const char *name = dp_json_get_str(u, "Name");
    const char *const *a;

    for (a = names; name && *a && strcmp(*a, name); ++a) {}
    if (name == NULL || *a == NULL) {
        return deny(c->pprob, c->p, sub_field(c->p, field, "Name"), "the ulimit '%s' is not allowed",
                    name ? name : "");
    }
    if (dp_json_get_int(u, "Soft", 0) > dp_json_get_int(u, "Hard", 0)) {
        return bad_value(c->pprob, c->p, sub_field(c->p, field, "Soft"), "must not exceed Hard");
    }
    if ((!strcmp(name, "nofile") || !strcmp(name, "nproc")) && dp_json_get_int(u, "Hard", 0) > 1048576) {
        return deny(c->pprob, c->p, sub_field(c->p, field, "Hard"), "at most 1048576");
    }
    return APR_SUCCESS;
}

/* Parses a host port "", "N" or "N-M" into lo..hi ("": Docker picks an ephemeral port). */
static int host_ports(const char *s, int *lo, int *hi)
{
    const char *dash = strchr(s, '-');

    if (*s == '\0') {
        *lo = 32768;
        *hi = 60999;
        return 1;
    }
    if (dash == NULL) {
        return (*lo = *hi = port_num(s, strlen(s))) != 0;
    }
    *lo = port_num(s, (apr_size_t)(dash - s));
    *hi = port_num(dash + 1, strlen(dash + 1));
    return *lo && *hi && *lo <= *hi;
}

/* True when two IP texts are the same address ("" is 0.0.0.0). */
static int same_ip(const char *a, const char *b)
{
    unsigned char x[16], y[16];
    int fa = strchr(a, ':') ? AF_INET6 : AF_INET, fb = strchr(b, ':') ? AF_INET6 : AF_INET;

    if (!*a) a = "0.0.0.0";
    if (!*b) b = "0.0.0.0";
    if (fa != fb || inet_pton(fa, a, x) != 1 || inet_pton(fb, b, y) != 1) {
        return 0;
    }
    return !memcmp(x, y, fa == AF_INET ? 4 : 16);
}

static const dp_dk_publish_t publish_default[] = {
    { "0.0.0.0", 1024, 65535 }, { "127.0.0.1", 1024, 65535 }, { "::", 1024, 65535 }, { "::1", 1024, 65535 }
};

/* True when host ports lo..hi on ip may be published. */
static int publish_ok(const dp_dk_policy_t *pol, const char *ip, int lo, int hi)
{
    const dp_dk_publish_t *e = pol->publish ? (const dp_dk_publish_t *)pol->publish->elts : publish_default;
    int i, n = pol->publish ? pol->publish->nelts : (int)(sizeof(publish_default) / sizeof(publish_default[0]));

    for (i = 0; i < n; ++i) {
        if ((!strcmp(e[i].ip, "*") || same_ip(e[i].ip, ip)) && lo >= e[i].lo && hi <= e[i].hi) {
            return 1;
        }
    }
    return 0;
}

/* Parses a DockpayPublishAllow entry. */
apr_status_t dp_dk_publish_parse(dp_dk_publish_t *out, apr_pool_t *p, const char *s)
{
    const char *colon, *ip;
    unsigned char buf[16];

    if (s[0] == '[') {
        const char *rb = strchr(s, ']');
        if (rb == NULL || rb[1] != ':') return APR_EINVAL;
        ip = apr_pstrmemdup(p, s + 1, (apr_size_t)(rb - s - 1));
        colon = rb + 1;
        if (inet_pton(AF_INET6, ip, buf) != 1) return APR_EINVAL;
    }
    else {
        if ((colon = strchr(s, ':')) == NULL) return APR_EINVAL;
        ip = apr_pstrmemdup(p, s, (apr_size_t)(colon - s));
        if (strcmp(ip, "*") && inet_pton(AF_INET, ip, buf) != 1) return APR_EINVAL;
    }
    if (!host_ports(colon + 1, &out->lo, &out->hi) || !colon[1]) {
        return APR_EINVAL;
    }
    out->ip = ip;
    return APR_SUCCESS;
}

static const spec_t pb_spec[];

/* PortBindings: {"80/tcp": [{"HostIp": "", "HostPort": "8080"}]} within DockpayPublishAllow */
static apr_status_t v_portbindings(bctx_t *c, const spec_t *s, json_object *v, const char *field,
                                   json_object *parent, const char *key)
{
    json_object *out;
    apr_status_t rv;

    (void)s;
    if (!is_type(v, json_type_object)) {
        return bad_type(c->pprob, c->p, field, "must be an object");
    }
    out = json_object_new_object();
    put(parent, key, out);
    {
        json_object_object_foreach(v, k, list) {
            const char *f = apr_pstrcat(c->p, field, ".", k, NULL), *pk = port_key(c->p, k);
            json_object *ol;
            apr_size_t i;
            if (pk == NULL) {
                return bad_value(c->pprob, c->p, f, "'%s' is not a port (80, 80/tcp, 53/udp)", k);
            }
            if (list == NULL) {
                continue;
            }
            if (!is_type(list, json_type_array)) {
                return bad_type(c->pprob, c->p, f, "must be an array of {HostIp, HostPort}");
            }
            ol = json_object_new_array();
            json_object_object_add(out, pk, ol);
            for (i = 0; i < json_object_array_length(list); ++i) {
                json_object *b = json_object_array_get_idx(list, i), *ob;
                const char *bf = idx(c->p, f, i), *ip, *hp;
                int lo, hi;
                if (!is_type(b, json_type_object)) {
                    return bad_type(c->pprob, c->p, bf, "must be an object");
                }
                ob = json_object_new_object();
                json_object_array_add(ol, ob);
                if ((rv = build_obj(c, pb_spec, NULL, b, bf, ob)) != APR_SUCCESS) {
                    return rv;
                }
                ip = dp_json_get_str(ob, "HostIp");
                hp = dp_json_get_str(ob, "HostPort");
                if (!ip) ip = "";
                if (!hp) hp = "";
                if (!host_ports(hp, &lo, &hi)) {
                    return bad_value(c->pprob, c->p, sub_field(c->p, bf, "HostPort"), "'%s' is not a port or "
                                     "a range (8080, 8000-8010)", hp);
                }
                if (!publish_ok(c->pol, ip, lo, hi)) {
                    return deny(c->pprob, c->p, bf, "publishing %s:%s is not allowed (DockpayPublishAllow)",
                                *ip ? ip : "0.0.0.0", *hp ? hp : "(a random port)");
                }
            }
        }
    }
    return APR_SUCCESS;
}

/* EndpointsConfig: {"network": {Aliases, IPAMConfig}} */
static apr_status_t v_endpoints(bctx_t *c, const spec_t *s, json_object *v, const char *field,
                                json_object *parent, const char *key)
{
    json_object *out;
    apr_status_t rv;

    if (!is_type(v, json_type_object)) {
        return bad_type(c->pprob, c->p, field, "must be an object");
    }
    out = json_object_new_object();
    put(parent, key, out);
    {
        json_object_object_foreach(v, k, ep) {
            const char *f = apr_pstrcat(c->p, field, ".", k, NULL);
            json_object *o;
            if ((rv = net_name(c, k, f, 0)) != APR_SUCCESS) {
                return rv;
            }
            if (ep == NULL) {
                ep = json_object_new_object();
                json_object_object_add(out, k, ep);
                continue;
            }
            if (!is_type(ep, json_type_object)) {
                return bad_type(c->pprob, c->p, f, "must be an object");
            }
            o = json_object_new_object();
            json_object_object_add(out, k, o);
            if ((rv = build_obj(c, s->sub, NULL, ep, f, o)) != APR_SUCCESS) {
                return rv;
            }
        }
    }
    return APR_SUCCESS;
}

/* ---- the tables */

#define I64MAX ((apr_int64_t)4611686018427387904LL)
#define LEAF(n, fn) { n, fn, SH_LEAF, NULL, NULL, 0, 0, NULL, 0 }
#define STR(n, max, vals, bit) { n, v_str, SH_LEAF, NULL, NULL, 0, max, vals, bit }
#define BOOL(n) { n, v_bool, SH_LEAF, NULL, NULL, 0, 0, NULL, 0 }
#define BOOL_FALSE(n, bit) { n, v_bool, SH_LEAF, NULL, NULL, 1, 0, NULL, bit }
#define INT(n, lo, hi) { n, v_int, SH_LEAF, NULL, NULL, lo, hi, NULL, 0 }
#define STRS(n) { n, v_strarr, SH_LEAF, NULL, NULL, 0, 4096, NULL, 0 }
#define MAP(n, fn) { n, fn, SH_MAP, NULL, NULL, 0, 0, NULL, 0 }
#define OBJ(n, sub, post) { n, v_obj, SH_OBJ, sub, post, 0, 0, NULL, 0 }
#define OBJS(n, sub, post) { n, v_objarr, SH_OBJ, sub, post, 0, 0, NULL, 0 }
#define RELAX(n, bit, even_empty, why) { n, v_relax, SH_OPAQUE, NULL, NULL, even_empty, 0, (const char *const[]){ why, NULL }, bit }
#define END { NULL, NULL, 0, NULL, NULL, 0, 0, NULL, 0 }

static const char *const v_none[] = { "", NULL };
static const char *const v_runtime[] = { "", "runc", NULL };
static const char *const v_ipc[] = { "", "private", "shareable", "none", NULL };
static const char *const v_cgroupns[] = { "", "private", NULL };
static const char *const v_isolation[] = { "", "default", NULL };
static const char *const v_voldriver[] = { "", "local", NULL };
static const char *const v_mount_type[] = { "bind", "volume", "tmpfs", NULL };
static const char *const v_consistency[] = { "", "default", "consistent", "cached", "delegated", NULL };
static const char *const v_propagation[] = { "", "private", "rprivate", "slave", "rslave", NULL };
static const char *const v_restart[] = { "", "no", "always", "unless-stopped", "on-failure", NULL };

static const spec_t health_spec[] = {
    { "Test", v_argv, SH_LEAF, NULL, NULL, 0, 4096, NULL, 0 },
    INT("Interval", 0, 86400000000000LL),
    INT("Timeout", 0, 86400000000000LL),
    INT("Retries", 0, 1000),
    INT("StartPeriod", 0, 86400000000000LL),
    INT("StartInterval", 0, 86400000000000LL),
    END
};

static const spec_t log_spec[] = {
    STR("Type", 64, NULL, 0),
    MAP("Config", v_strmap),
    END
};

static const spec_t restart_spec[] = {
    STR("Name", 32, v_restart, 0),
    INT("MaximumRetryCount", 0, 100),
    END
};

static const spec_t ulimit_spec[] = {
    STR("Name", 32, NULL, 0),
    INT("Soft", 0, 1099511627776LL),
    INT("Hard", 0, 1099511627776LL),
    END
};

static const spec_t pb_spec[] = {
    LEAF("HostIp", v_ip),
    STR("HostPort", 11, NULL, 0),
    END
};

static const spec_t bindopt_spec[] = {
    { "Propagation", v_str, SH_LEAF, NULL, NULL, 0, 16, v_propagation, DP_DK_ALLOW_PRIVILEGED },
    BOOL("NonRecursive"),
    BOOL("ReadOnlyNonRecursive"),
    BOOL("ReadOnlyForceRecursive"),
    END
};

static const spec_t driver_spec[] = {
    STR("Name", 255, NULL, 0),
    MAP("Options", v_strmap),
    END
};

static const spec_t volopt_spec[] = {
    BOOL("NoCopy"),
    MAP("Labels", v_strmap),
    OBJ("DriverConfig", driver_spec, NULL),
    END
};

static const spec_t tmpfsopt_spec[] = {
    INT("SizeBytes", 0, I64MAX),
    INT("Mode", 0, 07777),
    END
};

static const spec_t mount_spec[] = {
    STR("Type", 16, v_mount_type, 0),
    STR("Source", 4096, NULL, 0),
    LEAF("Target", v_abs),
    BOOL("ReadOnly"),
    STR("Consistency", 16, v_consistency, 0),
    OBJ("BindOptions", bindopt_spec, NULL),
    OBJ("VolumeOptions", volopt_spec, NULL),
    OBJ("TmpfsOptions", tmpfsopt_spec, NULL),
    END
};

static apr_status_t post_hostconfig(bctx_t *c, json_object *hc, const char *field);

static const spec_t hostconfig_spec[] = {
    /* mounts and storage */
    LEAF("Binds", v_binds),
    OBJS("Mounts", mount_spec, post_mount),
    MAP("Tmpfs", v_tmpfs),
    STR("VolumeDriver", 16, v_voldriver, 0),
    RELAX("VolumesFrom", DP_DK_ALLOW_PRIVILEGED, 0, "mounting another container's volumes is not allowed"),
    BOOL("ReadonlyRootfs"),
    /* network */
    LEAF("NetworkMode", v_netmode),
    { "PortBindings", v_portbindings, SH_OBJMAP, pb_spec, NULL, 0, 0, NULL, 0 },
    BOOL_FALSE("PublishAllPorts", 0),
    LEAF("Dns", v_ips),
    LEAF("DnsOptions", v_words),
    LEAF("DnsSearch", v_words),
    LEAF("ExtraHosts", v_words),
    /* process and lifecycle */
    OBJ("RestartPolicy", restart_spec, post_restart),
    BOOL("AutoRemove"),
    BOOL("Init"),
    OBJ("LogConfig", log_spec, post_log),
    LEAF("ConsoleSize", v_console),
    LEAF("GroupAdd", v_words),
    STR("Isolation", 16, v_isolation, 0),
    /* isolation: namespaces, privileges */
    { "PidMode", v_nsmode, SH_LEAF, NULL, NULL, 0, 0, v_none, DP_DK_ALLOW_HOST_NAMESPACES },
    { "IpcMode", v_nsmode, SH_LEAF, NULL, NULL, 0, 0, v_ipc, DP_DK_ALLOW_HOST_NAMESPACES },
    { "UTSMode", v_nsmode, SH_LEAF, NULL, NULL, 0, 0, v_none, DP_DK_ALLOW_HOST_NAMESPACES },
    { "UsernsMode", v_nsmode, SH_LEAF, NULL, NULL, 0, 0, v_none, DP_DK_ALLOW_HOST_NAMESPACES },
    { "CgroupnsMode", v_nsmode, SH_LEAF, NULL, NULL, 0, 0, v_cgroupns, DP_DK_ALLOW_HOST_NAMESPACES },
    BOOL_FALSE("Privileged", DP_DK_ALLOW_PRIVILEGED),
    { "CapAdd", v_caps, SH_LEAF, NULL, NULL, 0, 64, NULL, 0 },
    { "Capabilities", v_caps, SH_LEAF, NULL, NULL, 0, 64, default_caps, 0 },
    LEAF("CapDrop", v_words),
    { "SecurityOpt", v_secopt, SH_OPAQUE, NULL, NULL, 0, 4096, NULL, DP_DK_ALLOW_SECURITY_OPT },
    RELAX("MaskedPaths", DP_DK_ALLOW_SECURITY_OPT, 1, "changing the masked paths is not allowed"),
    RELAX("ReadonlyPaths", DP_DK_ALLOW_SECURITY_OPT, 1, "changing the read-only paths is not allowed"),
    RELAX("Sysctls", DP_DK_ALLOW_SYSCTLS, 0, "sysctls are not allowed"),
    RELAX("Devices", DP_DK_ALLOW_DEVICES, 0, "host devices are not allowed"),
    RELAX("DeviceRequests", DP_DK_ALLOW_DEVICES, 0, "device requests (GPUs) are not allowed"),
    RELAX("DeviceCgroupRules", DP_DK_ALLOW_DEVICES, 0, "device cgroup rules are not allowed"),
    STR("CgroupParent", 4096, v_none, DP_DK_ALLOW_PRIVILEGED),
    STR("Runtime", 64, v_runtime, DP_DK_ALLOW_PRIVILEGED),
    /* resources (post_hostconfig writes the defaults and applies the ceilings) */
    INT("Memory", 0, I64MAX),
    INT("MemorySwap", -1, I64MAX),
    INT("MemoryReservation", 0, I64MAX),
    INT("MemorySwappiness", -1, 100),
    INT("NanoCpus", 0, I64MAX),
    INT("CpuShares", 0, 262144),
    LEAF("CpusetCpus", v_cpuset),
    LEAF("CpusetMems", v_cpuset),
    INT("PidsLimit", 1, I64MAX),
    INT("OomScoreAdj", 0, 1000),
    BOOL_FALSE("OomKillDisable", 0),
    INT("ShmSize", 0, I64MAX),
    INT("BlkioWeight", 0, 1000),
    OBJS("Ulimits", ulimit_spec, post_ulimit),
    END
};

static const spec_t ipam_spec[] = {
    LEAF("IPv4Address", v_ip),
    LEAF("IPv6Address", v_ip),
    LEAF("LinkLocalIPs", v_ips),
    END
};

static const spec_t endpoint_spec[] = {
    LEAF("Aliases", v_words),
    OBJ("IPAMConfig", ipam_spec, NULL),
    END
};

static const spec_t netconfig_spec[] = {
    { "EndpointsConfig", v_endpoints, SH_OBJMAP, endpoint_spec, NULL, 0, 0, NULL, 0 },
    END
};

static const spec_t config_spec[] = {
    LEAF("Image", v_image),
    LEAF("Hostname", v_hostname),
    LEAF("Domainname", v_hostname),
    STR("User", 256, NULL, 0),
    BOOL("AttachStdin"),
    BOOL("AttachStdout"),
    BOOL("AttachStderr"),
    BOOL("Tty"),
    BOOL("OpenStdin"),
    BOOL("StdinOnce"),
    { "ExposedPorts", v_set, SH_MAP, NULL, NULL, 1, 0, NULL, 0 },
    { "Volumes", v_set, SH_MAP, NULL, NULL, 0, 0, NULL, 0 },
    { "Env", v_env, SH_LEAF, NULL, NULL, 0, 131072, NULL, 0 },
    { "Cmd", v_argv, SH_LEAF, NULL, NULL, 0, 131072, NULL, 0 },
    { "Entrypoint", v_argv, SH_LEAF, NULL, NULL, 0, 131072, NULL, 0 },
    { "Shell", v_argv, SH_LEAF, NULL, NULL, 0, 4096, NULL, 0 },
    LEAF("WorkingDir", v_abs),
    BOOL("NetworkDisabled"),
    MAP("Labels", v_labels),
    STR("StopSignal", 32, NULL, 0),
    INT("StopTimeout", 0, 3600),
    OBJ("Healthcheck", health_spec, NULL),
    OBJ("HostConfig", hostconfig_spec, post_hostconfig),
    OBJ("NetworkingConfig", netconfig_spec, NULL),
    END
};

/* Builds out from in: every member of in must be a field of table, spelled exactly. */
static apr_status_t build_obj(bctx_t *c, const spec_t *table, post_fn post, json_object *in,
                              const char *field, json_object *out)
{
    apr_status_t rv;

    json_object_object_foreach(in, k, v) {
        const char *f = sub_field(c->p, field, k);
        const spec_t *s;
        for (s = table; s->name && strcmp(s->name, k); ++s) {}
        if (s->name == NULL) {
            for (s = table; s->name && strcasecmp(s->name, k); ++s) {}
            if (s->name) {
                return deny(c->pprob, c->p, f, "field names are matched exactly here: write it as '%s'", s->name);
            }
            return deny(c->pprob, c->p, f, "the field is not on the create allow-list");
        }
        if (v == NULL) {
            continue;   /* null: Docker's default, written below where it matters */
        }
        if ((rv = s->fn(c, s, v, f, out, s->name)) != APR_SUCCESS) {
            return rv;
        }
    }
    return post ? post(c, out, field) : APR_SUCCESS;
}

static apr_int64_t or_default(apr_int64_t v, apr_int64_t dflt)
{
    return v > 0 ? v : dflt;
}

/* True when a built HostConfig mounts a host path (Binds, bind Mounts, bind-device volumes). */
static int has_host_bind(json_object *hc)
{
    json_object *a = dp_json_get(hc, "Binds");
    apr_size_t i;

    for (i = 0; a && i < json_object_array_length(a); ++i) {
        const char *b = json_object_get_string(json_object_array_get_idx(a, i));
        if (b[0] == '/' && strchr(b, ':')) return 1;
    }
    a = dp_json_get(hc, "Mounts");
    for (i = 0; a && i < json_object_array_length(a); ++i) {
        json_object *m = json_object_array_get_idx(a, i);
        json_object *o = dp_json_get(dp_json_get(dp_json_get(dp_json_get(m, "VolumeOptions"), "DriverConfig"),
                                                 "Options"), "device");
        if (!strcmp(dp_json_get_str(m, "Type"), "bind") || o) return 1;
    }
    return 0;
}

/* HostConfig once built: resource defaults, ceilings, swap within the memory limit. */
static apr_status_t post_hostconfig(bctx_t *c, json_object *hc, const char *field)
{
    const dp_dk_policy_t *pol = c->pol;
    apr_int64_t mem_max = or_default(pol->mem_max, DP_DK_MEMORY_MAX);
    apr_int64_t cpu_max = or_default(pol->cpu_max, DP_DK_CPUS_MAX);
    apr_int64_t pids_max = or_default(pol->pids_max, DP_DK_PIDS_MAX);
    apr_int64_t mem_def = or_default(pol->mem_default, DP_DK_MEMORY_DEFAULT);
    apr_int64_t cpu_def = or_default(pol->cpu_default, DP_DK_CPUS_DEFAULT);
    apr_int64_t pids_def = or_default(pol->pids_default, DP_DK_PIDS_DEFAULT);
    apr_int64_t mem, swap, cpus, pids;
    json_object *m;
    apr_size_t i;

    mem_def = mem_def > mem_max ? mem_max : mem_def;
    cpu_def = cpu_def > cpu_max ? cpu_max : cpu_def;
    pids_def = pids_def > pids_max ? pids_max : pids_def;
    mem = or_default(dp_json_get_int(hc, "Memory", 0), mem_def);
    if (mem > mem_max) {
        return deny(c->pprob, c->p, sub_field(c->p, field, "Memory"), "%" APR_INT64_T_FMT " bytes is above "
                    "the maximum of %" APR_INT64_T_FMT " (DockpayMemoryLimit)", mem, mem_max);
    }
    if (mem < 6 * 1024 * 1024) {
        return bad_value(c->pprob, c->p, sub_field(c->p, field, "Memory"), "below Docker's minimum of 6m");
    }
    swap = dp_json_get_int(hc, "MemorySwap", 0);
    if (swap != 0 && swap != mem) {
        return deny(c->pprob, c->p, sub_field(c->p, field, "MemorySwap"), "swap beyond the memory limit is not "
                    "allowed: MemorySwap must equal Memory (%" APR_INT64_T_FMT ") or be left out", mem);
    }
    if (dp_json_get_int(hc, "MemoryReservation", 0) > mem) {
        return deny(c->pprob, c->p, sub_field(c->p, field, "MemoryReservation"), "above the memory limit");
    }
    if (dp_json_get_int(hc, "ShmSize", 0) > mem) {
        return deny(c->pprob, c->p, sub_field(c->p, field, "ShmSize"), "above the memory limit");
    }
    for (m = dp_json_get(hc, "Mounts"), i = 0; m && i < json_object_array_length(m); ++i) {
        json_object *to = dp_json_get(json_object_array_get_idx(m, i), "TmpfsOptions");
        if (dp_json_get_int(to, "SizeBytes", 0) > mem) {
            return deny(c->pprob, c->p, apr_psprintf(c->p, "%s.Mounts[%lu].TmpfsOptions.SizeBytes", field,
                        (unsigned long)i), "above the memory limit");
        }
    }
    cpus = or_default(dp_json_get_int(hc, "NanoCpus", 0), cpu_def);
    if (cpus > cpu_max) {
        return deny(c->pprob, c->p, sub_field(c->p, field, "NanoCpus"), "%" APR_INT64_T_FMT " is above the "
                    "maximum of %" APR_INT64_T_FMT " (DockpayCpuLimit)", cpus, cpu_max);
    }
    if (cpus < 10000000) {
        return bad_value(c->pprob, c->p, sub_field(c->p, field, "NanoCpus"), "below 0.01 CPU");
    }
    pids = or_default(dp_json_get_int(hc, "PidsLimit", 0), pids_def);
    if (pids > pids_max) {
        return deny(c->pprob, c->p, sub_field(c->p, field, "PidsLimit"), "%" APR_INT64_T_FMT " is above the "
                    "maximum of %" APR_INT64_T_FMT " (DockpayPidsLimit)", pids, pids_max);
    }
    {
        const char *rp = dp_json_get_str(dp_json_get(hc, "RestartPolicy"), "Name");
        if (rp && *rp && strcmp(rp, "no") && has_host_bind(hc)) {
            /* Docker's own restarts would mount the sources again, past the start-time re-check */
            return deny(c->pprob, c->p, sub_field(c->p, field, "RestartPolicy.Name"), "a container with host bind "
                        "mounts may not restart by itself ('%s'): restart it through the API", rp);
        }
    }
    dp_json_set_int(hc, "Memory", mem);
    dp_json_set_int(hc, "MemorySwap", mem);
    dp_json_set_int(hc, "NanoCpus", cpus);
    dp_json_set_int(hc, "PidsLimit", pids);
    return APR_SUCCESS;
}

/* Builds the allow-listed create body. */
apr_status_t dp_dk_policy_build(json_object **pout, dp_problem_t **pprob, apr_pool_t *p,
                                const dp_dk_policy_t *pol, json_object *body)
{
    bctx_t c = { p, pprob, pol };
    json_object *out;
    apr_status_t rv;

    *pout = NULL;
    if (!is_type(body, json_type_object) || json_object_object_length(body) == 0) {
        return dp_problem_fail(pprob, p, 400, "missing_body", "the Docker create body must be a non-empty object");
    }
    out = dp_json_object(p);
    if ((rv = build_obj(&c, config_spec, NULL, body, "", out)) != APR_SUCCESS) {
        return rv;
    }
    if (dp_json_get(out, "Image") == NULL) {
        return bad_value(pprob, p, "Image", "an image is required");
    }
    if (dp_json_get(out, "HostConfig") == NULL) {
        json_object *hc = json_object_new_object();
        json_object_object_add(out, "HostConfig", hc);
        if ((rv = post_hostconfig(&c, hc, "HostConfig")) != APR_SUCCESS) {
            return rv;
        }
    }
    *pout = out;
    return APR_SUCCESS;
}

/* Checks a Docker create body against pol. */
apr_status_t dp_dk_policy_check(dp_problem_t **pprob, apr_pool_t *p, const dp_dk_policy_t *pol,
                                json_object *body)
{
    json_object *out;

    return dp_dk_policy_build(&out, pprob, p, pol, body);
}

/* Whether a field path of a built body is on the allow-list. */
int dp_dk_policy_field_known(const char *path)
{
    const spec_t *t = config_spec, *s = NULL;
    int star = 0;
    const char *seg = path;

    if (path == NULL || *path == '\0') {
        return 0;
    }
    while (seg) {
        const char *dot = strchr(seg, '.');
        apr_size_t n = dot ? (apr_size_t)(dot - seg) : strlen(seg);

        if (star) {
            if (n != 1 || seg[0] != '*') return 0;
            star = 0;
            t = s->shape == SH_OBJMAP ? s->sub : NULL;
        }
        else {
            if (t == NULL) return 0;
            for (s = t; s->name && !(strlen(s->name) == n && !strncmp(s->name, seg, n)); ++s) {}
            if (s->name == NULL) return 0;
            if (s->shape == SH_OPAQUE) return 3;
            star = s->shape == SH_MAP || s->shape == SH_OBJMAP;
            t = s->shape == SH_OBJ ? s->sub : NULL;
        }
        seg = dot ? dot + 1 : NULL;
    }
    return star ? 2 : 1;
}

/* Re-checks the host bind sources of an existing container. */
apr_status_t dp_dk_policy_recheck(apr_array_header_t **pvolumes, dp_problem_t **pprob, apr_pool_t *p,
                                  const dp_dk_policy_t *pol, json_object *info)
{
    json_object *hc = dp_json_get(info, "HostConfig"), *a;
    apr_array_header_t *vols = apr_array_make(p, 4, sizeof(const char *));
    apr_size_t i;
    apr_status_t rv;

    *pvolumes = vols;
    a = dp_json_get(hc, "Binds");
    for (i = 0; is_type(a, json_type_array) && i < json_object_array_length(a); ++i) {
        const char *spec = arr_str(a, i), *colon = spec ? strchr(spec, ':') : NULL;
        if (spec && spec[0] == '/' && colon
            && (rv = dp_dk_policy_bind_source(NULL, pprob, p, pol, apr_pstrmemdup(p, spec, (apr_size_t)(colon - spec)),
                                              idx(p, "HostConfig.Binds", i))) != APR_SUCCESS) {
            return rv;
        }
    }
    a = dp_json_get(hc, "Mounts");
    for (i = 0; is_type(a, json_type_array) && i < json_object_array_length(a); ++i) {
        json_object *m = json_object_array_get_idx(a, i), *dc;
        const char *type = dp_json_get_str(m, "Type"), *f = idx(p, "HostConfig.Mounts", i);
        if (type && !strcmp(type, "bind")
            && (rv = dp_dk_policy_bind_source(NULL, pprob, p, pol, dp_json_get_str(m, "Source") ?
                                              dp_json_get_str(m, "Source") : "", f)) != APR_SUCCESS) {
            return rv;
        }
        dc = dp_json_get(dp_json_get(m, "VolumeOptions"), "DriverConfig");
        if (dc && (rv = dp_dk_policy_volume(pprob, p, pol, dp_json_get_str(dc, "Name"), dp_json_get(dc, "Options"),
                                            apr_pstrcat(p, f, ".VolumeOptions.DriverConfig.Options", NULL)))
            != APR_SUCCESS) {
            return rv;
        }
    }
    a = dp_json_get(info, "Mounts");   /* what Docker mounts, whatever asked for it */
    for (i = 0; is_type(a, json_type_array) && i < json_object_array_length(a); ++i) {
        json_object *m = json_object_array_get_idx(a, i);
        const char *type = dp_json_get_str(m, "Type"), *driver = dp_json_get_str(m, "Driver");
        const char *name = dp_json_get_str(m, "Name"), *f = idx(p, "Mounts", i);
        if (type && !strcmp(type, "bind")
            && (rv = dp_dk_policy_bind_source(NULL, pprob, p, pol, dp_json_get_str(m, "Source") ?
                                              dp_json_get_str(m, "Source") : "", f)) != APR_SUCCESS) {
            return rv;
        }
        if (type && !strcmp(type, "volume") && name && (driver == NULL || !strcmp(driver, "local"))) {
            APR_ARRAY_PUSH(vols, const char *) = name;
        }
    }
    return APR_SUCCESS;
}

/* Returns the networks a built create body names. */
apr_array_header_t *dp_dk_policy_networks(apr_pool_t *p, json_object *built)
{
    apr_array_header_t *refs = apr_array_make(p, 2, sizeof(dp_dk_netref_t));
    const char *mode = dp_json_get_str(dp_json_get(built, "HostConfig"), "NetworkMode");
    json_object *eps = dp_json_get(dp_json_get(built, "NetworkingConfig"), "EndpointsConfig");
    dp_dk_netref_t *r;

    if (mode && *mode && strcmp(mode, "default") && strcmp(mode, "bridge") && strcmp(mode, "none")
        && strcmp(mode, "host") && strncmp(mode, "container:", 10)) {
        r = apr_array_push(refs);
        r->name = mode;
        r->field = "HostConfig.NetworkMode";
    }
    if (is_type(eps, json_type_object)) {
        json_object_object_foreach(eps, k, v) {
            (void)v;
            r = apr_array_push(refs);
            r->name = apr_pstrdup(p, k);
            r->field = apr_pstrcat(p, "NetworkingConfig.EndpointsConfig.", k, NULL);
        }
    }
    return refs;
}

/* Refuses a network of the host driver. */
apr_status_t dp_dk_policy_network_driver(dp_problem_t **pprob, apr_pool_t *p, const dp_dk_policy_t *pol,
                                         const char *driver, const char *field)
{
    if (driver && !strcmp(driver, "host") && !(pol->allow & DP_DK_ALLOW_HOST_NAMESPACES)) {
        return deny(pprob, p, field, "this is the host's network: not allowed");
    }
    return APR_SUCCESS;
}
