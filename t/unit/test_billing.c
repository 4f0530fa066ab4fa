/* Unit tests: the billing state machine (lib/dp_billing.c, issue 15). */
#include "check_dockpay.h"
#include "dp_billing.h"

static dp_billing_cur_t cur_of(dp_billing_state_t st, apr_int64_t last_at, apr_int64_t last_period)
{
    dp_billing_cur_t c;

    c.state = st;
    c.last_event_at = last_at;
    c.last_period = last_period;
    return c;
}

START_TEST(failure_makes_active_past_due_once)
{
    dp_billing_cur_t c = cur_of(DP_BILLING_ACTIVE, 100, 0);
    dp_billing_state_t next;

    ck_assert_int_eq(dp_billing_decide(&next, &c, DP_BEV_FAILED, 200, 1000), DP_BILLING_TRANSITION);
    ck_assert_int_eq(next, DP_BILLING_PAST_DUE);
    c = cur_of(DP_BILLING_PAST_DUE, 200, 1000);
    ck_assert_int_eq(dp_billing_decide(&next, &c, DP_BEV_FAILED, 300, 1000), DP_BILLING_NO_CHANGE);
    ck_assert_int_eq(next, DP_BILLING_PAST_DUE);
    c = cur_of(DP_BILLING_SUSPENDED, 200, 1000);
    ck_assert_int_eq(dp_billing_decide(&next, &c, DP_BEV_KEY_DELETED, 300, 0), DP_BILLING_NO_CHANGE);
    ck_assert_int_eq(next, DP_BILLING_SUSPENDED);
    c = cur_of(DP_BILLING_ACTIVE, 0, 0);
    ck_assert_int_eq(dp_billing_decide(&next, &c, DP_BEV_REVOKED, 1, 0), DP_BILLING_TRANSITION);
    ck_assert_int_eq(next, DP_BILLING_PAST_DUE);
    ck_assert_int_eq(dp_billing_decide(&next, &c, DP_BEV_KEY_DELETED, 1, 0), DP_BILLING_TRANSITION);
}
END_TEST

START_TEST(payment_and_resume_make_active)
{
    dp_billing_cur_t c = cur_of(DP_BILLING_SUSPENDED, 100, 1000);
    dp_billing_state_t next;

    ck_assert_int_eq(dp_billing_decide(&next, &c, DP_BEV_PAID, 150, 0), DP_BILLING_TRANSITION);
    ck_assert_int_eq(next, DP_BILLING_ACTIVE);
    ck_assert_int_eq(dp_billing_decide(&next, &c, DP_BEV_RESUME, 150, 0), DP_BILLING_TRANSITION);
    c = cur_of(DP_BILLING_ACTIVE, 100, 1000);
    ck_assert_int_eq(dp_billing_decide(&next, &c, DP_BEV_PAID, 150, 2000), DP_BILLING_NO_CHANGE);
    ck_assert_int_eq(next, DP_BILLING_ACTIVE);
}
END_TEST

START_TEST(older_events_are_stale)
{
    dp_billing_cur_t c = cur_of(DP_BILLING_PAST_DUE, 500, 2000);
    dp_billing_state_t next;

    /* a late paid for an older period */
    ck_assert_int_eq(dp_billing_decide(&next, &c, DP_BEV_PAID, 600, 1000), DP_BILLING_STALE);
    ck_assert_int_eq(next, DP_BILLING_PAST_DUE);
    /* an event older than the last one applied */
    ck_assert_int_eq(dp_billing_decide(&next, &c, DP_BEV_PAID, 400, 0), DP_BILLING_STALE);
    c = cur_of(DP_BILLING_ACTIVE, 500, 2000);
    ck_assert_int_eq(dp_billing_decide(&next, &c, DP_BEV_FAILED, 499, 3000), DP_BILLING_STALE);
    ck_assert_int_eq(next, DP_BILLING_ACTIVE);
    /* the same second and the same period are not older */
    ck_assert_int_eq(dp_billing_decide(&next, &c, DP_BEV_FAILED, 500, 2000), DP_BILLING_TRANSITION);
    /* an admin resume is never stale */
    c = cur_of(DP_BILLING_SUSPENDED, 500, 2000);
    ck_assert_int_eq(dp_billing_decide(&next, &c, DP_BEV_RESUME, 10, 0), DP_BILLING_TRANSITION);
}
END_TEST

START_TEST(names_round_trip)
{
    dp_billing_state_t s = DP_BILLING_ACTIVE;

    ck_assert(dp_billing_state_parse(&s, "past_due") && s == DP_BILLING_PAST_DUE);
    ck_assert(dp_billing_state_parse(&s, "suspended") && s == DP_BILLING_SUSPENDED);
    ck_assert(!dp_billing_state_parse(&s, "PAST_DUE"));
    ck_assert(!dp_billing_state_parse(&s, NULL));
    ck_assert_str_eq(dp_billing_state_name(DP_BILLING_ACTIVE), "active");
    ck_assert_str_eq(dp_billing_event_name(DP_BEV_KEY_DELETED), "key_deleted");
}
END_TEST

TCase *tc_billing(void)
{
    TCase *tc = tcase_create("billing");

    tcase_add_test(tc, failure_makes_active_past_due_once);
    tcase_add_test(tc, payment_and_resume_make_active);
    tcase_add_test(tc, older_events_are_stale);
    tcase_add_test(tc, names_round_trip);
    return tc;
}
