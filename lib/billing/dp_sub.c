/* dp_sub: subscriptions — validation, PortOne billing keys, "again", schedules, records. */
#include <string.h>
#include <stdarg.h>
#include <apr_strings.h>
#include <apr_hash.h>
#include <apr_lib.h>
#include <apr_time.h>

#include "dp_sub.h"
#include "dp_billing.h"
#include "dp_json.h"
#include "dp_util.h"
#include "dp_store_sub.h"
#include "dp_store_pay.h"
#include "dp_outbox.h"
#include "dp_pay.h"

/* The members that carry card data; only ever validated, sent once and wiped. */
static const char *const card_members[] = { "card_number", "expiry", "birth", "pwd_2digit", "cvc", NULL };

/* An optional plain string member copied from the client's body to PortOne's. */
typedef struct {
    const char *name;
    apr_size_t max;   /* bytes */
} str_member_t;

static const str_member_t customer_members[] = {
    { "customer_id", 80 }, { "customer_name", 64 }, { "customer_tel", 20 },
    { "customer_email", 128 }, { "customer_addr", 200 }, { "customer_postcode", 10 }, { NULL, 0 }
};

static const str_member_t buyer_members[] = {
    { "buyer_name", 64 }, { "buyer_tel", 20 }, { "buyer_email", 128 },
    { "buyer_addr", 200 }, { "buyer_postcode", 10 }, { NULL, 0 }
};

static const char *const key_fields[] = {
    "customer_uid", "card_number", "expiry", "birth", "pwd_2digit", "cvc", "customer_id",
    "customer_name", "customer_tel", "customer_email", "customer_addr", "customer_postcode", NULL
};

static const char *const pay_fields[] = {
    "customer_uid", "merchant_uid", "amount", "name", "buyer_name", "buyer_tel", "buyer_email",
    "buyer_addr", "buyer_postcode", NULL
};

static const char *const schedule_fields[] = { "customer_uid", "schedules", NULL };

static const char *const schedule_item_fields[] = {
    "merchant_uid", "schedule_at", "amount", "name", "buyer_name", "buyer_tel", "buyer_email",
    "buyer_addr", "buyer_postcode", "currency", NULL
};

static const char *const unschedule_fields[] = { "merchant_uid", NULL };

/* ------------------------------------------------------------------------------------------ */
/* helpers */

/* Overwrites n bytes at s with c in a way the compiler cannot drop. */
static void wipe_bytes(void *s, char c, apr_size_t n)
{
    volatile char *v = s;
    while (n--) {
        *v++ = c;
    }
}

/* Fails with a 422 invalid_value naming field (also as the "field" member). */
static apr_status_t invalid(dp_problem_t **pprob, apr_pool_t *p, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static apr_status_t invalid(dp_problem_t **pprob, apr_pool_t *p, const char *field, const char *fmt, ...)
{
    va_list ap;
    dp_problem_t *prob;

    if (pprob == NULL) {
        return DP_EPROBLEM;
    }
    prob = dp_problem_make(p, 422, "invalid_value", NULL);
    va_start(ap, fmt);
    prob->detail = apr_pvsprintf(p, fmt, ap);
    va_end(ap);
    dp_problem_add(prob, p, "field", json_object_new_string(field));
    *pprob = prob;
    return DP_EPROBLEM;
}

/* Prefixes the problem of a schedule item with its position ("schedules[2]: ..."). */
static apr_status_t in_item(dp_problem_t **pprob, apr_pool_t *p, int i, apr_status_t rv)
{
    if (pprob && *pprob && (*pprob)->detail) {
        (*pprob)->detail = apr_psprintf(p, "schedules[%d]: %s", i, (*pprob)->detail);
    }
    return rv;
}

/* Counts the characters of s that are digits; *pother counts the others. */
static apr_size_t count_digits(const char *s, apr_size_t *pother)
{
    apr_size_t d = 0, o = 0;

    for (; *s; ++s) {
        if (apr_isdigit(*s)) ++d;
        else ++o;
    }
    *pother = o;
    return d;
}

/* Returns the string member key of o without copying it (a card field stays in one place);
 * 400 for a missing required member or a wrong type (the detail names the field only). */
static apr_status_t secret_member(const char **pval, dp_problem_t **pprob, apr_pool_t *p,
                                  json_object *o, const char *key, int required)
{
    json_object *v = dp_json_get(o, key);

    *pval = NULL;
    if (v == NULL) {
        return required ? dp_problem_fail(pprob, p, 400, "missing_field", "the field '%s' is required", key)
                        : APR_SUCCESS;
    }
    if (!json_object_is_type(v, json_type_string)) {
        return dp_problem_fail(pprob, p, 400, "wrong_type", "the field '%s' must be a string", key);
    }
    *pval = json_object_get_string(v);
    return APR_SUCCESS;
}

/* Reads a required uid member of o (1..maxlen of the safe set) and copies it to out (if set). */
static apr_status_t uid_member(const char **pval, dp_problem_t **pprob, apr_pool_t *p, json_object *o,
                               const char *key, apr_size_t maxlen, json_object *out)
{
    const char *v = NULL;
    apr_status_t rv;

    if ((rv = dp_json_field_str(&v, pprob, p, o, key, 1, 1024)) != APR_SUCCESS
        || (rv = dp_sub_check_uid(pprob, p, key, v, maxlen)) != APR_SUCCESS) {
        return rv;
    }
    if (out) {
        dp_json_set_str(out, key, v);
    }
    *pval = v;
    return APR_SUCCESS;
}

/* Reads a required amount member (1..10^10) of o into *pval and copies it to out. */
static apr_status_t amount_member(apr_int64_t *pval, dp_problem_t **pprob, apr_pool_t *p, json_object *o,
                                  json_object *out)
{
    apr_status_t rv = dp_json_field_int(pval, pprob, p, o, "amount", 1, 1, DP_SUB_AMOUNT_MAX);
    if (rv == APR_SUCCESS) {
        dp_json_set_int(out, "amount", *pval);
    }
    return rv;
}

/* Copies the optional string members listed in members from in to out (checked by length). */
static apr_status_t copy_members(dp_problem_t **pprob, apr_pool_t *p, json_object *in,
                                 json_object *out, const str_member_t *members)
{
    for (; members->name; ++members) {
        const char *v = NULL;
        apr_status_t rv = dp_json_field_str(&v, pprob, p, in, members->name, 0, members->max);
        if (rv != APR_SUCCESS) {
            return rv;
        }
        dp_json_set_str(out, members->name, v);
    }
    return APR_SUCCESS;
}

/* Reads a required order name (1..DP_SUB_NAME_MAX bytes) and copies it to out. */
static apr_status_t name_member(dp_problem_t **pprob, apr_pool_t *p, json_object *in, json_object *out)
{
    const char *v = NULL;
    apr_status_t rv = dp_json_field_str(&v, pprob, p, in, "name", 1, DP_SUB_NAME_MAX);
    if (rv == APR_SUCCESS) {
        dp_json_set_str(out, "name", v);
    }
    return rv;
}

/* Returns s cut to at most max bytes on a UTF-8 character boundary (in p); NULL stays NULL. */
static const char *clip(apr_pool_t *p, const char *s, apr_size_t max)
{
    apr_size_t n;

    if (s == NULL || strlen(s) <= max) {
        return s;
    }
    n = max;
    while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80) {
        --n;
    }
    return apr_pstrmemdup(p, s, n);
}

