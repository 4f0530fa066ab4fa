/* Unit tests: the YAML converter (shapes, anchors, merge keys, tags, bounds) and the compose
 * checker (the allow-list, every refused key, host paths in every YAML shape, interpolation,
 * labels, the normalised document, references and the quota needs). */
#define _POSIX_C_SOURCE 200809L
#include <string.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <apr_strings.h>
#include <apr_file_io.h>
#include <apr_file_info.h>

#include "check_dockpay.h"
#include "dp_yaml.h"
#include "dp_dk_compose.h"
#include "dp_json.h"

static json_object *yaml(const char *text)
{
    json_object *o = NULL;
    dp_problem_t *prob = NULL;
    apr_status_t rv = dp_yaml_parse(&o, &prob, tp, text, strlen(text));

    ck_assert_msg(rv == APR_SUCCESS, "YAML refused: %s", prob ? prob->detail : "?");
    return o;
}

static dp_problem_t *yaml_err(const char *text)
{
    json_object *o = NULL;
    dp_problem_t *prob = NULL;

    ck_assert_msg(dp_yaml_parse(&o, &prob, tp, text, strlen(text)) != APR_SUCCESS, "YAML accepted: %s", text);
    ck_assert_ptr_nonnull(prob);
    ck_assert_int_eq(prob->status, 422);
    return prob;
}

static const char *js(json_object *o)
{
    return json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
}

START_TEST(yaml_shapes)
{
    ck_assert_str_eq(js(yaml("a: 1\nb: [x, 'y', \"z\"]\nc: {d: null, e: ~, f: true, g: no, h: 1.5}\n")),
                     "{\"a\":1,\"b\":[\"x\",\"y\",\"z\"],\"c\":{\"d\":null,\"e\":null,\"f\":true,\"g\":false,\"h\":1.5}}");
    /* a list item whose value is on the next line */
    ck_assert_str_eq(js(yaml("v:\n  -\n    /:/host\n")), "{\"v\":[\"/:/host\"]}");
    /* block scalars */
    ck_assert_str_eq(js(yaml("v: >-\n  /:/host\n")), "{\"v\":\"/:/host\"}");
    ck_assert_str_eq(js(yaml("v: |\n  a\n  b\n")), "{\"v\":\"a\\nb\\n\"}");
    /* a flow list over several lines */
    ck_assert_str_eq(js(yaml("v: [\n  \"/:/host\",\n  x\n]\n")), "{\"v\":[\"/:/host\",\"x\"]}");
    /* explicit keys, escapes, quoted keys */
    ck_assert_str_eq(js(yaml("? privileged\n: true\n")), "{\"privileged\":true}");
    ck_assert_str_eq(js(yaml("\"priv\\x69leged\": 1\n")), "{\"privileged\":1}");
    /* numbers: ports and octal-looking values stay as written */
    ck_assert_str_eq(js(yaml("p: 22:22\nq: 0755\nr: 0x10\ns: -3\nt: 1e3\nu: .inf\n")),
                     "{\"p\":\"22:22\",\"q\":\"0755\",\"r\":16,\"s\":-3,\"t\":1e3,\"u\":\".inf\"}");
    /* only the first document; an empty document */
    ck_assert_str_eq(js(yaml("a: 1\n---\nb: 2\n")), "{\"a\":1}");
    ck_assert_ptr_null(yaml(""));
    ck_assert_ptr_null(yaml("# nothing\n"));
}
END_TEST

