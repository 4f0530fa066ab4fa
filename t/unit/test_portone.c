/* Unit tests: PortOne envelope mapping, transport mapping and the client without a server. */
#include <string.h>
#include "check_dockpay.h"
#include "dp_pay.h"
#include "dp_portone.h"
#include "dp_json.h"

/* Maps body/status and returns the problem (NULL on success, *presp set). */
static dp_problem_t *map(json_object **presp, int status, const char *body)
{
    dp_problem_t *prob = NULL;
    json_object *resp = NULL;
    apr_status_t rv = dp_portone_envelope(&resp, &prob, tp, status, body, body ? strlen(body) : 0);

    if (presp) *presp = resp;
    if (rv == APR_SUCCESS) {
        ck_assert_ptr_null(prob);
        return NULL;
    }
    ck_assert_int_eq(rv, DP_EPROBLEM);
    ck_assert_ptr_nonnull(prob);
    return prob;
}

static apr_int64_t ext_int(const dp_problem_t *prob, const char *key)
{
    ck_assert_ptr_nonnull(prob->ext);
    return dp_json_get_int(prob->ext, key, -999);
}

START_TEST(success_returns_response)
{
    json_object *resp = NULL;
    ck_assert_ptr_null(map(&resp, 200, "{\"code\":0,\"message\":null,\"response\":{\"imp_uid\":\"imp_1\",\"amount\":1000}}"));
    ck_assert_str_eq(dp_json_get_str(resp, "imp_uid"), "imp_1");
    ck_assert_int_eq(dp_json_get_int(resp, "amount", 0), 1000);
    ck_assert_ptr_null(map(&resp, 200, "{\"code\":0,\"message\":\"\",\"response\":null}"));
    ck_assert_ptr_null(resp);
    /* 207: partial multi-get is still a success */
    ck_assert_ptr_null(map(&resp, 207, "{\"code\":0,\"message\":\"some missing\",\"response\":[]}"));
    ck_assert_ptr_nonnull(resp);
}
END_TEST

START_TEST(not_found_is_404)
{
    dp_problem_t *prob = map(NULL, 404, "{\"code\":-1,\"message\":\"\xec\xa1\xb4\xec\x9e\xac\xed\x95\x98\xec\xa7\x80 \xec\x95\x8a\xeb\x8a\x94 \xea\xb2\xb0\xec\xa0\x9c\xec\xa0\x95\xeb\xb3\xb4\xec\x9e\x85\xeb\x8b\x88\xeb\x8b\xa4.\",\"response\":null}");
    ck_assert_int_eq(prob->status, 404);
    ck_assert_str_eq(prob->code, "portone_not_found");
    ck_assert_ptr_nonnull(strstr(prob->detail, "\xea\xb2\xb0\xec\xa0\x9c"));
    prob = map(NULL, 404, "Not Found");
    ck_assert_int_eq(prob->status, 404);
}
END_TEST

START_TEST(business_conflicts_are_409)
{
    /* duplicate prepare: "... (이미 등록된 merchant_uid입니다)." */
    dp_problem_t *prob = map(NULL, 200, "{\"code\":1,\"message\":\"\xea\xb2\xb0\xec\xa0\x9c (\xec\x9d\xb4\xeb\xaf\xb8 \xeb\x93\xb1\xeb\xa1\x9d)\",\"response\":null}");
    ck_assert_int_eq(prob->status, 409);
    ck_assert_str_eq(prob->code, "portone_conflict");
    ck_assert_int_eq(ext_int(prob, "portone_code"), 1);
    prob = map(NULL, 200, "{\"code\":1,\"message\":\"Already cancelled\",\"response\":null}");
    ck_assert_int_eq(prob->status, 409);
    prob = map(NULL, 200, "{\"code\":1,\"message\":\"duplicate merchant_uid\",\"response\":null}");
    ck_assert_int_eq(prob->status, 409);
    prob = map(NULL, 200, "{\"code\":1,\"message\":\"[x] (checksum mismatch)\",\"response\":null}");
    ck_assert_int_eq(prob->status, 409);
}
END_TEST

START_TEST(business_rejections_are_422)
{
    dp_problem_t *prob = map(NULL, 200, "{\"code\":-1,\"message\":\"card auth failed\",\"response\":null}");
    ck_assert_int_eq(prob->status, 422);
    ck_assert_str_eq(prob->code, "portone_rejected");
    ck_assert_str_eq(prob->detail, "card auth failed");
    ck_assert_int_eq(ext_int(prob, "portone_code"), -1);
    /* a 400 with an envelope (missing parameter) is PortOne refusing the values */
    prob = map(NULL, 400, "{\"code\":-1,\"message\":\"param missing: amount\",\"response\":null}");
    ck_assert_int_eq(prob->status, 422);
    ck_assert_str_eq(prob->detail, "param missing: amount");
}
END_TEST

