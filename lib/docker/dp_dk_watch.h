/* dp_dk_watch: a process-local snapshot of the engine's container list (GET
 * /containers/json?all=1), kept current by a watcher of the engine's event stream, so that
 * container lists are answered without asking Docker.
 *
 * Correctness rules (the answer equals what Docker would say, only the human "Status" text may
 * lag by up to a second):
 * - the watcher subscribes to the event stream (with ?since= a moment back, so nothing between
 *   the subscription and the load is missed), then loads the whole list; "synced" is set only
 *   after a full load while the stream is up and cleared on any stream error;
 * - every relevant event makes the snapshot unusable until a reload that started after it has
 *   been published, and that reload agrees with what the event says (the engine sends some
 *   events, e.g. die and pause, just before its list reflects them; the reload is retried with
 *   a short backoff until it does, for at most a second);
 * - a mutating call made through this process (begin/end) makes the snapshot unusable from its
 *   start until a reload that started after its end (read-your-writes in the process);
 * - a snapshot older than DP_DK_WATCH_MAX_AGE is not served (the Status text);
 * - when the snapshot is unusable callers ask Docker, never serve stale data. */
#ifndef DP_DK_WATCH_H
#define DP_DK_WATCH_H

#include <apr_pools.h>
#include <apr_time.h>
#include <json-c/json.h>

#include "dp_docker.h"

/* Oldest snapshot served (the Status text lag), and how often a used one is reloaded. */
#define DP_DK_WATCH_MAX_AGE     apr_time_from_msec(1000)
#define DP_DK_WATCH_REFRESH     apr_time_from_msec(800)
/* How long an event's expectation is retried before the engine's list is taken as it is. */
#define DP_DK_WATCH_SETTLE_MAX  apr_time_from_msec(1000)
/* Events whose effect cannot be checked in the list wait this long for their reload. */
#define DP_DK_WATCH_SETTLE_MIN  apr_time_from_msec(20)

/* ------------------------------------------------------------------------------------------ */
/* snapshots (immutable, refcounted, each in its own unmanaged pool) */

typedef struct dp_dk_snap_t dp_dk_snap_t;

/* Builds a snapshot (one reference) from the engine's answer to GET /containers/json?all=1;
 * APR_EINVAL when it is not a JSON array of objects. */
apr_status_t dp_dk_snap_build(dp_dk_snap_t **psnap, const char *body, apr_size_t len);

/* Takes another reference. */
void dp_dk_snap_ref(dp_dk_snap_t *s);

/* Drops a reference; the last one frees the snapshot (any thread). */
void dp_dk_snap_release(dp_dk_snap_t *s);

/* Returns the number of containers in the snapshot. */
int dp_dk_snap_count(const dp_dk_snap_t *s);

/* Returns when the snapshot's load started. */
apr_time_t dp_dk_snap_time(const dp_dk_snap_t *s);

/* Renders {"items":[...]} into p exactly as the pass-through would answer GET /containers with
 * all and filters ({"status":[..],"label":[..],"name":[..]}, the object sent to Docker, or
 * NULL); APR_ENOTIMPL when the filters cannot be decided locally the way the engine would
 * (unknown filter, invalid status, a name pattern beyond plain characters, a container with
 * several names): ask Docker then. */
apr_status_t dp_dk_snap_render(const char **pbody, apr_size_t *plen, const dp_dk_snap_t *s,
                               apr_pool_t *p, int all, json_object *filters);

/* ------------------------------------------------------------------------------------------ */
/* events */

typedef struct dp_dk_event_t {
    const char *type;          /* "container", "network", "image", ... */
    const char *action;        /* "start", "die", "health_status", ... (without ": detail") */
    const char *id;            /* the container's id (Actor.ID, or the network event's container) */
    const char *name;          /* Actor.Attributes.name (container events) */
} dp_dk_event_t;

/* What an event means for the list. */
typedef enum {
    DP_DK_EV_IGNORE = 0,       /* no effect on the list (exec_*, attach, resize, push, ...) */
    DP_DK_EV_CHECK,            /* reload, and check the list agrees with the event */
    DP_DK_EV_RELOAD            /* reload DP_DK_WATCH_SETTLE_MIN after the event (cannot check) */
} dp_dk_ev_kind_t;

/* Parses one event line into p; APR_EINVAL when it is no event. */
apr_status_t dp_dk_event_parse(dp_dk_event_t *ev, apr_pool_t *p, const char *line, apr_size_t len);

/* Returns what the event means for the list. */
dp_dk_ev_kind_t dp_dk_event_kind(const dp_dk_event_t *ev);

/* Returns 1 when the snapshot agrees with what the container event (action, id, name) says. */
int dp_dk_snap_agrees(const dp_dk_snap_t *s, const char *action, const char *id, const char *name);

/* ------------------------------------------------------------------------------------------ */
/* the watcher (two threads: the event stream reader and the reloader) */

typedef struct dp_dk_watch_t dp_dk_watch_t;

typedef struct dp_dk_watch_stats_t {
    apr_uint32_t events;       /* relevant events seen */
    apr_uint32_t reloads;      /* list loads published */
    apr_uint32_t reconnects;   /* event stream (re)connections */
    apr_uint32_t hits;         /* lists answered from the snapshot */
    apr_uint32_t misses;       /* lists that had to ask Docker */
    int synced;
} dp_dk_watch_stats_t;

/* Creates a watcher of d's engine in p (the child's pool); nothing runs until start. */
apr_status_t dp_dk_watch_create(dp_dk_watch_t **pw, apr_pool_t *p, dp_docker_t *d);

/* Starts the threads; a cleanup of p stops and joins them (within about a second). */
apr_status_t dp_dk_watch_start(dp_dk_watch_t *w);

/* Stops and joins the threads (also run by the pool cleanup). */
void dp_dk_watch_stop(dp_dk_watch_t *w);

/* Returns a reference to the current snapshot when it may be served now, else NULL (ask
 * Docker). Release it with dp_dk_snap_release. Thread-safe. */
dp_dk_snap_t *dp_dk_watch_acquire(dp_dk_watch_t *w);

/* Marks the start and the end of a call that may change containers (thread-safe). */
void dp_dk_watch_mutation_begin(dp_dk_watch_t *w);
void dp_dk_watch_mutation_end(dp_dk_watch_t *w);

/* Fills *st with the watcher's counters. */
void dp_dk_watch_stats(dp_dk_watch_stats_t *st, dp_dk_watch_t *w);

#endif