/* ------------------------------------------------------------------------------------------ */
/* single-value checks */

/* Checks a customer_uid or merchant_uid. */
apr_status_t dp_sub_check_uid(dp_problem_t **pprob, apr_pool_t *p, const char *field,
                              const char *v, apr_size_t maxlen)
{
    if (!dp_is_safe_token(v, maxlen)) {
        return invalid(pprob, p, field, "%s must be 1 to %lu characters of A-Z, a-z, 0-9, '_', '.', ':' "
                       "and '-'", field, (unsigned long)maxlen);
    }
    return APR_SUCCESS;
}

/* Checks a card number. */
apr_status_t dp_sub_check_card_number(dp_problem_t **pprob, apr_pool_t *p, const char *v)
{
    apr_size_t digits = 0, i;

    for (i = 0; v[i]; ++i) {
        if (apr_isdigit(v[i])) {
            ++digits;
        }
        else if (v[i] != '-' || i == 0 || !apr_isdigit(v[i - 1]) || !apr_isdigit(v[i + 1])) {
            return invalid(pprob, p, "card_number", "card_number must be digits, optionally "
                           "grouped by single dashes");
        }
    }
    if (digits < 14 || digits > 16) {
        return invalid(pprob, p, "card_number", "card_number is not 14\xe2\x80\x93" "16 digits");
    }
    return APR_SUCCESS;
}

/* Checks a card expiry. */
apr_status_t dp_sub_check_expiry(dp_problem_t **pprob, apr_pool_t *p, const char *v, apr_int64_t now)
{
    apr_time_exp_t tm;
    int i, year = 0, month = 0;

    if (strlen(v) != 7 || v[4] != '-') {
        return invalid(pprob, p, "expiry", "expiry must be YYYY-MM");
    }
    for (i = 0; i < 7; ++i) {
        if (i == 4) continue;
        if (!apr_isdigit(v[i])) {
            return invalid(pprob, p, "expiry", "expiry must be YYYY-MM");
        }
        if (i < 4) year = year * 10 + (v[i] - '0');
        else month = month * 10 + (v[i] - '0');
    }
    if (month < 1 || month > 12) {
        return invalid(pprob, p, "expiry", "expiry must be YYYY-MM with a month from 01 to 12");
    }
    apr_time_exp_lt(&tm, apr_time_from_sec(now));
    if (year * 12 + month < (tm.tm_year + 1900) * 12 + tm.tm_mon + 1) {
        return invalid(pprob, p, "expiry", "expiry is in the past");
    }
    if (year > tm.tm_year + 1900 + 50) {
        return invalid(pprob, p, "expiry", "expiry is too far in the future");
    }
    return APR_SUCCESS;
}

