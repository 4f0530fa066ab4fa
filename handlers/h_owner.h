/* h_owner: object ownership and per-key quotas on the httpd side. A non-admin key sees and
 * acts only on the engine objects labelled dockpay.key=<its name>; others answer 404 as if
 * missing. Quotas are counted from the engine under a per-key lock (lib/docker/dp_dk_quota.h). */
#ifndef H_OWNER_H
#define H_OWNER_H

#include "dp_glue.h"
#include "dp_dk_quota.h"
#include "dp_dk_policy.h"

/* Returns the key name whose objects the request is limited to, or NULL for an admin key
 * (which sees everything); "" (owning nothing) when there is no key. */
const char *dp_owner(dp_req_t *q);

/* True when an object with these labels (an object or NULL) is visible to the request's key. */
int dp_owner_allows(dp_req_t *q, json_object *labels);

/* Inspects container id (an id or name already checked) and answers 404 container_not_found
 * unless the key may see it (its own; DockpayManagedOnly: managed only, admin included);
 * *pid gets its full Id, *pinfo (when not NULL) the inspect object. */
apr_status_t dp_owner_container(const char **pid, json_object **pinfo, dp_problem_t **pprob, dp_req_t *q,
                                const char *id);

/* Inspects network id (checked as a name) into *pnet, 404 network_not_found unless visible. */
apr_status_t dp_owner_network(json_object **pnet, dp_problem_t **pprob, dp_req_t *q, const char *id);

/* Inspects volume name into *pvol, 404 volume_not_found unless visible. */
apr_status_t dp_owner_volume(json_object **pvol, dp_problem_t **pprob, dp_req_t *q, const char *name);

/* Fills *out with the limits of the request's key (its line, else DockpayQuota*, else the
 * table defaults in handlers/dp_conf.def; admin keys only their line). */
void dp_owner_limits(dp_dk_quota_t *out, dp_req_t *q);

/* Quota check before a create that adds *add: takes the key's lock, counts what the key uses
 * (its labelled containers, stopped ones included; its labelled volumes when add->volumes)
 * and checks; on success *plocked says whether the lock is held (release it with
 * dp_owner_quota_end once the engine answered the create), on failure nothing is held. */
apr_status_t dp_owner_quota_begin(int *plocked, dp_problem_t **pprob, dp_req_t *q, const dp_dk_usage_t *add);

/* Releases what dp_owner_quota_begin took. */
void dp_owner_quota_end(dp_req_t *q, int locked);

/* Checks the objects a container create body names for a non-admin key: networks and
 * "container:" modes it does not own are 403 policy_denied naming the field (whether they exist
 * or not); a named volume owned by another key or nobody is 403; a new named volume is
 * created first through the engine with the key's labels (counted as add->volumes before:
 * call with pnew to learn the names, then dp_owner_create_volumes under the quota lock). */
apr_status_t dp_owner_create_refs(apr_array_header_t **pnew, dp_problem_t **pprob, dp_req_t *q, json_object *body);

/* Creates the named volumes in news (const char*) with the key's labels. */
apr_status_t dp_owner_create_volumes(dp_problem_t **pprob, dp_req_t *q, const apr_array_header_t *news);

/* Stamps dockpay.managed=true and dockpay.key=<key name> on a create body's Labels. */
apr_status_t dp_owner_stamp(dp_problem_t **pprob, dp_req_t *q, json_object *body);

/* Fills pol with the create policy of the request's server: relaxations, capability and bind
 * allow-lists, the engine socket, resource defaults and ceilings, publish and log-driver lists. */
void dp_owner_policy(dp_dk_policy_t *pol, dp_req_t *q);

#endif
