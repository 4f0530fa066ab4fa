/* h_owner: the caller and the server policy as a dp_dk_ctx_t for the core Docker operations (see h_owner.h). */
#include <string.h>
#include <httpd.h>
#include <apr_strings.h>

#include "h_owner.h"
#include "dp_dk_policy.h"
#include "dp_dk_misc.h"
#include "h_engine.h"

/* The database getter of dp_engine_ctx (baton: the request). */
static dp_db_t *engine_db(void *baton, dp_problem_t **pprob)
{
    return dp_db_acquire(pprob, baton);
}

/* Returns the owner the request is limited to, or NULL for admin. */
const char *dp_owner(dp_req_t *q)
{
    if (q->key == NULL) {
        return "";
    }
    return (q->key->scopes & DP_SCOPE_ADMIN) ? NULL : q->key->name;
}

/* Fills *out with the key's limits. */
void dp_owner_limits(dp_dk_quota_t *out, dp_req_t *q)
{
    dp_quota_t dflt, none;

    dflt.containers = q->conf->quota_containers;
    dflt.memory = q->conf->quota_memory;
    dflt.nanocpus = q->conf->quota_cpus;
    dflt.volumes = q->conf->quota_volumes;
    if (q->key == NULL) {
        dp_quota_unset(&none);
        dp_dk_quota_resolve(out, &none, &dflt, 0);
        return;
    }
    dp_dk_quota_resolve(out, &q->key->quota, &dflt, (q->key->scopes & DP_SCOPE_ADMIN) != 0);
}

/* Fills c for an operation of the request: its client and pool, the caller, the policy. */
void dp_engine_ctx(dp_dk_ctx_t *c, dp_req_t *q)
{
    dp_dk_policy_t *pol = apr_palloc(q->pool, sizeof(*pol));

    memset(c, 0, sizeof(*c));
    dp_owner_policy(pol, q);
    c->docker = q->proc->docker;
    c->pool = q->pool;
    c->key = q->key ? q->key->name : "";
    c->owner = dp_owner(q);
    c->managed_only = q->conf->managed_only;
    c->policy = pol;
    dp_owner_limits(&c->limits, q);
    c->registry_allow = q->conf->registry_allow;
    c->docker_timeout_ms = (long)q->conf->docker_timeout * 1000;
    c->db = engine_db;
    c->db_baton = q;
    c->tick = dp_engine_tick;
    c->tick_baton = q->r;
}

/* Fills pol from the server configuration (the create policy every container config meets). */
void dp_owner_policy(dp_dk_policy_t *pol, dp_req_t *q)
{
    int a = q->conf->policy_allow;

    memset(pol, 0, sizeof(*pol));
    pol->allow = (unsigned)a;   /* DockpayPolicyAllow stores DP_DK_ALLOW_* bits */
    pol->caps = q->conf->cap_allow;
    pol->binds = q->conf->bind_allow;
    pol->socket = dp_docker_socket(q->proc->docker);
    pol->mem_default = q->conf->mem_limit.dflt;
    pol->mem_max = q->conf->mem_limit.max;
    pol->cpu_default = q->conf->cpu_limit.dflt;
    pol->cpu_max = q->conf->cpu_limit.max;
    pol->pids_default = q->conf->pids_limit.dflt;
    pol->pids_max = q->conf->pids_limit.max;
    pol->publish = q->conf->publish_allow;
    pol->log_drivers = q->conf->log_drivers;
}
