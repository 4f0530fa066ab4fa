/* h_billing: billing-aware containers — Docker handler hooks, billing routes and the enforcer
 * (a mod_watchdog singleton, "dockpay-billing"). lib/dp_billing.c decides; this file acts. */
#include <string.h>
#include <apr_strings.h>
#include <apr_time.h>
#include <apr_dbd.h>
#include <mod_dbd.h>
#include <mod_watchdog.h>

#include "h_billing.h"
#include "h_owner.h"
#include "dp_billing.h"
#include "dp_sub.h"
#include "dp_dk_policy.h"

/* The enforcer's interval, and the most customers it handles per pass. */
#define ENFORCER_INTERVAL apr_time_from_sec(1)
#define ENFORCER_BATCH 20

/* True for an admin key. */
static int is_admin(dp_req_t *q)
{
    return q->key && (q->key->scopes & DP_SCOPE_ADMIN);
}

/* ------------------------------------------------------------------------------------------ */
/* hooks for the Docker handlers */

apr_status_t dp_billing_bind_from_body(const char **pcustomer, dp_problem_t **pprob, dp_req_t *q,
                                       json_object *req, int label)
{
    json_object *v = dp_json_get(req, "customer_uid"), *labels, *raw;
    const char *cu;
    dp_db_t *db;
    apr_status_t rv;
    int known = 0;

    *pcustomer = NULL;
    if (v == NULL) {
        if (label) {   /* the label is the server's: a caller's own is dropped (like dockpay.key) */
            raw = dp_json_get(req, "docker");
            labels = raw && json_object_is_type(raw, json_type_object) ? dp_json_get(raw, "Labels")
                                                                        : dp_json_get(req, "labels");
            if (labels && json_object_is_type(labels, json_type_object)) {
                json_object_object_del(labels, DP_BILLING_LABEL);
            }
        }
        return APR_SUCCESS;
    }
    if (!json_object_is_type(v, json_type_string)) {
        return dp_problem_fail(pprob, q->pool, 400, "wrong_type", "the field 'customer_uid' must be a string");
    }
    cu = apr_pstrdup(q->pool, json_object_get_string(v));
    if (!q->key || !dp_scopes_allow(q->key->scopes, DP_SCOPE_DOCKER_WRITE | DP_SCOPE_PAYMENTS_WRITE)) {
        return dp_problem_fail(pprob, q->pool, 403, "insufficient_scope", "binding to a customer "
                               "(customer_uid) needs a key with docker:write and payments:write");
    }
    if ((rv = dp_sub_check_uid(pprob, q->pool, "customer_uid", cu, DP_SUB_CUSTOMER_UID_MAX)) != APR_SUCCESS) {
        return rv;
    }
    if ((db = dp_db_acquire(pprob, q)) == NULL) {
        return DP_EPROBLEM;
    }
    if ((rv = dp_billing_customer_known(&known, pprob, db, cu)) != APR_SUCCESS) {
        return rv;
    }
    if (!known) {
        rv = dp_problem_fail(pprob, q->pool, 422, "customer_not_found",
                             "customer_uid: no live billing key '%s' was issued through this server", cu);
        dp_problem_add(*pprob, q->pool, "field", json_object_new_string("customer_uid"));
        return rv;
    }
    json_object_object_del(req, "customer_uid");
    if (label) {
        raw = dp_json_get(req, "docker");
        if (raw && json_object_is_type(raw, json_type_object)) {
            labels = dp_json_get(raw, "Labels");
            if (labels == NULL) {
                labels = json_object_new_object();
                json_object_object_add(raw, "Labels", labels);
            }
        }
        else {
            labels = dp_json_get(req, "labels");
            if (labels == NULL) {
                labels = json_object_new_object();
                json_object_object_add(req, "labels", labels);
            }
        }
        if (json_object_is_type(labels, json_type_object)) {   /* else the parser answers 400 */
            json_object_object_add(labels, DP_BILLING_LABEL, json_object_new_string(cu));
        }
    }
    *pcustomer = cu;
    return APR_SUCCESS;
}

