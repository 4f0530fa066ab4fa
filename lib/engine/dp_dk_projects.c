/* dp_dk_projects: Compose projects as core operations (see dp_dk_ops.h). Listing and
 * lifecycle work from the engine's labels; "up" checks the posted file (dp_dk_compose_check:
 * YAML -> allow-listed JSON under the create policy), writes the normalised JSON alone into
 * <root>/<project>/ and runs the compose command on exactly that file. A project belongs to the
 * key whose dockpay.key label its containers carry: other non-admin keys get 404 for it (409
 * on up), and nobody's up takes over a project made outside the API. */
#include <string.h>
#include <apr_strings.h>
#include <apr_hash.h>

#include "dp_dk_ops.h"
#include "dp_json.h"
#include "dp_util.h"
#include "dp_dk_compose.h"

#define COMPOSE_FILE "docker-compose.yml"

static int is_admin(const dp_dk_ctx_t *c)
{
    return c->owner == NULL;
}

static const char *label_of(json_object *o, const char *k)
{
    return dp_json_get_str(dp_json_get(o, "Labels"), k);
}

/* True when the engine object o carries the caller's key label. */
static int owned(dp_dk_ctx_t *q, json_object *o)
{
    const char *k = label_of(o, DP_DK_LABEL_KEY);

    return k && *k && !strcmp(k, q->key);
}

/* True when the caller may see and act on a project whose containers are cs: admin always;
 * another key only when every container carries its key label. */
static int may_act(dp_dk_ctx_t *q, json_object *cs)
{
    size_t i;

    if (is_admin(q)) {
        return 1;
    }
    for (i = 0; cs && i < json_object_array_length(cs); ++i) {
        if (!owned(q, json_object_array_get_idx(cs, i))) {
            return 0;
        }
    }
    return 1;
}

/* The members of list (networks or volumes) labelled dockpay.key=owner (any key when owner is
 * NULL: the managed ones), as a new pool-owned array. */
static json_object *with_key(dp_dk_ctx_t *q, json_object *list, const char *owner)
{
    json_object *out = dp_json_array(q->pool);
    size_t i;

    for (i = 0; list && i < json_object_array_length(list); ++i) {
        json_object *o = json_object_array_get_idx(list, i);
        const char *k = label_of(o, DP_DK_LABEL_KEY);
        if (k && *k && (owner == NULL || !strcmp(k, owner))) {
            json_object_array_add(out, json_object_get(o));
        }
    }
    return out;
}

/* Checks the {project} of a route: 404 project_not_found for anything that is not a name. */
static apr_status_t project_name(dp_problem_t **pprob, dp_dk_ctx_t *q, const char *name)
{
    if (!dp_dk_compose_name_ok(name)) {
        return dp_problem_fail(pprob, q->pool, 404, "project_not_found", "no such compose project: %s",
                               name ? name : "");
    }
    q->target = name;
    return APR_SUCCESS;
}

/* Returns the engine's objects of kind ("networks", "volumes") labelled with the project. */
static apr_status_t labelled(json_object **plist, dp_problem_t **pprob, dp_dk_ctx_t *q, const char *kind,
                             const char *name)
{
    json_object *f = dp_json_object(q->pool), *a = json_object_new_array(), *res = NULL;
    const char *path;
    apr_status_t rv;

    json_object_array_add(a, json_object_new_string(apr_pstrcat(q->pool, DP_DK_COMPOSE_LABEL_PROJECT, "=", name,
                                                                NULL)));
    json_object_object_add(f, "label", a);
    path = apr_pstrcat(q->pool, "/", kind, "?filters=", dp_url_encode(q->pool, dp_json_str(q->pool, f)), NULL);
    if ((rv = dp_dk_call(&res, NULL, pprob, q, "GET", path, NULL)) != APR_SUCCESS) {
        return rv;
    }
    if (!strcmp(kind, "volumes")) {
        res = dp_json_get(res, "Volumes");  /* {"Volumes": [...] or null, "Warnings": ...} */
    }
    *plist = (res && json_object_is_type(res, json_type_array)) ? res : dp_json_array(q->pool);
    return APR_SUCCESS;
}