START_TEST(yaml_anchors_and_merges)
{
    ck_assert_str_eq(js(yaml("x: &a {k: 1}\ny: *a\nz: &s str\nw: *s\n")),
                     "{\"x\":{\"k\":1},\"y\":{\"k\":1},\"z\":\"str\",\"w\":\"str\"}");
    /* merge keys: explicit keys win, the first of a merge list wins */
    ck_assert_str_eq(js(yaml("b: &b {a: 1, b: 1}\nc: &c {b: 2, c: 2}\nm:\n  <<: [*b, *c]\n  a: 0\n")),
                     "{\"b\":{\"a\":1,\"b\":1},\"c\":{\"b\":2,\"c\":2},\"m\":{\"a\":0,\"b\":1,\"c\":2}}");
    ck_assert_str_eq(js(yaml("b: &b {p: true}\nm: {<<: *b}\n")), "{\"b\":{\"p\":true},\"m\":{\"p\":true}}");
    /* a quoted "<<" is an ordinary key */
    ck_assert_str_eq(js(yaml("m: {\"<<\": 1}\n")), "{\"m\":{\"<<\":1}}");
    ck_assert_str_eq(yaml_err("m: {<<: 1}\n")->code, "invalid_yaml");
    /* an alias used as a key */
    ck_assert_str_eq(js(yaml("k: &k name\nm: {*k : 1}\n")), "{\"k\":\"name\",\"m\":{\"name\":1}}");
    /* an alias before its anchor, a self-reference */
    ck_assert_str_eq(yaml_err("a: *x\nb: &x 1\n")->code, "invalid_yaml");
    ck_assert_str_eq(yaml_err("a: &x [*x]\n")->code, "invalid_yaml");
}
END_TEST

START_TEST(yaml_bounds_and_refusals)
{
    const char *bomb =
        "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
        "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
        "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
        "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
        "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
        "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
        "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\n";
    char *deep = apr_palloc(tp, 200);
    char *big;
    int i;

    ck_assert_str_eq(yaml_err(bomb)->code, "yaml_too_complex");
    for (i = 0; i < 80; ++i) deep[i] = '[';
    deep[80] = '\0';
    ck_assert_str_eq(yaml_err(deep)->code, "yaml_too_complex");
    big = apr_palloc(tp, DP_YAML_MAX_INPUT + 2);
    memset(big, 'a', DP_YAML_MAX_INPUT + 1);
    big[DP_YAML_MAX_INPUT + 1] = '\0';
    ck_assert_str_eq(yaml_err(big)->code, "yaml_too_complex");
    /* a long scalar aliased many times goes over the text bound */
    big = apr_palloc(tp, 200 * 1024);
    strcpy(big, "a: &a ");
    memset(big + 6, 'x', 100000);
    strcpy(big + 100006, "\nb: [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n");
    ck_assert_str_eq(yaml_err(big)->code, "yaml_too_complex");
    /* tags */
    ck_assert_str_eq(js(yaml("a: !!str 123\nb: !!int 5\nc: ! x\nd: !!map {k: v}\n")),
                     "{\"a\":\"123\",\"b\":5,\"c\":\"x\",\"d\":{\"k\":\"v\"}}");
    ck_assert_ptr_nonnull(strstr(yaml_err("a: !!python/object:os.system x\n")->detail, "tag"));
    ck_assert_str_eq(yaml_err("a: !custom x\n")->code, "invalid_yaml");
    ck_assert_str_eq(yaml_err("a: !!int abc\n")->code, "invalid_yaml");
    ck_assert_str_eq(yaml_err("a: !!binary aGk=\n")->code, "invalid_yaml");
    /* duplicate and complex keys, syntax errors with a position */
    ck_assert_ptr_nonnull(strstr(yaml_err("a: 1\na: 2\n")->detail, "twice"));
    ck_assert_str_eq(yaml_err("? [a]\n: 1\n")->code, "invalid_yaml");
    ck_assert_ptr_nonnull(strstr(yaml_err("a: [1, 2\n")->detail, "line"));
    ck_assert_str_eq(yaml_err("a: \"\\x\"\n")->code, "invalid_yaml");
    /* fuzz_compose regression: characters a YAML reader refuses or folds once written back as JSON */
    ck_assert_str_eq(yaml_err("\"\\x97\": 1\n")->code, "invalid_yaml");
    ck_assert_str_eq(yaml_err("a: \"\\x7f\"\n")->code, "invalid_yaml");
    ck_assert_str_eq(yaml_err("a: \"x\\u2028y\"\n")->code, "invalid_yaml");
    ck_assert_str_eq(yaml_err("a: \"\\N\"\n")->code, "invalid_yaml");
    ck_assert_str_eq(js(yaml("a: \"\\t\\u00e9\\x01\"\n")), "{\"a\":\"\\t\u00e9\\u0001\"}");
}
END_TEST

