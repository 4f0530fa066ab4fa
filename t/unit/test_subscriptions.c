/* Unit tests: subscription request validation, card-data hygiene and masking (lib/billing/dp_sub.c). */
#include <string.h>
#include <stdlib.h>
#include <apr_strings.h>

#include "check_dockpay.h"
#include "dp_sub.h"
#include "dp_json.h"

/* 2026-06-15 12:00:00 UTC: the "now" of every test (the checks use local time; mid-month and
 * mid-day keep the month the same in every time zone). */
#define NOW APR_INT64_C(1781524800)

#define CARD "4111-2222-3333-4444"
#define CARD_DIGITS "4111222233334444"
#define EXPIRY "2029-12"
#define BIRTH "880101"

static dp_sub_env_t env_make(void)
{
    dp_sub_env_t env;

    memset(&env, 0, sizeof(env));
    env.pool = tp;
    env.now = NOW;
    env.channel_key = "channel-key-test";
    return env;
}

static json_object *parse(const char *text)
{
    json_object *o = NULL;
    dp_problem_t *prob = NULL;

    ck_assert_int_eq(dp_json_parse(&o, &prob, tp, text, strlen(text)), APR_SUCCESS);
    return o;
}

/* Asserts that prob is status (and names field when given); returns its JSON text. */
static const char *expect_problem(apr_status_t rv, dp_problem_t *prob, int status, const char *field)
{
    const char *text;

    ck_assert_int_eq(rv, DP_EPROBLEM);
    ck_assert_ptr_nonnull(prob);
    ck_assert_int_eq(prob->status, status);
    text = dp_json_str(tp, dp_problem_json(tp, prob));
    if (field) {
        ck_assert_msg(strstr(prob->detail, field) != NULL, "detail '%s' does not name '%s'",
                      prob->detail, field);
    }
    return text;
}

/* Runs call (which sets prob) and then checks the problem it made; the comma sequences them. */
static apr_status_t last_rv;
#define EXPECT(call, status, field) \
    ((void)(last_rv = (call)), expect_problem(last_rv, prob, (status), (field)))

/* Asserts that text holds none of the test card's secrets. */
static void assert_no_card(const char *text)
{
    ck_assert_msg(strstr(text, CARD_DIGITS) == NULL && strstr(text, CARD) == NULL
                  && strstr(text, "33334444") == NULL && strstr(text, "3333-4444") == NULL
                  && strstr(text, EXPIRY) == NULL && strstr(text, BIRTH) == NULL,
                  "card data leaked into: %s", text);
}

/* ---- uids ---- */

START_TEST(uid_rules)
{
    dp_problem_t *prob = NULL;
    char long_uid[90];

    ck_assert_int_eq(dp_sub_check_uid(&prob, tp, "customer_uid", "cust_1.a:b-C", 80), APR_SUCCESS);
    memset(long_uid, 'a', 80);
    long_uid[80] = '\0';
    ck_assert_int_eq(dp_sub_check_uid(&prob, tp, "customer_uid", long_uid, 80), APR_SUCCESS);
    long_uid[80] = 'a';
    long_uid[81] = '\0';
    EXPECT(dp_sub_check_uid(&prob, tp, "customer_uid", long_uid, 80), 422, "customer_uid");
    EXPECT(dp_sub_check_uid(&prob, tp, "customer_uid", "", 80), 422, "customer_uid");
    EXPECT(dp_sub_check_uid(&prob, tp, "customer_uid", "a b", 80), 422, "customer_uid");
    EXPECT(dp_sub_check_uid(&prob, tp, "merchant_uid", "a/b", 40), 422, "merchant_uid");
    EXPECT(dp_sub_check_uid(&prob, tp, "merchant_uid", "\xea\xb0\x80", 40), 422, NULL);
    ck_assert_str_eq(dp_json_get_str(prob->ext, "field"), "merchant_uid");
}
END_TEST

/* ---- card fields ---- */

