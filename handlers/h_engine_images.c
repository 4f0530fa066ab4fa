/* h_engine_images: images (list, inspect, pull, build, delete). Pull and build read the
 * engine's NDJSON progress through dp_dk_progress; build spools the client's tar to a temp
 * file (bounded) while dp_dk_build scans it for the Dockerfile, checks the Dockerfile, then
 * streams the file to the engine. Pulls and builds reach only DockpayRegistryAllow registries.
 * Image tags are owned (dp_store_img): a non-admin key writes, deletes and sees only its own
 * tags and the unowned (operator's) ones, which it may use but never overwrite. */
#include <string.h>
#include <httpd.h>
#include <http_protocol.h>
#include <util_filter.h>
#include <apr_strings.h>
#include <apr_lib.h>

#include "dp_glue.h"
#include "h_engine.h"
#include "dp_dk_misc.h"
#include "dp_dk_progress.h"
#include "dp_dk_build.h"
#include "dp_store_img.h"

/* A tag claimed by a pull/build that never ended (pending) may be taken over after this. */
#define DP_IMG_CLAIM_STALE_S 3600

/* Largest build context accepted (bytes); beyond it the upload stops with 413. */
#define DP_BUILD_MAX_CONTEXT ((apr_off_t)512 * 1024 * 1024)

/* Reads the {name+} route parameter as an image reference; NULL after sending a 404. */
static const char *image_param(dp_req_t *q)
{
    const char *name = apr_table_get(q->params, "name");

    if (!dp_dk_image_ref_ok(name)) {
        dp_fail(q, 404, "image_not_found", "no such image: %s", name ? name : "");
        return NULL;
    }
    q->target = name;
    return name;
}

/* Sends prob, naming a 404 image_not_found. */
static int send_image_problem(dp_req_t *q, dp_problem_t *prob)
{
    if (prob && prob->status == 404) {
        prob->code = "image_not_found";
    }
    return dp_send_problem(q, prob);
}

/* ------------------------------------------------------------------------------------------ */
/* ownership */

static int is_admin(const dp_req_t *q)
{
    return q->key && (q->key->scopes & DP_SCOPE_ADMIN);
}

static const char *key_name(const dp_req_t *q)
{
    return q->key ? q->key->name : "";
}

/* Reads every tag's owner (503 when the database is down). */
static apr_status_t load_owners(apr_hash_t **powners, dp_problem_t **pprob, dp_req_t *q)
{
    dp_db_t *db = dp_db_acquire(pprob, q);

    if (db == NULL) {
        return APR_EGENERAL;
    }
    return dp_store_img_owners(powners, pprob, db);
}

/* True when the caller may see an image with tags (RepoTags) and labels: admin always; others
 * when a tag is theirs or unowned, or, untagged, when its dockpay.key label is theirs. */