/* ------------------------------------------------------------------------------------------ */
/* the checker */

static dp_dk_policy_t pol;

/* The bind allow-list of these tests: a folder the policy can resolve (it refuses paths that
 * do not exist), made before the case and removed after it. */
#define ALLOWED "/tmp/dp-unit-compose-allowed"

static void allowed_setup(void)
{
    mkdir(ALLOWED, 0700);
    mkdir(ALLOWED "/x", 0700);
    mkdir(ALLOWED "/data", 0700);
}

static void allowed_teardown(void)
{
    rmdir(ALLOWED "/x");
    rmdir(ALLOWED "/data");
    rmdir(ALLOWED);
}

static apr_status_t check(dp_dk_compose_plan_t *plan, dp_problem_t **pprob, const char *text)
{
    apr_array_header_t *binds = apr_array_make(tp, 1, sizeof(const char *));

    APR_ARRAY_PUSH(binds, const char *) = "" ALLOWED "";
    memset(&pol, 0, sizeof(pol));
    pol.binds = binds;
    pol.socket = "/run/docker.sock";
    *pprob = NULL;
    return dp_dk_compose_check(plan, pprob, tp, &pol, text, strlen(text), "proj", "alice");
}

static json_object *ok(const char *text)
{
    dp_dk_compose_plan_t plan;
    dp_problem_t *prob = NULL;

    ck_assert_msg(check(&plan, &prob, text) == APR_SUCCESS, "refused: %s", prob ? prob->detail : "?");
    return plan.doc;
}

/* Asserts a refusal with status, code and a field that starts with field. */
static void refused(const char *text, int status, const char *code, const char *field)
{
    dp_dk_compose_plan_t plan;
    dp_problem_t *prob = NULL;
    const char *f;

    ck_assert_msg(check(&plan, &prob, text) != APR_SUCCESS, "accepted: %s", text);
    ck_assert_msg(prob->status == status && !strcmp(prob->code, code), "%s: got %d %s (%s)", text, prob->status,
                  prob->code, prob->detail);
    f = dp_json_get_str(prob->ext, "field");
    ck_assert_msg(f && !strncmp(f, field, strlen(field)), "%s: field %s, detail %s, wanted %s", text, f ? f : "-",
                  prob->detail, field);
}

#define SVC "services:\n  web:\n    image: local/busybox:test\n"

