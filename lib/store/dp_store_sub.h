/* dp_store_sub: subscription records — billing keys (PortOne's non-secret card info only) and
 * scheduled payments (db/migrations/003_subscriptions.sql). No function here takes card data. */
#ifndef DP_STORE_SUB_H
#define DP_STORE_SUB_H

#include <apr_pools.h>
#include <json-c/json.h>

#include "dp_store.h"

/* A billing key as recorded: every string may be NULL; card_number must already be masked. */
typedef struct dp_sub_key_rec_t {
    const char *customer_uid;
    const char *pg_provider;
    const char *pg_id;
    const char *card_name;
    const char *card_code;
    const char *card_number;
} dp_sub_key_rec_t;

/* A scheduled payment as recorded; times are unix seconds, 0 stores NULL. */
typedef struct dp_sub_sched_rec_t {
    const char *customer_uid;
    const char *merchant_uid;
    apr_int64_t schedule_at;
    apr_int64_t amount;
    const char *name;
    const char *status;        /* scheduled | executed | revoked | failed */
    const char *imp_uid;       /* NULL until PortOne ran it */
    apr_int64_t executed_at;
    apr_int64_t revoked_at;
} dp_sub_sched_rec_t;

/* Records an issued (or re-issued) billing key at time now; a re-issue clears deleted_at. */
apr_status_t dp_store_sub_key_save(dp_problem_t **pprob, dp_db_t *db, const dp_sub_key_rec_t *k,
                                   apr_int64_t now);

/* Marks the billing key customer_uid deleted at now; *pchanged (may be NULL) is 1 when a live
 * row was marked. */
apr_status_t dp_store_sub_key_deleted(int *pchanged, dp_problem_t **pprob, dp_db_t *db,
                                      const char *customer_uid, apr_int64_t now);

/* Reads page (from 1) of limit billing keys, newest first, each with its "schedules" array,
 * into *pitems (an array owned by db->pool), and the number of keys into *ptotal; state (NULL:
 * all) keeps the keys whose customer is in that billing state (issue 15). */
apr_status_t dp_store_sub_list(json_object **pitems, apr_int64_t *ptotal, dp_problem_t **pprob,
                               dp_db_t *db, int page, int limit, const char *state);

/* Records a schedule as PortOne reported it (insert, or overwrite the row of its merchant_uid;
 * created_at is set to now for a new row only). */
apr_status_t dp_store_sub_schedule_save(dp_problem_t **pprob, dp_db_t *db,
                                        const dp_sub_sched_rec_t *s, apr_int64_t now);

/* Applies a payment result to the schedule of merchant_uid: paid marks it executed (from any
 * state), otherwise failed (only from scheduled or failed); *pnrows (may be NULL) counts the rows
 * changed — 0 when merchant_uid is no schedule or nothing changed (idempotent). */
apr_status_t dp_store_sub_schedule_result(int *pnrows, dp_problem_t **pprob, dp_db_t *db,
                                          const char *merchant_uid, const char *imp_uid, int paid,
                                          apr_int64_t now);

/* Reads and locks (FOR UPDATE) the status of the schedule of merchant_uid (*pstatus NULL when
 * none): the outbox writes a schedule event only when the status changes. */
apr_status_t dp_store_sub_schedule_status(const char **pstatus, dp_problem_t **pprob, dp_db_t *db,
                                          const char *merchant_uid);

#endif
