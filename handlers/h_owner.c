/* h_owner: object ownership and per-key quotas on the httpd side (see h_owner.h). */
#include <string.h>
#include <httpd.h>
#include <apr_strings.h>

#include "h_owner.h"
#include "dp_dk_policy.h"
#include "dp_dk_misc.h"

/* Returns the owner the request is limited to, or NULL for admin. */
const char *dp_owner(dp_req_t *q)
{
    if (q->key == NULL) {
        return "";
    }
    return (q->key->scopes & DP_SCOPE_ADMIN) ? NULL : q->key->name;
}

/* True when the labels make the object visible to the key. */
int dp_owner_allows(dp_req_t *q, json_object *labels)
{
    const char *owner = dp_owner(q);

    return owner == NULL || dp_dk_owned(labels, owner);
}

/* Inspects a container and checks the key may see it. */
apr_status_t dp_owner_container(const char **pid, json_object **pinfo, dp_problem_t **pprob, dp_req_t *q,
                                const char *id)
{
    json_object *info = NULL, *labels;
    apr_status_t rv;

    if ((rv = dp_docker_call(&info, NULL, pprob, q->proc->docker, q->pool, "GET",
                             apr_pstrcat(q->pool, "/containers/", dp_url_encode(q->pool, id), "/json", NULL), NULL))
        != APR_SUCCESS) {
        if (*pprob && (*pprob)->status == 404) {
            (*pprob)->code = "container_not_found";
        }
        return rv;
    }
    labels = dp_json_get(dp_json_get(info, "Config"), "Labels");
    if (q->conf->managed_only) {
        const char *m = dp_json_get_str(labels, DP_DK_LABEL_MANAGED);
        if (m == NULL || strcmp(m, "true")) {
            return dp_problem_fail(pprob, q->pool, 404, "container_not_found", "no such container: %s", id);
        }
    }
    if (!dp_owner_allows(q, labels)) {
        /* the same answer as for a missing one: existence is not revealed */
        return dp_problem_fail(pprob, q->pool, 404, "container_not_found", "no such container: %s", id);
    }
    *pid = dp_json_get_str(info, "Id") ? dp_json_get_str(info, "Id") : id;
    if (pinfo) {
        *pinfo = info;
    }
    return APR_SUCCESS;
}

/* Inspects an object at path and checks its Labels (top-level); 404 code otherwise. */
static apr_status_t owned_object(json_object **pobj, dp_problem_t **pprob, dp_req_t *q, const char *path,
                                 const char *code, const char *what, const char *name)
{
    json_object *o = NULL;
    apr_status_t rv;

    if ((rv = dp_docker_call(&o, NULL, pprob, q->proc->docker, q->pool, "GET", path, NULL)) != APR_SUCCESS) {
        if (*pprob && (*pprob)->status == 404) {
            (*pprob)->code = code;
        }
        return rv;
    }
    if (!dp_owner_allows(q, dp_json_get(o, "Labels"))) {
        return dp_problem_fail(pprob, q->pool, 404, code, "no such %s: %s", what, name);
    }
    if (pobj) {
        *pobj = o;
    }
    return APR_SUCCESS;
}

/* Inspects a network and checks the key may see it. */
apr_status_t dp_owner_network(json_object **pnet, dp_problem_t **pprob, dp_req_t *q, const char *id)
{
    return owned_object(pnet, pprob, q, apr_pstrcat(q->pool, "/networks/", dp_url_encode(q->pool, id), NULL),
                        "network_not_found", "network", id);
}

