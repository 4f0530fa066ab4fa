/* dp_billing: the customer billing state machine, its events and the bindings (see dp_billing.h). */
#include <string.h>
#include <apr_strings.h>
#include <apr_tables.h>
#include <apr_time.h>

#include "dp_billing.h"
#include "dp_store_outbox.h"
#include "dp_json.h"
#include "dp_log.h"

/* The emitter's name in audit rows. */
#define EMIT_KEY "dockpay-billing"

const dp_stmt_def_t dp_store_billing_statements[] = {
    { "bill_customer_ensure",
      "INSERT IGNORE INTO billing_customers (customer_uid, state, since) VALUES (%s, 'active', %lld)" },
    { "bill_event_insert",
      "INSERT IGNORE INTO billing_events (event_key, customer_uid, kind, event_at, period, outcome, "
      "received_at) VALUES (%s, %s, %s, %lld, %lld, 'pending', %lld)" },
    { "bill_event_outcome", "UPDATE billing_events SET outcome = %s WHERE event_key = %s" },
    { "bill_customer_lock",
      "SELECT state, last_event_at, last_period FROM billing_customers WHERE customer_uid = %s FOR UPDATE" },
    { "bill_customer_apply",
      "UPDATE billing_customers SET last_event_key = %s, last_event_at = GREATEST(last_event_at, %lld), "
      "last_period = GREATEST(last_period, %lld), version = version + 1 WHERE customer_uid = %s" },
    { "bill_customer_move",
      "UPDATE billing_customers SET state = %s, since = %lld, reason = %s, grace_until = NULL, "
      "version = version + 1 WHERE customer_uid = %s" },
    { "bill_transition_insert",
      "INSERT INTO billing_transitions (customer_uid, from_state, to_state, reason, event_key, at) "
      "VALUES (%s, %s, %s, %s, %s, %lld)" },
    { "bill_schedule_of",
      "SELECT customer_uid, schedule_at FROM subscription_schedules WHERE merchant_uid = %s" },
    { "bill_unpaid_check",
      "SELECT (SELECT COUNT(*) FROM subscription_schedules WHERE customer_uid = %s AND status = 'scheduled'), "
      "(SELECT COALESCE(MAX(event_at), 0) FROM billing_events WHERE customer_uid = %s AND kind = 'paid' "
      "AND outcome <> 'stale'), "
      "(SELECT COALESCE(MAX(schedule_at), 0) FROM subscription_schedules WHERE customer_uid = %s "
      "AND schedule_at <= %lld)" },
    { "bill_bind",
      "INSERT INTO billing_bindings (kind, object, customer_uid, key_name, created_at) "
      "VALUES (%s, %s, %s, %s, %lld) ON DUPLICATE KEY UPDATE customer_uid = VALUES(customer_uid), "
      "key_name = VALUES(key_name), created_at = VALUES(created_at)" },
    { "bill_unbind",
      "DELETE FROM billing_bindings WHERE kind = %s AND object = %s AND customer_uid = %s" },
    { "bill_binding_get",
      "SELECT kind, object, customer_uid, key_name, created_at FROM billing_bindings "
      "WHERE kind = %s AND object = %s" },
    { "bill_bindings_of",
      "SELECT kind, object, customer_uid, key_name, created_at FROM billing_bindings "
      "WHERE customer_uid = %s ORDER BY created_at, object" },
    { "bill_customer_get",
      "SELECT state, since, reason, grace_until, enforced, last_event_key, version "
      "FROM billing_customers WHERE customer_uid = %s" },
    { "bill_key_live",
      "SELECT COUNT(*) FROM billing_keys WHERE customer_uid = %s AND deleted_at IS NULL" },
    { "bill_set_grace",
      "UPDATE billing_customers SET grace_until = since + %lld WHERE state = 'past_due' "
      "AND grace_until IS NULL" },
    { "bill_pending_due",
      "SELECT customer_uid FROM billing_customers WHERE state = 'past_due' AND grace_until IS NOT NULL "
      "AND grace_until <= %lld ORDER BY grace_until LIMIT %d" },
    { "bill_pending_restore",
      "SELECT customer_uid FROM billing_customers WHERE state = 'active' AND enforced IS NOT NULL "
      "AND %lld >= 0 ORDER BY since LIMIT %d" },
    { "bill_enforce_claim",
      "UPDATE billing_customers SET enforced = %s, version = version + 1 WHERE customer_uid = %s "
      "AND state = 'past_due' AND enforced IS NULL" },
    { "bill_enforce_done",
      "UPDATE billing_customers SET state = 'suspended', since = %lld, reason = %s, "
      "version = version + 1 WHERE customer_uid = %s AND state = 'past_due' AND enforced IS NOT NULL" },
    { "bill_restore_done",
      "UPDATE billing_customers SET enforced = NULL, version = version + 1 WHERE customer_uid = %s "
      "AND state = 'active' AND enforced = %s" },
    { NULL, NULL }
};