/* Checks a run of min..max digits. */
apr_status_t dp_sub_check_digits(dp_problem_t **pprob, apr_pool_t *p, const char *field,
                                 const char *v, apr_size_t min, apr_size_t max)
{
    apr_size_t other, n = count_digits(v, &other);

    if (other != 0 || n < min || n > max) {
        if (min == max) {
            return invalid(pprob, p, field, "%s is not %lu digits", field, (unsigned long)min);
        }
        return invalid(pprob, p, field, "%s is not %lu\xe2\x80\x93%lu digits", field,
                       (unsigned long)min, (unsigned long)max);
    }
    return APR_SUCCESS;
}

/* Checks a birth date (YYMMDD) or a 10-digit business number. */
apr_status_t dp_sub_check_birth(dp_problem_t **pprob, apr_pool_t *p, const char *v)
{
    apr_size_t other, n = count_digits(v, &other);

    if (other != 0 || (n != 6 && n != 10)) {
        return invalid(pprob, p, "birth", "birth is not 6 digits (YYMMDD) or 10 digits (business number)");
    }
    return APR_SUCCESS;
}

/* Keeps at most the first 6 and last 4 digits of a masked card number. */
const char *dp_sub_mask_card(apr_pool_t *p, const char *masked)
{
    apr_size_t other, n, i, d = 0, len;
    char *out;

    if (masked == NULL) {
        return NULL;
    }
    n = count_digits(masked, &other);
    len = strlen(masked);
    if (len > 20) {
        len = 20;
    }
    out = apr_pstrmemdup(p, masked, len);
    for (i = 0; i < len; ++i) {
        if (apr_isdigit(out[i])) {
            if (d >= 6 && d + 4 < n) {
                out[i] = '*';
            }
            ++d;
        }
        else if (!apr_isprint(out[i])) {
            out[i] = '*';
        }
    }
    if (strchr(out, '*') == NULL) {
        return "****";   /* nothing masked: no number at all is safer than a guess */
    }
    return out;
}

/* Wipes the card members of o and the cached text of o. */
void dp_sub_wipe_card(json_object *o)
{
    const char *const *k;
    int wiped = 0;

    for (k = card_members; *k; ++k) {
        json_object *v = dp_json_get(o, *k);
        if (v && json_object_is_type(v, json_type_string)) {
            apr_size_t n = (apr_size_t)json_object_get_string_len(v);
            char *s = (char *)json_object_get_string(v);
            wipe_bytes(s, 'x', n);  /* same length: the re-serialised text overwrites the old one */
            wiped = 1;
        }
        else if (v) {
            json_object_object_del(o, *k);  /* a wrongly typed value (a number) goes entirely */
            wiped = 1;
        }
    }
    if (wiped) {
        json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
    }
}

/* Replaces member "card_number" of o by its safely masked form. */
static void mask_member(apr_pool_t *p, json_object *o)
{
    const char *cn = dp_json_get_str(o, "card_number");

    if (cn) {
        json_object_object_add(o, "card_number", json_object_new_string(dp_sub_mask_card(p, cn)));
    }
}

/* ------------------------------------------------------------------------------------------ */
/* request parsers */

/* Validates the card members of in (borrowed, never copied into a pool) and puts them into body
 * (card_number normalised to dddd-dddd-dddd-d...). */
static apr_status_t card_to_body(dp_problem_t **pprob, apr_pool_t *p, json_object *in, json_object *body,
                                 apr_int64_t now)
{
    const char *number, *expiry, *birth, *pwd, *cvc;
    char buf[32];
    apr_size_t i, o = 0, d = 0;
    apr_status_t rv;

    if ((rv = secret_member(&number, pprob, p, in, "card_number", 1)) != APR_SUCCESS
        || (rv = dp_sub_check_card_number(pprob, p, number)) != APR_SUCCESS
        || (rv = secret_member(&expiry, pprob, p, in, "expiry", 1)) != APR_SUCCESS
        || (rv = dp_sub_check_expiry(pprob, p, expiry, now)) != APR_SUCCESS
        || (rv = secret_member(&birth, pprob, p, in, "birth", 1)) != APR_SUCCESS
        || (rv = dp_sub_check_birth(pprob, p, birth)) != APR_SUCCESS
        || (rv = secret_member(&pwd, pprob, p, in, "pwd_2digit", 1)) != APR_SUCCESS
        || (rv = dp_sub_check_digits(pprob, p, "pwd_2digit", pwd, 2, 2)) != APR_SUCCESS
        || (rv = secret_member(&cvc, pprob, p, in, "cvc", 0)) != APR_SUCCESS
        || (cvc && (rv = dp_sub_check_digits(pprob, p, "cvc", cvc, 3, 4)) != APR_SUCCESS)) {
        return rv;
    }
    for (i = 0; number[i]; ++i) {
        if (apr_isdigit(number[i])) {
            if (d > 0 && d % 4 == 0 && d <= 12) {
                buf[o++] = '-';
            }
            buf[o++] = number[i];
            ++d;
        }
    }
    buf[o] = '\0';
    json_object_object_add(body, "card_number", json_object_new_string(buf));
    wipe_bytes(buf, 0, sizeof(buf));
    json_object_object_add(body, "expiry", json_object_new_string(expiry));
    json_object_object_add(body, "birth", json_object_new_string(birth));
    json_object_object_add(body, "pwd_2digit", json_object_new_string(pwd));
    if (cvc) {
        json_object_object_add(body, "cvc", json_object_new_string(cvc));
    }
    return APR_SUCCESS;
}

