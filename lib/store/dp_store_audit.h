/* dp_store_audit: reading the audit trail (db/migrations/001_audit.sql) for GET /audit. */
#ifndef DP_STORE_AUDIT_H
#define DP_STORE_AUDIT_H

#include <apr_pools.h>
#include <json-c/json.h>

#include "dp_store.h"

/* What GET /audit asks for; NULL strings and negative times are no filter. */
typedef struct dp_audit_query_t {
    const char *key_name;      /* rows of this API key name */
    const char *method;        /* rows of this HTTP method (upper case) */
    const char *path_prefix;   /* rows whose path (below the base path) starts with this */
    apr_int64_t from;          /* created at or after (unix seconds), -1: open */
    apr_int64_t to;            /* created before (unix seconds, exclusive), -1: open */
    apr_int64_t before_id;     /* the cursor: rows with a smaller id; 0: from the newest */
    int limit;                 /* 1..200 */
} dp_audit_query_t;

/* Reads one page of audit rows, newest first, into *pitems (a JSON array owned by db->pool
 * of {"id","time","key","method","path","target","status","request_id"}, time in RFC 3339
 * UTC); *pnext is the cursor of the next page, 0 when this page is the last. */
apr_status_t dp_store_audit_list(json_object **pitems, apr_int64_t *pnext, dp_problem_t **pprob,
                                 dp_db_t *db, const dp_audit_query_t *aq);

#endif
