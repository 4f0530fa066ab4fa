/* dp_dk_images: images as core operations (list, inspect, pull, build, delete; see
 * dp_dk_ops.h). Pull and build read the engine's NDJSON progress through dp_dk_progress; a
 * build's context is scanned (dp_dk_tar) while the handler spools it, its Dockerfile checked,
 * then the spooled file is streamed to the engine. Pulls and builds reach only
 * DockpayRegistryAllow registries. Image tags are owned (dp_store_img): a non-admin key writes,
 * deletes and sees only its own tags and the unowned (operator's) ones, which it may use but
 * never overwrite. */
#include <string.h>
#include <apr_strings.h>
#include <apr_lib.h>

#include "dp_dk_ops.h"
#include "dp_json.h"
#include "dp_util.h"
#include "dp_dk_misc.h"
#include "dp_dk_progress.h"
#include "dp_dk_build.h"
#include "dp_store_img.h"

/* A tag claimed by a pull/build that never ended (pending) may be taken over after this. */
#define DP_IMG_CLAIM_STALE_S 3600

/* ------------------------------------------------------------------------------------------ */
/* ownership */

static int is_admin(const dp_dk_ctx_t *c)
{
    return c->owner == NULL;
}

/* Returns "/images/<ref>/json". */
static const char *inspect_path(dp_dk_ctx_t *c, const char *ref)
{
    return apr_pstrcat(c->pool, "/images/", dp_dk_ref_encode(c->pool, ref), "/json", NULL);
}

/* Reads every tag's owner (503 when the database is down). */
static apr_status_t load_owners(apr_hash_t **powners, dp_problem_t **pprob, dp_dk_ctx_t *c)
{
    dp_db_t *db = c->db(c->db_baton, pprob);

    if (db == NULL) {
        return APR_EGENERAL;
    }
    return dp_store_img_owners(powners, pprob, db);
}

/* Reads the owners of name (its familiar form) and of the image info's RepoTags only. */
static apr_status_t load_owners_of(apr_hash_t **powners, dp_problem_t **pprob, dp_dk_ctx_t *c, const char *name,
                                   json_object *info)
{
    apr_array_header_t *refs = apr_array_make(c->pool, 4, sizeof(const char *));
    json_object *tags = dp_json_get(info, "RepoTags");
    dp_dk_ref_t ref;
    dp_db_t *db;
    size_t i;

    if ((db = c->db(c->db_baton, pprob)) == NULL) {
        return APR_EGENERAL;
    }
    if (name && dp_dk_ref_parse(&ref, c->pool, name) == APR_SUCCESS) {
        APR_ARRAY_PUSH(refs, const char *) = ref.familiar;
    }
    for (i = 0; tags && json_object_is_type(tags, json_type_array) && i < json_object_array_length(tags); ++i) {
        const char *t = json_object_get_string(json_object_array_get_idx(tags, i));
        if (t && strcmp(t, "<none>:<none>") != 0) {
            APR_ARRAY_PUSH(refs, const char *) = t;
        }
    }
    return dp_store_img_owners_of(powners, pprob, db, refs);
}

/* True when the caller may see an image with tags (RepoTags) and labels: admin always; others
 * when a tag is theirs or unowned, or, untagged, when its dockpay.key label is theirs. */
static int image_visible(const dp_dk_ctx_t *c, apr_hash_t *owners, json_object *tags, json_object *labels)
{
    const char *me = c->key, *lbl;
    int other = 0;
    size_t i;

    if (is_admin(c)) {
        return 1;
    }
    for (i = 0; tags && json_object_is_type(tags, json_type_array) && i < json_object_array_length(tags); ++i) {
        const char *t = json_object_get_string(json_object_array_get_idx(tags, i));
        const char *o;
        if (t == NULL || strcmp(t, "<none>:<none>") == 0) {
            continue;
        }
        o = apr_hash_get(owners, t, APR_HASH_KEY_STRING);
        if (o == NULL || strcmp(o, me) == 0) {
            return 1;
        }
        other = 1;
    }
    if (other) {
        return 0;
    }
    /* untagged (dangling or a build's intermediate image): only by the key's own label */
    lbl = dp_json_get_str(labels, "dockpay.key");
    return lbl != NULL && strcmp(lbl, me) == 0;
}

/* Drops the tags of other keys from an image object's RepoTags (non-admin callers). */
static void trim_tags(const dp_dk_ctx_t *c, apr_hash_t *owners, json_object *img)
{
    json_object *tags = dp_json_get(img, "RepoTags"), *keep;
    size_t i;

    if (is_admin(c) || tags == NULL || !json_object_is_type(tags, json_type_array)) {
        return;
    }
    keep = json_object_new_array();
    for (i = 0; i < json_object_array_length(tags); ++i) {
        json_object *t = json_object_array_get_idx(tags, i);
        const char *o = apr_hash_get(owners, json_object_get_string(t), APR_HASH_KEY_STRING);
        if (o == NULL || strcmp(o, c->key) == 0) {
            json_object_array_add(keep, json_object_get(t));
        }
    }
    json_object_object_add(img, "RepoTags", keep);
}