START_TEST(card_number_rules)
{
    dp_problem_t *prob = NULL;
    const char *bad[] = { "4111222233334", "41112222333344445", "4111-2222-3333-444a", "-4111222233334444",
                          "4111222233334444-", "4111--2222-3333-4444", "4111 2222 3333 4444", "", NULL };
    int i;

    ck_assert_int_eq(dp_sub_check_card_number(&prob, tp, CARD), APR_SUCCESS);
    ck_assert_int_eq(dp_sub_check_card_number(&prob, tp, CARD_DIGITS), APR_SUCCESS);
    ck_assert_int_eq(dp_sub_check_card_number(&prob, tp, "36123456789012"), APR_SUCCESS);   /* 14 */
    ck_assert_int_eq(dp_sub_check_card_number(&prob, tp, "3612-345678-9012"), APR_SUCCESS);
    for (i = 0; bad[i]; ++i) {
        const char *text = EXPECT(dp_sub_check_card_number(&prob, tp, bad[i]), 422,
                                          "card_number");
        ck_assert_msg(strstr(text, "41112222") == NULL, "%s", text);
    }
    EXPECT(dp_sub_check_card_number(&prob, tp, "4111222233334"), 422, NULL);
    ck_assert_str_eq(prob->detail, "card_number is not 14\xe2\x80\x93" "16 digits");
}
END_TEST

START_TEST(expiry_rules)
{
    dp_problem_t *prob = NULL;
    const char *bad[] = { "2026-05", "2025-12", "2026/07", "26-07", "2026-13", "2026-00", "2026-7",
                          "20a6-07", "2026-07-01", "2099-01", NULL };
    int i;

    ck_assert_int_eq(dp_sub_check_expiry(&prob, tp, "2026-06", NOW), APR_SUCCESS);   /* this month */
    ck_assert_int_eq(dp_sub_check_expiry(&prob, tp, "2026-07", NOW), APR_SUCCESS);
    ck_assert_int_eq(dp_sub_check_expiry(&prob, tp, EXPIRY, NOW), APR_SUCCESS);
    for (i = 0; bad[i]; ++i) {
        const char *text = EXPECT(dp_sub_check_expiry(&prob, tp, bad[i], NOW), 422, "expiry");
        ck_assert_msg(strstr(text, bad[i]) == NULL, "the value is echoed: %s", text);
    }
    EXPECT(dp_sub_check_expiry(&prob, tp, "2026-05", NOW), 422, NULL);
    ck_assert_str_eq(prob->detail, "expiry is in the past");
}
END_TEST

START_TEST(birth_pwd_cvc_rules)
{
    dp_problem_t *prob = NULL;

    ck_assert_int_eq(dp_sub_check_birth(&prob, tp, BIRTH), APR_SUCCESS);
    ck_assert_int_eq(dp_sub_check_birth(&prob, tp, "1234567890"), APR_SUCCESS);
    EXPECT(dp_sub_check_birth(&prob, tp, "19880101"), 422, "birth");
    EXPECT(dp_sub_check_birth(&prob, tp, "88010"), 422, "birth");
    EXPECT(dp_sub_check_birth(&prob, tp, "88-01-01"), 422, "birth");
    EXPECT(dp_sub_check_birth(&prob, tp, ""), 422, "birth");

    ck_assert_int_eq(dp_sub_check_digits(&prob, tp, "pwd_2digit", "12", 2, 2), APR_SUCCESS);
    EXPECT(dp_sub_check_digits(&prob, tp, "pwd_2digit", "1", 2, 2), 422, "pwd_2digit");
    EXPECT(dp_sub_check_digits(&prob, tp, "pwd_2digit", "123", 2, 2), 422, "pwd_2digit");
    EXPECT(dp_sub_check_digits(&prob, tp, "pwd_2digit", "a1", 2, 2), 422, "pwd_2digit");
    ck_assert_str_eq(prob->detail, "pwd_2digit is not 2 digits");

    ck_assert_int_eq(dp_sub_check_digits(&prob, tp, "cvc", "123", 3, 4), APR_SUCCESS);
    ck_assert_int_eq(dp_sub_check_digits(&prob, tp, "cvc", "1234", 3, 4), APR_SUCCESS);
    EXPECT(dp_sub_check_digits(&prob, tp, "cvc", "12", 3, 4), 422, "cvc");
    EXPECT(dp_sub_check_digits(&prob, tp, "cvc", "12345", 3, 4), 422, "cvc");
    EXPECT(dp_sub_check_digits(&prob, tp, "cvc", "12a", 3, 4), 422, "cvc");
}
END_TEST