apr_status_t dp_billing_bind_created(dp_problem_t **pprob, dp_req_t *q, const char *customer,
                                     const char *kind, const char *object)
{
    dp_db_t *db;
    apr_status_t rv = DP_EPROBLEM;

    if (customer == NULL) {
        return APR_SUCCESS;
    }
    if ((db = dp_db_acquire(pprob, q)) != NULL
        && (rv = dp_billing_bind(pprob, db, kind, object, customer, q->key ? q->key->name : "",
                                 (apr_int64_t)apr_time_sec(apr_time_now()))) == APR_SUCCESS) {
        return APR_SUCCESS;
    }
    if (pprob && *pprob) {
        dp_problem_add(*pprob, q->pool, "id", json_object_new_string(object));
        (*pprob)->detail = apr_pstrcat(q->pool, "the ", kind, " was created (", object, ") but its binding "
                                       "to customer '", customer, "' was not recorded: ",
                                       (*pprob)->detail ? (*pprob)->detail : "", NULL);
    }
    return rv;
}

apr_status_t dp_billing_check_start(dp_problem_t **pprob, dp_req_t *q, const char *kind,
                                    const char *object)
{
    dp_billing_binding_t *b = NULL;
    dp_billing_rec_t rec;
    dp_db_t *db;
    apr_status_t rv;

    if (is_admin(q) || object == NULL) {
        return APR_SUCCESS;   /* admin may */
    }
    if ((db = dp_db_acquire(pprob, q)) == NULL) {
        return DP_EPROBLEM;
    }
    if ((rv = dp_billing_binding_get(&b, pprob, db, kind, object)) != APR_SUCCESS || b == NULL
        || (rv = dp_billing_get(&rec, pprob, db, b->customer_uid)) != APR_SUCCESS) {
        return rv;
    }
    if (rec.state == DP_BILLING_ACTIVE) {
        return APR_SUCCESS;
    }
    rv = dp_problem_fail(pprob, q->pool, 409, "subscription_past_due",
                         "the %s is bound to customer '%s', whose subscription is %s: it starts again "
                         "when a payment succeeds (or an admin resumes the customer)", kind,
                         b->customer_uid, dp_billing_state_name(rec.state));
    dp_problem_add(*pprob, q->pool, "customer_uid", json_object_new_string(b->customer_uid));
    return rv;
}

/* ------------------------------------------------------------------------------------------ */
/* engine side, shared by the routes and the enforcer (the engine calls: lib/engine/dp_dk_bound.c) */

/* Applies verb (stop, pause, start, unpause) to every container bound to customer_uid; an
 * already stopped / paused / running container is fine. Fails (leaving the rest for the next
 * pass) on an engine error. */
static apr_status_t act_on_customer(dp_problem_t **pprob, dp_docker_t *docker, dp_db_t *db,
                                    apr_pool_t *p, const char *customer_uid, const char *verb,
                                    int *pcount)
{
    apr_array_header_t *bs = NULL;
    apr_status_t rv;
    int i;

    *pcount = 0;
    if ((rv = dp_billing_bindings_of(&bs, pprob, db, customer_uid)) != APR_SUCCESS) {
        return rv;
    }
    for (i = 0; i < bs->nelts; ++i) {
        dp_billing_binding_t *b = APR_ARRAY_IDX(bs, i, dp_billing_binding_t *);
        if ((rv = dp_dk_bound_act(pcount, pprob, docker, p, b->kind, b->object, verb)) != APR_SUCCESS) {
            return rv;
        }
    }
    return APR_SUCCESS;
}

/* ------------------------------------------------------------------------------------------ */
/* routes */

