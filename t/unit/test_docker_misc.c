/* Unit tests: compose grouping, status summary, project names, the
 * command runner, and the image/network checks. */
#define _POSIX_C_SOURCE 200809L
#include <string.h>
#include <stdlib.h>
#include <unistd.h>
#include <apr_strings.h>
#include <apr_base64.h>
#include <apr_file_info.h>
#include <apr_file_io.h>

#include "check_dockpay.h"
#include "dp_dk_compose.h"
#include "dp_dk_misc.h"
#include "dp_json.h"
#include "dp_dk_ops.h"

static const char containers[] =
    "[{\"Id\":\"c1\",\"Names\":[\"/web_app_1\"],\"State\":\"running\",\"Labels\":{"
    "\"com.docker.compose.project\":\"web\",\"com.docker.compose.service\":\"app\","
    "\"com.docker.compose.container-number\":\"1\",\"com.docker.compose.oneoff\":\"False\","
    "\"com.docker.compose.project.working_dir\":\"/srv/web\","
    "\"com.docker.compose.project.config_files\":\"/srv/web/a.yml,/srv/web/b.yml\"}},"
    "{\"Id\":\"c2\",\"Names\":[\"/web_db_1\"],\"State\":\"exited\",\"Labels\":{"
    "\"com.docker.compose.project\":\"web\",\"com.docker.compose.service\":\"db\","
    "\"com.docker.compose.container-number\":\"1\",\"com.docker.compose.oneoff\":\"False\"}},"
    "{\"Id\":\"c3\",\"Names\":[\"/web_app_2\"],\"State\":\"running\",\"Labels\":{"
    "\"com.docker.compose.project\":\"web\",\"com.docker.compose.service\":\"app\","
    "\"com.docker.compose.container-number\":\"2\",\"com.docker.compose.oneoff\":\"False\"}},"
    "{\"Id\":\"c4\",\"Names\":[\"/web_app_run_1\"],\"State\":\"running\",\"Labels\":{"
    "\"com.docker.compose.project\":\"web\",\"com.docker.compose.service\":\"app\","
    "\"com.docker.compose.oneoff\":\"True\"}},"
    "{\"Id\":\"c5\",\"Names\":[\"/alpha_x_1\"],\"State\":\"created\",\"Labels\":{"
    "\"com.docker.compose.project\":\"alpha\",\"com.docker.compose.service\":\"x\"}},"
    "{\"Id\":\"c6\",\"Names\":[\"/plain\"],\"State\":\"running\",\"Labels\":{}}]";

static json_object *canned(void)
{
    json_object *a = NULL;
    ck_assert_int_eq(dp_json_parse(&a, NULL, tp, containers, strlen(containers)), APR_SUCCESS);
    return a;
}

START_TEST(compose_groups_projects_from_labels)
{
    json_object *g = dp_dk_compose_group(tp, canned()), *web, *svcs, *files;

    ck_assert_int_eq((int)json_object_array_length(g), 2);
    ck_assert_str_eq(dp_json_get_str(json_object_array_get_idx(g, 0), "name"), "alpha");
    ck_assert_str_eq(dp_json_get_str(json_object_array_get_idx(g, 0), "status"), "created(1)");
    web = json_object_array_get_idx(g, 1);
    ck_assert_str_eq(dp_json_get_str(web, "name"), "web");
    ck_assert_str_eq(dp_json_get_str(web, "status"), "exited(1), running(2)");
    ck_assert_int_eq(dp_json_get_int(web, "container_count", 0), 3);  /* the one-off is skipped */
    ck_assert_str_eq(dp_json_get_str(web, "working_dir"), "/srv/web");
    svcs = dp_json_get(web, "services");
    ck_assert_int_eq((int)json_object_array_length(svcs), 2);
    ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(svcs, 0)), "app");
    ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(svcs, 1)), "db");
    files = dp_json_get(web, "config_files");
    ck_assert_int_eq((int)json_object_array_length(files), 2);
    ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(files, 1)), "/srv/web/b.yml");
}
END_TEST

