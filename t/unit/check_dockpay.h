/* Check unit tests of lib/ (no httpd): one TCase per area, collected in check_main.c. */
#ifndef CHECK_DOCKPAY_H
#define CHECK_DOCKPAY_H

#include <check.h>
#include <apr_pools.h>

/* A fresh pool per test (created/destroyed by the fixture in check_main.c). */
extern apr_pool_t *tp;
void dp_test_setup(void);
void dp_test_teardown(void);

TCase *tc_json(void);
TCase *tc_router(void);
TCase *tc_auth(void);
TCase *tc_problem(void);
TCase *tc_http(void);
TCase *tc_util(void);
TCase *tc_memo(void);

/* Areas define these as they grow; a missing one is skipped. */
TCase *tc_docker_logs(void) __attribute__((weak));
TCase *tc_docker_stats(void) __attribute__((weak));
TCase *tc_docker_policy(void) __attribute__((weak));
TCase *tc_docker_progress(void) __attribute__((weak));
TCase *tc_docker_misc(void) __attribute__((weak));
TCase *tc_portone(void) __attribute__((weak));
TCase *tc_payments(void) __attribute__((weak));
TCase *tc_webhook(void) __attribute__((weak));
TCase *tc_subscriptions(void) __attribute__((weak));
TCase *tc_pay_misc(void) __attribute__((weak));
TCase *tc_docker_watch(void) __attribute__((weak));
TCase *tc_docker_compose(void) __attribute__((weak));
TCase *tc_docker_build(void) __attribute__((weak));

#endif
