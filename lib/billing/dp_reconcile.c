/* dp_reconcile: background application of webhook events and order lookups. */
#include <string.h>
#include <apr_strings.h>

#include "dp_reconcile.h"
#include "dp_store_rec.h"
#include "dp_json.h"
#include "dp_util.h"
#include "dp_log.h"

/* Seconds the lease lasts unless renewed (it is renewed before every lookup). */
#define LEASE_TTL 60

/* Delay before the next try. */
int dp_reconcile_backoff(int attempts, int unit)
{
    static const int steps[] = { 1, 5, 30, 60 };
    int i = attempts < 1 ? 0 : attempts > 4 ? 3 : attempts - 1;
    apr_int64_t d = (apr_int64_t)steps[i] * (unit < 1 ? 1 : unit);

    return d > 86400 ? 86400 : (int)d;
}

/* True for an outcome that means "ask again later". */
static int retryable(dp_pay_outcome_t outcome)
{
    return outcome == DP_OUTCOME_PENDING;
}

/* Claims and applies one event; *papplied is 1 when this server applied (or retried) it, and
 * *pportone_failed when PortOne did not answer. */
static apr_status_t apply_event(int *papplied, int *pportone_failed, dp_problem_t **pprob,
                                dp_pay_env_t *e, const dp_rec_opts_t *o, const dp_rec_event_t *ev)
{
    dp_pay_outcome_t outcome = DP_OUTCOME_PENDING;
    const char *detail = NULL;
    int claimed = 0, retry_in = -1;
    apr_status_t rv;

    *papplied = *pportone_failed = 0;
    if ((rv = dp_store_rec_event_claim(&claimed, pprob, e->db, ev->id)) != APR_SUCCESS || !claimed) {
        return rv;
    }
    *papplied = 1;
    rv = dp_pay_apply(&outcome, &detail, pprob, e, ev->imp_uid, ev->merchant_uid);
    if (rv != APR_SUCCESS) {
        /* the database failed while applying: the claim goes stale and the event is due again */
        return rv;
    }
    if (retryable(outcome)) {
        *pportone_failed = 1;
        if (ev->age > o->max_age) {
            outcome = DP_OUTCOME_FAILED;
            detail = apr_psprintf(e->pool, "gave up after %d attempts: %s", ev->apply_attempts + 1,
                                  detail ? detail : "PortOne did not answer");
        }
        else {
            retry_in = dp_reconcile_backoff(ev->apply_attempts + 1, o->interval);
        }
    }
    if (outcome != DP_OUTCOME_APPLIED && outcome != DP_OUTCOME_STALE) {
        dp_log_p(e->pool, retry_in >= 0 ? DP_LOG_WARNING : DP_LOG_NOTICE, 0,
                 "webhook event %" APR_INT64_T_FMT " (%s, order %s): %s%s%s%s", ev->id, ev->imp_uid,
                 ev->merchant_uid, dp_pay_outcome_str(outcome), detail ? " (" : "", detail ? detail : "", detail ? ")" : "");
    }
    return dp_store_rec_event_finish(pprob, e->db, ev->id, dp_pay_outcome_str(outcome), detail, retry_in);
}

/* Applies due events. */
apr_status_t dp_reconcile_events(int *pdone, dp_problem_t **pprob, dp_pay_env_t *e,
                                 const dp_rec_opts_t *o, int limit, int leased)
{
    apr_array_header_t *due = NULL;
    apr_status_t rv;
    int i, applied = 0, failed = 0, fails_in_row = 0, got = 1;

    *pdone = 0;
    if (limit < 1) {
        return APR_SUCCESS;
    }
    if ((rv = dp_store_rec_events_due(&due, pprob, e->db, limit)) != APR_SUCCESS) {
        return rv;
    }
    for (i = 0; i < due->nelts && fails_in_row < 3; ++i) {
        if (leased && ((rv = dp_store_rec_lease_take(&got, pprob, e->db, o->holder, LEASE_TTL)) != APR_SUCCESS
                       || !got)) {
            return rv;   /* the lease is lost: the pass ends (the events stay due) */
        }
        if ((rv = apply_event(&applied, &failed, pprob, e, o, APR_ARRAY_IDX(due, i, dp_rec_event_t *)))
            != APR_SUCCESS) {
            return rv;
        }
        *pdone += applied;
        fails_in_row = failed ? fails_in_row + 1 : 0;
    }
    return APR_SUCCESS;
}

