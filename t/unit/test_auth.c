/* Unit tests: key file parsing, hashing, scopes, minting. */
#include <string.h>
#include <stdio.h>
#include <unistd.h>
#include "check_dockpay.h"
#include "dp_auth.h"
#include "dp_dk_quota.h"
#include "dp_json.h"

static const char *write_tmp(const char *content)
{
    static char path[64];
    FILE *f;
    snprintf(path, sizeof(path), "/tmp/dp_keys_%d", (int)getpid());
    f = fopen(path, "w");
    fputs(content, f);
    fclose(f);
    return path;
}

START_TEST(sha256_known_vector)
{
    char hex[65];
    dp_sha256_hex(hex, "abc", 3);
    ck_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}
END_TEST

START_TEST(mint_then_lookup)
{
    const char *token, *line, *err;
    dp_keyring_t *kr;
    const dp_key_t *k;
    char content[512];

    ck_assert_int_eq(dp_key_mint(&token, &line, tp, "ci", "docker:read,payments:write", NULL), APR_SUCCESS);
    ck_assert_ptr_null(strstr(line, token));            /* the line never holds the key */
    snprintf(content, sizeof(content), "# keys\n\n%s\n", line);
    ck_assert_int_eq(dp_keyring_load(&kr, &err, tp, write_tmp(content)), APR_SUCCESS);
    ck_assert_int_eq(dp_keyring_count(kr), 1);
    k = dp_keyring_lookup(kr, token, strlen(token));
    ck_assert_ptr_nonnull(k);
    ck_assert_str_eq(k->name, "ci");
    ck_assert(dp_scopes_allow(k->scopes, DP_SCOPE_DOCKER_READ));
    ck_assert(!dp_scopes_allow(k->scopes, DP_SCOPE_DOCKER_WRITE));
    ck_assert_ptr_null(dp_keyring_lookup(kr, "dpk_wrong", 9));
    ck_assert_ptr_null(dp_keyring_lookup(kr, token, strlen(token) - 1));
}
END_TEST

START_TEST(bad_lines_and_scopes)
{
    const char *err;
    dp_keyring_t *kr;
    unsigned s;
    ck_assert_int_eq(dp_keyring_load(&kr, &err, tp, write_tmp("x sha256:abc admin\n")), APR_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "line 1"));
    ck_assert_int_eq(dp_keyring_load(&kr, &err, tp,
        write_tmp("x sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad root\n")), APR_EINVAL);
    ck_assert_int_ne(dp_scopes_parse(&s, "docker:read,bogus"), APR_SUCCESS);
    ck_assert_int_eq(dp_scopes_parse(&s, "admin"), APR_SUCCESS);
    ck_assert(dp_scopes_allow(s, DP_SCOPE_PAYMENTS_WRITE));
    ck_assert_int_ne(dp_keyring_load(&kr, &err, tp, "/nonexistent/keys"), APR_SUCCESS);
}
END_TEST

START_TEST(key_file_quotas)
{
    const char *err, *token, *line;
    dp_keyring_t *kr;
    const dp_key_t *k;
    char content[1024];
    static const char *const h = "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

    /* the old syntax stays valid: no quota given */
    snprintf(content, sizeof(content), "old %s docker:read,docker:write\n", h);
    ck_assert_int_eq(dp_keyring_load(&kr, &err, tp, write_tmp(content)), APR_SUCCESS);
    ck_assert_int_eq(dp_keyring_count(kr), 1);
    /* quotas after the scopes, any order, scopes separated by spaces or commas */
    ck_assert_int_eq(dp_key_mint(&token, &line, tp, "q", "docker:read,docker:write",
                                 "containers=2 memory=256m cpus=1.5 volumes=unlimited"), APR_SUCCESS);
    ck_assert_ptr_nonnull(strstr(line, " containers=2 memory=256m cpus=1.5 volumes=unlimited"));
    snprintf(content, sizeof(content), "%s\nold %s docker:read docker:write\n", line, h);
    ck_assert_int_eq(dp_keyring_load(&kr, &err, tp, write_tmp(content)), APR_SUCCESS);
    k = dp_keyring_lookup(kr, token, strlen(token));
    ck_assert_ptr_nonnull(k);
    ck_assert(dp_scopes_allow(k->scopes, DP_SCOPE_DOCKER_WRITE));
    ck_assert_int_eq(k->quota.containers, 2);
    ck_assert_int_eq(k->quota.memory, 256 * 1024 * 1024);
    ck_assert_int_eq(k->quota.nanocpus, 1500000000);
    ck_assert_int_eq(k->quota.volumes, 0);
    /* bad quota items name the line */
    snprintf(content, sizeof(content), "a %s admin\nb %s docker:read containers=-1\n", h, h);
    ck_assert_int_eq(dp_keyring_load(&kr, &err, tp, write_tmp(content)), APR_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "line 2"));
    snprintf(content, sizeof(content), "b %s docker:read disk=1g\n", h);
    ck_assert_int_eq(dp_keyring_load(&kr, &err, tp, write_tmp(content)), APR_EINVAL);
    snprintf(content, sizeof(content), "b %s containers=2\n", h);   /* quotas alone: no scope */
    ck_assert_int_eq(dp_keyring_load(&kr, &err, tp, write_tmp(content)), APR_EINVAL);
    ck_assert_int_ne(dp_key_mint(&token, &line, tp, "q", "docker:read", "memory=lots"), APR_SUCCESS);
}
END_TEST

