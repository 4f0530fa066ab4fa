/* dp_billing: billing-aware containers (issue 15). A subscription customer's billing state
 * (active | past_due | suspended) follows its payment events; containers and compose projects
 * bound to the customer are stopped or paused by the enforcer (handlers/h_billing.c, a
 * mod_watchdog callback) once a past_due customer's grace period ends, and started again when
 * the customer is active again. Events are keyed (pay:<imp_uid>:<status>, ...): a duplicate
 * changes nothing, and an event older than the last one applied (its time, or for a scheduled
 * payment its period: schedule_at) is recorded as stale and changes nothing.
 * Tables: db/migrations/009_billing.sql. No httpd headers. */
#ifndef DP_BILLING_H
#define DP_BILLING_H

#include <apr_pools.h>
#include <json-c/json.h>

#include "dp_problem.h"
#include "dp_store.h"

typedef enum {
    DP_BILLING_ACTIVE = 0,
    DP_BILLING_PAST_DUE,
    DP_BILLING_SUSPENDED
} dp_billing_state_t;

/* What happened to the customer. */
typedef enum {
    DP_BEV_PAID = 0,          /* a payment of the customer succeeded */
    DP_BEV_FAILED,            /* a scheduled or billing-key payment failed */
    DP_BEV_KEY_DELETED,       /* its billing key was deleted */
    DP_BEV_REVOKED,           /* its last schedule was revoked with nothing paid for the period */
    DP_BEV_RESUME             /* an admin resumed it */
} dp_billing_event_t;

/* What an event does to the state. */
typedef enum {
    DP_BILLING_NO_CHANGE = 0, /* applied; the state stays (e.g. a second failure) */
    DP_BILLING_TRANSITION,    /* applied; *pnext differs from the current state */
    DP_BILLING_STALE,         /* older than what was applied: changes nothing */
    DP_BILLING_DUPLICATE      /* the same event key was seen before: changes nothing */
} dp_billing_outcome_t;

/* The customer's record as the decision needs it. */
typedef struct dp_billing_cur_t {
    dp_billing_state_t state;
    apr_int64_t last_event_at;   /* time of the last event applied (0: none) */
    apr_int64_t last_period;     /* schedule_at of the last schedule event applied (0: none) */
} dp_billing_cur_t;

/* Enforcement modes (DockpayBillingEnforce). */
#define DP_BILLING_ENFORCE_OFF   0
#define DP_BILLING_ENFORCE_STOP  1
#define DP_BILLING_ENFORCE_PAUSE 2

/* Label on a container created for a customer (the database row is the truth). */
#define DP_BILLING_LABEL "dockpay.customer"

/* ---- pure rules (unit-tested) ---- */

/* Returns "active", "past_due" or "suspended". */
const char *dp_billing_state_name(dp_billing_state_t s);

/* Parses a state name; 0 when name is none of them. */
int dp_billing_state_parse(dp_billing_state_t *ps, const char *name);

/* Returns the event kind's name: paid, failed, key_deleted, revoked, resume. */
const char *dp_billing_event_name(dp_billing_event_t ev);

/* Decides what event ev at time event_at (for a scheduled payment: of period period, else 0)
 * does to cur: stale when event_at < cur->last_event_at or period < cur->last_period (a resume
 * is never stale); otherwise paid and resume make the customer active, failed, key_deleted and
 * revoked make an active customer past_due (past_due and suspended stay). *pnext gets the state
 * after it (cur->state unless a transition). */
dp_billing_outcome_t dp_billing_decide(dp_billing_state_t *pnext, const dp_billing_cur_t *cur,
                                       dp_billing_event_t ev, apr_int64_t event_at,
                                       apr_int64_t period);

/* ---- events (database) ---- */

/* THE entry point for payment results: applies the result of payment imp_uid (order
 * merchant_uid) of customer_uid (NULL: the customer of the schedule merchant_uid, if any;
 * neither: not a subscription payment, nothing happens). status "paid" or "failed" (anything
 * else changes nothing); paid_at is PortOne's paid_at/failed_at (0: now). Idempotent per
 * (imp_uid or merchant_uid, status); an older event (see dp_billing_decide) changes nothing.
 * *poutcome (may be NULL) says what it did. A transition writes a billing_transitions row and
 * calls dp_billing_emit. */
apr_status_t dp_billing_on_payment(dp_billing_outcome_t *poutcome, dp_problem_t **pprob, dp_db_t *db,
                                   const char *customer_uid, const char *merchant_uid,
                                   const char *imp_uid, const char *status, apr_int64_t paid_at);

/* dp_billing_on_payment with the fields of a PortOne payment object (customer_uid,
 * merchant_uid, imp_uid, status, paid_at/failed_at). */
apr_status_t dp_billing_on_payment_object(dp_problem_t **pprob, dp_db_t *db, json_object *payment);

/* The billing key of customer_uid was deleted at now: an active customer becomes past_due. */
apr_status_t dp_billing_on_key_deleted(dp_problem_t **pprob, dp_db_t *db, const char *customer_uid,
                                       apr_int64_t now);

/* Schedules of customer_uid were revoked at now: when none is left scheduled and nothing was
 * paid for the current period (no successful payment since the latest schedule_at that has
 * passed, or none at all), an active customer becomes past_due. */
