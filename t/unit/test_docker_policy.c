/* Unit tests: simple create body translation (and its 400/422s), the create policy (every
 * refusal, relaxations, Binds and Mounts, traversal, sockets, symlinks), volume options. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <limits.h>
#include <sys/stat.h>
#include <apr_strings.h>
#include "check_dockpay.h"
#include "dp_dk_policy.h"
#include "dp_json.h"

static json_object *parse(const char *s)
{
    json_object *o = NULL;
    ck_assert_msg(dp_json_parse(&o, NULL, tp, s, strlen(s)) == APR_SUCCESS, "bad test JSON: %s", s);
    return o;
}

static apr_array_header_t *list(const char *a, const char *b)
{
    apr_array_header_t *arr = apr_array_make(tp, 2, sizeof(const char *));
    if (a) APR_ARRAY_PUSH(arr, const char *) = a;
    if (b) APR_ARRAY_PUSH(arr, const char *) = b;
    return arr;
}

static const char *field_of(dp_problem_t *prob)
{
    json_object *f = prob && prob->ext ? dp_json_get(prob->ext, "field") : NULL;
    return f ? json_object_get_string(f) : "";
}

/* ------------------------------------------------------------------------------------------ */
/* translation */

START_TEST(create_simple_translation)
{
    json_object *body;
    const char *name;
    dp_problem_t *prob = NULL;
    json_object *req = parse(
        "{\"image\":\"nginx:latest\",\"name\":\"my-nginx\",\"ports\":[\"8080:80\",\"127.0.0.1:8443:443/tcp\","
        "\"53:53/udp\",\"9000\",\"127.0.0.1::81\",\"[::1]:8081:80\"],\"env\":{\"K\":\"V\",\"A\":\"b=c\"},"
        "\"cmd\":[\"sh\",\"-c\",\"echo hi\"],\"entrypoint\":[\"/bin/sh\"],\"volumes\":[\"vol:/data\","
        "\"/host/path:/data2:ro\",\"/anon\"],\"labels\":{\"team\":\"a\"},\"restart\":\"on-failure:3\","
        "\"network\":\"appnet\",\"memory\":\"256m\",\"cpus\":0.5,\"workdir\":\"/srv\",\"user\":\"1000:1000\","
        "\"hostname\":\"web-1\"}");
    json_object *hc, *pb;

    ck_assert_int_eq(dp_dk_create_body(&body, &name, &prob, tp, req), APR_SUCCESS);
    ck_assert_str_eq(name, "my-nginx");
    ck_assert_str_eq(dp_json_get_str(body, "Image"), "nginx:latest");
    hc = dp_json_get(body, "HostConfig");
    pb = dp_json_get(hc, "PortBindings");
    ck_assert_str_eq(dp_json_str(tp, dp_json_get(pb, "80/tcp")),
                     "[{\"HostIp\":\"\",\"HostPort\":\"8080\"},{\"HostIp\":\"::1\",\"HostPort\":\"8081\"}]");
    ck_assert_str_eq(dp_json_str(tp, dp_json_get(pb, "443/tcp")), "[{\"HostIp\":\"127.0.0.1\",\"HostPort\":\"8443\"}]");
    ck_assert_str_eq(dp_json_str(tp, dp_json_get(pb, "53/udp")), "[{\"HostIp\":\"\",\"HostPort\":\"53\"}]");
    ck_assert_str_eq(dp_json_str(tp, dp_json_get(pb, "81/tcp")), "[{\"HostIp\":\"127.0.0.1\",\"HostPort\":\"\"}]");
    ck_assert_ptr_null(dp_json_get(pb, "9000/tcp"));
    ck_assert_ptr_nonnull(dp_json_get(dp_json_get(body, "ExposedPorts"), "9000/tcp"));
    ck_assert_ptr_nonnull(dp_json_get(dp_json_get(body, "ExposedPorts"), "53/udp"));
    ck_assert_str_eq(dp_json_str(tp, dp_json_get(body, "Env")), "[\"K=V\",\"A=b=c\"]");
    ck_assert_str_eq(dp_json_str(tp, dp_json_get(body, "Cmd")), "[\"sh\",\"-c\",\"echo hi\"]");
    ck_assert_str_eq(dp_json_str(tp, dp_json_get(body, "Entrypoint")), "[\"/bin/sh\"]");
    ck_assert_str_eq(dp_json_str(tp, dp_json_get(hc, "Binds")), "[\"vol:/data\",\"/host/path:/data2:ro\"]");
    ck_assert_ptr_nonnull(dp_json_get(dp_json_get(body, "Volumes"), "/anon"));
    ck_assert_str_eq(dp_json_get_str(dp_json_get(body, "Labels"), "team"), "a");
    ck_assert_str_eq(dp_json_str(tp, dp_json_get(hc, "RestartPolicy")), "{\"Name\":\"on-failure\",\"MaximumRetryCount\":3}");
    ck_assert_str_eq(dp_json_get_str(hc, "NetworkMode"), "appnet");
    ck_assert_int_eq(dp_json_get_int(hc, "Memory", 0), 256 * 1024 * 1024);
    ck_assert_int_eq(dp_json_get_int(hc, "NanoCpus", 0), 500000000);
    ck_assert_str_eq(dp_json_get_str(body, "WorkingDir"), "/srv");
    ck_assert_str_eq(dp_json_get_str(body, "User"), "1000:1000");
    ck_assert_str_eq(dp_json_get_str(body, "Hostname"), "web-1");
}
END_TEST

START_TEST(create_env_as_array_and_restart_forms)
{
    json_object *body;
    const char *name;
    dp_problem_t *prob = NULL;

    ck_assert_int_eq(dp_dk_create_body(&body, &name, &prob, tp,
                     parse("{\"image\":\"x\",\"env\":[\"K=V\",\"E=\"],\"restart\":\"unless-stopped\",\"memory\":1073741824}")),
                     APR_SUCCESS);
    ck_assert_ptr_null(name);
    ck_assert_str_eq(dp_json_str(tp, dp_json_get(body, "Env")), "[\"K=V\",\"E=\"]");
    ck_assert_str_eq(dp_json_get_str(dp_json_get(dp_json_get(body, "HostConfig"), "RestartPolicy"), "Name"),
                     "unless-stopped");
    ck_assert_int_eq(dp_json_get_int(dp_json_get(body, "HostConfig"), "Memory", 0), 1073741824);
}
END_TEST

START_TEST(create_raw_body)
{
    json_object *body;
    const char *name;
    dp_problem_t *prob = NULL;

    ck_assert_int_eq(dp_dk_create_body(&body, &name, &prob, tp,
                     parse("{\"docker\":{\"Image\":\"x\",\"Tty\":true},\"name\":\"raw1\"}")), APR_SUCCESS);
    ck_assert_str_eq(name, "raw1");
    ck_assert(dp_json_get_bool(body, "Tty", 0));
    /* empty, missing image, not an object, unknown sibling */
    ck_assert_int_eq(dp_dk_create_body(&body, &name, &prob, tp, parse("{\"docker\":{}}")), DP_EPROBLEM);
    ck_assert_int_eq(prob->status, 400);
    ck_assert_int_eq(dp_dk_create_body(&body, &name, &prob, tp, parse("{\"docker\":{\"Cmd\":[\"a\"]}}")), DP_EPROBLEM);
    ck_assert_int_eq(prob->status, 422);
    ck_assert_int_eq(dp_dk_create_body(&body, &name, &prob, tp, parse("{\"docker\":\"x\"}")), DP_EPROBLEM);
    ck_assert_int_eq(prob->status, 400);
    ck_assert_int_eq(dp_dk_create_body(&body, &name, &prob, tp, parse("{\"docker\":{\"Image\":\"x\"},\"image\":\"y\"}")), DP_EPROBLEM);
    ck_assert_int_eq(prob->status, 400);
}
END_TEST

typedef struct {
    const char *body;
    int status;
    const char *field;     /* expected "field" member (422s) or NULL */
} bad_case_t;

