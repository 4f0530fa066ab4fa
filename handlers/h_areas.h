/* h_areas: the hooks each feature area offers to mod_dockpay.c. */
#ifndef H_AREAS_H
#define H_AREAS_H

#include "dp_glue.h"

/* Payments: creates the PortOne client of server s (its process state proc) in pconf (post_config); OK or an HTTP error. */
int dp_payments_post_config(server_rec *s, const dp_conf_t *c, dp_proc_t *proc, apr_pool_t *pconf);

/* Payments: forgets state inherited over fork (child_init). */
void dp_payments_child_init(server_rec *s, const dp_conf_t *c, dp_proc_t *proc, apr_pool_t *p);

/* Payments: "configured" when a PortOne key and secret are set, else "not configured". */
const char *dp_payments_health(dp_req_t *q);

/* Outbox: checks the DockpayNotify* settings of server s and registers the delivery task with
 * mod_watchdog (instance "dockpay-outbox") when a URL is set; OK or an HTTP error. */
int dp_events_post_config(server_rec *s, const dp_conf_t *c, dp_proc_t *proc, apr_pool_t *pconf);
/* reconcile: sets up the "dockpay-reconcile" watchdog for the first server with PortOne
 * (post_config, after dp_payments_post_config); OK or an HTTP error. */
int dp_reconcile_post_config(server_rec *s, apr_pool_t *pconf);

/* reconcile: lets the watchdog thread use this process's clients (child_init, after them). */
void dp_reconcile_child_init(void);

/* reconcile: wakes the reconciler to apply recorded webhook events now (any process). */
void dp_reconcile_wake(void);

/* reconcile: the "reconciler" object of /health (reused like the dependency check), or NULL
 * when unreadable. */
json_object *dp_reconcile_health(dp_req_t *q);

#endif