START_TEST(compose_normalises_and_stamps)
{
    dp_dk_compose_plan_t plan;
    dp_problem_t *prob = NULL;
    json_object *doc, *web, *db;
    const dp_dk_compose_ref_t *r;
    const char *text =
        "version: '3.8'\n"
        "x-common: &common\n"
        "  restart: unless-stopped\n"
        "  logging: {driver: json-file, options: {max-size: 1m}}\n"
        "services:\n"
        "  web:\n"
        "    <<: *common\n"
        "    image: local/busybox:test\n"
        "    command: [sleep, 300]\n"
        "    environment:\n"
        "      A: 1\n"
        "      B: 'x$$y'\n"
        "    ports: ['8080:80', {target: 81, published: 8081, protocol: udp}]\n"
        "    volumes:\n"
        "      - data:/data\n"
        "      - type: volume\n"
        "        source: data\n"
        "        target: /ro\n"
        "        read_only: true\n"
        "      - /anon\n"
        "      - " ALLOWED "/x:/x\n"
        "      - type: tmpfs\n"
        "        target: /t\n"
        "    labels: [team=a]\n"
        "    networks: [front]\n"
        "    depends_on: [db]\n"
        "    mem_limit: 64m\n"
        "    cpus: 0.5\n"
        "    security_opt: [no-new-privileges]\n"
        "    cap_drop: [ALL]\n"
        "    read_only: yes\n"
        "  db:\n"
        "    image: local/busybox:test\n"
        "    deploy: {resources: {limits: {memory: 32m, cpus: '0.25'}}}\n"
        "volumes:\n"
        "  data:\n"
        "    labels: {tier: db}\n"
        "  ext:\n"
        "    external: true\n"
        "networks:\n"
        "  front: {driver: bridge}\n";

    ck_assert_msg(check(&plan, &prob, text) == APR_SUCCESS, "refused: %s", prob ? prob->detail : "?");
    doc = plan.doc;
    ck_assert_str_eq(dp_json_get_str(doc, "version"), "2.4");
    ck_assert_ptr_null(dp_json_get(doc, "x-common"));
    web = dp_json_get(dp_json_get(doc, "services"), "web");
    db = dp_json_get(dp_json_get(doc, "services"), "db");
    ck_assert_str_eq(dp_json_get_str(web, "restart"), "unless-stopped");
    ck_assert_str_eq(js(dp_json_get(web, "logging")), "{\"driver\":\"json-file\",\"options\":{\"max-size\":\"1m\"}}");
    ck_assert_str_eq(js(dp_json_get(web, "environment")), "[\"A=1\",\"B=x$$y\"]");
    ck_assert_str_eq(js(dp_json_get(web, "ports")), "[\"8080:80\",\"8081:81/udp\"]");
    ck_assert_str_eq(js(dp_json_get(web, "volumes")),
                     "[\"data:/data\",\"data:/ro:ro\",\"/anon\",\"" ALLOWED "/x:/x\"]");
    ck_assert_str_eq(js(dp_json_get(web, "tmpfs")), "[\"/t\"]");
    ck_assert_str_eq(js(dp_json_get(web, "labels")),
                     "{\"team\":\"a\",\"dockpay.managed\":\"true\",\"dockpay.key\":\"alice\","
                     "\"dockpay.memory\":\"67108864\",\"dockpay.nanocpus\":\"500000000\"}");
    ck_assert_str_eq(js(dp_json_get(web, "networks")), "{\"front\":null}");
    ck_assert_int_eq(json_object_get_int64(dp_json_get(web, "mem_limit")), 64 * 1024 * 1024);
    /* the create policy's result runs: swap no larger than memory, the default PIDs limit */
    ck_assert_int_eq(json_object_get_int64(dp_json_get(web, "memswap_limit")), 64 * 1024 * 1024);
    ck_assert_int_eq(json_object_get_int64(dp_json_get(web, "pids_limit")), 1024);
    ck_assert(json_object_get_boolean(dp_json_get(web, "read_only")));
    ck_assert_int_eq(json_object_get_int64(dp_json_get(db, "mem_limit")), 32 * 1024 * 1024);
    ck_assert_ptr_null(dp_json_get(db, "deploy"));
    ck_assert_str_eq(js(dp_json_get(dp_json_get(doc, "volumes"), "data")),
                     "{\"labels\":{\"tier\":\"db\",\"dockpay.managed\":\"true\",\"dockpay.key\":\"alice\"}}");
    ck_assert_str_eq(js(dp_json_get(dp_json_get(doc, "volumes"), "ext")), "{\"external\":true,\"name\":\"ext\"}");
    ck_assert_str_eq(js(dp_json_get(dp_json_get(doc, "networks"), "front")),
                     "{\"driver\":\"bridge\",\"labels\":{\"dockpay.managed\":\"true\",\"dockpay.key\":\"alice\"}}");
    /* db uses the default network: it is declared, labelled */
    ck_assert_str_eq(js(dp_json_get(dp_json_get(doc, "networks"), "default")),
                     "{\"labels\":{\"dockpay.managed\":\"true\",\"dockpay.key\":\"alice\"}}");
    /* needs: 2 containers, data + the anonymous volume, memory and cpus summed */
    ck_assert_int_eq(plan.need.containers, 2);
    ck_assert_int_eq(plan.need.volumes, 2);
    ck_assert(plan.need.memory == 96LL * 1024 * 1024);
    ck_assert(plan.need.nanocpus == 750000000LL);
    /* references: volumes data (proj_data) and ext (external), networks front and default */
    ck_assert_int_eq(plan.refs->nelts, 4);
    r = &APR_ARRAY_IDX(plan.refs, 0, dp_dk_compose_ref_t);
    ck_assert_str_eq(r->name, "proj_data");
    ck_assert_int_eq(r->external, 0);
    r = &APR_ARRAY_IDX(plan.refs, 1, dp_dk_compose_ref_t);
    ck_assert_str_eq(r->name, "ext");
    ck_assert_int_eq(r->external, 1);
    ck_assert_str_eq(r->field, "volumes.ext");
    r = &APR_ARRAY_IDX(plan.refs, 3, dp_dk_compose_ref_t);
    ck_assert_str_eq(r->name, "proj_default");
    ck_assert_str_eq(r->kind, "network");
    /* a minimal file */
    ck_assert_str_eq(js(ok(SVC)), "{\"version\":\"2.4\",\"services\":{\"web\":{\"image\":\"local/busybox:test\","
                                  "\"labels\":{\"dockpay.managed\":\"true\",\"dockpay.key\":\"alice\","
                                  "\"dockpay.memory\":\"536870912\",\"dockpay.nanocpus\":\"1000000000\"},"
                                  "\"mem_limit\":536870912,\"memswap_limit\":536870912,\"cpus\":1.0,"
                                  "\"pids_limit\":1024}},"
                                  "\"networks\":{\"default\":{\"labels\":{\"dockpay.managed\":\"true\","
                                  "\"dockpay.key\":\"alice\"}}}}");
}
END_TEST

