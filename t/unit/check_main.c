/* Runs every unit test case of lib/. */
#include <stdlib.h>
#include <apr_general.h>

#include "check_dockpay.h"
#include "dp_http.h"

apr_pool_t *tp;

/* Fixture: a fresh pool for each test. */
void dp_test_setup(void)
{
    apr_pool_create(&tp, NULL);
}

/* Fixture: destroys the test's pool (runs its JSON cleanups). */
void dp_test_teardown(void)
{
    apr_pool_destroy(tp);
    tp = NULL;
}

int main(int argc, const char *const *argv)
{
    Suite *s = suite_create("dockpay");
    SRunner *sr;
    int failed;
    TCase *(*const cases[])(void) = {
        tc_util, tc_memo, tc_json, tc_router, tc_auth, tc_problem, tc_http,
        tc_docker_logs, tc_docker_stats, tc_docker_policy, tc_docker_progress, tc_docker_misc,
        tc_portone, tc_payments, tc_webhook, tc_subscriptions, tc_docker_watch,
        tc_docker_compose,
        tc_docker_build,
        tc_outbox,   /* outbox */
        tc_billing,   /* billing (branch billing) */
    };
    size_t i;

    apr_app_initialize(&argc, &argv, NULL);
    dp_http_global_init();
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); ++i) {
        TCase *tc = cases[i]();
        tcase_add_checked_fixture(tc, dp_test_setup, dp_test_teardown);
        suite_add_tcase(s, tc);
    }
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    apr_terminate();
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
