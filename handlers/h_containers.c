/* h_containers: Docker routes (containers, logs, stats, volumes). */
#include "dp_glue.h"

const dp_handler_entry_t dp_containers_handlers[] = {
    { NULL, NULL }
};
