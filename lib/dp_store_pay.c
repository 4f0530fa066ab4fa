/* dp_store_pay: payment, cancellation, webhook and subscription records (filled by the
 * payments work). */
#include "dp_store.h"

const dp_stmt_def_t dp_store_pay_statements[] = {
    { NULL, NULL }
};
