/* h_subscriptions: billing keys, charge-now and scheduled payments (lib/billing/dp_sub.h does the work).
 * Bodies are validated completely before PortOne or the database is touched. */
#include <apr_time.h>

#include "dp_glue.h"
#include "dp_sub.h"
#include "dp_billing.h"

/* Fills env for request q (no database yet). */
static void env_init(dp_sub_env_t *env, dp_req_t *q)
{
    env->pool = q->pool;
    env->portone = q->proc ? q->proc->portone : NULL;
    env->db = NULL;
    env->channel_key = q->conf->portone_channel;
    env->pg = q->conf->portone_pg;
    env->now = (apr_int64_t)apr_time_sec(apr_time_now());
}

/* Borrows the request's database connection into env; a 503 problem when it is down. */
static apr_status_t env_db(dp_sub_env_t *env, dp_problem_t **pprob, dp_req_t *q)
{
    return (env->db = dp_db_acquire(pprob, q)) ? APR_SUCCESS : DP_EPROBLEM;
}

/* GET /subscriptions: the local billing keys with their schedules, paginated. */
static int sub_list(dp_req_t *q)
{
    dp_sub_env_t env;
    dp_problem_t *prob = NULL;
    apr_int64_t page, limit;
    json_object *out;

    const char *state = dp_query(q, "state");
    dp_billing_state_t st;

    env_init(&env, q);
    if (state && !dp_billing_state_parse(&st, state)) {   /* billing filter (issue 15) */
        return dp_fail(q, 400, "bad_query", "the query parameter 'state' must be active, past_due or suspended");
    }
    if (dp_query_int(&page, &prob, q, "page", 1, 1, 1000000) != APR_SUCCESS
        || dp_query_int(&limit, &prob, q, "limit", 20, 1, 100) != APR_SUCCESS
        || env_db(&env, &prob, q) != APR_SUCCESS
        || dp_sub_list(&out, &prob, &env, (int)page, (int)limit, state) != APR_SUCCESS) {
        return dp_send_problem(q, prob);
    }
    return dp_send_json(q, 200, out);
}

/* POST /subscriptions/billing-key: issues a billing key; 201 with PortOne's (masked) object. */
static int key_create(dp_req_t *q)
{
    dp_sub_env_t env;
    dp_problem_t *prob = NULL;
    json_object *in, *body, *out;
    const char *cu;

    env_init(&env, q);
    if (dp_read_json(&in, &prob, q, 0) != APR_SUCCESS
        || dp_sub_parse_key(&body, &cu, &prob, &env, in) != APR_SUCCESS) {
        return dp_send_problem(q, prob);
    }
    q->target = cu;
    if (env_db(&env, &prob, q) != APR_SUCCESS) {
        dp_sub_wipe_card(body);
        return dp_send_problem(q, prob);
    }
    if (dp_sub_issue_key(&out, &prob, &env, cu, body) != APR_SUCCESS) {
        return dp_send_problem(q, prob);
    }
    return dp_send_json(q, 201, out);
}

/* GET /subscriptions/billing-key/{customer_uid}: PortOne's billing key object. */
static int key_get(dp_req_t *q)
{
    dp_sub_env_t env;
    dp_problem_t *prob = NULL;
    json_object *out;

    env_init(&env, q);
    q->target = apr_table_get(q->params, "customer_uid");
    if (dp_sub_get_key(&out, &prob, &env, q->target) != APR_SUCCESS) {
        return dp_send_problem(q, prob);
    }
    return dp_send_json(q, 200, out);
}

/* DELETE /subscriptions/billing-key/{customer_uid}: deletes it at PortOne and marks it deleted. */
static int key_delete(dp_req_t *q)
{
    dp_sub_env_t env;
    dp_problem_t *prob = NULL;
    json_object *out;
    const char *cu = apr_table_get(q->params, "customer_uid");

    env_init(&env, q);
    q->target = cu;
    if (dp_sub_check_uid(&prob, q->pool, "customer_uid", cu, DP_SUB_CUSTOMER_UID_MAX) != APR_SUCCESS
        || env_db(&env, &prob, q) != APR_SUCCESS
        || dp_sub_delete_key(&out, &prob, &env, cu) != APR_SUCCESS) {
        return dp_send_problem(q, prob);
    }
    return dp_send_json(q, 200, out);
}

