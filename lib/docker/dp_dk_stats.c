/* dp_dk_stats: docker CLI stats math (cli/command/container/stats_helpers.go). */
#include <string.h>
#include <strings.h>

#include "dp_dk_stats.h"
#include "dp_json.h"

/* Returns the unsigned number at o.key (walking a "a.b" path), or 0 when absent or no number. */
static double num(json_object *o, const char *path)
{
    char part[64];
    const char *dot;
    json_object *v = o;

    while (v && path) {
        dot = strchr(path, '.');
        if (dot) {
            apr_size_t n = (apr_size_t)(dot - path);
            if (n >= sizeof(part)) return 0;
            memcpy(part, path, n);
            part[n] = '\0';
            v = dp_json_get(v, part);
            path = dot + 1;
        }
        else {
            v = dp_json_get(v, path);
            path = NULL;
        }
    }
    if (v == NULL) {
        return 0;
    }
    if (json_object_is_type(v, json_type_int)) {
        /* engine counters are uint64 */
        return json_object_get_int64(v) < 0 ? 0 : (double)json_object_get_uint64(v);
    }
    if (json_object_is_type(v, json_type_double)) {
        double d = json_object_get_double(v);
        return d > 0 ? d : 0;
    }
    return 0;
}

/* True when o has member key (any value, null included). */
static int has(json_object *o, const char *key)
{
    return o && json_object_is_type(o, json_type_object) && json_object_object_get_ex(o, key, NULL);
}

/* Memory in use without the inactive page cache, as the CLI computes it. */
static double mem_used(json_object *mem)
{
    double usage = num(mem, "usage");
    json_object *st = dp_json_get(mem, "stats");
    double v;

    if (has(st, "total_inactive_file")) {              /* cgroup v1 */
        v = num(st, "total_inactive_file");
        return v < usage ? usage - v : usage;
    }
    if (has(st, "cache")) {                            /* cgroup v1, older engines */
        v = num(st, "cache");
        return v < usage ? usage - v : usage;
    }
    v = num(st, "inactive_file");                      /* cgroup v2 */
    return v < usage ? usage - v : usage;
}

/* Computes the summary of one Engine stats object. */
void dp_dk_stats_summarise(dp_dk_summary_t *out, json_object *stats)
{
    double cpu_delta, sys_delta, online, cpu_now, cpu_pre, sys_now, sys_pre;
    json_object *mem = dp_json_get(stats, "memory_stats");
    json_object *nets = dp_json_get(stats, "networks");
    json_object *io = dp_json_get(dp_json_get(stats, "blkio_stats"), "io_service_bytes_recursive");
    json_object *percpu = dp_json_get(dp_json_get(dp_json_get(stats, "cpu_stats"), "cpu_usage"),
                                      "percpu_usage");

    memset(out, 0, sizeof(*out));
    cpu_now = num(stats, "cpu_stats.cpu_usage.total_usage");
    cpu_pre = num(stats, "precpu_stats.cpu_usage.total_usage");
    sys_now = num(stats, "cpu_stats.system_cpu_usage");
    sys_pre = num(stats, "precpu_stats.system_cpu_usage");
    cpu_delta = cpu_now - cpu_pre;
    sys_delta = sys_now - sys_pre;
    online = num(stats, "cpu_stats.online_cpus");
    if (online == 0 && percpu && json_object_is_type(percpu, json_type_array)) {
        online = (double)json_object_array_length(percpu);
    }
    if (cpu_delta > 0 && sys_delta > 0) {
        out->cpu_percent = cpu_delta / sys_delta * online * 100.0;
    }

    out->memory_usage = mem_used(mem);
    out->memory_limit = num(mem, "limit");
    if (out->memory_limit > 0) {
        out->memory_percent = out->memory_usage / out->memory_limit * 100.0;
    }

    if (nets && json_object_is_type(nets, json_type_object)) {
        json_object_object_foreach(nets, name, n) {
            (void)name;
            out->net_rx += num(n, "rx_bytes");
            out->net_tx += num(n, "tx_bytes");
        }
    }
    if (io && json_object_is_type(io, json_type_array)) {
        apr_size_t i, len = json_object_array_length(io);
        for (i = 0; i < len; ++i) {
            json_object *e = json_object_array_get_idx(io, i);
            const char *op = dp_json_get_str(e, "op");
            if (op && !strcasecmp(op, "read")) {
                out->block_read += num(e, "value");
            }
            else if (op && !strcasecmp(op, "write")) {
                out->block_write += num(e, "value");
            }
        }
    }
    out->pids = num(stats, "pids_stats.current");
}

static json_object *round2(double v)
{
    return json_object_new_double((double)(apr_int64_t)(v * 100.0 + 0.5) / 100.0);  /* v >= 0 */
}

/* Returns the summary as a JSON object owned by p. */
json_object *dp_dk_stats_json(apr_pool_t *p, const dp_dk_summary_t *s)
{
    json_object *o = dp_json_object(p);

    json_object_object_add(o, "cpu_percent", round2(s->cpu_percent));
    dp_json_set_int(o, "memory_usage", (apr_int64_t)s->memory_usage);
    dp_json_set_int(o, "memory_limit", (apr_int64_t)s->memory_limit);
    json_object_object_add(o, "memory_percent", round2(s->memory_percent));
    dp_json_set_int(o, "net_rx", (apr_int64_t)s->net_rx);
    dp_json_set_int(o, "net_tx", (apr_int64_t)s->net_tx);
    dp_json_set_int(o, "block_read", (apr_int64_t)s->block_read);
    dp_json_set_int(o, "block_write", (apr_int64_t)s->block_write);
    dp_json_set_int(o, "pids", (apr_int64_t)s->pids);
    return o;
}