/* Inspects a volume and checks the key may see it. */
apr_status_t dp_owner_volume(json_object **pvol, dp_problem_t **pprob, dp_req_t *q, const char *name)
{
    return owned_object(pvol, pprob, q, apr_pstrcat(q->pool, "/volumes/", dp_url_encode(q->pool, name), NULL),
                        "volume_not_found", "volume", name);
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

/* Lists the key's objects of a kind with the owner label filter. */
static apr_status_t owned_list(json_object **plist, dp_problem_t **pprob, dp_req_t *q, const char *path,
                               const char *sep)
{
    json_object *f = dp_json_object(q->pool);

    dp_dk_owner_filters_add(f, q->pool, q->key ? q->key->name : "");
    return dp_docker_call(plist, NULL, pprob, q->proc->docker, q->pool, "GET",
                          apr_pstrcat(q->pool, path, sep, "filters=",
                                      dp_url_encode(q->pool, dp_json_str(q->pool, f)), NULL), NULL);
}

/* Locks, counts and checks. */
apr_status_t dp_owner_quota_begin(int *plocked, dp_problem_t **pprob, dp_req_t *q, const dp_dk_usage_t *add)
{
    dp_dk_quota_t limit;
    dp_dk_usage_t used;
    json_object *list = NULL;
    const char *name = q->key ? q->key->name : "";
    apr_status_t rv;

    *plocked = 0;
    dp_owner_limits(&limit, q);
    if (dp_dk_quota_none(&limit)) {
        return APR_SUCCESS;
    }
    memset(&used, 0, sizeof(used));
    dp_dk_quota_lock(name);
    if (add->containers > 0 && (limit.containers > 0 || limit.memory > 0 || limit.nanocpus > 0)) {
        if ((rv = owned_list(&list, pprob, q, "/containers/json", "?all=1&")) != APR_SUCCESS) {
            goto fail;
        }
        dp_dk_usage_add_containers(&used, list);
    }
    if (add->volumes > 0 && limit.volumes > 0) {
        if ((rv = owned_list(&list, pprob, q, "/volumes", "?")) != APR_SUCCESS) {
            goto fail;
        }
        list = dp_json_get(list, "Volumes");
        used.volumes = list && json_object_is_type(list, json_type_array)
                       ? (apr_int64_t)json_object_array_length(list) : 0;
    }
    if ((rv = dp_dk_quota_check(pprob, q->pool, &limit, &used, add)) != APR_SUCCESS) {
        DP_LOG(q, APLOG_NOTICE, 0, "create refused by quota: %s", (*pprob)->detail);
        goto fail;
    }
    *plocked = 1;
    return APR_SUCCESS;
fail:
    dp_dk_quota_unlock(name);
    return rv;
}

/* Releases the key's lock. */
void dp_owner_quota_end(dp_req_t *q, int locked)
{
    if (locked) {
        dp_dk_quota_unlock(q->key ? q->key->name : "");
    }
}

/* A 403 policy_denied naming the field. */
static apr_status_t denied(dp_problem_t **pprob, dp_req_t *q, const dp_dk_objref_t *r, const char *what)
{
    dp_problem_t *prob = dp_problem_make(q->pool, 403, "policy_denied", "%s: the %s '%s' is not one of this key's",
                                         r->field, what, r->name);
    *pprob = dp_problem_add(prob, q->pool, "field", json_object_new_string(r->field));
    return DP_EPROBLEM;
}

/* Checks what a create body names. */
apr_status_t dp_owner_create_refs(apr_array_header_t **pnew, dp_problem_t **pprob, dp_req_t *q, json_object *body)
{
    apr_array_header_t *nets, *vols, *ctrs;
    int i;

    *pnew = apr_array_make(q->pool, 1, sizeof(const char *));
    if (dp_owner(q) == NULL) {
        return APR_SUCCESS;
    }
    dp_dk_create_refs(&nets, &vols, &ctrs, q->pool, body);
    for (i = 0; i < nets->nelts; ++i) {
        const dp_dk_objref_t *r = &APR_ARRAY_IDX(nets, i, dp_dk_objref_t);
        dp_problem_t *prob = NULL;
        if (!dp_dk_name_ok(r->name) || dp_owner_network(NULL, &prob, q, r->name) != APR_SUCCESS) {
            if (prob && prob->status != 404) {
                *pprob = prob;
                return DP_EPROBLEM;
            }
            return denied(pprob, q, r, "network");
        }
    }
    for (i = 0; i < ctrs->nelts; ++i) {
        const dp_dk_objref_t *r = &APR_ARRAY_IDX(ctrs, i, dp_dk_objref_t);
        dp_problem_t *prob = NULL;
        const char *id;
        if (!dp_dk_valid_id(r->name) || dp_owner_container(&id, NULL, &prob, q, r->name) != APR_SUCCESS) {
            if (prob && prob->status != 404) {
                *pprob = prob;
                return DP_EPROBLEM;
            }
            return denied(pprob, q, r, "container");
        }
    }
    for (i = 0; i < vols->nelts; ++i) {
        const dp_dk_objref_t *r = &APR_ARRAY_IDX(vols, i, dp_dk_objref_t);
        json_object *v = NULL;
        int status = 0, j, dup = 0;
        if (!dp_dk_valid_volume_name(r->name)) {
            return denied(pprob, q, r, "volume");
        }
        if (dp_docker_call(&v, &status, pprob, q->proc->docker, q->pool, "GET",
                           apr_pstrcat(q->pool, "/volumes/", dp_url_encode(q->pool, r->name), NULL), NULL)
            != APR_SUCCESS) {
            if (status != 404) {
                return DP_EPROBLEM;
            }
            for (j = 0; j < (*pnew)->nelts; ++j) {
                dup |= !strcmp(APR_ARRAY_IDX(*pnew, j, const char *), r->name);
            }
            if (!dup) {
                APR_ARRAY_PUSH(*pnew, const char *) = r->name;
            }
            continue;
        }
        if (!dp_dk_owned(dp_json_get(v, "Labels"), dp_owner(q))) {
            return denied(pprob, q, r, "volume");
        }
    }
    return APR_SUCCESS;
}

/* Creates the new named volumes with the key's labels. */
apr_status_t dp_owner_create_volumes(dp_problem_t **pprob, dp_req_t *q, const apr_array_header_t *news)
{
    int i;
    apr_status_t rv;

    for (i = 0; i < news->nelts; ++i) {
        json_object *body = dp_json_object(q->pool), *vol = NULL;
        const char *name = APR_ARRAY_IDX(news, i, const char *);
        dp_json_set_str(body, "Name", name);
        dp_json_set_str(body, "Driver", "local");
        if ((rv = dp_owner_stamp(pprob, q, body)) != APR_SUCCESS
            || (rv = dp_docker_call(&vol, NULL, pprob, q->proc->docker, q->pool, "POST", "/volumes/create", body))
               != APR_SUCCESS) {
            return rv;
        }
        /* the engine answers an existing volume of that name (made meanwhile) as created */
        if (!dp_owner_allows(q, dp_json_get(vol, "Labels"))) {
            dp_problem_t *prob = dp_problem_make(q->pool, 403, "policy_denied",
                                                 "HostConfig: the volume '%s' is not one of this key's", name);
            *pprob = dp_problem_add(prob, q->pool, "field", json_object_new_string("HostConfig"));
            return DP_EPROBLEM;
        }
    }
    return APR_SUCCESS;
}

/* Stamps the managed labels. */
apr_status_t dp_owner_stamp(dp_problem_t **pprob, dp_req_t *q, json_object *body)
{
    return dp_dk_stamp_labels(pprob, q->pool, body, q->key ? q->key->name : "");
}

/* Fills pol from the server configuration (the create policy every container config meets). */
void dp_owner_policy(dp_dk_policy_t *pol, dp_req_t *q)
{
    int a = q->conf->policy_allow;

    memset(pol, 0, sizeof(*pol));
    pol->allow = ((a & DP_ALLOW_PRIVILEGED) ? DP_DK_ALLOW_PRIVILEGED : 0)
                 | ((a & DP_ALLOW_HOST_NAMESPACES) ? DP_DK_ALLOW_HOST_NAMESPACES : 0)
                 | ((a & DP_ALLOW_DEVICES) ? DP_DK_ALLOW_DEVICES : 0)
                 | ((a & DP_ALLOW_SECURITY_OPT) ? DP_DK_ALLOW_SECURITY_OPT : 0)
                 | ((a & DP_ALLOW_SYSCTLS) ? DP_DK_ALLOW_SYSCTLS : 0);
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