/* True when the engine has an image named ref (its inspect object in *pinfo, may be NULL). */
static int engine_has_info(json_object **pinfo, dp_dk_ctx_t *c, const char *ref)
{
    int status = 0;
    json_object *o = NULL;
    apr_status_t rv = dp_dk_call(&o, &status, NULL, c, "GET", inspect_path(c, ref), NULL);

    if (pinfo) {
        *pinfo = rv == APR_SUCCESS ? o : NULL;
    }
    return rv == APR_SUCCESS;
}

/* The tags one pull or build writes, as claimed. */
typedef struct {
    dp_db_t *db;
    apr_array_header_t *claimed;    /* refs newly claimed by this request (released on failure) */
    apr_array_header_t *refs;       /* every ref written */
} claims_t;

static void finish_claims(claims_t *cl, dp_dk_ctx_t *c, int ok);

/* Claims the tags refs (familiar names) for the caller before a pull/build writes them: 409
 * image_tag_taken for a tag of another key or an existing unowned one, 503 without database.
 * The admin claims nothing here (its tags are recorded after success, see finish_claims).
 * On a refusal the claims this call made are released again. */
static apr_status_t claim_tags(claims_t *cl, dp_problem_t **pprob, dp_dk_ctx_t *c, apr_array_header_t *refs)
{
    apr_int64_t now = apr_time_sec(apr_time_now());
    const char *me = c->key;
    apr_status_t rv = APR_SUCCESS;
    int i;

    cl->claimed = apr_array_make(c->pool, 2, sizeof(const char *));
    cl->refs = refs;
    cl->db = NULL;
    if (is_admin(c)) {
        return APR_SUCCESS;
    }
    if ((cl->db = c->db(c->db_baton, pprob)) == NULL) {
        return APR_EGENERAL;
    }
    for (i = 0; i < refs->nelts; ++i) {
        const char *ref = APR_ARRAY_IDX(refs, i, const char *), *owner = NULL;
        int ok = 0;

        if ((rv = dp_store_img_owner(&owner, pprob, cl->db, ref)) != APR_SUCCESS) {
            break;
        }
        if (owner && strcmp(owner, me) == 0) {
            continue;
        }
        if (engine_has_info(NULL, c, ref)) {
            rv = dp_problem_fail(pprob, c->pool, 409, "image_tag_taken",
                                 "the image tag '%s' exists and is not this key's", ref);
            break;
        }
        if ((rv = dp_store_img_claim(&ok, pprob, cl->db, ref, me, now, now - DP_IMG_CLAIM_STALE_S)) != APR_SUCCESS) {
            break;
        }
        if (!ok) {
            rv = dp_problem_fail(pprob, c->pool, 409, "image_tag_taken",
                                 "the image tag '%s' is claimed by another key", ref);
            break;
        }
        APR_ARRAY_PUSH(cl->claimed, const char *) = ref;
    }
    if (i < refs->nelts) {
        finish_claims(cl, c, 0);
        return rv;
    }
    return APR_SUCCESS;
}

/* After the pull/build: on failure releases the new claims; on success records the admin's. */
static void finish_claims(claims_t *cl, dp_dk_ctx_t *c, int ok)
{
    apr_int64_t now = apr_time_sec(apr_time_now());
    dp_problem_t *prob = NULL;
    int i;

    if (!ok) {
        for (i = 0; cl->db && i < cl->claimed->nelts; ++i) {
            (void)dp_store_img_forget(&prob, cl->db, APR_ARRAY_IDX(cl->claimed, i, const char *), c->key);
        }
        return;
    }
    if (!is_admin(c)) {
        for (i = 0; cl->db && i < cl->refs->nelts; ++i) {
            (void)dp_store_img_done(&prob, cl->db, APR_ARRAY_IDX(cl->refs, i, const char *), c->key, now);
        }
        return;
    }
    if ((cl->db = c->db(c->db_baton, &prob)) == NULL) {
        c->notice = "image owners not recorded: the database is down";
        return;
    }
    for (i = 0; i < cl->refs->nelts; ++i) {
        (void)dp_store_img_set(&prob, cl->db, APR_ARRAY_IDX(cl->refs, i, const char *), c->key, now);
    }
}

/* Checks that ref may be pulled: a reference Docker accepts (422), from an allowed registry
 * (403 policy_denied naming field and the registry); *pref is the parsed reference. */
static apr_status_t registry_check(dp_dk_ref_t *pref, dp_problem_t **pprob, dp_dk_ctx_t *c, const char *ref,
                                   const char *field)
{
    dp_problem_t *prob;

    if (dp_dk_ref_parse(pref, c->pool, ref) != APR_SUCCESS) {
        return dp_problem_fail(pprob, c->pool, 422, "invalid_value", "%s: '%s' is not an image reference",
                               field, ref);
    }
    if (!dp_dk_registry_allowed(c->registry_allow, pref->registry)) {
        prob = dp_problem_make(c->pool, 403, "policy_denied",
                               "%s: the registry '%s' is not allowed (DockpayRegistryAllow)", field, pref->registry);
        dp_problem_add(prob, c->pool, "field", json_object_new_string(field));
        *pprob = prob;
        return APR_EGENERAL;
    }
    return APR_SUCCESS;
}

/* 404 image_not_found unless a non-admin caller may use the image info (inspected as name): by
 * a tag, that tag's owner decides; by id, the image's tags and label. *powners gets the owners
 * of the tags in question. */
