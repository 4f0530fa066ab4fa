/* Unit tests: strict JSON parsing, pool ownership, field readers, utilities. */
#include <string.h>
#include "check_dockpay.h"
#include "dp_json.h"
#include "dp_util.h"

static apr_status_t parse(json_object **o, dp_problem_t **pr, const char *s)
{
    return dp_json_parse(o, pr, tp, s, strlen(s));
}

START_TEST(parses_nested_values)
{
    json_object *o;
    dp_problem_t *pr = NULL;
    ck_assert_int_eq(parse(&o, &pr, "{\"a\": [1, 2.5, \"x\\u00e9\", true, null], \"b\": {\"c\": -3}}"), APR_SUCCESS);
    ck_assert_int_eq(json_object_array_length(dp_json_get(o, "a")), 5);
    ck_assert_int_eq(dp_json_get_int(dp_json_get(o, "b"), "c", 0), -3);
    ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(dp_json_get(o, "a"), 2)), "x\xc3\xa9");
}
END_TEST

START_TEST(rejects_bad_json_with_position)
{
    json_object *o;
    dp_problem_t *pr = NULL;
    ck_assert_int_eq(parse(&o, &pr, "{\"a\": 1,\n \"b\": }"), DP_EPROBLEM);
    ck_assert_int_eq(pr->status, 400);
    ck_assert_str_eq(pr->code, "malformed_json");
    ck_assert_ptr_nonnull(strstr(pr->detail, "line 2"));
}
END_TEST

START_TEST(rejects_duplicates_nul_utf8_depth_trailing)
{
    json_object *o;
    dp_problem_t *pr = NULL;
    char deep[200];
    int i;
    ck_assert_int_eq(parse(&o, &pr, "{\"a\": 1, \"a\": 2}"), DP_EPROBLEM);
    ck_assert_ptr_nonnull(strstr(pr->detail, "duplicate"));
    ck_assert_int_eq(parse(&o, &pr, "{\"a\": \"x\\u0000y\"}"), DP_EPROBLEM);
    ck_assert_int_eq(parse(&o, &pr, "{\"a\": \"\xff\xfe\"}"), DP_EPROBLEM);
    ck_assert_int_eq(parse(&o, &pr, "{\"a\": \"\\ud800\"}"), DP_EPROBLEM);
    ck_assert_int_eq(parse(&o, &pr, "{} {}"), DP_EPROBLEM);
    ck_assert_int_eq(parse(&o, &pr, "{\"a\": 1e999}"), DP_EPROBLEM);
    ck_assert_int_eq(dp_json_parse(&o, &pr, tp, "{\"a\":1}\0", 8), DP_EPROBLEM);
    for (i = 0; i < 40; ++i) deep[i] = '[';
    for (i = 40; i < 80; ++i) deep[i] = ']';
    deep[80] = '\0';
    ck_assert_int_eq(parse(&o, &pr, deep), DP_EPROBLEM);
    ck_assert_ptr_nonnull(strstr(pr->detail, "deeply"));
}
END_TEST

START_TEST(field_readers_name_the_field)
{
    json_object *o;
    dp_problem_t *pr = NULL;
    const char *s = NULL;
    apr_int64_t n = 0;
    int b = 0;
    ck_assert_int_eq(parse(&o, &pr, "{\"s\": 5, \"n\": 1.5, \"m\": -1, \"b\": \"yes\", \"ok\": 7}"), APR_SUCCESS);
    ck_assert_int_eq(dp_json_field_str(&s, &pr, tp, o, "s", 1, 10), DP_EPROBLEM);
    ck_assert_int_eq(pr->status, 400);
    ck_assert_ptr_nonnull(strstr(pr->detail, "'s'"));
    ck_assert_int_eq(dp_json_field_int(&n, &pr, tp, o, "n", 1, 0, 100), DP_EPROBLEM);
    ck_assert_int_eq(pr->status, 422);
    ck_assert_int_eq(dp_json_field_int(&n, &pr, tp, o, "m", 1, 1, 100), DP_EPROBLEM);
    ck_assert_int_eq(pr->status, 422);
    ck_assert_int_eq(dp_json_field_bool(&b, &pr, tp, o, "b", 1), DP_EPROBLEM);
    ck_assert_int_eq(dp_json_field_str(&s, &pr, tp, o, "missing", 1, 10), DP_EPROBLEM);
    ck_assert_str_eq(pr->code, "missing_field");
    ck_assert_int_eq(dp_json_field_int(&n, &pr, tp, o, "ok", 1, 1, 100), APR_SUCCESS);
    ck_assert_int_eq(n, 7);
}
END_TEST