START_TEST(compose_refused_keys)
{
    static const char *const svc_keys[] = {
        "env_file: /etc/shadow", "extends: {file: /etc/x.yml, service: a}", "secrets: [s]", "configs: [c]",
        "build: .", "volumes_from: [other]", "network_mode: host", "network_mode: 'container:abc'", "pid: host",
        "ipc: 'container:abc'", "userns_mode: host", "cgroup_parent: /x", "runtime: runc", "privileged: false",
        "devices: [/dev/null]", "sysctls: {a: 1}", "links: [x]", "external_links: [x]", "ulimits: {nofile: 1}",
        "dns: [1.1.1.1]", "extra_hosts: [a:1.2.3.4]", "uts: host", "scale: 2", "profiles: [x]", "platform: x",
        "device_cgroup_rules: [x]", "oom_score_adj: 1", "Image: x", NULL
    };
    int i;

    for (i = 0; svc_keys[i]; ++i) {
        const char *key = apr_pstrndup(tp, svc_keys[i], strcspn(svc_keys[i], ":"));
        refused(apr_pstrcat(tp, SVC, "    ", svc_keys[i], "\n", NULL), 403, "policy_denied",
                apr_pstrcat(tp, "services.web.", key, NULL));
    }
    refused("secrets:\n  s:\n    file: /\n" SVC, 403, "policy_denied", "secrets");
    refused("configs:\n  c:\n    file: /etc/passwd\n" SVC, 403, "policy_denied", "configs");
    refused("include: [/etc/x.yml]\n" SVC, 403, "policy_denied", "include");
    refused(SVC "    security_opt: ['seccomp:unconfined']\n", 403, "policy_denied", "services.web.security_opt");
    refused(SVC "    security_opt: ['apparmor=unconfined']\n", 403, "policy_denied", "services.web.security_opt");
    refused(SVC "    cap_add: [SYS_ADMIN]\n", 403, "policy_denied", "services.web.cap_add");
    refused(SVC "    logging: {driver: syslog}\n", 403, "policy_denied", "services.web.logging.driver");
    refused(SVC "    logging: {driver: json-file, options: {syslog-address: 'tcp://x'}}\n", 403, "policy_denied",
            "services.web.logging.options.syslog-address");
    refused(SVC "    labels: {dockpay.key: bob}\n", 403, "policy_denied", "services.web.labels.dockpay.key");
    refused(SVC "    labels: ['com.docker.compose.project=other']\n", 403, "policy_denied", "services.web.labels");
    refused(SVC "    deploy: {replicas: 3}\n", 403, "policy_denied", "services.web.deploy.replicas");
    refused(SVC "volumes:\n  v: {driver: nfs}\n", 403, "policy_denied", "volumes.v.driver");
    refused(SVC "volumes:\n  v: {name: other_key_volume}\n", 403, "policy_denied", "volumes.v.name");
    refused(SVC "networks:\n  n: {driver: host}\n", 403, "policy_denied", "networks.n.driver");
    refused(SVC "networks:\n  n: {driver: macvlan}\n", 403, "policy_denied", "networks.n.driver");
    refused(SVC "networks:\n  n: {ipam: {config: [{subnet: 10.0.0.0/8}]}}\n", 403, "policy_denied", "networks.n.ipam");
    refused(SVC "networks:\n  n: {external: true, driver: bridge}\n", 403, "policy_denied", "networks.n.driver");
    refused(SVC "networks:\n  n: {external: true, name: host}\n", 403, "policy_denied", "networks.n");
    refused(SVC "networks:\n  default: {external: {name: none}}\n", 403, "policy_denied", "networks.default");
    refused("services: {}\nfoo: 1\n", 403, "policy_denied", "foo");
    /* malformed */
    refused("services:\n  web: {command: x}\n", 422, "invalid_value", "services.web.image");
    refused(SVC "    volumes: [nosuch:/x]\n", 422, "invalid_value", "services.web.volumes[0]");
    refused(SVC "    networks: [nosuch]\n", 422, "invalid_value", "services.web.networks.nosuch");
    refused(SVC "    depends_on: [nosuch]\n", 422, "invalid_value", "services.web.depends_on[0]");
    refused(SVC "    environment: [NOVALUE]\n", 422, "invalid_value", "services.web.environment[0]");
    refused(SVC "    environment: {NOVALUE: null}\n", 422, "invalid_value", "services.web.environment.NOVALUE");
    refused(SVC "    mem_limit: 1k\n", 422, "invalid_value", "services.web.mem_limit");
    refused(SVC "    tty: maybe\n", 422, "invalid_value", "services.web.tty");
    refused("version: '1'\n" SVC, 422, "invalid_value", "version");
    refused("services: [a, b]\n", 422, "invalid_value", "services");
}
END_TEST