/* Loads a project: its summary plus "containers", "networks", "volumes" (Docker's list
 * objects). 404 project_not_found when no container carries its label. */
static apr_status_t project_load(json_object **pout, json_object **pcontainers, dp_problem_t **pprob, dp_dk_ctx_t *q,
                                 const char *name)
{
    json_object *cs = NULL, *nets = NULL, *vols = NULL, *groups, *out;
    apr_status_t rv;

    if ((rv = dp_dk_containers_by_label(&cs, pprob, q,
                                        apr_pstrcat(q->pool, DP_DK_COMPOSE_LABEL_PROJECT, "=", name, NULL)))
        != APR_SUCCESS) {
        return rv;
    }
    if (cs == NULL || json_object_array_length(cs) == 0 || !may_act(q, cs)) {
        return dp_problem_fail(pprob, q->pool, 404, "project_not_found",
                               "no container belongs to the compose project '%s'", name);
    }
    if ((rv = labelled(&nets, pprob, q, "networks", name)) != APR_SUCCESS
        || (rv = labelled(&vols, pprob, q, "volumes", name)) != APR_SUCCESS) {
        return rv;
    }
    if (!is_admin(q)) {
        nets = with_key(q, nets, q->key);
        vols = with_key(q, vols, q->key);
    }
    groups = dp_dk_compose_group(q->pool, cs);
    if (json_object_array_length(groups) > 0) {
        out = json_object_get(json_object_array_get_idx(groups, 0));
        dp_json_own(q->pool, out);
    }
    else {  /* only one-off containers */
        out = dp_json_object(q->pool);
        dp_json_set_str(out, "name", name);
        dp_json_set_str(out, "status", dp_dk_compose_status(q->pool, cs));
        json_object_object_add(out, "services", json_object_new_array());
        dp_json_set_int(out, "container_count", 0);
    }
    dp_json_set_ref(out, "containers", cs);
    dp_json_set_ref(out, "networks", nets);
    dp_json_set_ref(out, "volumes", vols);
    *pout = out;
    if (pcontainers) {
        *pcontainers = cs;
    }
    return APR_SUCCESS;
}

/* GET /compose: the projects found from container labels; a non-admin key sees only the
 * projects whose every container carries its key. */
apr_status_t dp_dk_project_list(json_object **plist, dp_problem_t **pprob, dp_dk_ctx_t *q)
{
    json_object *cs = NULL, *groups, *mine;
    apr_hash_t *foreign = apr_hash_make(q->pool);
    apr_status_t rv;
    size_t i;

    if ((rv = dp_dk_containers_by_label(&cs, pprob, q, DP_DK_COMPOSE_LABEL_PROJECT)) != APR_SUCCESS) {
        return rv;
    }
    groups = dp_dk_compose_group(q->pool, cs);
    if (is_admin(q)) {
        *plist = groups;
        return APR_SUCCESS;
    }
    for (i = 0; cs && i < json_object_array_length(cs); ++i) {
        json_object *c = json_object_array_get_idx(cs, i);
        const char *pn = label_of(c, DP_DK_COMPOSE_LABEL_PROJECT);
        if (pn && !owned(q, c)) {
            apr_hash_set(foreign, pn, APR_HASH_KEY_STRING, pn);
        }
    }
    mine = dp_json_array(q->pool);
    for (i = 0; i < json_object_array_length(groups); ++i) {
        json_object *g = json_object_array_get_idx(groups, i);
        if (!apr_hash_get(foreign, dp_json_get_str(g, "name"), APR_HASH_KEY_STRING)) {
            json_object_array_add(mine, json_object_get(g));
        }
    }
    *plist = mine;
    return APR_SUCCESS;
}

/* GET /compose/{project}: the project with its containers, networks and volumes. */
apr_status_t dp_dk_project_inspect(json_object **pout, dp_problem_t **pprob, dp_dk_ctx_t *q, const char *name)
{
    apr_status_t rv;

    if ((rv = project_name(pprob, q, name)) != APR_SUCCESS) {
        return rv;
    }
    return project_load(pout, NULL, pprob, q, name);
}

