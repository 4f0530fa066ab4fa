/* dp_dk_ops: shared helpers of the Docker operations and object ownership (see dp_dk_ops.h). */
#include <string.h>
#include <apr_strings.h>

#include "dp_dk_ops.h"
#include "dp_json.h"
#include "dp_util.h"
#include "dp_dk_misc.h"

/* ------------------------------------------------------------------------------------------ */
/* shared helpers */

/* Renames a 404's code. */
dp_problem_t *dp_dk_not_found(dp_problem_t *prob, const char *code, int any)
{
    if (prob && prob->status == 404 && (any || (prob->code && !strcmp(prob->code, "not_found")))) {
        prob->code = code;
    }
    return prob;
}

/* Calls the engine. */
apr_status_t dp_dk_call(json_object **pjson, int *pstatus, dp_problem_t **pprob, dp_dk_ctx_t *c,
                        const char *method, const char *path, json_object *body)
{
    return dp_docker_call(pjson, pstatus, pprob, c->docker, c->pool, method, path, body);
}

/* Appends the filters argument. */
const char *dp_dk_with_filters(apr_pool_t *p, const char *path, const char *sep, json_object *filters)
{
    if (filters == NULL || json_object_object_length(filters) == 0) {
        return path;
    }
    return apr_pstrcat(p, path, sep, "filters=", dp_url_encode(p, dp_json_str(p, filters)), NULL);
}

/* Reads an optional object of strings. */
apr_status_t dp_dk_field_strmap(json_object **pout, dp_problem_t **pprob, apr_pool_t *p, json_object *o,
                                const char *key, int no_reserved)
{
    json_object *v = dp_json_get(o, key);

    *pout = NULL;
    if (v == NULL) {
        return APR_SUCCESS;
    }
    if (!json_object_is_type(v, json_type_object)) {
        return dp_problem_fail(pprob, p, 400, "wrong_type", "the field '%s' must be an object of strings", key);
    }
    {
        json_object_object_foreach(v, k, val) {
            if (no_reserved && dp_dk_label_reserved(k)) {
                return dp_problem_fail(pprob, p, 403, "policy_denied",
                                       "%s.%s: com.docker.compose.* labels are set by Compose only", key, k);
            }
            if (!json_object_is_type(val, json_type_string)) {
                return dp_problem_fail(pprob, p, 400, "wrong_type", "the field '%s.%s' must be a string", key, k);
            }
        }
    }
    *pout = dp_json_own(p, json_object_get(v));
    return APR_SUCCESS;
}

/* Lists containers with a label filter. */
apr_status_t dp_dk_containers_by_label(json_object **plist, dp_problem_t **pprob, dp_dk_ctx_t *c,
                                       const char *label)
{
    json_object *f = dp_json_object(c->pool), *a = json_object_new_array();

    json_object_array_add(a, json_object_new_string(label));
    json_object_object_add(f, "label", a);
    return dp_dk_call(plist, NULL, pprob, c, "GET", dp_dk_with_filters(c->pool, "/containers/json?all=1", "&", f),
                      NULL);
}

/* ------------------------------------------------------------------------------------------ */
/* ownership */

/* True when the labels make the object visible. */
int dp_dk_visible(const dp_dk_ctx_t *c, json_object *labels)
{
    return c->owner == NULL || dp_dk_owned(labels, c->owner);
}

/* Inspects a container and checks the caller may see it. */
apr_status_t dp_dk_own_container(const char **pid, json_object **pinfo, dp_problem_t **pprob, dp_dk_ctx_t *c,
                                 const char *id)
{
    json_object *info = NULL, *labels;
    apr_status_t rv;

    if ((rv = dp_dk_call(&info, NULL, pprob, c, "GET",
                         apr_pstrcat(c->pool, "/containers/", dp_url_encode(c->pool, id), "/json", NULL), NULL))
        != APR_SUCCESS) {
        dp_dk_not_found(*pprob, "container_not_found", 1);
        return rv;
    }
    labels = dp_json_get(dp_json_get(info, "Config"), "Labels");
    if (c->managed_only) {
        const char *m = dp_json_get_str(labels, DP_DK_LABEL_MANAGED);
        if (m == NULL || strcmp(m, "true")) {
            return dp_problem_fail(pprob, c->pool, 404, "container_not_found", "no such container: %s", id);
        }
    }
    if (!dp_dk_visible(c, labels)) {
        /* the same answer as for a missing one: existence is not revealed */
        return dp_problem_fail(pprob, c->pool, 404, "container_not_found", "no such container: %s", id);
    }
    *pid = dp_json_get_str(info, "Id") ? dp_json_get_str(info, "Id") : id;
    if (pinfo) {
        *pinfo = info;
    }
    return APR_SUCCESS;
}