static int image_visible(const dp_req_t *q, apr_hash_t *owners, json_object *tags, json_object *labels)
{
    const char *me = key_name(q), *lbl;
    int other = 0;
    size_t i;

    if (is_admin(q)) {
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
static void trim_tags(const dp_req_t *q, apr_hash_t *owners, json_object *img)
{
    json_object *tags = dp_json_get(img, "RepoTags"), *keep;
    size_t i;

    if (is_admin(q) || tags == NULL || !json_object_is_type(tags, json_type_array)) {
        return;
    }
    keep = json_object_new_array();
    for (i = 0; i < json_object_array_length(tags); ++i) {
        json_object *t = json_object_array_get_idx(tags, i);
        const char *o = apr_hash_get(owners, json_object_get_string(t), APR_HASH_KEY_STRING);
        if (o == NULL || strcmp(o, key_name(q)) == 0) {
            json_object_array_add(keep, json_object_get(t));
        }
    }
    json_object_object_add(img, "RepoTags", keep);
}

/* True when the engine has an image named ref (its inspect object in *pinfo, may be NULL). */
static int engine_has_info(json_object **pinfo, dp_req_t *q, const char *ref)
{
    int status = 0;
    json_object *o = NULL;
    apr_status_t rv = dp_engine_call(&o, &status, NULL, q, "GET",
                                     apr_pstrcat(q->pool, "/images/", dp_dk_ref_encode(q->pool, ref), "/json", NULL),
                                     NULL);

    if (pinfo) {
        *pinfo = rv == APR_SUCCESS ? o : NULL;
    }
    return rv == APR_SUCCESS;
}

static int engine_has(dp_req_t *q, const char *ref)
{
    return engine_has_info(NULL, q, ref);
}

/* The tags one pull or build writes, as claimed. */
typedef struct {
    dp_db_t *db;
    apr_array_header_t *claimed;    /* refs newly claimed by this request (released on failure) */
    apr_array_header_t *refs;       /* every ref written */
} claims_t;

/* Claims the tags refs (familiar names) for the caller before a pull/build writes them: 409
 * image_tag_taken for a tag of another key or an existing unowned one, 503 without database.
 * The admin claims nothing here (its tags are recorded after success, see finish_claims).
 * On a refusal the claims this call made are released again. */
static void finish_claims(claims_t *c, dp_req_t *q, int ok);

static apr_status_t claim_tags(claims_t *c, dp_problem_t **pprob, dp_req_t *q, apr_array_header_t *refs)
{
    apr_int64_t now = apr_time_sec(apr_time_now());
    const char *me = key_name(q);
    apr_status_t rv = APR_SUCCESS;
    int i;

    c->claimed = apr_array_make(q->pool, 2, sizeof(const char *));
    c->refs = refs;
    c->db = NULL;
    if (is_admin(q)) {
        return APR_SUCCESS;
    }
    if ((c->db = dp_db_acquire(pprob, q)) == NULL) {
        return APR_EGENERAL;
    }
    for (i = 0; i < refs->nelts; ++i) {
        const char *ref = APR_ARRAY_IDX(refs, i, const char *), *owner = NULL;
        int ok = 0;

        if ((rv = dp_store_img_owner(&owner, pprob, c->db, ref)) != APR_SUCCESS) {
            break;
        }
        if (owner && strcmp(owner, me) == 0) {
            continue;
        }
        if (engine_has(q, ref)) {
            rv = dp_problem_fail(pprob, q->pool, 409, "image_tag_taken",
                                 "the image tag '%s' exists and is not this key's", ref);
            break;
        }
        if ((rv = dp_store_img_claim(&ok, pprob, c->db, ref, me, now, now - DP_IMG_CLAIM_STALE_S)) != APR_SUCCESS) {
            break;
        }
        if (!ok) {
            rv = dp_problem_fail(pprob, q->pool, 409, "image_tag_taken",
                                 "the image tag '%s' is claimed by another key", ref);
            break;
        }
        APR_ARRAY_PUSH(c->claimed, const char *) = ref;
    }
    if (i < refs->nelts) {
        finish_claims(c, q, 0);
        return rv;
    }
    return APR_SUCCESS;
}

/* After the pull/build: on failure releases the new claims; on success records the admin's. */
static void finish_claims(claims_t *c, dp_req_t *q, int ok)
{
    apr_int64_t now = apr_time_sec(apr_time_now());
    dp_problem_t *prob = NULL;
    int i;

    if (!ok) {
        for (i = 0; c->db && i < c->claimed->nelts; ++i) {
            (void)dp_store_img_forget(&prob, c->db, APR_ARRAY_IDX(c->claimed, i, const char *), key_name(q));
        }
        return;
    }
    if (!is_admin(q)) {
        for (i = 0; c->db && i < c->refs->nelts; ++i) {
            (void)dp_store_img_done(&prob, c->db, APR_ARRAY_IDX(c->refs, i, const char *), key_name(q), now);
        }
        return;
    }
    if ((c->db = dp_db_acquire(&prob, q)) == NULL) {
        DP_LOG(q, APLOG_WARNING, 0, "image owners not recorded: the database is down");
        return;
    }
    for (i = 0; i < c->refs->nelts; ++i) {
        (void)dp_store_img_set(&prob, c->db, APR_ARRAY_IDX(c->refs, i, const char *), key_name(q), now);
    }
}

/* Checks that ref may be pulled: a reference Docker accepts (422), from an allowed registry
 * (403 policy_denied naming field and the registry); *pref is the parsed reference. */
static apr_status_t registry_check(dp_dk_ref_t *pref, dp_problem_t **pprob, dp_req_t *q, const char *ref,
                                   const char *field)
{
    dp_problem_t *prob;

    if (dp_dk_ref_parse(pref, q->pool, ref) != APR_SUCCESS) {
        return dp_problem_fail(pprob, q->pool, 422, "invalid_value", "%s: '%s' is not an image reference",
                               field, ref);
    }
    if (!dp_dk_registry_allowed(q->conf->registry_allow, pref->registry)) {
        prob = dp_problem_make(q->pool, 403, "policy_denied",
                               "%s: the registry '%s' is not allowed (DockpayRegistryAllow)", field, pref->registry);
        dp_problem_add(prob, q->pool, "field", json_object_new_string(field));
        *pprob = prob;
        return APR_EGENERAL;
    }
    return APR_SUCCESS;
}

/* GET /images: Docker's list; ?all=, ?dangling=, ?reference= narrow it. */
int dp_images_list(dp_req_t *q)
{
    json_object *list = NULL, *f = dp_json_object(q->pool);
    const char *ref = dp_query(q, "reference"), *path = "/images/json?";
    dp_problem_t *prob = NULL;
    int all = 0, dangling = -1;

    if (dp_query_bool(&all, &prob, q, "all", 0) != APR_SUCCESS) {
        return dp_send_problem(q, prob);
    }
    if (dp_query(q, "dangling") && dp_query_bool(&dangling, &prob, q, "dangling", 0) != APR_SUCCESS) {
        return dp_send_problem(q, prob);
    }
    if (ref && !dp_dk_image_ref_ok(ref)) {
        return dp_fail(q, 422, "invalid_value", "the query parameter 'reference' is not an image reference");
    }
    if (ref) {
        json_object *a = json_object_new_array();
        json_object_array_add(a, json_object_new_string(ref));
        json_object_object_add(f, "reference", a);
    }
    if (dangling >= 0) {
        json_object *a = json_object_new_array();
        json_object_array_add(a, json_object_new_string(dangling ? "true" : "false"));
        json_object_object_add(f, "dangling", a);
    }
    if (all) {
        path = apr_pstrcat(q->pool, path, "all=1&", NULL);
    }
    if (json_object_object_length(f) > 0) {
        path = apr_pstrcat(q->pool, path, "filters=", dp_url_encode(q->pool, dp_json_str(q->pool, f)), NULL);
    }
    if (dp_engine_call(&list, NULL, &prob, q, "GET", path, NULL) != APR_SUCCESS) {
        return dp_send_problem(q, prob);
    }
    if (!is_admin(q) && list && json_object_is_type(list, json_type_array)) {
        apr_hash_t *owners;
        json_object *mine = dp_json_array(q->pool);
        size_t i;

        if (load_owners(&owners, &prob, q) != APR_SUCCESS) {
            return dp_send_problem(q, prob);
        }
        for (i = 0; i < json_object_array_length(list); ++i) {
            json_object *img = json_object_array_get_idx(list, i);
            if (image_visible(q, owners, dp_json_get(img, "RepoTags"), dp_json_get(img, "Labels"))) {
                trim_tags(q, owners, img);
                json_object_array_add(mine, json_object_get(img));
            }
        }
        list = mine;
    }
    return dp_engine_send_items(q, list);
}

/* GET /images/{name+}: Docker's inspect object (names with '/' and ':' route here whole). */
/* 404 image_not_found unless a non-admin caller may use the image info (inspected as name):
 * by a tag, that tag's owner decides; by id, the image's tags and label. *powners gets the
 * owner table. */
static apr_status_t visible_check(apr_hash_t **powners, dp_problem_t **pprob, dp_req_t *q, const char *name,
                                  json_object *info)
{
    dp_dk_ref_t ref;
    const char *o2;
    apr_status_t rv;

    if ((rv = load_owners(powners, pprob, q)) != APR_SUCCESS) {
        return rv;
    }
    if (dp_dk_ref_parse(&ref, q->pool, name) == APR_SUCCESS
        && (o2 = apr_hash_get(*powners, ref.familiar, APR_HASH_KEY_STRING)) != NULL
        && strcmp(o2, key_name(q)) != 0) {
        return dp_problem_fail(pprob, q->pool, 404, "image_not_found", "no such image: %s", name);
    }
    if (!image_visible(q, *powners, dp_json_get(info, "RepoTags"), dp_json_get(dp_json_get(info, "Config"), "Labels"))) {
        return dp_problem_fail(pprob, q->pool, 404, "image_not_found", "no such image: %s", name);
    }
    return APR_SUCCESS;
}

/* Whether the request's key may use image name (container create, compose services). */
apr_status_t dp_images_usable(dp_problem_t **pprob, dp_req_t *q, const char *name)
{
    json_object *info = NULL;
    apr_hash_t *owners;

    if (is_admin(q) || name == NULL || !engine_has_info(&info, q, name)) {
        return APR_SUCCESS;   /* absent: Docker answers (or the pull path checks the registry) */
    }
    return visible_check(&owners, pprob, q, name, info);
}

int dp_images_inspect(dp_req_t *q)
{
    const char *name = image_param(q);
    json_object *o = NULL;
    dp_problem_t *prob = NULL;

    if (name == NULL) {
        return OK;
    }
    if (dp_engine_call(&o, NULL, &prob, q, "GET", apr_pstrcat(q->pool, "/images/", dp_dk_ref_encode(q->pool, name),
                                                             "/json", NULL), NULL) != APR_SUCCESS) {
        return send_image_problem(q, prob);
    }
    if (!is_admin(q)) {
        apr_hash_t *owners;
        if (visible_check(&owners, &prob, q, name, o) != APR_SUCCESS) {
            return dp_send_problem(q, prob);
        }
        trim_tags(q, owners, o);
    }
    return dp_send_json(q, 200, o);
}

/* DELETE /images/{name+}: ?force=, ?noprune=; Docker's list of untagged/deleted as items. */
int dp_images_delete(dp_req_t *q)
{
    const char *name = image_param(q);
    json_object *list = NULL;
    dp_problem_t *prob = NULL;
    dp_db_t *db;
    dp_dk_ref_t ref;
    int force = 0, noprune = 0;
    size_t i;

    if (name == NULL) {
        return OK;
    }
    if (dp_query_bool(&force, &prob, q, "force", 0) != APR_SUCCESS
        || dp_query_bool(&noprune, &prob, q, "noprune", 0) != APR_SUCCESS) {
        return dp_send_problem(q, prob);
    }
    if ((db = dp_db_acquire(&prob, q)) == NULL && !is_admin(q)) {
        return dp_send_problem(q, prob);
    }
    if (!is_admin(q)) {
        /* only a tag of the key's own, by its name (never by id: that could take other tags) */
        const char *owner = NULL;
        if (dp_dk_ref_parse(&ref, q->pool, name) != APR_SUCCESS || ref.digest) {
            return dp_fail(q, 404, "image_not_found", "no such image: %s", name);
        }
        if (dp_store_img_owner(&owner, &prob, db, ref.familiar) != APR_SUCCESS) {
            return dp_send_problem(q, prob);
        }
        if (owner == NULL || strcmp(owner, key_name(q)) != 0) {
            return dp_fail(q, 404, "image_not_found", "no such image: %s", name);
        }
    }
    if (dp_engine_call(&list, NULL, &prob, q, "DELETE",
                       apr_psprintf(q->pool, "/images/%s?force=%d&noprune=%d", dp_dk_ref_encode(q->pool, name),
                                    force, noprune), NULL) != APR_SUCCESS) {
        return send_image_problem(q, prob);
    }
    /* the tags the engine removed are nobody's any more */
    for (i = 0; db && list && json_object_is_type(list, json_type_array) && i < json_object_array_length(list); ++i) {
        const char *u = dp_json_get_str(json_object_array_get_idx(list, i), "Untagged");
        dp_problem_t *p2 = NULL;
        if (u && dp_dk_ref_parse(&ref, q->pool, u) == APR_SUCCESS && ref.digest == NULL) {
            (void)dp_store_img_forget(&p2, db, ref.familiar, NULL);
        }
    }
    return dp_engine_send_items(q, list);
}

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
static apr_status_t read_auth(const char **phdr, dp_problem_t **pprob, dp_req_t *q, json_object *body)
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
        return dp_problem_fail(pprob, q->pool, 400, "wrong_type", "the field 'auth' must be an object");
    }
    if ((rv = dp_json_only_fields(pprob, q->pool, a, fields)) != APR_SUCCESS
        || (rv = dp_json_field_str(&user, pprob, q->pool, a, "username", 0, 256)) != APR_SUCCESS
        || (rv = dp_json_field_str(&pass, pprob, q->pool, a, "password", 0, 4096)) != APR_SUCCESS
        || (rv = dp_json_field_str(&server, pprob, q->pool, a, "serveraddress", 0, 256)) != APR_SUCCESS) {
        return rv;
    }
    *phdr = dp_dk_registry_auth(q->pool, user, pass, server);
    return APR_SUCCESS;
}