/* POST /subscriptions/pay: charges a billing key now; PortOne's payment object. */
static int pay(dp_req_t *q)
{
    dp_sub_env_t env;
    dp_problem_t *prob = NULL;
    json_object *in, *body, *out;

    env_init(&env, q);
    if (dp_read_json(&in, &prob, q, 0) != APR_SUCCESS
        || dp_sub_parse_pay(&body, &prob, &env, in) != APR_SUCCESS) {
        return dp_send_problem(q, prob);
    }
    q->target = dp_json_get_str(body, "merchant_uid");
    if (env_db(&env, &prob, q) != APR_SUCCESS
        || dp_sub_pay(&out, &prob, &env, body) != APR_SUCCESS) {
        return dp_send_problem(q, prob);
    }
    return dp_send_json(q, 200, out);
}

/* POST /subscriptions/schedule: 201 with {"items": PortOne's schedule results}. */
static int schedule(dp_req_t *q)
{
    dp_sub_env_t env;
    dp_problem_t *prob = NULL;
    json_object *in, *body, *items;

    env_init(&env, q);
    if (dp_read_json(&in, &prob, q, 0) != APR_SUCCESS
        || dp_sub_parse_schedule(&body, &prob, &env, in) != APR_SUCCESS) {
        return dp_send_problem(q, prob);
    }
    q->target = dp_json_get_str(body, "customer_uid");
    if (env_db(&env, &prob, q) != APR_SUCCESS
        || dp_sub_schedule(&items, &prob, &env, body) != APR_SUCCESS) {
        return dp_send_problem(q, prob);
    }
    return dp_send_items(q, 201, items, NULL);
}

/* GET /subscriptions/schedule/{customer_uid}?from=&to=: PortOne's schedules in the window. */
static int schedule_list(dp_req_t *q)
{
    dp_sub_env_t env;
    dp_problem_t *prob = NULL;
    apr_int64_t from, to;
    json_object *items;
    const char *cu = apr_table_get(q->params, "customer_uid");

    env_init(&env, q);
    q->target = cu;
    if (dp_query_int(&from, &prob, q, "from", env.now, 0, APR_INT64_C(1) << 40) != APR_SUCCESS
        || dp_query_int(&to, &prob, q, "to", from + DP_SUB_LIST_WINDOW_DEFAULT, 0,
                        APR_INT64_C(1) << 40) != APR_SUCCESS
        || dp_sub_check_uid(&prob, q->pool, "customer_uid", cu, DP_SUB_CUSTOMER_UID_MAX) != APR_SUCCESS
        || dp_sub_check_window(&prob, q->pool, from, to) != APR_SUCCESS
        || env_db(&env, &prob, q) != APR_SUCCESS
        || dp_sub_list_schedules(&items, &prob, &env, cu, from, to) != APR_SUCCESS) {
        return dp_send_problem(q, prob);
    }
    return dp_send_items(q, 200, items, NULL);
}

/* DELETE /subscriptions/schedule/{customer_uid}: body {"merchant_uid": [...]} or none (all);
 * {"items": the revoked schedules}. */
static int unschedule(dp_req_t *q)
{
    dp_sub_env_t env;
    dp_problem_t *prob = NULL;
    json_object *in, *body, *items;
    const char *cu = apr_table_get(q->params, "customer_uid");

    env_init(&env, q);
    q->target = cu;
    if (dp_read_json(&in, &prob, q, 1) != APR_SUCCESS
        || dp_sub_parse_unschedule(&body, &prob, &env, cu, in) != APR_SUCCESS
        || env_db(&env, &prob, q) != APR_SUCCESS
        || dp_sub_unschedule(&items, &prob, &env, body) != APR_SUCCESS) {
        return dp_send_problem(q, prob);
    }
    return dp_send_items(q, 200, items, NULL);
}

const dp_handler_entry_t dp_subscription_handlers[] = {
    { "subscriptions.list", sub_list },
    { "subscriptions.key_create", key_create },
    { "subscriptions.key_get", key_get },
    { "subscriptions.key_delete", key_delete },
    { "subscriptions.pay", pay },
    { "subscriptions.schedule", schedule },
    { "subscriptions.schedule_list", schedule_list },
    { "subscriptions.unschedule", unschedule },
    { NULL, NULL }
};