/* Parses POST /subscriptions/billing-key. */
apr_status_t dp_sub_parse_key(json_object **pbody, const char **pcustomer_uid, dp_problem_t **pprob,
                              const dp_sub_env_t *env, json_object *in)
{
    apr_pool_t *p = env->pool;
    json_object *body = dp_json_object(p);
    const char *cu = NULL;
    apr_status_t rv;

    *pbody = NULL;
    *pcustomer_uid = NULL;
    if ((rv = dp_json_only_fields(pprob, p, in, key_fields)) != APR_SUCCESS
        || (rv = uid_member(&cu, pprob, p, in, "customer_uid", DP_SUB_CUSTOMER_UID_MAX, NULL)) != APR_SUCCESS
        || (rv = card_to_body(pprob, p, in, body, env->now)) != APR_SUCCESS
        || (rv = copy_members(pprob, p, in, body, customer_members)) != APR_SUCCESS) {
        goto leave;
    }
    if (env->channel_key) {
        dp_json_set_str(body, "channel_key", env->channel_key);
    }
    else if (env->pg) {
        dp_json_set_str(body, "pg", env->pg);
    }
    *pbody = body;
    *pcustomer_uid = cu;
leave:
    dp_sub_wipe_card(in);
    if (rv != APR_SUCCESS) {
        dp_sub_wipe_card(body);
    }
    return rv;
}

/* Parses POST /subscriptions/pay. */
apr_status_t dp_sub_parse_pay(json_object **pbody, dp_problem_t **pprob, const dp_sub_env_t *env,
                              json_object *in)
{
    apr_pool_t *p = env->pool;
    json_object *body = dp_json_object(p);
    const char *cu, *mu;
    apr_int64_t amount;
    apr_status_t rv;

    *pbody = NULL;
    if ((rv = dp_json_only_fields(pprob, p, in, pay_fields)) != APR_SUCCESS
        || (rv = uid_member(&cu, pprob, p, in, "customer_uid", DP_SUB_CUSTOMER_UID_MAX, body)) != APR_SUCCESS
        || (rv = uid_member(&mu, pprob, p, in, "merchant_uid", DP_SUB_MERCHANT_UID_MAX, body)) != APR_SUCCESS
        || (rv = amount_member(&amount, pprob, p, in, body)) != APR_SUCCESS
        || (rv = name_member(pprob, p, in, body)) != APR_SUCCESS
        || (rv = copy_members(pprob, p, in, body, buyer_members)) != APR_SUCCESS) {
        return rv;
    }
    *pbody = body;
    return APR_SUCCESS;
}

/* Parses one schedule item i of POST /subscriptions/schedule into out; seen holds the
 * merchant_uids of the items before it. */
static apr_status_t parse_schedule_item(json_object **pout, dp_problem_t **pprob, const dp_sub_env_t *env,
                                        json_object *it, int i, apr_hash_t *seen)
{
    apr_pool_t *p = env->pool;
    json_object *out = json_object_new_object();
    const char *mu = NULL, *currency = NULL;
    apr_int64_t at = 0, amount;
    apr_status_t rv;

    *pout = NULL;
    if (!json_object_is_type(it, json_type_object)) {
        rv = dp_problem_fail(pprob, p, 400, "wrong_type", "schedules[%d] must be an object", i);
        goto leave;
    }
    if ((rv = dp_json_only_fields(pprob, p, it, schedule_item_fields)) != APR_SUCCESS
        || (rv = uid_member(&mu, pprob, p, it, "merchant_uid", DP_SUB_MERCHANT_UID_MAX, out)) != APR_SUCCESS
        || (rv = dp_json_field_int(&at, pprob, p, it, "schedule_at", 1, 0, APR_INT64_MAX)) != APR_SUCCESS
        || (rv = amount_member(&amount, pprob, p, it, out)) != APR_SUCCESS
        || (rv = name_member(pprob, p, it, out)) != APR_SUCCESS
        || (rv = copy_members(pprob, p, it, out, buyer_members)) != APR_SUCCESS
        || (rv = dp_pay_field_currency(&currency, pprob, p, it, "currency")) != APR_SUCCESS) {
        rv = in_item(pprob, p, i, rv);
        goto leave;
    }
    if (at <= env->now) {
        rv = invalid(pprob, p, apr_psprintf(p, "schedules[%d].schedule_at", i),
                     "schedules[%d].schedule_at is not in the future", i);
        goto leave;
    }
    if (at > env->now + DP_SUB_SCHEDULE_AHEAD_MAX) {
        rv = invalid(pprob, p, apr_psprintf(p, "schedules[%d].schedule_at", i),
                     "schedules[%d].schedule_at is more than a year ahead", i);
        goto leave;
    }
    if (apr_hash_get(seen, mu, APR_HASH_KEY_STRING)) {
        rv = invalid(pprob, p, apr_psprintf(p, "schedules[%d].merchant_uid", i),
                     "schedules[%d].merchant_uid '%s' appears more than once", i, mu);
        goto leave;
    }
    apr_hash_set(seen, mu, APR_HASH_KEY_STRING, "");
    dp_json_set_int(out, "schedule_at", at);
    *pout = out;
    out = NULL;
leave:
    json_object_put(out);
    return rv;
}

