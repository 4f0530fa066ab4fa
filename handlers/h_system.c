/* h_system: service routes (health, OpenAPI document) and the system.version Docker route. */
#include <string.h>
#include <httpd.h>
#include <apr_file_io.h>
#include <apr_strings.h>

#include "dp_glue.h"
#include "dp_memo.h"
#include "h_areas.h"
#include "h_engine.h"

/* GET /health: the state of each dependency and the reconciler's (checked at most once per
 * DockpayHealthCache seconds in each process: the whole answer is memoised, a byte for ok or
 * degraded and the JSON text); 503 when a configured one is down. */
static int health(dp_req_t *q)
{
    json_object *o;
    dp_problem_t *prob = NULL;
    dp_db_t *db;
    const char *memo, *text;
    apr_size_t len;
    apr_time_t now = apr_time_now();
    int docker_ok, db_ok, ok;

    if (dp_memo_get(&memo, &len, q->proc->health, q->pool, "answer", 0, now) == APR_SUCCESS && len > 1) {
        ok = memo[0] == '1';
    }
    else {
        o = dp_json_object(q->pool);
        docker_ok = dp_docker_ping(&prob, q->proc->docker, q->pool, 1000) == APR_SUCCESS;
        db = dp_db_acquire(&prob, q);
        db_ok = db && dp_store_ping(&prob, db) == APR_SUCCESS;
        ok = docker_ok && db_ok;
        dp_json_set_str(o, "status", ok ? "ok" : "degraded");
        dp_json_set_str(o, "docker", docker_ok ? "ok" : "down");
        dp_json_set_str(o, "database", db_ok ? "ok" : "down");
        dp_json_set_str(o, "portone", dp_payments_health(q));
        /* reconcile: backlog, oldest pending age, last pass (no amounts) */
        if (db_ok) {
            json_object *rec = dp_reconcile_health(q);
            json_object_object_add(o, "reconciler", rec ? json_object_get(rec) : NULL);
        }
        text = apr_pstrcat(q->pool, ok ? "1" : "0", dp_json_str(q->pool, o), NULL);
        len = strlen(text);
        dp_memo_put(q->proc->health, "answer", 0, now, text, len);
        memo = text;
    }
    if (!ok) {
        apr_table_setn(q->r->headers_out, "Retry-After", "5");
    }
    return dp_send_json_text(q, ok ? 200 : 503, memo + 1, len - 1);
}

/* GET /openapi.json: the OpenAPI document of this API, as installed. */
static int openapi(dp_req_t *q)
{
    const char *path = q->conf->openapi_file;
    apr_file_t *f;
    apr_finfo_t fi;
    char *buf;
    apr_size_t n;
    json_object *doc;
    dp_problem_t *prob = NULL;

    if (apr_file_open(&f, path, APR_FOPEN_READ, APR_OS_DEFAULT, q->pool) != APR_SUCCESS
        || apr_file_info_get(&fi, APR_FINFO_SIZE, f) != APR_SUCCESS || fi.size > 4 * 1024 * 1024) {
        return dp_fail(q, 404, "not_found", "the OpenAPI document is not installed (DockpayOpenAPIFile)");
    }
    n = (apr_size_t)fi.size;
    buf = apr_palloc(q->pool, n + 1);
    if (apr_file_read_full(f, buf, n, &n) != APR_SUCCESS) {
        apr_file_close(f);
        return dp_fail(q, 500, "openapi_unreadable", "the OpenAPI document cannot be read");
    }
    apr_file_close(f);
    if (dp_json_parse(&doc, &prob, q->pool, buf, n) != APR_SUCCESS) {
        return dp_fail(q, 500, "openapi_invalid", "the installed OpenAPI document is not valid JSON");
    }
    return dp_send_json(q, 200, doc);
}

/* GET /system/version: Docker's version object. */
static int system_version(dp_req_t *q)
{
    return dp_engine_read(q, dp_dk_system_version);
}

const dp_handler_entry_t dp_system_handlers[] = {
    { "health", health },
    { "openapi", openapi },
    { "system.version", system_version },
    { NULL, NULL }
};
