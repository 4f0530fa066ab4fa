/* h_owner: the caller's identity and the server's policy for the core Docker operations: a
 * request becomes a dp_dk_ctx_t (lib/dp_dk_ops.h), where ownership and quotas are enforced. */
#ifndef H_OWNER_H
#define H_OWNER_H

#include "dp_glue.h"
#include "dp_dk_quota.h"
#include "dp_dk_policy.h"
#include "dp_dk_ops.h"

/* Returns the key name whose objects the request is limited to, or NULL for an admin key
 * (which sees everything); "" (owning nothing) when there is no key. */
const char *dp_owner(dp_req_t *q);

/* Fills *out with the limits of the request's key (its line, else DockpayQuota*, else the
 * table defaults in handlers/dp_conf.def; admin keys only their line). */
void dp_owner_limits(dp_dk_quota_t *out, dp_req_t *q);

/* Fills c for a core Docker operation (lib/dp_dk_ops.h) of the request: its client and pool,
 * the caller's key and owner view, DockpayManagedOnly, the create policy, the quota limits,
 * DockpayRegistryAllow, a database getter and the client-gone tick. */
void dp_engine_ctx(dp_dk_ctx_t *c, dp_req_t *q);

/* Fills pol with the create policy of the request's server: relaxations, capability and bind
 * allow-lists, the engine socket, resource defaults and ceilings, publish and log-driver lists. */
void dp_owner_policy(dp_dk_policy_t *pol, dp_req_t *q);

#endif