/* Inspects an object at path and checks its Labels (top-level); 404 code otherwise. */
static apr_status_t owned_object(json_object **pobj, dp_problem_t **pprob, dp_dk_ctx_t *c, const char *path,
                                 const char *code, const char *what, const char *name)
{
    json_object *o = NULL;
    apr_status_t rv;

    if ((rv = dp_dk_call(&o, NULL, pprob, c, "GET", path, NULL)) != APR_SUCCESS) {
        dp_dk_not_found(*pprob, code, 1);
        return rv;
    }
    if (!dp_dk_visible(c, dp_json_get(o, "Labels"))) {
        return dp_problem_fail(pprob, c->pool, 404, code, "no such %s: %s", what, name);
    }
    if (pobj) {
        *pobj = o;
    }
    return APR_SUCCESS;
}

/* Inspects a network and checks the caller may see it. */
apr_status_t dp_dk_own_network(json_object **pnet, dp_problem_t **pprob, dp_dk_ctx_t *c, const char *id)
{
    return owned_object(pnet, pprob, c, apr_pstrcat(c->pool, "/networks/", dp_url_encode(c->pool, id), NULL),
                        "network_not_found", "network", id);
}

/* Inspects a volume and checks the caller may see it. */
apr_status_t dp_dk_own_volume(json_object **pvol, dp_problem_t **pprob, dp_dk_ctx_t *c, const char *name)
{
    return owned_object(pvol, pprob, c, apr_pstrcat(c->pool, "/volumes/", dp_url_encode(c->pool, name), NULL),
                        "volume_not_found", "volume", name);
}

/* Lists the key's objects of a kind with the owner label filter. */
static apr_status_t owned_list(json_object **plist, dp_problem_t **pprob, dp_dk_ctx_t *c, const char *path,
                               const char *sep)
{
    json_object *f = dp_json_object(c->pool);

    dp_dk_owner_filters_add(f, c->pool, c->key);
    return dp_dk_call(plist, NULL, pprob, c, "GET", dp_dk_with_filters(c->pool, path, sep, f), NULL);
}

/* Takes the key's named lock in the database (held until dp_dk_quota_end): the process mutex
 * orders this process's threads, the database lock the processes and servers on the database. */
static apr_status_t quota_db_lock(dp_problem_t **pprob, dp_dk_ctx_t *c)
{
    dp_db_t *db;
    apr_status_t rv;
    int wait_s = (int)(c->docker_timeout_ms / 1000);

    if (c->db == NULL) {
        return APR_SUCCESS;   /* no database in this context (unit tests): the process mutex only */
    }
    if ((db = c->db(c->db_baton, pprob)) == NULL) {
        return DP_EPROBLEM;   /* a 503: quotas cannot be counted safely without it */
    }
    /* MariaDB's lock names are at most 64 characters: a longer key name shares its lock with
     * the keys of the same first 50 characters (they only wait for each other) */
    if ((rv = dp_store_lock(&c->quota_lock, pprob, db,
                            apr_psprintf(c->pool, "dockpay-quota:%.50s", c->key ? c->key : ""),
                            wait_s < 10 ? 10 : wait_s)) != APR_SUCCESS) {
        return rv;
    }
    if (c->quota_lock == NULL) {
        dp_problem_fail(pprob, c->pool, 503, "quota_busy", "another create by this key is still being "
                        "checked against its quota; try again");
        if (pprob && *pprob) (*pprob)->retry_after = "1";
        c->notice = "create refused: the key's quota lock stayed busy";
        return DP_EPROBLEM;
    }
    return APR_SUCCESS;
}

/* Locks, counts and checks. */
apr_status_t dp_dk_quota_begin(int *plocked, dp_problem_t **pprob, dp_dk_ctx_t *c, const dp_dk_usage_t *add)
{
    const dp_dk_quota_t *limit = &c->limits;
    dp_dk_usage_t used;
    json_object *list = NULL;
    apr_status_t rv;

    *plocked = 0;
    if (dp_dk_quota_none(limit)) {
        return APR_SUCCESS;
    }
    memset(&used, 0, sizeof(used));
    dp_dk_quota_lock(c->key);
    if ((rv = quota_db_lock(pprob, c)) != APR_SUCCESS) {
        goto fail;
    }
    if (add->containers > 0 && (limit->containers > 0 || limit->memory > 0 || limit->nanocpus > 0)) {
        if ((rv = owned_list(&list, pprob, c, "/containers/json?all=1", "&")) != APR_SUCCESS) {
            goto fail;
        }
        dp_dk_usage_add_containers(&used, list);
    }
    if (add->volumes > 0 && limit->volumes > 0) {
        if ((rv = owned_list(&list, pprob, c, "/volumes", "?")) != APR_SUCCESS) {
            goto fail;
        }
        list = dp_json_get(list, "Volumes");
        used.volumes = list && json_object_is_type(list, json_type_array)
                       ? (apr_int64_t)json_object_array_length(list) : 0;
    }
    if ((rv = dp_dk_quota_check(pprob, c->pool, limit, &used, add)) != APR_SUCCESS) {
        c->notice = apr_pstrcat(c->pool, "create refused by quota: ", (*pprob)->detail, NULL);
        goto fail;
    }
    *plocked = 1;
    return APR_SUCCESS;
fail:
    dp_store_unlock(c->quota_lock);
    c->quota_lock = NULL;
    dp_dk_quota_unlock(c->key);
    return rv;
}