/* Reads and checks {customer_uid}; NULL after filling a 422 problem. */
static const char *customer_param(dp_problem_t **pprob, dp_req_t *q)
{
    const char *cu = apr_table_get(q->params, "customer_uid");

    q->target = cu;
    return dp_sub_check_uid(pprob, q->pool, "customer_uid", cu, DP_SUB_CUSTOMER_UID_MAX) == APR_SUCCESS
           ? cu : NULL;
}

/* The status object of customer_uid: 404 customer_not_found when the server knows nothing of it. */
static apr_status_t status_json(json_object **pout, dp_problem_t **pprob, dp_req_t *q, dp_db_t *db,
                                const char *cu)
{
    apr_array_header_t *bs = NULL;
    dp_billing_rec_t rec;
    json_object *out, *cs;
    apr_status_t rv;
    int known = 0, i;

    if ((rv = dp_billing_get(&rec, pprob, db, cu)) != APR_SUCCESS
        || (rv = dp_billing_customer_known(&known, pprob, db, cu)) != APR_SUCCESS
        || (rv = dp_billing_bindings_of(&bs, pprob, db, cu)) != APR_SUCCESS) {
        return rv;
    }
    if (!rec.exists && !known && bs->nelts == 0) {
        return dp_problem_fail(pprob, q->pool, 404, "customer_not_found",
                               "no billing key, billing state or binding of customer '%s'", cu);
    }
    out = dp_json_object(q->pool);
    dp_json_set_str(out, "customer_uid", cu);
    dp_json_set_str(out, "state", dp_billing_state_name(rec.state));
    json_object_object_add(out, "since", rec.since ? json_object_new_int64(rec.since) : NULL);
    json_object_object_add(out, "reason", rec.reason ? json_object_new_string(rec.reason) : NULL);
    json_object_object_add(out, "grace_until", rec.grace_until ? json_object_new_int64(rec.grace_until) : NULL);
    json_object_object_add(out, "enforced", rec.enforced ? json_object_new_string(rec.enforced) : NULL);
    dp_json_set_int(out, "version", rec.version);
    json_object_object_add(out, "billing_key", json_object_new_boolean(known));
    cs = json_object_new_array();
    json_object_object_add(out, "containers", cs);
    for (i = 0; i < bs->nelts; ++i) {
        dp_billing_binding_t *b = APR_ARRAY_IDX(bs, i, dp_billing_binding_t *);
        json_object *list = NULL;
        apr_size_t j;

        if ((rv = dp_dk_bound_list(&list, pprob, q->proc->docker, q->pool, b->kind, b->object)) != APR_SUCCESS) {
            return rv;
        }
        if (!strcmp(b->kind, "container") && json_object_array_length(list) == 0) {
            json_object *c = json_object_new_object();
            dp_json_set_str(c, "id", b->object);
            dp_json_set_str(c, "kind", b->kind);
            dp_json_set_str(c, "state", "missing");
            json_object_array_add(cs, c);
            continue;
        }
        for (j = 0; j < json_object_array_length(list); ++j) {
            json_object *e = json_object_array_get_idx(list, j), *c = json_object_new_object();
            const char *name = dp_json_get_str(e, "Name");
            json_object *names = dp_json_get(e, "Names");
            if (name == NULL && names && json_object_array_length(names) > 0) {
                name = json_object_get_string(json_object_array_get_idx(names, 0));
            }
            dp_json_set_str(c, "id", dp_json_get_str(e, "Id"));
            dp_json_set_str(c, "name", name ? (name[0] == '/' ? name + 1 : name) : NULL);
            dp_json_set_str(c, "kind", b->kind);
            if (!strcmp(b->kind, "project")) {
                dp_json_set_str(c, "project", b->object);
            }
            dp_json_set_str(c, "state", dp_dk_container_state(e));
            json_object_array_add(cs, c);
        }
    }
    *pout = out;
    return APR_SUCCESS;
}