/* ------------------------------------------------------------------------------------------ */
/* pure rules */

static const char *const state_names[] = { "active", "past_due", "suspended" };
static const char *const event_names[] = { "paid", "failed", "key_deleted", "revoked", "resume" };

const char *dp_billing_state_name(dp_billing_state_t s)
{
    return (unsigned)s < 3 ? state_names[s] : "active";
}

int dp_billing_state_parse(dp_billing_state_t *ps, const char *name)
{
    int i;

    for (i = 0; name && i < 3; ++i) {
        if (!strcmp(name, state_names[i])) {
            *ps = (dp_billing_state_t)i;
            return 1;
        }
    }
    return 0;
}

const char *dp_billing_event_name(dp_billing_event_t ev)
{
    return (unsigned)ev < 5 ? event_names[ev] : "unknown";
}

dp_billing_outcome_t dp_billing_decide(dp_billing_state_t *pnext, const dp_billing_cur_t *cur,
                                       dp_billing_event_t ev, apr_int64_t event_at,
                                       apr_int64_t period)
{
    dp_billing_state_t next = cur->state;

    *pnext = cur->state;
    if (ev != DP_BEV_RESUME
        && (event_at < cur->last_event_at || (period > 0 && period < cur->last_period))) {
        return DP_BILLING_STALE;
    }
    switch (ev) {
    case DP_BEV_PAID:
    case DP_BEV_RESUME:
        next = DP_BILLING_ACTIVE;
        break;
    case DP_BEV_FAILED:
    case DP_BEV_KEY_DELETED:
    case DP_BEV_REVOKED:
        if (cur->state == DP_BILLING_ACTIVE) {
            next = DP_BILLING_PAST_DUE;
        }
        break;
    }
    *pnext = next;
    return next != cur->state ? DP_BILLING_TRANSITION : DP_BILLING_NO_CHANGE;
}

/* ------------------------------------------------------------------------------------------ */
/* events */

/* Clips s to n bytes (ASCII event keys and reasons that must fit their columns). */
static const char *clip(apr_pool_t *p, const char *s, apr_size_t n)
{
    return s && strlen(s) > n ? apr_pstrndup(p, s, n) : s;
}

/* Applies one event to customer_uid in one transaction: records the event by key (a duplicate
 * stops here), decides against the customer's record, moves the state and writes the
 * transition row; after the commit, emits the transition. */
