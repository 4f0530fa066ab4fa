/* dp_sub: subscriptions through PortOne V1 billing keys — request validation (everything is
 * checked before anything is sent), charge-now ("again"), scheduled payments, and the local
 * records. Card data (number, expiry, birth date, password digits, CVC) goes to PortOne once:
 * it is never stored, logged or echoed (problem details name the field, never the value), and
 * the parsed copies are wiped after use. */
#ifndef DP_SUB_H
#define DP_SUB_H

#include <apr_pools.h>
#include <json-c/json.h>

#include "dp_problem.h"
#include "dp_store.h"
#include "dp_portone.h"

#define DP_SUB_CUSTOMER_UID_MAX 80
#define DP_SUB_MERCHANT_UID_MAX 40
#define DP_SUB_NAME_MAX 80                              /* bytes of an order name */
#define DP_SUB_AMOUNT_MAX APR_INT64_C(10000000000)      /* 10^10 */
#define DP_SUB_SCHEDULES_MAX 50
#define DP_SUB_SCHEDULE_AHEAD_MAX (365 * 86400)         /* schedule_at at most a year ahead */
#define DP_SUB_LIST_WINDOW_DEFAULT (90 * 86400)         /* GET schedule: default to - from */
#define DP_SUB_LIST_WINDOW_MAX (92 * 86400)             /* PortOne's 3-month window */

/* What the subscription calls work with; the handler fills it (db may be NULL while parsing). */
typedef struct dp_sub_env_t {
    apr_pool_t *pool;           /* the request pool */
    dp_portone_t *portone;      /* the process's PortOne client */
    dp_db_t *db;                /* the request's database connection */
    const char *channel_key;    /* DockpayPortOneChannelKey, or NULL */
    const char *pg;             /* DockpayPortOnePG, or NULL */
    apr_int64_t now;            /* unix seconds */
} dp_sub_env_t;

/* ---- single-value checks (422 naming field; never the value of a card field) ---- */

/* Checks that v is 1..maxlen characters of [A-Za-z0-9_.:-]. */
apr_status_t dp_sub_check_uid(dp_problem_t **pprob, apr_pool_t *p, const char *field,
                              const char *v, apr_size_t maxlen);

/* Checks a card number: digits with optional single dashes between them, 14-16 digits. */
apr_status_t dp_sub_check_card_number(dp_problem_t **pprob, apr_pool_t *p, const char *v);

/* Checks an expiry "YYYY-MM" that is not before the month of now (local time, unix seconds). */
apr_status_t dp_sub_check_expiry(dp_problem_t **pprob, apr_pool_t *p, const char *v, apr_int64_t now);

/* Checks that v is min..max digits in field ("pwd_2digit is not 2 digits"). */
apr_status_t dp_sub_check_digits(dp_problem_t **pprob, apr_pool_t *p, const char *field,
                                 const char *v, apr_size_t min, apr_size_t max);

/* Checks a birth date or business number: 6 digits (YYMMDD) or 10 digits. */
apr_status_t dp_sub_check_birth(dp_problem_t **pprob, apr_pool_t *p, const char *v);

/* Returns a copy of PortOne's masked card number that keeps at most the first 6 and the last 4
 * digits (any other digit becomes '*'), capped at 20 characters; NULL stays NULL. */
const char *dp_sub_mask_card(apr_pool_t *p, const char *masked);

/* Overwrites the card members (card_number, expiry, birth, pwd_2digit, cvc) of object o in place
 * and re-serialises o so that json-c's cached text of it is overwritten too. */
void dp_sub_wipe_card(json_object *o);

/* ---- request parsers: validate a client body, build PortOne's request body ---- */

/* Parses POST /subscriptions/billing-key: *pbody is PortOne's body (channel_key or pg from env,
 * card fields normalised), *pcustomer_uid the path of the key. The card members of in are wiped
 * on return, on success and on failure. */
apr_status_t dp_sub_parse_key(json_object **pbody, const char **pcustomer_uid, dp_problem_t **pprob,
                              const dp_sub_env_t *env, json_object *in);

/* Parses POST /subscriptions/pay into PortOne's "again" body. */
apr_status_t dp_sub_parse_pay(json_object **pbody, dp_problem_t **pprob, const dp_sub_env_t *env,
                              json_object *in);

/* Parses POST /subscriptions/schedule into PortOne's "schedule" body (1..50 items, future times
 * up to a year ahead, no duplicate merchant_uid). */
apr_status_t dp_sub_parse_schedule(json_object **pbody, dp_problem_t **pprob,
                                   const dp_sub_env_t *env, json_object *in);

/* Parses DELETE /subscriptions/schedule/{customer_uid} (in may be an empty object: all) into
 * PortOne's "unschedule" body. */
apr_status_t dp_sub_parse_unschedule(json_object **pbody, dp_problem_t **pprob,
                                     const dp_sub_env_t *env, const char *customer_uid,
                                     json_object *in);

/* Checks a schedule listing window: from < to, to - from at most DP_SUB_LIST_WINDOW_MAX. */
apr_status_t dp_sub_check_window(dp_problem_t **pprob, apr_pool_t *p, apr_int64_t from,
                                 apr_int64_t to);

/* ---- operations (PortOne, then the local records) ---- */

/* Issues a billing key from a parsed body (wiped afterwards), records its non-secret card info
 * and returns PortOne's customer object (masked number only). */
apr_status_t dp_sub_issue_key(json_object **pcustomer, dp_problem_t **pprob,
                              const dp_sub_env_t *env, const char *customer_uid, json_object *body);

/* Returns PortOne's billing key object of customer_uid (masked number only). */
apr_status_t dp_sub_get_key(json_object **pcustomer, dp_problem_t **pprob,
                            const dp_sub_env_t *env, const char *customer_uid);

/* Deletes the billing key at PortOne, marks it deleted locally, returns PortOne's object. */
apr_status_t dp_sub_delete_key(json_object **pcustomer, dp_problem_t **pprob,
                               const dp_sub_env_t *env, const char *customer_uid);

/* Charges a billing key now (PortOne "again") and records the payment; *ppayment is PortOne's
 * payment object (check its status: paid or failed). */
apr_status_t dp_sub_pay(json_object **ppayment, dp_problem_t **pprob, const dp_sub_env_t *env,
                        json_object *body);

/* Registers schedules at PortOne and records what PortOne answered; *pitems is its array. */
apr_status_t dp_sub_schedule(json_object **pitems, dp_problem_t **pprob, const dp_sub_env_t *env,
                             json_object *body);

/* Revokes schedules at PortOne and records them as revoked; *pitems is PortOne's array. */
apr_status_t dp_sub_unschedule(json_object **pitems, dp_problem_t **pprob, const dp_sub_env_t *env,
                               json_object *body);

/* Lists the schedules of customer_uid with schedule_at in [from, to) at PortOne (all pages),
 * records what it learns (when env->db is set), and returns them as an array. */
apr_status_t dp_sub_list_schedules(json_object **pitems, dp_problem_t **pprob,
                                   const dp_sub_env_t *env, const char *customer_uid,
                                   apr_int64_t from, apr_int64_t to);

/* Reads page (from 1) of limit local billing keys with their schedules, only those whose
 * customer is in billing state state when it is not NULL (issue 15):
 * *pout = {"items","page","limit","total"}. */
apr_status_t dp_sub_list(json_object **pout, dp_problem_t **pprob, const dp_sub_env_t *env,
                         int page, int limit, const char *state);

#endif