/* ---- billing key body ---- */

static const char *key_body(const char *override)
{
    return apr_psprintf(tp, "{\"customer_uid\":\"cu_1\",\"card_number\":\"" CARD "\",\"expiry\":\""
                        EXPIRY "\",\"birth\":\"" BIRTH "\",\"pwd_2digit\":\"12\"%s%s}",
                        override ? "," : "", override ? override : "");
}

START_TEST(key_body_is_built_and_input_wiped)
{
    dp_sub_env_t env = env_make();
    dp_problem_t *prob = NULL;
    json_object *in = parse(key_body("\"cvc\":\"123\",\"customer_name\":\"Hong\"")), *body;
    const char *cu;

    ck_assert_int_eq(dp_sub_parse_key(&body, &cu, &prob, &env, in), APR_SUCCESS);
    ck_assert_str_eq(cu, "cu_1");
    ck_assert_str_eq(dp_json_get_str(body, "card_number"), CARD);
    ck_assert_str_eq(dp_json_get_str(body, "expiry"), EXPIRY);
    ck_assert_str_eq(dp_json_get_str(body, "birth"), BIRTH);
    ck_assert_str_eq(dp_json_get_str(body, "pwd_2digit"), "12");
    ck_assert_str_eq(dp_json_get_str(body, "cvc"), "123");
    ck_assert_str_eq(dp_json_get_str(body, "customer_name"), "Hong");
    ck_assert_str_eq(dp_json_get_str(body, "channel_key"), "channel-key-test");
    ck_assert_ptr_null(dp_json_get(body, "customer_uid"));   /* it is the path */
    assert_no_card(dp_json_str(tp, in));                     /* the client's copy is wiped */
    dp_sub_wipe_card(body);
    assert_no_card(json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    ck_assert_str_eq(dp_json_get_str(body, "pwd_2digit"), "xx");
}
END_TEST

START_TEST(key_body_normalises_number_and_uses_pg)
{
    dp_sub_env_t env = env_make();
    dp_problem_t *prob = NULL;
    json_object *body;
    const char *cu;

    env.channel_key = NULL;
    env.pg = "html5_inicis.INIBillTst";
    ck_assert_int_eq(dp_sub_parse_key(&body, &cu, &prob, &env, parse(
        "{\"customer_uid\":\"c\",\"card_number\":\"36123456789012\",\"expiry\":\"2030-01\","
        "\"birth\":\"1234567890\",\"pwd_2digit\":\"00\"}")), APR_SUCCESS);
    ck_assert_str_eq(dp_json_get_str(body, "card_number"), "3612-3456-7890-12");
    ck_assert_str_eq(dp_json_get_str(body, "pg"), "html5_inicis.INIBillTst");
    ck_assert_ptr_null(dp_json_get(body, "channel_key"));
}
END_TEST

/* Every way a billing key body can fail: the status, and never a card secret in the problem. */
START_TEST(key_body_failures_never_echo_card_data)
{
    static const struct { const char *json; int status; const char *field; } cases[] = {
        { "{\"card_number\":\"" CARD "\",\"expiry\":\"" EXPIRY "\",\"birth\":\"" BIRTH "\",\"pwd_2digit\":\"12\"}", 400, "customer_uid" },
        { "{\"customer_uid\":\"c\",\"expiry\":\"" EXPIRY "\",\"birth\":\"" BIRTH "\",\"pwd_2digit\":\"12\"}", 400, "card_number" },
        { "{\"customer_uid\":\"c\",\"card_number\":4111222233334444,\"expiry\":\"" EXPIRY "\",\"birth\":\"" BIRTH "\",\"pwd_2digit\":\"12\"}", 400, "card_number" },
        { "{\"customer_uid\":\"c\",\"card_number\":\"" CARD "1\",\"expiry\":\"" EXPIRY "\",\"birth\":\"" BIRTH "\",\"pwd_2digit\":\"12\"}", 422, "card_number" },
        { "{\"customer_uid\":\"c\",\"card_number\":\"" CARD "x\",\"expiry\":\"" EXPIRY "\",\"birth\":\"" BIRTH "\",\"pwd_2digit\":\"12\"}", 422, "card_number" },
        { "{\"customer_uid\":\"c\",\"card_number\":\"" CARD "\",\"expiry\":\"2020-01\",\"birth\":\"" BIRTH "\",\"pwd_2digit\":\"12\"}", 422, "expiry" },
        { "{\"customer_uid\":\"c\",\"card_number\":\"" CARD "\",\"expiry\":202912,\"birth\":\"" BIRTH "\",\"pwd_2digit\":\"12\"}", 400, "expiry" },
        { "{\"customer_uid\":\"c\",\"card_number\":\"" CARD "\",\"expiry\":\"" EXPIRY "\",\"pwd_2digit\":\"12\"}", 400, "birth" },
        { "{\"customer_uid\":\"c\",\"card_number\":\"" CARD "\",\"expiry\":\"" EXPIRY "\",\"birth\":\"8801011\",\"pwd_2digit\":\"12\"}", 422, "birth" },
        { "{\"customer_uid\":\"c\",\"card_number\":\"" CARD "\",\"expiry\":\"" EXPIRY "\",\"birth\":\"" BIRTH "\",\"pwd_2digit\":\"1\"}", 422, "pwd_2digit" },
        { "{\"customer_uid\":\"c\",\"card_number\":\"" CARD "\",\"expiry\":\"" EXPIRY "\",\"birth\":\"" BIRTH "\"}", 400, "pwd_2digit" },
        { "{\"customer_uid\":\"c\",\"card_number\":\"" CARD "\",\"expiry\":\"" EXPIRY "\",\"birth\":\"" BIRTH "\",\"pwd_2digit\":\"12\",\"cvc\":\"12\"}", 422, "cvc" },
        { "{\"customer_uid\":\"c\",\"card_number\":\"" CARD "\",\"expiry\":\"" EXPIRY "\",\"birth\":\"" BIRTH "\",\"pwd_2digit\":\"12\",\"cvc\":123}", 400, "cvc" },
        { "{\"customer_uid\":\"c d\",\"card_number\":\"" CARD "\",\"expiry\":\"" EXPIRY "\",\"birth\":\"" BIRTH "\",\"pwd_2digit\":\"12\"}", 422, "customer_uid" },
        { "{\"customer_uid\":\"c\",\"card_number\":\"" CARD "\",\"expiry\":\"" EXPIRY "\",\"birth\":\"" BIRTH "\",\"pwd_2digit\":\"12\",\"pin\":\"1234\"}", 400, "pin" },
        { "{\"customer_uid\":\"c\",\"card_number\":\"" CARD "\",\"expiry\":\"" EXPIRY "\",\"birth\":\"" BIRTH "\",\"pwd_2digit\":\"12\",\"customer_tel\":\"0101234567890123456789\"}", 422, "customer_tel" },
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); ++i) {
        dp_sub_env_t env = env_make();
        dp_problem_t *prob = NULL;
        json_object *in = parse(cases[i].json), *body = NULL;
        const char *cu = NULL, *text;

        text = EXPECT(dp_sub_parse_key(&body, &cu, &prob, &env, in), cases[i].status,
                              cases[i].field);
        ck_assert_ptr_null(body);
        assert_no_card(text);
        assert_no_card(dp_json_str(tp, in));
    }
}
END_TEST

