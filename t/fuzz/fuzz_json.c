/* fuzz_json: the strict JSON intake every POST body goes through (dp_json_parse) and the
 * field readers handlers use on it. Input: the raw body.
 * Checks, besides memory safety: a rejected body is a 400 problem; an accepted body is an
 * object/array/scalar that serialises to text the parser accepts again, with the same text
 * (what the module forwards to Docker or PortOne is what it checked); the field readers only
 * ever fail with 400 or 422, and a string they accept is within its length (non-empty when
 * required) without control characters. */
#include <stdlib.h>

#include "fuzz_common.h"

static const char *const keys[] = { "name", "image", "amount", "merchant_uid", "imp_uid", "docker",
                                    "labels", "auth", "schedules", "", NULL };

static void expect_4xx(const dp_problem_t *prob, apr_status_t rv)
{
    if (rv != APR_SUCCESS && (rv != DP_EPROBLEM || prob == NULL || (prob->status != 400 && prob->status != 422))) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p;
    json_object *obj = NULL, *again = NULL;
    dp_problem_t *prob = NULL;
    apr_status_t rv;
    const char *text, *text2;
    int i;

    fuzz_init();
    apr_pool_create(&p, NULL);
    rv = dp_json_parse(&obj, &prob, p, (const char *)data, size);
    if (rv != APR_SUCCESS) {
        if (rv != DP_EPROBLEM || prob == NULL || prob->status != 400 || prob->detail == NULL) {
            abort();
        }
        fuzz_problem(p, prob);
        goto leave;
    }
    text = dp_json_str(p, obj);
    prob = NULL;
    if (dp_json_parse(&again, &prob, p, text, strlen(text)) != APR_SUCCESS) {
        abort();   /* the module would send JSON it does not accept itself */
    }
    text2 = dp_json_str(p, again);
    if (strcmp(text, text2) != 0) {
        abort();
    }
    for (i = 0; keys[i]; ++i) {
        const char *s = NULL;
        apr_int64_t n = 0;
        int b = 0;

        prob = NULL;
        rv = dp_json_field_str(&s, &prob, p, obj, keys[i], i & 1, 255);
        expect_4xx(prob, rv);
        if (rv == APR_SUCCESS && s && ((strlen(s) == 0 && (i & 1)) || strlen(s) > 255)) {
            abort();
        }
        for (; rv == APR_SUCCESS && s && *s; ++s) {
            if ((unsigned char)*s < 0x20 || *s == 0x7f) {
                abort();
            }
        }
        prob = NULL;
        rv = dp_json_field_int(&n, &prob, p, obj, keys[i], 0, 1, APR_INT64_C(10000000000000));
        expect_4xx(prob, rv);
        if (rv == APR_SUCCESS && (n < 0 || n > APR_INT64_C(10000000000000))) {
            abort();
        }
        prob = NULL;
        rv = dp_json_field_bool(&b, &prob, p, obj, keys[i], 0);
        expect_4xx(prob, rv);
        (void)dp_json_get_str(obj, keys[i]);
        (void)dp_json_get_int(obj, keys[i], -1);
        (void)dp_json_get_bool(obj, keys[i], -1);
    }
    prob = NULL;
    rv = dp_json_only_fields(&prob, p, obj, keys);
    expect_4xx(prob, rv);
    fuzz_problem(p, prob);
leave:
    apr_pool_destroy(p);
    return 0;
}