apr_status_t dp_billing_on_unschedule(dp_problem_t **pprob, dp_db_t *db, const char *customer_uid,
                                      apr_int64_t now);

/* An admin resumes customer_uid (reason required; event_id makes the event key unique, e.g.
 * the request id): the customer becomes active (the enforcer then restarts what it stopped). */
apr_status_t dp_billing_resume(dp_billing_outcome_t *poutcome, dp_problem_t **pprob, dp_db_t *db,
                               const char *customer_uid, const char *reason, const char *event_id,
                               apr_int64_t now);

/* Emits a billing event to the merchant's application, inside the caller's transaction: an
 * audit_log row (key "dockpay-billing", method "EVENT", path "billing:<type>", target
 * customer_uid) and an outbox event (order key customer_uid; data {customer_uid, from, to,
 * reason}) delivered signed by the outbox task. type: subscription.past_due,
 * subscription.suspended, subscription.active, subscription.containers_restored. Never a secret
 * in any argument. */
apr_status_t dp_billing_emit(dp_problem_t **pprob, dp_db_t *db, const char *customer_uid,
                             const char *type, const char *from_state, const char *to_state,
                             const char *reason, const char *event_key);

/* ---- bindings and state (database) ---- */

/* A bound engine object. */
typedef struct dp_billing_binding_t {
    const char *kind;            /* "container" or "project" */
    const char *object;          /* full container Id, or the project name */
    const char *customer_uid;
    const char *key_name;
    apr_int64_t created_at;
} dp_billing_binding_t;

/* The customer's billing record; state active and since 0 when there is no row. */
typedef struct dp_billing_rec_t {
    const char *customer_uid;
    dp_billing_state_t state;
    apr_int64_t since;
    const char *reason;
    apr_int64_t grace_until;     /* 0: not set */
    const char *enforced;        /* "stop", "pause" or NULL */
    const char *last_event_key;
    apr_int64_t version;
    int exists;                  /* a row exists */
} dp_billing_rec_t;

/* Binds (kind, object) to customer_uid for key_name (a rebind moves it). */
apr_status_t dp_billing_bind(dp_problem_t **pprob, dp_db_t *db, const char *kind, const char *object,
                             const char *customer_uid, const char *key_name, apr_int64_t now);

/* Releases the binding of (kind, object) to customer_uid; *pfound says whether there was one. */
apr_status_t dp_billing_unbind(int *pfound, dp_problem_t **pprob, dp_db_t *db, const char *kind,
                               const char *object, const char *customer_uid);

/* Reads the binding of (kind, object) into *pb (NULL when unbound). */
apr_status_t dp_billing_binding_get(dp_billing_binding_t **pb, dp_problem_t **pprob, dp_db_t *db,
                                    const char *kind, const char *object);

/* Reads the bindings of customer_uid (dp_billing_binding_t*, oldest first) into *plist. */
apr_status_t dp_billing_bindings_of(apr_array_header_t **plist, dp_problem_t **pprob, dp_db_t *db,
                                    const char *customer_uid);

/* Reads the billing record of customer_uid into *prec. */
apr_status_t dp_billing_get(dp_billing_rec_t *prec, dp_problem_t **pprob, dp_db_t *db,
                            const char *customer_uid);

/* True (*pexists) when customer_uid has a live billing key (issued here and not deleted). */
apr_status_t dp_billing_customer_known(int *pexists, dp_problem_t **pprob, dp_db_t *db,
                                       const char *customer_uid);

/* ---- the enforcer's steps (database; the Docker side is the caller's) ---- */

/* Sets grace_until = since + grace on past_due customers without one. */
apr_status_t dp_billing_set_grace(dp_problem_t **pprob, dp_db_t *db, apr_int64_t grace);

/* Lists up to max customer_uids (const char*) in state: "due" = past_due with grace_until <= now,
 * "restore" = active with containers still enforced. */
apr_status_t dp_billing_pending(apr_array_header_t **plist, dp_problem_t **pprob, dp_db_t *db,
                                const char *which, apr_int64_t now, int max);

/* Claims a due customer for enforcement with mode ("stop"/"pause"): records enforced = mode
 * unless one is recorded already (then *pmode is that one, so a restart redoes the same thing).
 * *pmode is NULL when the customer is no longer past_due. */
apr_status_t dp_billing_enforce_claim(const char **pmode, dp_problem_t **pprob, dp_db_t *db,
                                      const char *customer_uid, const char *mode);

/* Marks a claimed customer suspended (after its containers were stopped/paused); a transition
 * row and dp_billing_emit once (*pdone: this call made the change). */
apr_status_t dp_billing_enforce_done(int *pdone, dp_problem_t **pprob, dp_db_t *db,
                                     const char *customer_uid, const char *reason, apr_int64_t now);

/* Clears enforced for an active customer once its containers were started again (emits
 * subscription.containers_restored once; *pdone: this call made the change). */
apr_status_t dp_billing_restore_done(int *pdone, dp_problem_t **pprob, dp_db_t *db,
                                     const char *customer_uid, const char *mode);

/* The billing statements (registered with mod_dbd through dp_store_tables). */
extern const dp_stmt_def_t dp_store_billing_statements[];

#endif
