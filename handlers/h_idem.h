/* h_idem: Idempotency-Key handling around the payment and subscription writes (issue 14).
 * One wrapper, applied by the dispatch to every route dp_idem_applies names. */
#ifndef H_IDEM_H
#define H_IDEM_H

#include "dp_glue.h"

/* True when requests to route take an Idempotency-Key: every POST and DELETE that needs
 * payments:write (the payment and subscription writes; not the webhook). */
int dp_idem_applies(const dp_route_t *route);

/* Runs fn for q under q's Idempotency-Key header: no header runs fn as it is; a malformed one
 * is a 400; otherwise the key is claimed for q's API key in the database (atomically), fn runs
 * once and its answer is stored for 24 h (a 5xx gives the key back). A repeat of the same
 * request gets the stored answer again with "Idempotent-Replayed: true"; another request
 * under the same key is a 422 idempotency_key_reused, one while the first runs a 409
 * request_in_progress. Returns what a handler returns. */
int dp_idem_run(dp_req_t *q, dp_handler_fn *fn);

#endif