static const bad_case_t bad_cases[] = {
    /* 422: well-formed, invalid value */
    { "{\"image\":\"x\",\"ports\":[\"8080:x\"]}", 422, "ports[0]" },
    { "{\"image\":\"x\",\"ports\":[\"80\",\"70000:80\"]}", 422, "ports[1]" },
    { "{\"image\":\"x\",\"ports\":[\"1.2.3:80:80\"]}", 422, "ports[0]" },
    { "{\"image\":\"x\",\"ports\":[\"8080:80/icmp\"]}", 422, "ports[0]" },
    { "{\"image\":\"x\",\"ports\":[\":80\"]}", 422, "ports[0]" },
    { "{\"image\":\"x\",\"ports\":[\"1:2:3:4\"]}", 422, "ports[0]" },
    { "{\"image\":\"x\",\"ports\":[\"\"]}", 422, "ports[0]" },
    { "{\"image\":\"x\",\"ports\":[\"0:80\"]}", 422, "ports[0]" },
    { "{\"image\":\"x\",\"volumes\":[\"vol:data\"]}", 422, "volumes[0]" },
    { "{\"image\":\"x\",\"volumes\":[\"vol:/data:bogus\"]}", 422, "volumes[0]" },
    { "{\"image\":\"x\",\"volumes\":[\"../x:/data\"]}", 422, "volumes[0]" },
    { "{\"image\":\"x\",\"volumes\":[\"a:/b:ro:z\"]}", 422, "volumes[0]" },
    { "{\"image\":\"x\",\"volumes\":[\"relative\"]}", 422, "volumes[0]" },
    { "{\"image\":\"x\",\"memory\":\"256q\"}", 422, "memory" },
    { "{\"image\":\"x\",\"memory\":\"-1m\"}", 422, "memory" },
    { "{\"image\":\"x\",\"memory\":\"1k\"}", 422, "memory" },
    { "{\"image\":\"x\",\"memory\":\"1e9\"}", 422, "memory" },
    { "{\"image\":\"x\",\"memory\":100}", 422, "memory" },
    { "{\"image\":\"x\",\"cpus\":0}", 422, "cpus" },
    { "{\"image\":\"x\",\"cpus\":-1.5}", 422, "cpus" },
    { "{\"image\":\"x\",\"restart\":\"sometimes\"}", 422, "restart" },
    { "{\"image\":\"x\",\"restart\":\"on-failure:x\"}", 422, "restart" },
    { "{\"image\":\"x\",\"env\":[\"NOVALUE\"]}", 422, "env[0]" },
    { "{\"image\":\"x\",\"env\":[\"=v\"]}", 422, "env[0]" },
    { "{\"image\":\"x\",\"env\":{\"A=B\":\"v\"}}", 422, "env.A=B" },
    { "{\"image\":\"x\",\"name\":\"bad name\"}", 422, "name" },
    { "{\"image\":\"x\",\"name\":\"../etc\"}", 422, "name" },
    { "{\"image\":\"x\",\"workdir\":\"rel\"}", 422, "workdir" },
    { "{\"image\":\"has space\"}", 422, "image" },
    /* 400: wrong types, unknown or missing fields */
    { "{\"image\":\"x\",\"ports\":\"8080:80\"}", 400, "ports" },
    { "{\"image\":\"x\",\"ports\":[8080]}", 400, "ports[0]" },
    { "{\"image\":\"x\",\"env\":\"K=V\"}", 400, "env" },
    { "{\"image\":\"x\",\"env\":{\"K\":1}}", 400, "env.K" },
    { "{\"image\":\"x\",\"cmd\":\"echo hi\"}", 400, "cmd" },
    { "{\"image\":\"x\",\"cpus\":\"0.5\"}", 400, "cpus" },
    { "{\"image\":\"x\",\"memory\":true}", 400, "memory" },
    { "{\"image\":\"x\",\"labels\":{\"a\":1}}", 400, "labels.a" },
    { "{\"image\":\"x\",\"privileged\":true}", 400, NULL },
    { "{\"image\":1}", 400, NULL },
    { "{\"name\":\"x\"}", 400, NULL },
    { NULL, 0, NULL }
};

START_TEST(create_simple_refusals)
{
    const bad_case_t *c;

    for (c = bad_cases; c->body; ++c) {
        json_object *body;
        const char *name;
        dp_problem_t *prob = NULL;
        ck_assert_msg(dp_dk_create_body(&body, &name, &prob, tp, parse(c->body)) == DP_EPROBLEM,
                      "accepted: %s", c->body);
        ck_assert_msg(prob->status == c->status, "%s: status %d, want %d (%s)", c->body, prob->status,
                      c->status, prob->detail);
        if (c->field) {
            ck_assert_msg(!strcmp(field_of(prob), c->field), "%s: field '%s', want '%s'", c->body,
                          field_of(prob), c->field);
            ck_assert_msg(strstr(prob->detail, c->field) != NULL, "%s: detail '%s' lacks the field",
                          c->body, prob->detail);
        }
    }
}
END_TEST

START_TEST(create_memory_sizes)
{
    apr_int64_t b;

    ck_assert_int_eq(dp_parse_size(&b, "256m"), APR_SUCCESS);
    ck_assert_int_eq(b, 268435456);
    ck_assert_int_eq(dp_parse_size(&b, "1g"), APR_SUCCESS);
    ck_assert_int_eq(b, 1073741824);
    ck_assert_int_eq(dp_parse_size(&b, "1.5G"), APR_SUCCESS);
    ck_assert_int_eq(b, 1610612736);
    ck_assert_int_eq(dp_parse_size(&b, "512kb"), APR_SUCCESS);
    ck_assert_int_eq(b, 524288);
    ck_assert_int_eq(dp_parse_size(&b, "10485760"), APR_SUCCESS);
    ck_assert_int_eq(b, 10485760);
    ck_assert_int_eq(dp_parse_size(&b, "12b"), APR_SUCCESS);
    ck_assert_int_eq(dp_parse_size(&b, "m"), APR_EINVAL);
    ck_assert_int_eq(dp_parse_size(&b, "1mm"), APR_EINVAL);
    ck_assert_int_eq(dp_parse_size(&b, " 1m"), APR_EINVAL);
    ck_assert_int_eq(dp_parse_size(&b, "0x10"), APR_EINVAL);
    ck_assert_int_eq(dp_parse_size(&b, "99999999999t"), APR_EINVAL);
}
END_TEST

START_TEST(names_and_paths)
{
    ck_assert(dp_dk_valid_id("abc123"));
    ck_assert(dp_dk_valid_id("my-app_1.web"));
    ck_assert(!dp_dk_valid_id(""));
    ck_assert(!dp_dk_valid_id(".."));
    ck_assert(!dp_dk_valid_id("a/b"));
    ck_assert(!dp_dk_valid_id("-a"));
    ck_assert(!dp_dk_valid_id("a%2F"));
    ck_assert(!dp_dk_valid_id(apr_pstrcat(tp, "a", apr_psprintf(tp, "%0128d", 0), NULL)));
    ck_assert(dp_dk_valid_volume_name("data_1"));
    ck_assert(!dp_dk_valid_volume_name("d"));
    ck_assert(!dp_dk_valid_volume_name("/data"));
    ck_assert_str_eq(dp_dk_path_normalise(tp, "/data/../etc"), "/etc");
    ck_assert_str_eq(dp_dk_path_normalise(tp, "//data//./x/"), "/data/x");
    ck_assert_str_eq(dp_dk_path_normalise(tp, "/../../.."), "/");
    ck_assert_str_eq(dp_dk_path_normalise(tp, "/a/b/../../c"), "/c");
    ck_assert_str_eq(dp_dk_path_normalise(tp, "/a/..b/c"), "/a/..b/c");
    ck_assert_ptr_null(dp_dk_path_normalise(tp, "data"));
}
END_TEST

/* ------------------------------------------------------------------------------------------ */
/* the policy */

typedef struct {
    const char *hostconfig;   /* the HostConfig object (or a whole body when it starts with "!") */
    unsigned allow;           /* relaxations */
    int status;               /* 0: allowed; else 403 or 400 */
    const char *field;        /* the field named */
} pol_case_t;