static apr_status_t visible_check(apr_hash_t **powners, dp_problem_t **pprob, dp_dk_ctx_t *c, const char *name,
                                  json_object *info)
{
    dp_dk_ref_t ref;
    const char *o2;
    apr_status_t rv;

    if ((rv = load_owners_of(powners, pprob, c, name, info)) != APR_SUCCESS) {
        return rv;
    }
    if (dp_dk_ref_parse(&ref, c->pool, name) == APR_SUCCESS
        && (o2 = apr_hash_get(*powners, ref.familiar, APR_HASH_KEY_STRING)) != NULL
        && strcmp(o2, c->key) != 0) {
        return dp_problem_fail(pprob, c->pool, 404, "image_not_found", "no such image: %s", name);
    }
    if (!image_visible(c, *powners, dp_json_get(info, "RepoTags"),
                       dp_json_get(dp_json_get(info, "Config"), "Labels"))) {
        return dp_problem_fail(pprob, c->pool, 404, "image_not_found", "no such image: %s", name);
    }
    return APR_SUCCESS;
}

/* Checks the {name+} of an image route: 404 for anything that is not an image reference. */
static apr_status_t image_name(dp_problem_t **pprob, dp_dk_ctx_t *c, const char *name)
{
    if (!dp_dk_image_ref_ok(name)) {
        return dp_problem_fail(pprob, c->pool, 404, "image_not_found", "no such image: %s", name ? name : "");
    }
    c->target = name;
    return APR_SUCCESS;
}

/* ------------------------------------------------------------------------------------------ */
/* list, inspect, delete */

/* Lists the images the caller may see. */
apr_status_t dp_dk_image_list(json_object **plist, dp_problem_t **pprob, dp_dk_ctx_t *c, int all, int dangling,
                              const char *reference)
{
    json_object *list = NULL, *f = dp_json_object(c->pool);
    const char *path = "/images/json?";
    apr_status_t rv;

    if (reference && !dp_dk_image_ref_ok(reference)) {
        return dp_problem_fail(pprob, c->pool, 422, "invalid_value",
                               "the query parameter 'reference' is not an image reference");
    }
    if (reference) {
        json_object *a = json_object_new_array();
        json_object_array_add(a, json_object_new_string(reference));
        json_object_object_add(f, "reference", a);
    }
    if (dangling >= 0) {
        json_object *a = json_object_new_array();
        json_object_array_add(a, json_object_new_string(dangling ? "true" : "false"));
        json_object_object_add(f, "dangling", a);
    }
    if (all) {
        path = apr_pstrcat(c->pool, path, "all=1&", NULL);
    }
    if ((rv = dp_dk_call(&list, NULL, pprob, c, "GET", dp_dk_with_filters(c->pool, path, "", f), NULL))
        != APR_SUCCESS) {
        return rv;
    }
    if (!is_admin(c) && list && json_object_is_type(list, json_type_array)) {
        apr_hash_t *owners;
        json_object *mine = dp_json_array(c->pool);
        size_t i;

        if ((rv = load_owners(&owners, pprob, c)) != APR_SUCCESS) {
            return rv;
        }
        for (i = 0; i < json_object_array_length(list); ++i) {
            json_object *img = json_object_array_get_idx(list, i);
            if (image_visible(c, owners, dp_json_get(img, "RepoTags"), dp_json_get(img, "Labels"))) {
                trim_tags(c, owners, img);
                json_object_array_add(mine, json_object_get(img));
            }
        }
        list = mine;
    }
    *plist = list;
    return APR_SUCCESS;
}

/* Whether the caller may use image name (container create, compose services). */
apr_status_t dp_dk_image_usable(dp_problem_t **pprob, dp_dk_ctx_t *c, const char *name)
{
    json_object *info = NULL;
    apr_hash_t *owners;

    if (is_admin(c) || name == NULL || !engine_has_info(&info, c, name)) {
        return APR_SUCCESS;   /* absent: Docker answers (or the pull path checks the registry) */
    }
    return visible_check(&owners, pprob, c, name, info);
}

/* Inspects an image the caller may see. */
apr_status_t dp_dk_image_inspect(json_object **pinfo, dp_problem_t **pprob, dp_dk_ctx_t *c, const char *name)
{
    json_object *o = NULL;
    apr_status_t rv;

    if ((rv = image_name(pprob, c, name)) != APR_SUCCESS) {
        return rv;
    }
    if ((rv = dp_dk_call(&o, NULL, pprob, c, "GET", inspect_path(c, name), NULL)) != APR_SUCCESS) {
        dp_dk_not_found(*pprob, "image_not_found", 1);
        return rv;
    }
    if (!is_admin(c)) {
        apr_hash_t *owners;
        if ((rv = visible_check(&owners, pprob, c, name, o)) != APR_SUCCESS) {
            return rv;
        }
        trim_tags(c, owners, o);
    }
    *pinfo = o;
    return APR_SUCCESS;
}

