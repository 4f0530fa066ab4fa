/* dp_log: logging bridge for the core library. */
#include <stdarg.h>
#include <apr_strings.h>

#include "dp_log.h"

static dp_log_print_fn *log_fn;
static void *log_baton;

/* Installs the function that prints library log lines. */
void dp_log_set(dp_log_print_fn *fn, void *baton)
{
    log_fn = fn;
    log_baton = baton;
}

/* Formats a log line in p and hands it to the installed printer. */
void dp_log_p(apr_pool_t *p, int level, apr_status_t rv, const char *fmt, ...)
{
    va_list ap;
    char *msg;

    if (log_fn == NULL) {
        return;
    }
    va_start(ap, fmt);
    msg = apr_pvsprintf(p, fmt, ap);
    va_end(ap);
    log_fn(log_baton, level, rv, msg);
}