static const pol_case_t pol_cases[] = {
    /* privileged and friends */
    { "{\"Privileged\":true}", 0, 403, "HostConfig.Privileged" },
    { "{\"Privileged\":true}", DP_DK_ALLOW_PRIVILEGED, 0, NULL },
    { "{\"Privileged\":false}", 0, 0, NULL },
    { "{\"Privileged\":\"true\"}", 0, 400, "HostConfig.Privileged" },
    { "{\"CgroupParent\":\"/x\"}", 0, 403, "HostConfig.CgroupParent" },
    { "{\"Runtime\":\"kata\"}", 0, 403, "HostConfig.Runtime" },
    { "{\"Runtime\":\"runc\"}", 0, 0, NULL },
    { "{\"VolumesFrom\":[\"other\"]}", 0, 403, "HostConfig.VolumesFrom" },
    /* host namespaces */
    { "{\"NetworkMode\":\"host\"}", 0, 403, "HostConfig.NetworkMode" },
    { "{\"PidMode\":\"host\"}", 0, 403, "HostConfig.PidMode" },
    { "{\"IpcMode\":\"host\"}", 0, 403, "HostConfig.IpcMode" },
    { "{\"UTSMode\":\"host\"}", 0, 403, "HostConfig.UTSMode" },
    { "{\"UsernsMode\":\"host\"}", 0, 403, "HostConfig.UsernsMode" },
    { "{\"CgroupnsMode\":\"host\"}", 0, 403, "HostConfig.CgroupnsMode" },
    { "{\"NetworkMode\":\"HOST\"}", 0, 403, "HostConfig.NetworkMode" },
    { "{\"PidMode\":\"container:abc\"}", 0, 403, "HostConfig.PidMode" },
    { "{\"IpcMode\":\"container:abc\"}", 0, 403, "HostConfig.IpcMode" },
    { "{\"NetworkMode\":\"container:abc\"}", 0, 403, "HostConfig.NetworkMode" },
    { "{\"NetworkMode\":\"bridge\",\"IpcMode\":\"private\",\"CgroupnsMode\":\"private\"}", 0, 0, NULL },
    { "{\"PidMode\":\"host\",\"NetworkMode\":\"host\"}", DP_DK_ALLOW_HOST_NAMESPACES, 0, NULL },
    { "{\"PidMode\":1}", 0, 400, "HostConfig.PidMode" },
    /* capabilities */
    { "{\"CapAdd\":[\"SYS_ADMIN\"]}", 0, 403, "HostConfig.CapAdd[0]" },
    { "{\"CapAdd\":[\"NET_ADMIN\",\"ALL\"]}", 0, 403, "HostConfig.CapAdd[1]" },
    { "{\"CapAdd\":[\"ALL\"]}", 0, 403, "HostConfig.CapAdd[0]" },
    { "{\"CapAdd\":[\"cap_net_admin\"]}", 0, 0, NULL },            /* NET_ADMIN is allowed below */
    { "{\"CapAdd\":[\"NET_ADMIN\"],\"CapDrop\":[\"ALL\"]}", 0, 0, NULL },
    { "{\"CapAdd\":\"SYS_ADMIN\"}", 0, 400, "HostConfig.CapAdd" },
    { "{\"Capabilities\":[\"CAP_CHOWN\",\"CAP_SYS_ADMIN\"]}", 0, 403, "HostConfig.Capabilities[1]" },
    { "{\"Capabilities\":[\"CAP_CHOWN\",\"CAP_KILL\"]}", 0, 0, NULL },
    /* devices */
    { "{\"Devices\":[{\"PathOnHost\":\"/dev/sda\",\"PathInContainer\":\"/dev/sda\"}]}", 0, 403, "HostConfig.Devices" },
    { "{\"DeviceRequests\":[{\"Count\":-1}]}", 0, 403, "HostConfig.DeviceRequests" },
    { "{\"DeviceCgroupRules\":[\"c 1:3 mr\"]}", 0, 403, "HostConfig.DeviceCgroupRules" },
    { "{\"Devices\":[{\"PathOnHost\":\"/dev/fuse\"}]}", DP_DK_ALLOW_DEVICES, 0, NULL },
    { "{\"Devices\":[]}", 0, 0, NULL },
    /* security options */
    { "{\"SecurityOpt\":[\"seccomp=unconfined\"]}", 0, 403, "HostConfig.SecurityOpt[0]" },
    { "{\"SecurityOpt\":[\"apparmor=unconfined\"]}", 0, 403, "HostConfig.SecurityOpt[0]" },
    { "{\"SecurityOpt\":[\"label=disable\"]}", 0, 403, "HostConfig.SecurityOpt[0]" },
    { "{\"SecurityOpt\":[\"no-new-privileges\",\"systempaths=unconfined\"]}", 0, 403, "HostConfig.SecurityOpt[1]" },
    { "{\"SecurityOpt\":[\"no-new-privileges:true\"]}", 0, 0, NULL },
    { "{\"SecurityOpt\":[\"seccomp=unconfined\"]}", DP_DK_ALLOW_SECURITY_OPT, 0, NULL },
    { "{\"MaskedPaths\":[]}", 0, 403, "HostConfig.MaskedPaths" },
    { "{\"ReadonlyPaths\":[]}", 0, 403, "HostConfig.ReadonlyPaths" },
    /* sysctls */
    { "{\"Sysctls\":{\"net.ipv4.ip_forward\":\"1\"}}", 0, 403, "HostConfig.Sysctls" },
    { "{\"Sysctls\":{\"net.ipv4.ip_forward\":\"1\"}}", DP_DK_ALLOW_SYSCTLS, 0, NULL },
    { "{\"Sysctls\":{}}", 0, 0, NULL },
    /* Binds */
    { "{\"Binds\":[\"/etc:/x\"]}", 0, 403, "HostConfig.Binds[0]" },
    { "{\"Binds\":[\"vol:/data\",\"/srv/other:/x\"]}", 0, 403, "HostConfig.Binds[1]" },
    { "{\"Binds\":[\"@ALLOWED@/app:/app:ro\",\"named_vol:/v\",\"/anon\"]}", 0, 0, NULL },
    { "{\"Binds\":[\"@ALLOWED@/../../../etc:/x\"]}", 0, 403, "HostConfig.Binds[0]" },
    { "{\"Binds\":[\"@ALLOWED@/app/../../etc/shadow:/x\"]}", 0, 403, "HostConfig.Binds[0]" },
    { "{\"Binds\":[\"@ALLOWEDX@/app:/x\"]}", 0, 403, "HostConfig.Binds[0]" },  /* prefix, not segment */
    { "{\"Binds\":[\"/var/run/docker.sock:/var/run/docker.sock\"]}", 0, 403, "HostConfig.Binds[0]" },
    { "{\"Binds\":[\"/run/docker.sock:/s\"]}", 0, 403, "HostConfig.Binds[0]" },
    { "{\"Binds\":[\"@ALLOWED@/docker.sock:/s\"]}", 0, 403, "HostConfig.Binds[0]" },
    { "{\"Binds\":[\"@ALLOWED@/x/my-docker.sock:/s\"]}", 0, 403, "HostConfig.Binds[0]" },
    { "{\"Binds\":[\"/:/host\"]}", 0, 403, "HostConfig.Binds[0]" },
    { "{\"Binds\":[\"//:/host\"]}", 0, 403, "HostConfig.Binds[0]" },
    { "{\"Binds\":[\"/proc:/p\"]}", 0, 403, "HostConfig.Binds[0]" },
    { "{\"Binds\":[\"/sys/fs/cgroup:/c\"]}", 0, 403, "HostConfig.Binds[0]" },
    { "{\"Binds\":[\"/var/lib/docker/volumes:/v\"]}", 0, 403, "HostConfig.Binds[0]" },
    { "{\"Binds\":[\"/var:/v\"]}", 0, 403, "HostConfig.Binds[0]" },         /* holds /var/lib/docker */
    { "{\"Binds\":[\"/etc/../etc/passwd:/p\"]}", 0, 403, "HostConfig.Binds[0]" },
    { "{\"Binds\":[\"@ALLOWED@/app:/x:rshared\"]}", 0, 403, "HostConfig.Binds[0]" },
    { "{\"Binds\":[\"../etc:/x\"]}", 0, 403, "HostConfig.Binds[0]" },
    { "{\"Binds\":[\"a:b:c:d\"]}", 0, 403, "HostConfig.Binds[0]" },
    { "{\"Binds\":[1]}", 0, 400, "HostConfig.Binds[0]" },
    { "{\"Binds\":\"/etc:/x\"}", 0, 400, "HostConfig.Binds" },
    /* Mounts */
    { "{\"Mounts\":[{\"Type\":\"bind\",\"Source\":\"/etc\",\"Target\":\"/x\"}]}", 0, 403, "HostConfig.Mounts[0].Source" },
    { "{\"Mounts\":[{\"Type\":\"tmpfs\",\"Target\":\"/t\"},{\"Type\":\"bind\",\"Source\":\"/srv\",\"Target\":\"/x\"}]}",
      0, 403, "HostConfig.Mounts[1].Source" },
    { "{\"Mounts\":[{\"Type\":\"BIND\",\"Source\":\"/etc\",\"Target\":\"/x\"}]}", 0, 403, "HostConfig.Mounts[0].Type" },
    { "{\"Mounts\":[{\"Type\":\"bind\",\"Source\":\"@ALLOWED@/../../etc\",\"Target\":\"/x\"}]}", 0, 403, "HostConfig.Mounts[0].Source" },
    { "{\"Mounts\":[{\"Type\":\"bind\",\"Source\":\"/var/run/docker.sock\",\"Target\":\"/s\"}]}", 0, 403, "HostConfig.Mounts[0].Source" },
    { "{\"Mounts\":[{\"Type\":\"bind\",\"Source\":\"@ALLOWED@/app\",\"Target\":\"/x\"}]}", 0, 0, NULL },
    { "{\"Mounts\":[{\"Type\":\"bind\",\"Source\":\"@ALLOWED@/app\",\"Target\":\"/x\",\"BindOptions\":{\"Propagation\":\"rshared\"}}]}",
      0, 403, "HostConfig.Mounts[0].BindOptions.Propagation" },
    { "{\"Mounts\":[{\"Type\":\"bind\",\"Target\":\"/x\"}]}", 0, 403, "HostConfig.Mounts[0].Source" },
    { "{\"Mounts\":[{\"Type\":\"volume\",\"Source\":\"v1\",\"Target\":\"/x\"}]}", 0, 0, NULL },
    { "{\"Mounts\":[{\"Type\":\"volume\",\"Source\":\"v1\",\"Target\":\"/x\",\"VolumeOptions\":{\"DriverConfig\":"
      "{\"Name\":\"local\",\"Options\":{\"type\":\"none\",\"o\":\"bind\",\"device\":\"/etc\"}}}}]}",
      0, 403, "HostConfig.Mounts[0].VolumeOptions.DriverConfig.Options.device" },
    { "{\"Mounts\":[{\"Type\":\"volume\",\"Source\":\"v1\",\"Target\":\"/x\",\"VolumeOptions\":{\"DriverConfig\":"
      "{\"Options\":{\"o\":\"bind\",\"device\":\"/root\"}}}}]}",
      0, 403, "HostConfig.Mounts[0].VolumeOptions.DriverConfig.Options.device" },
    { "{\"Mounts\":[{\"Type\":\"volume\",\"Source\":\"v1\",\"Target\":\"/x\",\"VolumeOptions\":{\"DriverConfig\":"
      "{\"Name\":\"local\",\"Options\":{\"type\":\"ext4\",\"device\":\"/dev/sda1\"}}}}]}",
      0, 403, "HostConfig.Mounts[0].VolumeOptions.DriverConfig.Options.device" },
    { "{\"Mounts\":[{\"Type\":\"volume\",\"Source\":\"v1\",\"Target\":\"/x\",\"VolumeOptions\":{\"DriverConfig\":"
      "{\"Name\":\"local\",\"Options\":{\"type\":\"none\",\"o\":\"bind\",\"device\":\"@ALLOWED@/app\"}}}}]}", 0, 0, NULL },
    { "{\"Mounts\":[{\"Type\":\"volume\",\"Source\":\"v1\",\"Target\":\"/x\",\"VolumeOptions\":{\"DriverConfig\":"
      "{\"Name\":\"local\",\"Options\":{\"type\":\"tmpfs\",\"device\":\"tmpfs\",\"o\":\"size=100m\"}}}}]}", 0, 0, NULL },
    { "{\"Mounts\":[{\"Type\":\"npipe\",\"Source\":\"x\",\"Target\":\"/x\"}]}", 0, 403, "HostConfig.Mounts[0].Type" },
    { "{\"Mounts\":[{\"Source\":\"/etc\",\"Target\":\"/x\"}]}", 0, 403, "HostConfig.Mounts[0].Type" },
    { "{\"Mounts\":{\"Type\":\"bind\"}}", 0, 400, "HostConfig.Mounts" },
    /* Docker reads field names case-insensitively: other spellings are refused */
    { "{\"privileged\":true}", 0, 403, "HostConfig.privileged" },
    { "{\"Privileged\":false,\"PRIVILEGED\":true}", 0, 403, "HostConfig.PRIVILEGED" },
    { "{\"binds\":[\"/etc:/x\"]}", 0, 403, "HostConfig.binds" },
    { "{\"Mounts\":[{\"type\":\"bind\",\"source\":\"/etc\",\"Target\":\"/x\"}]}", 0, 403, "HostConfig.Mounts[0].type" },
    { "{\"\\u017fysctls\":{\"a\":\"b\"}}", 0, 403, NULL },         /* U+017F folds to 's' in Go */
    { "!{\"Image\":\"x\",\"hostconfig\":{\"Privileged\":true}}", 0, 403, "hostconfig" },
    { "!{\"Image\":\"x\",\"HostConfig\":\"x\"}", 0, 400, "HostConfig" },
    { "!{\"Image\":\"x\"}", 0, 0, NULL },
    { "!{}", 0, 400, NULL },
    { NULL, 0, 0, NULL }
};

