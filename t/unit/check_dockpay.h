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

/* Every area's test case is a strong symbol: a missing one fails the link. */
TCase *tc_docker_logs(void);
TCase *tc_docker_stats(void);
TCase *tc_docker_policy(void);
TCase *tc_docker_progress(void);
TCase *tc_docker_misc(void);
TCase *tc_portone(void);
TCase *tc_payments(void);
TCase *tc_webhook(void);
TCase *tc_subscriptions(void);
TCase *tc_docker_watch(void);
TCase *tc_docker_compose(void);
TCase *tc_docker_build(void);
TCase *tc_outbox(void);   /* outbox */
TCase *tc_billing(void);             /* billing (branch billing) */

#endif