static apr_status_t apply(dp_billing_outcome_t *poutcome, dp_problem_t **pprob, dp_db_t *db,
                          const char *customer_uid, dp_billing_event_t ev, const char *event_key,
                          apr_int64_t event_at, apr_int64_t period, const char *reason)
{
    apr_int64_t now = (apr_int64_t)apr_time_sec(apr_time_now());
    const char *kind = dp_billing_event_name(ev), *outcome_name;
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    dp_billing_cur_t cur;
    dp_billing_state_t next = DP_BILLING_ACTIVE;
    dp_billing_outcome_t outcome = DP_BILLING_DUPLICATE;
    const void *args[7];
    dp_tx_t *tx = NULL;
    apr_status_t rv;
    int n = 0, found = 0;

    event_key = clip(db->pool, event_key, 128);
    reason = clip(db->pool, reason, 255);
    if ((rv = dp_store_tx_begin(&tx, pprob, db)) != APR_SUCCESS) {
        return rv;
    }
    args[0] = customer_uid;
    args[1] = &now;
    if ((rv = dp_store_exec(NULL, pprob, db, "bill_customer_ensure", args)) != APR_SUCCESS) {
        goto leave;
    }
    args[0] = event_key;
    args[1] = customer_uid;
    args[2] = kind;
    args[3] = &event_at;
    args[4] = &period;
    args[5] = &now;
    if ((rv = dp_store_exec(&n, pprob, db, "bill_event_insert", args)) != APR_SUCCESS) {
        goto leave;
    }
    if (n == 0) {
        goto leave;   /* seen before: changes nothing */
    }
    args[0] = customer_uid;
    if ((rv = dp_store_select(&res, pprob, db, "bill_customer_lock", args)) != APR_SUCCESS) {
        goto leave;
    }
    memset(&cur, 0, sizeof(cur));
    while (apr_dbd_get_row(db->driver, db->pool, res, &row, -1) == 0) {
        if (!found) {
            found = 1;
            dp_billing_state_parse(&cur.state, dp_store_col(db, row, 0));
            cur.last_event_at = dp_store_col_int(db, row, 1);
            cur.last_period = dp_store_col_int(db, row, 2);
        }
    }
    outcome = dp_billing_decide(&next, &cur, ev, event_at, period);
    if (outcome != DP_BILLING_STALE) {
        args[0] = event_key;
        args[1] = &event_at;
        args[2] = &period;
        args[3] = customer_uid;
        if ((rv = dp_store_exec(NULL, pprob, db, "bill_customer_apply", args)) != APR_SUCCESS) {
            goto leave;
        }
    }
    if (outcome == DP_BILLING_TRANSITION) {
        const char *to = dp_billing_state_name(next);
        args[0] = to;
        args[1] = &now;
        args[2] = reason;
        args[3] = customer_uid;
        if ((rv = dp_store_exec(NULL, pprob, db, "bill_customer_move", args)) != APR_SUCCESS) {
            goto leave;
        }
        args[0] = customer_uid;
        args[1] = dp_billing_state_name(cur.state);
        args[2] = to;
        args[3] = reason;
        args[4] = event_key;
        args[5] = &now;
        if ((rv = dp_store_exec(NULL, pprob, db, "bill_transition_insert", args)) != APR_SUCCESS) {
            goto leave;
        }
        /* the signed event for the merchant's application, in the transition's transaction */
        if ((rv = dp_billing_emit(pprob, db, customer_uid,
                                  next == DP_BILLING_ACTIVE ? "subscription.active" : "subscription.past_due",
                                  dp_billing_state_name(cur.state), to, reason, event_key)) != APR_SUCCESS) {
            goto leave;
        }
    }
    outcome_name = outcome == DP_BILLING_TRANSITION ? "transition"
                   : outcome == DP_BILLING_STALE ? "stale" : "no_change";
    args[0] = outcome_name;
    args[1] = event_key;
    rv = dp_store_exec(NULL, pprob, db, "bill_event_outcome", args);

leave:
    if (rv != APR_SUCCESS) {
        dp_store_tx_end(NULL, tx, 0);
        return rv;
    }
    if ((rv = dp_store_tx_end(pprob, tx, 1)) != APR_SUCCESS) {
        return rv;
    }
    if (poutcome) {
        *poutcome = outcome;
    }
    return APR_SUCCESS;
}

apr_status_t dp_billing_on_payment(dp_billing_outcome_t *poutcome, dp_problem_t **pprob, dp_db_t *db,
                                   const char *customer_uid, const char *merchant_uid,
                                   const char *imp_uid, const char *status, apr_int64_t paid_at)
{
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    apr_int64_t period = 0;
    const char *sched_cu = NULL;
    const void *args[1];
    dp_billing_event_t ev;
    apr_status_t rv;

    if (poutcome) {
        *poutcome = DP_BILLING_NO_CHANGE;
    }
    if (status == NULL || merchant_uid == NULL || db == NULL) {
        return APR_SUCCESS;
    }
    if (!strcmp(status, "paid")) {
        ev = DP_BEV_PAID;
    }
    else if (!strcmp(status, "failed")) {
        ev = DP_BEV_FAILED;
    }
    else {
        return APR_SUCCESS;
    }
    /* a scheduled payment: its period, and its customer when the payment does not name one */
    args[0] = merchant_uid;
    if ((rv = dp_store_select(&res, pprob, db, "bill_schedule_of", args)) != APR_SUCCESS) {
        return rv;
    }
    while (apr_dbd_get_row(db->driver, db->pool, res, &row, -1) == 0) {
        sched_cu = dp_store_col(db, row, 0);
        period = dp_store_col_int(db, row, 1);
    }
    if (customer_uid == NULL || *customer_uid == '\0') {
        customer_uid = sched_cu;
    }
    if (customer_uid == NULL) {
        return APR_SUCCESS;   /* not a subscription payment */
    }
    if (paid_at <= 0) {
        paid_at = (apr_int64_t)apr_time_sec(apr_time_now());
    }
    return apply(poutcome, pprob, db, customer_uid, ev,
                 apr_pstrcat(db->pool, "pay:", imp_uid ? imp_uid : merchant_uid, ":", status, NULL),
                 paid_at, period,
                 apr_pstrcat(db->pool, ev == DP_BEV_PAID ? "payment succeeded: " : "payment failed: ",
                             merchant_uid, NULL));
}