/* Runs one pass under the lease. */
apr_status_t dp_reconcile_pass(const char **presult, dp_problem_t **pprob, dp_pay_env_t *e,
                               const dp_rec_opts_t *o)
{
    apr_array_header_t *orders = NULL;
    const char *started = NULL, *result = NULL;
    int got = 0, events = 0, lookups = 0, fails_in_row = 0, paid = 0, i;
    apr_status_t rv;

    *presult = NULL;
    if ((rv = dp_store_rec_lease_take(&got, pprob, e->db, o->holder, LEASE_TTL)) != APR_SUCCESS) {
        return rv;
    }
    if (!got) {
        *presult = "busy";
        return APR_SUCCESS;
    }
    /* the pass starts once the lease is held (so logged passes never overlap) */
    if ((rv = dp_store_rec_now(&started, pprob, e->db)) != APR_SUCCESS) {
        started = "1970-01-01 00:00:01";
        goto leave;
    }
    if ((rv = dp_reconcile_events(&events, pprob, e, o, o->batch, 1)) != APR_SUCCESS
        || (rv = dp_store_rec_orders_due(&orders, pprob, e->db, o->max_age, dp_reconcile_backoff(1, o->interval),
                                         o->batch - events)) != APR_SUCCESS) {
        goto leave;
    }
    for (i = 0; i < orders->nelts; ++i) {
        const dp_rec_order_t *ord = APR_ARRAY_IDX(orders, i, dp_rec_order_t *);
        dp_pay_outcome_t outcome = DP_OUTCOME_PENDING;
        const char *detail = NULL;

        if (fails_in_row >= 3) {
            result = "error: PortOne did not answer three lookups in a row; the rest waits for the next pass";
            break;
        }
        if ((rv = dp_store_rec_lease_take(&got, pprob, e->db, o->holder, LEASE_TTL)) != APR_SUCCESS) {
            goto leave;
        }
        if (!got) {
            result = "error: the lease was lost during the pass";
            break;
        }
        ++lookups;
        if ((rv = dp_pay_apply(&outcome, &detail, pprob, e, ord->imp_uid, ord->merchant_uid)) != APR_SUCCESS) {
            goto leave;
        }
        fails_in_row = retryable(outcome) ? fails_in_row + 1 : 0;
        paid += outcome == DP_OUTCOME_APPLIED;
        if (outcome != DP_OUTCOME_APPLIED && outcome != DP_OUTCOME_STALE && outcome != DP_OUTCOME_UNKNOWN_PAYMENT) {
            dp_log_p(e->pool, retryable(outcome) ? DP_LOG_WARNING : DP_LOG_NOTICE, 0,
                     "reconcile: order %s: %s%s%s%s", ord->merchant_uid, dp_pay_outcome_str(outcome),
                     detail ? " (" : "", detail ? detail : "", detail ? ")" : "");
        }
        if ((rv = dp_store_rec_order_next(pprob, e->db, ord->merchant_uid,
                                          dp_reconcile_backoff(ord->attempts + 2, o->interval))) != APR_SUCCESS) {
            goto leave;
        }
    }
    if (result == NULL) {
        result = apr_psprintf(e->pool, "ok: %d events, %d lookups, %d updated", events, lookups, paid);
    }

leave:
    if (rv != APR_SUCCESS) {
        result = apr_psprintf(e->pool, "error: database: %s",
                              pprob && *pprob && (*pprob)->detail ? (*pprob)->detail : "failed");
    }
    {
        dp_problem_t *ignored = NULL;
        if (dp_store_rec_lease_release(&ignored, e->db, o->holder, started, events, lookups, result)
            != APR_SUCCESS && rv == APR_SUCCESS) {
            rv = DP_EPROBLEM;
            if (pprob) *pprob = ignored;
        }
    }
    *presult = result;
    return rv;
}