/* Returns a container's first name without the leading '/'. */
static const char *container_name(json_object *c)
{
    json_object *names = dp_json_get(c, "Names");
    const char *n = names && json_object_is_type(names, json_type_array) && json_object_array_length(names) > 0
                    ? json_object_get_string(json_object_array_get_idx(names, 0)) : NULL;

    return n ? (n[0] == '/' ? n + 1 : n) : "";
}

/* Applies action ("start", "stop", "restart") to every container of the project: start and
 * restart in service/number order, stop in reverse; {"project","results":[{"id","name","changed"}]}.
 * On a failure: the engine's problem with the results so far. */
apr_status_t dp_dk_project_action(json_object **pout, dp_problem_t **pprob, dp_dk_ctx_t *q, const char *name,
                                  const char *action, apr_table_t *query)
{
    const char *suffix = "";
    json_object *cs = NULL, *ordered, *results, *out;
    apr_int64_t t = -1;
    apr_status_t rv;
    size_t i;

    if ((rv = project_name(pprob, q, name)) != APR_SUCCESS) {
        return rv;
    }
    if (strcmp(action, "start") != 0) {
        if ((rv = dp_query_field_int(&t, pprob, q->pool, query, "t", -1, 0, 3600)) != APR_SUCCESS) {
            return rv;
        }
        if (t >= 0) {
            suffix = apr_psprintf(q->pool, "?t=%" APR_INT64_T_FMT, t);
        }
    }
    if ((rv = dp_dk_containers_by_label(&cs, pprob, q, apr_pstrcat(q->pool, DP_DK_COMPOSE_LABEL_PROJECT, "=", name,
                                                                    NULL))) != APR_SUCCESS) {
        return rv;
    }
    if (cs == NULL || json_object_array_length(cs) == 0 || !may_act(q, cs)) {
        return dp_problem_fail(pprob, q->pool, 404, "project_not_found",
                               "no container belongs to the compose project '%s'", name);
    }
    ordered = dp_dk_compose_order(q->pool, cs, !strcmp(action, "stop"));
    results = dp_json_array(q->pool);
    for (i = 0; i < json_object_array_length(ordered); ++i) {
        json_object *c = json_object_array_get_idx(ordered, i), *res;
        const char *id = dp_json_get_str(c, "Id");
        int status = 0;

        if (id == NULL) {
            continue;
        }
        if ((rv = dp_dk_call(NULL, &status, pprob, q, "POST",
                             apr_pstrcat(q->pool, "/containers/", dp_url_encode(q->pool, id), "/", action, suffix,
                                         NULL), NULL)) != APR_SUCCESS) {
            dp_problem_add(*pprob, q->pool, "results", json_object_get(results));
            return rv;
        }
        res = json_object_new_object();
        dp_json_set_str(res, "id", id);
        dp_json_set_str(res, "name", container_name(c));
        json_object_object_add(res, "changed", json_object_new_boolean(status != 304));
        json_object_array_add(results, res);
    }
    out = dp_json_object(q->pool);
    dp_json_set_str(out, "project", name);
    dp_json_set_ref(out, "results", results);
    *pout = out;
    return APR_SUCCESS;
}

/* Adds what went so far ("done") to the engine's problem of a down. */
static apr_status_t done_fail(dp_problem_t **pprob, dp_dk_ctx_t *q, json_object *out)
{
    dp_problem_add(*pprob, q->pool, "done", json_object_get(out));
    return DP_EPROBLEM;
}

/* Removes the networks or volumes (kind) of list by their idkey, adding each one's name to
 * gone; one the engine no longer has counts as gone; on another failure, done_fail. */
static apr_status_t remove_all(dp_problem_t **pprob, dp_dk_ctx_t *q, json_object *out, json_object *list,
                               const char *kind, const char *idkey, json_object *gone)
{
    size_t i;

    for (i = 0; i < json_object_array_length(list); ++i) {
        json_object *o = json_object_array_get_idx(list, i);
        const char *id = dp_json_get_str(o, idkey), *name = dp_json_get_str(o, "Name");
        int status = 0;

        if (id == NULL) continue;
        if (dp_dk_call(NULL, &status, pprob, q, "DELETE",
                       apr_pstrcat(q->pool, "/", kind, "/", dp_url_encode(q->pool, id), NULL), NULL) != APR_SUCCESS
            && status != 404) {
            return done_fail(pprob, q, out);
        }
        json_object_array_add(gone, json_object_new_string(name ? name : id));
    }
    return APR_SUCCESS;
}

