/* dp_log: logging from the core library through a bridge that the httpd glue installs. */
#ifndef DP_LOG_H
#define DP_LOG_H

#include <apr_pools.h>
#include <apr_errno.h>

/* Levels match httpd's APLOG_* numbers one to one. */
typedef enum {
    DP_LOG_EMERG = 0, DP_LOG_ALERT, DP_LOG_CRIT, DP_LOG_ERR, DP_LOG_WARNING,
    DP_LOG_NOTICE, DP_LOG_INFO, DP_LOG_DEBUG, DP_LOG_TRACE1
} dp_log_level_t;

typedef void dp_log_print_fn(void *baton, int level, apr_status_t rv, const char *msg);

/* Installs the function that prints library log lines (NULL: lines go nowhere). */
void dp_log_set(dp_log_print_fn *fn, void *baton);

/* Formats a log line in p and hands it to the installed printer; never pass secrets. */
void dp_log_p(apr_pool_t *p, int level, apr_status_t rv, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
