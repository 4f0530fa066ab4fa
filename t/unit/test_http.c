/* Unit tests: the HTTP client's error mapping and header guard (no network needed). */
#include <string.h>
#include "check_dockpay.h"
#include "dp_http.h"

START_TEST(unreachable_socket_is_connrefused)
{
    dp_http_t *h;
    dp_http_opts_t o;
    dp_http_req_t req;
    dp_http_resp_t *resp;
    memset(&o, 0, sizeof(o));
    o.unix_socket = "/nonexistent/docker.sock";
    ck_assert_int_eq(dp_http_create(&h, tp, &o), APR_SUCCESS);
    memset(&req, 0, sizeof(req));
    req.method = "GET";
    req.url = "http://localhost/_ping";
    ck_assert_int_eq(dp_http_perform(&resp, h, tp, &req), APR_ECONNREFUSED);
}
END_TEST

START_TEST(closed_port_is_connrefused)
{
    dp_http_t *h;
    dp_http_opts_t o;
    dp_http_req_t req;
    dp_http_resp_t *resp;
    memset(&o, 0, sizeof(o));
    ck_assert_int_eq(dp_http_create(&h, tp, &o), APR_SUCCESS);
    memset(&req, 0, sizeof(req));
    req.method = "GET";
    req.url = "http://127.0.0.1:1/";
    ck_assert_int_eq(dp_http_perform(&resp, h, tp, &req), APR_ECONNREFUSED);
}
END_TEST

START_TEST(crlf_in_headers_is_refused)
{
    dp_http_t *h;
    dp_http_opts_t o;
    dp_http_req_t req;
    dp_http_resp_t *resp;
    memset(&o, 0, sizeof(o));
    ck_assert_int_eq(dp_http_create(&h, tp, &o), APR_SUCCESS);
    memset(&req, 0, sizeof(req));
    req.method = "GET";
    req.url = "http://127.0.0.1:1/";
    req.headers = apr_table_make(tp, 2);
    apr_table_setn(req.headers, "X-Registry-Auth", "abc\r\nX-Evil: 1");
    ck_assert_int_eq(dp_http_perform(&resp, h, tp, &req), APR_EINVAL);
}
END_TEST

/* HTTP client test case. */
TCase *tc_http(void)
{
    TCase *tc = tcase_create("http");
    tcase_add_test(tc, unreachable_socket_is_connrefused);
    tcase_add_test(tc, closed_port_is_connrefused);
    tcase_add_test(tc, crlf_in_headers_is_refused);
    return tc;
}