START_TEST(compose_host_paths_in_every_shape)
{
    static const char *const shapes[] = {
        SVC "    volumes:\n      - /:/host\n",
        SVC "    volumes:\n      -\n        /:/host\n",
        SVC "    volumes:\n      - >-\n        /:/host\n",
        SVC "    volumes:\n      - |-\n        /:/host\n",
        SVC "    volumes: [\n      \"/:/host\",\n      \"/etc:/e\"\n    ]\n",
        SVC "    volumes:\n      - type: bind\n        source: /\n        target: /host\n",
        SVC "    volumes:\n      -\n        type: bind\n        source: /etc\n        target: /host\n",
        SVC "    volumes:\n      - {type: bind, source: " ALLOWED "/../../etc, target: /h}\n",
        SVC "    volumes:\n      - \"/var/run/docker.sock:/s\"\n",
        SVC "    volumes:\n      - \"" ALLOWED "/../../../:/h\"\n",
        "x-v: &v /:/host\n" SVC "    volumes: [*v]\n",
        SVC "    volumes:\n      - \"\\x2f:/host\"\n",
        SVC "    volumes:\n      - ? type\n        : bind\n        source: /\n        target: /h\n",
        NULL
    };
    int i;

    for (i = 0; shapes[i]; ++i) {
        refused(shapes[i], 403, "policy_denied", "services.web.volumes");
    }
    refused(SVC "    volumes: ['./data:/data']\n", 403, "policy_denied", "services.web.volumes[0]");
    refused(SVC "    volumes: ['~/x:/x']\n", 403, "policy_denied", "services.web.volumes[0]");
    refused(SVC "    volumes: ['../x:/x']\n", 403, "policy_denied", "services.web.volumes[0]");
    refused(SVC "    volumes: [{type: volume, source: /etc, target: /x}]\n", 422, "invalid_value", "services.web.volumes[0]");
    refused(SVC "    volumes: [{type: npipe, source: x, target: /x}]\n", 403, "policy_denied", "services.web.volumes[0].type");
    refused(SVC "    volumes: [{type: bind, source: " ALLOWED ", target: /x, bind: {propagation: rshared}}]\n",
            403, "policy_denied", "services.web.volumes[0].bind");
    refused(SVC "    volumes: ['" ALLOWED "/x:/x:rshared']\n", 403, "policy_denied", "services.web.volumes[0]");
    refused(SVC "volumes:\n  d:\n    driver_opts: {type: none, o: bind, device: /}\n", 403, "policy_denied",
            "volumes.d.driver_opts");
    refused(SVC "volumes:\n  d:\n    driver_opts:\n      type: none\n      o: bind\n      device: >-\n        /etc\n", 403,
            "policy_denied", "volumes.d.driver_opts");
    /* an allowed host path passes */
    ok(SVC "    volumes: ['" ALLOWED "/data:/data:ro']\n");
}
END_TEST

