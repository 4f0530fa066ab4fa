/* dp_dk_stats: the summary the docker CLI shows for a stats sample (CPU %, memory, I/O). */
#ifndef DP_DK_STATS_H
#define DP_DK_STATS_H

#include <apr_pools.h>
#include <json-c/json.h>

typedef struct dp_dk_summary_t {
    double cpu_percent;        /* cpu_delta / system_delta × online CPUs × 100 */
    double memory_usage;       /* usage minus the inactive file cache (cgroup v1 or v2) */
    double memory_limit;
    double memory_percent;     /* memory_usage / memory_limit × 100, 0 without a limit */
    double net_rx, net_tx;     /* summed over networks */
    double block_read, block_write; /* io_service_bytes_recursive by op */
    double pids;               /* pids_stats.current */
} dp_dk_summary_t;

/* Computes the summary of one Engine stats object (stream=false, with precpu_stats) the way
 * the docker CLI does; missing fields count as 0 and nothing divides by zero. */
void dp_dk_stats_summarise(dp_dk_summary_t *out, json_object *stats);

/* Returns the summary as a JSON object owned by p (integers for byte counts, CPU and memory
 * percentages rounded to 2 decimals). */
json_object *dp_dk_stats_json(apr_pool_t *p, const dp_dk_summary_t *s);

#endif
