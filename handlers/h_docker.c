/* h_docker: Docker routes (containers, images, volumes, networks, system, compose). */
#include "dp_glue.h"

const dp_handler_entry_t dp_docker_handlers[] = {
    { NULL, NULL }
};