static char allowed_dir[PATH_MAX];

/* Makes <tmp>/allowed/app and a symlink <tmp>/allowed/evil -> /etc. */
static void make_tree(void)
{
    char tmpl[] = "/tmp/dp-policy-XXXXXX", real[PATH_MAX];
    ck_assert_ptr_nonnull(mkdtemp(tmpl));
    ck_assert_ptr_nonnull(realpath(tmpl, real));
    apr_cpystrn(allowed_dir, apr_pstrcat(tp, real, "/allowed", NULL), sizeof(allowed_dir));
    ck_assert_int_eq(mkdir(allowed_dir, 0700), 0);
    ck_assert_int_eq(mkdir(apr_pstrcat(tp, allowed_dir, "/app", NULL), 0700), 0);
    ck_assert_int_eq(symlink("/etc", apr_pstrcat(tp, allowed_dir, "/evil", NULL)), 0);
    ck_assert_int_eq(symlink("/var/run", apr_pstrcat(tp, allowed_dir, "/run", NULL)), 0);
}

/* Removes what make_tree made. */
static void drop_tree(void)
{
    const char *names[] = { "/app", "/evil", "/run", "", NULL };
    int i;

    for (i = 0; names[i]; ++i) {
        const char *path = apr_pstrcat(tp, allowed_dir, names[i], NULL);
        if (unlink(path) != 0) {
            rmdir(path);
        }
    }
    rmdir(apr_pstrndup(tp, allowed_dir, strlen(allowed_dir) - 8));   /* the mkdtemp folder */
}

static const char *subst(const char *s)
{
    char *out = apr_pstrdup(tp, s), *at;
    while ((at = strstr(out, "@ALLOWEDX@")) != NULL) {
        *at = '\0';
        out = apr_pstrcat(tp, out, allowed_dir, "x", at + 10, NULL);
    }
    while ((at = strstr(out, "@ALLOWED@")) != NULL) {
        *at = '\0';
        out = apr_pstrcat(tp, out, allowed_dir, at + 9, NULL);
    }
    return out;
}

static dp_dk_policy_t policy(unsigned allow)
{
    dp_dk_policy_t pol;

    memset(&pol, 0, sizeof(pol));
    pol.allow = allow;
    pol.caps = list("NET_ADMIN", NULL);
    pol.binds = list(apr_pstrdup(tp, allowed_dir), "/nonexistent-prefix");
    pol.socket = "/tmp/private/docker.sock";
    return pol;
}

static void run_case(const pol_case_t *c)
{
    dp_dk_policy_t pol = policy(c->allow);
    const char *text = subst(c->hostconfig);
    json_object *body = c->hostconfig[0] == '!' ? parse(text + 1)
                        : parse(apr_pstrcat(tp, "{\"Image\":\"x\",\"HostConfig\":", text, "}", NULL));
    dp_problem_t *prob = NULL;
    apr_status_t rv = dp_dk_policy_check(&prob, tp, &pol, body);

    if (c->status == 0) {
        ck_assert_msg(rv == APR_SUCCESS, "%s refused: %s", text, prob ? prob->detail : "?");
        return;
    }
    ck_assert_msg(rv == DP_EPROBLEM, "%s allowed", text);
    ck_assert_msg(prob->status == c->status, "%s: status %d, want %d (%s)", text, prob->status, c->status,
                  prob->detail);
    if (c->status == 403) {
        ck_assert_str_eq(prob->code, "policy_denied");
    }
    if (c->field) {
        ck_assert_msg(!strcmp(field_of(prob), c->field), "%s: field '%s', want '%s'", text, field_of(prob),
                      c->field);
        ck_assert_msg(strstr(prob->detail, c->field) != NULL, "%s: detail lacks the field: %s", text,
                      prob->detail);
    }
}

START_TEST(policy_cases)
{
    const pol_case_t *c;

    make_tree();
    for (c = pol_cases; c->hostconfig; ++c) {
        run_case(c);
    }
    drop_tree();
}
END_TEST

START_TEST(policy_symlinks_are_resolved)
{
    dp_dk_policy_t pol;
    dp_problem_t *prob = NULL;

    make_tree();
    pol = policy(0);
    ck_assert_int_eq(dp_dk_policy_host_path(&prob, tp, &pol, subst("@ALLOWED@/app"), "f"), APR_SUCCESS);
    ck_assert_int_eq(dp_dk_policy_host_path(&prob, tp, &pol, subst("@ALLOWED@/app/new/dir"), "f"), DP_EPROBLEM);
    ck_assert_ptr_nonnull(strstr(prob->detail, "does not exist"));
    ck_assert_int_eq(dp_dk_policy_host_path(&prob, tp, &pol, subst("@ALLOWED@/evil"), "f"), DP_EPROBLEM);
    ck_assert_int_eq(prob->status, 403);
    ck_assert_ptr_nonnull(strstr(prob->detail, "/etc"));
    ck_assert_int_eq(dp_dk_policy_host_path(&prob, tp, &pol, subst("@ALLOWED@/evil/not-yet/x"), "f"), DP_EPROBLEM);
    ck_assert_int_eq(dp_dk_policy_host_path(&prob, tp, &pol, subst("@ALLOWED@/run"), "f"), DP_EPROBLEM);
    ck_assert_int_eq(dp_dk_policy_host_path(&prob, tp, &pol, "/nonexistent-prefix/a", "f"), DP_EPROBLEM);
    ck_assert_int_eq(dp_dk_policy_host_path(&prob, tp, &pol, "/tmp/private", "f"), DP_EPROBLEM);  /* holds the socket */
    drop_tree();
}
END_TEST

START_TEST(policy_volume_options)
{
    dp_dk_policy_t pol;
    dp_problem_t *prob = NULL;

    make_tree();
    pol = policy(0);
    ck_assert_int_eq(dp_dk_policy_volume(&prob, tp, &pol, "local", NULL, "driver_opts"), APR_SUCCESS);
    ck_assert_int_eq(dp_dk_policy_volume(&prob, tp, &pol, "local", parse("{\"size\":\"1g\"}"), "driver_opts"), APR_SUCCESS);
    ck_assert_int_eq(dp_dk_policy_volume(&prob, tp, &pol, NULL,
                     parse("{\"type\":\"none\",\"o\":\"bind\",\"device\":\"/etc\"}"), "driver_opts"), DP_EPROBLEM);
    ck_assert_str_eq(field_of(prob), "driver_opts.device");
    ck_assert_int_eq(dp_dk_policy_volume(&prob, tp, &pol, "local",
                     parse("{\"device\":\"/home\"}"), "driver_opts"), DP_EPROBLEM);
    ck_assert_int_eq(dp_dk_policy_volume(&prob, tp, &pol, "local",
                     parse(subst("{\"type\":\"none\",\"o\":\"bind\",\"device\":\"@ALLOWED@/app\"}")), "driver_opts"),
                     APR_SUCCESS);
    ck_assert_int_eq(dp_dk_policy_volume(&prob, tp, &pol, "local",
                     parse(subst("{\"type\":\"none\",\"o\":\"bind\",\"device\":\"@ALLOWED@/evil\"}")), "driver_opts"),
                     DP_EPROBLEM);
    ck_assert_int_eq(dp_dk_policy_volume(&prob, tp, &pol, "local",
                     parse("{\"type\":\"nfs\",\"o\":\"addr=10.0.0.1\",\"device\":\":/export\"}"), "driver_opts"),
                     DP_EPROBLEM);
    ck_assert_int_eq(dp_dk_policy_volume(&prob, tp, &pol, "local",
                     parse("{\"type\":\"overlay\",\"o\":\"lowerdir=/etc,upperdir=/tmp/u,workdir=/tmp/w\"}"),
                     "driver_opts"), DP_EPROBLEM);
    ck_assert_str_eq(field_of(prob), "driver_opts.type");
    pol.allow = DP_DK_ALLOW_DEVICES;
    ck_assert_int_eq(dp_dk_policy_volume(&prob, tp, &pol, "local",
                     parse("{\"type\":\"nfs\",\"o\":\"addr=10.0.0.1\",\"device\":\":/export\"}"), "driver_opts"),
                     APR_SUCCESS);
    ck_assert_int_eq(dp_dk_policy_volume(&prob, tp, &pol, "local",
                     parse("{\"type\":\"none\",\"o\":\"bind\",\"device\":\"/etc\"}"), "driver_opts"), DP_EPROBLEM);
    ck_assert_int_eq(dp_dk_policy_volume(&prob, tp, &pol, "local", parse("{\"type\":1}"), "driver_opts"), DP_EPROBLEM);
    ck_assert_int_eq(prob->status, 400);
    drop_tree();
}
END_TEST