/* Deletes an image (non-admin: only a tag of its own, by name). */
apr_status_t dp_dk_image_delete(json_object **plist, dp_problem_t **pprob, dp_dk_ctx_t *c, const char *name,
                                apr_table_t *query)
{
    int force = 0, noprune = 0;
    json_object *list = NULL;
    dp_problem_t *dbprob = NULL;
    dp_db_t *db;
    dp_dk_ref_t ref;
    apr_status_t rv;
    size_t i;

    if ((rv = image_name(pprob, c, name)) != APR_SUCCESS
        || (rv = dp_query_field_bool(&force, pprob, c->pool, query, "force", 0)) != APR_SUCCESS
        || (rv = dp_query_field_bool(&noprune, pprob, c->pool, query, "noprune", 0)) != APR_SUCCESS) {
        return rv;
    }
    if ((db = c->db(c->db_baton, &dbprob)) == NULL && !is_admin(c)) {
        *pprob = dbprob;
        return DP_EPROBLEM;
    }
    if (!is_admin(c)) {
        /* only a tag of the key's own, by its name (never by id: that could take other tags) */
        const char *owner = NULL;
        if (dp_dk_ref_parse(&ref, c->pool, name) != APR_SUCCESS || ref.digest) {
            return dp_problem_fail(pprob, c->pool, 404, "image_not_found", "no such image: %s", name);
        }
        if ((rv = dp_store_img_owner(&owner, pprob, db, ref.familiar)) != APR_SUCCESS) {
            return rv;
        }
        if (owner == NULL || strcmp(owner, c->key) != 0) {
            return dp_problem_fail(pprob, c->pool, 404, "image_not_found", "no such image: %s", name);
        }
    }
    if ((rv = dp_dk_call(&list, NULL, pprob, c, "DELETE",
                         apr_psprintf(c->pool, "/images/%s?force=%d&noprune=%d", dp_dk_ref_encode(c->pool, name),
                                      force, noprune), NULL)) != APR_SUCCESS) {
        dp_dk_not_found(*pprob, "image_not_found", 1);
        return rv;
    }
    /* the tags the engine removed are nobody's any more */
    for (i = 0; db && list && json_object_is_type(list, json_type_array) && i < json_object_array_length(list); ++i) {
        const char *u = dp_json_get_str(json_object_array_get_idx(list, i), "Untagged");
        dp_problem_t *p2 = NULL;
        if (u && dp_dk_ref_parse(&ref, c->pool, u) == APR_SUCCESS && ref.digest == NULL) {
            (void)dp_store_img_forget(&p2, db, ref.familiar, NULL);
        }
    }
    *plist = list;
    return APR_SUCCESS;
}

/* ------------------------------------------------------------------------------------------ */
/* pull */

/* True when s is a tag: 1..128 of [A-Za-z0-9_.-], not starting with '.' or '-'. */
static int tag_ok(const char *s)
{
    apr_size_t i;

    if (s == NULL || s[0] == '.' || s[0] == '-') {
        return 0;
    }
    for (i = 0; s[i]; ++i) {
        if (i >= 128 || !(apr_isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == '.' || s[i] == '-')) {
            return 0;
        }
    }
    return i > 0;
}

/* Reads the optional "auth" member into an X-Registry-Auth value (never logged). */
static apr_status_t read_auth(const char **phdr, dp_problem_t **pprob, apr_pool_t *p, json_object *body)
{
    static const char *const fields[] = { "username", "password", "serveraddress", NULL };
    json_object *a = dp_json_get(body, "auth");
    const char *user = NULL, *pass = NULL, *server = NULL;
    apr_status_t rv;

    *phdr = NULL;
    if (a == NULL) {
        return APR_SUCCESS;
    }
    if (!json_object_is_type(a, json_type_object)) {
        return dp_problem_fail(pprob, p, 400, "wrong_type", "the field 'auth' must be an object");
    }
    if ((rv = dp_json_only_fields(pprob, p, a, fields)) != APR_SUCCESS
        || (rv = dp_json_field_str(&user, pprob, p, a, "username", 0, 256)) != APR_SUCCESS
        || (rv = dp_json_field_str(&pass, pprob, p, a, "password", 0, 4096)) != APR_SUCCESS
        || (rv = dp_json_field_str(&server, pprob, p, a, "serveraddress", 0, 256)) != APR_SUCCESS) {
        return rv;
    }
    *phdr = dp_dk_registry_auth(p, user, pass, server);
    return APR_SUCCESS;
}

