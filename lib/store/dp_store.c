/* dp_store: the database through apr_dbd prepared statements registered by label. */
#include <stdlib.h>
#include <string.h>
#include <apr_atomic.h>
#include <apr_strings.h>

#include "dp_store.h"
#include "dp_util.h"
#include "dp_log.h"

const dp_stmt_def_t dp_store_core_statements[] = {
    { "dockpay_ping", "SELECT 1" },
    { "dockpay_schema_version", "SELECT COALESCE(MAX(version), 0) FROM schema_version" },
    { "dockpay_lock_get", "SELECT GET_LOCK(%s, %d)" },
    { "dockpay_lock_release", "SELECT RELEASE_LOCK(%s)" },
    { "dockpay_audit_insert",
      "INSERT INTO audit_log (created_at, key_name, method, path, target, status, request_id) "
      "VALUES (UTC_TIMESTAMP(6), %s, %s, %s, %s, %d, %s)" },
    { NULL, NULL }
};

const dp_stmt_def_t *const dp_store_tables[] = {
    dp_store_core_statements,
    dp_store_pay_statements,
    dp_store_sub_statements,
    dp_store_img_statements,
    dp_store_idem_statements,   /* idem */
    dp_store_audit_statements,  /* idem */
    dp_store_outbox_statements,   /* outbox */
    dp_store_rec_statements,   /* reconcile */
    dp_store_billing_statements,   /* billing (issue 15) */
    NULL
};

/* Looks up a prepared statement by label. */
apr_status_t dp_store_stmt(apr_dbd_prepared_t **pstmt, dp_problem_t **pprob, dp_db_t *db,
                           const char *label)
{
    *pstmt = db->prepared ? apr_hash_get(db->prepared, label, APR_HASH_KEY_STRING) : NULL;
    if (*pstmt == NULL) {
        dp_log_p(db->pool, DP_LOG_ERR, 0, "prepared statement '%s' is not registered", label);
        return dp_problem_fail(pprob, db->pool, 500, "statement_missing",
                               "the database statement '%s' is not prepared", label);
    }
    return APR_SUCCESS;
}

/* Maps a failed dbd call to a problem and logs it. */
apr_status_t dp_store_fail(dp_problem_t **pprob, dp_db_t *db, int dbrv, const char *what)
{
    const char *msg = apr_dbd_error(db->driver, db->handle, dbrv);
    apr_status_t alive = apr_dbd_check_conn(db->driver, db->pool, db->handle);

    dp_log_p(db->pool, alive == APR_SUCCESS ? DP_LOG_ERR : DP_LOG_WARNING, 0,
             "database: %s failed: %s", what, msg ? msg : "unknown error");
    if (alive != APR_SUCCESS) {
        dp_problem_fail(pprob, db->pool, 503, "database_unavailable",
                        "the database connection was lost; try again");
        if (pprob && *pprob) (*pprob)->retry_after = "2";
        return DP_EPROBLEM;
    }
    return dp_problem_fail(pprob, db->pool, 500, "database_error", "the database refused %s", what);
}

/* Runs a write statement by label with binary arguments. */
apr_status_t dp_store_exec(int *pnrows, dp_problem_t **pprob, dp_db_t *db, const char *label,
                           const void **args)
{
    apr_dbd_prepared_t *stmt;
    apr_status_t rv;
    int nrows = 0, dbrv;

    if ((rv = dp_store_stmt(&stmt, pprob, db, label)) != APR_SUCCESS) {
        return rv;
    }
    dbrv = apr_dbd_pbquery(db->driver, db->pool, db->handle, &nrows, stmt, args);
    if (dbrv != 0) {
        return dp_store_fail(pprob, db, dbrv, label);
    }
    if (pnrows) {
        *pnrows = nrows;
    }
    return APR_SUCCESS;
}

/* Runs a SELECT by label with binary arguments. */
apr_status_t dp_store_select(apr_dbd_results_t **pres, dp_problem_t **pprob, dp_db_t *db,
                             const char *label, const void **args)
{
    apr_dbd_prepared_t *stmt;
    apr_status_t rv;
    int dbrv;

    *pres = NULL;
    if ((rv = dp_store_stmt(&stmt, pprob, db, label)) != APR_SUCCESS) {
        return rv;
    }
    dbrv = apr_dbd_pbselect(db->driver, db->pool, db->handle, pres, stmt, 0, args);
    if (dbrv != 0) {
        return dp_store_fail(pprob, db, dbrv, label);
    }
    return APR_SUCCESS;
}