/* DELETE /compose/{project}: "down": stops and removes its containers (reverse order), then
 * removes its networks, and its volumes with ?volumes=true; a summary of what went. A
 * non-admin key: 404 for a project with a container it does not own; only networks and
 * volumes labelled with its key go. Admin: volumes go only when they carry the key label of
 * the project's containers (any key when none is left), never an unlabelled one. */
apr_status_t dp_dk_project_down(json_object **pout, dp_problem_t **pprob, dp_dk_ctx_t *q, const char *name,
                                apr_table_t *query)
{
    const char *label;
    json_object *cs = NULL, *nets = NULL, *vols = NULL, *ordered, *out, *gone_c, *gone_n, *gone_v;
    apr_int64_t t = 10;
    int volumes = 0;
    apr_status_t rv;
    size_t i;

    if ((rv = project_name(pprob, q, name)) != APR_SUCCESS
        || (rv = dp_query_field_bool(&volumes, pprob, q->pool, query, "volumes", 0)) != APR_SUCCESS
        || (rv = dp_query_field_int(&t, pprob, q->pool, query, "t", 10, 0, 3600)) != APR_SUCCESS) {
        return rv;
    }
    label = apr_pstrcat(q->pool, DP_DK_COMPOSE_LABEL_PROJECT, "=", name, NULL);
    if ((rv = dp_dk_containers_by_label(&cs, pprob, q, label)) != APR_SUCCESS
        || (rv = labelled(&nets, pprob, q, "networks", name)) != APR_SUCCESS
        || (volumes && (rv = labelled(&vols, pprob, q, "volumes", name)) != APR_SUCCESS)) {
        return rv;
    }
    if (!may_act(q, cs)) {
        return dp_problem_fail(pprob, q->pool, 404, "project_not_found", "nothing belongs to the compose project '%s'",
                               name);
    }
    if (!is_admin(q)) {
        nets = with_key(q, nets, q->key);
        vols = vols ? with_key(q, vols, q->key) : NULL;
    }
    else if (vols) {
        const char *owner = cs && json_object_array_length(cs) > 0
                            ? label_of(json_object_array_get_idx(cs, 0), DP_DK_LABEL_KEY) : NULL;
        vols = with_key(q, vols, owner && *owner ? owner : NULL);
    }
    if ((cs == NULL || json_object_array_length(cs) == 0) && json_object_array_length(nets) == 0
        && (vols == NULL || json_object_array_length(vols) == 0)) {
        return dp_problem_fail(pprob, q->pool, 404, "project_not_found", "nothing belongs to the compose project '%s'",
                               name);
    }
    out = dp_json_object(q->pool);
    gone_c = json_object_new_array();
    gone_n = json_object_new_array();
    gone_v = json_object_new_array();
    dp_json_set_str(out, "project", name);
    json_object_object_add(out, "containers", gone_c);
    json_object_object_add(out, "networks", gone_n);
    json_object_object_add(out, "volumes", gone_v);

    ordered = dp_dk_compose_order(q->pool, cs, 1);
    for (i = 0; i < json_object_array_length(ordered); ++i) {
        json_object *c = json_object_array_get_idx(ordered, i), *res;
        const char *id = dp_json_get_str(c, "Id"), *eid;
        int status = 0;

        if (id == NULL) continue;
        eid = dp_url_encode(q->pool, id);
        if (dp_dk_call(NULL, &status, pprob, q, "POST",
                       apr_psprintf(q->pool, "/containers/%s/stop?t=%" APR_INT64_T_FMT, eid, t), NULL)
            != APR_SUCCESS && status != 404) {
            return done_fail(pprob, q, out);
        }
        if (dp_dk_call(NULL, &status, pprob, q, "DELETE",
                       apr_psprintf(q->pool, "/containers/%s?force=1&v=%d", eid, volumes), NULL) != APR_SUCCESS
            && status != 404) {
            return done_fail(pprob, q, out);
        }
        res = json_object_new_object();
        dp_json_set_str(res, "id", id);
        dp_json_set_str(res, "name", container_name(c));
        json_object_array_add(gone_c, res);
    }
    if ((rv = remove_all(pprob, q, out, nets, "networks", "Id", gone_n)) != APR_SUCCESS
        || (vols && (rv = remove_all(pprob, q, out, vols, "volumes", "Name", gone_v)) != APR_SUCCESS)) {
        return rv;
    }
    *pout = out;
    return APR_SUCCESS;
}