/* GET /subscriptions/{customer_uid}/status */
static int billing_status(dp_req_t *q)
{
    dp_problem_t *prob = NULL;
    json_object *out = NULL;
    const char *cu;
    dp_db_t *db;

    if ((cu = customer_param(&prob, q)) == NULL
        || (db = dp_db_acquire(&prob, q)) == NULL
        || status_json(&out, &prob, q, db, cu) != APR_SUCCESS) {
        return dp_send_problem(q, prob);
    }
    return dp_send_json(q, 200, out);
}

/* POST /subscriptions/{customer_uid}/resume {"reason"}: admin only; the customer becomes active
 * (the enforcer restarts what it stopped); 200 with the status and "changed". */
static int billing_resume(dp_req_t *q)
{
    static const char *const fields[] = { "reason", NULL };
    dp_billing_outcome_t outcome = DP_BILLING_NO_CHANGE;
    dp_problem_t *prob = NULL;
    json_object *in, *out = NULL;
    const char *cu, *reason = NULL;
    dp_db_t *db;

    if ((cu = customer_param(&prob, q)) == NULL) {
        return dp_send_problem(q, prob);
    }
    if (!is_admin(q)) {
        return dp_fail(q, 403, "insufficient_scope", "resuming a customer needs an admin key");
    }
    if (dp_read_json(&in, &prob, q, 0) != APR_SUCCESS
        || dp_json_only_fields(&prob, q->pool, in, fields) != APR_SUCCESS
        || dp_json_field_str(&reason, &prob, q->pool, in, "reason", 1, 200) != APR_SUCCESS
        || (db = dp_db_acquire(&prob, q)) == NULL
        || status_json(&out, &prob, q, db, cu) != APR_SUCCESS   /* 404 for an unknown customer */
        || dp_billing_resume(&outcome, &prob, db, cu, reason, q->rid,
                             (apr_int64_t)apr_time_sec(apr_time_now())) != APR_SUCCESS
        || status_json(&out, &prob, q, db, cu) != APR_SUCCESS) {
        return dp_send_problem(q, prob);
    }
    DP_LOG(q, APLOG_NOTICE, 0, "billing: customer %s resumed by key %s (%s)", cu, q->key->name,
           outcome == DP_BILLING_TRANSITION ? "state changed" : "already active");
    json_object_object_add(out, "changed", json_object_new_boolean(outcome == DP_BILLING_TRANSITION));
    return dp_send_json(q, 200, out);
}

/* Common part of PUT/DELETE /subscriptions/{customer_uid}/containers/{id}: scopes, the customer,
 * the container (the key's own; *pid its full Id). */
static apr_status_t binding_target(const char **pcu, const char **pid, dp_db_t **pdb, dp_problem_t **pprob,
                                   dp_req_t *q, int need_key)
{
    const char *id = apr_table_get(q->params, "id");
    dp_dk_ctx_t c;
    apr_status_t rv;
    int known = 0;

    if (!dp_scopes_allow(q->key->scopes, DP_SCOPE_DOCKER_WRITE | DP_SCOPE_PAYMENTS_WRITE)) {
        return dp_problem_fail(pprob, q->pool, 403, "insufficient_scope", "binding a container to a "
                               "customer needs a key with docker:write and payments:write");
    }
    if ((*pcu = customer_param(pprob, q)) == NULL) {
        return DP_EPROBLEM;
    }
    if (!dp_dk_valid_id(id)) {
        return dp_problem_fail(pprob, q->pool, 404, "container_not_found", "no such container");
    }
    if ((*pdb = dp_db_acquire(pprob, q)) == NULL) {
        return DP_EPROBLEM;
    }
    if (need_key) {
        if ((rv = dp_billing_customer_known(&known, pprob, *pdb, *pcu)) != APR_SUCCESS) {
            return rv;
        }
        if (!known) {
            return dp_problem_fail(pprob, q->pool, 404, "customer_not_found",
                                   "no live billing key '%s' was issued through this server", *pcu);
        }
    }
    dp_engine_ctx(&c, q);
    if ((rv = dp_dk_own_container(pid, NULL, pprob, &c, id)) != APR_SUCCESS) {
        dp_billing_binding_t *b = NULL;
        /* releasing the binding of a container that is gone: by its full id, the binder's key
         * (or admin) only */
        if (need_key || !*pprob || (*pprob)->status != 404
            || dp_billing_binding_get(&b, NULL, *pdb, "container", id) != APR_SUCCESS || b == NULL
            || !(is_admin(q) || (b->key_name && !strcmp(b->key_name, q->key->name)))) {
            return rv;
        }
        *pprob = NULL;
        *pid = b->object;
    }
    q->target = apr_pstrcat(q->pool, *pcu, "/", *pid, NULL);
    return APR_SUCCESS;
}