/* POST /images/pull: {"image", "tag"?, "auth"?}; waits for the pull to finish and answers
 * {"image","status","id","digest"}; in-band errors are 502 pull_failed (404 when not found). */
int dp_images_pull(dp_req_t *q)
{
    static const char *const fields[] = { "image", "tag", "auth", NULL };
    json_object *body, *info = NULL, *out;
    const char *image = NULL, *tag = NULL, *auth = NULL, *ref;
    dp_dk_progress_t *g;
    dp_problem_t *prob = NULL;
    dp_dk_ref_t pref;
    apr_array_header_t *refs;
    claims_t claims;
    apr_status_t rv;

    if (dp_read_json(&body, &prob, q, 0) != APR_SUCCESS
        || dp_json_only_fields(&prob, q->pool, body, fields) != APR_SUCCESS
        || dp_json_field_str(&image, &prob, q->pool, body, "image", 1, 255) != APR_SUCCESS
        || dp_json_field_str(&tag, &prob, q->pool, body, "tag", 0, 128) != APR_SUCCESS
        || read_auth(&auth, &prob, q, body) != APR_SUCCESS) {
        return dp_send_problem(q, prob);
    }
    if (!dp_dk_image_ref_ok(image)) {
        return dp_fail(q, 422, "invalid_value", "the field 'image' is not an image reference");
    }
    if (tag && !tag_ok(tag)) {
        return dp_fail(q, 422, "invalid_value", "the field 'tag' is not a tag");
    }
    if (tag && dp_dk_ref_has_tag(image)) {
        return dp_fail(q, 422, "invalid_value", "give the tag either in 'image' or in 'tag', not both");
    }
    ref = tag ? apr_pstrcat(q->pool, image, ":", tag, NULL) : dp_dk_ref_with_tag(q->pool, image);
    q->target = ref;
    if (registry_check(&pref, &prob, q, ref, "image") != APR_SUCCESS) {
        return dp_send_problem(q, prob);
    }
    refs = apr_array_make(q->pool, 1, sizeof(const char *));
    APR_ARRAY_PUSH(refs, const char *) = pref.familiar;
    if (claim_tags(&claims, &prob, q, refs) != APR_SUCCESS) {
        return dp_send_problem(q, prob);
    }
    rv = dp_dk_pull(&g, &prob, q->proc->docker, q->pool, ref, auth, dp_engine_tick, q->r,
                    DP_ENGINE_LONG_MS);
    finish_claims(&claims, q, rv == APR_SUCCESS);
    if (rv == APR_ECONNABORTED) {
        return dp_fail(q, 400, "client_gone", "the client went away; the pull was cancelled");
    }
    if (rv != APR_SUCCESS) {
        return dp_send_problem(q, prob);
    }
    if (dp_engine_call(&info, NULL, &prob, q, "GET",
                       apr_pstrcat(q->pool, "/images/", dp_dk_ref_encode(q->pool, ref), "/json", NULL), NULL) != APR_SUCCESS) {
        return dp_send_problem(q, prob);
    }
    out = dp_json_object(q->pool);
    dp_json_set_str(out, "image", ref);
    dp_json_set_str(out, "status", g->status ? g->status : "done");
    dp_json_set_str(out, "id", dp_json_get_str(info, "Id"));
    dp_json_set_str(out, "digest", g->digest);
    return dp_send_json(q, 200, out);
}