/* ---- charge now ---- */

START_TEST(pay_rules)
{
    static const struct { const char *json; int status; const char *field; } cases[] = {
        { "{\"merchant_uid\":\"m\",\"amount\":1000,\"name\":\"n\"}", 400, "customer_uid" },
        { "{\"customer_uid\":\"c\",\"amount\":1000,\"name\":\"n\"}", 400, "merchant_uid" },
        { "{\"customer_uid\":\"c\",\"merchant_uid\":\"m\",\"name\":\"n\"}", 400, "amount" },
        { "{\"customer_uid\":\"c\",\"merchant_uid\":\"m\",\"amount\":1000}", 400, "name" },
        { "{\"customer_uid\":\"c\",\"merchant_uid\":\"m\",\"amount\":0,\"name\":\"n\"}", 422, "amount" },
        { "{\"customer_uid\":\"c\",\"merchant_uid\":\"m\",\"amount\":-5,\"name\":\"n\"}", 422, "amount" },
        { "{\"customer_uid\":\"c\",\"merchant_uid\":\"m\",\"amount\":10000000001,\"name\":\"n\"}", 422, "amount" },
        { "{\"customer_uid\":\"c\",\"merchant_uid\":\"m\",\"amount\":10.5,\"name\":\"n\"}", 422, "amount" },
        { "{\"customer_uid\":\"c\",\"merchant_uid\":\"m\",\"amount\":\"1000\",\"name\":\"n\"}", 400, "amount" },
        { "{\"customer_uid\":\"c\",\"merchant_uid\":\"m-012345678901234567890123456789012345678\",\"amount\":1,\"name\":\"n\"}", 422, "merchant_uid" },
        { "{\"customer_uid\":\"c\",\"merchant_uid\":\"m#1\",\"amount\":1,\"name\":\"n\"}", 422, "merchant_uid" },
        { "{\"customer_uid\":\"c\",\"merchant_uid\":\"m\",\"amount\":1,\"name\":\"\"}", 422, "name" },
        { "{\"customer_uid\":\"c\",\"merchant_uid\":\"m\",\"amount\":1,\"name\":\"n\",\"card_number\":\"" CARD "\"}", 400, "card_number" },
    };
    size_t i;
    dp_sub_env_t env = env_make();
    dp_problem_t *prob = NULL;
    json_object *body;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); ++i) {
        body = NULL;
        EXPECT(dp_sub_parse_pay(&body, &prob, &env, parse(cases[i].json)),
                       cases[i].status, cases[i].field);
        ck_assert_ptr_null(body);
    }
    ck_assert_int_eq(dp_sub_parse_pay(&body, &prob, &env, parse(
        "{\"customer_uid\":\"c\",\"merchant_uid\":\"m\",\"amount\":10000000000,\"name\":\"n\","
        "\"buyer_email\":\"a@b.c\"}")), APR_SUCCESS);
    ck_assert_int_eq(dp_json_get_int(body, "amount", 0), APR_INT64_C(10000000000));
    ck_assert_str_eq(dp_json_get_str(body, "buyer_email"), "a@b.c");
    ck_assert_str_eq(dp_json_get_str(body, "customer_uid"), "c");
}
END_TEST