apr_status_t dp_billing_on_payment_object(dp_problem_t **pprob, dp_db_t *db, json_object *payment)
{
    const char *status = dp_json_get_str(payment, "status");
    apr_int64_t at = 0;

    if (status && !strcmp(status, "paid")) {
        at = dp_json_get_int(payment, "paid_at", 0);
    }
    else if (status && !strcmp(status, "failed")) {
        at = dp_json_get_int(payment, "failed_at", 0);
    }
    return dp_billing_on_payment(NULL, pprob, db, dp_json_get_str(payment, "customer_uid"),
                                 dp_json_get_str(payment, "merchant_uid"),
                                 dp_json_get_str(payment, "imp_uid"), status, at);
}

apr_status_t dp_billing_on_key_deleted(dp_problem_t **pprob, dp_db_t *db, const char *customer_uid,
                                       apr_int64_t now)
{
    return apply(NULL, pprob, db, customer_uid, DP_BEV_KEY_DELETED,
                 apr_psprintf(db->pool, "key_deleted:%s:%" APR_INT64_T_FMT, customer_uid, now),
                 now, 0, "billing key deleted");
}

apr_status_t dp_billing_on_unschedule(dp_problem_t **pprob, dp_db_t *db, const char *customer_uid,
                                      apr_int64_t now)
{
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    apr_int64_t scheduled = 1, last_paid = 0, last_passed = 0;
    const void *args[4];
    apr_status_t rv;

    args[0] = customer_uid;
    args[1] = customer_uid;
    args[2] = customer_uid;
    args[3] = &now;
    if ((rv = dp_store_select(&res, pprob, db, "bill_unpaid_check", args)) != APR_SUCCESS) {
        return rv;
    }
    while (apr_dbd_get_row(db->driver, db->pool, res, &row, -1) == 0) {
        scheduled = dp_store_col_int(db, row, 0);
        last_paid = dp_store_col_int(db, row, 1);
        last_passed = dp_store_col_int(db, row, 2);
    }
    if (scheduled > 0 || (last_paid > 0 && last_paid >= last_passed)) {
        return APR_SUCCESS;   /* still scheduled, or the current period is paid */
    }
    return apply(NULL, pprob, db, customer_uid, DP_BEV_REVOKED,
                 apr_psprintf(db->pool, "revoked:%s:%" APR_INT64_T_FMT, customer_uid, now),
                 now, 0, "last schedule revoked with nothing paid for the current period");
}

apr_status_t dp_billing_resume(dp_billing_outcome_t *poutcome, dp_problem_t **pprob, dp_db_t *db,
                               const char *customer_uid, const char *reason, const char *event_id,
                               apr_int64_t now)
{
    return apply(poutcome, pprob, db, customer_uid, DP_BEV_RESUME,
                 apr_pstrcat(db->pool, "resume:", customer_uid, ":", event_id, NULL), now, 0,
                 apr_pstrcat(db->pool, "admin resume: ", reason, NULL));
}

apr_status_t dp_billing_emit(dp_problem_t **pprob, dp_db_t *db, const char *customer_uid,
                             const char *type, const char *from_state, const char *to_state,
                             const char *reason, const char *event_key)
{
    json_object *data = dp_json_object(db->pool);
    apr_status_t rv;

    /* the audit trail records it; the outbox carries it signed to the merchant's application */
    if ((rv = dp_store_audit(pprob, db, EMIT_KEY, "EVENT", apr_pstrcat(db->pool, "billing:", type, NULL),
                             customer_uid, 200, event_key ? clip(db->pool, event_key, 64) : "-"))
        != APR_SUCCESS) {
        return rv;
    }
    dp_json_set_str(data, "customer_uid", customer_uid);
    dp_json_set_str(data, "from", from_state);
    dp_json_set_str(data, "to", to_state);
    dp_json_set_str(data, "reason", reason);
    return dp_store_outbox_add(NULL, pprob, db, type, customer_uid, dp_json_str(db->pool, data));
}

