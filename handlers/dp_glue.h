/* dp_glue: what handlers share on the httpd side — configuration, the request context, and
 * helpers that turn lib results into HTTP responses. Handlers never call curl or SQL. */
#ifndef DP_GLUE_H
#define DP_GLUE_H

#include <httpd.h>
#include <http_config.h>
#include <http_log.h>
#include <apr_optional.h>
#include <mod_watchdog.h>
#include <json-c/json.h>

#include "dp_util.h"
#include "dp_problem.h"
#include "dp_json.h"
#include "dp_router.h"
#include "dp_auth.h"
#include "dp_store.h"
#include "dp_docker.h"
#include "dp_conf.h"

#if defined(APLOG_USE_MODULE) && !defined(DP_MODULE_MAIN)
APLOG_USE_MODULE(dockpay);
#endif


/* Process-wide state for one server: clients and the keyring (read-only after start-up,
 * except where a client documents its own locking). It is not part of the configuration:
 * post_config makes one per server and dp_proc_of finds it. */
typedef struct dp_proc_t {
    dp_keyring_t *keys;
    dp_docker_t *docker;
    void *portone;                  /* dp_portone_t* (payments) */
    volatile apr_uint32_t streams;  /* follow streams open now */
    struct dp_dk_watch_t *watch;    /* the container list watcher (child_init; h_watch.c), or NULL */
    struct dp_memo_t *health;       /* the last dependency check (child_init) */
    struct dp_memo_t *pages;        /* memoised GET /payments pages (child_init) */
    struct dp_memo_t *recstate;     /* the reconciler's /health object, kept at least 1 s (child_init) */
    unsigned char *notify_key;      /* outbox: the decoded DockpayNotifySecret, or NULL */
    apr_size_t notify_keylen;
} dp_proc_t;

/* One API request as the handlers see it. */
typedef struct dp_req_t {
    request_rec *r;
    apr_pool_t *pool;               /* r->pool */
    dp_conf_t *conf;
    dp_proc_t *proc;
    const dp_route_t *route;
    apr_table_t *params;            /* {param} values of the route */
    apr_table_t *query;             /* decoded query string */
    const dp_key_t *key;            /* the caller's key, NULL on open routes */
    const char *rid;                /* request id */
    const char *target;             /* what the request acted on, for the audit row */
    int audit_done;                 /* the handler wrote its own audit row */
    /* idem: the request body once read (dp_read_body reads it only once), and the last
     * complete response sent through dp_send_* (h_idem.c stores it for replays) */
    char *body;
    apr_size_t body_len;
    int body_read;
    int sent;                       /* a response went through dp_send_* */
    const char *sent_ctype;         /* its Content-Type, or NULL */
    const char *sent_body;          /* its body (NULL: none) */
    apr_size_t sent_len;
} dp_req_t;

typedef int dp_handler_fn(dp_req_t *q);

typedef struct dp_handler_entry_t {
    const char *id;                 /* route id in lib/base/dp_routes.c */
    dp_handler_fn *fn;
} dp_handler_entry_t;

/* Handler tables of the areas, each ending with { NULL, NULL }. */
extern const dp_handler_entry_t dp_system_handlers[];      /* handlers/h_system.c */
extern const dp_handler_entry_t dp_containers_handlers[];  /* containers, volumes (h_containers.c) */
extern const dp_handler_entry_t dp_engine_handlers[];      /* images, networks, system, compose (h_engine.c) */
extern const dp_handler_entry_t dp_payment_handlers[];     /* payments, webhooks (h_payments.c) */
extern const dp_handler_entry_t dp_subscription_handlers[];/* subscriptions (h_subscriptions.c) */
extern const dp_handler_entry_t dp_audit_handlers[];       /* idem: GET /audit (h_audit.c) */
extern const dp_handler_entry_t dp_event_handlers[];       /* outbox events (h_events.c) */
extern const dp_handler_entry_t dp_reconcile_handlers[];   /* reconcile: webhook events (h_reconcile.c) */
extern const dp_handler_entry_t dp_billing_handlers[];     /* billing (h_billing.c, branch billing) */

/* Returns the process state of server s (made in post_config), or NULL before it exists.
 * The lookup is read-only once the server runs (safe from any thread). */
dp_proc_t *dp_proc_of(const server_rec *s);