/* ------------------------------------------------------------------------------------------ */
/* build */

typedef struct {
    request_rec *r;
    apr_bucket_brigade *bb;     /* what the input filters gave and the engine did not take yet */
    apr_off_t total;
    int eos;
    int too_large;
    int read_error;
} upload_t;

/* read_cb: fills buf from the client's request body, at most *len bytes per call. */
static apr_status_t upload_read(void *baton, char *buf, apr_size_t *len)
{
    upload_t *u = baton;
    apr_size_t want = *len, got = 0;

    while (got == 0 && !u->eos) {
        apr_bucket *b;
        apr_status_t rv;

        if (APR_BRIGADE_EMPTY(u->bb)) {
            rv = ap_get_brigade(u->r->input_filters, u->bb, AP_MODE_READBYTES, APR_BLOCK_READ,
                                want < 65536 ? want : 65536);
            if (rv != APR_SUCCESS) {
                u->read_error = 1;
                return rv;
            }
        }
        while (!APR_BRIGADE_EMPTY(u->bb) && got < want) {
            const char *data;
            apr_size_t n;

            b = APR_BRIGADE_FIRST(u->bb);
            if (APR_BUCKET_IS_EOS(b)) {
                u->eos = 1;
                apr_bucket_delete(b);
                break;
            }
            if (APR_BUCKET_IS_METADATA(b)) {
                apr_bucket_delete(b);
                continue;
            }
            if ((rv = apr_bucket_read(b, &data, &n, APR_BLOCK_READ)) != APR_SUCCESS) {
                u->read_error = 1;
                return rv;
            }
            if (n > want - got) {
                apr_bucket_split(b, want - got);
                n = want - got;
            }
            memcpy(buf + got, data, n);
            got += n;
            apr_bucket_delete(b);
        }
        u->total += (apr_off_t)got;
        if (u->total > DP_BUILD_MAX_CONTEXT) {
            u->too_large = 1;
            return APR_ENOSPC;
        }
    }
    *len = got;
    return APR_SUCCESS;
}