/* Parses POST /subscriptions/schedule. */
apr_status_t dp_sub_parse_schedule(json_object **pbody, dp_problem_t **pprob,
                                   const dp_sub_env_t *env, json_object *in)
{
    apr_pool_t *p = env->pool;
    json_object *body = dp_json_object(p), *items, *list;
    apr_hash_t *seen = apr_hash_make(p);
    const char *cu;
    apr_size_t i, n;
    apr_status_t rv;

    *pbody = NULL;
    if ((rv = dp_json_only_fields(pprob, p, in, schedule_fields)) != APR_SUCCESS
        || (rv = uid_member(&cu, pprob, p, in, "customer_uid", DP_SUB_CUSTOMER_UID_MAX, body)) != APR_SUCCESS) {
        return rv;
    }
    if ((items = dp_json_get(in, "schedules")) == NULL) {
        return dp_problem_fail(pprob, p, 400, "missing_field", "the field 'schedules' is required");
    }
    if (!json_object_is_type(items, json_type_array)) {
        return dp_problem_fail(pprob, p, 400, "wrong_type", "the field 'schedules' must be an array");
    }
    n = json_object_array_length(items);
    if (n < 1 || n > DP_SUB_SCHEDULES_MAX) {
        return invalid(pprob, p, "schedules", "schedules must hold 1 to %d items", DP_SUB_SCHEDULES_MAX);
    }
    list = json_object_new_array();
    json_object_object_add(body, "schedules", list);
    for (i = 0; i < n; ++i) {
        json_object *out;
        if ((rv = parse_schedule_item(&out, pprob, env, json_object_array_get_idx(items, i), (int)i,
                                      seen)) != APR_SUCCESS) {
            return rv;
        }
        json_object_array_add(list, out);
    }
    *pbody = body;
    return APR_SUCCESS;
}

/* Parses DELETE /subscriptions/schedule/{customer_uid}. */
apr_status_t dp_sub_parse_unschedule(json_object **pbody, dp_problem_t **pprob,
                                     const dp_sub_env_t *env, const char *customer_uid,
                                     json_object *in)
{
    apr_pool_t *p = env->pool;
    json_object *body = dp_json_object(p), *mus, *list;
    apr_hash_t *seen = apr_hash_make(p);
    apr_size_t i, n;
    apr_status_t rv;

    *pbody = NULL;
    if ((rv = dp_json_only_fields(pprob, p, in, unschedule_fields)) != APR_SUCCESS
        || (rv = dp_sub_check_uid(pprob, p, "customer_uid", customer_uid, DP_SUB_CUSTOMER_UID_MAX)) != APR_SUCCESS) {
        return rv;
    }
    dp_json_set_str(body, "customer_uid", customer_uid);
    if ((mus = dp_json_get(in, "merchant_uid")) != NULL) {
        if (!json_object_is_type(mus, json_type_array)) {
            return dp_problem_fail(pprob, p, 400, "wrong_type",
                                   "the field 'merchant_uid' must be an array of strings");
        }
        n = json_object_array_length(mus);
        if (n < 1 || n > DP_SUB_SCHEDULES_MAX) {
            return invalid(pprob, p, "merchant_uid", "merchant_uid must hold 1 to %d items (leave it "
                           "out to revoke all)", DP_SUB_SCHEDULES_MAX);
        }
        list = json_object_new_array();
        json_object_object_add(body, "merchant_uid", list);
        for (i = 0; i < n; ++i) {
            json_object *v = json_object_array_get_idx(mus, i);
            const char *mu;
            if (!json_object_is_type(v, json_type_string)) {
                return dp_problem_fail(pprob, p, 400, "wrong_type", "merchant_uid[%d] must be a string", (int)i);
            }
            mu = json_object_get_string(v);
            if ((rv = dp_sub_check_uid(pprob, p, apr_psprintf(p, "merchant_uid[%d]", (int)i), mu,
                                       DP_SUB_MERCHANT_UID_MAX)) != APR_SUCCESS) {
                return rv;
            }
            if (apr_hash_get(seen, mu, APR_HASH_KEY_STRING)) {
                return invalid(pprob, p, apr_psprintf(p, "merchant_uid[%d]", (int)i),
                               "merchant_uid[%d] '%s' appears more than once", (int)i, mu);
            }
            apr_hash_set(seen, mu, APR_HASH_KEY_STRING, "");
            json_object_array_add(list, json_object_new_string(mu));
        }
    }
    *pbody = body;
    return APR_SUCCESS;
}

