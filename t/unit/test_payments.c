/* Unit tests: payment rules (bank codes, status order, verification decisions, amounts). */
#include <string.h>
#include "check_dockpay.h"
#include "dp_pay.h"
#include "dp_json.h"

START_TEST(bank_codes_normalise)
{
    ck_assert_str_eq(dp_pay_bank_normalise(tp, "004"), "004");
    ck_assert_str_eq(dp_pay_bank_normalise(tp, "04"), "004");
    ck_assert_str_eq(dp_pay_bank_normalise(tp, "BK04"), "004");
    ck_assert_str_eq(dp_pay_bank_normalise(tp, "bk88"), "088");
    ck_assert_str_eq(dp_pay_bank_normalise(tp, "092"), "092");
    ck_assert_str_eq(dp_pay_bank_normalise(tp, "289"), "289");   /* securities */
    ck_assert_ptr_null(dp_pay_bank_normalise(tp, "999"));
    ck_assert_ptr_null(dp_pay_bank_normalise(tp, "001"));
    ck_assert_ptr_null(dp_pay_bank_normalise(tp, "4"));
    ck_assert_ptr_null(dp_pay_bank_normalise(tp, "BK4"));
    ck_assert_ptr_null(dp_pay_bank_normalise(tp, "0004"));
    ck_assert_ptr_null(dp_pay_bank_normalise(tp, "KB04"));
    ck_assert_ptr_null(dp_pay_bank_normalise(tp, "04 "));
    ck_assert_ptr_null(dp_pay_bank_normalise(tp, ""));
    ck_assert_ptr_null(dp_pay_bank_normalise(tp, NULL));
    ck_assert_ptr_nonnull(dp_pay_bank_name("088"));
    ck_assert_ptr_null(dp_pay_bank_name("08"));
}
END_TEST

START_TEST(status_only_moves_forward)
{
    ck_assert(dp_pay_status_advances("prepared", "ready"));
    ck_assert(dp_pay_status_advances("ready", "paid"));
    ck_assert(dp_pay_status_advances("paid", "cancelled"));
    ck_assert(dp_pay_status_advances("ready", "failed"));
    ck_assert(dp_pay_status_advances("prepared", "paid"));
    ck_assert(dp_pay_status_advances("paid", "paid"));          /* partial cancel keeps paid */
    ck_assert(dp_pay_status_advances("failed", "paid"));        /* late approval */
    ck_assert(!dp_pay_status_advances("paid", "ready"));
    ck_assert(!dp_pay_status_advances("paid", "failed"));
    ck_assert(!dp_pay_status_advances("cancelled", "paid"));
    ck_assert(!dp_pay_status_advances("failed", "ready"));
    ck_assert(!dp_pay_status_advances("ready", "refunded"));
    ck_assert(dp_pay_status_advances(NULL, "ready"));
    ck_assert_int_eq(dp_pay_status_rank("prepared"), 0);
    ck_assert_int_eq(dp_pay_status_rank("cancelled"), 4);
    ck_assert_int_eq(dp_pay_status_rank("all"), -1);
}
END_TEST

START_TEST(verification_decisions)
{
    apr_int64_t prepared = 1000, asked = 1000, other = 900, exp = -1;

    ck_assert_int_eq(dp_pay_decide(&exp, &prepared, NULL, 1000), DP_VERIFY_OK);
    ck_assert_int_eq(exp, 1000);
    ck_assert_int_eq(dp_pay_decide(&exp, &prepared, &asked, 1000), DP_VERIFY_OK);
    ck_assert_int_eq(dp_pay_decide(&exp, &prepared, NULL, 10), DP_VERIFY_MISMATCH);
    ck_assert_int_eq(exp, 1000);
    ck_assert_int_eq(dp_pay_decide(&exp, NULL, &other, 1000), DP_VERIFY_MISMATCH);
    ck_assert_int_eq(exp, 900);
    ck_assert_int_eq(dp_pay_decide(&exp, &prepared, &other, 1000), DP_VERIFY_MISMATCH);
    ck_assert_int_eq(exp, 1000);
    ck_assert_int_eq(dp_pay_decide(&exp, NULL, &asked, 1000), DP_VERIFY_OK);
    ck_assert_int_eq(dp_pay_decide(&exp, NULL, NULL, 1000), DP_VERIFY_NO_EXPECTATION);

    ck_assert(dp_pay_should_cancel(DP_VERIFY_MISMATCH, "paid", 1));
    ck_assert(!dp_pay_should_cancel(DP_VERIFY_MISMATCH, "paid", 0));
    ck_assert(!dp_pay_should_cancel(DP_VERIFY_MISMATCH, "ready", 1));
    ck_assert(!dp_pay_should_cancel(DP_VERIFY_MISMATCH, "cancelled", 1));
    ck_assert(!dp_pay_should_cancel(DP_VERIFY_OK, "paid", 1));
}
END_TEST

START_TEST(amounts_from_portone)
{
    json_object *o = NULL;
    dp_problem_t *prob = NULL;
    apr_int64_t v = -1;
    const char *s = "{\"i\":1000,\"d\":1000.0,\"f\":10.5,\"s\":\"1000\",\"n\":null,\"big\":9007199254740993}";

    ck_assert_int_eq(dp_json_parse(&o, &prob, tp, s, strlen(s)), APR_SUCCESS);
    ck_assert(dp_pay_json_amount(&v, o, "i"));
    ck_assert_int_eq(v, 1000);
    ck_assert(dp_pay_json_amount(&v, o, "d"));
    ck_assert_int_eq(v, 1000);
    ck_assert(!dp_pay_json_amount(&v, o, "f"));
    ck_assert(!dp_pay_json_amount(&v, o, "s"));
    ck_assert(!dp_pay_json_amount(&v, o, "n"));
    ck_assert(!dp_pay_json_amount(&v, o, "missing"));
    ck_assert(dp_pay_json_amount(&v, o, "big"));
}
END_TEST

