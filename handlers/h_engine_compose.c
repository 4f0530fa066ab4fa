/* h_engine_compose: Compose projects. Listing and lifecycle work from the engine's labels;
 * "up" checks the posted file (dp_dk_compose_check: YAML -> allow-listed JSON under the create
 * policy), writes the normalised JSON alone into <DockpayComposeRoot>/<project>/ and runs
 * DockpayComposeCommand on exactly that file. A project belongs to the key whose dockpay.key
 * label its containers carry: other non-admin keys get 404 for it (409 on up), and nobody's
 * up takes over a project made outside the API. */
#include <string.h>
#include <httpd.h>
#include <apr_strings.h>

#include "dp_glue.h"
#include "h_engine.h"
#include "dp_dk_compose.h"
#include "dp_dk_policy.h"
#include "h_owner.h"
#include "h_billing.h"

#define COMPOSE_FILE "docker-compose.yml"

static int is_admin(dp_req_t *q)
{
    return q->key && (q->key->scopes & DP_SCOPE_ADMIN);
}

static const char *key_name(dp_req_t *q)
{
    return q->key ? q->key->name : "";
}

static const char *label_of(json_object *o, const char *k)
{
    return dp_json_get_str(dp_json_get(o, "Labels"), k);
}

/* True when the engine object o carries the caller's key label. */
static int owned(dp_req_t *q, json_object *o)
{
    const char *k = label_of(o, DP_DK_LABEL_KEY);

    return k && *k && !strcmp(k, key_name(q));
}

/* True when the caller may see and act on a project whose containers are cs: admin always;
 * another key only when every container carries its key label. */
static int may_act(dp_req_t *q, json_object *cs)
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
static json_object *with_key(dp_req_t *q, json_object *list, const char *owner)
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

/* Reads the {project} route parameter; NULL after sending a 404. */
static const char *project_param(dp_req_t *q)
{
    const char *name = apr_table_get(q->params, "project");

    if (!dp_dk_compose_name_ok(name)) {
        dp_fail(q, 404, "project_not_found", "no such compose project: %s", name ? name : "");
        return NULL;
    }
    q->target = name;
    return name;
}