START_TEST(policy_labels_are_stamped)
{
    dp_problem_t *prob = NULL;
    json_object *body = parse("{\"Image\":\"x\",\"Labels\":{\"dockpay.key\":\"spoofed\",\"a\":\"b\"}}");

    ck_assert_int_eq(dp_dk_stamp_labels(&prob, tp, body, "ops"), APR_SUCCESS);
    ck_assert_str_eq(dp_json_get_str(dp_json_get(body, "Labels"), "dockpay.key"), "ops");
    ck_assert_str_eq(dp_json_get_str(dp_json_get(body, "Labels"), "dockpay.managed"), "true");
    ck_assert_str_eq(dp_json_get_str(dp_json_get(body, "Labels"), "a"), "b");
    body = parse("{\"Image\":\"x\"}");
    ck_assert_int_eq(dp_dk_stamp_labels(&prob, tp, body, "ops"), APR_SUCCESS);
    ck_assert_str_eq(dp_json_get_str(dp_json_get(body, "Labels"), "dockpay.managed"), "true");
    ck_assert_int_eq(dp_dk_stamp_labels(&prob, tp, parse("{\"Labels\":[]}"), "ops"), DP_EPROBLEM);
}
END_TEST

/* The simple body goes through the same policy: network "host" and a host volume are refused. */
START_TEST(policy_applies_to_simple_body)
{
    json_object *body;
    const char *name;
    dp_problem_t *prob = NULL;
    dp_dk_policy_t pol;

    make_tree();
    pol = policy(0);
    ck_assert_int_eq(dp_dk_create_body(&body, &name, &prob, tp, parse("{\"image\":\"x\",\"network\":\"host\"}")),
                     APR_SUCCESS);
    ck_assert_int_eq(dp_dk_policy_check(&prob, tp, &pol, body), DP_EPROBLEM);
    ck_assert_str_eq(field_of(prob), "HostConfig.NetworkMode");
    ck_assert_int_eq(dp_dk_create_body(&body, &name, &prob, tp, parse("{\"image\":\"x\",\"volumes\":[\"/etc:/x:ro\"]}")),
                     APR_SUCCESS);
    ck_assert_int_eq(dp_dk_policy_check(&prob, tp, &pol, body), DP_EPROBLEM);
    ck_assert_str_eq(field_of(prob), "HostConfig.Binds[0]");
    ck_assert_int_eq(dp_dk_create_body(&body, &name, &prob, tp,
                     parse(subst("{\"image\":\"x\",\"volumes\":[\"@ALLOWED@/app:/x:ro\",\"v1:/y\"]}"))), APR_SUCCESS);
    ck_assert_msg(dp_dk_policy_check(&prob, tp, &pol, body) == APR_SUCCESS, "%s", prob ? prob->detail : "");
    drop_tree();
}
END_TEST


/* ------------------------------------------------------------------------------------------ */
/* the allow-list build */

typedef struct {
    const char *body;         /* a whole Docker create body (@ALLOWED@ substituted) */
    int status;               /* 0: built; else the refusal's status */
    const char *field;        /* the field named */
} build_case_t;