/* ---- schedules ---- */

static json_object *schedule_in(const char *items)
{
    return parse(apr_psprintf(tp, "{\"customer_uid\":\"cu\",\"schedules\":[%s]}", items));
}

static const char *item(const char *mu, apr_int64_t at)
{
    return apr_psprintf(tp, "{\"merchant_uid\":\"%s\",\"schedule_at\":%" APR_INT64_T_FMT
                        ",\"amount\":1000,\"name\":\"monthly\"}", mu, at);
}

START_TEST(schedule_rules)
{
    dp_sub_env_t env = env_make();
    dp_problem_t *prob = NULL;
    json_object *body = NULL;
    const char *text;
    char *many = "";
    int i;

    ck_assert_int_eq(dp_sub_parse_schedule(&body, &prob, &env, schedule_in(
        apr_pstrcat(tp, item("a", NOW + 60), ",", item("b", NOW + DP_SUB_SCHEDULE_AHEAD_MAX), NULL))),
        APR_SUCCESS);
    ck_assert_int_eq(json_object_array_length(dp_json_get(body, "schedules")), 2);
    ck_assert_str_eq(dp_json_get_str(body, "customer_uid"), "cu");

    EXPECT(dp_sub_parse_schedule(&body, &prob, &env, schedule_in("")), 422, "schedules");
    for (i = 0; i < 51; ++i) {
        many = apr_pstrcat(tp, many, i ? "," : "", item(apr_psprintf(tp, "m%d", i), NOW + 60), NULL);
    }
    EXPECT(dp_sub_parse_schedule(&body, &prob, &env, schedule_in(many)), 422, "schedules");
    EXPECT(dp_sub_parse_schedule(&body, &prob, &env, schedule_in(item("a", NOW))), 422,
                   "schedules[0].schedule_at");
    EXPECT(dp_sub_parse_schedule(&body, &prob, &env, schedule_in(
        item("a", NOW + DP_SUB_SCHEDULE_AHEAD_MAX + 1))), 422, "schedules[0].schedule_at");
    text = EXPECT(dp_sub_parse_schedule(&body, &prob, &env, schedule_in(
        apr_pstrcat(tp, item("a", NOW + 60), ",", item("a", NOW + 120), NULL))), 422,
        "schedules[1].merchant_uid");
    ck_assert_ptr_nonnull(strstr(text, "\"field\":\"schedules[1].merchant_uid\""));
    EXPECT(dp_sub_parse_schedule(&body, &prob, &env, schedule_in(
        "{\"merchant_uid\":\"a\",\"schedule_at\":99999999999,\"amount\":0,\"name\":\"n\"}")), 422,
        "schedules[0]: ");
    EXPECT(dp_sub_parse_schedule(&body, &prob, &env, schedule_in(
        "{\"merchant_uid\":\"a\",\"schedule_at\":\"tomorrow\",\"amount\":1,\"name\":\"n\"}")), 400,
        "schedule_at");
    EXPECT(dp_sub_parse_schedule(&body, &prob, &env, schedule_in(
        "{\"merchant_uid\":\"a b\",\"schedule_at\":99999999999,\"amount\":1,\"name\":\"n\"}")), 422,
        "merchant_uid");
    EXPECT(dp_sub_parse_schedule(&body, &prob, &env, schedule_in("1")), 400, "schedules[0]");
    EXPECT(dp_sub_parse_schedule(&body, &prob, &env, parse(
        "{\"customer_uid\":\"cu\",\"schedules\":{}}")), 400, "schedules");
    EXPECT(dp_sub_parse_schedule(&body, &prob, &env, parse("{\"customer_uid\":\"cu\"}")),
                   400, "schedules");
    EXPECT(dp_sub_parse_schedule(&body, &prob, &env, parse(
        "{\"schedules\":[]}")), 400, "customer_uid");
}
END_TEST

