/* h_audit: GET /audit, the admin's read of the audit trail (one row per write request). */
#include <string.h>
#include <apr_strings.h>
#include <apr_lib.h>

#include "dp_glue.h"
#include "dp_store_audit.h"

#define AUDIT_LIMIT_MAX 200

/* GET /audit?key=&method=&path=&from=&to=&limit=&cursor=: newest first. */
static int h_audit_list(dp_req_t *q)
{
    dp_audit_query_t aq;
    dp_problem_t *prob = NULL;
    dp_db_t *db;
    json_object *items = NULL, *out;
    apr_int64_t limit, next = 0;
    const char *m;
    char *up;
    apr_size_t i;

    memset(&aq, 0, sizeof(aq));
    aq.key_name = dp_query(q, "key");
    aq.path_prefix = dp_query(q, "path");
    m = dp_query(q, "method");
    if (dp_query_int(&aq.from, &prob, q, "from", -1, 0, APR_INT64_C(253402300799)) != APR_SUCCESS
        || dp_query_int(&aq.to, &prob, q, "to", -1, 0, APR_INT64_C(253402300799)) != APR_SUCCESS
        || dp_query_int(&limit, &prob, q, "limit", 50, 1, AUDIT_LIMIT_MAX) != APR_SUCCESS
        || dp_query_int(&aq.before_id, &prob, q, "cursor", 0, 1, APR_INT64_MAX) != APR_SUCCESS) {
        return dp_send_problem(q, prob);
    }
    aq.limit = (int)limit;
    if (aq.key_name && !dp_is_safe_token(aq.key_name, 64)) {
        return dp_fail(q, 400, "bad_query", "the query parameter 'key' must be an API key name");
    }
    if (aq.path_prefix && (aq.path_prefix[0] != '/' || strlen(aq.path_prefix) > 512)) {
        return dp_fail(q, 400, "bad_query", "the query parameter 'path' must be a path prefix starting "
                       "with '/' (below the API's base path, e.g. /payments)");
    }
    if (m) {
        up = apr_pstrdup(q->pool, m);
        for (i = 0; up[i]; ++i) {
            if (!apr_isalpha(up[i]) || i >= 8) {
                return dp_fail(q, 400, "bad_query", "the query parameter 'method' must be an HTTP method "
                               "such as POST or DELETE");
            }
            up[i] = (char)apr_toupper(up[i]);
        }
        if (i == 0) {
            return dp_fail(q, 400, "bad_query", "the query parameter 'method' must not be empty");
        }
        aq.method = up;
    }
    if ((db = dp_db_acquire(&prob, q)) == NULL
        || dp_store_audit_list(&items, &next, &prob, db, &aq) != APR_SUCCESS) {
        return dp_send_problem(q, prob);
    }
    out = dp_json_object(q->pool);
    dp_json_set_ref(out, "items", items);
    dp_json_set_int(out, "limit", limit);
    if (next > 0) {
        dp_json_set_str(out, "next_cursor", apr_psprintf(q->pool, "%" APR_INT64_T_FMT, next));
    }
    else {
        json_object_object_add(out, "next_cursor", NULL);
    }
    return dp_send_json(q, 200, out);
}

const dp_handler_entry_t dp_audit_handlers[] = {
    { "audit.list", h_audit_list },
    { NULL, NULL }
};