/* Refuses an up over a project the caller may not take: containers of another key or of
 * nobody (non-admin), or containers not created through the API (anyone): 409 project_owned. */
static apr_status_t up_owner_check(dp_problem_t **pprob, dp_dk_ctx_t *q, const char *name)
{
    json_object *cs = NULL;
    size_t i;
    apr_status_t rv;

    if ((rv = dp_dk_containers_by_label(&cs, pprob, q,
                                        apr_pstrcat(q->pool, DP_DK_COMPOSE_LABEL_PROJECT, "=", name, NULL)))
        != APR_SUCCESS) {
        return rv;
    }
    for (i = 0; cs && i < json_object_array_length(cs); ++i) {
        json_object *c = json_object_array_get_idx(cs, i);
        const char *managed = label_of(c, DP_DK_LABEL_MANAGED);
        if (managed == NULL || strcmp(managed, "true")) {
            return dp_problem_fail(pprob, q->pool, 409, "project_owned", "the compose project '%s' has containers that "
                                   "were not created through this API; choose another project name", name);
        }
        if (!is_admin(q) && !owned(q, c)) {
            return dp_problem_fail(pprob, q->pool, 409, "project_owned", "the compose project name '%s' is taken; "
                                   "choose another project name", name);
        }
    }
    return APR_SUCCESS;
}

/* A problem naming the reference's field: "FIELD: the external volume 'x' WHAT". */
static apr_status_t ref_fail(dp_problem_t **pprob, dp_dk_ctx_t *q, int status, const char *code,
                             const dp_dk_compose_ref_t *r, const char *what)
{
    dp_problem_t *prob = dp_problem_make(q->pool, status, code, "%s: the external %s '%s' %s", r->field, r->kind,
                                         r->name, what);

    dp_problem_add(prob, q->pool, "field", json_object_new_string(r->field));
    if (pprob) {
        *pprob = prob;
    }
    return DP_EPROBLEM;
}

/* Checks the volumes and networks the project would use: an existing one it would create must
 * carry the caller's key (admin: be managed) — 409 project_owned; an external one must exist
 * (422) and carry the caller's key (403 policy_denied; admin: any); an external network of the
 * host or null driver is 403 unless DockpayPolicyAllow host-namespaces (admin too). */