/* Checks a schedule listing window. */
apr_status_t dp_sub_check_window(dp_problem_t **pprob, apr_pool_t *p, apr_int64_t from,
                                 apr_int64_t to)
{
    if (to <= from) {
        return invalid(pprob, p, "to", "to must be later than from");
    }
    if (to - from > DP_SUB_LIST_WINDOW_MAX) {
        return invalid(pprob, p, "to", "from..to spans more than %d days", DP_SUB_LIST_WINDOW_MAX / 86400);
    }
    return APR_SUCCESS;
}

/* ------------------------------------------------------------------------------------------ */
/* operations */

/* Fails with 502 when PortOne answered code 0 with a response of the wrong shape. */
static apr_status_t bad_answer(dp_problem_t **pprob, apr_pool_t *p, const char *what)
{
    return dp_problem_fail(pprob, p, 502, "portone_bad_response",
                           "PortOne answered %s with an unexpected response", what);
}

/* Calls PortOne and requires a response of JSON type type. */
static apr_status_t portone(json_object **presp, dp_problem_t **pprob, const dp_sub_env_t *env,
                            const char *method, const char *path, json_object *body, json_type type)
{
    apr_status_t rv = dp_portone_call(presp, pprob, env->portone, env->pool, method, path, body);

    if (rv == APR_SUCCESS && (*presp == NULL || !json_object_is_type(*presp, type))) {
        return bad_answer(pprob, env->pool, path);
    }
    return rv;
}

/* Returns PortOne's path of the billing key customer_uid. */
static const char *key_path(apr_pool_t *p, const char *customer_uid)
{
    return apr_pstrcat(p, "/subscribe/customers/", dp_url_encode(p, customer_uid), NULL);
}

/* Records an issued (deleted false) or deleted billing key and its outbox event in one
 * transaction (a delete that changes nothing writes no event). */
static apr_status_t key_change(dp_problem_t **pprob, const dp_sub_env_t *env,
                               const dp_sub_key_rec_t *k, int deleted)
{
    dp_tx_t *tx = NULL;
    apr_status_t rv;
    int changed = 1;

    if ((rv = dp_store_tx_begin(&tx, pprob, env->db)) != APR_SUCCESS) {
        return rv;
    }
    rv = deleted ? dp_store_sub_key_deleted(&changed, pprob, env->db, k->customer_uid, env->now)
                 : dp_store_sub_key_save(pprob, env->db, k, env->now);
    if (rv == APR_SUCCESS && changed) {
        rv = dp_outbox_billing_key(pprob, env->db, k, deleted);
    }
    if (rv != APR_SUCCESS) {
        dp_store_tx_end(NULL, tx, 0);
        return rv;
    }
    return dp_store_tx_end(pprob, tx, 1);
}

/* Issues a billing key. */
apr_status_t dp_sub_issue_key(json_object **pcustomer, dp_problem_t **pprob,
                              const dp_sub_env_t *env, const char *customer_uid, json_object *body)
{
    json_object *c = NULL;
    dp_sub_key_rec_t rec;
    apr_status_t rv;

    *pcustomer = NULL;
    rv = portone(&c, pprob, env, "POST", key_path(env->pool, customer_uid), body, json_type_object);
    dp_sub_wipe_card(body);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    mask_member(env->pool, c);
    memset(&rec, 0, sizeof(rec));
    rec.customer_uid = customer_uid;
    rec.pg_provider = clip(env->pool, dp_json_get_str(c, "pg_provider"), 16);
    rec.pg_id = clip(env->pool, dp_json_get_str(c, "pg_id"), 80);
    rec.card_name = clip(env->pool, dp_json_get_str(c, "card_name"), 64);
    rec.card_code = clip(env->pool, dp_json_get_str(c, "card_code"), 8);
    rec.card_number = dp_json_get_str(c, "card_number");
    if ((rv = key_change(pprob, env, &rec, 0)) != APR_SUCCESS) {
        return rv;
    }
    *pcustomer = c;
    return APR_SUCCESS;
}

/* Returns PortOne's billing key object. */
apr_status_t dp_sub_get_key(json_object **pcustomer, dp_problem_t **pprob,
                            const dp_sub_env_t *env, const char *customer_uid)
{
    apr_status_t rv;

    *pcustomer = NULL;
    if ((rv = dp_sub_check_uid(pprob, env->pool, "customer_uid", customer_uid, DP_SUB_CUSTOMER_UID_MAX)) != APR_SUCCESS
        || (rv = portone(pcustomer, pprob, env, "GET", key_path(env->pool, customer_uid), NULL,
                         json_type_object)) != APR_SUCCESS) {
        return rv;
    }
    mask_member(env->pool, *pcustomer);
    return APR_SUCCESS;
}