/* Pulls what a POST /images/pull body names. */
apr_status_t dp_dk_image_pull(json_object **pout, dp_problem_t **pprob, dp_dk_ctx_t *c, json_object *body)
{
    static const char *const fields[] = { "image", "tag", "auth", NULL };
    json_object *info = NULL, *out;
    const char *image = NULL, *tag = NULL, *auth = NULL, *ref;
    dp_dk_progress_t *g;
    dp_dk_ref_t pref;
    apr_array_header_t *refs;
    apr_pool_t *p = c->pool;
    claims_t claims;
    apr_status_t rv;

    if ((rv = dp_json_only_fields(pprob, p, body, fields)) != APR_SUCCESS
        || (rv = dp_json_field_str(&image, pprob, p, body, "image", 1, 255)) != APR_SUCCESS
        || (rv = dp_json_field_str(&tag, pprob, p, body, "tag", 0, 128)) != APR_SUCCESS
        || (rv = read_auth(&auth, pprob, p, body)) != APR_SUCCESS) {
        return rv;
    }
    if (!dp_dk_image_ref_ok(image)) {
        return dp_problem_fail(pprob, p, 422, "invalid_value", "the field 'image' is not an image reference");
    }
    if (tag && !tag_ok(tag)) {
        return dp_problem_fail(pprob, p, 422, "invalid_value", "the field 'tag' is not a tag");
    }
    if (tag && dp_dk_ref_has_tag(image)) {
        return dp_problem_fail(pprob, p, 422, "invalid_value", "give the tag either in 'image' or in 'tag', not both");
    }
    ref = tag ? apr_pstrcat(p, image, ":", tag, NULL) : dp_dk_ref_with_tag(p, image);
    c->target = ref;
    if ((rv = registry_check(&pref, pprob, c, ref, "image")) != APR_SUCCESS) {
        return rv;
    }
    refs = apr_array_make(p, 1, sizeof(const char *));
    APR_ARRAY_PUSH(refs, const char *) = pref.familiar;
    if ((rv = claim_tags(&claims, pprob, c, refs)) != APR_SUCCESS) {
        return rv;
    }
    rv = dp_dk_pull(&g, pprob, c->docker, p, ref, auth, c->tick, c->tick_baton, DP_DK_LONG_MS);
    finish_claims(&claims, c, rv == APR_SUCCESS);
    if (rv == APR_ECONNABORTED) {
        return dp_problem_fail(pprob, p, 400, "client_gone", "the client went away; the pull was cancelled");
    }
    if (rv != APR_SUCCESS
        || (rv = dp_dk_call(&info, NULL, pprob, c, "GET", inspect_path(c, ref), NULL)) != APR_SUCCESS) {
        return rv;
    }
    out = dp_json_object(p);
    dp_json_set_str(out, "image", ref);
    dp_json_set_str(out, "status", g->status ? g->status : "done");
    dp_json_set_str(out, "id", dp_json_get_str(info, "Id"));
    dp_json_set_str(out, "digest", g->digest);
    *pout = out;
    return APR_SUCCESS;
}

/* Pulls image for a container create when the engine does not have it, from an allowed
 * registry only (errors come in-band: see dp_dk_pull). */
apr_status_t dp_dk_image_pull_missing(dp_problem_t **pprob, dp_dk_ctx_t *c, const char *image)
{
    dp_dk_progress_t *g;
    dp_dk_ref_t ref;
    apr_status_t rv;
    int status = 0;

    rv = dp_dk_call(NULL, &status, pprob, c, "GET", inspect_path(c, image), NULL);
    if (rv == APR_SUCCESS || status != 404) {
        return rv;
    }
    if (dp_dk_ref_parse(&ref, c->pool, image) != APR_SUCCESS) {
        return dp_problem_fail(pprob, c->pool, 422, "invalid_value", "image: '%s' is not an image reference", image);
    }
    if (!dp_dk_registry_allowed(c->registry_allow, ref.registry)) {
        return dp_problem_fail(pprob, c->pool, 403, "policy_denied",
                               "image: the registry '%s' is not allowed (DockpayRegistryAllow)", ref.registry);
    }
    return dp_dk_pull(&g, pprob, c->docker, c->pool, dp_dk_ref_with_tag(c->pool, image), NULL, NULL, NULL,
                      c->docker_timeout_ms * 10);
}

/* ------------------------------------------------------------------------------------------ */
/* build */

/* The query parameters POST /images/build takes; anything else is refused, naming it. */
static const char *const build_params[] = {
    "t", "dockerfile", "buildargs", "labels", "nocache", "rm", "forcerm", "pull", "networkmode", NULL
};

struct dp_dk_build_t {
    json_object *tags;          /* the t values */
    apr_array_header_t *refs;   /* their familiar names */
    const char *dockerfile, *netmode;
    json_object *labels, *args;
    int nocache;
    dp_dk_tar_t *scan;          /* scans the context for the Dockerfile */
};

typedef struct {
    dp_dk_ctx_t *c;
    dp_dk_build_t *b;
    const char *bad;            /* the first parameter not in build_params */
    int bad_tag;
} params_ctx_t;

static int scan_param(void *baton, const char *key, const char *val)
{
    params_ctx_t *pc = baton;
    int i;

    for (i = 0; build_params[i]; ++i) {
        if (strcmp(build_params[i], key) == 0) {
            break;
        }
    }
    if (build_params[i] == NULL) {
        pc->bad = key;
        return 0;
    }
    if (strcmp(key, "t") == 0) {
        dp_dk_ref_t ref;
        if (!dp_dk_image_ref_ok(val) || dp_dk_ref_parse(&ref, pc->c->pool, val) != APR_SUCCESS || ref.digest) {
            pc->bad_tag = 1;
            return 0;
        }
        json_object_array_add(pc->b->tags, json_object_new_string(val));
        APR_ARRAY_PUSH(pc->b->refs, const char *) = ref.familiar;
    }
    return 1;
}

/* Checks a JSON object of strings (?buildargs= with nulls too, ?labels=): 400 not JSON, 422
 * wrong values, at most 64 members of keys up to 128 and values up to 4096 bytes. */