START_TEST(compose_status_summary_and_order)
{
    json_object *a = canned(), *o;

    ck_assert_str_eq(dp_dk_compose_status(tp, a), "created(1), exited(1), running(4)");
    ck_assert_str_eq(dp_dk_compose_status(tp, dp_json_array(tp)), "");
    o = dp_dk_compose_order(tp, a, 0);
    ck_assert_int_eq((int)json_object_array_length(o), 6);
    /* services "" < "app" < "db" < "x"; app by number: run container (0), 1, 2 */
    ck_assert_str_eq(dp_json_get_str(json_object_array_get_idx(o, 0), "Id"), "c6");
    ck_assert_str_eq(dp_json_get_str(json_object_array_get_idx(o, 1), "Id"), "c4");
    ck_assert_str_eq(dp_json_get_str(json_object_array_get_idx(o, 2), "Id"), "c1");
    ck_assert_str_eq(dp_json_get_str(json_object_array_get_idx(o, 3), "Id"), "c3");
    o = dp_dk_compose_order(tp, a, 1);
    ck_assert_str_eq(dp_json_get_str(json_object_array_get_idx(o, 0), "Id"), "c5");
    ck_assert_str_eq(dp_json_get_str(json_object_array_get_idx(o, 5), "Id"), "c6");
}
END_TEST

START_TEST(compose_project_names)
{
    ck_assert(dp_dk_compose_name_ok("web"));
    ck_assert(dp_dk_compose_name_ok("0a_b-c"));
    ck_assert(dp_dk_compose_name_ok("a23456789012345678901234567890123456789012345678901234567890123"));
    ck_assert(!dp_dk_compose_name_ok("a234567890123456789012345678901234567890123456789012345678901234"));
    ck_assert(!dp_dk_compose_name_ok(""));
    ck_assert(!dp_dk_compose_name_ok("Web"));
    ck_assert(!dp_dk_compose_name_ok("_web"));
    ck_assert(!dp_dk_compose_name_ok("-web"));
    ck_assert(!dp_dk_compose_name_ok("we.b"));
    ck_assert(!dp_dk_compose_name_ok("../x"));
    ck_assert(!dp_dk_compose_name_ok("a b"));
}
END_TEST

START_TEST(compose_argv_split)
{
    const char *const args[] = { "-p", "web", "up", "-d", NULL };
    const char **v = dp_dk_compose_argv(tp, "docker compose", args);

    ck_assert_str_eq(v[0], "docker");
    ck_assert_str_eq(v[1], "compose");
    ck_assert_str_eq(v[2], "-p");
    ck_assert_str_eq(v[5], "-d");
    ck_assert_ptr_null(v[6]);
    v = dp_dk_compose_argv(tp, "docker-compose", args);
    ck_assert_str_eq(v[0], "docker-compose");
    ck_assert_str_eq(v[1], "-p");
}
END_TEST

START_TEST(run_captures_output_and_exit)
{
    const char *const argv[] = { "sh", "-c", "echo out; echo err >&2; echo $DOCKER_HOST; exit 3", NULL };
    const char *const env[] = { "PATH=/usr/bin:/bin", "DOCKER_HOST=unix:///x.sock", NULL };
    dp_dk_run_t res;
    dp_problem_t *prob = NULL;

    ck_assert_int_eq(dp_dk_run(&res, &prob, tp, argv, env, "/", 10, 1024), APR_SUCCESS);
    ck_assert_int_eq(res.exit_code, 3);
    ck_assert_int_eq(res.timed_out, 0);
    ck_assert_ptr_nonnull(strstr(res.output, "out\n"));
    ck_assert_ptr_nonnull(strstr(res.output, "err\n"));
    ck_assert_msg(strstr(res.output, "unix:///x.sock") != NULL, "output: %s", res.output);
}
END_TEST