/* Deletes a billing key. */
apr_status_t dp_sub_delete_key(json_object **pcustomer, dp_problem_t **pprob,
                               const dp_sub_env_t *env, const char *customer_uid)
{
    dp_sub_key_rec_t k;
    apr_status_t rv;

    *pcustomer = NULL;
    if ((rv = dp_sub_check_uid(pprob, env->pool, "customer_uid", customer_uid, DP_SUB_CUSTOMER_UID_MAX)) != APR_SUCCESS) {
        return rv;
    }
    memset(&k, 0, sizeof(k));
    k.customer_uid = customer_uid;
    rv = portone(pcustomer, pprob, env, "DELETE", key_path(env->pool, customer_uid), NULL, json_type_object);
    if (rv != APR_SUCCESS) {
        if (pprob && *pprob && (*pprob)->status == 404 && env->db) {
            /* PortOne has no such key: neither should the local records */
            key_change(NULL, env, &k, 1);
        }
        return rv;
    }
    mask_member(env->pool, *pcustomer);
    if ((rv = key_change(pprob, env, &k, 1)) != APR_SUCCESS) {
        return rv;
    }
    /* billing (issue 15): the customer loses its means of payment */
    return dp_billing_on_key_deleted(pprob, env->db, customer_uid, env->now);
}

/* Charges a billing key now. */
apr_status_t dp_sub_pay(json_object **ppayment, dp_problem_t **pprob, const dp_sub_env_t *env,
                        json_object *body)
{
    json_object *pay = NULL;
    apr_int64_t amount = dp_json_get_int(body, "amount", 0);
    apr_status_t rv;

    *ppayment = NULL;
    if ((rv = portone(&pay, pprob, env, "POST", "/subscribe/payments/again", body,
                      json_type_object)) != APR_SUCCESS) {
        return rv;
    }
    mask_member(env->pool, pay);
    if ((rv = dp_pay_record(NULL, pprob, env->db, pay, &amount, 1)) != APR_SUCCESS
        || (rv = dp_billing_on_payment_object(pprob, env->db, pay)) != APR_SUCCESS) {   /* issue 15 */
        return rv;
    }
    *ppayment = pay;
    return APR_SUCCESS;
}

/* Fills rec from a PortOne schedule result (customer_uid falls back to dflt_cu); 0 when the item
 * has no merchant_uid. */
static int sched_rec(dp_sub_sched_rec_t *rec, apr_pool_t *p, json_object *it, const char *dflt_cu)
{
    const char *st = dp_json_get_str(it, "schedule_status");
    const char *ps = dp_json_get_str(it, "payment_status");

    memset(rec, 0, sizeof(*rec));
    rec->merchant_uid = dp_json_get_str(it, "merchant_uid");
    rec->customer_uid = dp_json_get_str(it, "customer_uid");
    if (rec->customer_uid == NULL) {
        rec->customer_uid = dflt_cu;
    }
    if (rec->merchant_uid == NULL || strlen(rec->merchant_uid) > DP_SUB_MERCHANT_UID_MAX
        || rec->customer_uid == NULL || strlen(rec->customer_uid) > DP_SUB_CUSTOMER_UID_MAX) {
        return 0;
    }
    rec->schedule_at = dp_json_get_int(it, "schedule_at", 0);
    dp_pay_json_amount(&rec->amount, it, "amount");
    rec->name = clip(p, dp_json_get_str(it, "name"), DP_SUB_NAME_MAX);
    rec->imp_uid = clip(p, dp_json_get_str(it, "imp_uid"), 32);
    rec->executed_at = dp_json_get_int(it, "executed_at", 0);
    rec->revoked_at = dp_json_get_int(it, "revoked_at", 0);
    if (st && !strcmp(st, "revoked")) {
        rec->status = "revoked";
    }
    else if (st && !strcmp(st, "executed")) {
        rec->status = (dp_pay_status_of(ps) == DP_PAY_FAILED) ? "failed" : "executed";
    }
    else {
        rec->status = "scheduled";
    }
    return rec->amount > 0;
}

/* Records the schedule results in items (an array from PortOne) in one transaction; with
 * orders, also records each as an order expecting its amount (so that the webhook of its
 * execution is accepted by the payments records). */
static apr_status_t record_schedules(dp_problem_t **pprob, const dp_sub_env_t *env, json_object *items,
                                     const char *customer_uid, int orders)
{
    dp_tx_t *tx = NULL;
    apr_size_t i, n = json_object_array_length(items);
    apr_status_t rv;

    if ((rv = dp_store_tx_begin(&tx, pprob, env->db)) != APR_SUCCESS) {
        return rv;
    }
    for (i = 0; i < n; ++i) {
        dp_sub_sched_rec_t rec;
        if (!sched_rec(&rec, env->pool, json_object_array_get_idx(items, i), customer_uid)) {
            continue;
        }
        const char *before = NULL;   /* outbox: an event when the status changes */
        if ((rv = dp_store_sub_schedule_status(&before, pprob, env->db, rec.merchant_uid)) != APR_SUCCESS
            || (rv = dp_store_sub_schedule_save(pprob, env->db, &rec, env->now)) != APR_SUCCESS
            || ((before == NULL || strcmp(before, rec.status) != 0)
                && (rv = dp_outbox_schedule(pprob, env->db, &rec)) != APR_SUCCESS)
            || (orders && (rv = dp_store_pay_ensure(pprob, env->db, rec.merchant_uid)) != APR_SUCCESS)
            || (orders && (rv = dp_store_pay_set_prepared(pprob, env->db, rec.merchant_uid, rec.amount,
                                                          0)) != APR_SUCCESS)) {
            break;
        }
    }
    if (rv != APR_SUCCESS) {
        dp_store_tx_end(NULL, tx, 0);
        return rv;
    }
    return dp_store_tx_end(pprob, tx, 1);
}

