/* fuzz_router: method + raw path + query string, as the module's dispatch sees them.
 * Input: byte 0 picks the method, the rest is "path[?query]" (raw, %-encoded).
 * Checks, besides memory safety: a matched route is one of the table and needs a known scope;
 * 405 answers list only real methods; every decoded parameter is a C string the id checks
 * can judge, and an id those checks accept carries no '/', "..", '%' or control character
 * and is no "." or ".." segment (what would let a caller walk out of the engine or PortOne
 * path it is put into);
 * dp_url_decode(dp_url_encode(s)) == s for every decoded value. */
#include <stdlib.h>

#include "fuzz_common.h"
#include "dp_router.h"
#include "dp_routes.h"
#include "dp_util.h"
#include "dp_dk_policy.h"
#include "dp_dk_misc.h"
#include "dp_pay.h"

static const char *const methods[] = { "GET", "POST", "DELETE", "PUT", "HEAD", "PATCH", "OPTIONS", "get", "" };

/* True when s has a byte that must never reach an engine path through an accepted id. */
static int has_escape(const char *s)
{
    const char *c;

    if (strcmp(s, ".") == 0 || strcmp(s, "..") == 0 || strchr(s, '%') || strchr(s, '?') || strchr(s, '#') || strchr(s, '\\')) {
        return 1;
    }
    for (c = s; *c; ++c) {
        if ((unsigned char)*c < 0x20 || *c == 0x7f) {
            return 1;
        }
    }
    return 0;
}

static void check_value(apr_pool_t *p, const char *v)
{
    char *enc = dp_url_encode(p, v);
    char *dec = dp_url_decode(p, enc, strlen(enc));

    if (dec == NULL || strcmp(dec, v) != 0) {
        abort();   /* encode/decode do not round-trip */
    }
}

static int check_param(void *baton, const char *key, const char *val)
{
    apr_pool_t *p = baton;

    if (val == NULL) {
        abort();
    }
    if (dp_dk_valid_id(val) && (strchr(val, '/') || has_escape(val))) {
        abort();
    }
    if (dp_dk_name_ok(val) && (strchr(val, '/') || has_escape(val))) {
        abort();
    }
    if (dp_dk_valid_volume_name(val) && (strchr(val, '/') || has_escape(val))) {
        abort();
    }
    if (dp_dk_image_ref_ok(val) && (has_escape(val) || strstr(val, "//"))) {
        abort();
    }
    /* PortOne ids become URL path segments: no '/', no escapes, no dot segment */
    if (dp_pay_valid_imp_uid(val) && (!strcmp(val, ".") || !strcmp(val, "..") || strchr(val, '/') || has_escape(val))) {
        abort();
    }
    if (dp_pay_valid_merchant_uid(val) && strchr(val, '/')) {
        abort();
    }
    (void)dp_is_safe_token(val, 64);
    (void)dp_utf8_valid(val, strlen(val));
    check_value(p, val);
    (void)dp_dk_ref_encode(p, val);
    (void)key;
    return 1;
}

static int check_query(void *baton, const char *key, const char *val)
{
    apr_pool_t *p = baton;
    apr_int64_t n;
    int b;

    if (key == NULL || val == NULL) {
        abort();
    }
    (void)dp_parse_int(&n, val, -1, 100000);
    (void)dp_parse_bool(&b, val);
    (void)dp_dk_event_time_ok(val);
    (void)dp_dk_event_type_ok(val);
    check_value(p, key);
    check_value(p, val);
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p;
    const dp_route_t *route = NULL;
    apr_table_t *params = NULL, *query;
    const char *allow = NULL, *method;
    char *path, *q;
    apr_status_t rv;

    if (size < 1) {
        return 0;
    }
    fuzz_init();
    apr_pool_create(&p, NULL);
    method = methods[data[0] % (sizeof(methods) / sizeof(methods[0]))];
    path = fuzz_str(p, data + 1, size - 1);   /* a C string: stops at the first NUL, as httpd's r->uri */
    q = strchr(path, '?');
    if (q) {
        *q++ = '\0';
    }
    rv = dp_router_match(&route, &params, &allow, dp_routes, dp_routes_count, p, method, path);
    if (rv == APR_SUCCESS) {
        if (route < dp_routes || route >= dp_routes + dp_routes_count || params == NULL) {
            abort();
        }
        if (strcmp(route->method, method) != 0 && !(strcmp(method, "HEAD") == 0 && strcmp(route->method, "GET") == 0)) {
            abort();
        }
        apr_table_do(check_param, p, params, NULL);
    }
    else if (rv == DP_EMETHOD) {
        if (allow == NULL || (!strstr(allow, "GET") && !strstr(allow, "POST") && !strstr(allow, "DELETE"))) {
            abort();
        }
    }
    query = dp_parse_query(p, q);
    if (query == NULL) {
        abort();
    }
    apr_table_do(check_query, p, query, NULL);
    apr_pool_destroy(p);
    return 0;
}
