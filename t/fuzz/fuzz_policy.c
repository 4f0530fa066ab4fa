/* fuzz_policy: the create allow-list (dp_dk_policy_build) on random JSON.
 * Input: byte 0 picks the policy (bit 0: a DockpayBindAllow prefix; bit 1: DockpayCapAllow
 * NET_ADMIN; bit 2: a syslog log driver allowed), the rest is a Docker create body.
 * Checks, besides memory safety: failures are 4xx problems naming a field; a built body holds
 * only fields of the allow-list (dp_dk_policy_field_known, every level) and nothing privileged:
 * no Privileged, host or container: namespace, CapAdd beyond DockpayCapAllow, security option
 * other than no-new-privileges, relaxation-only field, non-local log driver (unless allowed),
 * runtime other than runc, PublishAllPorts, OomKillDisable, negative OomScoreAdj, host bind
 * outside the prefix or with "..", and the resource limits set within the maximum with swap
 * equal to memory. */
#include <stdlib.h>
#include <strings.h>
#include <sys/stat.h>

#include "fuzz_common.h"
#include "dp_dk_policy.h"

#define PREFIX "/tmp/dp-fuzz-policy"

static void expect_4xx(const dp_problem_t *prob, apr_status_t rv)
{
    if (rv != APR_SUCCESS && (rv != DP_EPROBLEM || prob == NULL || prob->status < 400 || prob->status > 499)) {
        abort();
    }
    if (rv != APR_SUCCESS && prob->status == 403 && (prob->ext == NULL || dp_json_get(prob->ext, "field") == NULL)) {
        abort();   /* a refusal names its field */
    }
}

/* Aborts unless every member of v (at path) is on the allow-list. */
static void walk(apr_pool_t *p, json_object *v, const char *path)
{
    apr_size_t i;

    if (json_object_is_type(v, json_type_array)) {
        for (i = 0; i < json_object_array_length(v); ++i) {
            walk(p, json_object_array_get_idx(v, i), path);
        }
        return;
    }
    if (!json_object_is_type(v, json_type_object)) {
        return;
    }
    {
        json_object_object_foreach(v, k, val) {
            const char *child = *path ? apr_pstrcat(p, path, ".", k, NULL) : k;
            int known = dp_dk_policy_field_known(child);
            if (known == 0) {
                abort();
            }
            if (known == 2) {
                json_object_object_foreach(val, mk, mv) {
                    (void)mk;
                    walk(p, mv, apr_pstrcat(p, child, ".*", NULL));
                }
            }
            else if (known == 1) {
                walk(p, val, child);
            }
            else if (strcmp(child, "HostConfig.SecurityOpt")) {
                abort();   /* a relaxation-only field: no relaxation is on here */
            }
        }
    }
}

static int is_host_ns(const char *s)
{
    return s && (!strcasecmp(s, "host") || !strncasecmp(s, "container:", 10));
}

/* a host source (up to ':' or the end) must be the prefix or below it, without ".." */
static void check_bind_src(const char *src)
{
    size_t n = strcspn(src, ":"), k = strlen(PREFIX);
    const char *dd;

    for (dd = strstr(src, "/.."); dd && (size_t)(dd - src) < n; dd = strstr(dd + 1, "/..")) {
        if (dd[3] == '/' || dd[3] == ':' || dd[3] == '\0') abort();   /* a ".." component */
    }
    if (n < k || strncmp(src, PREFIX, k) || (n > k && src[k] != '/')) {
        abort();
    }
}