static apr_status_t check_str_map(json_object **pobj, dp_problem_t **pprob, apr_pool_t *p, const char *name,
                                  const char *s, int nulls)
{
    json_object *o = NULL;

    if (dp_json_parse(&o, NULL, p, s, strlen(s)) != APR_SUCCESS) {
        return dp_problem_fail(pprob, p, 400, "bad_query", "the query parameter '%s' is not JSON", name);
    }
    if (!json_object_is_type(o, json_type_object) || json_object_object_length(o) > 64) {
        return dp_problem_fail(pprob, p, 422, "invalid_value",
                               "the query parameter '%s' must be a JSON object of at most 64 strings", name);
    }
    json_object_object_foreach(o, k, v) {
        if ((v == NULL && !nulls) || (v != NULL && !json_object_is_type(v, json_type_string))
            || strlen(k) == 0 || strlen(k) > 128 || (v && json_object_get_string_len(v) > 4096)) {
            return dp_problem_fail(pprob, p, 422, "invalid_value",
                                   "the %s member '%s' must be a string (keys up to 128, values up to 4096 bytes)",
                                   name, k);
        }
    }
    *pobj = o;
    return APR_SUCCESS;
}

/* A 403 policy_denied naming field. */
static apr_status_t deny_field(dp_problem_t **pprob, apr_pool_t *p, const char *field, dp_problem_t *prob)
{
    *pprob = dp_problem_add(prob, p, "field", json_object_new_string(field));
    return DP_EPROBLEM;
}

/* Checks the build's query parameters. */
apr_status_t dp_dk_build_begin(dp_dk_build_t **pb, dp_problem_t **pprob, dp_dk_ctx_t *c, apr_table_t *query)
{
    apr_pool_t *p = c->pool;
    dp_dk_build_t *b = apr_pcalloc(p, sizeof(*b));
    const char *buildargs = apr_table_get(query, "buildargs"), *labels_q = apr_table_get(query, "labels");
    const char *dockerfile = apr_table_get(query, "dockerfile");
    params_ctx_t pc;
    int pull = 0, rm = 1, forcerm = 1;
    apr_status_t rv;

    b->tags = dp_json_array(p);
    b->refs = apr_array_make(p, 2, sizeof(const char *));
    b->dockerfile = dockerfile;
    b->netmode = apr_table_get(query, "networkmode");
    memset(&pc, 0, sizeof(pc));
    pc.c = c;
    pc.b = b;
    apr_table_do(scan_param, &pc, query, NULL);
    if (pc.bad) {
        return deny_field(pprob, p, pc.bad,
                          dp_problem_make(p, 403, "policy_denied", "%s: the build parameter '%s' is not allowed%s",
                                          pc.bad, pc.bad,
                                          strcmp(pc.bad, "remote") == 0 ? " (remote contexts are refused)" : ""));
    }
    if (pc.bad_tag) {
        return dp_problem_fail(pprob, p, 422, "invalid_value", "the query parameter 't' must be an image name[:tag]");
    }
    if (dockerfile && (*dockerfile == '\0' || strlen(dockerfile) > 255 || dockerfile[0] == '/'
                       || strstr(dockerfile, "..") || !dp_utf8_valid(dockerfile, strlen(dockerfile))
                       || strpbrk(dockerfile, "\r\n\t"))) {
        return dp_problem_fail(pprob, p, 422, "invalid_value",
                               "the query parameter 'dockerfile' must be a path inside the context");
    }
    if ((buildargs && (rv = check_str_map(&b->args, pprob, p, "buildargs", buildargs, 1)) != APR_SUCCESS)
        || (labels_q && (rv = check_str_map(&b->labels, pprob, p, "labels", labels_q, 0)) != APR_SUCCESS)
        || (rv = dp_query_field_bool(&b->nocache, pprob, p, query, "nocache", 0)) != APR_SUCCESS
        || (rv = dp_query_field_bool(&pull, pprob, p, query, "pull", 0)) != APR_SUCCESS
        || (rv = dp_query_field_bool(&rm, pprob, p, query, "rm", 1)) != APR_SUCCESS
        || (rv = dp_query_field_bool(&forcerm, pprob, p, query, "forcerm", 1)) != APR_SUCCESS) {
        return rv;
    }
    if (pull || !rm || !forcerm) {
        const char *f = pull ? "pull" : !rm ? "rm" : "forcerm";
        return deny_field(pprob, p, f, dp_problem_make(p, 403, "policy_denied",
                                                       "%s: the build parameter '%s' may only be %s",
                                                       f, f, pull ? "false" : "true"));
    }
    if (b->netmode && strcmp(b->netmode, "default") != 0 && strcmp(b->netmode, "none") != 0) {
        return deny_field(pprob, p, "networkmode",
                          dp_problem_make(p, 403, "policy_denied",
                                          "networkmode: builds may use the network mode 'default' or 'none' only"));
    }
    if (b->labels == NULL) {
        b->labels = dp_json_object(p);
    }
    {
        json_object_object_foreach(b->labels, lk, lv) {
            (void)lv;
            if (strncmp(lk, "dockpay.", 8) == 0) {
                return deny_field(pprob, p, "labels", dp_problem_make(p, 403, "policy_denied",
                                                                      "labels: the label '%s' is reserved", lk));
            }
        }
    }
    json_object_object_add(b->labels, "dockpay.key", json_object_new_string(c->key));
    json_object_object_add(b->labels, "dockpay.managed", json_object_new_string("true"));
    c->target = json_object_array_length(b->tags) ? json_object_get_string(json_object_array_get_idx(b->tags, 0))
                                                  : "build";
    b->scan = dp_dk_tar_create(p, dockerfile);
    *pb = b;
    return APR_SUCCESS;
}

