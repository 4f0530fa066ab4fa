/* h_subscriptions: billing keys, charge-now and scheduled payments. */
#include "dp_glue.h"

const dp_handler_entry_t dp_subscription_handlers[] = {
    { NULL, NULL }
};