START_TEST(upstream_failures_are_502)
{
    dp_problem_t *prob = map(NULL, 500, "{\"code\":-1,\"message\":\"boom\",\"response\":null}");
    ck_assert_int_eq(prob->status, 502);
    ck_assert_str_eq(prob->code, "portone_error");
    prob = map(NULL, 503, "<html>");
    ck_assert_int_eq(prob->status, 502);
    prob = map(NULL, 401, "{\"code\":-1,\"message\":\"Unauthorized\",\"response\":null}");
    ck_assert_int_eq(prob->status, 502);
    ck_assert_str_eq(prob->code, "portone_auth_failed");
    prob = map(NULL, 200, "<html>not json</html>");
    ck_assert_int_eq(prob->status, 502);
    ck_assert_str_eq(prob->code, "portone_bad_response");
    prob = map(NULL, 200, "{\"code\":\"0\",\"response\":{}}");
    ck_assert_str_eq(prob->code, "portone_bad_response");
    prob = map(NULL, 200, "");
    ck_assert_str_eq(prob->code, "portone_bad_response");
    prob = map(NULL, 405, "{\"code\":0,\"message\":null,\"response\":null}");
    ck_assert_int_eq(prob->status, 502);
}
END_TEST

START_TEST(transport_failures)
{
    dp_problem_t *prob = NULL;
    ck_assert_int_eq(dp_portone_transport_problem(&prob, tp, APR_ECONNREFUSED), DP_EPROBLEM);
    ck_assert_int_eq(prob->status, 503);
    ck_assert_str_eq(prob->code, "portone_unavailable");
    ck_assert_ptr_nonnull(prob->retry_after);
    dp_portone_transport_problem(&prob, tp, APR_TIMEUP);
    ck_assert_int_eq(prob->status, 504);
    ck_assert_str_eq(prob->code, "portone_timeout");
    dp_portone_transport_problem(&prob, tp, APR_EGENERAL);
    ck_assert_int_eq(prob->status, 503);
    dp_portone_transport_problem(&prob, tp, APR_ENOSPC);
    ck_assert_int_eq(prob->status, 502);
}
END_TEST

START_TEST(unconfigured_client_is_503)
{
    dp_problem_t *prob = NULL;
    json_object *resp = NULL;
    ck_assert_int_eq(dp_portone_call(&resp, &prob, NULL, tp, "GET", "/payments/imp_1", NULL), DP_EPROBLEM);
    ck_assert_int_eq(prob->status, 503);
    ck_assert_str_eq(prob->code, "portone_not_configured");
}
END_TEST

START_TEST(unreachable_portone_is_503_without_secrets)
{
    dp_portone_t *c = NULL;
    dp_portone_opts_t o;
    dp_problem_t *prob = NULL;
    json_object *resp = NULL;

    memset(&o, 0, sizeof(o));
    o.base_url = "http://127.0.0.1:1/";
    o.imp_key = "KEY-123";
    o.imp_secret = "SECRET-456";
    o.timeout_ms = 2000;
    o.connect_timeout_ms = 1000;
    ck_assert_int_eq(dp_portone_create(&c, tp, &o), APR_SUCCESS);
    ck_assert_int_eq(dp_portone_call(&resp, &prob, c, tp, "GET", "/payments/imp_1", NULL), DP_EPROBLEM);
    ck_assert_int_eq(prob->status, 503);
    ck_assert_str_eq(prob->code, "portone_unavailable");
    ck_assert_ptr_null(strstr(prob->detail, "SECRET"));
    ck_assert_int_eq(dp_portone_token_fetches(c), 1);
    dp_portone_child_init(c);
    ck_assert_int_eq(dp_portone_token_fetches(c), 0);
}
END_TEST

START_TEST(create_needs_url_and_credentials)
{
    dp_portone_t *c = NULL;
    dp_portone_opts_t o;
    memset(&o, 0, sizeof(o));
    o.base_url = "https://api.iamport.kr";
    ck_assert_int_eq(dp_portone_create(&c, tp, &o), APR_EINVAL);
    ck_assert_ptr_null(c);
}
END_TEST

/* PortOne client test case. */
TCase *tc_portone(void)
{
    TCase *tc = tcase_create("portone");
    tcase_add_test(tc, success_returns_response);
    tcase_add_test(tc, not_found_is_404);
    tcase_add_test(tc, business_conflicts_are_409);
    tcase_add_test(tc, business_rejections_are_422);
    tcase_add_test(tc, upstream_failures_are_502);
    tcase_add_test(tc, transport_failures);
    tcase_add_test(tc, unconfigured_client_is_503);
    tcase_add_test(tc, unreachable_portone_is_503_without_secrets);
    tcase_add_test(tc, create_needs_url_and_credentials);
    return tc;
}