/* The reconciler object of /health. */
apr_status_t dp_reconcile_state(json_object **pout, dp_problem_t **pprob, dp_db_t *db,
                                const dp_rec_opts_t *o)
{
    dp_rec_state_t st;
    apr_status_t rv;

    *pout = NULL;
    if ((rv = dp_store_rec_state(&st, pprob, db, o->max_age, dp_reconcile_backoff(1, o->interval)))
        != APR_SUCCESS) {
        return rv;
    }
    *pout = dp_json_object(db->pool);
    dp_json_set_int(*pout, "events_pending", st.events_pending);
    dp_json_set_int(*pout, "oldest_pending_seconds", st.oldest_pending_age);
    dp_json_set_int(*pout, "orders_due", st.orders_due);
    json_object_object_add(*pout, "last_run_at", st.last_run_at
                           ? json_object_new_string(dp_iso_datetime(db->pool, st.last_run_at)) : NULL);
    json_object_object_add(*pout, "last_result", st.last_result
                           ? json_object_new_string(st.last_result) : NULL);
    dp_json_set_int(*pout, "interval", o->interval);
    return APR_SUCCESS;
}

static void set_str_or_null(json_object *o, const char *key, const char *v)
{
    json_object_object_add(o, key, v ? json_object_new_string(v) : NULL);
}

/* Lists received webhooks. */
apr_status_t dp_reconcile_list_events(json_object **pout, dp_problem_t **pprob, dp_db_t *db,
                                      const char *imp_uid, const char *merchant_uid,
                                      const char *outcome, apr_int64_t page, apr_int64_t limit)
{
    apr_array_header_t *items = NULL;
    apr_int64_t total = 0;
    json_object *arr;
    apr_status_t rv;
    int i;

    *pout = NULL;
    if ((rv = dp_store_rec_events_list(&items, &total, pprob, db, imp_uid, merchant_uid, outcome,
                                       (page - 1) * limit, limit)) != APR_SUCCESS) {
        return rv;
    }
    arr = json_object_new_array();
    for (i = 0; i < items->nelts; ++i) {
        const dp_rec_event_t *ev = APR_ARRAY_IDX(items, i, dp_rec_event_t *);
        json_object *o = json_object_new_object();

        dp_json_set_int(o, "id", ev->id);
        dp_json_set_str(o, "imp_uid", ev->imp_uid);
        dp_json_set_str(o, "merchant_uid", ev->merchant_uid);
        dp_json_set_str(o, "status", ev->status);
        set_str_or_null(o, "cancellation_id", ev->cancellation_id);
        dp_json_set_str(o, "outcome", ev->outcome);
        set_str_or_null(o, "detail", ev->detail);
        dp_json_set_int(o, "deliveries", ev->attempts);
        dp_json_set_int(o, "attempts", ev->apply_attempts);
        set_str_or_null(o, "received_at", dp_iso_datetime(db->pool, ev->received_at));
        set_str_or_null(o, "updated_at", dp_iso_datetime(db->pool, ev->updated_at));
        set_str_or_null(o, "next_attempt_at", dp_iso_datetime(db->pool, ev->next_attempt_at));
        json_object_array_add(arr, o);
    }
    *pout = dp_json_object(db->pool);
    json_object_object_add(*pout, "items", arr);
    dp_json_set_int(*pout, "page", page);
    dp_json_set_int(*pout, "limit", limit);
    dp_json_set_int(*pout, "total", total);
    return APR_SUCCESS;
}