static apr_status_t up_refs_check(dp_problem_t **pprob, dp_dk_ctx_t *q, const dp_dk_compose_plan_t *plan,
                                  const dp_dk_policy_t *pol)
{
    int i;

    for (i = 0; i < plan->refs->nelts; ++i) {
        const dp_dk_compose_ref_t *r = &APR_ARRAY_IDX(plan->refs, i, dp_dk_compose_ref_t);
        const char *kind = !strcmp(r->kind, "volume") ? "volumes" : "networks", *ename, *managed, *driver;
        json_object *o = NULL;
        int status = 0;
        apr_status_t rv;

        rv = dp_dk_call(&o, &status, pprob, q, "GET",
                        apr_pstrcat(q->pool, "/", kind, "/", dp_url_encode(q->pool, r->name), NULL), NULL);
        ename = dp_json_get_str(o, "Name");
        if (rv != APR_SUCCESS && status != 404) {
            return rv;
        }
        if (rv != APR_SUCCESS || ename == NULL || strcmp(ename, r->name)) {
            if (r->external) {
                return ref_fail(pprob, q, 422, "invalid_value", r, "does not exist");
            }
            continue;  /* compose creates it, with our labels */
        }
        managed = label_of(o, DP_DK_LABEL_MANAGED);
        driver = dp_json_get_str(o, "Driver");
        if (r->external && !strcmp(kind, "networks") && driver && (!strcmp(driver, "host") || !strcmp(driver, "null"))
            && !(pol->allow & DP_DK_ALLOW_HOST_NAMESPACES)) {
            return ref_fail(pprob, q, 403, "policy_denied", r, "shares the host's network (or none): "
                            "DockpayPolicyAllow host-namespaces");
        }
        if (r->external) {
            if (!is_admin(q) && !owned(q, o)) {
                return ref_fail(pprob, q, 403, "policy_denied", r, "does not belong to this key");
            }
        }
        else if (is_admin(q) ? (managed == NULL || strcmp(managed, "true")) : !owned(q, o)) {
            return dp_problem_fail(pprob, q->pool, 409, "project_owned", "%s: the %s '%s' already exists and does not "
                                   "belong to this key; choose another project name", r->field, r->kind, r->name);
        }
    }
    return APR_SUCCESS;
}