/* The query parameters POST /images/build takes; anything else is refused, naming it. */
static const char *const build_params[] = {
    "t", "dockerfile", "buildargs", "labels", "nocache", "rm", "forcerm", "pull", "networkmode", NULL
};

typedef struct {
    dp_req_t *q;
    json_object *tags;          /* the t values */
    apr_array_header_t *refs;   /* their familiar names */
    const char *bad;            /* the first parameter not in build_params */
    int bad_tag;
} params_ctx_t;

static int scan_param(void *baton, const char *key, const char *val)
{
    params_ctx_t *c = baton;
    int i;

    for (i = 0; build_params[i]; ++i) {
        if (strcmp(build_params[i], key) == 0) {
            break;
        }
    }
    if (build_params[i] == NULL) {
        c->bad = key;
        return 0;
    }
    if (strcmp(key, "t") == 0) {
        dp_dk_ref_t ref;
        if (!dp_dk_image_ref_ok(val) || dp_dk_ref_parse(&ref, c->q->pool, val) != APR_SUCCESS || ref.digest) {
            c->bad_tag = 1;
            return 0;
        }
        json_object_array_add(c->tags, json_object_new_string(val));
        APR_ARRAY_PUSH(c->refs, const char *) = ref.familiar;
    }
    return 1;
}

/* Checks a JSON object of strings (?buildargs= with nulls too, ?labels=): 400 not JSON, 422
 * wrong values, at most 64 members of keys up to 128 and values up to 4096 bytes. */
static apr_status_t check_str_map(json_object **pobj, dp_problem_t **pprob, dp_req_t *q, const char *name,
                                  const char *s, int nulls)
{
    json_object *o = NULL;

    if (dp_json_parse(&o, NULL, q->pool, s, strlen(s)) != APR_SUCCESS) {
        return dp_problem_fail(pprob, q->pool, 400, "bad_query", "the query parameter '%s' is not JSON", name);
    }
    if (!json_object_is_type(o, json_type_object) || json_object_object_length(o) > 64) {
        return dp_problem_fail(pprob, q->pool, 422, "invalid_value",
                               "the query parameter '%s' must be a JSON object of at most 64 strings", name);
    }
    json_object_object_foreach(o, k, v) {
        if ((v == NULL && !nulls) || (v != NULL && !json_object_is_type(v, json_type_string))
            || strlen(k) == 0 || strlen(k) > 128 || (v && json_object_get_string_len(v) > 4096)) {
            return dp_problem_fail(pprob, q->pool, 422, "invalid_value",
                                   "the %s member '%s' must be a string (keys up to 128, values up to 4096 bytes)",
                                   name, k);
        }
    }
    *pobj = o;
    return APR_SUCCESS;
}

/* True when an engine message is about the Dockerfile ("Cannot locate specified Dockerfile"). */
static int mentions_dockerfile(const char *msg)
{
    return strstr(msg, "Dockerfile") != NULL || strstr(msg, "dockerfile") != NULL;
}

/* read_cb: the spooled context, from the start. */
static apr_status_t spool_read(void *baton, char *buf, apr_size_t *len)
{
    apr_status_t rv = apr_file_read((apr_file_t *)baton, buf, len);

    if (rv == APR_EOF) {
        *len = 0;
        return APR_SUCCESS;
    }
    return rv;
}

/* Reads the client's tar into a temp file (deleted when the request ends) while the scanner
 * looks for the Dockerfile; *pfile is positioned at the start. */
