/* Unit tests: outbox secrets, Standard Webhooks signatures, bodies and backoff. */
#include <string.h>
#include "check_dockpay.h"
#include "dp_outbox.h"

/* The test vector of the Standard Webhooks reference libraries. */
#define VEC_SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define VEC_ID "msg_p5jXN8AQM9LWM0D4loKWxJek"
#define VEC_TS 1614265330
#define VEC_BODY "{\"test\": 2432232314}"
#define VEC_SIG "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

START_TEST(secret_parsing)
{
    unsigned char *key = NULL;
    apr_size_t len = 0;

    ck_assert_int_eq(dp_outbox_secret(&key, &len, tp, VEC_SECRET), APR_SUCCESS);
    ck_assert_uint_eq(len, 24);
    ck_assert_int_ne(dp_outbox_secret(&key, &len, tp, "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"), APR_SUCCESS);
    ck_assert_ptr_null(key);
    ck_assert_int_ne(dp_outbox_secret(&key, &len, tp, "whsec_"), APR_SUCCESS);
    ck_assert_int_ne(dp_outbox_secret(&key, &len, tp, "whsec_not*base64"), APR_SUCCESS);
    ck_assert_int_ne(dp_outbox_secret(&key, &len, tp, "whsec_c2hvcnQ="), APR_SUCCESS);   /* 5 bytes */
    ck_assert_int_ne(dp_outbox_secret(&key, &len, tp, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS"), APR_SUCCESS);
    ck_assert_int_ne(dp_outbox_secret(&key, &len, tp, NULL), APR_SUCCESS);
}
END_TEST

START_TEST(signature_vector)
{
    unsigned char *key = NULL;
    apr_size_t len = 0;
    const char *sig;

    ck_assert_int_eq(dp_outbox_secret(&key, &len, tp, VEC_SECRET), APR_SUCCESS);
    sig = dp_outbox_sign(tp, key, len, VEC_ID, VEC_TS, VEC_BODY, strlen(VEC_BODY));
    ck_assert_str_eq(sig, VEC_SIG);
    /* any change of id, time or body changes it */
    ck_assert_str_ne(dp_outbox_sign(tp, key, len, VEC_ID, VEC_TS + 1, VEC_BODY, strlen(VEC_BODY)), VEC_SIG);
    ck_assert_str_ne(dp_outbox_sign(tp, key, len, "msg_x", VEC_TS, VEC_BODY, strlen(VEC_BODY)), VEC_SIG);
    ck_assert_str_ne(dp_outbox_sign(tp, key, len, VEC_ID, VEC_TS, "{\"test\": 2432232315}",
                                    strlen(VEC_BODY)), VEC_SIG);
}
END_TEST

START_TEST(body_format)
{
    const char *b = dp_outbox_body(tp, "payment.paid", "2026-12-03 13:36:05.123456", "{\"amount\":1000}");

    ck_assert_str_eq(b, "{\"type\":\"payment.paid\",\"timestamp\":\"2026-12-03T13:36:05.123456Z\","
                        "\"data\":{\"amount\":1000}}");
    ck_assert_str_eq(dp_outbox_body(tp, "a\"b", "2026-01-01 00:00:00.000000", NULL),
                     "{\"type\":\"a\\\"b\",\"timestamp\":\"2026-01-01T00:00:00.000000Z\",\"data\":{}}");
}
END_TEST

START_TEST(backoff_steps)
{
    apr_array_header_t *steps = apr_array_make(tp, 2, sizeof(int));

    ck_assert_int_eq(dp_outbox_backoff(NULL, 1), 5);
    ck_assert_int_eq(dp_outbox_backoff(NULL, 2), 30);
    ck_assert_int_eq(dp_outbox_backoff(NULL, 3), 120);
    ck_assert_int_eq(dp_outbox_backoff(NULL, 4), 600);
    ck_assert_int_eq(dp_outbox_backoff(NULL, 5), 3600);
    ck_assert_int_eq(dp_outbox_backoff(NULL, 50), 3600);
    ck_assert_int_eq(dp_outbox_backoff(NULL, 0), 5);
    APR_ARRAY_PUSH(steps, int) = 1;
    APR_ARRAY_PUSH(steps, int) = 7;
    ck_assert_int_eq(dp_outbox_backoff(steps, 1), 1);
    ck_assert_int_eq(dp_outbox_backoff(steps, 2), 7);
    ck_assert_int_eq(dp_outbox_backoff(steps, 9), 7);
}
END_TEST

/* Outbox test case. */
TCase *tc_outbox(void)
{
    TCase *tc = tcase_create("outbox");
    tcase_add_test(tc, secret_parsing);
    tcase_add_test(tc, signature_vector);
    tcase_add_test(tc, body_format);
    tcase_add_test(tc, backoff_steps);
    return tc;
}