START_TEST(unschedule_rules)
{
    dp_sub_env_t env = env_make();
    dp_problem_t *prob = NULL;
    json_object *body = NULL;

    ck_assert_int_eq(dp_sub_parse_unschedule(&body, &prob, &env, "cu", parse("{}")), APR_SUCCESS);
    ck_assert_str_eq(dp_json_get_str(body, "customer_uid"), "cu");
    ck_assert_ptr_null(dp_json_get(body, "merchant_uid"));
    ck_assert_int_eq(dp_sub_parse_unschedule(&body, &prob, &env, "cu", parse("{\"merchant_uid\":[\"a\",\"b\"]}")),
                     APR_SUCCESS);
    ck_assert_int_eq(json_object_array_length(dp_json_get(body, "merchant_uid")), 2);
    EXPECT(dp_sub_parse_unschedule(&body, &prob, &env, "cu", parse("{\"merchant_uid\":[]}")),
                   422, "merchant_uid");
    EXPECT(dp_sub_parse_unschedule(&body, &prob, &env, "cu", parse("{\"merchant_uid\":[\"a\",\"a\"]}")),
                   422, "merchant_uid[1]");
    EXPECT(dp_sub_parse_unschedule(&body, &prob, &env, "cu", parse("{\"merchant_uid\":[1]}")),
                   400, "merchant_uid[0]");
    EXPECT(dp_sub_parse_unschedule(&body, &prob, &env, "cu", parse("{\"merchant_uid\":\"a\"}")),
                   400, "merchant_uid");
    EXPECT(dp_sub_parse_unschedule(&body, &prob, &env, "cu", parse("{\"merchant_uid\":[\"a/b\"]}")),
                   422, "merchant_uid[0]");
    EXPECT(dp_sub_parse_unschedule(&body, &prob, &env, "c u", parse("{}")), 422, "customer_uid");
    EXPECT(dp_sub_parse_unschedule(&body, &prob, &env, "cu", parse("{\"all\":true}")), 400, "all");
}
END_TEST