START_TEST(identifiers)
{
    ck_assert(dp_pay_valid_imp_uid("imp_123456789012"));
    ck_assert(!dp_pay_valid_imp_uid(""));
    ck_assert(!dp_pay_valid_imp_uid("imp/1"));
    ck_assert(!dp_pay_valid_imp_uid("imp_0123456789012345678901234567890"));
    ck_assert(dp_pay_valid_merchant_uid("order-2024-0001"));
    ck_assert(dp_pay_valid_merchant_uid("\xec\xa3\xbc\xeb\xac\xb8-1"));  /* Korean is fine */
    ck_assert(!dp_pay_valid_merchant_uid("a/b"));
    ck_assert(!dp_pay_valid_merchant_uid("a\nb"));
    ck_assert(!dp_pay_valid_merchant_uid("\xff"));
    ck_assert(!dp_pay_valid_merchant_uid("0123456789012345678901234567890123456789X"));
    ck_assert(!dp_pay_valid_merchant_uid(NULL));
}
END_TEST

/* idem: the optional currency field of prepare, vbank and schedule bodies (only KRW). */
START_TEST(currency_field)
{
    apr_pool_t *p;
    dp_problem_t *prob = NULL;
    json_object *o = NULL;
    const char *c = "unset";
    static const char *const bad[] = { "{\"currency\":\"USD\"}", "{\"currency\":\"krw\"}",
                                       "{\"currency\":\"\"}", "{\"currency\":410}",
                                       "{\"currency\":\"KRWKRWKRW\"}", NULL };
    int i;

    apr_pool_create(&p, NULL);
    ck_assert_int_eq(dp_json_parse(&o, &prob, p, "{}", 2), APR_SUCCESS);
    ck_assert_int_eq(dp_pay_field_currency(&c, &prob, p, o, "currency"), APR_SUCCESS);
    ck_assert_ptr_null(c);
    ck_assert_int_eq(dp_json_parse(&o, &prob, p, "{\"currency\":\"KRW\"}", 18), APR_SUCCESS);
    ck_assert_int_eq(dp_pay_field_currency(&c, &prob, p, o, "currency"), APR_SUCCESS);
    ck_assert_str_eq(c, "KRW");
    for (i = 0; bad[i]; ++i) {
        prob = NULL;
        ck_assert_int_eq(dp_json_parse(&o, &prob, p, bad[i], strlen(bad[i])), APR_SUCCESS);
        ck_assert_int_eq(dp_pay_field_currency(&c, &prob, p, o, "currency"), DP_EPROBLEM);
        ck_assert_ptr_nonnull(prob);
        ck_assert_int_eq(prob->status, 400);
    }
    apr_pool_destroy(p);
}
END_TEST

/* Payment rules test case. */
START_TEST(status_and_outcome_strings)
{
    /* one table each: the database's/PortOne's status strings and the webhook outcomes */
    static const char *const statuses[] = { "prepared", "ready", "failed", "paid", "cancelled" };
    static const char *const outcomes[] = { "applied", "stale", "unknown_order", "amount_mismatch",
                                            "currency_mismatch", "other_payment", "mismatch",
                                            "unknown_payment", "pending" };
    int i;

    for (i = 0; i < 5; ++i) {
        ck_assert_int_eq(dp_pay_status_of(statuses[i]), i);
    }
    ck_assert_int_eq(dp_pay_status_of("PAID"), DP_PAY_UNKNOWN);
    ck_assert_int_eq(dp_pay_status_of(""), DP_PAY_UNKNOWN);
    ck_assert_int_eq(dp_pay_status_of(NULL), DP_PAY_UNKNOWN);
    ck_assert_int_eq(DP_PAY_PAID, 3);
    ck_assert_str_eq(dp_pay_outcome_str(DP_OUTCOME_APPLIED), "applied");
    ck_assert_str_eq(dp_pay_outcome_str(DP_OUTCOME_STALE), "stale");
    ck_assert_str_eq(dp_pay_outcome_str(DP_OUTCOME_UNKNOWN_ORDER), "unknown_order");
    ck_assert_str_eq(dp_pay_outcome_str(DP_OUTCOME_AMOUNT_MISMATCH), "amount_mismatch");
    ck_assert_str_eq(dp_pay_outcome_str(DP_OUTCOME_CURRENCY_MISMATCH), "currency_mismatch");
    ck_assert_str_eq(dp_pay_outcome_str(DP_OUTCOME_OTHER_PAYMENT), "other_payment");
    ck_assert_str_eq(dp_pay_outcome_str(DP_OUTCOME_MISMATCH), "mismatch");
    ck_assert_str_eq(dp_pay_outcome_str(DP_OUTCOME_UNKNOWN_PAYMENT), "unknown_payment");
    ck_assert_str_eq(dp_pay_outcome_str(DP_OUTCOME_PENDING), "pending");
    for (i = 0; i < 9; ++i) {
        ck_assert_str_eq(dp_pay_outcome_str((dp_pay_outcome_t)i), outcomes[i]);
    }
}
END_TEST

TCase *tc_payments(void)
{
    TCase *tc = tcase_create("payments");
    tcase_add_test(tc, bank_codes_normalise);
    tcase_add_test(tc, status_only_moves_forward);
    tcase_add_test(tc, status_and_outcome_strings);
    tcase_add_test(tc, verification_decisions);
    tcase_add_test(tc, amounts_from_portone);
    tcase_add_test(tc, identifiers);
    tcase_add_test(tc, currency_field);
    return tc;
}