static const build_case_t build_cases[] = {
    /* legacy top-level HostConfig fields (Engine <= 24 honours them) and other unknown fields */
    { "{\"Image\":\"x\",\"Privileged\":true}", 403, "Privileged" },
    { "{\"Image\":\"x\",\"Binds\":[\"/:/host\"]}", 403, "Binds" },
    { "{\"Image\":\"x\",\"PidMode\":\"host\"}", 403, "PidMode" },
    { "{\"Image\":\"x\",\"NetworkMode\":\"host\"}", 403, "NetworkMode" },
    { "{\"Image\":\"x\",\"CapAdd\":[\"SYS_ADMIN\"]}", 403, "CapAdd" },
    { "{\"Image\":\"x\",\"SecurityOpt\":[\"seccomp=unconfined\"]}", 403, "SecurityOpt" },
    { "{\"Image\":\"x\",\"VolumesFrom\":[\"other\"]}", 403, "VolumesFrom" },
    { "{\"Image\":\"x\",\"Runtime\":\"kata\"}", 403, "Runtime" },
    { "{\"Image\":\"x\",\"CgroupParent\":\"/\"}", 403, "CgroupParent" },
    { "{\"Image\":\"x\",\"Devices\":[]}", 403, "Devices" },
    { "{\"Image\":\"x\",\"MacAddress\":\"02:42:ac:11:00:02\"}", 403, "MacAddress" },
    { "{\"Image\":\"x\",\"OnBuild\":[\"RUN x\"]}", 403, "OnBuild" },
    { "{\"Image\":\"x\",\"Whatever\":1}", 403, "Whatever" },
    /* other spellings at every level */
    { "{\"image\":\"x\"}", 403, "image" },
    { "{\"Image\":\"x\",\"HOSTCONFIG\":{}}", 403, "HOSTCONFIG" },
    { "{\"Image\":\"x\",\"HostConfig\":{\"networkmode\":\"host\"}}", 403, "HostConfig.networkmode" },
    { "{\"Image\":\"x\",\"HostConfig\":{\"Mounts\":[{\"Type\":\"tmpfs\",\"Target\":\"/t\",\"tmpfsoptions\":{}}]}}",
      403, "HostConfig.Mounts[0].tmpfsoptions" },
    { "{\"Image\":\"x\",\"Healthcheck\":{\"test\":[\"NONE\"]}}", 403, "Healthcheck.test" },
    { "{\"Image\":\"x\",\"HostConfig\":{\"\\u0050rivileged\":true}}", 403, "HostConfig.Privileged" },
    /* unknown fields at deeper levels */
    { "{\"Image\":\"x\",\"HostConfig\":{\"Links\":[\"db:db\"]}}", 403, "HostConfig.Links" },
    { "{\"Image\":\"x\",\"HostConfig\":{\"KernelMemory\":1}}", 403, "HostConfig.KernelMemory" },
    { "{\"Image\":\"x\",\"HostConfig\":{\"CpuQuota\":-1}}", 403, "HostConfig.CpuQuota" },
    { "{\"Image\":\"x\",\"HostConfig\":{\"BlkioDeviceReadBps\":[]}}", 403, "HostConfig.BlkioDeviceReadBps" },
    { "{\"Image\":\"x\",\"HostConfig\":{\"ContainerIDFile\":\"/etc/x\"}}", 403, "HostConfig.ContainerIDFile" },
    { "{\"Image\":\"x\",\"HostConfig\":{\"RestartPolicy\":{\"Name\":\"always\",\"X\":1}}}", 403, "HostConfig.RestartPolicy.X" },
    { "{\"Image\":\"x\",\"HostConfig\":{\"LogConfig\":{\"Type\":\"json-file\",\"Config\":{\"max-size\":\"1m\"},\"Y\":1}}}",
      403, "HostConfig.LogConfig.Y" },
    { "{\"Image\":\"x\",\"HostConfig\":{\"PortBindings\":{\"80/tcp\":[{\"HostPort\":\"8080\",\"HostIP\":\"0.0.0.0\"}]}}}",
      403, "HostConfig.PortBindings.80/tcp[0].HostIP" },
    { "{\"Image\":\"x\",\"HostConfig\":{\"Ulimits\":[{\"Name\":\"nofile\",\"Soft\":1,\"Hard\":2,\"Z\":0}]}}", 403,
      "HostConfig.Ulimits[0].Z" },
    { "{\"Image\":\"x\",\"HostConfig\":{\"Mounts\":[{\"Type\":\"bind\",\"Source\":\"@ALLOWED@/app\",\"Target\":\"/x\","
      "\"BindOptions\":{\"CreateMountpoint\":true}}]}}", 403, "HostConfig.Mounts[0].BindOptions.CreateMountpoint" },
    { "{\"Image\":\"x\",\"HostConfig\":{\"Mounts\":[{\"Type\":\"volume\",\"Target\":\"/x\",\"VolumeOptions\":"
      "{\"Subpath\":\"../../\"}}]}}", 403, "HostConfig.Mounts[0].VolumeOptions.Subpath" },
    { "{\"Image\":\"x\",\"NetworkingConfig\":{\"EndpointsConfig\":{\"net1\":{\"Links\":[\"a:b\"]}}}}", 403,
      "NetworkingConfig.EndpointsConfig.net1.Links" },
    { "{\"Image\":\"x\",\"NetworkingConfig\":{\"EndpointsConfig\":{\"host\":{}}}}", 403,
      "NetworkingConfig.EndpointsConfig.host" },
    { "{\"Image\":\"x\",\"NetworkingConfig\":{\"EndpointsConfig\":{\"net1\":{\"DriverOpts\":{}}}}}", 403,
      "NetworkingConfig.EndpointsConfig.net1.DriverOpts" },
    { "{\"Image\":\"x\",\"NetworkingConfig\":{\"Extra\":{}}}", 403, "NetworkingConfig.Extra" },
    /* values */
    { "{\"Image\":\"x\",\"HostConfig\":{\"NetworkMode\":\"container:abc\"}}", 403, "HostConfig.NetworkMode" },
    { "{\"Image\":\"x\",\"HostConfig\":{\"NetworkMode\":\"Host\"}}", 403, "HostConfig.NetworkMode" },
    { "{\"Image\":\"x\",\"HostConfig\":{\"UTSMode\":\"container:abc\"}}", 403, "HostConfig.UTSMode" },
    { "{\"Image\":\"x\",\"HostConfig\":{\"LogConfig\":{\"Type\":\"syslog\"}}}", 403, "HostConfig.LogConfig.Type" },
    { "{\"Image\":\"x\",\"HostConfig\":{\"LogConfig\":{\"Type\":\"gelf\",\"Config\":{\"gelf-address\":\"udp://1.2.3.4:1\"}}}}",
      403, "HostConfig.LogConfig.Type" },
    { "{\"Image\":\"x\",\"HostConfig\":{\"LogConfig\":{\"Type\":\"json-file\",\"Config\":{\"syslog-address\":\"x\"}}}}",
      403, "HostConfig.LogConfig.Config.syslog-address" },
    { "{\"Image\":\"x\",\"HostConfig\":{\"Runtime\":\"io.containerd.runsc.v1\"}}", 403, "HostConfig.Runtime" },
    { "{\"Image\":\"x\",\"HostConfig\":{\"RestartPolicy\":{\"Name\":\"on-failure\",\"MaximumRetryCount\":1000}}}",
      403, "HostConfig.RestartPolicy.MaximumRetryCount" },
    { "{\"Image\":\"x\",\"HostConfig\":{\"RestartPolicy\":{\"Name\":\"sometimes\"}}}", 403, "HostConfig.RestartPolicy.Name" },
    { "{\"Image\":\"x\",\"HostConfig\":{\"PortBindings\":{\"80/tcp\":[{\"HostPort\":\"80\"}]}}}", 403,
      "HostConfig.PortBindings.80/tcp[0]" },
    { "{\"Image\":\"x\",\"HostConfig\":{\"PortBindings\":{\"80/tcp\":[{\"HostIp\":\"10.1.2.3\",\"HostPort\":\"8080\"}]}}}",
      403, "HostConfig.PortBindings.80/tcp[0]" },
    { "{\"Image\":\"x\",\"HostConfig\":{\"PortBindings\":{\"80/tcp\":[{\"HostPort\":\"1000-2000\"}]}}}", 403,
      "HostConfig.PortBindings.80/tcp[0]" },
    { "{\"Image\":\"x\",\"HostConfig\":{\"PublishAllPorts\":true}}", 403, "HostConfig.PublishAllPorts" },
    { "{\"Image\":\"x\",\"HostConfig\":{\"SecurityOpt\":[\"no-new-privileges\",\"seccomp=unconfined\"]}}", 403,
      "HostConfig.SecurityOpt[1]" },
    { "{\"Image\":\"x\",\"HostConfig\":{\"OomScoreAdj\":-1000}}", 403, "HostConfig.OomScoreAdj" },
    { "{\"Image\":\"x\",\"HostConfig\":{\"OomKillDisable\":true}}", 403, "HostConfig.OomKillDisable" },
    { "{\"Image\":\"x\",\"HostConfig\":{\"PidsLimit\":-1}}", 403, "HostConfig.PidsLimit" },
    { "{\"Image\":\"x\",\"HostConfig\":{\"PidsLimit\":0}}", 403, "HostConfig.PidsLimit" },
    { "{\"Image\":\"x\",\"HostConfig\":{\"PidsLimit\":100000}}", 403, "HostConfig.PidsLimit" },
    { "{\"Image\":\"x\",\"HostConfig\":{\"Memory\":17179869184}}", 403, "HostConfig.Memory" },
    { "{\"Image\":\"x\",\"HostConfig\":{\"Memory\":-1}}", 403, "HostConfig.Memory" },
    { "{\"Image\":\"x\",\"HostConfig\":{\"MemorySwap\":-1}}", 403, "HostConfig.MemorySwap" },
    { "{\"Image\":\"x\",\"HostConfig\":{\"Memory\":0,\"MemorySwap\":-1}}", 403, "HostConfig.MemorySwap" },
    { "{\"Image\":\"x\",\"HostConfig\":{\"Memory\":104857600,\"MemorySwap\":209715200}}", 403, "HostConfig.MemorySwap" },
    { "{\"Image\":\"x\",\"HostConfig\":{\"NanoCpus\":64000000000}}", 403, "HostConfig.NanoCpus" },
    { "{\"Image\":\"x\",\"HostConfig\":{\"ShmSize\":17179869184}}", 403, "HostConfig.ShmSize" },
    { "{\"Image\":\"x\",\"HostConfig\":{\"Ulimits\":[{\"Name\":\"rtprio\",\"Soft\":99,\"Hard\":99}]}}", 403,
      "HostConfig.Ulimits[0].Name" },
    { "{\"Image\":\"x\",\"HostConfig\":{\"Ulimits\":[{\"Name\":\"nofile\",\"Soft\":-1,\"Hard\":-1}]}}", 403,
      "HostConfig.Ulimits[0].Soft" },
    { "{\"Image\":\"x\",\"HostConfig\":{\"VolumeDriver\":\"evil\"}}", 403, "HostConfig.VolumeDriver" },
    { "{\"Image\":\"x\",\"HostConfig\":{\"Mounts\":[{\"Type\":\"tmpfs\",\"Target\":\"/t\",\"TmpfsOptions\":"
      "{\"SizeBytes\":17179869184}}]}}", 403, "HostConfig.Mounts[0].TmpfsOptions.SizeBytes" },
    { "{\"Image\":\"x\",\"HostConfig\":{\"Mounts\":[{\"Type\":\"volume\",\"Target\":\"/x\",\"BindOptions\":{}}]}}", 403,
      "HostConfig.Mounts[0].BindOptions" },
    /* binds: "..", missing paths, symlinks */
    { "{\"Image\":\"x\",\"HostConfig\":{\"Binds\":[\"@ALLOWED@/app/..:/x\"]}}", 403, "HostConfig.Binds[0]" },
    { "{\"Image\":\"x\",\"HostConfig\":{\"Binds\":[\"@ALLOWED@/app/../app:/x\"]}}", 403, "HostConfig.Binds[0]" },
    { "{\"Image\":\"x\",\"HostConfig\":{\"Binds\":[\"@ALLOWED@/not-yet:/x\"]}}", 403, "HostConfig.Binds[0]" },
    { "{\"Image\":\"x\",\"HostConfig\":{\"Binds\":[\"@ALLOWED@/evil:/x\"]}}", 403, "HostConfig.Binds[0]" },
    { "{\"Image\":\"x\",\"HostConfig\":{\"Binds\":[\"vol1:/x:ro\",\"/anon\"]}}", 0, NULL },
    { "{\"Image\":\"x\",\"HostConfig\":{\"Binds\":[\"vol1:/x/../../etc\"]}}", 403, "HostConfig.Binds[0]" },
    { "{\"Image\":\"x\",\"HostConfig\":{\"Mounts\":[{\"Type\":\"bind\",\"Source\":\"@ALLOWED@/app/../../x\",\"Target\":\"/x\"}]}}",
      403, "HostConfig.Mounts[0].Source" },
    { "{\"Image\":\"x\",\"HostConfig\":{\"Mounts\":[{\"Type\":\"bind\",\"Source\":\"@ALLOWED@/missing\",\"Target\":\"/x\"}]}}",
      403, "HostConfig.Mounts[0].Source" },
    { "{\"Image\":\"x\",\"HostConfig\":{\"Mounts\":[{\"Type\":\"volume\",\"Source\":\"vv\",\"Target\":\"/x\",\"VolumeOptions\":"
      "{\"DriverConfig\":{\"Name\":\"local\",\"Options\":{\"type\":\"none\",\"o\":\"bind\",\"device\":\"@ALLOWED@/missing\"}}}}]}}",
      403, "HostConfig.Mounts[0].VolumeOptions.DriverConfig.Options.device" },
    { "{\"Image\":\"x\",\"HostConfig\":{\"Binds\":[\"@ALLOWED@/app:/x\"],\"RestartPolicy\":{\"Name\":\"always\"}}}", 403,
      "HostConfig.RestartPolicy.Name" },
    { "{\"Image\":\"x\",\"HostConfig\":{\"RestartPolicy\":{\"Name\":\"unless-stopped\"},\"Mounts\":[{\"Type\":\"bind\","
      "\"Source\":\"@ALLOWED@/app\",\"Target\":\"/x\"}]}}", 403, "HostConfig.RestartPolicy.Name" },
    { "{\"Image\":\"x\",\"HostConfig\":{\"Binds\":[\"@ALLOWED@/app:/x\",\"vol1:/y\"],\"RestartPolicy\":{\"Name\":\"no\"}}}",
      0, NULL },
    /* types */
    { "{\"Image\":\"x\",\"HostConfig\":{\"Memory\":\"1g\"}}", 400, "HostConfig.Memory" },
    { "{\"Image\":\"x\",\"HostConfig\":{\"Memory\":1.5e9}}", 400, "HostConfig.Memory" },
    { "{\"Image\":\"x\",\"Env\":\"A=B\"}", 400, "Env" },
    { "{\"Image\":\"x\",\"HostConfig\":[]}", 400, "HostConfig" },
    { "{\"Image\":1}", 400, "Image" },
    { "{\"Cmd\":[\"x\"]}", 422, "Image" },
    /* a full, ordinary body */
    { "{\"Image\":\"nginx:alpine\",\"Hostname\":\"web\",\"User\":\"101\",\"Env\":[\"A=1\"],\"Cmd\":[\"nginx\"],"
      "\"ExposedPorts\":{\"80/tcp\":{}},\"Labels\":{\"app\":\"web\"},\"WorkingDir\":\"/srv\",\"StopSignal\":\"SIGQUIT\","
      "\"StopTimeout\":10,\"Healthcheck\":{\"Test\":[\"CMD\",\"true\"],\"Interval\":1000000000,\"Retries\":3},"
      "\"Volumes\":{\"/cache\":{}},\"HostConfig\":{\"PortBindings\":{\"80/tcp\":[{\"HostIp\":\"127.0.0.1\",\"HostPort\":\"8080\"}]},"
      "\"RestartPolicy\":{\"Name\":\"on-failure\",\"MaximumRetryCount\":3},\"Binds\":[\"data:/data\"],"
      "\"Mounts\":[{\"Type\":\"tmpfs\",\"Target\":\"/tmp\",\"TmpfsOptions\":{\"SizeBytes\":1048576}},"
      "{\"Type\":\"volume\",\"Source\":\"v2\",\"Target\":\"/v\",\"ReadOnly\":true}],"
      "\"LogConfig\":{\"Type\":\"json-file\",\"Config\":{\"max-size\":\"10m\"}},\"CapDrop\":[\"ALL\"],"
      "\"CapAdd\":[\"NET_ADMIN\"],\"SecurityOpt\":[\"no-new-privileges\"],\"Memory\":268435456,\"NanoCpus\":500000000,"
      "\"PidsLimit\":100,\"Ulimits\":[{\"Name\":\"nofile\",\"Soft\":1024,\"Hard\":2048}],\"Init\":true,"
      "\"ReadonlyRootfs\":true,\"NetworkMode\":\"appnet\",\"Tmpfs\":{\"/run\":\"size=1m\"},\"Privileged\":false},"
      "\"NetworkingConfig\":{\"EndpointsConfig\":{\"appnet\":{\"Aliases\":[\"web\"]}}}}", 0, NULL },
    { NULL, 0, NULL }
};