START_TEST(compose_interpolation)
{
    refused(SVC "    environment: {P: '${DOCKPAY_DB_PASSWORD}'}\n", 422, "interpolation_not_allowed",
            "services.web.environment.P");
    refused(SVC "    command: echo $HOME\n", 422, "interpolation_not_allowed", "services.web.command");
    refused(SVC "    environment: ['A=$$$X']\n", 422, "interpolation_not_allowed", "services.web.environment[0]");
    refused(SVC "    environment: {'$X': v}\n", 422, "interpolation_not_allowed", "services.web.environment.$X");
    refused("services:\n  web:\n    image: '${IMAGE:-busybox}'\n", 422, "interpolation_not_allowed", "services.web.image");
    refused(SVC "    volumes: ['${HOME}:/h']\n", 422, "interpolation_not_allowed", "services.web.volumes[0]");
    /* a literal $ as $$, and x-* fields (dropped) are not looked at */
    ok(SVC "    command: echo $$HOME costs 5$$\n");
    ok("x-note: $anything\n" SVC);
}
END_TEST

START_TEST(compose_clean_dir_keeps_only_the_file)
{
    char tmpl[] = "/tmp/dp-compose-clean-XXXXXX";
    const char *dir;
    apr_dir_t *d;
    apr_finfo_t fi;
    int n = 0;

    ck_assert_ptr_nonnull(mkdtemp(tmpl));
    dir = tmpl;
    ck_assert_int_eq(dp_dk_write_file(NULL, tp, dir, "docker-compose.yml", "{}", 2), APR_SUCCESS);
    ck_assert_int_eq(dp_dk_write_file(NULL, tp, dir, ".env", "X=1\n", 4), APR_SUCCESS);
    ck_assert_int_eq(apr_dir_make(apr_pstrcat(tp, dir, "/sub", NULL), APR_FPROT_UREAD | APR_FPROT_UWRITE
                                  | APR_FPROT_UEXECUTE, tp), APR_SUCCESS);
    ck_assert_int_eq(dp_dk_clean_dir(NULL, tp, dir, "docker-compose.yml"), APR_SUCCESS);
    ck_assert_int_eq(apr_dir_open(&d, dir, tp), APR_SUCCESS);
    while (apr_dir_read(&fi, APR_FINFO_NAME, d) == APR_SUCCESS) {
        if (strcmp(fi.name, ".") && strcmp(fi.name, "..")) {
            ck_assert_str_eq(fi.name, "docker-compose.yml");
            ++n;
        }
    }
    apr_dir_close(d);
    ck_assert_int_eq(n, 1);
    ck_assert_int_eq(dp_dk_clean_dir(NULL, tp, dir, NULL), APR_SUCCESS);
    ck_assert_int_eq(apr_dir_remove(dir, tp), APR_SUCCESS);
    ck_assert_int_eq(dp_dk_clean_dir(NULL, tp, "/nonexistent/dp-compose", NULL), APR_SUCCESS);
}
END_TEST

TCase *tc_docker_compose(void)
{
    TCase *tc = tcase_create("docker_compose");
    tcase_add_unchecked_fixture(tc, allowed_setup, allowed_teardown);
    tcase_add_test(tc, yaml_shapes);
    tcase_add_test(tc, yaml_anchors_and_merges);
    tcase_add_test(tc, yaml_bounds_and_refusals);
    tcase_add_test(tc, compose_normalises_and_stamps);
    tcase_add_test(tc, compose_refused_keys);
    tcase_add_test(tc, compose_host_paths_in_every_shape);
    tcase_add_test(tc, compose_interpolation);
    tcase_add_test(tc, compose_clean_dir_keeps_only_the_file);
    return tc;
}