static void check_privileges(json_object *out, int caps, int syslog)
{
    static const char *const ns[] = { "NetworkMode", "PidMode", "IpcMode", "UTSMode", "UsernsMode", "CgroupnsMode", NULL };
    json_object *hc = dp_json_get(out, "HostConfig"), *a;
    const char *const *n;
    const char *s;
    apr_size_t i;
    apr_int64_t mem;

    if (hc == NULL || dp_json_get_str(out, "Image") == NULL) {
        abort();
    }
    if (dp_json_get_bool(hc, "Privileged", 0) || dp_json_get_bool(hc, "PublishAllPorts", 0)
        || dp_json_get_bool(hc, "OomKillDisable", 0) || dp_json_get_int(hc, "OomScoreAdj", 0) < 0) {
        abort();
    }
    for (n = ns; *n; ++n) {
        if (is_host_ns(dp_json_get_str(hc, *n))) abort();
    }
    if ((s = dp_json_get_str(hc, "Runtime")) && *s && strcmp(s, "runc")) abort();
    if ((s = dp_json_get_str(hc, "CgroupParent")) && *s) abort();
    if ((a = dp_json_get(hc, "CapAdd")) != NULL) {
        for (i = 0; i < json_object_array_length(a); ++i) {
            s = json_object_get_string(json_object_array_get_idx(a, i));
            if (!caps || (strcasecmp(s, "NET_ADMIN") && strcasecmp(s, "CAP_NET_ADMIN"))) abort();
        }
    }
    if ((a = dp_json_get(hc, "SecurityOpt")) != NULL) {
        for (i = 0; i < json_object_array_length(a); ++i) {
            if (strncmp(json_object_get_string(json_object_array_get_idx(a, i)), "no-new-privileges", 17)) abort();
        }
    }
    if ((s = dp_json_get_str(dp_json_get(hc, "LogConfig"), "Type")) && *s && strcmp(s, "json-file")
        && strcmp(s, "local") && strcmp(s, "none") && !(syslog && !strcmp(s, "syslog"))) {
        abort();
    }
    if ((a = dp_json_get(hc, "Binds")) != NULL) {
        for (i = 0; i < json_object_array_length(a); ++i) {
            s = json_object_get_string(json_object_array_get_idx(a, i));
            if (s[0] == '/' && strchr(s, ':')) check_bind_src(s);
        }
    }
    if ((a = dp_json_get(hc, "Mounts")) != NULL) {
        for (i = 0; i < json_object_array_length(a); ++i) {
            json_object *m = json_object_array_get_idx(a, i);
            if (!strcmp(dp_json_get_str(m, "Type"), "bind")) check_bind_src(dp_json_get_str(m, "Source"));
        }
    }
    mem = dp_json_get_int(hc, "Memory", 0);
    if (mem <= 0 || mem > DP_DK_MEMORY_MAX || dp_json_get_int(hc, "MemorySwap", 0) != mem
        || dp_json_get_int(hc, "NanoCpus", 0) <= 0 || dp_json_get_int(hc, "NanoCpus", 0) > DP_DK_CPUS_MAX
        || dp_json_get_int(hc, "PidsLimit", 0) <= 0 || dp_json_get_int(hc, "PidsLimit", 0) > DP_DK_PIDS_MAX) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static apr_array_header_t *caps, *binds, *drivers;
    static apr_pool_t *gp;
    dp_dk_policy_t pol;
    apr_pool_t *p;
    json_object *in = NULL, *out = NULL;
    dp_problem_t *prob = NULL;
    apr_status_t rv;
    unsigned sel;

    if (size < 1) {
        return 0;
    }
    fuzz_init();
    if (gp == NULL) {
        apr_pool_create(&gp, NULL);
        mkdir(PREFIX, 0755);
        mkdir(PREFIX "/app", 0755);
        symlink("/etc", PREFIX "/evil");
        caps = apr_array_make(gp, 1, sizeof(const char *));
        APR_ARRAY_PUSH(caps, const char *) = "NET_ADMIN";
        binds = apr_array_make(gp, 1, sizeof(const char *));
        APR_ARRAY_PUSH(binds, const char *) = PREFIX;
        drivers = apr_array_make(gp, 1, sizeof(const char *));
        APR_ARRAY_PUSH(drivers, const char *) = "syslog";
    }
    sel = data[0];
    memset(&pol, 0, sizeof(pol));
    pol.binds = (sel & 1) ? binds : NULL;
    pol.caps = (sel & 2) ? caps : NULL;
    pol.log_drivers = (sel & 4) ? drivers : NULL;
    pol.socket = "/tmp/dp-fuzz-policy.sock";
    apr_pool_create(&p, NULL);
    rv = dp_json_parse(&in, &prob, p, (const char *)data + 1, size - 1);
    if (rv == APR_SUCCESS) {
        rv = dp_dk_policy_build(&out, &prob, p, &pol, in);
        expect_4xx(prob, rv);
        fuzz_problem(p, prob);
        if (rv == APR_SUCCESS) {
            walk(p, out, "");
            check_privileges(out, (sel & 2) != 0, (sel & 4) != 0);
            (void)dp_json_str(p, out);
        }
    }
    apr_pool_destroy(p);
    return 0;
}