START_TEST(run_caps_output)
{
    const char *const argv[] = { "sh", "-c", "i=0; while [ $i -lt 300 ]; do echo 0123456789; i=$((i+1)); done", NULL };
    const char *const env[] = { "PATH=/usr/bin:/bin", NULL };
    dp_dk_run_t res;

    ck_assert_int_eq(dp_dk_run(&res, NULL, tp, argv, env, "/", 10, 100), APR_SUCCESS);
    ck_assert_int_eq(res.exit_code, 0);
    ck_assert_int_eq((int)res.output_len, 100);
    ck_assert_int_eq(res.output_truncated, 1);
}
END_TEST

START_TEST(run_kills_the_group_at_the_limit)
{
    /* the grandchild sleeps too: killing only the direct child would leave it holding the pipe */
    const char *const argv[] = { "sh", "-c", "echo started; sleep 30 & sleep 30; echo never", NULL };
    const char *const env[] = { "PATH=/usr/bin:/bin", NULL };
    dp_dk_run_t res;
    apr_time_t t0 = apr_time_now();

    ck_assert_int_eq(dp_dk_run(&res, NULL, tp, argv, env, "/", 1, 1024), APR_SUCCESS);
    ck_assert_int_eq(res.timed_out, 1);
    ck_assert(apr_time_now() - t0 < apr_time_from_sec(8));
    ck_assert_ptr_nonnull(strstr(res.output, "started"));
    ck_assert_ptr_null(strstr(res.output, "never"));
}
END_TEST

START_TEST(run_missing_program_is_a_problem)
{
    const char *const argv[] = { "no-such-compose-binary", NULL };
    const char *const env[] = { "PATH=/usr/bin:/bin", NULL };
    dp_dk_run_t res;
    dp_problem_t *prob = NULL;

    ck_assert_int_eq(dp_dk_run(&res, &prob, tp, argv, env, "/", 1, 1024), DP_EPROBLEM);
    ck_assert_int_eq(prob->status, 503);
}
END_TEST

START_TEST(write_file_is_atomic_and_private)
{
    char tmpl[] = "/tmp/dp-compose-XXXXXX";
    const char *dir, *f;
    apr_finfo_t fi;

    ck_assert_ptr_nonnull(mkdtemp(tmpl));
    dir = apr_pstrcat(tp, tmpl, "/proj/sub", NULL);
    ck_assert_int_eq(dp_dk_write_file(NULL, tp, dir, "docker-compose.yml", "a: 1\n", 5), APR_SUCCESS);
    ck_assert_int_eq(dp_dk_write_file(NULL, tp, dir, "docker-compose.yml", "b: 2\n", 5), APR_SUCCESS);
    f = apr_pstrcat(tp, dir, "/docker-compose.yml", NULL);
    ck_assert_int_eq(apr_stat(&fi, f, APR_FINFO_SIZE | APR_FINFO_PROT, tp), APR_SUCCESS);
    ck_assert_int_eq((int)fi.size, 5);
    ck_assert_int_eq(fi.protection & APR_FPROT_WREAD, 0);
    apr_file_remove(f, tp);
    apr_dir_remove(dir, tp);
    apr_dir_remove(apr_pstrcat(tp, tmpl, "/proj", NULL), tp);
    apr_dir_remove(tmpl, tp);
}
END_TEST

