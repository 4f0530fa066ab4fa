/* dp_store: the database through apr_dbd prepared statements registered by label. */
#ifndef DP_STORE_H
#define DP_STORE_H

#include <apr_pools.h>
#include <apr_hash.h>
#include <apr_dbd.h>

#include "dp_problem.h"

/* One labelled statement; mod_dockpay registers every table with mod_dbd at config time. */
typedef struct dp_stmt_def_t {
    const char *label;
    const char *sql;   /* apr_dbd placeholders: %s %d %lld */
} dp_stmt_def_t;

/* A connection borrowed for one request (from mod_dbd) with its prepared statements. */
typedef struct dp_db_t {
    const apr_dbd_driver_t *driver;
    apr_dbd_t *handle;
    apr_hash_t *prepared;  /* label -> apr_dbd_prepared_t* */
    apr_pool_t *pool;
    void *opaque;          /* the glue's own handle (mod_dbd's ap_dbd_t) */
    /* Called once when the connection's next transaction ends (then cleared): a store that
     * wrote sets it to act once its change is visible to other connections. */
    void (*on_tx_end)(struct dp_db_t *db);
} dp_db_t;

/* Statement tables, each terminated by a { NULL, NULL } row. */
extern const dp_stmt_def_t dp_store_core_statements[];
extern const dp_stmt_def_t dp_store_pay_statements[];
extern const dp_stmt_def_t dp_store_sub_statements[];
extern const dp_stmt_def_t dp_store_img_statements[];
extern const dp_stmt_def_t dp_store_idem_statements[];  /* idem: lib/dp_store_idem.c */
extern const dp_stmt_def_t dp_store_audit_statements[]; /* idem: lib/dp_store_audit.c */
extern const dp_stmt_def_t dp_store_outbox_statements[];   /* outbox (lib/dp_store_outbox.c) */
extern const dp_stmt_def_t dp_store_rec_statements[];   /* reconcile: dp_store_rec.c */
extern const dp_stmt_def_t dp_store_billing_statements[];   /* lib/dp_billing.c (issue 15) */
/* All tables, NULL-terminated. */
extern const dp_stmt_def_t *const dp_store_tables[];

/* Looks up a prepared statement; a missing label is a 500 problem naming it. */
apr_status_t dp_store_stmt(apr_dbd_prepared_t **pstmt, dp_problem_t **pprob, dp_db_t *db,
                           const char *label);

/* Maps a failed dbd call to a problem (503 when the connection is gone, else 500) and logs it. */
apr_status_t dp_store_fail(dp_problem_t **pprob, dp_db_t *db, int dbrv, const char *what);

/* Runs a write statement by label with binary arguments (char* for %s, int* for %d,
 * apr_int64_t* for %lld, NULL for SQL NULL); *pnrows may be NULL. */
apr_status_t dp_store_exec(int *pnrows, dp_problem_t **pprob, dp_db_t *db, const char *label,
                           const void **args);

/* Runs a SELECT by label with binary arguments; *pres is a sequential result: read every row
 * with apr_dbd_get_row(..., -1) (apr_dbd_mysql's random access would need 1-based row numbers). */
apr_status_t dp_store_select(apr_dbd_results_t **pres, dp_problem_t **pprob, dp_db_t *db,
                             const char *label, const void **args);

/* Turns one result row into a record (allocated in db->pool). */
typedef void *dp_store_row_fn(dp_db_t *db, apr_dbd_row_t *row);

/* Runs a SELECT by label and collects every row, as made by fn, into *pitems (an array of
 * record pointers in db->pool); the result is read to the end. */
apr_status_t dp_store_select_all(apr_array_header_t **pitems, dp_problem_t **pprob, dp_db_t *db,
                                 const char *label, const void **args, dp_store_row_fn *fn);

/* Runs a SELECT by label and makes *prec of its first row with fn (NULL when there is none);
 * the result is read to the end. */
apr_status_t dp_store_select_first(void **prec, dp_problem_t **pprob, dp_db_t *db, const char *label,
                                   const void **args, dp_store_row_fn *fn);

/* Runs a one-value SELECT by label: *pval is the first column of its first row (NULL when there
 * is none or it is SQL NULL). */
apr_status_t dp_store_select_value(const char **pval, dp_problem_t **pprob, dp_db_t *db, const char *label,
                                   const void **args);

/* Returns column col of row as a string in db->pool (NULL for SQL NULL). */
const char *dp_store_col(dp_db_t *db, apr_dbd_row_t *row, int col);

/* Returns column col of row as an integer (0 for SQL NULL). */
apr_int64_t dp_store_col_int(dp_db_t *db, apr_dbd_row_t *row, int col);

typedef struct dp_tx_t dp_tx_t;

/* Starts a transaction that a pool cleanup rolls back unless dp_store_tx_end commits it. */
apr_status_t dp_store_tx_begin(dp_tx_t **ptx, dp_problem_t **pprob, dp_db_t *db);

/* Ends tx: commits when commit is true (and nothing failed inside), else rolls back. */
apr_status_t dp_store_tx_end(dp_problem_t **pprob, dp_tx_t *tx, int commit);

/* Checks that the connection answers (SELECT 1 through a labelled statement). */
apr_status_t dp_store_ping(dp_problem_t **pprob, dp_db_t *db);

/* Reads the highest applied schema version. */
apr_status_t dp_store_schema_version(int *pversion, dp_problem_t **pprob, dp_db_t *db);

/* A database-wide named lock held by one connection (MariaDB GET_LOCK). */
typedef struct dp_store_lock_t dp_store_lock_t;

/* Takes the named lock (at most 64 characters) on db's connection, waiting up to wait_s seconds;
 * *plock is NULL when another connection still holds it. The lock is released by
 * dp_store_unlock, or at the latest when db->pool is cleared, before the connection goes back
 * to the pool; the database releases it when the connection is lost. */
apr_status_t dp_store_lock(dp_store_lock_t **plock, dp_problem_t **pprob, dp_db_t *db, const char *name,
                           int wait_s);

/* Releases a lock taken by dp_store_lock (NULL: nothing to do). */
void dp_store_unlock(dp_store_lock_t *lock);

/* Writes one audit row for a write request (never a secret in any argument). */
apr_status_t dp_store_audit(dp_problem_t **pprob, dp_db_t *db, const char *key_name,
                            const char *method, const char *path, const char *target,
                            int status, const char *request_id);

#endif