START_TEST(build_cases_refuse_and_accept)
{
    const build_case_t *c;

    make_tree();
    for (c = build_cases; c->body; ++c) {
        dp_dk_policy_t pol = policy(0);
        const char *text = subst(c->body);
        json_object *out = NULL;
        dp_problem_t *prob = NULL;
        apr_status_t rv = dp_dk_policy_build(&out, &prob, tp, &pol, parse(text));

        if (c->status == 0) {
            ck_assert_msg(rv == APR_SUCCESS, "%s refused: %s", text, prob ? prob->detail : "?");
            ck_assert_ptr_nonnull(out);
            continue;
        }
        ck_assert_msg(rv == DP_EPROBLEM, "%s allowed: %s", text, dp_json_str(tp, out));
        ck_assert_msg(prob->status == c->status, "%s: status %d, want %d (%s)", text, prob->status, c->status,
                      prob->detail);
        if (c->status == 403) {
            ck_assert_str_eq(prob->code, "policy_denied");
        }
        ck_assert_msg(!strcmp(field_of(prob), c->field), "%s: field '%s', want '%s' (%s)", text, field_of(prob),
                      c->field, prob->detail);
        ck_assert_msg(strstr(prob->detail, c->field) != NULL, "%s: detail lacks the field: %s", text, prob->detail);
    }
    drop_tree();
}
END_TEST

/* The built body is new: unknown-free, defaults written, binds resolved, the caller's untouched. */
START_TEST(build_writes_defaults_and_resolves)
{
    dp_dk_policy_t pol;
    json_object *in, *out = NULL, *hc;
    dp_problem_t *prob = NULL;
    const char *text;

    make_tree();
    pol = policy(0);
    ck_assert_int_eq(symlink(apr_pstrcat(tp, allowed_dir, "/app", NULL), apr_pstrcat(tp, allowed_dir, "/link", NULL)), 0);
    text = subst("{\"Image\":\"x\",\"HostConfig\":{\"Binds\":[\"@ALLOWED@/link:/x:ro\"],\"Mounts\":[{\"Type\":\"bind\","
                 "\"Source\":\"@ALLOWED@//app/.\",\"Target\":\"/y\"}]}}");
    in = parse(text);
    ck_assert_msg(dp_dk_policy_build(&out, &prob, tp, &pol, in) == APR_SUCCESS, "%s", prob ? prob->detail : "");
    hc = dp_json_get(out, "HostConfig");
    ck_assert_int_eq(dp_json_get_int(hc, "Memory", 0), DP_DK_MEMORY_DEFAULT);
    ck_assert_int_eq(dp_json_get_int(hc, "MemorySwap", 0), DP_DK_MEMORY_DEFAULT);
    ck_assert_int_eq(dp_json_get_int(hc, "NanoCpus", 0), DP_DK_CPUS_DEFAULT);
    ck_assert_int_eq(dp_json_get_int(hc, "PidsLimit", 0), DP_DK_PIDS_DEFAULT);
    ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(dp_json_get(hc, "Binds"), 0)),
                     apr_pstrcat(tp, allowed_dir, "/app:/x:ro", NULL));
    ck_assert_str_eq(dp_json_get_str(json_object_array_get_idx(dp_json_get(hc, "Mounts"), 0), "Source"),
                     apr_pstrcat(tp, allowed_dir, "/app", NULL));
    ck_assert_ptr_null(dp_json_get(dp_json_get(in, "HostConfig"), "Memory"));   /* the caller's body is not changed */
    /* no HostConfig at all: one with the defaults */
    ck_assert_int_eq(dp_dk_policy_build(&out, &prob, tp, &pol, parse("{\"Image\":\"x\"}")), APR_SUCCESS);
    ck_assert_int_eq(dp_json_get_int(dp_json_get(out, "HostConfig"), "PidsLimit", 0), DP_DK_PIDS_DEFAULT);
    /* configured defaults and ceilings */
    pol.mem_default = 64 * 1024 * 1024;
    pol.mem_max = 128 * 1024 * 1024;
    pol.cpu_default = 250000000;
    pol.cpu_max = 500000000;
    pol.pids_default = 50;
    pol.pids_max = 100;
    ck_assert_int_eq(dp_dk_policy_build(&out, &prob, tp, &pol, parse("{\"Image\":\"x\",\"HostConfig\":{\"Memory\":0}}")),
                     APR_SUCCESS);
    hc = dp_json_get(out, "HostConfig");
    ck_assert_int_eq(dp_json_get_int(hc, "Memory", 0), 64 * 1024 * 1024);
    ck_assert_int_eq(dp_json_get_int(hc, "NanoCpus", 0), 250000000);
    ck_assert_int_eq(dp_json_get_int(hc, "PidsLimit", 0), 50);
    ck_assert_int_eq(dp_dk_policy_build(&out, &prob, tp, &pol,
                     parse("{\"Image\":\"x\",\"HostConfig\":{\"Memory\":134217729}}")), DP_EPROBLEM);
    ck_assert_str_eq(field_of(prob), "HostConfig.Memory");
    ck_assert_int_eq(dp_dk_policy_build(&out, &prob, tp, &pol,
                     parse("{\"Image\":\"x\",\"HostConfig\":{\"NanoCpus\":600000000}}")), DP_EPROBLEM);
    ck_assert_str_eq(field_of(prob), "HostConfig.NanoCpus");
    ck_assert_int_eq(dp_dk_policy_build(&out, &prob, tp, &pol,
                     parse("{\"Image\":\"x\",\"HostConfig\":{\"PidsLimit\":101}}")), DP_EPROBLEM);
    ck_assert_str_eq(field_of(prob), "HostConfig.PidsLimit");
    ck_assert_int_eq(dp_dk_policy_build(&out, &prob, tp, &pol,
                     parse("{\"Image\":\"x\",\"HostConfig\":{\"PidsLimit\":100,\"Memory\":134217728}}")), APR_SUCCESS);
    unlink(apr_pstrcat(tp, allowed_dir, "/link", NULL));
    drop_tree();
}
END_TEST