/* Returns column col of row as a string in db->pool. */
const char *dp_store_col(dp_db_t *db, apr_dbd_row_t *row, int col)
{
    const char *v = apr_dbd_get_entry(db->driver, row, col);
    return v ? apr_pstrdup(db->pool, v) : NULL;
}

/* Returns column col of row as an integer. */
apr_int64_t dp_store_col_int(dp_db_t *db, apr_dbd_row_t *row, int col)
{
    const char *v = apr_dbd_get_entry(db->driver, row, col);
    return v ? apr_atoi64(v) : 0;
}

struct dp_tx_t {
    dp_db_t *db;
    apr_dbd_transaction_t *tx;
    int open;
};

static apr_status_t tx_guard_cleanup(void *data)
{
    dp_tx_t *g = data;

    if (g->open) {
        apr_dbd_transaction_mode_set(g->db->driver, g->tx, APR_DBD_TRANSACTION_ROLLBACK);
        apr_dbd_transaction_end(g->db->driver, g->db->pool, g->tx);
        g->open = 0;
    }
    return APR_SUCCESS;
}

/* Starts a transaction guarded by a pool cleanup. */
apr_status_t dp_store_tx_begin(dp_tx_t **ptx, dp_problem_t **pprob, dp_db_t *db)
{
    dp_tx_t *g = apr_pcalloc(db->pool, sizeof(*g));
    int dbrv;

    *ptx = NULL;
    dbrv = apr_dbd_transaction_start(db->driver, db->pool, db->handle, &g->tx);
    if (dbrv != 0) {
        return dp_store_fail(pprob, db, dbrv, "starting a transaction");
    }
    g->db = db;
    g->open = 1;
    apr_pool_cleanup_register(db->pool, g, tx_guard_cleanup, apr_pool_cleanup_null);
    *ptx = g;
    return APR_SUCCESS;
}

/* Ends tx: commits when commit is true, else rolls back. */
apr_status_t dp_store_tx_end(dp_problem_t **pprob, dp_tx_t *tx, int commit)
{
    int dbrv;

    if (!commit) {
        apr_dbd_transaction_mode_set(tx->db->driver, tx->tx, APR_DBD_TRANSACTION_ROLLBACK);
    }
    dbrv = apr_dbd_transaction_end(tx->db->driver, tx->db->pool, tx->tx);
    tx->open = 0;
    if (tx->db->on_tx_end) {
        void (*fn)(dp_db_t *) = tx->db->on_tx_end;
        tx->db->on_tx_end = NULL;
        fn(tx->db);
    }
    if (dbrv != 0) {
        return dp_store_fail(pprob, tx->db, dbrv, "ending a transaction");
    }
    return APR_SUCCESS;
}

/* The first column of a row as a string (a dp_store_row_fn). */
static void *first_col(dp_db_t *db, apr_dbd_row_t *row)
{
    return (void *)dp_store_col(db, row, 0);
}

/* Runs a one-value SELECT by label and returns the first column of the first row. */
apr_status_t dp_store_select_value(const char **pval, dp_problem_t **pprob, dp_db_t *db, const char *label,
                                   const void **args)
{
    void *v = NULL;
    apr_status_t rv = dp_store_select_first(&v, pprob, db, label, args, first_col);

    *pval = v;
    return rv;
}

/* Checks that the connection answers. */
apr_status_t dp_store_ping(dp_problem_t **pprob, dp_db_t *db)
{
    const char *v;
    return dp_store_select_value(&v, pprob, db, "dockpay_ping", NULL);
}

/* Reads the highest applied schema version. */
apr_status_t dp_store_schema_version(int *pversion, dp_problem_t **pprob, dp_db_t *db)
{
    const char *v;
    apr_status_t rv = dp_store_select_value(&v, pprob, db, "dockpay_schema_version", NULL);

    *pversion = (rv == APR_SUCCESS && v) ? atoi(v) : 0;
    return rv;
}

