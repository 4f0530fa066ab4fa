/* dp_outbox: signed events for the merchant's application — the events' data, the Standard
 * Webhooks signature, the delivery run (one per watchdog tick) and the admin views. */
#ifndef DP_OUTBOX_H
#define DP_OUTBOX_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <json-c/json.h>

#include "dp_problem.h"
#include "dp_store.h"
#include "dp_store_pay.h"
#include "dp_store_sub.h"

/* Decodes a "whsec_<base64 key>" secret into *pkey and *plen (in p); APR_EINVAL when it is not one or
 * its key is not 16..64 bytes. Never logs the secret. */
apr_status_t dp_outbox_secret(unsigned char **pkey, apr_size_t *plen, apr_pool_t *p,
                              const char *secret);

/* Returns "v1,<base64 HMAC-SHA256(key, id.timestamp.body)>" (in p), the webhook-signature. */
const char *dp_outbox_sign(apr_pool_t *p, const unsigned char *key, apr_size_t keylen,
                           const char *id, apr_int64_t timestamp, const char *body, apr_size_t len);

/* Returns the delivered body {"type","timestamp","data"} of an event (in p); created_at is the
 * row's "YYYY-MM-DD HH:MM:SS.ffffff" UTC time, payload its data as JSON text. */
const char *dp_outbox_body(apr_pool_t *p, const char *type, const char *created_at,
                           const char *payload);

/* Seconds to wait after failed attempt number attempts (1 = the first) from steps (int
 * seconds, the last repeating); NULL or empty steps: 5, 30, 120, 600, 3600. */
apr_int64_t dp_outbox_backoff(const apr_array_header_t *steps, int attempts);

/* How a delivery run works. */
typedef struct dp_outbox_cfg_t {
    const char *url;              /* DockpayNotifyURL */
    const unsigned char *key;     /* the decoded DockpayNotifySecret */
    apr_size_t keylen;
    long timeout_ms;              /* one POST (DockpayNotifyTimeout) */
    apr_int64_t max_age;          /* seconds after which an undelivered event is failed */
    const apr_array_header_t *backoff;  /* DockpayNotifyBackoff steps (int seconds), or NULL */
    const char *ca_file;          /* CA bundle for an https receiver, or NULL */
    int max_events;               /* most attempts in one run (0: 200) */
} dp_outbox_cfg_t;

/* Delivers due events through db: claims each (so no two runs send the same attempt), POSTs it
 * signed through one dp_http client made for this run in db->pool, records the attempt and
 * marks it delivered or schedules its retry. *pattempts and *pdelivered (may be NULL) count them. */
apr_status_t dp_outbox_run(int *pattempts, int *pdelivered, dp_problem_t **pprob, dp_db_t *db,
                           const dp_outbox_cfg_t *cfg);

/* ------------------------------------------------------------------------------------------ */
/* events of the changes (each called inside the change's transaction) */

/* Adds the events of one payment row change: cur_status/cur_imp_uid are the row before (NULL
 * for none), rec the payment as PortOne reported it, saved whether rec was written to the row;
 * new_cancels (may be NULL) the cancellations recorded now: [{cancellation_id, amount, reason,
 * cancelled_at}]. Types: vbank.issued, payment.paid, payment.failed, payment.cancelled;
 * order key: rec->merchant_uid. */
apr_status_t dp_outbox_payment(dp_problem_t **pprob, dp_db_t *db, const char *cur_status,
                               const char *cur_imp_uid, const dp_pay_rec_t *rec, int saved,
                               json_object *new_cancels);

/* Adds billing_key.issued (deleted false) or billing_key.deleted for a billing key; k may carry
 * only customer_uid (its card_number is never sent). */
apr_status_t dp_outbox_billing_key(dp_problem_t **pprob, dp_db_t *db, const dp_sub_key_rec_t *k,
                                   int deleted);

/* Adds schedule.created / revoked / paid / failed for a schedule whose status became s->status
 * (scheduled, revoked, executed, failed). */
apr_status_t dp_outbox_schedule(dp_problem_t **pprob, dp_db_t *db, const dp_sub_sched_rec_t *s);

/* ------------------------------------------------------------------------------------------ */
/* admin views */

/* Lists events newest first (filters NULL for any; page from 1, limit 1..100):
 * *pout = {"items","page","limit","total"}. */
apr_status_t dp_outbox_list(json_object **pout, dp_problem_t **pprob, dp_db_t *db,
                            const char *type, const char *state, const char *order_key,
                            apr_int64_t page, apr_int64_t limit);

/* Returns one event with its "delivery_attempts"; 404 event_not_found when unknown. */
apr_status_t dp_outbox_get(json_object **pout, dp_problem_t **pprob, dp_db_t *db,
                           const char *event_id);

/* Queues one event again and returns it; 404 event_not_found when unknown. */
apr_status_t dp_outbox_redeliver(json_object **pout, dp_problem_t **pprob, dp_db_t *db,
                                 const char *event_id);

#endif