/* Relaxations still open their fields; log drivers and publish ranges by directive. */
START_TEST(build_relaxations_and_directives)
{
    dp_dk_policy_t pol;
    json_object *out = NULL;
    dp_problem_t *prob = NULL;
    apr_array_header_t *drivers = list("syslog", NULL), *pub = apr_array_make(tp, 1, sizeof(dp_dk_publish_t));
    dp_dk_publish_t e;

    make_tree();
    pol = policy(DP_DK_ALLOW_PRIVILEGED | DP_DK_ALLOW_HOST_NAMESPACES);
    ck_assert_int_eq(dp_dk_policy_build(&out, &prob, tp, &pol, parse("{\"Image\":\"x\",\"HostConfig\":{\"Privileged\":true,"
                     "\"NetworkMode\":\"host\",\"PidMode\":\"host\",\"VolumesFrom\":[\"a\"],\"Runtime\":\"kata\"}}")), APR_SUCCESS);
    ck_assert(dp_json_get_bool(dp_json_get(out, "HostConfig"), "Privileged", 0));
    ck_assert_str_eq(dp_json_get_str(dp_json_get(out, "HostConfig"), "PidMode"), "host");
    /* still the allow-list: unknown fields stay refused even when relaxed */
    ck_assert_int_eq(dp_dk_policy_build(&out, &prob, tp, &pol, parse("{\"Image\":\"x\",\"Privileged\":true}")), DP_EPROBLEM);
    pol = policy(0);
    pol.log_drivers = drivers;
    ck_assert_int_eq(dp_dk_policy_build(&out, &prob, tp, &pol, parse("{\"Image\":\"x\",\"HostConfig\":{\"LogConfig\":"
                     "{\"Type\":\"syslog\",\"Config\":{\"syslog-address\":\"udp://127.0.0.1:514\"}}}}")), APR_SUCCESS);
    ck_assert_int_eq(dp_dk_publish_parse(&e, tp, "127.0.0.1:8000-8999"), APR_SUCCESS);
    ck_assert_int_eq(e.lo, 8000);
    ck_assert_int_eq(e.hi, 8999);
    APR_ARRAY_PUSH(pub, dp_dk_publish_t) = e;
    ck_assert_int_eq(dp_dk_publish_parse(&e, tp, "[::1]:9000"), APR_SUCCESS);
    ck_assert_str_eq(e.ip, "::1");
    ck_assert_int_eq(dp_dk_publish_parse(&e, tp, "*:1-2"), APR_SUCCESS);
    ck_assert_int_eq(dp_dk_publish_parse(&e, tp, "1.2.3:80"), APR_EINVAL);
    ck_assert_int_eq(dp_dk_publish_parse(&e, tp, "0.0.0.0:9-8"), APR_EINVAL);
    ck_assert_int_eq(dp_dk_publish_parse(&e, tp, "0.0.0.0"), APR_EINVAL);
    pol.publish = pub;
    ck_assert_int_eq(dp_dk_policy_build(&out, &prob, tp, &pol, parse("{\"Image\":\"x\",\"HostConfig\":{\"PortBindings\":"
                     "{\"80/tcp\":[{\"HostIp\":\"127.0.0.1\",\"HostPort\":\"8080\"}]}}}")), APR_SUCCESS);
    ck_assert_int_eq(dp_dk_policy_build(&out, &prob, tp, &pol, parse("{\"Image\":\"x\",\"HostConfig\":{\"PortBindings\":"
                     "{\"80/tcp\":[{\"HostIp\":\"\",\"HostPort\":\"8080\"}]}}}")), DP_EPROBLEM);
    ck_assert_int_eq(prob->status, 403);
    drop_tree();
}
END_TEST

/* A symlink planted after create: the start-time re-check refuses it. */
START_TEST(recheck_catches_a_planted_symlink)
{
    dp_dk_policy_t pol;
    apr_array_header_t *vols;
    dp_problem_t *prob = NULL;
    const char *dir;
    json_object *info;

    make_tree();
    pol = policy(0);
    dir = apr_pstrcat(tp, allowed_dir, "/app/sub", NULL);
    ck_assert_int_eq(mkdir(dir, 0700), 0);
    info = parse(subst("{\"HostConfig\":{\"Binds\":[\"@ALLOWED@/app/sub:/x\",\"vol:/v\"],\"Mounts\":[]},"
                       "\"Mounts\":[{\"Type\":\"volume\",\"Name\":\"vol\",\"Driver\":\"local\"}]}"));
    ck_assert_int_eq(dp_dk_policy_recheck(&vols, &prob, tp, &pol, info), APR_SUCCESS);
    ck_assert_int_eq(vols->nelts, 1);
    ck_assert_int_eq(rmdir(dir), 0);
    ck_assert_int_eq(symlink("/etc", dir), 0);
    ck_assert_int_eq(dp_dk_policy_recheck(&vols, &prob, tp, &pol, info), DP_EPROBLEM);
    ck_assert_int_eq(prob->status, 403);
    ck_assert_str_eq(field_of(prob), "HostConfig.Binds[0]");
    info = parse(subst("{\"HostConfig\":{},\"Mounts\":[{\"Type\":\"bind\",\"Source\":\"@ALLOWED@/app/sub\"}]}"));
    ck_assert_int_eq(dp_dk_policy_recheck(&vols, &prob, tp, &pol, info), DP_EPROBLEM);
    ck_assert_str_eq(field_of(prob), "Mounts[0]");
    unlink(dir);
    drop_tree();
}
END_TEST

START_TEST(network_references)
{
    dp_dk_policy_t pol;
    dp_problem_t *prob = NULL;
    apr_array_header_t *refs;

    memset(&pol, 0, sizeof(pol));
    refs = dp_dk_policy_networks(tp, parse("{\"HostConfig\":{\"NetworkMode\":\"5f3c\"},\"NetworkingConfig\":"
                                           "{\"EndpointsConfig\":{\"appnet\":{}}}}"));
    ck_assert_int_eq(refs->nelts, 2);
    ck_assert_str_eq(APR_ARRAY_IDX(refs, 0, dp_dk_netref_t).name, "5f3c");
    ck_assert_str_eq(APR_ARRAY_IDX(refs, 0, dp_dk_netref_t).field, "HostConfig.NetworkMode");
    ck_assert_str_eq(APR_ARRAY_IDX(refs, 1, dp_dk_netref_t).field, "NetworkingConfig.EndpointsConfig.appnet");
    ck_assert_int_eq(dp_dk_policy_networks(tp, parse("{\"HostConfig\":{\"NetworkMode\":\"bridge\"}}"))->nelts, 0);
    ck_assert_int_eq(dp_dk_policy_network_driver(&prob, tp, &pol, "host", "HostConfig.NetworkMode"), DP_EPROBLEM);
    ck_assert_int_eq(prob->status, 403);
    ck_assert_int_eq(dp_dk_policy_network_driver(&prob, tp, &pol, "bridge", "HostConfig.NetworkMode"), APR_SUCCESS);
    pol.allow = DP_DK_ALLOW_HOST_NAMESPACES;
    ck_assert_int_eq(dp_dk_policy_network_driver(&prob, tp, &pol, "host", "HostConfig.NetworkMode"), APR_SUCCESS);
}
END_TEST

START_TEST(field_known_predicate)
{
    ck_assert_int_eq(dp_dk_policy_field_known("Image"), 1);
    ck_assert_int_eq(dp_dk_policy_field_known("HostConfig"), 1);
    ck_assert_int_eq(dp_dk_policy_field_known("HostConfig.Mounts.BindOptions.Propagation"), 1);
    ck_assert_int_eq(dp_dk_policy_field_known("Labels"), 2);
    ck_assert_int_eq(dp_dk_policy_field_known("Labels.*"), 1);
    ck_assert_int_eq(dp_dk_policy_field_known("HostConfig.PortBindings.*.HostPort"), 1);
    ck_assert_int_eq(dp_dk_policy_field_known("NetworkingConfig.EndpointsConfig.*.IPAMConfig.IPv4Address"), 1);
    ck_assert_int_eq(dp_dk_policy_field_known("HostConfig.Devices"), 3);
    ck_assert_int_eq(dp_dk_policy_field_known("Privileged"), 0);
    ck_assert_int_eq(dp_dk_policy_field_known("HostConfig.Links"), 0);
    ck_assert_int_eq(dp_dk_policy_field_known("HostConfig.privileged"), 0);
    ck_assert_int_eq(dp_dk_policy_field_known("Labels.a"), 0);
    ck_assert_int_eq(dp_dk_policy_field_known("Image.x"), 0);
    ck_assert_int_eq(dp_dk_policy_field_known(""), 0);
}
END_TEST

/* Policy test case. */
TCase *tc_docker_policy(void)
{
    TCase *tc = tcase_create("docker_policy");
    tcase_add_test(tc, create_simple_translation);
    tcase_add_test(tc, create_env_as_array_and_restart_forms);
    tcase_add_test(tc, create_raw_body);
    tcase_add_test(tc, create_simple_refusals);
    tcase_add_test(tc, create_memory_sizes);
    tcase_add_test(tc, names_and_paths);
    tcase_add_test(tc, policy_cases);
    tcase_add_test(tc, policy_symlinks_are_resolved);
    tcase_add_test(tc, policy_volume_options);
    tcase_add_test(tc, policy_labels_are_stamped);
    tcase_add_test(tc, policy_applies_to_simple_body);
    tcase_add_test(tc, build_cases_refuse_and_accept);
    tcase_add_test(tc, build_writes_defaults_and_resolves);
    tcase_add_test(tc, build_relaxations_and_directives);
    tcase_add_test(tc, recheck_catches_a_planted_symlink);
    tcase_add_test(tc, field_known_predicate);
    tcase_add_test(tc, network_references);
    return tc;
}