/* Feeds a piece of the context to the scanner. */
apr_status_t dp_dk_build_feed(dp_dk_build_t *b, const char *buf, apr_size_t len)
{
    return dp_dk_tar_feed(b->scan, buf, len);
}

/* True when an engine message is about the Dockerfile ("Cannot locate specified Dockerfile"). */
static int mentions_dockerfile(const char *msg)
{
    return strstr(msg, "Dockerfile") != NULL || strstr(msg, "dockerfile") != NULL;
}

/* Checks the images a Dockerfile uses: visible to the caller, local or pulled now from an
 * allowed registry (403 policy_denied otherwise), and their ONBUILD triggers pass the check. */
static apr_status_t check_base_images(dp_problem_t **pprob, dp_dk_ctx_t *c, apr_array_header_t *images)
{
    int i;

    for (i = 0; i < images->nelts; ++i) {
        const char *img = APR_ARRAY_IDX(images, i, const char *), *o;
        json_object *info = NULL;
        apr_hash_t *owners = NULL;
        dp_dk_ref_t ref;

        if (dp_dk_ref_parse(&ref, c->pool, img) != APR_SUCCESS) {
            return dp_problem_fail(pprob, c->pool, 403, "policy_denied", "Dockerfile: '%s' is not an image reference",
                                   img);
        }
        if (!is_admin(c)) {
            if (load_owners_of(&owners, pprob, c, img, NULL) != APR_SUCCESS) {
                return APR_EGENERAL;
            }
            o = apr_hash_get(owners, ref.familiar, APR_HASH_KEY_STRING);
            if (o && strcmp(o, c->key) != 0) {
                return dp_problem_fail(pprob, c->pool, 403, "policy_denied",
                                       "Dockerfile: the image '%s' is not available to this key", img);
            }
        }
        if (!engine_has_info(&info, c, img)) {
            dp_dk_progress_t *g;
            apr_status_t rv;
            if (!dp_dk_registry_allowed(c->registry_allow, ref.registry)) {
                dp_problem_t *prob = dp_problem_make(c->pool, 403, "policy_denied",
                                                     "Dockerfile: '%s' would be pulled from the registry '%s', "
                                                     "which is not allowed (DockpayRegistryAllow)", img, ref.registry);
                return deny_field(pprob, c->pool, "Dockerfile", prob);
            }
            /* pulled here rather than by the builder, so that its ONBUILD triggers are seen */
            rv = dp_dk_pull(&g, pprob, c->docker, c->pool, dp_dk_ref_with_tag(c->pool, img), NULL,
                            c->tick, c->tick_baton, DP_DK_LONG_MS);
            if (rv != APR_SUCCESS || !engine_has_info(&info, c, img)) {
                if (rv == APR_SUCCESS || *pprob == NULL) {
                    return dp_problem_fail(pprob, c->pool, 422, "build_failed",
                                           "Dockerfile: the image '%s' could not be pulled", img);
                }
                if ((*pprob)->status == 404) {
                    (*pprob)->status = 422;
                    (*pprob)->code = "build_failed";
                }
                return APR_EGENERAL;
            }
        }
        if (!is_admin(c)) {
            /* the owners of the tags the image has (it may be named by id) */
            if (load_owners_of(&owners, pprob, c, img, info) != APR_SUCCESS) {
                return APR_EGENERAL;
            }
            if (!image_visible(c, owners, dp_json_get(info, "RepoTags"),
                               dp_json_get(dp_json_get(info, "Config"), "Labels"))) {
                /* e.g. FROM <id> of another key's image */
                return dp_problem_fail(pprob, c->pool, 403, "policy_denied",
                                       "Dockerfile: the image '%s' is not available to this key", img);
            }
        }
        {
            /* its ONBUILD triggers run in this build: they pass the same check */
            json_object *ob = dp_json_get(dp_json_get(info, "Config"), "OnBuild");
            size_t k;
            for (k = 0; ob && json_object_is_type(ob, json_type_array) && k < json_object_array_length(ob); ++k) {
                const char *trig = json_object_get_string(json_object_array_get_idx(ob, k));
                dp_dk_dfile_t df;
                if (trig && dp_dk_dockerfile_check(&df, c->pool, trig, strlen(trig)) != APR_SUCCESS) {
                    return dp_problem_fail(pprob, c->pool, 403, "policy_denied",
                                           "Dockerfile: an ONBUILD trigger of the image '%s' is refused: %s",
                                           img, df.reason);
                }
            }
        }
    }
    return APR_SUCCESS;
}