START_TEST(quota_items)
{
    dp_quota_t q;

    dp_quota_unset(&q);
    ck_assert_int_eq(q.containers, DP_QUOTA_UNSET);
    ck_assert_int_eq(dp_quota_parse_item(&q, "cpus=0.25"), APR_SUCCESS);
    ck_assert_int_eq(q.nanocpus, 250000000);
    ck_assert_int_eq(dp_quota_parse_item(&q, "cpus=2"), APR_SUCCESS);
    ck_assert_int_eq(q.nanocpus, 2000000000);
    ck_assert_int_eq(dp_quota_parse_item(&q, "memory=1g"), APR_SUCCESS);
    ck_assert_int_eq(q.memory, 1073741824);
    ck_assert_int_eq(dp_quota_parse_item(&q, "volumes=0"), APR_SUCCESS);
    ck_assert_int_eq(q.volumes, 0);
    ck_assert_int_eq(q.containers, DP_QUOTA_UNSET);
    ck_assert_int_ne(dp_quota_parse_item(&q, "cpus=1."), APR_SUCCESS);
    ck_assert_int_ne(dp_quota_parse_item(&q, "cpus=2000"), APR_SUCCESS);
    ck_assert_int_ne(dp_quota_parse_item(&q, "cpus=0.1234567891"), APR_SUCCESS);
    ck_assert_int_ne(dp_quota_parse_item(&q, "containers=1e3"), APR_SUCCESS);
    ck_assert_int_ne(dp_quota_parse_item(&q, "containers="), APR_SUCCESS);
    ck_assert_int_ne(dp_quota_parse_item(&q, "Containers=1"), APR_SUCCESS);
    ck_assert_int_eq(q.nanocpus, 2000000000);   /* a refused item changes nothing */
}
END_TEST