/* Logs for the request with the module tag and request id; never pass secrets. */
#define DP_LOG(q, level, rv, fmt, ...) \
    ap_log_rerror(APLOG_MARK, level, rv, (q)->r, "dockpay [%s]: " fmt, (q)->rid, ##__VA_ARGS__)

/* Sends body (a JSON value) with status; returns OK for the handler to return. */
int dp_send_json(dp_req_t *q, int status, json_object *body);

/* Sends len bytes of already serialised JSON with status; returns OK. */
int dp_send_json_text(dp_req_t *q, int status, const char *json, apr_size_t len);

/* Sends prefix, the len bytes of JSON at body (which must live in the request pool: it is not
 * copied) and suffix as one JSON answer with status (a relayed list wrapped as {"items":...});
 * returns OK. */
int dp_send_json_wrapped(dp_req_t *q, int status, const char *prefix, const char *body, apr_size_t len,
                         const char *suffix);

/* Sends an empty response with status (204). */
int dp_send_empty(dp_req_t *q, int status);

/* Sends len bytes of body as ctype (e.g. text/plain) with status; returns OK. */
int dp_send_text(dp_req_t *q, int status, const char *ctype, const char *body, apr_size_t len);

/* Sends {"items": list} (list NULL: an empty array; warnings, when not NULL, as "warnings")
 * with status; returns OK. */
int dp_send_items(dp_req_t *q, int status, json_object *list, json_object *warnings);

/* Sends the outcome of a core operation: prob when rv failed, else body with status (body NULL:
 * an empty response); returns OK. */
int dp_send_result(dp_req_t *q, apr_status_t rv, const dp_problem_t *prob, int status, json_object *body);

/* Sends prob as application/problem+json (logs 5xx problems); returns OK. */
int dp_send_problem(dp_req_t *q, const dp_problem_t *prob);

/* Sends a new problem with a printf-style detail; returns OK. */
int dp_fail(dp_req_t *q, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Reads the request body (through brigades, capped at DockpayMaxBody: 413 beyond) into p. */
apr_status_t dp_read_body(char **pbuf, apr_size_t *plen, dp_problem_t **pprob, dp_req_t *q);

/* Reads a JSON object body: 415 for another content type, 400 for bad JSON or no object;
 * when optional and the body is empty, *pobj is an empty object. */
apr_status_t dp_read_json(json_object **pobj, dp_problem_t **pprob, dp_req_t *q, int optional);

/* Returns query parameter name (decoded) or NULL. */
const char *dp_query(dp_req_t *q, const char *name);

/* Reads a boolean query parameter (dflt when absent); a bad value is a 400 problem. */
apr_status_t dp_query_bool(int *pval, dp_problem_t **pprob, dp_req_t *q, const char *name, int dflt);

/* Reads an integer query parameter in [min,max] (dflt when absent); a bad value is a 400. */
apr_status_t dp_query_int(apr_int64_t *pval, dp_problem_t **pprob, dp_req_t *q, const char *name,
                          apr_int64_t dflt, apr_int64_t min, apr_int64_t max);

/* Registers fn(data) to run every interval in a singleton mod_watchdog instance called name
 * (one process of the server runs it; post_config). APR_ENOTIMPL when mod_watchdog is not
 * loaded, else what mod_watchdog answered. */
apr_status_t dp_task_register(const char *name, apr_interval_time_t interval, void *data,
                              ap_watchdog_callback_fn_t *fn, apr_pool_t *pconf);

/* Finds mod_dbd's functions; post_config calls it once, before any request or task thread
 * (the pointers are only read afterwards). */
void dp_db_init(void);

/* Borrows a database connection for this request; NULL with a 503 problem when down. */
dp_db_t *dp_db_acquire(dp_problem_t **pprob, dp_req_t *q);

/* Opens a database connection of server s in p for work outside any request (the background
 * tasks), going past pooled handles that died with a database restart; NULL when mod_dbd is
 * missing or the database cannot be reached. Give it back with dp_db_close_bg. */
dp_db_t *dp_db_open_bg(server_rec *s, apr_pool_t *p);

/* Gives back a connection from dp_db_open_bg (NULL: nothing to do). */
void dp_db_close_bg(server_rec *s, dp_db_t *db);

/* Opens a connection outside the request's cache (for streams); release with dp_db_release. */
dp_db_t *dp_db_open(dp_problem_t **pprob, dp_req_t *q);
void dp_db_release(dp_req_t *q, dp_db_t *db);

#endif
