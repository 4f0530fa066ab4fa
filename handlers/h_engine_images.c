/* h_engine_images: the image routes (list, inspect, pull, build, delete) over the core's
 * dp_dk_image_* operations (lib/dp_dk_images.c). Build spools the client's tar to a temp file
 * (bounded) while the core scans it, then the core checks and streams the file to the engine. */
#include <string.h>
#include <httpd.h>
#include <http_protocol.h>
#include <util_filter.h>
#include <apr_strings.h>

#include "dp_glue.h"
#include "h_engine.h"
#include "h_owner.h"

/* Largest build context accepted (bytes); beyond it the upload stops with 413. */
#define DP_BUILD_MAX_CONTEXT ((apr_off_t)512 * 1024 * 1024)

/* GET /images: Docker's list; ?all=, ?dangling=, ?reference= narrow it. */
int dp_images_list(dp_req_t *q)
{
    json_object *list = NULL;
    dp_problem_t *prob = NULL;
    int all = 0, dangling = -1;
    dp_dk_ctx_t c;

    dp_engine_ctx(&c, q);
    if (dp_query_bool(&all, &prob, q, "all", 0) != APR_SUCCESS
        || (dp_query(q, "dangling") && dp_query_bool(&dangling, &prob, q, "dangling", 0) != APR_SUCCESS)
        || dp_dk_image_list(&list, &prob, &c, all, dangling, dp_query(q, "reference")) != APR_SUCCESS) {
        return dp_engine_reply(q, &c, DP_EPROBLEM, prob, 0, NULL);
    }
    return dp_send_items(q, 200, list, NULL);
}

/* GET /images/{name+}: Docker's inspect object (names with '/' and ':' route here whole). */
int dp_images_inspect(dp_req_t *q)
{
    return dp_engine_get(q, dp_dk_image_inspect, "name", 200);
}

/* DELETE /images/{name+}: ?force=, ?noprune=; Docker's list of untagged/deleted as items. */
int dp_images_delete(dp_req_t *q)
{
    json_object *list = NULL;
    dp_problem_t *prob = NULL;
    dp_dk_ctx_t c;

    dp_engine_ctx(&c, q);
    if (dp_dk_image_delete(&list, &prob, &c, apr_table_get(q->params, "name"), q->query) != APR_SUCCESS) {
        return dp_engine_reply(q, &c, DP_EPROBLEM, prob, 0, NULL);
    }
    q->target = c.target;
    return dp_send_items(q, 200, list, NULL);
}

/* POST /images/pull: {"image", "tag"?, "auth"?}; waits for the pull to finish and answers
 * {"image","status","id","digest"}; in-band errors are 502 pull_failed (404 when not found). */
int dp_images_pull(dp_req_t *q)
{
    return dp_engine_post(q, dp_dk_image_pull, 0, 200);
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
static apr_status_t spool_context(apr_file_t **pfile, dp_problem_t **pprob, dp_req_t *q, dp_dk_build_t *scan)
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
        if (!refused && dp_dk_build_feed(scan, buf, n) != APR_SUCCESS) {
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

/* POST /images/build: a tar context (plain tar) checked and sent to the engine; query
 * parameters checked by the core; {"id","tags","log"}; in-band build errors are 422
 * build_failed with the log. */
int dp_images_build(dp_req_t *q)
{
    request_rec *r = q->r;
    const char *ct = apr_table_get(r->headers_in, "Content-Type");
    const char *cl = apr_table_get(r->headers_in, "Content-Length");
    json_object *out = NULL;
    dp_dk_build_t *b;
    dp_dk_ctx_t c;
    apr_file_t *ctx = NULL;
    apr_int64_t n;
    apr_status_t rv;
    dp_problem_t *prob = NULL;

    dp_engine_ctx(&c, q);
    if (ct == NULL || strncasecmp(ct, "application/x-tar", 17) != 0 || (ct[17] && ct[17] != ';' && ct[17] != ' ')) {
        return dp_fail(q, 415, "unsupported_media_type", "send the build context as application/x-tar");
    }
    if (cl && (dp_parse_int(&n, cl, 0, APR_INT64_MAX) != APR_SUCCESS || n > DP_BUILD_MAX_CONTEXT)) {
        r->connection->keepalive = AP_CONN_CLOSE;
        return dp_fail(q, 413, "body_too_large", "the build context is larger than %" APR_OFF_T_FMT " bytes",
                       DP_BUILD_MAX_CONTEXT);
    }
    if ((rv = dp_dk_build_begin(&b, &prob, &c, q->query)) == APR_SUCCESS
        && (rv = spool_context(&ctx, &prob, q, b)) == APR_SUCCESS) {
        rv = dp_dk_build_run(&out, &prob, &c, b, spool_read, ctx);
    }
    return dp_engine_reply(q, &c, rv, prob, 200, out);
}