/* Checks the scanned context's Dockerfile, claims the tags and builds. */
apr_status_t dp_dk_build_run(json_object **pout, dp_problem_t **pprob, dp_dk_ctx_t *c, dp_dk_build_t *b,
                             dp_http_read_fn *read_cb, void *read_baton)
{
    apr_pool_t *p = c->pool;
    const char *path, *text, *terr;
    dp_http_req_t req;
    dp_dk_progress_t *g;
    dp_dk_dfile_t df;
    json_object *out;
    claims_t claims;
    apr_size_t tlen;
    apr_status_t rv;
    int status = 0, i;

    rv = dp_dk_tar_finish(&text, &tlen, b->scan);
    if (rv == APR_NOTFOUND) {
        return dp_problem_fail(pprob, p, 422, "build_failed", "the build context has no Dockerfile '%s'",
                               b->dockerfile ? b->dockerfile : "Dockerfile");
    }
    if (rv != APR_SUCCESS) {
        terr = dp_dk_tar_error(b->scan, &status);
        if (status == 403) {
            return dp_problem_fail(pprob, p, 403, "policy_denied", "build context: %s", terr);
        }
        return dp_problem_fail(pprob, p, 422, "build_failed", "build context: %s", terr ? terr : "unreadable");
    }
    if (dp_dk_dockerfile_check(&df, p, text, tlen) != APR_SUCCESS) {
        dp_problem_t *prob = dp_problem_make(p, 403, "policy_denied", "Dockerfile line %d: %s", df.line, df.reason);
        dp_problem_add(prob, p, "field", json_object_new_string("Dockerfile"));
        *pprob = dp_problem_add(prob, p, "line", json_object_new_int(df.line));
        return DP_EPROBLEM;
    }
    if ((rv = claim_tags(&claims, pprob, c, b->refs)) != APR_SUCCESS) {
        return rv;
    }
    if ((rv = check_base_images(pprob, c, df.images)) != APR_SUCCESS) {
        finish_claims(&claims, c, 0);
        return rv;
    }

    /* version=1: the classic builder, whatever the engine's default (BuildKit would read
     * "# syntax=" directives and pull frontend images) */
    path = "/build?version=1&rm=1&forcerm=1&pull=0";
    for (i = 0; i < (int)json_object_array_length(b->tags); ++i) {
        path = apr_pstrcat(p, path, "&t=",
                           dp_url_encode(p, json_object_get_string(json_object_array_get_idx(b->tags, i))), NULL);
    }
    if (b->dockerfile) path = apr_pstrcat(p, path, "&dockerfile=", dp_url_encode(p, b->dockerfile), NULL);
    if (b->args) path = apr_pstrcat(p, path, "&buildargs=", dp_url_encode(p, dp_json_str(p, b->args)), NULL);
    path = apr_pstrcat(p, path, "&labels=", dp_url_encode(p, dp_json_str(p, b->labels)), NULL);
    if (b->nocache) path = apr_pstrcat(p, path, "&nocache=1", NULL);
    if (b->netmode && strcmp(b->netmode, "none") == 0) path = apr_pstrcat(p, path, "&networkmode=none", NULL);

    memset(&req, 0, sizeof(req));
    req.method = "POST";
    req.url = path;
    req.headers = apr_table_make(p, 2);
    apr_table_setn(req.headers, "Content-Type", "application/x-tar");
    req.read_cb = read_cb;
    req.read_baton = read_baton;
    req.timeout_ms = DP_DK_LONG_MS;
    req.tick_cb = c->tick;
    req.tick_baton = c->tick_baton;
    g = dp_dk_progress_create(p, 1);
    rv = dp_dk_progress_call(&status, pprob, g, c->docker, p, &req);
    finish_claims(&claims, c, rv == APR_SUCCESS && g->error == NULL);
    if (rv == APR_ECONNABORTED) {
        return dp_problem_fail(pprob, p, 400, "client_gone", "the client went away; the build was cancelled");
    }
    if (rv != APR_SUCCESS) {
        /* a context the engine cannot build from (no Dockerfile, ...) is the client's to fix */
        if (*pprob && (status == 400 || (status == 500 && (*pprob)->detail && mentions_dockerfile((*pprob)->detail)))) {
            (*pprob)->status = 422;
            (*pprob)->code = "build_failed";
        }
        return rv;
    }
    if (g->error) {
        dp_problem_t *prob = dp_problem_make(p, 422, "build_failed", "Docker: %s", g->error);
        *pprob = dp_problem_add(prob, p, "log", json_object_get(dp_dk_progress_log(g, p)));
        return DP_EPROBLEM;
    }
    out = dp_json_object(p);
    if (g->id && strncmp(g->id, "sha256:", 7) != 0) {
        /* the classic builder's "Successfully built" line has the short id */
        json_object *info = NULL;
        if (dp_dk_call(&info, NULL, NULL, c, "GET", apr_pstrcat(p, "/images/", g->id, "/json", NULL), NULL)
            == APR_SUCCESS && dp_json_get_str(info, "Id")) {
            g->id = dp_json_get_str(info, "Id");
        }
    }
    dp_json_set_str(out, "id", g->id);
    if (g->tags->nelts > 0) {
        json_object *a = json_object_new_array();
        for (i = 0; i < g->tags->nelts; ++i) {
            json_object_array_add(a, json_object_new_string(APR_ARRAY_IDX(g->tags, i, const char *)));
        }
        json_object_object_add(out, "tags", a);
    }
    else {
        dp_json_set_ref(out, "tags", b->tags);
    }
    dp_json_set_ref(out, "log", dp_dk_progress_log(g, p));
    if (g->id) {
        c->target = g->id;
    }
    *pout = out;
    return APR_SUCCESS;
}