/* Sends body to a PortOne schedule route and records the schedules it answers (scheduled when
 * registering, revoked otherwise). */
static apr_status_t schedule_call(json_object **pitems, dp_problem_t **pprob, const dp_sub_env_t *env,
                                  json_object *body, const char *path, int registering)
{
    json_object *items = NULL;
    apr_status_t rv;

    *pitems = NULL;
    if ((rv = portone(&items, pprob, env, "POST", path, body, json_type_array)) != APR_SUCCESS
        || (rv = record_schedules(pprob, env, items, dp_json_get_str(body, "customer_uid"),
                                  registering)) != APR_SUCCESS) {
        return rv;
    }
    *pitems = items;
    return APR_SUCCESS;
}

/* Registers schedules. */
apr_status_t dp_sub_schedule(json_object **pitems, dp_problem_t **pprob, const dp_sub_env_t *env,
                             json_object *body)
{
    return schedule_call(pitems, pprob, env, body, "/subscribe/payments/schedule", 1);
}

/* Revokes schedules. */
apr_status_t dp_sub_unschedule(json_object **pitems, dp_problem_t **pprob, const dp_sub_env_t *env,
                               json_object *body)
{
    apr_status_t rv = schedule_call(pitems, pprob, env, body, "/subscribe/payments/unschedule", 0);

    if (rv != APR_SUCCESS) {
        return rv;
    }
    /* billing (issue 15): the last schedule revoked with nothing paid for the period */
    return dp_billing_on_unschedule(pprob, env->db, dp_json_get_str(body, "customer_uid"), env->now);
}

/* Most pages of a schedule list fetched for one request. */
#define LIST_PAGES_MAX 50

/* Lists the schedules of a customer at PortOne. */
apr_status_t dp_sub_list_schedules(json_object **pitems, dp_problem_t **pprob,
                                   const dp_sub_env_t *env, const char *customer_uid,
                                   apr_int64_t from, apr_int64_t to)
{
    apr_pool_t *p = env->pool;
    json_object *all = dp_json_array(p);
    apr_int64_t page = 1;
    int fetched = 0;
    apr_status_t rv;

    *pitems = NULL;
    if ((rv = dp_sub_check_uid(pprob, p, "customer_uid", customer_uid, DP_SUB_CUSTOMER_UID_MAX)) != APR_SUCCESS
        || (rv = dp_sub_check_window(pprob, p, from, to)) != APR_SUCCESS) {
        return rv;
    }
    for (;;) {
        const char *path = apr_psprintf(p, "/subscribe/payments/schedule/customers/%s?from=%"
                                        APR_INT64_T_FMT "&to=%" APR_INT64_T_FMT "&page=%" APR_INT64_T_FMT,
                                        dp_url_encode(p, customer_uid), from, to, page);
        json_object *resp = NULL, *list;
        apr_int64_t next = 0;
        apr_size_t i, n;

        if ((rv = dp_portone_call(&resp, pprob, env->portone, p, "GET", path, NULL)) != APR_SUCCESS) {
            return rv;
        }
        /* SPEC says a bare array; the clients (and the fake) see {total, previous, next, list} */
        list = (resp && json_object_is_type(resp, json_type_array)) ? resp : dp_json_get(resp, "list");
        if (list == NULL || !json_object_is_type(list, json_type_array)) {
            if (resp == NULL) {
                break;
            }
            return bad_answer(pprob, p, "a schedule list");
        }
        n = json_object_array_length(list);
        for (i = 0; i < n; ++i) {
            json_object_array_add(all, json_object_get(json_object_array_get_idx(list, i)));
        }
        if (list != resp) {
            next = dp_json_get_int(resp, "next", 0);
        }
        if (n == 0 || next <= page || ++fetched >= LIST_PAGES_MAX) {
            break;
        }
        page = next;
    }
    if (env->db && json_object_array_length(all) > 0
        && (rv = record_schedules(pprob, env, all, customer_uid, 0)) != APR_SUCCESS) {
        return rv;
    }
    *pitems = all;
    return APR_SUCCESS;
}

/* Lists the local billing keys with their schedules. */
apr_status_t dp_sub_list(json_object **pout, dp_problem_t **pprob, const dp_sub_env_t *env,
                         int page, int limit, const char *state)
{
    json_object *items = NULL, *out;
    apr_int64_t total = 0;
    apr_status_t rv;

    *pout = NULL;
    if ((rv = dp_store_sub_list(&items, &total, pprob, env->db, page, limit, state)) != APR_SUCCESS) {
        return rv;
    }
    out = dp_json_object(env->pool);
    dp_json_set_ref(out, "items", items);
    dp_json_set_int(out, "page", page);
    dp_json_set_int(out, "limit", limit);
    dp_json_set_int(out, "total", total);
    *pout = out;
    return APR_SUCCESS;
}