START_TEST(quota_resolve_and_check)
{
    dp_quota_t line, dflt;
    dp_dk_quota_t lim;
    dp_dk_usage_t used = { 2, 100, 0, 1 }, add = { 1, 50, 0, 0 }, vol = { 0, 0, 0, 1 };
    dp_problem_t *prob = NULL;
    json_object *o;

    dp_quota_unset(&line);
    dp_quota_unset(&dflt);
    dflt.containers = 3;
    dflt.volumes = 2;
    line.memory = 120;
    dp_dk_quota_resolve(&lim, &line, &dflt, 0);
    ck_assert_int_eq(lim.containers, 3);
    ck_assert_int_eq(lim.memory, 120);
    ck_assert_int_eq(lim.nanocpus, 0);
    dp_dk_quota_resolve(&lim, &line, &dflt, 1);     /* admin: only its own line */
    ck_assert_int_eq(lim.containers, 0);
    ck_assert_int_eq(lim.memory, 120);
    line.memory = DP_QUOTA_UNSET;
    dp_dk_quota_resolve(&lim, &line, &dflt, 1);
    ck_assert(dp_dk_quota_none(&lim));

    dp_dk_quota_resolve(&lim, &line, &dflt, 0);     /* containers 3, volumes 2 */
    ck_assert_int_eq(dp_dk_quota_check(&prob, tp, &lim, &used, &add), APR_SUCCESS);
    used.containers = 3;
    ck_assert_int_ne(dp_dk_quota_check(&prob, tp, &lim, &used, &add), APR_SUCCESS);
    ck_assert_int_eq(prob->status, 403);
    ck_assert_str_eq(prob->code, "quota_exceeded");
    o = dp_problem_json(tp, prob);
    ck_assert_str_eq(dp_json_get_str(o, "quota"), "containers");
    ck_assert_int_eq(dp_json_get_int(o, "used", -1), 3);
    ck_assert_int_eq(dp_json_get_int(o, "limit", -1), 3);
    ck_assert_ptr_nonnull(strstr(prob->detail, "containers quota is 3"));
    /* volumes: a volume create adds no container */
    ck_assert_int_eq(dp_dk_quota_check(&prob, tp, &lim, &used, &vol), APR_SUCCESS);
    used.volumes = 2;
    ck_assert_int_ne(dp_dk_quota_check(&prob, tp, &lim, &used, &vol), APR_SUCCESS);
    ck_assert_str_eq(dp_json_get_str(dp_problem_json(tp, prob), "quota"), "volumes");
    /* memory: the sum, and a container without a limit exceeds any memory quota */
    lim.containers = 0;
    lim.memory = 150;
    used.memory = 100;
    ck_assert_int_eq(dp_dk_quota_check(&prob, tp, &lim, &used, &add), APR_SUCCESS);
    add.memory = 51;
    ck_assert_int_ne(dp_dk_quota_check(&prob, tp, &lim, &used, &add), APR_SUCCESS);
    o = dp_problem_json(tp, prob);
    ck_assert_str_eq(dp_json_get_str(o, "quota"), "memory");
    ck_assert_int_eq(dp_json_get_int(o, "used", -1), 100);
    ck_assert_int_eq(dp_json_get_int(o, "limit", -1), 150);
    add.memory = 0;
    ck_assert_int_ne(dp_dk_quota_check(&prob, tp, &lim, &used, &add), APR_SUCCESS);
    ck_assert_ptr_nonnull(strstr(prob->detail, "without a memory limit"));
    /* cpus */
    lim.memory = 0;
    lim.nanocpus = 1000000000;
    used.nanocpus = 500000000;
    add.nanocpus = 500000000;
    ck_assert_int_eq(dp_dk_quota_check(&prob, tp, &lim, &used, &add), APR_SUCCESS);
    add.nanocpus = 500000001;
    ck_assert_int_ne(dp_dk_quota_check(&prob, tp, &lim, &used, &add), APR_SUCCESS);
    ck_assert_str_eq(dp_json_get_str(dp_problem_json(tp, prob), "quota"), "cpus");
}
END_TEST