/* Releases the key's lock. */
void dp_dk_quota_end(dp_dk_ctx_t *c, int locked)
{
    if (locked) {
        dp_store_unlock(c->quota_lock);
        c->quota_lock = NULL;
        dp_dk_quota_unlock(c->key);
    }
}

/* A 403 policy_denied naming the field. */
static apr_status_t denied(dp_problem_t **pprob, dp_dk_ctx_t *c, const char *field, const char *what,
                           const char *name)
{
    dp_problem_t *prob = dp_problem_make(c->pool, 403, "policy_denied", "%s: the %s '%s' is not one of this key's",
                                         field, what, name);
    *pprob = dp_problem_add(prob, c->pool, "field", json_object_new_string(field));
    return DP_EPROBLEM;
}

/* Checks what a create body names. */
apr_status_t dp_dk_check_refs(apr_array_header_t **pnew, dp_problem_t **pprob, dp_dk_ctx_t *c, json_object *body)
{
    apr_array_header_t *nets, *vols, *ctrs;
    int i;

    *pnew = apr_array_make(c->pool, 1, sizeof(const char *));
    if (c->owner == NULL) {
        return APR_SUCCESS;
    }
    dp_dk_create_refs(&nets, &vols, &ctrs, c->pool, body);
    for (i = 0; i < nets->nelts + ctrs->nelts; ++i) {
        int is_net = i < nets->nelts;
        const dp_dk_objref_t *r = is_net ? &APR_ARRAY_IDX(nets, i, dp_dk_objref_t)
                                         : &APR_ARRAY_IDX(ctrs, i - nets->nelts, dp_dk_objref_t);
        dp_problem_t *prob = NULL;
        const char *id;
        apr_status_t rv = is_net ? (dp_dk_name_ok(r->name) ? dp_dk_own_network(NULL, &prob, c, r->name) : APR_EINVAL)
                                 : (dp_dk_valid_id(r->name) ? dp_dk_own_container(&id, NULL, &prob, c, r->name)
                                                            : APR_EINVAL);
        if (rv != APR_SUCCESS) {
            if (prob && prob->status != 404) {
                *pprob = prob;
                return DP_EPROBLEM;
            }
            return denied(pprob, c, r->field, is_net ? "network" : "container", r->name);
        }
    }
    for (i = 0; i < vols->nelts; ++i) {
        const dp_dk_objref_t *r = &APR_ARRAY_IDX(vols, i, dp_dk_objref_t);
        json_object *v = NULL;
        int status = 0, j, dup = 0;
        if (!dp_dk_valid_volume_name(r->name)) {
            return denied(pprob, c, r->field, "volume", r->name);
        }
        if (dp_dk_call(&v, &status, pprob, c, "GET",
                       apr_pstrcat(c->pool, "/volumes/", dp_url_encode(c->pool, r->name), NULL), NULL)
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
        if (!dp_dk_owned(dp_json_get(v, "Labels"), c->owner)) {
            return denied(pprob, c, r->field, "volume", r->name);
        }
    }
    return APR_SUCCESS;
}

/* Creates the new named volumes with the key's labels. */
apr_status_t dp_dk_make_volumes(dp_problem_t **pprob, dp_dk_ctx_t *c, const apr_array_header_t *news)
{
    int i;
    apr_status_t rv;

    for (i = 0; i < news->nelts; ++i) {
        json_object *body = dp_json_object(c->pool), *vol = NULL;
        const char *name = APR_ARRAY_IDX(news, i, const char *);
        dp_json_set_str(body, "Name", name);
        dp_json_set_str(body, "Driver", "local");
        if ((rv = dp_dk_stamp_labels(pprob, c->pool, body, c->key)) != APR_SUCCESS
            || (rv = dp_dk_call(&vol, NULL, pprob, c, "POST", "/volumes/create", body)) != APR_SUCCESS) {
            return rv;
        }
        /* the engine answers an existing volume of that name (made meanwhile) as created */
        if (!dp_dk_visible(c, dp_json_get(vol, "Labels"))) {
            return denied(pprob, c, "HostConfig", "volume", name);
        }
    }
    return APR_SUCCESS;
}
