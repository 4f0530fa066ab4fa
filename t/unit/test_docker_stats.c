/* Unit tests: stats summary as the docker CLI computes it (cgroup v1, v2, zero deltas). */
#include <string.h>
#include "check_dockpay.h"
#include "dp_dk_stats.h"
#include "dp_json.h"

static json_object *parse(const char *s)
{
    json_object *o = NULL;
    ck_assert_int_eq(dp_json_parse(&o, NULL, tp, s, strlen(s)), APR_SUCCESS);
    return o;
}

/* A cgroup v1 sample (shape of Engine 20.10 on a v1 host). */
static const char *v1 =
    "{\"read\":\"2024-01-01T00:00:02Z\",\"pids_stats\":{\"current\":3},"
    "\"networks\":{\"eth0\":{\"rx_bytes\":1000,\"tx_bytes\":200},\"eth1\":{\"rx_bytes\":24,\"tx_bytes\":6}},"
    "\"blkio_stats\":{\"io_service_bytes_recursive\":["
    "{\"major\":8,\"minor\":0,\"op\":\"Read\",\"value\":4096},{\"major\":8,\"minor\":0,\"op\":\"Write\",\"value\":8192},"
    "{\"major\":8,\"minor\":16,\"op\":\"Read\",\"value\":4096},{\"major\":8,\"minor\":0,\"op\":\"Sync\",\"value\":1},"
    "{\"major\":8,\"minor\":0,\"op\":\"Total\",\"value\":12288}]},"
    "\"cpu_stats\":{\"cpu_usage\":{\"total_usage\":300000000,\"percpu_usage\":[1,2,3,4]},"
    "\"system_cpu_usage\":20000000000},"
    "\"precpu_stats\":{\"cpu_usage\":{\"total_usage\":100000000,\"percpu_usage\":[1,2,3,4]},"
    "\"system_cpu_usage\":18000000000},"
    "\"memory_stats\":{\"usage\":104857600,\"limit\":1073741824,"
    "\"stats\":{\"cache\":50000000,\"total_inactive_file\":4857600,\"inactive_file\":1}}}";

START_TEST(stats_cgroup_v1)
{
    dp_dk_summary_t s;
    json_object *j;

    dp_dk_stats_summarise(&s, parse(v1));
    /* (2e8 / 2e9) × 4 CPUs (from percpu_usage, online_cpus absent) × 100 = 40 */
    ck_assert_double_eq_tol(s.cpu_percent, 40.0, 1e-9);
    ck_assert_double_eq(s.memory_usage, 100000000.0);              /* usage − total_inactive_file */
    ck_assert_double_eq(s.memory_limit, 1073741824.0);
    ck_assert_double_eq_tol(s.memory_percent, 100000000.0 / 1073741824.0 * 100, 1e-9);
    ck_assert_double_eq(s.net_rx, 1024.0);
    ck_assert_double_eq(s.net_tx, 206.0);
    ck_assert_double_eq(s.block_read, 8192.0);
    ck_assert_double_eq(s.block_write, 8192.0);
    ck_assert_double_eq(s.pids, 3.0);
    j = dp_dk_stats_json(tp, &s);
    ck_assert_int_eq(dp_json_get_int(j, "memory_usage", 0), 100000000);
    ck_assert_double_eq_tol(json_object_get_double(dp_json_get(j, "cpu_percent")), 40.0, 1e-9);
    ck_assert_double_eq_tol(json_object_get_double(dp_json_get(j, "memory_percent")), 9.31, 1e-9);
    ck_assert_int_eq(dp_json_get_int(j, "pids", -1), 3);
}
END_TEST

START_TEST(stats_cgroup_v1_cache_fallback)
{
    dp_dk_summary_t s;

    dp_dk_stats_summarise(&s, parse("{\"memory_stats\":{\"usage\":1000,\"limit\":4000,"
                                     "\"stats\":{\"cache\":250}}}"));
    ck_assert_double_eq(s.memory_usage, 750.0);
    ck_assert_double_eq_tol(s.memory_percent, 18.75, 1e-9);
}
END_TEST

