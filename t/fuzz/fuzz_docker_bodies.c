/* fuzz_docker_bodies: the JSON intake and validation of the Docker POST bodies.
 * Input: byte 0 picks the body type, the rest is the raw body:
 *   0 POST /containers (simple or {"docker": raw} body -> create body -> stamp labels -> policy)
 *   1 raw Docker create body straight into the policy (what {"docker": ...} forwards)
 *   2 POST /volumes driver/driver_opts (volume policy)
 *   3 POST /networks (the handler's checks: name, driver, subnet, gateway)
 *   4 POST /images/pull (image ref, tag, auth -> X-Registry-Auth)
 *   5 path normalisation and memory sizes (helpers of the above)
 * Checks, besides memory safety: failures are 4xx problems (never 5xx); the policy is fail-closed:
 * a body it lets through under the strictest policy has no privileged or host-namespace
 * setting, no security option, device, sysctl, no bind outside the allowed prefix, and no
 * top-level/HostConfig key that Docker would match case-insensitively to a security field
 * (CVE-2024-41110-style "Docker sees more than the checker"); X-Registry-Auth has no CR/LF;
 * a normalised path is absolute with no "." or ".." segment or "//". */
#include <stdlib.h>
#include <strings.h>
#include <sys/stat.h>

#include "fuzz_common.h"
#include "dp_dk_policy.h"
#include "dp_dk_misc.h"

#define PREFIX "/tmp/dp-fuzz-binds"

static const char *const security[] = {
    "Privileged", "CapAdd", "Devices", "DeviceCgroupRules", "DeviceRequests", "NetworkMode", "PidMode",
    "IpcMode", "UTSMode", "UsernsMode", "CgroupnsMode", "SecurityOpt", "Sysctls", "CgroupParent",
    "Runtime", "Binds", "Mounts", "VolumesFrom", "Links", "MaskedPaths", "ReadonlyPaths", "HostConfig", NULL
};

static void expect_4xx(const dp_problem_t *prob, apr_status_t rv)
{
    if (rv != APR_SUCCESS && (rv != DP_EPROBLEM || prob == NULL || prob->status < 400 || prob->status > 499)) {
        abort();
    }
}

/* Aborts when o has a key that equals a security field case-insensitively but not exactly. */
static void no_case_twins(json_object *o)
{
    int i;

    if (!o || !json_object_is_type(o, json_type_object)) {
        return;
    }
    json_object_object_foreach(o, k, v) {
        for (i = 0; security[i]; ++i) {
            if (strcasecmp(k, security[i]) == 0 && strcmp(k, security[i]) != 0) {
                abort();
            }
        }
        (void)v;
    }
}

static int nonempty(json_object *v)
{
    if (v == NULL) {
        return 0;
    }
    switch (json_object_get_type(v)) {
    case json_type_array: return json_object_array_length(v) > 0;
    case json_type_object: return json_object_object_length(v) > 0;
    case json_type_string: return json_object_get_string_len(v) > 0;
    case json_type_boolean: return json_object_get_boolean(v);
    case json_type_null: return 0;
    default: return 1;
    }
}

static void host_path_ok(apr_pool_t *p, const char *src)
{
    const char *n;

    if (src == NULL || src[0] != '/') {
        return;   /* a volume name */
    }
    n = dp_dk_path_normalise(p, src);
    if (n == NULL || (strcmp(n, PREFIX) != 0 && strncmp(n, PREFIX "/", sizeof(PREFIX)) != 0)) {
        abort();
    }
}

/* The strict policy let body through: check what Docker would act on. */
static void check_allowed(apr_pool_t *p, json_object *body)
{
    static const char *const modes[] = { "NetworkMode", "PidMode", "IpcMode", "UTSMode", "UsernsMode",
                                         "CgroupnsMode", NULL };
    static const char *const never[] = { "Devices", "DeviceCgroupRules", "DeviceRequests", "SecurityOpt",
                                         "Sysctls", "CgroupParent", "Runtime", "VolumesFrom", NULL };
    json_object *hc = dp_json_get(body, "HostConfig"), *v;
    size_t i, n;
    int j;

    no_case_twins(body);
    no_case_twins(hc);
    if (hc == NULL) {
        return;
    }
    if ((v = dp_json_get(hc, "Privileged")) && nonempty(v)) {
        abort();
    }
    for (j = 0; modes[j]; ++j) {
        const char *m = dp_json_get_str(hc, modes[j]);
        if (m && (strcasecmp(m, "host") == 0 || strncasecmp(m, "container:", 10) == 0)) {
            abort();
        }
    }
    for (j = 0; never[j]; ++j) {
        if (nonempty(dp_json_get(hc, never[j]))) {
            abort();
        }
    }
    if ((v = dp_json_get(hc, "Binds")) && json_object_is_type(v, json_type_array)) {
        for (i = 0, n = json_object_array_length(v); i < n; ++i) {
            const char *b = json_object_get_string(json_object_array_get_idx(v, i));
            const char *colon = b ? strchr(b, ':') : NULL;
            host_path_ok(p, colon ? apr_pstrndup(p, b, (apr_size_t)(colon - b)) : b);
        }
    }
    if ((v = dp_json_get(hc, "Mounts")) && json_object_is_type(v, json_type_array)) {
        for (i = 0, n = json_object_array_length(v); i < n; ++i) {
            json_object *m = json_object_array_get_idx(v, i);
            const char *type = dp_json_get_str(m, "Type");
            no_case_twins(m);
            if (type && strcasecmp(type, "bind") == 0) {
                host_path_ok(p, dp_json_get_str(m, "Source"));
            }
        }
    }
}