/* Runs "up" for a POST /compose body. */
apr_status_t dp_dk_project_up(json_object **pout, dp_problem_t **pprob, dp_dk_ctx_t *q, json_object *body,
                              const dp_dk_compose_conf_t *conf)
{
    static const char *const fields[] = { "project", "compose", NULL };
    const char *name = NULL, *yaml, *dir, *file, *env[6], *doc;
    const char *const *argv;
    json_object *v, *out = NULL, *outstr;
    dp_problem_t *prob = NULL;
    dp_dk_compose_plan_t plan;
    dp_dk_run_t run;
    apr_pool_t *p = q->pool;
    apr_size_t len;
    apr_status_t rv;
    int locked = 0;

    if ((rv = dp_json_only_fields(pprob, p, body, fields)) != APR_SUCCESS
        || (rv = dp_json_field_str(&name, pprob, p, body, "project", 1, 255)) != APR_SUCCESS) {
        return rv;
    }
    q->target = name;
    if (!dp_dk_compose_name_ok(name)) {
        return dp_problem_fail(pprob, p, 422, "invalid_value",
                               "the field 'project' must match ^[a-z0-9][a-z0-9_-]{0,62}$");
    }
    if ((v = dp_json_get(body, "compose")) == NULL) {
        return dp_problem_fail(pprob, p, 400, "missing_field", "the field 'compose' is required");
    }
    if (!json_object_is_type(v, json_type_string)) {
        return dp_problem_fail(pprob, p, 400, "wrong_type", "the field 'compose' must be a string (the compose YAML)");
    }
    yaml = json_object_get_string(v);
    len = (apr_size_t)json_object_get_string_len(v);
    if (len == 0) {
        return dp_problem_fail(pprob, p, 422, "invalid_value", "the field 'compose' must not be empty");
    }
    if ((rv = dp_dk_compose_check(&plan, pprob, p, q->policy, yaml, len, name, q->key)) != APR_SUCCESS) {
        q->notice = apr_pstrcat(p, "compose up refused: ", (*pprob)->detail, NULL);
        return rv;
    }
    if ((rv = up_owner_check(pprob, q, name)) != APR_SUCCESS
        || (rv = up_refs_check(pprob, q, &plan, q->policy)) != APR_SUCCESS) {
        return rv;
    }
    if (q->labels && dp_json_get(plan.doc, "services") != NULL) {   /* the server's own labels */
        json_object_object_foreach(dp_json_get(plan.doc, "services"), svc, def) {
            json_object *labels = dp_json_get(def, "labels");
            (void)svc;
            if (labels == NULL || !json_object_is_type(labels, json_type_object)) {
                labels = json_object_new_object();
                json_object_object_add(def, "labels", labels);
            }
            json_object_object_foreach(q->labels, lk, lv) {
                json_object_object_add(labels, lk, json_object_get(lv));
            }
        }
    }
    if (dp_json_get(plan.doc, "services") != NULL) {   /* every service's image: one the key may use */
        json_object_object_foreach(dp_json_get(plan.doc, "services"), svc, def) {
            (void)svc;
            if ((rv = dp_dk_image_usable(pprob, q, dp_json_get_str(def, "image"))) != APR_SUCCESS) {
                return rv;
            }
        }
    }
    /* the key's quotas: what the project adds beyond the containers it already has (an up over
     * its own project recreates them); held until Compose has answered */
    {
        json_object *cs = NULL;
        dp_dk_usage_t add;
        apr_int64_t have = 0;
        if ((rv = dp_dk_containers_by_label(&cs, pprob, q, apr_pstrcat(p, DP_DK_COMPOSE_LABEL_PROJECT, "=", name,
                                                                       NULL))) != APR_SUCCESS) {
            return rv;
        }
        have = cs ? (apr_int64_t)json_object_array_length(cs) : 0;
        memset(&add, 0, sizeof(add));
        add.containers = plan.need.containers > have ? plan.need.containers - have : 0;
        add.volumes = plan.need.volumes;
        add.memory = have ? 0 : plan.need.memory;
        add.nanocpus = have ? 0 : plan.need.nanocpus;
        if ((rv = dp_dk_quota_begin(&locked, pprob, q, &add)) != APR_SUCCESS) {
            return rv;
        }
    }
    doc = json_object_to_json_string_ext(plan.doc, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED
                                                   | JSON_C_TO_STRING_NOSLASHESCAPE);
    dir = apr_pstrcat(p, conf->root, "/", name, NULL);
    file = apr_pstrcat(p, dir, "/", COMPOSE_FILE, NULL);
    if ((rv = dp_dk_clean_dir(pprob, p, dir, NULL)) != APR_SUCCESS
        || (rv = dp_dk_write_file(pprob, p, dir, COMPOSE_FILE, doc, strlen(doc))) != APR_SUCCESS) {
        q->notice = apr_pstrcat(p, "cannot write ", file, NULL);
        q->notice_error = 1;
        dp_dk_quota_end(q, locked);
        return rv;
    }
    {
        const char *const args[] = { "-p", name, "-f", file, "up", "-d", NULL };
        argv = dp_dk_compose_argv(p, conf->command, args);
    }
    /* nothing of httpd's environment (it may hold secrets): Compose would substitute it */
    env[0] = apr_pstrcat(p, "DOCKER_HOST=unix://", dp_docker_socket(q->docker), NULL);
    env[1] = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    env[2] = apr_pstrcat(p, "HOME=", dir, NULL);
    env[3] = "LC_ALL=C.UTF-8";
    env[4] = "COMPOSE_INTERACTIVE_NO_CLI=1";
    env[5] = NULL;
    rv = dp_dk_run(&run, pprob, p, argv, env, dir, conf->timeout, DP_DK_COMPOSE_OUTPUT_MAX);
    dp_dk_quota_end(q, locked);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    outstr = json_object_new_string_len(run.output, (int)run.output_len);
    if (run.timed_out || run.exit_code != 0) {
        prob = run.timed_out
            ? dp_problem_make(p, 504, "compose_timeout", "the compose command did not finish within %d seconds "
                              "(DockpayComposeTimeout)", conf->timeout)
            : dp_problem_make(p, 422, "compose_failed", "the compose command failed (exit status %d)",
                              run.exit_code);
        *pprob = dp_problem_add(prob, p, "output", outstr);
        return DP_EPROBLEM;
    }
    if ((rv = project_load(&out, NULL, pprob, q, name)) != APR_SUCCESS) {
        json_object_put(outstr);
        if (*pprob && (*pprob)->status == 404) {  /* a file without services: nothing runs */
            *pprob = NULL;
            out = dp_json_object(p);
            dp_json_set_str(out, "name", name);
            json_object_object_add(out, "output", json_object_new_string_len(run.output, (int)run.output_len));
            *pout = out;
            return APR_SUCCESS;
        }
        return rv;
    }
    json_object_object_add(out, "output", outstr);
    *pout = out;
    return APR_SUCCESS;
}