/* A cgroup v2 sample: online_cpus given, no percpu_usage, lowercase blkio ops. */
START_TEST(stats_cgroup_v2)
{
    dp_dk_summary_t s;

    dp_dk_stats_summarise(&s, parse(
        "{\"pids_stats\":{\"current\":1,\"limit\":4194304},"
        "\"blkio_stats\":{\"io_service_bytes_recursive\":[{\"major\":254,\"minor\":0,\"op\":\"read\",\"value\":700},"
        "{\"major\":254,\"minor\":0,\"op\":\"write\",\"value\":300}]},"
        "\"cpu_stats\":{\"cpu_usage\":{\"total_usage\":5000000},\"system_cpu_usage\":4000000000,\"online_cpus\":2},"
        "\"precpu_stats\":{\"cpu_usage\":{\"total_usage\":3000000},\"system_cpu_usage\":2000000000,\"online_cpus\":2},"
        "\"memory_stats\":{\"usage\":2000000,\"limit\":8000000,\"stats\":{\"inactive_file\":400000,\"file\":900000}}}"));
    ck_assert_double_eq_tol(s.cpu_percent, 0.2, 1e-9);       /* 2e6/2e9 × 2 × 100 */
    ck_assert_double_eq(s.memory_usage, 1600000.0);
    ck_assert_double_eq_tol(s.memory_percent, 20.0, 1e-9);
    ck_assert_double_eq(s.block_read, 700.0);
    ck_assert_double_eq(s.block_write, 300.0);
    ck_assert_double_eq(s.net_rx, 0.0);
    ck_assert_double_eq(s.pids, 1.0);
}
END_TEST

/* A stopped container: empty objects, zero deltas, no limit — zeros, no division by zero. */
START_TEST(stats_stopped_container_gives_zeros)
{
    dp_dk_summary_t s;
    json_object *j;

    dp_dk_stats_summarise(&s, parse(
        "{\"read\":\"0001-01-01T00:00:00Z\",\"pids_stats\":{},\"blkio_stats\":{\"io_service_bytes_recursive\":null},"
        "\"cpu_stats\":{\"cpu_usage\":{\"total_usage\":0},\"throttling_data\":{}},"
        "\"precpu_stats\":{\"cpu_usage\":{\"total_usage\":0}},\"memory_stats\":{}}"));
    ck_assert_double_eq(s.cpu_percent, 0.0);
    ck_assert_double_eq(s.memory_usage, 0.0);
    ck_assert_double_eq(s.memory_percent, 0.0);
    ck_assert_double_eq(s.block_read, 0.0);
    j = dp_dk_stats_json(tp, &s);
    ck_assert_int_eq(dp_json_get_int(j, "memory_limit", -1), 0);
    ck_assert_double_eq(json_object_get_double(dp_json_get(j, "cpu_percent")), 0.0);
}
END_TEST

/* The CLI reports 0 unless both deltas are positive, and never a negative memory use. */
START_TEST(stats_negative_deltas_and_big_cache)
{
    dp_dk_summary_t s;

    dp_dk_stats_summarise(&s, parse(
        "{\"cpu_stats\":{\"cpu_usage\":{\"total_usage\":100},\"system_cpu_usage\":100,\"online_cpus\":1},"
        "\"precpu_stats\":{\"cpu_usage\":{\"total_usage\":200},\"system_cpu_usage\":50},"
        "\"memory_stats\":{\"usage\":100,\"limit\":0,\"stats\":{\"total_inactive_file\":500}}}"));
    ck_assert_double_eq(s.cpu_percent, 0.0);
    ck_assert_double_eq(s.memory_usage, 100.0);
    ck_assert_double_eq(s.memory_percent, 0.0);
    dp_dk_stats_summarise(&s, parse("{}"));
    ck_assert_double_eq(s.cpu_percent, 0.0);
}
END_TEST

START_TEST(stats_uint64_counters)
{
    dp_dk_summary_t s;

    dp_dk_stats_summarise(&s, parse(
        "{\"cpu_stats\":{\"cpu_usage\":{\"total_usage\":18446744073709551000},\"system_cpu_usage\":18446744073709551000,"
        "\"online_cpus\":1},\"precpu_stats\":{\"cpu_usage\":{\"total_usage\":18446744073709550000},"
        "\"system_cpu_usage\":18446744073709541000}}"));
    ck_assert(s.cpu_percent >= 0.0 && s.cpu_percent <= 100.0);
}
END_TEST

/* Stats test case. */
TCase *tc_docker_stats(void)
{
    TCase *tc = tcase_create("docker_stats");
    tcase_add_test(tc, stats_cgroup_v1);
    tcase_add_test(tc, stats_cgroup_v1_cache_fallback);
    tcase_add_test(tc, stats_cgroup_v2);
    tcase_add_test(tc, stats_stopped_container_gives_zeros);
    tcase_add_test(tc, stats_negative_deltas_and_big_cache);
    tcase_add_test(tc, stats_uint64_counters);
    return tc;
}