START_TEST(window_rules)
{
    dp_problem_t *prob = NULL;

    ck_assert_int_eq(dp_sub_check_window(&prob, tp, NOW, NOW + DP_SUB_LIST_WINDOW_DEFAULT), APR_SUCCESS);
    ck_assert_int_eq(dp_sub_check_window(&prob, tp, NOW, NOW + DP_SUB_LIST_WINDOW_MAX), APR_SUCCESS);
    EXPECT(dp_sub_check_window(&prob, tp, NOW, NOW), 422, "to");
    EXPECT(dp_sub_check_window(&prob, tp, NOW, NOW - 1), 422, "to");
    EXPECT(dp_sub_check_window(&prob, tp, NOW, NOW + DP_SUB_LIST_WINDOW_MAX + 1), 422, "from");
}
END_TEST

/* ---- masking and wiping ---- */

START_TEST(mask_keeps_at_most_six_and_four_digits)
{
    ck_assert_ptr_null(dp_sub_mask_card(tp, NULL));
    ck_assert_str_eq(dp_sub_mask_card(tp, "411122******4444"), "411122******4444");
    ck_assert_str_eq(dp_sub_mask_card(tp, "5365-10**-****-1234"), "5365-10**-****-1234");
    ck_assert_str_eq(dp_sub_mask_card(tp, CARD_DIGITS), "411122******4444");
    ck_assert_str_eq(dp_sub_mask_card(tp, CARD), "4111-22**-****-4444");
    ck_assert_str_eq(dp_sub_mask_card(tp, "1234"), "****");
    ck_assert_int_le(strlen(dp_sub_mask_card(tp, "41112222333344445555666677778888")), 20);
}
END_TEST

START_TEST(wipe_overwrites_the_cached_text)
{
    json_object *o = parse("{\"card_number\":\"" CARD "\",\"expiry\":\"" EXPIRY "\",\"birth\":\"" BIRTH
                           "\",\"name\":\"keep\"}");
    const char *cached = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
    char *before = apr_pstrdup(tp, cached);

    ck_assert_ptr_nonnull(strstr(before, CARD));
    dp_sub_wipe_card(o);
    assert_no_card(cached);      /* the same buffer, overwritten in place */
    ck_assert_str_eq(dp_json_get_str(o, "name"), "keep");
    ck_assert_str_eq(dp_json_get_str(o, "birth"), "xxxxxx");
}
END_TEST

/* Subscriptions test case. */
TCase *tc_subscriptions(void)
{
    TCase *tc = tcase_create("subscriptions");
    tcase_add_test(tc, uid_rules);
    tcase_add_test(tc, card_number_rules);
    tcase_add_test(tc, expiry_rules);
    tcase_add_test(tc, birth_pwd_cvc_rules);
    tcase_add_test(tc, key_body_is_built_and_input_wiped);
    tcase_add_test(tc, key_body_normalises_number_and_uses_pg);
    tcase_add_test(tc, key_body_failures_never_echo_card_data);
    tcase_add_test(tc, pay_rules);
    tcase_add_test(tc, schedule_rules);
    tcase_add_test(tc, unschedule_rules);
    tcase_add_test(tc, window_rules);
    tcase_add_test(tc, mask_keeps_at_most_six_and_four_digits);
    tcase_add_test(tc, wipe_overwrites_the_cached_text);
    return tc;
}
