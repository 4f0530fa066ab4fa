/* h_engine_images: images (list, inspect, pull, build, delete). Pull and build read the
 * engine's NDJSON progress through dp_dk_progress; build streams the client's tar to the
 * engine without holding it in memory. */
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
    return dp_engine_send_items(q, list);
}

/* GET /images/{name+}: Docker's inspect object (names with '/' and ':' route here whole). */
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
    return dp_send_json(q, 200, o);
}

/* DELETE /images/{name+}: ?force=, ?noprune=; Docker's list of untagged/deleted as items. */
int dp_images_delete(dp_req_t *q)
{
    const char *name = image_param(q);
    json_object *list = NULL;
    dp_problem_t *prob = NULL;
    int force = 0, noprune = 0;

    if (name == NULL) {
        return OK;
    }
    if (dp_query_bool(&force, &prob, q, "force", 0) != APR_SUCCESS
        || dp_query_bool(&noprune, &prob, q, "noprune", 0) != APR_SUCCESS) {
        return dp_send_problem(q, prob);
    }
    if (dp_engine_call(&list, NULL, &prob, q, "DELETE",
                       apr_psprintf(q->pool, "/images/%s?force=%d&noprune=%d", dp_dk_ref_encode(q->pool, name),
                                    force, noprune), NULL) != APR_SUCCESS) {
        return send_image_problem(q, prob);
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
    rv = dp_dk_pull(&g, &prob, q->proc->docker, q->pool, ref, auth, dp_engine_tick, q->r,
                    DP_ENGINE_LONG_MS);
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

typedef struct {
    json_object *tags;          /* the t values */
    int bad;
} tags_ctx_t;

static int collect_tag(void *baton, const char *key, const char *val)
{
    tags_ctx_t *t = baton;

    (void)key;
    if (!dp_dk_image_ref_ok(val)) {
        t->bad = 1;
        return 0;
    }
    json_object_array_add(t->tags, json_object_new_string(val));
    return 1;
}

/* Checks ?buildargs= (a JSON object of strings or nulls); 400 not JSON, 422 wrong values. */
static apr_status_t check_buildargs(dp_problem_t **pprob, dp_req_t *q, const char *s)
{
    json_object *o = NULL;

    if (dp_json_parse(&o, NULL, q->pool, s, strlen(s)) != APR_SUCCESS) {
        return dp_problem_fail(pprob, q->pool, 400, "bad_query", "the query parameter 'buildargs' is not JSON");
    }
    if (!json_object_is_type(o, json_type_object)) {
        return dp_problem_fail(pprob, q->pool, 422, "invalid_value",
                               "the query parameter 'buildargs' must be a JSON object of strings");
    }
    json_object_object_foreach(o, k, v) {
        if (v != NULL && !json_object_is_type(v, json_type_string)) {
            return dp_problem_fail(pprob, q->pool, 422, "invalid_value",
                                   "the build argument '%s' must be a string", k);
        }
    }
    return APR_SUCCESS;
}

/* True when an engine message is about the Dockerfile ("Cannot locate specified Dockerfile"). */
static int mentions_dockerfile(const char *msg)
{
    return strstr(msg, "Dockerfile") != NULL || strstr(msg, "dockerfile") != NULL;
}

/* POST /images/build: a tar context streamed to the engine; ?t=, ?dockerfile=, ?buildargs=,
 * ?nocache=; {"id","tags","log"}; in-band build errors are 422 build_failed with the log. */
int dp_images_build(dp_req_t *q)
{
    request_rec *r = q->r;
    const char *ct = apr_table_get(r->headers_in, "Content-Type");
    const char *cl = apr_table_get(r->headers_in, "Content-Length");
    const char *dockerfile = dp_query(q, "dockerfile"), *buildargs = dp_query(q, "buildargs");
    const char *path;
    tags_ctx_t tags;
    upload_t up;
    dp_http_req_t req;
    dp_dk_progress_t *g;
    dp_problem_t *prob = NULL;
    json_object *out;
    apr_status_t rv;
    apr_int64_t n;
    int nocache = 0, status = 0, i;

    if (ct == NULL || strncasecmp(ct, "application/x-tar", 17) != 0 || (ct[17] && ct[17] != ';' && ct[17] != ' ')) {
        return dp_fail(q, 415, "unsupported_media_type", "send the build context as application/x-tar");
    }
    if (cl && (dp_parse_int(&n, cl, 0, APR_INT64_MAX) != APR_SUCCESS || n > DP_BUILD_MAX_CONTEXT)) {
        r->connection->keepalive = AP_CONN_CLOSE;
        return dp_fail(q, 413, "body_too_large", "the build context is larger than %" APR_OFF_T_FMT " bytes",
                       DP_BUILD_MAX_CONTEXT);
    }
    tags.tags = dp_json_array(q->pool);
    tags.bad = 0;
    apr_table_do(collect_tag, &tags, q->query, "t", NULL);
    if (tags.bad) {
        return dp_fail(q, 422, "invalid_value", "the query parameter 't' must be an image name[:tag]");
    }
    if (dockerfile && (*dockerfile == '\0' || strlen(dockerfile) > 255 || dockerfile[0] == '/'
                       || strstr(dockerfile, "..") || !dp_utf8_valid(dockerfile, strlen(dockerfile))
                       || strpbrk(dockerfile, "\r\n\t"))) {
        return dp_fail(q, 422, "invalid_value", "the query parameter 'dockerfile' must be a path inside the context");
    }
    if ((buildargs && check_buildargs(&prob, q, buildargs) != APR_SUCCESS)
        || dp_query_bool(&nocache, &prob, q, "nocache", 0) != APR_SUCCESS) {
        return dp_send_problem(q, prob);
    }

    path = "/build?rm=1&forcerm=1";
    for (i = 0; i < (int)json_object_array_length(tags.tags); ++i) {
        path = apr_pstrcat(q->pool, path, "&t=",
                           dp_url_encode(q->pool, json_object_get_string(json_object_array_get_idx(tags.tags, i))), NULL);
    }
    if (dockerfile) path = apr_pstrcat(q->pool, path, "&dockerfile=", dp_url_encode(q->pool, dockerfile), NULL);
    if (buildargs) path = apr_pstrcat(q->pool, path, "&buildargs=", dp_url_encode(q->pool, buildargs), NULL);
    if (nocache) path = apr_pstrcat(q->pool, path, "&nocache=1", NULL);
    q->target = json_object_array_length(tags.tags) ? json_object_get_string(json_object_array_get_idx(tags.tags, 0))
                                                    : "build";

    memset(&up, 0, sizeof(up));
    up.r = r;
    up.bb = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    memset(&req, 0, sizeof(req));
    req.method = "POST";
    req.url = path;
    req.headers = apr_table_make(q->pool, 2);
    apr_table_setn(req.headers, "Content-Type", "application/x-tar");
    req.read_cb = upload_read;
    req.read_baton = &up;
    req.timeout_ms = DP_ENGINE_LONG_MS;
    req.tick_cb = dp_engine_tick;
    req.tick_baton = r;
    g = dp_dk_progress_create(q->pool, 1);
    rv = dp_dk_progress_call(&status, &prob, g, q->proc->docker, q->pool, &req);
    apr_brigade_destroy(up.bb);
    if (up.too_large) {
        r->connection->keepalive = AP_CONN_CLOSE;
        return dp_fail(q, 413, "body_too_large", "the build context is larger than %" APR_OFF_T_FMT " bytes",
                       DP_BUILD_MAX_CONTEXT);
    }
    if (up.read_error) {
        r->connection->keepalive = AP_CONN_CLOSE;
        return dp_fail(q, 400, "bad_body", "the build context could not be read");
    }
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
        dp_json_set_ref(out, "tags", tags.tags);
    }
    dp_json_set_ref(out, "log", dp_dk_progress_log(g, q->pool));
    if (g->id) {
        q->target = g->id;
    }
    return dp_send_json(q, 200, out);
}
