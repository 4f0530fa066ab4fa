/* dp_sub_result: a payment result applied to its schedule (see dp_sub_result.c). */
#ifndef DP_SUB_RESULT_H
#define DP_SUB_RESULT_H

#include "dp_problem.h"
#include "dp_store.h"

/* Applies a payment result reported for merchant_uid (PortOne's status string): "paid" marks its
 * schedule executed, "failed" failed, each with its outbox event in one transaction; other
 * statuses and merchant_uids that are not a schedule change nothing. Idempotent. */
apr_status_t dp_sub_result_on_payment(dp_problem_t **pprob, dp_db_t *db, const char *merchant_uid,
                                      const char *imp_uid, const char *status);

#endif
