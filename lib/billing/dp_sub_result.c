/* dp_sub_result: what a payment result does to the schedule it paid (webhook and reconciler
 * path): the schedule's status and its outbox event, in one transaction. Below dp_pay and dp_sub
 * (both call it), so neither has to include the other. */
#include <string.h>
#include <apr_time.h>

#include "dp_sub_result.h"
#include "dp_store_sub.h"
#include "dp_outbox.h"

/* Applies a payment result to a schedule. */
apr_status_t dp_sub_result_on_payment(dp_problem_t **pprob, dp_db_t *db, const char *merchant_uid,
                                      const char *imp_uid, const char *status)
{
    dp_sub_sched_rec_t ev;
    dp_tx_t *tx = NULL;
    apr_status_t rv;
    int paid, n = 0;

    if (status == NULL || merchant_uid == NULL) {
        return APR_SUCCESS;
    }
    if (!strcmp(status, "paid")) {
        paid = 1;
    }
    else if (!strcmp(status, "failed")) {
        paid = 0;
    }
    else {
        return APR_SUCCESS;
    }
    /* the result and its outbox event in one transaction */
    if ((rv = dp_store_tx_begin(&tx, pprob, db)) != APR_SUCCESS) {
        return rv;
    }
    rv = dp_store_sub_schedule_result(&n, pprob, db, merchant_uid, imp_uid, paid,
                                      (apr_int64_t)apr_time_sec(apr_time_now()));
    if (rv == APR_SUCCESS && n > 0) {
        memset(&ev, 0, sizeof(ev));
        ev.merchant_uid = merchant_uid;
        ev.imp_uid = imp_uid;
        ev.status = paid ? "executed" : "failed";
        rv = dp_outbox_schedule(pprob, db, &ev);
    }
    if (rv != APR_SUCCESS) {
        dp_store_tx_end(NULL, tx, 0);
        return rv;
    }
    return dp_store_tx_end(pprob, tx, 1);
}