/* Returns the engine's objects of kind ("networks", "volumes") labelled with the project. */
static apr_status_t labelled(json_object **plist, dp_problem_t **pprob, dp_req_t *q, const char *kind,
                             const char *name)
{
    json_object *f = dp_json_object(q->pool), *a = json_object_new_array(), *res = NULL;
    const char *path;
    apr_status_t rv;

    json_object_array_add(a, json_object_new_string(apr_pstrcat(q->pool, DP_DK_COMPOSE_LABEL_PROJECT, "=", name, NULL)));
    json_object_object_add(f, "label", a);
    path = apr_pstrcat(q->pool, "/", kind, "?filters=", dp_url_encode(q->pool, dp_json_str(q->pool, f)), NULL);
    if ((rv = dp_engine_call(&res, NULL, pprob, q, "GET", path, NULL)) != APR_SUCCESS) {
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
static apr_status_t project_load(json_object **pout, json_object **pcontainers, dp_problem_t **pprob, dp_req_t *q,
                                 const char *name)
{
    json_object *cs = NULL, *nets = NULL, *vols = NULL, *groups, *out;
    apr_status_t rv;

    if ((rv = dp_engine_containers_by_label(&cs, pprob, q,
                                            apr_pstrcat(q->pool, DP_DK_COMPOSE_LABEL_PROJECT, "=", name, NULL)))
        != APR_SUCCESS) {
        return rv;
    }
    if (cs == NULL || json_object_array_length(cs) == 0 || !may_act(q, cs)) {
        return dp_problem_fail(pprob, q->pool, 404, "project_not_found", "no container belongs to the compose project '%s'",
                               name);
    }
    if ((rv = labelled(&nets, pprob, q, "networks", name)) != APR_SUCCESS
        || (rv = labelled(&vols, pprob, q, "volumes", name)) != APR_SUCCESS) {
        return rv;
    }
    if (!is_admin(q)) {
        nets = with_key(q, nets, key_name(q));
        vols = with_key(q, vols, key_name(q));
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
int dp_compose_list(dp_req_t *q)
{
    json_object *cs = NULL, *groups, *mine;
    dp_problem_t *prob = NULL;
    apr_hash_t *foreign = apr_hash_make(q->pool);
    size_t i;

    if (dp_engine_containers_by_label(&cs, &prob, q, DP_DK_COMPOSE_LABEL_PROJECT) != APR_SUCCESS) {
        return dp_send_problem(q, prob);
    }
    groups = dp_dk_compose_group(q->pool, cs);
    if (is_admin(q)) {
        return dp_engine_send_items(q, groups);
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
    return dp_engine_send_items(q, mine);
}

/* GET /compose/{project}: the project with its containers, networks and volumes. */
int dp_compose_inspect(dp_req_t *q)
{
    const char *name = project_param(q);
    json_object *out = NULL;
    dp_problem_t *prob = NULL;

    if (name == NULL) {
        return OK;
    }
    if (project_load(&out, NULL, &prob, q, name) != APR_SUCCESS) {
        return dp_send_problem(q, prob);
    }
    return dp_send_json(q, 200, out);
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
static int compose_action(dp_req_t *q, const char *action)
{
    const char *name = project_param(q), *suffix = "";
    json_object *cs = NULL, *ordered, *results, *out;
    dp_problem_t *prob = NULL;
    apr_int64_t t = -1;
    size_t i;

    if (name == NULL) {
        return OK;
    }
    if (strcmp(action, "start") != 0) {
        if (dp_query_int(&t, &prob, q, "t", -1, 0, 3600) != APR_SUCCESS) {
            return dp_send_problem(q, prob);
        }
        if (t >= 0) {
            suffix = apr_psprintf(q->pool, "?t=%" APR_INT64_T_FMT, t);
        }
    }
    if (dp_engine_containers_by_label(&cs, &prob, q,
                                      apr_pstrcat(q->pool, DP_DK_COMPOSE_LABEL_PROJECT, "=", name, NULL)) != APR_SUCCESS) {
        return dp_send_problem(q, prob);
    }
    if (cs == NULL || json_object_array_length(cs) == 0 || !may_act(q, cs)) {
        return dp_fail(q, 404, "project_not_found", "no container belongs to the compose project '%s'", name);
    }
    if (strcmp(action, "stop") != 0   /* billing (issue 15): past_due customers */
        && dp_billing_check_start(&prob, q, "project", name) != APR_SUCCESS) {
        return dp_send_problem(q, prob);
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
        if (dp_engine_call(NULL, &status, &prob, q, "POST",
                           apr_pstrcat(q->pool, "/containers/", dp_url_encode(q->pool, id), "/", action, suffix, NULL),
                           NULL) != APR_SUCCESS) {
            dp_problem_add(prob, q->pool, "results", json_object_get(results));
            return dp_send_problem(q, prob);
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
    return dp_send_json(q, 200, out);
}

int dp_compose_start(dp_req_t *q)
{
    return compose_action(q, "start");
}

int dp_compose_stop(dp_req_t *q)
{
    return compose_action(q, "stop");
}

int dp_compose_restart(dp_req_t *q)
{
    return compose_action(q, "restart");
}

/* DELETE /compose/{project}: "down": stops and removes its containers (reverse order), then
 * removes its networks, and its volumes with ?volumes=true; a summary of what went. A
 * non-admin key: 404 for a project with a container it does not own; only networks and
 * volumes labelled with its key go. Admin: volumes go only when they carry the key label of
 * the project's containers (any key when none is left), never an unlabelled one. */
int dp_compose_down(dp_req_t *q)
{
    const char *name = project_param(q), *label;
    json_object *cs = NULL, *nets = NULL, *vols = NULL, *ordered, *out, *gone_c, *gone_n, *gone_v;
    dp_problem_t *prob = NULL;
    apr_int64_t t = 10;
    int volumes = 0;
    size_t i;

    if (name == NULL) {
        return OK;
    }
    if (dp_query_bool(&volumes, &prob, q, "volumes", 0) != APR_SUCCESS
        || dp_query_int(&t, &prob, q, "t", 10, 0, 3600) != APR_SUCCESS) {
        return dp_send_problem(q, prob);
    }
    label = apr_pstrcat(q->pool, DP_DK_COMPOSE_LABEL_PROJECT, "=", name, NULL);
    if (dp_engine_containers_by_label(&cs, &prob, q, label) != APR_SUCCESS
        || labelled(&nets, &prob, q, "networks", name) != APR_SUCCESS
        || (volumes && labelled(&vols, &prob, q, "volumes", name) != APR_SUCCESS)) {
        return dp_send_problem(q, prob);
    }
    if (!may_act(q, cs)) {
        return dp_fail(q, 404, "project_not_found", "nothing belongs to the compose project '%s'", name);
    }
    if (!is_admin(q)) {
        nets = with_key(q, nets, key_name(q));
        vols = vols ? with_key(q, vols, key_name(q)) : NULL;
    }
    else if (vols) {
        const char *owner = cs && json_object_array_length(cs) > 0
                            ? label_of(json_object_array_get_idx(cs, 0), DP_DK_LABEL_KEY) : NULL;
        vols = with_key(q, vols, owner && *owner ? owner : NULL);
    }
    if ((cs == NULL || json_object_array_length(cs) == 0) && json_object_array_length(nets) == 0
        && (vols == NULL || json_object_array_length(vols) == 0)) {
        return dp_fail(q, 404, "project_not_found", "nothing belongs to the compose project '%s'", name);
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
        if (dp_engine_call(NULL, &status, &prob, q, "POST",
                           apr_psprintf(q->pool, "/containers/%s/stop?t=%" APR_INT64_T_FMT, eid, t), NULL) != APR_SUCCESS
            && status != 404) {
            dp_problem_add(prob, q->pool, "done", json_object_get(out));
            return dp_send_problem(q, prob);
        }
        if (dp_engine_call(NULL, &status, &prob, q, "DELETE",
                           apr_psprintf(q->pool, "/containers/%s?force=1&v=%d", eid, volumes), NULL) != APR_SUCCESS
            && status != 404) {
            dp_problem_add(prob, q->pool, "done", json_object_get(out));
            return dp_send_problem(q, prob);
        }
        res = json_object_new_object();
        dp_json_set_str(res, "id", id);
        dp_json_set_str(res, "name", container_name(c));
        json_object_array_add(gone_c, res);
    }
    for (i = 0; i < json_object_array_length(nets); ++i) {
        const char *nid = dp_json_get_str(json_object_array_get_idx(nets, i), "Id");
        const char *nname = dp_json_get_str(json_object_array_get_idx(nets, i), "Name");
        int status = 0;

        if (nid == NULL) continue;
        if (dp_engine_call(NULL, &status, &prob, q, "DELETE", apr_pstrcat(q->pool, "/networks/", dp_url_encode(q->pool, nid), NULL),
                           NULL) != APR_SUCCESS && status != 404) {
            dp_problem_add(prob, q->pool, "done", json_object_get(out));
            return dp_send_problem(q, prob);
        }
        json_object_array_add(gone_n, json_object_new_string(nname ? nname : nid));
    }
    for (i = 0; vols && i < json_object_array_length(vols); ++i) {
        const char *vname = dp_json_get_str(json_object_array_get_idx(vols, i), "Name");
        int status = 0;

        if (vname == NULL) continue;
        if (dp_engine_call(NULL, &status, &prob, q, "DELETE", apr_pstrcat(q->pool, "/volumes/", dp_url_encode(q->pool, vname), NULL),
                           NULL) != APR_SUCCESS && status != 404) {
            dp_problem_add(prob, q->pool, "done", json_object_get(out));
            return dp_send_problem(q, prob);
        }
        json_object_array_add(gone_v, json_object_new_string(vname));
    }
    return dp_send_json(q, 200, out);
}


/* Refuses an up over a project the caller may not take: containers of another key or of
 * nobody (non-admin), or containers not created through the API (anyone): 409 project_owned. */
static apr_status_t up_owner_check(dp_problem_t **pprob, dp_req_t *q, const char *name)
{
    json_object *cs = NULL;
    size_t i;
    apr_status_t rv;

    if ((rv = dp_engine_containers_by_label(&cs, pprob, q,
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
static apr_status_t ref_fail(dp_problem_t **pprob, dp_req_t *q, int status, const char *code,
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
static apr_status_t up_refs_check(dp_problem_t **pprob, dp_req_t *q, const dp_dk_compose_plan_t *plan,
                                  const dp_dk_policy_t *pol)
{
    int i;

    for (i = 0; i < plan->refs->nelts; ++i) {
        const dp_dk_compose_ref_t *r = &APR_ARRAY_IDX(plan->refs, i, dp_dk_compose_ref_t);
        const char *kind = !strcmp(r->kind, "volume") ? "volumes" : "networks", *ename, *managed, *driver;
        json_object *o = NULL;
        int status = 0;
        apr_status_t rv;

        rv = dp_engine_call(&o, &status, pprob, q, "GET",
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

/* POST /compose: "up" {"project","compose"}: checks the name and the file (dp_dk_compose_check:
 * 403 policy_denied / 422), the project's ownership (409 project_owned) and the volumes and
 * networks it names, writes the normalised JSON as <root>/<project>/docker-compose.yml (the
 * folder holds nothing else), runs "<command> -p <project> -f <file> up -d" with a time limit
 * and a minimal environment; 422 compose_failed / 504 compose_timeout with the output, else
 * the project as GET /compose/{project} shows it plus "output". */
int dp_compose_up(dp_req_t *q)
{
    static const char *const fields[] = { "project", "compose", NULL };
    const char *root = q->conf->compose_root ? q->conf->compose_root : "/var/lib/dockpay/compose";
    const char *command = q->conf->compose_command ? q->conf->compose_command : "docker-compose";
    int timeout = dp_conf_int(q->conf->compose_timeout, 300);
    const char *name = NULL, *yaml, *dir, *file, *env[6], *doc, *customer = NULL;
    const char *const *argv;
    json_object *body, *v, *out = NULL, *outstr;
    dp_problem_t *prob = NULL;
    dp_dk_compose_plan_t plan;
    dp_dk_policy_t pol;
    dp_dk_run_t run;
    apr_size_t len;
    apr_status_t rv;
    int locked = 0;

    if (dp_read_json(&body, &prob, q, 0) != APR_SUCCESS
        || dp_billing_bind_from_body(&customer, &prob, q, body, 0) != APR_SUCCESS   /* billing (issue 15) */
        || dp_json_only_fields(&prob, q->pool, body, fields) != APR_SUCCESS
        || dp_json_field_str(&name, &prob, q->pool, body, "project", 1, 255) != APR_SUCCESS) {
        return dp_send_problem(q, prob);
    }
    q->target = name;
    if (!dp_dk_compose_name_ok(name)) {
        return dp_fail(q, 422, "invalid_value",
                       "the field 'project' must match ^[a-z0-9][a-z0-9_-]{0,62}$");
    }
    if ((v = dp_json_get(body, "compose")) == NULL) {
        return dp_fail(q, 400, "missing_field", "the field 'compose' is required");
    }
    if (!json_object_is_type(v, json_type_string)) {
        return dp_fail(q, 400, "wrong_type", "the field 'compose' must be a string (the compose YAML)");
    }
    yaml = json_object_get_string(v);
    len = (apr_size_t)json_object_get_string_len(v);
    if (len == 0) {
        return dp_fail(q, 422, "invalid_value", "the field 'compose' must not be empty");
    }
    dp_owner_policy(&pol, q);
    if (dp_dk_compose_check(&plan, &prob, q->pool, &pol, yaml, len, name, key_name(q)) != APR_SUCCESS) {
        DP_LOG(q, APLOG_NOTICE, 0, "compose up refused: %s", prob->detail);
        return dp_send_problem(q, prob);
    }
    if (up_owner_check(&prob, q, name) != APR_SUCCESS || up_refs_check(&prob, q, &plan, &pol) != APR_SUCCESS) {
        return dp_send_problem(q, prob);
    }
    if (dp_json_get(plan.doc, "services") != NULL) {   /* every service's image: one the key may use */
        json_object_object_foreach(dp_json_get(plan.doc, "services"), svc, def) {
            (void)svc;
            if (dp_images_usable(&prob, q, dp_json_get_str(def, "image")) != APR_SUCCESS) {
                return dp_send_problem(q, prob);
            }
        }
    }
    /* the key's quotas: what the project adds beyond the containers it already has (an up over
     * its own project recreates them); held until Compose has answered */
    {
        json_object *cs = NULL;
        dp_dk_usage_t add;
        apr_int64_t have = 0;
        if (dp_engine_containers_by_label(&cs, &prob, q, apr_pstrcat(q->pool, DP_DK_COMPOSE_LABEL_PROJECT,
                                                                       "=", name, NULL)) != APR_SUCCESS) {
            return dp_send_problem(q, prob);
        }
        have = cs ? (apr_int64_t)json_object_array_length(cs) : 0;
        memset(&add, 0, sizeof(add));
        add.containers = plan.need.containers > have ? plan.need.containers - have : 0;
        add.volumes = plan.need.volumes;
        add.memory = have ? 0 : plan.need.memory;
        add.nanocpus = have ? 0 : plan.need.nanocpus;
        if (dp_owner_quota_begin(&locked, &prob, q, &add) != APR_SUCCESS) {
            return dp_send_problem(q, prob);
        }
    }
    doc = json_object_to_json_string_ext(plan.doc, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED
                                                   | JSON_C_TO_STRING_NOSLASHESCAPE);
    dir = apr_pstrcat(q->pool, root, "/", name, NULL);
    file = apr_pstrcat(q->pool, dir, "/", COMPOSE_FILE, NULL);
    if (dp_dk_clean_dir(&prob, q->pool, dir, NULL) != APR_SUCCESS
        || dp_dk_write_file(&prob, q->pool, dir, COMPOSE_FILE, doc, strlen(doc)) != APR_SUCCESS) {
        DP_LOG(q, APLOG_ERR, 0, "cannot write %s", file);
        dp_owner_quota_end(q, locked);
        return dp_send_problem(q, prob);
    }
    {
        const char *const args[] = { "-p", name, "-f", file, "up", "-d", NULL };
        argv = dp_dk_compose_argv(q->pool, command, args);
    }
    /* nothing of httpd's environment (it may hold secrets): Compose would substitute it */
    env[0] = apr_pstrcat(q->pool, "DOCKER_HOST=unix://", dp_docker_socket(q->proc->docker), NULL);
    env[1] = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    env[2] = apr_pstrcat(q->pool, "HOME=", dir, NULL);
    env[3] = "LC_ALL=C.UTF-8";
    env[4] = "COMPOSE_INTERACTIVE_NO_CLI=1";
    env[5] = NULL;
    rv = dp_dk_run(&run, &prob, q->pool, argv, env, dir, timeout, DP_DK_COMPOSE_OUTPUT_MAX);
    dp_owner_quota_end(q, locked);
    if (rv != APR_SUCCESS) {
        return dp_send_problem(q, prob);
    }
    outstr = json_object_new_string_len(run.output, (int)run.output_len);
    if (run.timed_out || run.exit_code != 0) {
        prob = run.timed_out
            ? dp_problem_make(q->pool, 504, "compose_timeout", "the compose command did not finish within %d seconds "
                              "(DockpayComposeTimeout)", timeout)
            : dp_problem_make(q->pool, 422, "compose_failed", "the compose command failed (exit status %d)",
                              run.exit_code);
        dp_problem_add(prob, q->pool, "output", outstr);
        return dp_send_problem(q, prob);
    }
    if (dp_billing_bind_created(&prob, q, customer, "project", name) != APR_SUCCESS) {   /* billing (issue 15) */
        return dp_send_problem(q, prob);
    }
    if (project_load(&out, NULL, &prob, q, name) != APR_SUCCESS) {
        json_object_put(outstr);
        if (prob && prob->status == 404) {  /* a file without services: nothing runs */
            out = dp_json_object(q->pool);
            dp_json_set_str(out, "name", name);
            json_object_object_add(out, "output", json_object_new_string_len(run.output, (int)run.output_len));
            return dp_send_json(q, 200, out);
        }
        return dp_send_problem(q, prob);
    }
    json_object_object_add(out, "output", outstr);
    return dp_send_json(q, 200, out);
}
