/* Unit tests: webhook body parsing (JSON and form) and dedupe keys. */
#include <string.h>
#include "check_dockpay.h"
#include "dp_pay.h"
#include "dp_reconcile.h"

#define JSON "application/json"
#define FORM "application/x-www-form-urlencoded"

static dp_problem_t *parse(dp_webhook_t *ev, const char *ctype, const char *body)
{
    dp_problem_t *prob = NULL;
    apr_status_t rv = dp_webhook_parse(ev, &prob, tp, ctype, body, strlen(body));
    if (rv == APR_SUCCESS) {
        ck_assert_ptr_null(prob);
        return NULL;
    }
    ck_assert_ptr_nonnull(prob);
    return prob;
}

START_TEST(json_body)
{
    dp_webhook_t ev;
    ck_assert_ptr_null(parse(&ev, JSON, "{\"imp_uid\":\"imp_1234567890\",\"merchant_uid\":\"order_1\",\"status\":\"paid\"}"));
    ck_assert_str_eq(ev.imp_uid, "imp_1234567890");
    ck_assert_str_eq(ev.merchant_uid, "order_1");
    ck_assert_str_eq(ev.status, "paid");
    ck_assert_ptr_null(ev.cancellation_id);
    ck_assert_ptr_null(parse(&ev, "application/json; charset=utf-8",
        "{\"imp_uid\":\"imp_1\",\"merchant_uid\":\"o\",\"status\":\"cancelled\",\"cancellation_id\":\"cancel_ab\",\"extra\":1}"));
    ck_assert_str_eq(ev.cancellation_id, "cancel_ab");
}
END_TEST

START_TEST(form_body)
{
    dp_webhook_t ev;
    ck_assert_ptr_null(parse(&ev, FORM, "imp_uid=imp_1&merchant_uid=order%201&status=ready"));
    ck_assert_str_eq(ev.merchant_uid, "order 1");
    ck_assert_str_eq(ev.status, "ready");
    ck_assert_ptr_null(parse(&ev, FORM "; charset=UTF-8", "status=paid&merchant_uid=o+2&imp_uid=imp_2&cancellation_id="));
    ck_assert_str_eq(ev.merchant_uid, "o 2");
    ck_assert_ptr_null(ev.cancellation_id);
}
END_TEST

START_TEST(invalid_bodies)
{
    dp_webhook_t ev;
    dp_problem_t *prob;

    prob = parse(&ev, JSON, "{\"merchant_uid\":\"o\",\"status\":\"paid\"}");
    ck_assert_int_eq(prob->status, 400);
    ck_assert_ptr_nonnull(strstr(prob->detail, "imp_uid"));
    prob = parse(&ev, JSON, "{\"imp_uid\":1,\"merchant_uid\":\"o\",\"status\":\"paid\"}");
    ck_assert_int_eq(prob->status, 400);
    prob = parse(&ev, JSON, "{\"imp_uid\":\"imp_1\",\"merchant_uid\":\"o\",\"status\":\"refunded\"}");
    ck_assert_int_eq(prob->status, 422);
    prob = parse(&ev, JSON, "{\"imp_uid\":\"imp 1\",\"merchant_uid\":\"o\",\"status\":\"paid\"}");
    ck_assert_int_eq(prob->status, 422);
    prob = parse(&ev, JSON, "{\"imp_uid\":\"imp_1\",\"merchant_uid\":\"a/b\",\"status\":\"paid\"}");
    ck_assert_int_eq(prob->status, 422);
    prob = parse(&ev, JSON, "[1]");
    ck_assert_int_eq(prob->status, 400);
    prob = parse(&ev, JSON, "{bad");
    ck_assert_int_eq(prob->status, 400);
    prob = parse(&ev, FORM, "imp_uid=imp_1&merchant_uid=%zz&status=paid");
    ck_assert_int_eq(prob->status, 400);
    prob = parse(&ev, FORM, "imp_uid=imp_1&status=paid");
    ck_assert_int_eq(prob->status, 400);
    prob = parse(&ev, "text/plain", "imp_uid=imp_1");
    ck_assert_int_eq(prob->status, 415);
    prob = parse(&ev, NULL, "{}");
    ck_assert_int_eq(prob->status, 415);
    prob = parse(&ev, JSON, "{\"imp_uid\":\"imp_1\",\"merchant_uid\":\"o\",\"status\":\"paid\",\"cancellation_id\":\"a b\"}");
    ck_assert_int_eq(prob->status, 422);
}
END_TEST

START_TEST(dedupe_keys)
{
    dp_webhook_t a = { "imp_1", "order_1", "paid", NULL };
    dp_webhook_t b = { "imp_1", "order_1", "paid", NULL };
    dp_webhook_t c = { "imp_1", "order_1", "cancelled", "cancel_1" };
    dp_webhook_t d = { "imp_1", "order_1", "cancelled", "cancel_2" };
    dp_webhook_t e = { "imp_1o", "rder_1", "paid", NULL };
    const char *ka = dp_webhook_dedupe_key(tp, &a);

    ck_assert_ptr_nonnull(ka);
    ck_assert_int_eq(strlen(ka), 64);
    ck_assert_str_eq(ka, dp_webhook_dedupe_key(tp, &b));
    ck_assert_str_ne(dp_webhook_dedupe_key(tp, &c), dp_webhook_dedupe_key(tp, &d));
    ck_assert_str_ne(ka, dp_webhook_dedupe_key(tp, &c));
    ck_assert_str_ne(ka, dp_webhook_dedupe_key(tp, &e));
}
END_TEST

/* reconcile: the retry/lookup schedule is 1, 5, 30, then 60 units, capped at a day. */
START_TEST(reconcile_backoff)
{
    ck_assert_int_eq(dp_reconcile_backoff(0, 60), 60);
    ck_assert_int_eq(dp_reconcile_backoff(1, 60), 60);
    ck_assert_int_eq(dp_reconcile_backoff(2, 60), 300);
    ck_assert_int_eq(dp_reconcile_backoff(3, 60), 1800);
    ck_assert_int_eq(dp_reconcile_backoff(4, 60), 3600);
    ck_assert_int_eq(dp_reconcile_backoff(99, 60), 3600);
    ck_assert_int_eq(dp_reconcile_backoff(2, 1), 5);
    ck_assert_int_eq(dp_reconcile_backoff(4, 0), 60);
    ck_assert_int_eq(dp_reconcile_backoff(4, 86400), 86400);
}
END_TEST

/* Webhook test case. */
TCase *tc_webhook(void)
{
    TCase *tc = tcase_create("webhook");
    tcase_add_test(tc, json_body);
    tcase_add_test(tc, form_body);
    tcase_add_test(tc, invalid_bodies);
    tcase_add_test(tc, dedupe_keys);
    tcase_add_test(tc, reconcile_backoff);
    return tc;
}
