/* dp_store_audit: reading the audit trail through a labelled statement. */
#include <string.h>
#include <apr_strings.h>
#include <apr_time.h>

#include "dp_store_audit.h"
#include "dp_json.h"
#include "dp_util.h"

const dp_stmt_def_t dp_store_audit_statements[] = {
    /* created_at is UTC (UTC_TIMESTAMP): read as microseconds since the epoch, so the session
     * time zone never matters; a NULL filter matches every row */
    { "audit_list",
      "SELECT id, TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', created_at), key_name, method, "
      "path, target, status, request_id FROM audit_log "
      "WHERE id < %lld AND created_at >= %s AND created_at < %s "
      "AND (%s IS NULL OR key_name = %s) AND (%s IS NULL OR method = %s) "
      "AND (%s IS NULL OR CAST(LEFT(path, CHAR_LENGTH(%s)) AS BINARY) = CAST(%s AS BINARY)) "
      "ORDER BY id DESC LIMIT %d" },
    { NULL, NULL }
};

/* "YYYY-MM-DD hh:mm:ss" (UTC) of unix seconds t, in p. */
static const char *utc_datetime(apr_pool_t *p, apr_int64_t t)
{
    apr_time_exp_t x;

    apr_time_exp_gmt(&x, apr_time_from_sec(t));
    return apr_psprintf(p, "%04d-%02d-%02d %02d:%02d:%02d", x.tm_year + 1900, x.tm_mon + 1, x.tm_mday,
                        x.tm_hour, x.tm_min, x.tm_sec);
}

/* RFC 3339 UTC with microseconds of us microseconds since the epoch, in p. */
static const char *rfc3339(apr_pool_t *p, apr_int64_t us)
{
    apr_time_exp_t x;

    apr_time_exp_gmt(&x, (apr_time_t)us);
    return apr_psprintf(p, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", x.tm_year + 1900, x.tm_mon + 1,
                        x.tm_mday, x.tm_hour, x.tm_min, x.tm_sec, x.tm_usec);
}

/* Reads one page of audit rows. */
apr_status_t dp_store_audit_list(json_object **pitems, apr_int64_t *pnext, dp_problem_t **pprob,
                                 dp_db_t *db, const dp_audit_query_t *aq)
{
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    apr_int64_t before = aq->before_id > 0 ? aq->before_id : APR_INT64_MAX, last = 0;
    int limit = aq->limit + 1, n = 0;   /* one more row tells whether a next page exists */
    const void *args[13];
    apr_status_t rv;

    *pitems = dp_json_array(db->pool);
    *pnext = 0;
    args[0] = &before;
    args[1] = aq->from >= 0 ? utc_datetime(db->pool, aq->from) : "1000-01-01 00:00:00";
    args[2] = aq->to >= 0 ? utc_datetime(db->pool, aq->to) : "9999-12-31 23:59:59";
    args[3] = args[4] = aq->key_name;
    args[5] = args[6] = aq->method;
    args[7] = args[8] = args[9] = aq->path_prefix;
    args[10] = &limit;
    if ((rv = dp_store_select(&res, pprob, db, "audit_list", args)) != APR_SUCCESS) {
        return rv;
    }
    while (apr_dbd_get_row(db->driver, db->pool, res, &row, -1) == 0) {
        json_object *o;
        apr_int64_t id = 0, us = 0, status = 0;
        const char *v;

        if (++n > aq->limit) {   /* read on to the end: the driver needs every row fetched */
            *pnext = last;
            continue;
        }
        if ((v = dp_store_col(db, row, 0)) == NULL || dp_parse_int(&id, v, 1, APR_INT64_MAX) != APR_SUCCESS) {
            continue;
        }
        if ((v = dp_store_col(db, row, 1)) != NULL) {
            dp_parse_int(&us, v, APR_INT64_MIN, APR_INT64_MAX);
        }
        if ((v = dp_store_col(db, row, 6)) != NULL) {
            dp_parse_int(&status, v, 0, 999);
        }
        o = json_object_new_object();
        dp_json_set_int(o, "id", id);
        dp_json_set_str(o, "time", rfc3339(db->pool, us));
        dp_json_set_str(o, "key", dp_store_col(db, row, 2));
        dp_json_set_str(o, "method", dp_store_col(db, row, 3));
        dp_json_set_str(o, "path", dp_store_col(db, row, 4));
        v = dp_store_col(db, row, 5);
        if (v && *v) {
            dp_json_set_str(o, "target", v);
        }
        else {
            json_object_object_add(o, "target", NULL);
        }
        dp_json_set_int(o, "status", status);
        dp_json_set_str(o, "request_id", dp_store_col(db, row, 7));
        json_object_array_add(*pitems, o);
        last = id;
    }
    return APR_SUCCESS;
}
