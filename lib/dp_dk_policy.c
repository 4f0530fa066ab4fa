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

/* Parses a memory size into bytes. */
apr_status_t dp_dk_parse_memory(apr_int64_t *pbytes, const char *s)
{
    char *end;
    double v;
    double mul = 1;

    if (s == NULL || !apr_isdigit(s[0])) {
        return APR_EINVAL;
    }
    errno = 0;
    v = strtod(s, &end);
    if (errno || end == s) {
        return APR_EINVAL;
    }
    switch (apr_tolower(*end)) {
    case 'k': mul = 1024.0; ++end; break;
    case 'm': mul = 1024.0 * 1024; ++end; break;
    case 'g': mul = 1024.0 * 1024 * 1024; ++end; break;
    case 't': mul = 1024.0 * 1024 * 1024 * 1024; ++end; break;
    default: break;
    }
    if (apr_tolower(*end) == 'b') {
        ++end;
    }
    if (*end != '\0' || strchr(s, 'e') || strchr(s, 'E') || strchr(s, 'x') || strchr(s, 'X')) {
        return APR_EINVAL;
    }
    v *= mul;
    if (v < 0 || v > 4611686018427387904.0) {
        return APR_EINVAL;
    }
    *pbytes = (apr_int64_t)v;
    return APR_SUCCESS;
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

/* Resolves symlinks in the longest existing ancestor of the normalised path norm and appends
 * the rest; NULL (errno set) when a part cannot be examined. */
static const char *resolve(apr_pool_t *p, const char *norm)
{
    char buf[PATH_MAX];
    char *head = apr_pstrdup(p, norm);
    const char *tail = "";

    for (;;) {
        char *slash;
        if (realpath(head, buf) != NULL) {
            if (!strcmp(buf, "/") && *tail) {
                return tail;
            }
            return apr_pstrcat(p, buf, tail, NULL);
        }
        if (errno != ENOENT && errno != ENOTDIR) {
            return NULL;
        }
        slash = strrchr(head, '/');
        if (slash == NULL || slash == head) {
            if (slash == head && head[1]) {
                tail = apr_pstrcat(p, head, tail, NULL);
                head[1] = '\0';
                continue;
            }
            return NULL;
        }
        tail = apr_pstrcat(p, slash, tail, NULL);
        *slash = '\0';
    }
}

/* Checks that a host path may be bind-mounted. */
apr_status_t dp_dk_policy_host_path(dp_problem_t **pprob, apr_pool_t *p, const dp_dk_policy_t *pol,
                                    const char *path, const char *field)
{
    const char *norm = dp_dk_path_normalise(p, path), *real, *why;

    if (norm == NULL) {
        return deny(pprob, p, field, "'%s' is not an absolute host path", path);
    }
    if ((why = never_reason(pol, norm)) != NULL) {
        return deny(pprob, p, field, "%s (%s)", why, norm);
    }
    if (!path_allowed(pol, norm)) {
        return deny(pprob, p, field, "bind mounts of host paths outside DockpayBindAllow are not "
                    "allowed (%s)", norm);
    }
    if ((real = resolve(p, norm)) == NULL) {
        return deny(pprob, p, field, "the host path %s cannot be checked (%s)", norm, strerror(errno));
    }
    if ((why = never_reason(pol, real)) != NULL) {
        return deny(pprob, p, field, "%s (%s leads to %s)", why, norm, real);
    }
    if (!path_allowed(pol, real)) {
        return deny(pprob, p, field, "%s leads to %s, outside DockpayBindAllow", norm, real);
    }
    return APR_SUCCESS;
}

/* ------------------------------------------------------------------------------------------ */
/* the policy */

/* Field names the policy reads, at any level it inspects. Docker's JSON decoder matches names
 * case-insensitively, so another spelling of one of these would slip past the check. */
static const char *const policed_names[] = {
    "HostConfig", "Labels", "Image", "Privileged", "NetworkMode", "PidMode", "IpcMode", "UTSMode",
    "UsernsMode", "CgroupnsMode", "CapAdd", "Capabilities", "Devices", "DeviceRequests",
    "DeviceCgroupRules", "SecurityOpt", "MaskedPaths", "ReadonlyPaths", "Sysctls", "CgroupParent",
    "Runtime", "VolumesFrom", "Binds", "Mounts", "Type", "Source", "BindOptions", "Propagation",
    "VolumeOptions", "DriverConfig", "Name", "Options", NULL
};

/* Refuses keys of o that are a policed name in another case, or not plain ASCII. */
static apr_status_t check_keys(dp_problem_t **pprob, apr_pool_t *p, json_object *o, const char *where)
{
    json_object_object_foreach(o, key, val) {
        const char *const *n;
        const unsigned char *c;
        (void)val;
        for (c = (const unsigned char *)key; *c; ++c) {
            if (*c >= 0x80) {
                return bad_type(pprob, p, apr_pstrcat(p, where, key, NULL),
                                "field names must be plain ASCII here");
            }
        }
        for (n = policed_names; *n; ++n) {
            if (!strcasecmp(key, *n) && strcmp(key, *n)) {
                return bad_type(pprob, p, apr_pstrcat(p, where, key, NULL), "write it as '%s'", *n);
            }
        }
    }
    return APR_SUCCESS;
}

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

static apr_status_t check_namespaces(dp_problem_t **pprob, apr_pool_t *p, const dp_dk_policy_t *pol,
                                     json_object *hc)
{
    static const char *const modes[] = {
        "NetworkMode", "PidMode", "IpcMode", "UTSMode", "UsernsMode", "CgroupnsMode", NULL
    };
    const char *const *m;
    apr_status_t rv;

    if (pol->allow & DP_DK_ALLOW_HOST_NAMESPACES) {
        return APR_SUCCESS;
    }
    for (m = modes; *m; ++m) {
        const char *v, *field = apr_pstrcat(p, "HostConfig.", *m, NULL);
        if ((rv = opt_str(&v, pprob, p, hc, *m, field)) != APR_SUCCESS) {
            return rv;
        }
        if (v && !strcasecmp(v, "host")) {
            return deny(pprob, p, field, "the host's namespace is not allowed");
        }
        if (v && (!strcmp(*m, "PidMode") || !strcmp(*m, "IpcMode")) && !strncasecmp(v, "container:", 10)) {
            return deny(pprob, p, field, "joining another container's namespace is not allowed");
        }
    }
    return APR_SUCCESS;
}

/* Refuses a capability in hc's array key (HostConfig.CapAdd or .Capabilities) that is neither
 * in defaults (NULL: none) nor in DockpayCapAllow. */
static apr_status_t check_cap_list(dp_problem_t **pprob, apr_pool_t *p, const dp_dk_policy_t *pol,
                                   json_object *hc, const char *key, const char *const *defaults)
{
    const char *field = apr_pstrcat(p, "HostConfig.", key, NULL);
    json_object *a;
    apr_size_t i;
    apr_status_t rv;

    if ((rv = str_array(&a, pprob, p, hc, key, field)) != APR_SUCCESS) {
        return rv;
    }
    for (i = 0; a && i < json_object_array_length(a); ++i) {
        if (!cap_in(arr_str(a, i), defaults, pol->caps)) {
            return deny(pprob, p, idx(p, field, i), "the capability '%s' is not in DockpayCapAllow",
                        arr_str(a, i));
        }
    }
    return APR_SUCCESS;
}

static apr_status_t check_caps(dp_problem_t **pprob, apr_pool_t *p, const dp_dk_policy_t *pol,
                               json_object *hc)
{
    apr_status_t rv = check_cap_list(pprob, p, pol, hc, "CapAdd", NULL);

    return rv != APR_SUCCESS ? rv : check_cap_list(pprob, p, pol, hc, "Capabilities", default_caps);
}

/* Refuses a non-empty member (array or object) unless bit is allowed. */
static apr_status_t check_nonempty(dp_problem_t **pprob, apr_pool_t *p, const dp_dk_policy_t *pol,
                                   json_object *hc, const char *key, json_type type, unsigned bit,
                                   int even_empty, const char *why)
{
    json_object *v = dp_json_get(hc, key);
    const char *field = apr_pstrcat(p, "HostConfig.", key, NULL);
    apr_size_t n;

    if (v == NULL) {
        return APR_SUCCESS;
    }
    if (!is_type(v, type)) {
        return bad_type(pprob, p, field, "must be %s", type == json_type_array ? "an array" : "an object");
    }
    n = type == json_type_array ? json_object_array_length(v) : (apr_size_t)json_object_object_length(v);
    if ((n > 0 || even_empty) && !(pol->allow & bit)) {
        return deny(pprob, p, field, "%s", why);
    }
    return APR_SUCCESS;
}

static apr_status_t check_security_opt(dp_problem_t **pprob, apr_pool_t *p, const dp_dk_policy_t *pol,
                                       json_object *hc)
{
    json_object *a;
    apr_size_t i;
    apr_status_t rv;

    if ((rv = str_array(&a, pprob, p, hc, "SecurityOpt", "HostConfig.SecurityOpt")) != APR_SUCCESS) {
        return rv;
    }
    for (i = 0; a && !(pol->allow & DP_DK_ALLOW_SECURITY_OPT) && i < json_object_array_length(a); ++i) {
        const char *s = arr_str(a, i);
        /* no-new-privileges only takes privileges away */
        if (!strcmp(s, "no-new-privileges") || !strcmp(s, "no-new-privileges:true")
            || !strcmp(s, "no-new-privileges=true")) {
            continue;
        }
        return deny(pprob, p, idx(p, "HostConfig.SecurityOpt", i),
                    "security options are not allowed ('%s'; DockpayPolicyAllow security-opt)", s);
    }
    if ((rv = check_nonempty(pprob, p, pol, hc, "MaskedPaths", json_type_array, DP_DK_ALLOW_SECURITY_OPT, 1,
                             "changing the masked paths is not allowed")) != APR_SUCCESS) {
        return rv;
    }
    return check_nonempty(pprob, p, pol, hc, "ReadonlyPaths", json_type_array, DP_DK_ALLOW_SECURITY_OPT, 1,
                          "changing the read-only paths is not allowed");
}

static apr_status_t check_privileged(dp_problem_t **pprob, apr_pool_t *p, const dp_dk_policy_t *pol,
                                     json_object *hc)
{
    json_object *v = dp_json_get(hc, "Privileged");
    const char *s;
    apr_status_t rv;
    int priv = (pol->allow & DP_DK_ALLOW_PRIVILEGED) != 0;

    if (v && !is_type(v, json_type_boolean)) {
        return bad_type(pprob, p, "HostConfig.Privileged", "must be a boolean");
    }
    if (v && json_object_get_boolean(v) && !priv) {
        return deny(pprob, p, "HostConfig.Privileged", "privileged containers are not allowed");
    }
    if ((rv = opt_str(&s, pprob, p, hc, "CgroupParent", "HostConfig.CgroupParent")) != APR_SUCCESS) {
        return rv;
    }
    if (s && *s && !priv) {
        return deny(pprob, p, "HostConfig.CgroupParent", "a cgroup parent is not allowed");
    }
    if ((rv = opt_str(&s, pprob, p, hc, "Runtime", "HostConfig.Runtime")) != APR_SUCCESS) {
        return rv;
    }
    if (s && *s && strcmp(s, "runc") && !priv) {
        return deny(pprob, p, "HostConfig.Runtime", "the runtime '%s' is not allowed", s);
    }
    return check_nonempty(pprob, p, pol, hc, "VolumesFrom", json_type_array, DP_DK_ALLOW_PRIVILEGED, 0,
                          "mounting another container's volumes is not allowed");
}

/* True for a propagation mode that would leak mounts back to the host. */
static int shared_propagation(const char *s)
{
    return s && (!strcmp(s, "shared") || !strcmp(s, "rshared"));
}

/* Checks one Binds entry "src:dst[:opts]". */
static apr_status_t check_bind(dp_problem_t **pprob, apr_pool_t *p, const dp_dk_policy_t *pol,
                               const char *spec, const char *field)
{
    char *copy = apr_pstrdup(p, spec), *last, *src, *dst, *opts, *o;
    apr_status_t rv;

    src = apr_strtok(copy, ":", &last);
    dst = apr_strtok(NULL, ":", &last);
    opts = apr_strtok(NULL, ":", &last);
    if (src == NULL || apr_strtok(NULL, ":", &last) != NULL || spec[0] == ':' || strstr(spec, "::")) {
        return deny(pprob, p, field, "'%s' is not a bind spec this server understands", spec);
    }
    if (dst == NULL) {
        return APR_SUCCESS;  /* an anonymous volume at a container path */
    }
    if (src[0] == '/') {
        if ((rv = dp_dk_policy_host_path(pprob, p, pol, src, field)) != APR_SUCCESS) {
            return rv;
        }
    }
    else if (!dp_dk_valid_volume_name(src)) {
        return deny(pprob, p, field, "'%s' is neither an absolute host path nor a volume name", src);
    }
    for (o = opts ? apr_strtok(opts, ",", &last) : NULL; o; o = apr_strtok(NULL, ",", &last)) {
        if (shared_propagation(o) && !(pol->allow & DP_DK_ALLOW_PRIVILEGED)) {
            return deny(pprob, p, field, "shared mount propagation is not allowed");
        }
    }
    return APR_SUCCESS;
}

/* Checks HostConfig.Mounts. */
static apr_status_t check_mounts(dp_problem_t **pprob, apr_pool_t *p, const dp_dk_policy_t *pol,
                                 json_object *hc)
{
    json_object *a = dp_json_get(hc, "Mounts");
    apr_size_t i, n;
    apr_status_t rv;

    if (a == NULL) {
        return APR_SUCCESS;
    }
    if (!is_type(a, json_type_array)) {
        return bad_type(pprob, p, "HostConfig.Mounts", "must be an array of objects");
    }
    n = json_object_array_length(a);
    for (i = 0; i < n; ++i) {
        json_object *m = json_object_array_get_idx(a, i), *bo, *vo, *dc, *opts;
        const char *field = idx(p, "HostConfig.Mounts", i);
        const char *type, *src, *prop, *driver;

        if (!is_type(m, json_type_object)) {
            return bad_type(pprob, p, field, "must be an object");
        }
        if ((rv = check_keys(pprob, p, m, apr_pstrcat(p, field, ".", NULL))) != APR_SUCCESS
            || (rv = opt_str(&type, pprob, p, m, "Type", apr_pstrcat(p, field, ".Type", NULL))) != APR_SUCCESS
            || (rv = opt_str(&src, pprob, p, m, "Source", apr_pstrcat(p, field, ".Source", NULL))) != APR_SUCCESS
            || (rv = opt_obj(&bo, pprob, p, m, "BindOptions", apr_pstrcat(p, field, ".BindOptions", NULL))) != APR_SUCCESS
            || (rv = opt_obj(&vo, pprob, p, m, "VolumeOptions", apr_pstrcat(p, field, ".VolumeOptions", NULL))) != APR_SUCCESS) {
            return rv;
        }
        if (type == NULL) {
            return deny(pprob, p, field, "a mount without a Type is not allowed");
        }
        if (!strcasecmp(type, "bind")) {
            if (bo && ((rv = check_keys(pprob, p, bo, apr_pstrcat(p, field, ".BindOptions.", NULL))) != APR_SUCCESS
                || (rv = opt_str(&prop, pprob, p, bo, "Propagation", apr_pstrcat(p, field, ".BindOptions.Propagation", NULL))) != APR_SUCCESS)) {
                return rv;
            }
            if ((rv = dp_dk_policy_host_path(pprob, p, pol, src ? src : "", field)) != APR_SUCCESS) {
                return rv;
            }
            if (bo && shared_propagation(prop) && !(pol->allow & DP_DK_ALLOW_PRIVILEGED)) {
                return deny(pprob, p, apr_pstrcat(p, field, ".BindOptions.Propagation", NULL),
                            "shared mount propagation is not allowed");
            }
        }
        else if (!strcasecmp(type, "volume")) {
            if (vo == NULL) {
                continue;
            }
            if ((rv = check_keys(pprob, p, vo, apr_pstrcat(p, field, ".VolumeOptions.", NULL))) != APR_SUCCESS
                || (rv = opt_obj(&dc, pprob, p, vo, "DriverConfig", apr_pstrcat(p, field, ".VolumeOptions.DriverConfig", NULL))) != APR_SUCCESS) {
                return rv;
            }
            if (dc == NULL) {
                continue;
            }
            field = apr_pstrcat(p, field, ".VolumeOptions.DriverConfig", NULL);
            if ((rv = check_keys(pprob, p, dc, apr_pstrcat(p, field, ".", NULL))) != APR_SUCCESS
                || (rv = opt_str(&driver, pprob, p, dc, "Name", apr_pstrcat(p, field, ".Name", NULL))) != APR_SUCCESS
                || (rv = opt_obj(&opts, pprob, p, dc, "Options", apr_pstrcat(p, field, ".Options", NULL))) != APR_SUCCESS
                || (rv = dp_dk_policy_volume(pprob, p, pol, driver, opts, apr_pstrcat(p, field, ".Options", NULL))) != APR_SUCCESS) {
                return rv;
            }
        }
        else if (strcasecmp(type, "tmpfs")) {
            return deny(pprob, p, apr_pstrcat(p, field, ".Type", NULL), "mounts of type '%s' are not allowed", type);
        }
    }
    return APR_SUCCESS;
}

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
    if (device == NULL) {
        return APR_SUCCESS;  /* no source: nothing of the host is mounted */
    }
    field = apr_pstrcat(p, field, ".device", NULL);
    if (type && !strcmp(type, "tmpfs") && !(o && strstr(o, "bind"))) {
        return APR_SUCCESS;
    }
    if (type == NULL || !strcmp(type, "none") || !strcmp(type, "") || (o && strstr(o, "bind"))) {
        /* a bind mount of a host path dressed as a volume */
        return dp_dk_policy_host_path(pprob, p, pol, device, field);
    }
    if (!(pol->allow & DP_DK_ALLOW_DEVICES)) {
        return deny(pprob, p, field, "volumes that mount a device or a '%s' filesystem are not allowed", type);
    }
    return APR_SUCCESS;
}