/* PUT /subscriptions/{customer_uid}/containers/{id}: binds the key's container to the customer
 * (the database only: an existing container's labels cannot change). 200 {customer_uid, id}. */
static int binding_put(dp_req_t *q)
{
    dp_problem_t *prob = NULL;
    const char *cu, *id;
    json_object *out;
    dp_db_t *db;

    if (binding_target(&cu, &id, &db, &prob, q, 1) != APR_SUCCESS
        || dp_billing_bind(&prob, db, "container", id, cu, q->key->name,
                           (apr_int64_t)apr_time_sec(apr_time_now())) != APR_SUCCESS) {
        return dp_send_problem(q, prob);
    }
    out = dp_json_object(q->pool);
    dp_json_set_str(out, "customer_uid", cu);
    dp_json_set_str(out, "id", id);
    dp_json_set_str(out, "kind", "container");
    return dp_send_json(q, 200, out);
}

/* DELETE /subscriptions/{customer_uid}/containers/{id}: releases the binding; 204, or 404
 * binding_not_found. */
static int binding_delete(dp_req_t *q)
{
    dp_problem_t *prob = NULL;
    const char *cu, *id;
    dp_db_t *db;
    int found = 0;

    if (binding_target(&cu, &id, &db, &prob, q, 0) != APR_SUCCESS
        || dp_billing_unbind(&found, &prob, db, "container", id, cu) != APR_SUCCESS) {
        return dp_send_problem(q, prob);
    }
    if (!found) {
        return dp_fail(q, 404, "binding_not_found", "the container is not bound to customer '%s'", cu);
    }
    return dp_send_empty(q, 204);
}

const dp_handler_entry_t dp_billing_handlers[] = {
    { "subscriptions.status", billing_status },
    { "subscriptions.resume", billing_resume },
    { "subscriptions.bind", binding_put },
    { "subscriptions.unbind", binding_delete },
    { NULL, NULL }
};

/* ------------------------------------------------------------------------------------------ */
/* the enforcer: a mod_watchdog singleton callback */

typedef struct {
    server_rec *s;
    const dp_conf_t *c;
} enforcer_t;

/* One pass: grace deadlines, then due customers (stop/pause, suspended), then customers active
 * again whose containers are still enforced (start/unpause). Every step is idempotent and its
 * state is in the database, so a pass cut short (or a restart) is finished by the next one. */