/* ------------------------------------------------------------------------------------------ */
/* bindings and state */

apr_status_t dp_billing_bind(dp_problem_t **pprob, dp_db_t *db, const char *kind, const char *object,
                             const char *customer_uid, const char *key_name, apr_int64_t now)
{
    const void *args[5];

    args[0] = kind;
    args[1] = object;
    args[2] = customer_uid;
    args[3] = key_name ? key_name : "";
    args[4] = &now;
    return dp_store_exec(NULL, pprob, db, "bill_bind", args);
}

apr_status_t dp_billing_unbind(int *pfound, dp_problem_t **pprob, dp_db_t *db, const char *kind,
                               const char *object, const char *customer_uid)
{
    const void *args[3];
    int n = 0;
    apr_status_t rv;

    args[0] = kind;
    args[1] = object;
    args[2] = customer_uid;
    rv = dp_store_exec(&n, pprob, db, "bill_unbind", args);
    *pfound = n > 0;
    return rv;
}

/* Builds a binding from a row of bill_binding_get / bill_bindings_of (a dp_store_row_fn). */
static void *binding_of(dp_db_t *db, apr_dbd_row_t *row)
{
    dp_billing_binding_t *b = apr_pcalloc(db->pool, sizeof(*b));

    b->kind = dp_store_col(db, row, 0);
    b->object = dp_store_col(db, row, 1);
    b->customer_uid = dp_store_col(db, row, 2);
    b->key_name = dp_store_col(db, row, 3);
    b->created_at = dp_store_col_int(db, row, 4);
    return b;
}

apr_status_t dp_billing_binding_get(dp_billing_binding_t **pb, dp_problem_t **pprob, dp_db_t *db,
                                    const char *kind, const char *object)
{
    const void *args[2];

    args[0] = kind;
    args[1] = object;
    return dp_store_select_first((void **)pb, pprob, db, "bill_binding_get", args, binding_of);
}

apr_status_t dp_billing_bindings_of(apr_array_header_t **plist, dp_problem_t **pprob, dp_db_t *db,
                                    const char *customer_uid)
{
    const void *args[1];

    args[0] = customer_uid;
    return dp_store_select_all(plist, pprob, db, "bill_bindings_of", args, binding_of);
}

apr_status_t dp_billing_get(dp_billing_rec_t *prec, dp_problem_t **pprob, dp_db_t *db,
                            const char *customer_uid)
{
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    const void *args[1];
    apr_status_t rv;

    memset(prec, 0, sizeof(*prec));
    prec->customer_uid = customer_uid;
    prec->state = DP_BILLING_ACTIVE;
    args[0] = customer_uid;
    if ((rv = dp_store_select(&res, pprob, db, "bill_customer_get", args)) != APR_SUCCESS) {
        return rv;
    }
    while (apr_dbd_get_row(db->driver, db->pool, res, &row, -1) == 0) {
        if (prec->exists) {
            continue;
        }
        prec->exists = 1;
        dp_billing_state_parse(&prec->state, dp_store_col(db, row, 0));
        prec->since = dp_store_col_int(db, row, 1);
        prec->reason = dp_store_col(db, row, 2);
        prec->grace_until = dp_store_col_int(db, row, 3);
        prec->enforced = dp_store_col(db, row, 4);
        prec->last_event_key = dp_store_col(db, row, 5);
        prec->version = dp_store_col_int(db, row, 6);
    }
    return APR_SUCCESS;
}

apr_status_t dp_billing_customer_known(int *pexists, dp_problem_t **pprob, dp_db_t *db,
                                       const char *customer_uid)
{
    const void *args[1];
    const char *v = NULL;
    apr_status_t rv;

    args[0] = customer_uid;
    rv = dp_store_select_value(&v, pprob, db, "bill_key_live", args);
    *pexists = v && apr_atoi64(v) > 0;
    return rv;
}

/* ------------------------------------------------------------------------------------------ */
/* the enforcer's steps */

apr_status_t dp_billing_set_grace(dp_problem_t **pprob, dp_db_t *db, apr_int64_t grace)
{
    const void *args[1];

    args[0] = &grace;
    return dp_store_exec(NULL, pprob, db, "bill_set_grace", args);
}