START_TEST(quota_body_usage_and_refs)
{
    dp_dk_usage_t add, used;
    dp_problem_t *prob = NULL;
    apr_array_header_t *nets, *vols, *ctrs;
    json_object *body = dp_json_own(tp, json_tokener_parse(
        "{\"Image\":\"x\",\"HostConfig\":{\"Memory\":1048576,\"NanoCpus\":500000000,"
        "\"NetworkMode\":\"mynet\",\"PidMode\":\"container:other\","
        "\"Binds\":[\"data:/data\",\"/srv/x:/x:ro\"],"
        "\"Mounts\":[{\"Type\":\"volume\",\"Source\":\"v2\",\"Target\":\"/v\"},"
        "{\"Type\":\"volume\",\"Target\":\"/anon\"}]},"
        "\"NetworkingConfig\":{\"EndpointsConfig\":{\"bridge\":{},\"other\":{}}}}"));
    json_object *list = dp_json_own(tp, json_tokener_parse(
        "[{\"Labels\":{\"dockpay.memory\":\"100\",\"dockpay.nanocpus\":\"7\"}},"
        "{\"Labels\":{\"dockpay.memory\":\"-5\"}},{}]"));
    json_object *bad = dp_json_own(tp, json_tokener_parse(
        "{\"HostConfig\":{\"Memory\":1048576,\"memory\":0}}"));

    ck_assert_int_eq(dp_dk_quota_body(&add, &prob, tp, body), APR_SUCCESS);
    ck_assert_int_eq(add.containers, 1);
    ck_assert_int_eq(add.memory, 1048576);
    ck_assert_int_eq(add.nanocpus, 500000000);
    dp_dk_quota_stamp(body, &add);
    ck_assert_str_eq(dp_json_get_str(dp_json_get(body, "Labels"), DP_DK_LABEL_MEMORY), "1048576");
    ck_assert_str_eq(dp_json_get_str(dp_json_get(body, "Labels"), DP_DK_LABEL_NANOCPUS), "500000000");
    ck_assert_int_ne(dp_dk_quota_body(&add, &prob, tp, bad), APR_SUCCESS);   /* Memory and memory */
    ck_assert_int_eq(prob->status, 400);
    memset(&used, 0, sizeof(used));
    dp_dk_usage_add_containers(&used, list);
    ck_assert_int_eq(used.containers, 3);
    ck_assert_int_eq(used.memory, 100);
    ck_assert_int_eq(used.nanocpus, 7);

    dp_dk_create_refs(&nets, &vols, &ctrs, tp, body);
    ck_assert_int_eq(nets->nelts, 2);
    ck_assert_str_eq(APR_ARRAY_IDX(nets, 0, dp_dk_objref_t).name, "mynet");
    ck_assert_str_eq(APR_ARRAY_IDX(nets, 0, dp_dk_objref_t).field, "HostConfig.NetworkMode");
    ck_assert_str_eq(APR_ARRAY_IDX(nets, 1, dp_dk_objref_t).name, "other");
    ck_assert_int_eq(vols->nelts, 2);
    ck_assert_str_eq(APR_ARRAY_IDX(vols, 0, dp_dk_objref_t).name, "data");
    ck_assert_str_eq(APR_ARRAY_IDX(vols, 1, dp_dk_objref_t).name, "v2");
    ck_assert_int_eq(ctrs->nelts, 1);
    ck_assert_str_eq(APR_ARRAY_IDX(ctrs, 0, dp_dk_objref_t).name, "other");

    /* Docker reads every spelling and merges them: so are the references */
    dp_dk_create_refs(&nets, &vols, &ctrs, tp, dp_json_own(tp, json_tokener_parse(
        "{\"NetworkingConfig\":{\"EndpointsConfig\":{\"foreign\":{}}},"
        "\"networkingconfig\":{\"endpointsConfig\":{\"own\":{}}},"
        "\"HostConfig\":{\"binds\":[\"v:/x\"],\"networkmode\":\"n2\",\"Links\":[\"/db:db\"],"
        "\"VolumesFrom\":[\"data:ro\"]}}")));
    ck_assert_int_eq(nets->nelts, 3);
    ck_assert_str_eq(APR_ARRAY_IDX(nets, 0, dp_dk_objref_t).name, "foreign");
    ck_assert_str_eq(APR_ARRAY_IDX(nets, 1, dp_dk_objref_t).name, "own");
    ck_assert_str_eq(APR_ARRAY_IDX(nets, 2, dp_dk_objref_t).name, "n2");
    ck_assert_int_eq(vols->nelts, 1);
    ck_assert_int_eq(ctrs->nelts, 2);
    ck_assert_str_eq(APR_ARRAY_IDX(ctrs, 0, dp_dk_objref_t).name, "db");
    ck_assert_str_eq(APR_ARRAY_IDX(ctrs, 0, dp_dk_objref_t).field, "HostConfig.Links");
    ck_assert_str_eq(APR_ARRAY_IDX(ctrs, 1, dp_dk_objref_t).name, "data");
    dp_dk_create_refs(&nets, &vols, &ctrs, tp, dp_json_own(tp, json_tokener_parse(
        "{\"HostConfig\":{\"NetworkMode\":\"bridge\"},\"NetworkingConfig\":{\"EndpointsConfig\":"
        "{\"bridge\":{},\"host\":{}}}}")));
    ck_assert_int_eq(nets->nelts, 1);             /* the defaults need no owner; joining host does */
    ck_assert_str_eq(APR_ARRAY_IDX(nets, 0, dp_dk_objref_t).name, "host");

    ck_assert(dp_dk_owned(dp_json_own(tp, json_tokener_parse("{\"dockpay.key\":\"a\"}")), "a"));
    ck_assert(!dp_dk_owned(dp_json_own(tp, json_tokener_parse("{\"dockpay.key\":\"a\"}")), "ab"));
    ck_assert(!dp_dk_owned(NULL, "a"));
    ck_assert(!dp_dk_owned(dp_json_own(tp, json_tokener_parse("{\"dockpay.key\":\"\"}")), ""));
}
END_TEST

/* Auth test case. */
TCase *tc_auth(void)
{
    TCase *tc = tcase_create("auth");
    tcase_add_test(tc, sha256_known_vector);
    tcase_add_test(tc, mint_then_lookup);
    tcase_add_test(tc, bad_lines_and_scopes);
    tcase_add_test(tc, key_file_quotas);
    tcase_add_test(tc, quota_items);
    tcase_add_test(tc, quota_resolve_and_check);
    tcase_add_test(tc, quota_body_usage_and_refs);
    return tc;
}
