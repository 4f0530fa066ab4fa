/* fuzz_portone: what PortOne (or whoever answers in its place) sends the module.
 * Input: byte 0 picks the case, the rest is the body:
 *   0..3  a PortOne answer envelope with HTTP status 200 / 400 / 401 / 404 + 4xx/5xx from byte 1
 *   4     a webhook body as application/json
 *   5     a webhook body as application/x-www-form-urlencoded
 *   6     a webhook body with its Content-Type taken from the input (up to the first '\n')
 * Checks, besides memory safety: an envelope maps to success or a problem with a 4xx/5xx
 * status and a code (never a crash on a lying or truncated answer); a webhook either parses
 * into imp_uid, merchant_uid and status C strings without control characters, whose dedupe
 * key is 64 hex digits, or fails with a 4xx problem. */
#include <stdlib.h>

#include "fuzz_common.h"
#include "dp_pay.h"
#include "dp_portone.h"

static void no_controls(const char *s)
{
    if (s == NULL) {
        abort();
    }
    for (; *s; ++s) {
        if ((unsigned char)*s < 0x20 || *s == 0x7f) {
            abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int statuses[] = { 200, 400, 401, 404 };
    apr_pool_t *p;
    dp_problem_t *prob = NULL;
    json_object *resp = NULL;
    apr_status_t rv;
    unsigned sel;

    if (size < 2) {
        return 0;
    }
    fuzz_init();
    apr_pool_create(&p, NULL);
    sel = data[0] % 7;
    if (sel < 4) {
        int status = statuses[sel];
        if (data[0] >= 128) {
            status = 400 + data[1] % 200;
        }
        rv = dp_portone_envelope(&resp, &prob, p, status, (const char *)data + 2, size - 2);
        if (rv != APR_SUCCESS && (rv != DP_EPROBLEM || prob == NULL || prob->status < 400
                                  || prob->status > 599 || prob->code == NULL)) {
            abort();
        }
        if (rv == APR_SUCCESS && resp) {
            (void)dp_json_str(p, resp);
        }
    }
    else {
        dp_webhook_t ev;
        const char *ctype = sel == 4 ? "application/json" : "application/x-www-form-urlencoded";
        const char *body = (const char *)data + 1;
        apr_size_t len = size - 1;
        if (sel == 6) {
            const char *nl = memchr(body, '\n', len);
            apr_size_t clen = nl ? (apr_size_t)(nl - body) : len;
            ctype = fuzz_str(p, (const uint8_t *)body, clen);
            body += nl ? clen + 1 : clen;
            len -= nl ? clen + 1 : clen;
        }
        memset(&ev, 0, sizeof(ev));
        rv = dp_webhook_parse(&ev, &prob, p, ctype, body, len);
        if (rv == APR_SUCCESS) {
            const char *key;
            no_controls(ev.imp_uid);
            no_controls(ev.merchant_uid);
            no_controls(ev.status);
            if (ev.cancellation_id) {
                no_controls(ev.cancellation_id);
            }
            key = dp_webhook_dedupe_key(p, &ev);
            if (key == NULL || strlen(key) != 64 || strspn(key, "0123456789abcdef") != 64) {
                abort();
            }
        }
        else if (rv != DP_EPROBLEM || prob == NULL || prob->status < 400 || prob->status > 499) {
            abort();
        }
    }
    fuzz_problem(p, prob);
    apr_pool_destroy(p);
    return 0;
}
