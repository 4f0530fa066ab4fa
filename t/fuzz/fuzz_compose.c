/* fuzz_compose: the compose YAML intake of POST /compose.
 * Input: byte 0 picks the mode, the rest is the YAML text:
 *   even: dp_yaml_parse alone; an accepted document serialised as JSON (JSON is YAML) must
 *         parse back to the same JSON;
 *   odd:  dp_dk_compose_check under the strictest policy (one bind prefix).
 * Checks, besides memory safety: refusals are 4xx problems; an accepted compose document has
 * version 2.4, only the allowed top-level keys, every service, volume and network stamped with
 * the key, no '$' other than "$$" anywhere, no host path outside the bind prefix; and it is a
 * fixed point: its JSON (without the stamped labels) passes the checker again and gives the
 * same document. */
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "dp_yaml.h"
#include "dp_dk_compose.h"

#define PREFIX "/tmp/dp-fuzz-compose"

static void expect_4xx(const dp_problem_t *prob, apr_status_t rv)
{
    if (rv != APR_SUCCESS && (rv != DP_EPROBLEM || prob == NULL || prob->status < 400 || prob->status > 499)) {
        abort();
    }
}

/* Aborts on a lone '$' in a key or string below v. */
static void no_dollar(json_object *v)
{
    const char *s;
    size_t i;

    if (v == NULL) return;
    if (json_object_is_type(v, json_type_string)) {
        s = json_object_get_string(v);
        for (i = 0; s[i]; ++i) {
            if (s[i] == '$' && s[i + 1] != '$') abort();
            if (s[i] == '$') ++i;
        }
    }
    else if (json_object_is_type(v, json_type_array)) {
        for (i = 0; i < json_object_array_length(v); ++i) no_dollar(json_object_array_get_idx(v, i));
    }
    else if (json_object_is_type(v, json_type_object)) {
        json_object_object_foreach(v, k, m) {
            for (i = 0; k[i]; ++i) {
                if (k[i] == '$' && k[i + 1] != '$') abort();
                if (k[i] == '$') ++i;
            }
            no_dollar(m);
        }
    }
}

/* Aborts unless o's labels carry the key; removes the stamped labels (for the second pass). */
static void stamped(json_object *o, int external_ok)
{
    json_object *l = dp_json_get(o, "labels");
    const char *k = dp_json_get_str(l, "dockpay.key"), *m = dp_json_get_str(l, "dockpay.managed");

    if (external_ok && json_object_get_boolean(dp_json_get(o, "external"))) {
        if (l) abort();
        return;
    }
    if (k == NULL || strcmp(k, "fuzzkey") || m == NULL || strcmp(m, "true")) abort();
    json_object_object_del(l, "dockpay.key");
    json_object_object_del(l, "dockpay.managed");
    if (!external_ok) {
        /* a service also carries the limits it runs with, for the quotas */
        if (dp_json_get_str(l, "dockpay.memory") == NULL || dp_json_get_str(l, "dockpay.nanocpus") == NULL) abort();
        json_object_object_del(l, "dockpay.memory");
        json_object_object_del(l, "dockpay.nanocpus");
    }
}

static void check_doc(apr_pool_t *p, const dp_dk_policy_t *pol, json_object *doc)
{
    static const char *const tops[] = { "version", "services", "volumes", "networks", NULL };
    json_object *copy = NULL;
    dp_dk_compose_plan_t again;
    dp_problem_t *prob = NULL;
    const char *first, *text;
    size_t i;
    int j;

    if (strcmp(dp_json_get_str(doc, "version"), "2.4")) abort();
    {
        json_object_object_foreach(doc, k, v) {
            int ok = 0;
            (void)v;
            for (j = 0; tops[j]; ++j) ok |= !strcmp(k, tops[j]);
            if (!ok) abort();
        }
    }
    no_dollar(doc);
    first = apr_pstrdup(p, json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    if (json_object_deep_copy(doc, &copy, NULL) != 0) abort();
    dp_json_own(p, copy);
    {
        json_object_object_foreach(dp_json_get(copy, "services"), k, s) {
            json_object *vols = dp_json_get(s, "volumes");
            (void)k;
            stamped(s, 0);
            for (i = 0; vols && i < json_object_array_length(vols); ++i) {
                const char *v = json_object_get_string(json_object_array_get_idx(vols, i));
                if (v[0] == '/' && strchr(v, ':') && strncmp(v, PREFIX "/", strlen(PREFIX) + 1)) abort();
            }
        }
    }
    for (j = 0; j < 2; ++j) {
        json_object *sec = dp_json_get(copy, j ? "networks" : "volumes");
        if (sec == NULL) continue;
        {
            json_object_object_foreach(sec, k, o) {
                (void)k;
                stamped(o, 1);
            }
        }
    }
    /* the fixed point */
    text = json_object_to_json_string_ext(copy, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
    if (dp_dk_compose_check(&again, &prob, p, pol, text, strlen(text), "proj", "fuzzkey") != APR_SUCCESS) {
        abort();
    }
    if (strcmp(first, json_object_to_json_string_ext(again.doc, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE))) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static apr_array_header_t *binds;
    static apr_pool_t *gp;
    dp_dk_policy_t pol;
    apr_pool_t *p;
    dp_problem_t *prob = NULL;
    apr_status_t rv;
    const char *text;

    if (size < 1) {
        return 0;
    }
    fuzz_init();
    if (gp == NULL) {
        apr_pool_create(&gp, NULL);
        binds = apr_array_make(gp, 1, sizeof(const char *));
        APR_ARRAY_PUSH(binds, const char *) = PREFIX;
    }
    memset(&pol, 0, sizeof(pol));
    pol.binds = binds;
    pol.socket = "/tmp/dp-fuzz-docker.sock";
    apr_pool_create(&p, NULL);
    text = fuzz_str(p, data + 1, size - 1);
    if (data[0] % 2 == 0) {
        json_object *o = NULL, *back = NULL;
        rv = dp_yaml_parse(&o, &prob, p, text, size - 1);
        expect_4xx(prob, rv);
        fuzz_problem(p, prob);
        if (rv == APR_SUCCESS && o != NULL) {
            const char *js = apr_pstrdup(p, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
            dp_problem_t *p2 = NULL;
            if (dp_yaml_parse(&back, &p2, p, js, strlen(js)) != APR_SUCCESS
                || strcmp(js, json_object_to_json_string_ext(back, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE))) {
                /* the only expected difference: bounds (a JSON text longer than the YAML) */
                if (p2 == NULL || strcmp(p2->code, "yaml_too_complex")) abort();
            }
        }
    }
    else {
        dp_dk_compose_plan_t plan;
        rv = dp_dk_compose_check(&plan, &prob, p, &pol, text, size - 1, "proj", "fuzzkey");
        expect_4xx(prob, rv);
        fuzz_problem(p, prob);
        if (rv == APR_SUCCESS) {
            check_doc(p, &pol, plan.doc);
        }
    }
    apr_pool_destroy(p);
    return 0;
}