apr_status_t dp_billing_pending(apr_array_header_t **plist, dp_problem_t **pprob, dp_db_t *db,
                                const char *which, apr_int64_t now, int max)
{
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    const void *args[2];
    apr_status_t rv;

    *plist = apr_array_make(db->pool, 4, sizeof(const char *));
    args[0] = &now;
    args[1] = &max;
    if ((rv = dp_store_select(&res, pprob, db, !strcmp(which, "due") ? "bill_pending_due"
                              : "bill_pending_restore", args)) != APR_SUCCESS) {
        return rv;
    }
    while (apr_dbd_get_row(db->driver, db->pool, res, &row, -1) == 0) {
        APR_ARRAY_PUSH(*plist, const char *) = dp_store_col(db, row, 0);
    }
    return APR_SUCCESS;
}

apr_status_t dp_billing_enforce_claim(const char **pmode, dp_problem_t **pprob, dp_db_t *db,
                                      const char *customer_uid, const char *mode)
{
    dp_billing_rec_t rec;
    const void *args[2];
    apr_status_t rv;
    int n = 0;

    *pmode = NULL;
    if ((rv = dp_billing_get(&rec, pprob, db, customer_uid)) != APR_SUCCESS
        || rec.state != DP_BILLING_PAST_DUE) {
        return rv;
    }
    if (rec.enforced) {
        *pmode = rec.enforced;   /* claimed before a restart: do the same again */
        return APR_SUCCESS;
    }
    args[0] = mode;
    args[1] = customer_uid;
    if ((rv = dp_store_exec(&n, pprob, db, "bill_enforce_claim", args)) != APR_SUCCESS) {
        return rv;
    }
    *pmode = n > 0 ? mode : NULL;
    return APR_SUCCESS;
}

apr_status_t dp_billing_enforce_done(int *pdone, dp_problem_t **pprob, dp_db_t *db,
                                     const char *customer_uid, const char *reason, apr_int64_t now)
{
    const char *key = apr_psprintf(db->pool, "enforce:%s:%" APR_INT64_T_FMT, customer_uid, now);
    const void *args[6];
    dp_tx_t *tx = NULL;
    apr_status_t rv;
    int n = 0;

    *pdone = 0;
    reason = clip(db->pool, reason, 255);
    if ((rv = dp_store_tx_begin(&tx, pprob, db)) != APR_SUCCESS) {
        return rv;
    }
    args[0] = &now;
    args[1] = reason;
    args[2] = customer_uid;
    if ((rv = dp_store_exec(&n, pprob, db, "bill_enforce_done", args)) == APR_SUCCESS && n > 0) {
        args[0] = customer_uid;
        args[1] = "past_due";
        args[2] = "suspended";
        args[3] = reason;
        args[4] = clip(db->pool, key, 128);
        args[5] = &now;
        rv = dp_store_exec(NULL, pprob, db, "bill_transition_insert", args);
        if (rv == APR_SUCCESS) {   /* its signed event, in the same transaction */
            rv = dp_billing_emit(pprob, db, customer_uid, "subscription.suspended", "past_due", "suspended",
                                 reason, key);
        }
    }
    if (rv != APR_SUCCESS) {
        dp_store_tx_end(NULL, tx, 0);
        return rv;
    }
    if ((rv = dp_store_tx_end(pprob, tx, 1)) != APR_SUCCESS) {
        return rv;
    }
    *pdone = n > 0;
    return APR_SUCCESS;
}

apr_status_t dp_billing_restore_done(int *pdone, dp_problem_t **pprob, dp_db_t *db,
                                     const char *customer_uid, const char *mode)
{
    const void *args[2];
    apr_status_t rv;
    int n = 0;
    dp_tx_t *tx = NULL;

    *pdone = 0;
    args[0] = customer_uid;
    args[1] = mode;
    if ((rv = dp_store_tx_begin(&tx, pprob, db)) != APR_SUCCESS) {
        return rv;
    }
    if ((rv = dp_store_exec(&n, pprob, db, "bill_restore_done", args)) == APR_SUCCESS && n > 0) {
        /* its signed event, in the same transaction */
        rv = dp_billing_emit(pprob, db, customer_uid, "subscription.containers_restored", "active", "active",
                             mode, NULL);
    }
    if (rv != APR_SUCCESS) {
        dp_store_tx_end(NULL, tx, 0);
        return rv;
    }
    if ((rv = dp_store_tx_end(pprob, tx, 1)) != APR_SUCCESS) {
        return rv;
    }
    *pdone = n > 0;
    return APR_SUCCESS;
}