START_TEST(serialises_in_pool)
{
    json_object *o = dp_json_object(tp);
    dp_json_set_str(o, "k", "v/w");
    dp_json_set_int(o, "n", 42);
    ck_assert_str_eq(dp_json_str(tp, o), "{\"k\":\"v/w\",\"n\":42}");
}
END_TEST

/* JSON test case. */
TCase *tc_json(void)
{
    TCase *tc = tcase_create("json");
    tcase_add_test(tc, parses_nested_values);
    tcase_add_test(tc, rejects_bad_json_with_position);
    tcase_add_test(tc, rejects_duplicates_nul_utf8_depth_trailing);
    tcase_add_test(tc, field_readers_name_the_field);
    tcase_add_test(tc, serialises_in_pool);
    return tc;
}

START_TEST(query_and_url_coding)
{
    apr_table_t *t = dp_parse_query(tp, "a=1&b=x%2Fy&c&d=%zz");
    ck_assert_str_eq(apr_table_get(t, "a"), "1");
    ck_assert_str_eq(apr_table_get(t, "b"), "x/y");
    ck_assert_str_eq(apr_table_get(t, "c"), "");
    ck_assert_ptr_nonnull(apr_table_get(t, "\001malformed"));
    ck_assert_ptr_null(dp_url_decode(tp, "%00", 3));
    ck_assert_ptr_null(dp_url_decode(tp, "%4", 2));
    ck_assert_str_eq(dp_url_encode(tp, "a b/c:d"), "a%20b%2Fc%3Ad");
}
END_TEST

START_TEST(ints_bools_tokens_utf8)
{
    apr_int64_t n;
    int b;
    ck_assert_int_eq(dp_parse_int(&n, "42", 0, 100), APR_SUCCESS);
    ck_assert_int_eq(n, 42);
    ck_assert_int_ne(dp_parse_int(&n, "101", 0, 100), APR_SUCCESS);
    ck_assert_int_ne(dp_parse_int(&n, "4x", 0, 100), APR_SUCCESS);
    ck_assert_int_ne(dp_parse_int(&n, "99999999999999999999999", 0, APR_INT64_MAX), APR_SUCCESS);
    ck_assert_int_eq(dp_parse_bool(&b, "TRUE"), APR_SUCCESS);
    ck_assert_int_eq(b, 1);
    ck_assert_int_ne(dp_parse_bool(&b, "maybe"), APR_SUCCESS);
    ck_assert(dp_is_safe_token("abc-1.2_x:y", 64));
    ck_assert(!dp_is_safe_token("a b", 64));
    ck_assert(!dp_is_safe_token("abcdef", 3));
    ck_assert(!dp_is_safe_token(".", 64));
    ck_assert(!dp_is_safe_token("..", 64));
    ck_assert(dp_is_safe_token("...", 64));
    ck_assert(dp_utf8_valid("h\xc3\xa9", 3));
    ck_assert(!dp_utf8_valid("\xc0\xaf", 2));   /* overlong */
    ck_assert(!dp_utf8_valid("\xe3\x81", 2));   /* truncated */
    ck_assert_str_eq(dp_str_clean(tp, "a\xff\xfe\r\nb", 64), "a????b");
    ck_assert_str_eq(dp_str_clean(tp, "h\xc3\xa9llo", 2), "h");       /* never half a character */
    ck_assert_str_eq(dp_str_clean(tp, "h\xc3\xa9llo", 3), "h\xc3\xa9");
    ck_assert_str_eq(dp_str_clean(tp, NULL, 5), "");
}
END_TEST

/* Utility test case. */
TCase *tc_util(void)
{
    TCase *tc = tcase_create("util");
    tcase_add_test(tc, query_and_url_coding);
    tcase_add_test(tc, ints_bools_tokens_utf8);
    return tc;
}
