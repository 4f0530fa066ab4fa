/* h_engine: Docker routes (images, networks, system, compose). */
#include "dp_glue.h"

const dp_handler_entry_t dp_engine_handlers[] = {
    { NULL, NULL }
};