static void check_path(apr_pool_t *p, const char *s)
{
    const char *n = dp_dk_path_normalise(p, s);

    if (n == NULL) {
        if (s[0] == '/') {
            abort();
        }
        return;
    }
    if (n[0] != '/' || strstr(n, "//") || strstr(n, "/./") || strstr(n, "/../")
        || (strlen(n) > 1 && n[strlen(n) - 1] == '/')) {
        abort();
    }
    if ((strlen(n) >= 2 && strcmp(n + strlen(n) - 2, "/.") == 0)
        || (strlen(n) >= 3 && strcmp(n + strlen(n) - 3, "/..") == 0)) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static apr_array_header_t *caps, *binds;
    static apr_pool_t *gp;
    dp_dk_policy_t pol;
    apr_pool_t *p;
    json_object *req = NULL, *body = NULL;
    dp_problem_t *prob = NULL;
    const char *name = NULL;
    apr_status_t rv;
    unsigned sel;

    if (size < 1) {
        return 0;
    }
    fuzz_init();
    if (gp == NULL) {
        apr_pool_create(&gp, NULL);
        mkdir(PREFIX, 0755);
        caps = apr_array_make(gp, 1, sizeof(const char *));
        APR_ARRAY_PUSH(caps, const char *) = "NET_BIND_SERVICE";
        binds = apr_array_make(gp, 1, sizeof(const char *));
        APR_ARRAY_PUSH(binds, const char *) = PREFIX;
    }
    memset(&pol, 0, sizeof(pol));
    pol.caps = caps;
    pol.binds = binds;
    pol.socket = "/tmp/dp-fuzz-docker.sock";
    apr_pool_create(&p, NULL);
    sel = data[0] % 6;
    ++data;
    --size;
    if (sel == 5) {
        char *s = fuzz_str(p, data, size);
        apr_int64_t bytes;
        check_path(p, s);
        if (dp_parse_size(&bytes, s) == APR_SUCCESS && bytes < 0) {
            abort();
        }
        (void)dp_dk_valid_id(s);
        goto leave;
    }
    rv = dp_json_parse(&req, &prob, p, (const char *)data, size);
    expect_4xx(prob, rv);
    if (rv != APR_SUCCESS) {
        goto leave;
    }
    if (sel == 0) {
        rv = dp_dk_create_body(&body, &name, &prob, p, req);
        expect_4xx(prob, rv);
        if (rv == APR_SUCCESS) {
            if (name) {
                (void)dp_dk_valid_id(name);
            }
            rv = dp_dk_stamp_labels(&prob, p, body, "fuzz");
            expect_4xx(prob, rv);
            if (rv == APR_SUCCESS) {
                rv = dp_dk_policy_check(&prob, p, &pol, body);
                expect_4xx(prob, rv);
                if (rv == APR_SUCCESS) {
                    check_allowed(p, body);
                }
            }
            (void)dp_json_str(p, body);
        }
    }
    else if (sel == 1) {
        rv = dp_dk_policy_check(&prob, p, &pol, req);
        expect_4xx(prob, rv);
        if (rv == APR_SUCCESS) {
            check_allowed(p, req);
        }
    }
    else if (sel == 2) {
        const char *driver = dp_json_get_str(req, "driver");
        json_object *opts = dp_json_get(req, "driver_opts");
        rv = dp_dk_policy_volume(&prob, p, &pol, driver, opts, "driver_opts");
        expect_4xx(prob, rv);
        if (dp_json_get_str(req, "name")) {
            (void)dp_dk_valid_volume_name(dp_json_get_str(req, "name"));
        }
    }
    else if (sel == 3) {
        const char *s;
        int fam = 0;
        if ((s = dp_json_get_str(req, "name"))) {
            (void)dp_dk_name_ok(s);
        }
        if ((s = dp_json_get_str(req, "subnet")) && dp_dk_cidr_ok(s, &fam) && fam != 4 && fam != 6) {
            abort();
        }
        if ((s = dp_json_get_str(req, "gateway")) && dp_dk_ip_ok(s, &fam) && fam != 4 && fam != 6) {
            abort();
        }
    }
    else if (sel == 4) {
        static const char *const fields[] = { "username", "password", "serveraddress", NULL };
        json_object *a = dp_json_get(req, "auth");
        const char *image = dp_json_get_str(req, "image"), *hdr;
        const char *user = NULL, *pass = NULL, *server = NULL;
        if (image && dp_dk_image_ref_ok(image)) {
            const char *enc = dp_dk_ref_encode(p, image);
            if (strpbrk(enc, " \r\n?#") || strstr(image, "..")) {
                abort();
            }
            (void)dp_dk_ref_has_tag(image);
        }
        if (a && dp_json_only_fields(&prob, p, a, fields) == APR_SUCCESS
            && dp_json_field_str(&user, &prob, p, a, "username", 0, 256) == APR_SUCCESS
            && dp_json_field_str(&pass, &prob, p, a, "password", 0, 4096) == APR_SUCCESS
            && dp_json_field_str(&server, &prob, p, a, "serveraddress", 0, 256) == APR_SUCCESS) {
            hdr = dp_dk_registry_auth(p, user, pass, server);
            if (hdr == NULL || strpbrk(hdr, "\r\n :\"{}") != NULL) {
                abort();   /* a header value must be one base64url token */
            }
        }
    }
    fuzz_problem(p, prob);
leave:
    apr_pool_destroy(p);
    return 0;
}