/* Writes one audit row for a write request. */
apr_status_t dp_store_audit(dp_problem_t **pprob, dp_db_t *db, const char *key_name,
                            const char *method, const char *path, const char *target,
                            int status, const char *request_id)
{
    const void *args[6];

    /* what a hostile request put in its path must still fit the columns (see 001_audit.sql) */
    args[0] = dp_str_clean(db->pool, key_name ? key_name : "-", 64);
    args[1] = dp_str_clean(db->pool, method, 8);
    args[2] = dp_str_clean(db->pool, path, 512);
    args[3] = dp_str_clean(db->pool, target, 255);
    args[4] = &status;
    args[5] = dp_str_clean(db->pool, request_id, 64);
    return dp_store_exec(NULL, pprob, db, "dockpay_audit_insert", args);
}

/* Runs a SELECT and makes a record of each row with fn: into items, or only the first into *pfirst
 * (items NULL); the result is always read to the end. */
static apr_status_t select_rows(apr_array_header_t *items, void **pfirst, dp_problem_t **pprob, dp_db_t *db,
                                const char *label, const void **args, dp_store_row_fn *fn)
{
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    apr_status_t rv;

    if ((rv = dp_store_select(&res, pprob, db, label, args)) != APR_SUCCESS) {
        return rv;
    }
    while (apr_dbd_get_row(db->driver, db->pool, res, &row, -1) == 0) {
        if (items) {
            APR_ARRAY_PUSH(items, void *) = fn(db, row);
        }
        else if (*pfirst == NULL) {
            *pfirst = fn(db, row);
        }
    }
    return APR_SUCCESS;
}

/* Runs a SELECT and collects every row through fn (see dp_store.h). */
apr_status_t dp_store_select_all(apr_array_header_t **pitems, dp_problem_t **pprob, dp_db_t *db,
                                 const char *label, const void **args, dp_store_row_fn *fn)
{
    *pitems = apr_array_make(db->pool, 8, sizeof(void *));
    return select_rows(*pitems, NULL, pprob, db, label, args, fn);
}

/* Runs a SELECT and makes a record of its first row through fn (see dp_store.h). */
apr_status_t dp_store_select_first(void **prec, dp_problem_t **pprob, dp_db_t *db, const char *label,
                                   const void **args, dp_store_row_fn *fn)
{
    *prec = NULL;
    return select_rows(NULL, prec, pprob, db, label, args, fn);
}

/* ------------------------------------------------------------------------------------------ */
/* named locks: MariaDB's GET_LOCK, held by the connection, seen by every server on the database */

struct dp_store_lock_t {
    dp_db_t *db;
    const char *name;
};

/* Releases the lock (a pool cleanup: also when the request ends without dp_store_unlock). */
static apr_status_t lock_release(void *data)
{
    dp_store_lock_t *lk = data;
    const void *args[1];
    const char *v = NULL;
    dp_problem_t *ignored = NULL;

    args[0] = lk->name;
    if (dp_store_select_value(&v, &ignored, lk->db, "dockpay_lock_release", args) != APR_SUCCESS || v == NULL
        || strcmp(v, "1") != 0) {
        dp_log_p(lk->db->pool, DP_LOG_WARNING, 0, "database: the lock '%s' was not held at its release "
                 "(the connection was lost: the database released it)", lk->name);
    }
    return APR_SUCCESS;
}

/* Takes a named lock on the connection. */
apr_status_t dp_store_lock(dp_store_lock_t **plock, dp_problem_t **pprob, dp_db_t *db, const char *name,
                           int wait_s)
{
    const void *args[2];
    const char *v = NULL;
    apr_status_t rv;
    dp_store_lock_t *lk;

    *plock = NULL;
    args[0] = name;
    args[1] = &wait_s;
    if ((rv = dp_store_select_value(&v, pprob, db, "dockpay_lock_get", args)) != APR_SUCCESS) {
        return rv;
    }
    if (v == NULL || strcmp(v, "1") != 0) {
        return APR_SUCCESS;   /* 0: still held elsewhere after wait_s; NULL: the wait was cut short */
    }
    lk = apr_palloc(db->pool, sizeof(*lk));
    lk->db = db;
    lk->name = apr_pstrdup(db->pool, name);
    apr_pool_cleanup_register(db->pool, lk, lock_release, apr_pool_cleanup_null);
    *plock = lk;
    return APR_SUCCESS;
}

/* Releases a named lock. */
void dp_store_unlock(dp_store_lock_t *lock)
{
    if (lock) {
        apr_pool_cleanup_run(lock->db->pool, lock, lock_release);
    }
}
