/* fuzz_payments: the intake of the payment POST bodies, with the checks handlers/h_payments.c
 * makes on them in the same order (dp_json_parse, dp_json_only_fields, the field readers and
 * the dp_pay_* value checks). Input: byte 0 picks the body (prepare, cancel, vbank, verify),
 * the rest is the raw body. Checks, besides memory safety: every refusal is a 400/422
 * problem; an accepted amount is 1..10^13 (never negative, never wrapped); accepted ids pass
 * the id checks; a normalised bank code is three digits with a name. */
#include <stdlib.h>

#include "fuzz_common.h"
#include "dp_pay.h"

#define MAX_AMOUNT APR_INT64_C(10000000000000)

static void expect_4xx(const dp_problem_t *prob, apr_status_t rv)
{
    if (rv != APR_SUCCESS && (rv != DP_EPROBLEM || prob == NULL || (prob->status != 400 && prob->status != 422))) {
        abort();
    }
}

typedef struct {
    const char *key;
    char kind;          /* 's' string, 'i' integer, 'm' merchant_uid, 'u' imp_uid, 'b' bank code */
    int required;
    apr_int64_t lo, hi; /* integer range, or string max length in hi */
} field_t;

static const field_t prepare[] = {
    { "merchant_uid", 'm', 1, 0, 40 }, { "amount", 'i', 1, 1, MAX_AMOUNT }, { NULL, 0, 0, 0, 0 } };
static const field_t cancel[] = {
    { "imp_uid", 'u', 0, 0, 32 }, { "merchant_uid", 'm', 0, 0, 40 }, { "amount", 'i', 0, 1, MAX_AMOUNT },
    { "reason", 's', 0, 0, 256 }, { "tax_free", 'i', 0, 0, MAX_AMOUNT }, { "refund_holder", 's', 0, 0, 64 },
    { "refund_bank", 'b', 0, 0, 4 }, { "refund_account", 's', 0, 0, 32 }, { NULL, 0, 0, 0, 0 } };
static const field_t vbank[] = {
    { "merchant_uid", 'm', 1, 0, 40 }, { "amount", 'i', 1, 1, MAX_AMOUNT }, { "vbank_code", 'b', 1, 0, 8 },
    { "vbank_due", 'i', 0, 1700000000, 1900000000 }, { "vbank_holder", 's', 1, 0, 64 }, { "name", 's', 1, 0, 80 },
    { "buyer_name", 's', 0, 0, 64 }, { "buyer_email", 's', 0, 0, 128 }, { "buyer_tel", 's', 0, 0, 32 },
    { "buyer_addr", 's', 0, 0, 128 }, { "buyer_postcode", 's', 0, 0, 8 }, { NULL, 0, 0, 0, 0 } };
static const field_t verify[] = {
    { "imp_uid", 'u', 1, 0, 32 }, { "amount", 'i', 0, 0, MAX_AMOUNT }, { "status", 's', 0, 0, 16 },
    { NULL, 0, 0, 0, 0 } };
static const field_t *const bodies[] = { prepare, cancel, vbank, verify };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *allowed[16];
    const field_t *f;
    apr_pool_t *p;
    json_object *body = NULL;
    dp_problem_t *prob = NULL;
    apr_status_t rv;
    int i;

    if (size < 1) {
        return 0;
    }
    fuzz_init();
    apr_pool_create(&p, NULL);
    f = bodies[data[0] % 4];
    for (i = 0; f[i].key; ++i) {
        allowed[i] = f[i].key;
    }
    allowed[i] = NULL;
    rv = dp_json_parse(&body, &prob, p, (const char *)data + 1, size - 1);
    expect_4xx(prob, rv);
    if (rv != APR_SUCCESS) {
        goto leave;
    }
    rv = dp_json_only_fields(&prob, p, body, allowed);
    expect_4xx(prob, rv);
    for (i = 0; rv == APR_SUCCESS && f[i].key; ++i) {
        const char *s = NULL;
        apr_int64_t n = -1;

        if (f[i].kind == 'i') {
            rv = dp_json_field_int(&n, &prob, p, body, f[i].key, f[i].required, f[i].lo, f[i].hi);
            expect_4xx(prob, rv);
            if (rv == APR_SUCCESS && n != -1 && (n < f[i].lo || n > f[i].hi)) {
                abort();
            }
            if (rv == APR_SUCCESS) {
                apr_int64_t m = 0;
                if (dp_pay_json_amount(&m, body, f[i].key) && n != -1 && m != n) {
                    abort();   /* two readers disagree on the same amount */
                }
            }
            continue;
        }
        rv = dp_json_field_str(&s, &prob, p, body, f[i].key, f[i].required, (apr_size_t)f[i].hi);
        expect_4xx(prob, rv);
        if (rv != APR_SUCCESS || s == NULL) {
            continue;
        }
        if ((strlen(s) == 0 && f[i].required) || strlen(s) > (size_t)f[i].hi) {
            abort();
        }
        if (f[i].kind == 'm') {
            (void)dp_pay_valid_merchant_uid(s);
        }
        else if (f[i].kind == 'u' && dp_pay_valid_imp_uid(s) && strpbrk(s, "/%?# ")) {
            abort();
        }
        else if (f[i].kind == 'b') {
            const char *b = dp_pay_bank_normalise(p, s);
            if (b && (strlen(b) != 3 || strspn(b, "0123456789") != 3 || dp_pay_bank_name(b) == NULL)) {
                abort();
            }
        }
        else {
            (void)dp_pay_status_rank(s);
            (void)dp_pay_status_advances(s, "paid");
        }
    }
leave:
    fuzz_problem(p, prob);
    apr_pool_destroy(p);
    return 0;
}