static apr_status_t spool_context(apr_file_t **pfile, dp_problem_t **pprob, dp_req_t *q, dp_dk_tar_t *scan)
{
    request_rec *r = q->r;
    const char *tmp = NULL;
    char *tmpl, *buf = apr_palloc(q->pool, 65536);
    apr_file_t *f = NULL;
    apr_off_t zero = 0;
    upload_t up;
    int refused = 0;
    apr_status_t rv;

    if (apr_temp_dir_get(&tmp, q->pool) != APR_SUCCESS) {
        tmp = "/tmp";
    }
    tmpl = apr_pstrcat(q->pool, tmp, "/dockpay-build-XXXXXX", NULL);
    if ((rv = apr_file_mktemp(&f, tmpl, APR_FOPEN_CREATE | APR_FOPEN_READ | APR_FOPEN_WRITE | APR_FOPEN_EXCL
                              | APR_FOPEN_BINARY | APR_FOPEN_DELONCLOSE, q->pool)) != APR_SUCCESS) {
        DP_LOG(q, APLOG_ERR, rv, "cannot make a temp file for the build context in %s", tmp);
        return dp_problem_fail(pprob, q->pool, 503, "storage_unavailable", "the build context cannot be stored");
    }
    memset(&up, 0, sizeof(up));
    up.r = r;
    up.bb = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    for (;;) {
        apr_size_t n = 65536;
        rv = upload_read(&up, buf, &n);
        if (rv != APR_SUCCESS || n == 0) {
            break;
        }
        /* after a refusal the rest is still read (and dropped) so the answer reaches the client */
        if (!refused && dp_dk_tar_feed(scan, buf, n) != APR_SUCCESS) {
            refused = 1;
        }
        if (!refused && (rv = apr_file_write_full(f, buf, n, NULL)) != APR_SUCCESS) {
            DP_LOG(q, APLOG_ERR, rv, "cannot write the build context to %s", tmpl);
            apr_brigade_destroy(up.bb);
            return dp_problem_fail(pprob, q->pool, 503, "storage_unavailable", "the build context cannot be stored");
        }
    }
    apr_brigade_destroy(up.bb);
    if (up.too_large) {
        r->connection->keepalive = AP_CONN_CLOSE;
        return dp_problem_fail(pprob, q->pool, 413, "body_too_large",
                               "the build context is larger than %" APR_OFF_T_FMT " bytes", DP_BUILD_MAX_CONTEXT);
    }
    if (up.read_error) {
        r->connection->keepalive = AP_CONN_CLOSE;
        return dp_problem_fail(pprob, q->pool, 400, "bad_body", "the build context could not be read");
    }
    if ((rv = apr_file_seek(f, APR_SET, &zero)) != APR_SUCCESS) {
        return dp_problem_fail(pprob, q->pool, 503, "storage_unavailable", "the build context cannot be stored");
    }
    *pfile = f;
    return APR_SUCCESS;
}

/* Checks the images a Dockerfile uses: visible to the caller, local or pulled now from an
 * allowed registry (403 policy_denied otherwise), and their ONBUILD triggers pass the check. */
static apr_status_t check_base_images(dp_problem_t **pprob, dp_req_t *q, apr_array_header_t *images)
{
    apr_hash_t *owners = NULL;
    int i;

    for (i = 0; i < images->nelts; ++i) {
        const char *img = APR_ARRAY_IDX(images, i, const char *), *o;
        json_object *info = NULL;
        dp_dk_ref_t ref;

        if (dp_dk_ref_parse(&ref, q->pool, img) != APR_SUCCESS) {
            return dp_problem_fail(pprob, q->pool, 403, "policy_denied", "Dockerfile: '%s' is not an image reference",
                                   img);
        }
        if (!is_admin(q)) {
            if (owners == NULL && load_owners(&owners, pprob, q) != APR_SUCCESS) {
                return APR_EGENERAL;
            }
            o = apr_hash_get(owners, ref.familiar, APR_HASH_KEY_STRING);
            if (o && strcmp(o, key_name(q)) != 0) {
                return dp_problem_fail(pprob, q->pool, 403, "policy_denied",
                                       "Dockerfile: the image '%s' is not available to this key", img);
            }
        }
        if (!engine_has_info(&info, q, img)) {
            dp_dk_progress_t *g;
            apr_status_t rv;
            if (!dp_dk_registry_allowed(q->conf->registry_allow, ref.registry)) {
                dp_problem_t *prob = dp_problem_make(q->pool, 403, "policy_denied",
                                                     "Dockerfile: '%s' would be pulled from the registry '%s', "
                                                     "which is not allowed (DockpayRegistryAllow)", img, ref.registry);
                dp_problem_add(prob, q->pool, "field", json_object_new_string("Dockerfile"));
                *pprob = prob;
                return APR_EGENERAL;
            }
            /* pulled here rather than by the builder, so that its ONBUILD triggers are seen */
            rv = dp_dk_pull(&g, pprob, q->proc->docker, q->pool, dp_dk_ref_with_tag(q->pool, img), NULL,
                            dp_engine_tick, q->r, DP_ENGINE_LONG_MS);
            if (rv != APR_SUCCESS || !engine_has_info(&info, q, img)) {
                if (rv == APR_SUCCESS || *pprob == NULL) {
                    return dp_problem_fail(pprob, q->pool, 422, "build_failed",
                                           "Dockerfile: the image '%s' could not be pulled", img);
                }
                if ((*pprob)->status == 404) {
                    (*pprob)->status = 422;
                    (*pprob)->code = "build_failed";
                }
                return APR_EGENERAL;
            }
        }
        if (!is_admin(q) && !image_visible(q, owners, dp_json_get(info, "RepoTags"),
                                           dp_json_get(dp_json_get(info, "Config"), "Labels"))) {
            /* e.g. FROM <id> of another key's image */
            return dp_problem_fail(pprob, q->pool, 403, "policy_denied",
                                   "Dockerfile: the image '%s' is not available to this key", img);
        }
        {
            /* its ONBUILD triggers run in this build: they pass the same check */
            json_object *ob = dp_json_get(dp_json_get(info, "Config"), "OnBuild");
            size_t k;
            for (k = 0; ob && json_object_is_type(ob, json_type_array) && k < json_object_array_length(ob); ++k) {
                const char *trig = json_object_get_string(json_object_array_get_idx(ob, k));
                dp_dk_dfile_t df;
                if (trig && dp_dk_dockerfile_check(&df, q->pool, trig, strlen(trig)) != APR_SUCCESS) {
                    return dp_problem_fail(pprob, q->pool, 403, "policy_denied",
                                           "Dockerfile: an ONBUILD trigger of the image '%s' is refused: %s",
                                           img, df.reason);
                }
            }
        }
    }
    return APR_SUCCESS;
}