START_TEST(image_refs)
{
    ck_assert(dp_dk_image_ref_ok("redis"));
    ck_assert(dp_dk_image_ref_ok("local/busybox:test"));
    ck_assert(dp_dk_image_ref_ok("localhost:5000/dp/bb:1"));
    ck_assert(dp_dk_image_ref_ok("redis@sha256:0123abcd"));
    ck_assert(dp_dk_image_ref_ok("sha256:0123abcd"));
    ck_assert(!dp_dk_image_ref_ok(""));
    ck_assert(!dp_dk_image_ref_ok("/etc"));
    ck_assert(!dp_dk_image_ref_ok("a/../b"));
    ck_assert(!dp_dk_image_ref_ok("a b"));
    ck_assert(!dp_dk_image_ref_ok("a?b"));
    ck_assert(!dp_dk_image_ref_ok("a/"));
    ck_assert(dp_dk_ref_has_tag("redis:7"));
    ck_assert(dp_dk_ref_has_tag("localhost:5000/x:1"));
    ck_assert(dp_dk_ref_has_tag("x@sha256:00"));
    ck_assert(!dp_dk_ref_has_tag("redis"));
    ck_assert(!dp_dk_ref_has_tag("localhost:5000/x"));
    ck_assert_str_eq(dp_dk_ref_encode(tp, "localhost:5000/dp/bb:1"), "localhost:5000/dp/bb:1");
    ck_assert_str_eq(dp_dk_ref_encode(tp, "a+b"), "a%2Bb");
}
END_TEST

START_TEST(names_addresses_and_events)
{
    ck_assert(dp_dk_name_ok("my-net_1.x"));
    ck_assert(!dp_dk_name_ok("-x"));
    ck_assert(!dp_dk_name_ok("a/b"));
    ck_assert(dp_dk_ip_ok("10.1.2.3", NULL));
    ck_assert(dp_dk_ip_ok("fd00::1", NULL));
    ck_assert(!dp_dk_ip_ok("10.1.2", NULL));
    ck_assert(dp_dk_cidr_ok("10.9.0.0/16", NULL));
    ck_assert(dp_dk_cidr_ok("fd00:1::/64", NULL));
    ck_assert(!dp_dk_cidr_ok("10.9.0.0/33", NULL));
    ck_assert(!dp_dk_cidr_ok("10.9.0.0", NULL));
    ck_assert(!dp_dk_cidr_ok("10.9.0.0/", NULL));
    ck_assert(!dp_dk_cidr_ok("10.9.0.0/-1", NULL));
    ck_assert(dp_dk_event_type_ok("container"));
    ck_assert(!dp_dk_event_type_ok("bogus"));
    ck_assert(dp_dk_event_time_ok("1700000000.5"));
    ck_assert(dp_dk_event_time_ok("2024-01-02T03:04:05Z"));
    ck_assert(!dp_dk_event_time_ok("1 2"));
}
END_TEST

START_TEST(registry_auth_is_base64url_json)
{
    const char *h = dp_dk_registry_auth(tp, "u", "p?>~", "localhost:5000");
    char *dec = apr_palloc(tp, 256), *s;
    json_object *o;
    int n;

    ck_assert_ptr_null(strpbrk(h, "+/\r\n"));
    s = apr_pstrdup(tp, h);
    for (n = 0; s[n]; ++n) {
        if (s[n] == '-') s[n] = '+';
        else if (s[n] == '_') s[n] = '/';
    }
    n = apr_base64_decode(dec, s);
    ck_assert_int_eq(dp_json_parse(&o, NULL, tp, dec, (apr_size_t)n), APR_SUCCESS);
    ck_assert_str_eq(dp_json_get_str(o, "password"), "p?>~");
    ck_assert_str_eq(dp_json_get_str(o, "serveraddress"), "localhost:5000");
}
END_TEST

