/* h_billing: billing-aware containers on the httpd side (issue 15): the hooks the Docker
 * handlers call (one call each), the billing routes, and the enforcer (mod_watchdog singleton
 * "dockpay-billing"). The state machine is lib/dp_billing.c. */
#ifndef H_BILLING_H
#define H_BILLING_H

#include "dp_glue.h"

/* Create hook, before the body is parsed: takes "customer_uid" out of req (a container create
 * body, simple or raw, or a compose body) into *pcustomer (NULL when absent). Needs docker:write
 * and payments:write (403 insufficient_scope), a valid uid (422) of a customer with a live
 * billing key (422 customer_not_found). With label set, adds the label dockpay.customer=<uid> to
 * the body's labels ("labels" of the simple body, "docker.Labels" of the raw one). */
apr_status_t dp_billing_bind_from_body(const char **pcustomer, dp_problem_t **pprob, dp_req_t *q,
                                       json_object *req, int label);

/* Create hook, after the engine created object: records the binding of kind ("container":
 * the full Id; "project": the compose project name) to customer (nothing when NULL). On failure
 * the problem names the created object ("id"). */
apr_status_t dp_billing_bind_created(dp_problem_t **pprob, dp_req_t *q, const char *customer,
                                     const char *kind, const char *object);

/* Start hook (start, restart, unpause): 409 subscription_past_due when a non-admin key acts on
 * an object of kind bound to a customer that is past_due or suspended. */
apr_status_t dp_billing_check_start(dp_problem_t **pprob, dp_req_t *q, const char *kind,
                                    const char *object);

/* post_config: registers the enforcer (when DockpayBillingEnforce is not off) for server s. */
int dp_billing_post_config(server_rec *s, const dp_conf_t *c, apr_pool_t *pconf);

/* The billing routes (PUT/DELETE /subscriptions/{customer_uid}/containers/{id},
 * GET /subscriptions/{customer_uid}/status, POST /subscriptions/{customer_uid}/resume). */
extern const dp_handler_entry_t dp_billing_handlers[];

#endif