/* POST /images/build: a tar context (plain tar) checked and sent to the engine; query
 * parameters from build_params only (networkmode default|none, pull false, rm/forcerm true);
 * {"id","tags","log"}; in-band build errors are 422 build_failed with the log. */
int dp_images_build(dp_req_t *q)
{
    request_rec *r = q->r;
    const char *ct = apr_table_get(r->headers_in, "Content-Type");
    const char *cl = apr_table_get(r->headers_in, "Content-Length");
    const char *dockerfile = dp_query(q, "dockerfile"), *buildargs = dp_query(q, "buildargs");
    const char *labels_q = dp_query(q, "labels"), *netmode = dp_query(q, "networkmode");
    const char *path, *text, *terr;
    params_ctx_t pc;
    dp_http_req_t req;
    dp_dk_progress_t *g;
    dp_dk_tar_t *scan;
    dp_dk_dfile_t df;
    dp_problem_t *prob = NULL;
    json_object *out, *labels = NULL, *args = NULL;
    apr_file_t *ctx = NULL;
    claims_t claims;
    apr_size_t tlen;
    apr_status_t rv;
    apr_int64_t n;
    int nocache = 0, pull = 0, rm = 1, forcerm = 1, status = 0, i;

    if (ct == NULL || strncasecmp(ct, "application/x-tar", 17) != 0 || (ct[17] && ct[17] != ';' && ct[17] != ' ')) {
        return dp_fail(q, 415, "unsupported_media_type", "send the build context as application/x-tar");
    }
    if (cl && (dp_parse_int(&n, cl, 0, APR_INT64_MAX) != APR_SUCCESS || n > DP_BUILD_MAX_CONTEXT)) {
        r->connection->keepalive = AP_CONN_CLOSE;
        return dp_fail(q, 413, "body_too_large", "the build context is larger than %" APR_OFF_T_FMT " bytes",
                       DP_BUILD_MAX_CONTEXT);
    }
    memset(&pc, 0, sizeof(pc));
    pc.q = q;
    pc.tags = dp_json_array(q->pool);
    pc.refs = apr_array_make(q->pool, 2, sizeof(const char *));
    apr_table_do(scan_param, &pc, q->query, NULL);
    if (pc.bad) {
        prob = dp_problem_make(q->pool, 403, "policy_denied", "%s: the build parameter '%s' is not allowed%s",
                               pc.bad, pc.bad, strcmp(pc.bad, "remote") == 0 ? " (remote contexts are refused)" : "");
        dp_problem_add(prob, q->pool, "field", json_object_new_string(pc.bad));
        return dp_send_problem(q, prob);
    }
    if (pc.bad_tag) {
        return dp_fail(q, 422, "invalid_value", "the query parameter 't' must be an image name[:tag]");
    }
    if (dockerfile && (*dockerfile == '\0' || strlen(dockerfile) > 255 || dockerfile[0] == '/'
                       || strstr(dockerfile, "..") || !dp_utf8_valid(dockerfile, strlen(dockerfile))
                       || strpbrk(dockerfile, "\r\n\t"))) {
        return dp_fail(q, 422, "invalid_value", "the query parameter 'dockerfile' must be a path inside the context");
    }
    if ((buildargs && check_str_map(&args, &prob, q, "buildargs", buildargs, 1) != APR_SUCCESS)
        || (labels_q && check_str_map(&labels, &prob, q, "labels", labels_q, 0) != APR_SUCCESS)
        || dp_query_bool(&nocache, &prob, q, "nocache", 0) != APR_SUCCESS
        || dp_query_bool(&pull, &prob, q, "pull", 0) != APR_SUCCESS
        || dp_query_bool(&rm, &prob, q, "rm", 1) != APR_SUCCESS
        || dp_query_bool(&forcerm, &prob, q, "forcerm", 1) != APR_SUCCESS) {
        return dp_send_problem(q, prob);
    }
    if (pull || !rm || !forcerm) {
        const char *f = pull ? "pull" : !rm ? "rm" : "forcerm";
        prob = dp_problem_make(q->pool, 403, "policy_denied", "%s: the build parameter '%s' may only be %s",
                               f, f, pull ? "false" : "true");
        dp_problem_add(prob, q->pool, "field", json_object_new_string(f));
        return dp_send_problem(q, prob);
    }
    if (netmode && strcmp(netmode, "default") != 0 && strcmp(netmode, "none") != 0) {
        prob = dp_problem_make(q->pool, 403, "policy_denied",
                               "networkmode: builds may use the network mode 'default' or 'none' only");
        dp_problem_add(prob, q->pool, "field", json_object_new_string("networkmode"));
        return dp_send_problem(q, prob);
    }
    if (labels == NULL) {
        labels = dp_json_object(q->pool);
    }
    json_object_object_foreach(labels, lk, lv) {
        (void)lv;
        if (strncmp(lk, "dockpay.", 8) == 0) {
            prob = dp_problem_make(q->pool, 403, "policy_denied", "labels: the label '%s' is reserved", lk);
            dp_problem_add(prob, q->pool, "field", json_object_new_string("labels"));
            return dp_send_problem(q, prob);
        }
    }
    json_object_object_add(labels, "dockpay.key", json_object_new_string(key_name(q)));
    json_object_object_add(labels, "dockpay.managed", json_object_new_string("true"));
    q->target = json_object_array_length(pc.tags) ? json_object_get_string(json_object_array_get_idx(pc.tags, 0))
                                                  : "build";

    /* the context: spooled and scanned, then its Dockerfile checked */
    scan = dp_dk_tar_create(q->pool, dockerfile);
    if (spool_context(&ctx, &prob, q, scan) != APR_SUCCESS) {
        return dp_send_problem(q, prob);
    }
    rv = dp_dk_tar_finish(&text, &tlen, scan);
    if (rv == APR_NOTFOUND) {
        return dp_fail(q, 422, "build_failed", "the build context has no Dockerfile '%s'",
                       dockerfile ? dockerfile : "Dockerfile");
    }
    if (rv != APR_SUCCESS) {
        terr = dp_dk_tar_error(scan, &status);
        if (status == 403) {
            return dp_fail(q, 403, "policy_denied", "build context: %s", terr);
        }
        return dp_fail(q, 422, "build_failed", "build context: %s", terr ? terr : "unreadable");
    }
    if (dp_dk_dockerfile_check(&df, q->pool, text, tlen) != APR_SUCCESS) {
        prob = dp_problem_make(q->pool, 403, "policy_denied", "Dockerfile line %d: %s", df.line, df.reason);
        dp_problem_add(prob, q->pool, "field", json_object_new_string("Dockerfile"));
        dp_problem_add(prob, q->pool, "line", json_object_new_int(df.line));
        return dp_send_problem(q, prob);
    }
    if (claim_tags(&claims, &prob, q, pc.refs) != APR_SUCCESS) {
        return dp_send_problem(q, prob);
    }
    if (check_base_images(&prob, q, df.images) != APR_SUCCESS) {
        finish_claims(&claims, q, 0);
        return dp_send_problem(q, prob);
    }

    /* version=1: the classic builder, whatever the engine's default (BuildKit would read
     * "# syntax=" directives and pull frontend images) */
    path = "/build?version=1&rm=1&forcerm=1&pull=0";
    for (i = 0; i < (int)json_object_array_length(pc.tags); ++i) {
        path = apr_pstrcat(q->pool, path, "&t=",
                           dp_url_encode(q->pool, json_object_get_string(json_object_array_get_idx(pc.tags, i))), NULL);
    }
    if (dockerfile) path = apr_pstrcat(q->pool, path, "&dockerfile=", dp_url_encode(q->pool, dockerfile), NULL);
    if (args) path = apr_pstrcat(q->pool, path, "&buildargs=", dp_url_encode(q->pool, dp_json_str(q->pool, args)), NULL);
    path = apr_pstrcat(q->pool, path, "&labels=", dp_url_encode(q->pool, dp_json_str(q->pool, labels)), NULL);
    if (nocache) path = apr_pstrcat(q->pool, path, "&nocache=1", NULL);
    if (netmode && strcmp(netmode, "none") == 0) path = apr_pstrcat(q->pool, path, "&networkmode=none", NULL);

    memset(&req, 0, sizeof(req));
    req.method = "POST";
    req.url = path;
    req.headers = apr_table_make(q->pool, 2);
    apr_table_setn(req.headers, "Content-Type", "application/x-tar");
    req.read_cb = spool_read;
    req.read_baton = ctx;
    req.timeout_ms = DP_ENGINE_LONG_MS;
    req.tick_cb = dp_engine_tick;
    req.tick_baton = r;
    g = dp_dk_progress_create(q->pool, 1);
    rv = dp_dk_progress_call(&status, &prob, g, q->proc->docker, q->pool, &req);
    finish_claims(&claims, q, rv == APR_SUCCESS && g->error == NULL);
    if (rv == APR_ECONNABORTED) {
        return dp_fail(q, 400, "client_gone", "the client went away; the build was cancelled");
    }
    if (rv != APR_SUCCESS) {
        /* a context the engine cannot build from (no Dockerfile, ...) is the client's to fix */
        if (prob && (status == 400 || (status == 500 && prob->detail && mentions_dockerfile(prob->detail)))) {
            prob->status = 422;
            prob->code = "build_failed";
        }
        return dp_send_problem(q, prob);
    }
    if (g->error) {
        prob = dp_problem_make(q->pool, 422, "build_failed", "Docker: %s", g->error);
        dp_problem_add(prob, q->pool, "log", json_object_get(dp_dk_progress_log(g, q->pool)));
        return dp_send_problem(q, prob);
    }
    out = dp_json_object(q->pool);
    if (g->id && strncmp(g->id, "sha256:", 7) != 0) {
        /* the classic builder's "Successfully built" line has the short id */
        json_object *info = NULL;
        if (dp_engine_call(&info, NULL, NULL, q, "GET", apr_pstrcat(q->pool, "/images/", g->id, "/json", NULL), NULL)
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
        dp_json_set_ref(out, "tags", pc.tags);
    }
    dp_json_set_ref(out, "log", dp_dk_progress_log(g, q->pool));
    if (g->id) {
        q->target = g->id;
    }
    return dp_send_json(q, 200, out);
}
