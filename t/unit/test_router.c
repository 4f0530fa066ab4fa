/* Unit tests: routing with parameters, greedy tails, 404 and 405. */
#include <string.h>
#include "check_dockpay.h"
#include "dp_router.h"
#include "dp_routes.h"

static const dp_route_t *m(const char *method, const char *path, apr_table_t **params,
                           apr_status_t *prv, const char **allow)
{
    const dp_route_t *rt = NULL;
    *prv = dp_router_match(&rt, params, allow, dp_routes, dp_routes_count, tp, method, path);
    return rt;
}

START_TEST(matches_params_and_literals_first)
{
    apr_table_t *p;
    apr_status_t rv;
    const dp_route_t *rt = m("GET", "/containers/abc/logs", &p, &rv, NULL);
    ck_assert_int_eq(rv, APR_SUCCESS);
    ck_assert_str_eq(rt->id, "containers.logs");
    ck_assert_str_eq(apr_table_get(p, "id"), "abc");
    rt = m("POST", "/images/pull", &p, &rv, NULL);
    ck_assert_str_eq(rt->id, "images.pull");
    rt = m("GET", "/payments/find/order-1", &p, &rv, NULL);
    ck_assert_str_eq(rt->id, "payments.find");
    ck_assert_str_eq(apr_table_get(p, "merchant_uid"), "order-1");
}
END_TEST

START_TEST(greedy_tail_takes_slashes_and_colons)
{
    apr_table_t *p;
    apr_status_t rv;
    const dp_route_t *rt = m("GET", "/images/localhost:5000/team/app:1.2", &p, &rv, NULL);
    ck_assert_int_eq(rv, APR_SUCCESS);
    ck_assert_str_eq(rt->id, "images.inspect");
    ck_assert_str_eq(apr_table_get(p, "name"), "localhost:5000/team/app:1.2");
    rt = m("DELETE", "/images/busybox:latest", &p, &rv, NULL);
    ck_assert_str_eq(rt->id, "images.delete");
    rt = m("GET", "/images/localhost%3A5000%2Fteam%2Fapp", &p, &rv, NULL);
    ck_assert_str_eq(rt->id, "images.inspect");
    ck_assert_str_eq(apr_table_get(p, "name"), "localhost%3A5000/team/app");
    rt = m("GET", "/containers/..%2F..%2Fetc", &p, &rv, NULL);
    ck_assert_str_eq(rt->id, "containers.inspect");
    ck_assert_str_eq(apr_table_get(p, "id"), "../../etc");
    m("GET", "/images/x/", &p, &rv, NULL);
    ck_assert_int_eq(rv, APR_NOTFOUND);
}
END_TEST

START_TEST(not_found_and_method_not_allowed)
{
    apr_table_t *p;
    apr_status_t rv;
    const char *allow = NULL;
    m("GET", "/nope", &p, &rv, &allow);
    ck_assert_int_eq(rv, APR_NOTFOUND);
    m("GET", "/containers/x/start", &p, &rv, &allow);
    ck_assert_int_eq(rv, DP_EMETHOD);
    ck_assert_str_eq(allow, "POST");
    m("PUT", "/containers", &p, &rv, &allow);
    ck_assert_int_eq(rv, DP_EMETHOD);
    ck_assert_ptr_nonnull(strstr(allow, "GET"));
    ck_assert_ptr_nonnull(strstr(allow, "POST"));
    ck_assert_ptr_nonnull(strstr(allow, "HEAD"));
    m("GET", "/containers//logs", &p, &rv, &allow);
    ck_assert_int_eq(rv, APR_NOTFOUND);
    m("GET", "", &p, &rv, &allow);
    ck_assert_int_eq(rv, APR_NOTFOUND);
}
END_TEST

START_TEST(head_uses_get_routes)
{
    apr_table_t *p;
    apr_status_t rv;
    const dp_route_t *rt = m("HEAD", "/health", &p, &rv, NULL);
    ck_assert_int_eq(rv, APR_SUCCESS);
    ck_assert_str_eq(rt->id, "health");
}
END_TEST

START_TEST(every_route_is_reachable)
{
    apr_size_t i;
    for (i = 0; i < dp_routes_count; ++i) {
        /* build a concrete path from the pattern and check it routes back to this entry */
        const char *pat = dp_routes[i].pattern;
        char path[256];
        apr_size_t o = 0;
        apr_table_t *p;
        apr_status_t rv;
        const dp_route_t *rt;
        while (*pat && o < sizeof(path) - 16) {
            if (*pat == '{') {
                const char *v = "zz9";
                while (*pat && *pat != '}') ++pat;
                if (*pat) ++pat;
                memcpy(path + o, v, strlen(v));
                o += strlen(v);
            }
            else {
                path[o++] = *pat++;
            }
        }
        path[o] = '\0';
        rt = m(dp_routes[i].method, path, &p, &rv, NULL);
        ck_assert_msg(rv == APR_SUCCESS && rt == &dp_routes[i], "route %s %s shadowed",
                      dp_routes[i].method, dp_routes[i].pattern);
    }
}
END_TEST

/* Router test case. */
TCase *tc_router(void)
{
    TCase *tc = tcase_create("router");
    tcase_add_test(tc, matches_params_and_literals_first);
    tcase_add_test(tc, greedy_tail_takes_slashes_and_colons);
    tcase_add_test(tc, not_found_and_method_not_allowed);
    tcase_add_test(tc, head_uses_get_routes);
    tcase_add_test(tc, every_route_is_reachable);
    return tc;
}