START_TEST(ops_string_maps_query_fields_and_404_names)
{
    json_object *body = NULL, *out = (json_object *)1;
    dp_problem_t *prob = NULL;
    apr_table_t *query = apr_table_make(tp, 4);
    apr_int64_t n = 0;
    int v = -1;
    const char *s = "{\"labels\":{\"a\":\"1\"},\"bad\":{\"a\":1},\"list\":[\"a\"],"
                    "\"res\":{\"com.docker.compose.project\":\"x\"}}";

    ck_assert_int_eq(dp_json_parse(&body, NULL, tp, s, strlen(s)), APR_SUCCESS);
    /* an object of strings is read; absent is NULL; wrong types are 400 naming the member */
    ck_assert_int_eq(dp_dk_field_strmap(&out, &prob, tp, body, "labels", 1), APR_SUCCESS);
    ck_assert_str_eq(dp_json_get_str(out, "a"), "1");
    ck_assert_int_eq(dp_dk_field_strmap(&out, &prob, tp, body, "none", 1), APR_SUCCESS);
    ck_assert_ptr_null(out);
    ck_assert_int_ne(dp_dk_field_strmap(&out, &prob, tp, body, "bad", 0), APR_SUCCESS);
    ck_assert_int_eq(prob->status, 400);
    ck_assert_str_eq(prob->detail, "the field 'bad.a' must be a string");
    ck_assert_int_ne(dp_dk_field_strmap(&out, &prob, tp, body, "list", 0), APR_SUCCESS);
    ck_assert_int_eq(prob->status, 400);
    /* Compose's labels are refused only where asked */
    ck_assert_int_ne(dp_dk_field_strmap(&out, &prob, tp, body, "res", 1), APR_SUCCESS);
    ck_assert_int_eq(prob->status, 403);
    ck_assert_str_eq(prob->code, "policy_denied");
    ck_assert_int_eq(dp_dk_field_strmap(&out, &prob, tp, body, "res", 0), APR_SUCCESS);

    /* query readers: absent is the default, "?x" alone is true, junk is 400 bad_query */
    apr_table_setn(query, "force", "");
    apr_table_setn(query, "all", "nope");
    apr_table_setn(query, "t", "4000");
    ck_assert_int_eq(dp_query_field_bool(&v, &prob, tp, query, "missing", 7), APR_SUCCESS);
    ck_assert_int_eq(v, 7);
    ck_assert_int_eq(dp_query_field_bool(&v, &prob, tp, query, "force", 0), APR_SUCCESS);
    ck_assert_int_eq(v, 1);
    ck_assert_int_ne(dp_query_field_bool(&v, &prob, tp, query, "all", 0), APR_SUCCESS);
    ck_assert_str_eq(prob->code, "bad_query");
    ck_assert_int_ne(dp_query_field_int(&n, &prob, tp, query, "t", -1, 0, 3600), APR_SUCCESS);
    ck_assert_int_eq(prob->status, 400);

    /* 404 names: Docker's generic one always, another 404 code only when asked */
    prob = dp_problem_make(tp, 404, "not_found", "x");
    ck_assert_str_eq(dp_dk_not_found(prob, "volume_not_found", 0)->code, "volume_not_found");
    ck_assert_str_eq(dp_dk_not_found(prob, "image_not_found", 0)->code, "volume_not_found");
    ck_assert_str_eq(dp_dk_not_found(prob, "image_not_found", 1)->code, "image_not_found");
    prob = dp_problem_make(tp, 409, "conflict", "x");
    ck_assert_str_eq(dp_dk_not_found(prob, "image_not_found", 1)->code, "conflict");
    ck_assert_ptr_null(dp_dk_not_found(NULL, "image_not_found", 1));
}
END_TEST

/* Docker misc test case. */
TCase *tc_docker_misc(void)
{
    TCase *tc = tcase_create("docker_misc");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, compose_groups_projects_from_labels);
    tcase_add_test(tc, compose_status_summary_and_order);
    tcase_add_test(tc, compose_project_names);
    tcase_add_test(tc, compose_argv_split);
    tcase_add_test(tc, run_captures_output_and_exit);
    tcase_add_test(tc, run_caps_output);
    tcase_add_test(tc, run_kills_the_group_at_the_limit);
    tcase_add_test(tc, run_missing_program_is_a_problem);
    tcase_add_test(tc, write_file_is_atomic_and_private);
    tcase_add_test(tc, image_refs);
    tcase_add_test(tc, names_addresses_and_events);
    tcase_add_test(tc, registry_auth_is_base64url_json);
    tcase_add_test(tc, ops_string_maps_query_fields_and_404_names);
    return tc;
}