static void enforce_pass(enforcer_t *e, apr_pool_t *p)
{
    const char *mode = e->c->billing_enforce == DP_BILLING_ENFORCE_PAUSE ? "pause" : "stop";
    dp_proc_t *proc = dp_proc_of(e->s);
    apr_int64_t now = (apr_int64_t)apr_time_sec(apr_time_now());
    apr_array_header_t *list = NULL;
    dp_problem_t *prob = NULL;
    dp_db_t *db;
    int i;

    if (proc == NULL || (db = dp_db_open_bg(e->s, p)) == NULL) {
        return;   /* no database now: the next pass tries again */
    }
    if (dp_billing_set_grace(&prob, db, e->c->billing_grace) != APR_SUCCESS
        || dp_billing_pending(&list, &prob, db, "due", now, ENFORCER_BATCH) != APR_SUCCESS) {
        goto leave;
    }
    for (i = 0; i < list->nelts; ++i) {
        const char *cu = APR_ARRAY_IDX(list, i, const char *), *m = NULL;
        int n = 0, done = 0;

        if (dp_billing_enforce_claim(&m, &prob, db, cu, mode) != APR_SUCCESS) {
            goto leave;
        }
        if (m == NULL) {
            continue;   /* no longer past_due */
        }
        if (act_on_customer(&prob, proc->docker, db, p, cu, m, &n) != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, e->s, "dockpay: billing: cannot %s the containers "
                         "of customer %s yet: %s", m, cu, prob && prob->detail ? prob->detail : "error");
            continue;
        }
        if (dp_billing_enforce_done(&done, &prob, db, cu,
                                    apr_pstrcat(p, "grace period over: bound containers ",
                                                !strcmp(m, "pause") ? "paused" : "stopped", NULL),
                                    now) != APR_SUCCESS) {
            goto leave;
        }
        if (done) {
            ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, e->s, "dockpay: billing: customer %s suspended "
                         "(%s: %d container(s))", cu, m, n);
        }
    }
    if (dp_billing_pending(&list, &prob, db, "restore", now, ENFORCER_BATCH) != APR_SUCCESS) {
        goto leave;
    }
    for (i = 0; i < list->nelts; ++i) {
        const char *cu = APR_ARRAY_IDX(list, i, const char *);
        dp_billing_rec_t rec;
        int n = 0, done = 0;

        if (dp_billing_get(&rec, &prob, db, cu) != APR_SUCCESS) {
            goto leave;
        }
        if (rec.enforced == NULL) {
            continue;
        }
        if (act_on_customer(&prob, proc->docker, db, p, cu,
                            !strcmp(rec.enforced, "pause") ? "unpause" : "start", &n) != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, e->s, "dockpay: billing: cannot restart the "
                         "containers of customer %s yet: %s", cu, prob && prob->detail ? prob->detail : "error");
            continue;
        }
        if (dp_billing_restore_done(&done, &prob, db, cu, rec.enforced) != APR_SUCCESS) {
            goto leave;
        }
        if (done) {
            ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, e->s, "dockpay: billing: customer %s active again "
                         "(%d container(s) restarted)", cu, n);
        }
    }
leave:
    if (prob && prob->status >= 500) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, e->s, "dockpay: billing: enforcer pass: %s",
                     prob->detail ? prob->detail : prob->code);
    }
    dp_db_close_bg(e->s, db);
}

/* The watchdog callback: one pass per interval while running. */
static apr_status_t enforcer_cb(int state, void *data, apr_pool_t *pool)
{
    if (state == AP_WATCHDOG_STATE_RUNNING) {
        enforce_pass(data, pool);
    }
    return APR_SUCCESS;
}

int dp_billing_post_config(server_rec *s, const dp_conf_t *c, apr_pool_t *pconf)
{
    enforcer_t *e;
    apr_status_t rv;

    if (c->billing_enforce == DP_BILLING_ENFORCE_OFF || s->is_virtual) {
        return OK;
    }
    e = apr_pcalloc(pconf, sizeof(*e));
    e->s = s;
    e->c = c;
    if (APR_RETRIEVE_OPTIONAL_FN(ap_dbd_open) == NULL
        || (rv = dp_task_register("dockpay-billing", ENFORCER_INTERVAL, e, enforcer_cb, pconf)) == APR_ENOTIMPL) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, "dockpay: DockpayBillingEnforce needs mod_watchdog "
                     "and mod_dbd");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, "dockpay: cannot register the billing enforcer "
                     "(mod_watchdog instance dockpay-billing)");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return OK;
}
