/* fuzz_subs: the subscription POST/DELETE bodies (billing key with card data, charge-now,
 * schedule, unschedule) through lib/billing/dp_sub.c's parsers. Input: byte 0 picks the parser, the
 * rest is the raw body. Checks, besides memory safety: refusals are 400/422 problems; the
 * card number of the request never appears in a problem (details name the field, never a
 * card value) and is wiped from the parsed request afterwards, on success and on failure. */
#include <stdlib.h>

#include "fuzz_common.h"
#include "dp_sub.h"

#define NOW APR_INT64_C(1767225600)   /* 2026-01-01: fixed, so that runs reproduce */

/* True when s looks like card data: at least 6 digits and nothing but digits, '-' and ' '. */
static int cardlike(const char *s)
{
    apr_size_t digits = 0;

    for (; *s; ++s) {
        if (*s >= '0' && *s <= '9') {
            ++digits;
        }
        else if (*s != '-' && *s != ' ') {
            return 0;
        }
    }
    return digits >= 6;
}

static void expect_4xx(const dp_problem_t *prob, apr_status_t rv)
{
    if (rv != APR_SUCCESS && (rv != DP_EPROBLEM || prob == NULL || (prob->status != 400 && prob->status != 422))) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p;
    json_object *in = NULL, *copy = NULL, *out = NULL;
    dp_problem_t *prob = NULL;
    dp_sub_env_t env;
    const char *cu = NULL, *card = NULL, *others;
    apr_status_t rv;
    unsigned sel;

    if (size < 1) {
        return 0;
    }
    fuzz_init();
    apr_pool_create(&p, NULL);
    memset(&env, 0, sizeof(env));
    env.pool = p;
    env.now = NOW;
    sel = data[0] % 5;
    env.channel_key = (data[0] & 0x80) ? NULL : "channel-key-fuzz";
    env.pg = (data[0] & 0x80) ? "html5_inicis.INIBillTst" : NULL;
    rv = dp_json_parse(&in, &prob, p, (const char *)data + 1, size - 1);
    if (rv != APR_SUCCESS) {
        goto leave;
    }
    if (sel == 0) {
        /* the card number, and whether the same text also sits in a field that may be echoed */
        card = dp_json_get_str(in, "card_number");
        if (card && cardlike(card)) {
            card = apr_pstrdup(p, card);
            dp_json_parse(&copy, NULL, p, (const char *)data + 1, size - 1);
            json_object_object_del(copy, "card_number");
            others = dp_json_str(p, copy);
            if (strstr(others, card)) {
                card = NULL;
            }
        }
        else {
            card = NULL;
        }
        rv = dp_sub_parse_key(&out, &cu, &prob, &env, in);
        expect_4xx(prob, rv);
        if (card) {
            const char *now = dp_json_get_str(in, "card_number");
            if ((now && strcmp(now, card) == 0) || strstr(dp_json_str(p, in), card)) {
                abort();   /* the request's card number was not wiped */
            }
            if (prob && strstr(dp_json_str(p, dp_problem_json(p, prob)), card)) {
                abort();   /* a problem echoes the card number */
            }
        }
        if (rv == APR_SUCCESS && (cu == NULL || out == NULL)) {
            abort();
        }
    }
    else if (sel == 1) {
        rv = dp_sub_parse_pay(&out, &prob, &env, in);
        expect_4xx(prob, rv);
    }
    else if (sel == 2) {
        rv = dp_sub_parse_schedule(&out, &prob, &env, in);
        expect_4xx(prob, rv);
    }
    else if (sel == 3) {
        rv = dp_sub_parse_unschedule(&out, &prob, &env, "cu_fuzz", in);
        expect_4xx(prob, rv);
    }
    else {
        /* single-value checks on every string member */
        if (json_object_is_type(in, json_type_object)) {
            json_object_object_foreach(in, k, v) {
                const char *s = json_object_get_string(v);
                dp_problem_t *pr = NULL;
                (void)k;
                if (!json_object_is_type(v, json_type_string)) {
                    continue;
                }
                rv = dp_sub_check_uid(&pr, p, "customer_uid", s, DP_SUB_CUSTOMER_UID_MAX);
                expect_4xx(pr, rv);
                pr = NULL;
                rv = dp_sub_check_card_number(&pr, p, s);
                expect_4xx(pr, rv);
                if (pr && cardlike(s) && strstr(dp_json_str(p, dp_problem_json(p, pr)), s)) {
                    abort();
                }
                pr = NULL;
                rv = dp_sub_check_expiry(&pr, p, s, NOW);
                expect_4xx(pr, rv);
                pr = NULL;
                rv = dp_sub_check_birth(&pr, p, s);
                expect_4xx(pr, rv);
                pr = NULL;
                rv = dp_sub_check_digits(&pr, p, "pwd_2digit", s, 2, 2);
                expect_4xx(pr, rv);
                {
                    const char *m = dp_sub_mask_card(p, s);
                    apr_size_t digits = 0, i;
                    for (i = 0; m && m[i]; ++i) {
                        digits += (m[i] >= '0' && m[i] <= '9');
                    }
                    if (m && (strlen(m) > 20 || digits > 10)) {
                        abort();   /* a "masked" number keeps more than 6+4 digits */
                    }
                }
            }
        }
        {
            dp_problem_t *pr = NULL;
            apr_int64_t from = (apr_int64_t)(size * 7919) - 40000, to = from + (apr_int64_t)(data[0]) * 86400;
            rv = dp_sub_check_window(&pr, p, from, to);
            expect_4xx(pr, rv);
        }
    }
leave:
    fuzz_problem(p, prob);
    apr_pool_destroy(p);
    return 0;
}