/* Checks a Docker create body against pol. */
apr_status_t dp_dk_policy_check(dp_problem_t **pprob, apr_pool_t *p, const dp_dk_policy_t *pol,
                                json_object *body)
{
    json_object *hc, *a;
    apr_size_t i;
    apr_status_t rv;

    if (!is_type(body, json_type_object) || json_object_object_length(body) == 0) {
        return dp_problem_fail(pprob, p, 400, "missing_body", "the Docker create body must be a non-empty object");
    }
    if ((rv = check_keys(pprob, p, body, "")) != APR_SUCCESS
        || (rv = opt_obj(&hc, pprob, p, body, "HostConfig", "HostConfig")) != APR_SUCCESS) {
        return rv;
    }
    if (hc == NULL) {
        return APR_SUCCESS;
    }
    if ((rv = check_keys(pprob, p, hc, "HostConfig.")) != APR_SUCCESS
        || (rv = check_privileged(pprob, p, pol, hc)) != APR_SUCCESS
        || (rv = check_namespaces(pprob, p, pol, hc)) != APR_SUCCESS
        || (rv = check_caps(pprob, p, pol, hc)) != APR_SUCCESS
        || (rv = check_nonempty(pprob, p, pol, hc, "Devices", json_type_array, DP_DK_ALLOW_DEVICES, 0,
                                "host devices are not allowed")) != APR_SUCCESS
        || (rv = check_nonempty(pprob, p, pol, hc, "DeviceRequests", json_type_array, DP_DK_ALLOW_DEVICES, 0,
                                "device requests (GPUs) are not allowed")) != APR_SUCCESS
        || (rv = check_nonempty(pprob, p, pol, hc, "DeviceCgroupRules", json_type_array, DP_DK_ALLOW_DEVICES, 0,
                                "device cgroup rules are not allowed")) != APR_SUCCESS
        || (rv = check_security_opt(pprob, p, pol, hc)) != APR_SUCCESS
        || (rv = check_nonempty(pprob, p, pol, hc, "Sysctls", json_type_object, DP_DK_ALLOW_SYSCTLS, 0,
                                "sysctls are not allowed")) != APR_SUCCESS
        || (rv = str_array(&a, pprob, p, hc, "Binds", "HostConfig.Binds")) != APR_SUCCESS) {
        return rv;
    }
    for (i = 0; a && i < json_object_array_length(a); ++i) {
        if ((rv = check_bind(pprob, p, pol, arr_str(a, i), idx(p, "HostConfig.Binds", i))) != APR_SUCCESS) {
            return rv;
        }
    }
    return check_mounts(pprob, p, pol, hc);
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
        else if (dp_dk_parse_memory(&bytes, json_object_get_string(v)) != APR_SUCCESS) {
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
