/* dp_dk_watch: the event-fed container list snapshot and its watcher threads (see the header
 * for the rules that keep the snapshot equal to what the engine would answer). */
#include <string.h>
#include <stdio.h>
#include <apr_strings.h>
#include <apr_hash.h>
#include <apr_atomic.h>
#include <apr_thread_proc.h>
#include <apr_thread_mutex.h>
#include <apr_thread_cond.h>

#include "dp_dk_watch.h"
#include "dp_dk_progress.h"
#include "dp_json.h"
#include "dp_log.h"

#define JSON_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)
#define MAX_EXPECT 64                       /* pending event expectations kept */
#define EVENT_MAX_LINE (64 * 1024)          /* longest event line read */
#define RELOAD_TIMEOUT_MS 10000
#define IDLE_WAKE apr_time_from_msec(100)   /* the reloader looks at its clock this often */
#define BACKOFF_MIN apr_time_from_msec(50)
#define BACKOFF_MAX apr_time_from_msec(2000)
#define EVENT_TYPES "{\"type\":[\"container\",\"network\",\"image\"]}"

/* ------------------------------------------------------------------------------------------ */
/* snapshots */

typedef struct {
    const char *id;
    const char *json;           /* the item as the pass-through serialises it */
    apr_size_t len;
    const char *state;          /* State: created, running, paused, restarting, ... */
    int running;                /* what the engine calls Running: running, paused, restarting */
    apr_hash_t *labels;         /* key -> value */
    const char *const *names;   /* Names */
    int nnames;
} snap_item_t;

struct dp_dk_snap_t {
    apr_pool_t *pool;
    snap_item_t *items;
    int n;
    const char *full;           /* {"items":[...]} of every container (no filters, all) */
    apr_size_t full_len;
    volatile apr_uint32_t refs;
    /* set by the watcher before it publishes the snapshot */
    apr_time_t loaded;          /* when the load started */
    apr_uint32_t event_gen;     /* events seen when the load started */
    apr_uint32_t mut_gen;       /* mutations ended when the load started */
    int settled;                /* agrees with every pending event */
};

/* Builds a snapshot from the engine's list answer. */
apr_status_t dp_dk_snap_build(dp_dk_snap_t **psnap, const char *body, apr_size_t len)
{
    apr_pool_t *sp, *tmp;
    json_object *arr = NULL;
    dp_dk_snap_t *s;
    apr_size_t total = 0, o;
    char *full;
    int i;

    *psnap = NULL;
    if (apr_pool_create_unmanaged_ex(&sp, NULL, NULL) != APR_SUCCESS) {
        return APR_ENOMEM;
    }
    apr_pool_tag(sp, "dp_dk_snap");
    if (apr_pool_create(&tmp, sp) != APR_SUCCESS) {
        apr_pool_destroy(sp);
        return APR_ENOMEM;
    }
    if (dp_json_parse(&arr, NULL, tmp, body, len) != APR_SUCCESS || !json_object_is_type(arr, json_type_array)) {
        apr_pool_destroy(sp);
        return APR_EINVAL;
    }
    s = apr_pcalloc(sp, sizeof(*s));
    s->pool = sp;
    s->refs = 1;
    s->n = (int)json_object_array_length(arr);
    s->items = apr_pcalloc(sp, sizeof(*s->items) * (apr_size_t)(s->n ? s->n : 1));
    for (i = 0; i < s->n; ++i) {
        json_object *c = json_object_array_get_idx(arr, (apr_size_t)i), *labels, *names;
        snap_item_t *it = &s->items[i];
        const char *str, *st;
        size_t sl = 0;

        if (!json_object_is_type(c, json_type_object)) {
            apr_pool_destroy(sp);
            return APR_EINVAL;
        }
        str = json_object_to_json_string_length(c, JSON_FLAGS, &sl);
        it->json = apr_pstrmemdup(sp, str, sl);
        it->len = sl;
        total += sl + 1;
        it->id = apr_pstrdup(sp, dp_json_get_str(c, "Id") ? dp_json_get_str(c, "Id") : "");
        st = dp_json_get_str(c, "State");
        it->state = apr_pstrdup(sp, st ? st : "");
        it->running = !strcmp(it->state, "running") || !strcmp(it->state, "paused")
                      || !strcmp(it->state, "restarting");
        it->labels = apr_hash_make(sp);
        labels = dp_json_get(c, "Labels");
        if (labels && json_object_is_type(labels, json_type_object)) {
            json_object_object_foreach(labels, lk, lv) {
                if (json_object_is_type(lv, json_type_string)) {
                    apr_hash_set(it->labels, apr_pstrdup(sp, lk), APR_HASH_KEY_STRING,
                                 apr_pstrdup(sp, json_object_get_string(lv)));
                }
            }
        }
        names = dp_json_get(c, "Names");
        if (names && json_object_is_type(names, json_type_array)) {
            const char **nv;
            int k;
            it->nnames = (int)json_object_array_length(names);
            nv = apr_pcalloc(sp, sizeof(*nv) * (apr_size_t)(it->nnames + 1));
            for (k = 0; k < it->nnames; ++k) {
                const char *nm = json_object_get_string(json_object_array_get_idx(names, (apr_size_t)k));
                nv[k] = apr_pstrdup(sp, nm ? nm : "");
            }
            it->names = nv;
        }
    }
    /* the common answer, ready to send */
    full = apr_palloc(sp, total + sizeof("{\"items\":[]}"));
    memcpy(full, "{\"items\":[", 10);
    o = 10;
    for (i = 0; i < s->n; ++i) {
        if (i) full[o++] = ',';
        memcpy(full + o, s->items[i].json, s->items[i].len);
        o += s->items[i].len;
    }
    memcpy(full + o, "]}", 3);
    s->full = full;
    s->full_len = o + 2;
    apr_pool_destroy(tmp);   /* the parsed JSON */
    *psnap = s;
    return APR_SUCCESS;
}

/* Takes another reference. */
void dp_dk_snap_ref(dp_dk_snap_t *s)
{
    apr_atomic_inc32(&s->refs);
}

/* Drops a reference. */
void dp_dk_snap_release(dp_dk_snap_t *s)
{
    if (s && apr_atomic_dec32(&s->refs) == 0) {
        apr_pool_destroy(s->pool);
    }
}

/* Returns the number of containers. */
int dp_dk_snap_count(const dp_dk_snap_t *s)
{
    return s->n;
}

/* Returns when the load started. */
apr_time_t dp_dk_snap_time(const dp_dk_snap_t *s)
{
    return s->loaded;
}

/* The engine's state strings (container.IsValidStateString). */
static int valid_state(const char *v)
{
    static const char *const states[] = { "created", "restarting", "running", "removing", "paused",
                                          "exited", "dead", NULL };
    int i;

    for (i = 0; states[i]; ++i) {
        if (!strcmp(v, states[i])) return 1;
    }
    return 0;
}

/* A name pattern the engine treats as a Go regexp: only plain name characters and '.', with an
 * optional leading '^' and trailing '$', are decided here (the same in every regexp dialect). */
static int plain_pattern(const char *pat)
{
    const char *c = pat;
    apr_size_t n = strlen(pat);

    if (*c == '^') ++c, --n;
    if (n > 0 && c[n - 1] == '$') --n;
    if (n == 0) return 0;
    for (; n > 0; ++c, --n) {
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9')
              || *c == '_' || *c == '-' || *c == '.' || *c == '/')) {
            return 0;
        }
    }
    return 1;
}

/* Unanchored search of a plain_pattern in s ('.' is any character). */
static int pattern_search(const char *pat, const char *s)
{
    int head = (*pat == '^'), tail;
    apr_size_t plen, slen = strlen(s), start, k;

    if (head) ++pat;
    plen = strlen(pat);
    tail = (plen > 0 && pat[plen - 1] == '$');
    if (tail) --plen;
    for (start = 0; start + plen <= slen; ++start) {
        for (k = 0; k < plen; ++k) {
            if (pat[k] != '.' && pat[k] != s[start + k]) break;
        }
        if (k == plen && (!tail || start + plen == slen)) {
            return 1;
        }
        if (head) break;
    }
    return 0;
}

/* filters.MatchKVList("label", Labels): every label filter must hold. */
static int labels_match(const snap_item_t *it, json_object *label)
{
    apr_size_t i, n = label ? json_object_array_length(label) : 0;

    if (n == 0) return 1;
    if (apr_hash_count(it->labels) == 0) return 0;
    for (i = 0; i < n; ++i) {
        const char *f = json_object_get_string(json_object_array_get_idx(label, i));
        const char *eq = strchr(f, '=');
        const char *v;
        if (eq) {
            v = apr_hash_get(it->labels, f, (apr_ssize_t)(eq - f));
            if (v == NULL || strcmp(v, eq + 1)) return 0;
        }
        else if (apr_hash_get(it->labels, f, APR_HASH_KEY_STRING) == NULL) {
            return 0;
        }
    }
    return 1;
}

/* filters.Match("name", Name) for "/name" and "name": any pattern matches. */
static int name_match(const snap_item_t *it, json_object *name)
{
    apr_size_t i, n = name ? json_object_array_length(name) : 0;
    const char *full = it->names[0], *bare = full[0] == '/' ? full + 1 : full;

    if (n == 0) return 1;
    for (i = 0; i < n; ++i) {
        const char *pat = json_object_get_string(json_object_array_get_idx(name, i));
        if (!strcmp(pat, full) || !strcmp(pat, bare) || pattern_search(pat, full) || pattern_search(pat, bare)) {
            return 1;
        }
    }
    return 0;
}

static int status_match(const snap_item_t *it, json_object *status)
{
    apr_size_t i, n = status ? json_object_array_length(status) : 0;

    if (n == 0) return 1;
    for (i = 0; i < n; ++i) {
        if (!strcmp(json_object_get_string(json_object_array_get_idx(status, i)), it->state)) return 1;
    }
    return 0;
}

/* Renders the answer of a list request. */
apr_status_t dp_dk_snap_render(const char **pbody, apr_size_t *plen, const dp_dk_snap_t *s,
                               apr_pool_t *p, int all, json_object *filters)
{
    json_object *status = NULL, *label = NULL, *name = NULL;
    int *pick, npick = 0, i;
    apr_size_t total = 0, o;
    char *buf;

    if (filters) {
        if (!json_object_is_type(filters, json_type_object)) {
            return APR_ENOTIMPL;
        }
        json_object_object_foreach(filters, fk, fv) {
            apr_size_t k, n;
            if (!json_object_is_type(fv, json_type_array)) return APR_ENOTIMPL;
            n = json_object_array_length(fv);
            for (k = 0; k < n; ++k) {
                if (!json_object_is_type(json_object_array_get_idx(fv, k), json_type_string)) return APR_ENOTIMPL;
            }
            if (!strcmp(fk, "status")) status = fv;
            else if (!strcmp(fk, "label")) label = fv;
            else if (!strcmp(fk, "name")) name = fv;
            else return APR_ENOTIMPL;
        }
    }
    if (status && json_object_array_length(status) > 0) {
        apr_size_t k;
        for (k = 0; k < json_object_array_length(status); ++k) {
            if (!valid_state(json_object_get_string(json_object_array_get_idx(status, k)))) {
                return APR_ENOTIMPL;   /* the engine's 400 */
            }
        }
        all = 1;   /* a status filter lists stopped containers too */
    }
    if (name && json_object_array_length(name) > 0) {
        apr_size_t k;
        for (k = 0; k < json_object_array_length(name); ++k) {
            if (!plain_pattern(json_object_get_string(json_object_array_get_idx(name, k)))) {
                return APR_ENOTIMPL;
            }
        }
        for (i = 0; i < s->n; ++i) {
            if (s->items[i].nnames != 1) return APR_ENOTIMPL;   /* links: which name is primary? */
        }
    }
    else {
        name = NULL;
    }
    if (label && json_object_array_length(label) == 0) label = NULL;
    if (status && json_object_array_length(status) == 0) status = NULL;
    if (all && !status && !label && !name) {
        *pbody = s->full;
        *plen = s->full_len;
        return APR_SUCCESS;
    }
    pick = apr_palloc(p, sizeof(*pick) * (apr_size_t)(s->n ? s->n : 1));
    for (i = 0; i < s->n; ++i) {
        const snap_item_t *it = &s->items[i];
        if ((!all && !it->running) || !status_match(it, status) || !labels_match(it, label) || !name_match(it, name)) {
            continue;
        }
        pick[npick++] = i;
        total += it->len + 1;
    }
    buf = apr_palloc(p, total + sizeof("{\"items\":[]}"));
    memcpy(buf, "{\"items\":[", 10);
    o = 10;
    for (i = 0; i < npick; ++i) {
        const snap_item_t *it = &s->items[pick[i]];
        if (i) buf[o++] = ',';
        memcpy(buf + o, it->json, it->len);
        o += it->len;
    }
    memcpy(buf + o, "]}", 3);
    *pbody = buf;
    *plen = o + 2;
    return APR_SUCCESS;
}

/* ------------------------------------------------------------------------------------------ */
/* events */

/* Parses one event line. */
apr_status_t dp_dk_event_parse(dp_dk_event_t *ev, apr_pool_t *p, const char *line, apr_size_t len)
{
    json_object *o = NULL, *actor, *attrs;
    const char *action, *colon;

    memset(ev, 0, sizeof(*ev));
    if (dp_json_parse(&o, NULL, p, line, len) != APR_SUCCESS || !json_object_is_type(o, json_type_object)) {
        return APR_EINVAL;
    }
    ev->type = dp_json_get_str(o, "Type");
    action = dp_json_get_str(o, "Action");
    if (ev->type == NULL || action == NULL) {
        return APR_EINVAL;
    }
    colon = strchr(action, ':');   /* "exec_start: sh -c ...", "health_status: healthy" */
    ev->action = colon ? apr_pstrmemdup(p, action, (apr_size_t)(colon - action)) : action;
    actor = dp_json_get(o, "Actor");
    attrs = dp_json_get(actor, "Attributes");
    ev->id = dp_json_get_str(actor, "ID");
    if (!strcmp(ev->type, "network")) {
        ev->id = dp_json_get_str(attrs, "container");
    }
    else if (!strcmp(ev->type, "container")) {
        ev->name = dp_json_get_str(attrs, "name");
    }
    return APR_SUCCESS;
}

static int in_list(const char *v, const char *const *list)
{
    for (; *list; ++list) {
        if (!strcmp(v, *list)) return 1;
    }
    return 0;
}

/* Returns what the event means for the list. */
dp_dk_ev_kind_t dp_dk_event_kind(const dp_dk_event_t *ev)
{
    static const char *const c_check[] = { "create", "start", "restart", "die", "stop", "pause", "unpause",
                                           "destroy", "rename", NULL };
    static const char *const c_ignore[] = { "attach", "detach", "resize", "top", "archive-path",
                                            "extract-to-dir", "copy", "export", "commit", NULL };
    static const char *const n_reload[] = { "connect", "disconnect", NULL };
    static const char *const i_ignore[] = { "push", "save", NULL };

    if (!strcmp(ev->type, "container")) {
        if (ev->id == NULL) return DP_DK_EV_RELOAD;
        if (!strncmp(ev->action, "exec_", 5) || in_list(ev->action, c_ignore)) return DP_DK_EV_IGNORE;
        return in_list(ev->action, c_check) ? DP_DK_EV_CHECK : DP_DK_EV_RELOAD;
    }
    if (!strcmp(ev->type, "network")) {
        return in_list(ev->action, n_reload) ? DP_DK_EV_RELOAD : DP_DK_EV_IGNORE;
    }
    if (!strcmp(ev->type, "image")) {
        return in_list(ev->action, i_ignore) ? DP_DK_EV_IGNORE : DP_DK_EV_RELOAD;   /* the Image column */
    }
    return DP_DK_EV_IGNORE;
}

static const snap_item_t *find_item(const dp_dk_snap_t *s, const char *id)
{
    int i;

    for (i = 0; i < s->n; ++i) {
        if (!strcmp(s->items[i].id, id)) return &s->items[i];
    }
    return NULL;
}

/* Returns 1 when the snapshot agrees with the container event. */
int dp_dk_snap_agrees(const dp_dk_snap_t *s, const char *action, const char *id, const char *name)
{
    const snap_item_t *it = find_item(s, id);

    if (!strcmp(action, "destroy")) {
        return it == NULL;
    }
    if (!strcmp(action, "create")) {
        return it != NULL;
    }
    if (it == NULL) {
        return 1;   /* gone already: the destroy event says the rest */
    }
    if (!strcmp(action, "rename")) {
        int k;
        if (name == NULL) return 1;
        for (k = 0; k < it->nnames; ++k) {
            const char *nm = it->names[k];
            if (!strcmp(nm[0] == '/' ? nm + 1 : nm, name)) return 1;
        }
        return 0;
    }
    if (!strcmp(action, "start") || !strcmp(action, "restart")) {
        return strcmp(it->state, "created") != 0;
    }
    if (!strcmp(action, "die") || !strcmp(action, "stop")) {
        return strcmp(it->state, "running") != 0 && strcmp(it->state, "paused") != 0;
    }
    if (!strcmp(action, "pause")) {
        return !strcmp(it->state, "paused");
    }
    if (!strcmp(action, "unpause")) {
        return strcmp(it->state, "paused") != 0;
    }
    return 1;
}

/* ------------------------------------------------------------------------------------------ */
/* the watcher */

typedef struct {
    apr_uint32_t seq;
    int kind;                   /* DP_DK_EV_CHECK or DP_DK_EV_RELOAD */
    int container;              /* a container event (else network/image) */
    char action[16];
    char id[72];
    char name[136];
    apr_time_t t;               /* when it arrived */
} expect_t;

struct dp_dk_watch_t {
    apr_pool_t *pool;
    dp_docker_t *docker;
    apr_thread_mutex_t *lock;
    apr_thread_cond_t *cond;
    apr_thread_t *reader, *reloader;
    int started;
    volatile apr_uint32_t stop;
    volatile apr_uint32_t event_gen;    /* relevant events seen */
    volatile apr_uint32_t mut_gen;      /* mutations ended */
    volatile apr_uint32_t inflight;     /* mutations running */
    volatile apr_uint32_t used;         /* the snapshot was asked for since the last load */
    volatile apr_uint32_t n_events, n_reloads, n_reconnects, n_hits, n_misses;
    /* under lock */
    dp_dk_snap_t *cur;
    int synced;                 /* a full load while the stream is up, no stream error since */
    int stream_up;
    apr_uint32_t epoch;         /* bumped at every stream start and end */
    int dirty;                  /* load now */
    apr_time_t retry_at;        /* load again at (0: no retry pending) */
    apr_time_t retry_delay;
    apr_time_t hold_until;      /* loads that start earlier do not settle (expectations dropped) */
    expect_t exp[MAX_EXPECT];
    int nexp;
    apr_uint32_t seq;
    /* reloader only */
    expect_t work[MAX_EXPECT];
};

static int stopping(dp_dk_watch_t *w)
{
    return apr_atomic_read32(&w->stop) != 0;
}

/* Waits on the condition for at most t (under the lock). */
static void wait_for(dp_dk_watch_t *w, apr_interval_time_t t)
{
    if (t < apr_time_from_msec(1)) t = apr_time_from_msec(1);
    apr_thread_cond_timedwait(w->cond, w->lock, t);
}

/* Records an event's expectation (under the lock): a newer event of the same kind of thing for
 * the same container replaces the older one. */
static void expect_add(dp_dk_watch_t *w, const dp_dk_event_t *ev, int kind)
{
    int container = !strcmp(ev->type, "container"), i, j;
    const char *id = ev->id ? ev->id : "";
    expect_t *e;

    for (i = 0, j = 0; i < w->nexp; ++i) {
        if (w->exp[i].container == container && !strcmp(w->exp[i].id, id)) continue;
        if (i != j) w->exp[j] = w->exp[i];
        ++j;
    }
    w->nexp = j;
    if (w->nexp == MAX_EXPECT) {
        /* too many at once: forget the oldest, and settle nothing loaded in the next moment */
        memmove(&w->exp[0], &w->exp[1], sizeof(w->exp[0]) * (MAX_EXPECT - 1));
        --w->nexp;
        w->hold_until = apr_time_now() + DP_DK_WATCH_SETTLE_MIN * 2;
    }
    e = &w->exp[w->nexp++];
    memset(e, 0, sizeof(*e));
    e->seq = ++w->seq;
    e->kind = kind;
    e->container = container;
    apr_cpystrn(e->action, ev->action, sizeof(e->action));
    apr_cpystrn(e->id, id, sizeof(e->id));
    if (ev->name) apr_cpystrn(e->name, ev->name, sizeof(e->name));
    e->t = apr_time_now();
}

typedef struct {
    dp_dk_watch_t *w;
    apr_pool_t *lp;             /* per line */
} reader_t;

/* An event line: every relevant one makes the snapshot unusable until its reload. */
static apr_status_t on_event(void *baton, const char *line, apr_size_t len)
{
    reader_t *rd = baton;
    dp_dk_watch_t *w = rd->w;
    dp_dk_event_t ev;
    dp_dk_ev_kind_t kind;

    if (stopping(w)) {
        return APR_ECONNABORTED;
    }
    if (len == 0) {
        return APR_SUCCESS;
    }
    apr_pool_clear(rd->lp);
    if (dp_dk_event_parse(&ev, rd->lp, line, len) != APR_SUCCESS
        || (kind = dp_dk_event_kind(&ev)) == DP_DK_EV_IGNORE) {
        return APR_SUCCESS;
    }
    apr_thread_mutex_lock(w->lock);
    apr_atomic_inc32(&w->event_gen);
    expect_add(w, &ev, kind);
    w->dirty = 1;
    apr_thread_cond_broadcast(w->cond);
    apr_thread_mutex_unlock(w->lock);
    apr_atomic_inc32(&w->n_events);
    return APR_SUCCESS;
}

static apr_status_t reader_tick(void *baton)
{
    return stopping(baton) ? APR_ECONNABORTED : APR_SUCCESS;
}

/* The stream reader: subscribes (since a moment back, so nothing is missed between the
 * subscription and the load), asks for a load, reads events until the stream breaks, then
 * marks the snapshot unusable and reconnects with backoff. */
static void *APR_THREAD_FUNC reader_main(apr_thread_t *th, void *data)
{
    dp_dk_watch_t *w = data;
    apr_pool_t *sp;
    apr_interval_time_t backoff = BACKOFF_MIN;
    int logged_down = 0;

    if (apr_pool_create_unmanaged_ex(&sp, NULL, NULL) != APR_SUCCESS) {
        apr_thread_exit(th, APR_ENOMEM);
        return NULL;
    }
    apr_pool_tag(sp, "dp_dk_watch_reader");
    while (!stopping(w)) {
        dp_http_req_t req;
        dp_http_resp_t *resp = NULL;
        dp_problem_t *prob = NULL;
        reader_t rd;
        apr_time_t start = apr_time_now(), since = start - apr_time_from_sec(2), end;
        apr_status_t rv;

        apr_pool_clear(sp);
        rd.w = w;
        apr_pool_create(&rd.lp, sp);
        memset(&req, 0, sizeof(req));
        req.method = "GET";
        req.url = apr_psprintf(sp, "/events?since=%" APR_TIME_T_FMT ".%06d000&filters=%s",
                               apr_time_sec(since), (int)apr_time_usec(since),
                               dp_url_encode(sp, EVENT_TYPES));
        req.write_cb = dp_dk_lines_feed;
        req.write_baton = dp_dk_lines_create(sp, EVENT_MAX_LINE, on_event, &rd);
        req.tick_cb = reader_tick;
        req.tick_baton = w;
        req.timeout_ms = -1;

        apr_thread_mutex_lock(w->lock);
        ++w->epoch;
        w->stream_up = 1;
        w->dirty = 1;
        apr_thread_cond_broadcast(w->cond);
        apr_thread_mutex_unlock(w->lock);
        apr_atomic_inc32(&w->n_reconnects);

        rv = dp_docker_send(&resp, &prob, w->docker, sp, &req);

        apr_thread_mutex_lock(w->lock);
        ++w->epoch;
        w->stream_up = 0;
        w->synced = 0;
        apr_thread_mutex_unlock(w->lock);
        if (stopping(w)) {
            break;
        }
        end = apr_time_now();
        if (end - start > apr_time_from_sec(5)) {
            backoff = BACKOFF_MIN;   /* it ran a while: reconnect at once */
        }
        else {
            backoff = backoff * 2 > BACKOFF_MAX ? BACKOFF_MAX : backoff * 2;
        }
        if (end - start > apr_time_from_sec(5) || !logged_down) {
            dp_log_p(sp, DP_LOG_INFO, rv, "container list: the engine's event stream ended (%s); lists ask "
                     "Docker until it is back", prob && prob->detail ? prob->detail : "closed");
        }
        logged_down = 1;   /* one line per outage, not one per attempt */
        (void)resp;
        apr_thread_mutex_lock(w->lock);
        end = apr_time_now() + backoff;
        while (!stopping(w) && apr_time_now() < end) {
            wait_for(w, end - apr_time_now());
        }
        apr_thread_mutex_unlock(w->lock);
    }
    apr_pool_destroy(sp);
    apr_thread_exit(th, APR_SUCCESS);
    return NULL;
}

/* Loads the list into a new snapshot; NULL when the engine did not give one. */
static dp_dk_snap_t *load(dp_dk_watch_t *w, apr_pool_t *rp)
{
    dp_http_req_t req;
    dp_http_resp_t *resp = NULL;
    dp_problem_t *prob = NULL;
    dp_dk_snap_t *s = NULL;

    memset(&req, 0, sizeof(req));
    req.method = "GET";
    req.url = "/containers/json?all=1";
    req.timeout_ms = RELOAD_TIMEOUT_MS;
    if (dp_docker_send(&resp, &prob, w->docker, rp, &req) != APR_SUCCESS || resp->status != 200
        || dp_dk_snap_build(&s, resp->body, resp->len) != APR_SUCCESS) {
        return NULL;
    }
    return s;
}

/* Returns 1 when a load is due now (under the lock); else sets *pwait. */
static int load_due(dp_dk_watch_t *w, apr_interval_time_t *pwait)
{
    apr_time_t now = apr_time_now();

    *pwait = IDLE_WAKE;
    if (!w->stream_up) {
        return 0;
    }
    if (w->dirty) {
        return 1;
    }
    if (w->retry_at) {
        if (now >= w->retry_at) return 1;
        *pwait = w->retry_at - now;
        return 0;
    }
    if (w->cur && apr_atomic_read32(&w->used) && now - w->cur->loaded >= DP_DK_WATCH_REFRESH) {
        return 1;   /* keep the Status text young while the snapshot is in use */
    }
    return 0;
}

/* The reloader: loads the list whenever an event, a mutation or the stream asks for it, checks
 * the load against the pending events, and publishes it. */
static void *APR_THREAD_FUNC reloader_main(apr_thread_t *th, void *data)
{
    dp_dk_watch_t *w = data;
    apr_pool_t *rp;

    if (apr_pool_create_unmanaged_ex(&rp, NULL, NULL) != APR_SUCCESS) {
        apr_thread_exit(th, APR_ENOMEM);
        return NULL;
    }
    apr_pool_tag(rp, "dp_dk_watch_reloader");
    apr_allocator_max_free_set(apr_pool_allocator_get(rp), 1024 * 1024);
    apr_thread_mutex_lock(w->lock);
    while (!stopping(w)) {
        apr_interval_time_t wait;
        apr_uint32_t eg, mg, ep;
        apr_time_t started, hold;
        dp_dk_snap_t *s, *old = NULL;
        int n, i, settled;
        apr_uint32_t met[MAX_EXPECT];
        int nmet = 0;

        if (!load_due(w, &wait)) {
            wait_for(w, wait);
            continue;
        }
        w->dirty = 0;
        w->retry_at = 0;
        apr_atomic_set32(&w->used, 0);
        eg = apr_atomic_read32(&w->event_gen);
        mg = apr_atomic_read32(&w->mut_gen);
        ep = w->epoch;
        hold = w->hold_until;
        n = w->nexp;
        memcpy(w->work, w->exp, sizeof(w->exp[0]) * (apr_size_t)n);
        apr_thread_mutex_unlock(w->lock);

        started = apr_time_now();
        apr_pool_clear(rp);
        s = load(w, rp);
        settled = (s != NULL && started >= hold);
        for (i = 0; s && i < n; ++i) {
            const expect_t *e = &w->work[i];
            apr_interval_time_t age = started - e->t;
            int ok = (e->kind == DP_DK_EV_CHECK)
                     ? (age >= DP_DK_WATCH_SETTLE_MAX || dp_dk_snap_agrees(s, e->action, e->id, e->name))
                     : (age >= DP_DK_WATCH_SETTLE_MIN);
            if (ok) met[nmet++] = e->seq;
            else settled = 0;
        }
        if (s) {
            s->loaded = started;
            s->event_gen = eg;
            s->mut_gen = mg;
            s->settled = settled;
        }

        apr_thread_mutex_lock(w->lock);
        if (s) {
            int j, k;
            for (i = 0, j = 0; i < w->nexp; ++i) {
                for (k = 0; k < nmet && met[k] != w->exp[i].seq; ++k) ;
                if (k < nmet) continue;
                if (i != j) w->exp[j] = w->exp[i];
                ++j;
            }
            w->nexp = j;
            old = w->cur;
            w->cur = s;
            if (ep == w->epoch && w->stream_up) {
                w->synced = 1;
            }
            apr_atomic_inc32(&w->n_reloads);
            if (w->nexp > 0 || started < hold) {
                /* the engine's list lags its events a moment: look again soon */
                w->retry_delay = w->retry_delay ? w->retry_delay * 2 : apr_time_from_msec(2);
                if (w->retry_delay > apr_time_from_msec(64)) w->retry_delay = apr_time_from_msec(64);
                w->retry_at = apr_time_now() + w->retry_delay;
            }
            else {
                w->retry_delay = 0;
            }
        }
        else {
            w->synced = 0;   /* the engine did not answer: ask it directly until a load works */
            w->retry_at = apr_time_now() + apr_time_from_msec(100);
        }
        if (old) {
            apr_thread_mutex_unlock(w->lock);
            dp_dk_snap_release(old);
            apr_thread_mutex_lock(w->lock);
        }
    }
    apr_thread_mutex_unlock(w->lock);
    apr_pool_destroy(rp);
    apr_thread_exit(th, APR_SUCCESS);
    return NULL;
}

static apr_status_t watch_cleanup(void *data)
{
    dp_dk_watch_stop(data);
    return APR_SUCCESS;
}

/* Creates a watcher. */
apr_status_t dp_dk_watch_create(dp_dk_watch_t **pw, apr_pool_t *p, dp_docker_t *d)
{
    dp_dk_watch_t *w = apr_pcalloc(p, sizeof(*w));
    apr_status_t rv;

    w->pool = p;
    w->docker = d;
    if ((rv = apr_thread_mutex_create(&w->lock, APR_THREAD_MUTEX_DEFAULT, p)) != APR_SUCCESS
        || (rv = apr_thread_cond_create(&w->cond, p)) != APR_SUCCESS) {
        return rv;
    }
    *pw = w;
    return APR_SUCCESS;
}

/* Starts the threads. */
apr_status_t dp_dk_watch_start(dp_dk_watch_t *w)
{
    apr_status_t rv, st;

    if (w->started) {
        return APR_SUCCESS;
    }
    if ((rv = apr_thread_create(&w->reloader, NULL, reloader_main, w, w->pool)) != APR_SUCCESS) {
        return rv;
    }
    if ((rv = apr_thread_create(&w->reader, NULL, reader_main, w, w->pool)) != APR_SUCCESS) {
        apr_atomic_set32(&w->stop, 1);
        apr_thread_mutex_lock(w->lock);
        apr_thread_cond_broadcast(w->cond);
        apr_thread_mutex_unlock(w->lock);
        apr_thread_join(&st, w->reloader);
        return rv;
    }
    w->started = 1;
    /* a pre-cleanup: the threads' pools are children of p, destroyed before plain cleanups */
    apr_pool_pre_cleanup_register(w->pool, w, watch_cleanup);
    return APR_SUCCESS;
}

/* Stops and joins the threads. */
void dp_dk_watch_stop(dp_dk_watch_t *w)
{
    apr_status_t st;
    dp_dk_snap_t *s;

    if (!w->started) {
        return;
    }
    w->started = 0;
    apr_atomic_set32(&w->stop, 1);
    apr_thread_mutex_lock(w->lock);
    w->synced = 0;
    apr_thread_cond_broadcast(w->cond);
    apr_thread_mutex_unlock(w->lock);
    apr_thread_join(&st, w->reloader);
    apr_thread_join(&st, w->reader);   /* within about a second (the transfer's tick) */
    apr_thread_mutex_lock(w->lock);
    s = w->cur;
    w->cur = NULL;
    apr_thread_mutex_unlock(w->lock);
    dp_dk_snap_release(s);
}

/* Returns a reference to the current snapshot when it may be served now. */
dp_dk_snap_t *dp_dk_watch_acquire(dp_dk_watch_t *w)
{
    dp_dk_snap_t *s = NULL;

    if (w->started && apr_atomic_read32(&w->inflight) == 0) {
        apr_thread_mutex_lock(w->lock);
        s = w->cur;
        if (s && w->synced && s->settled && s->event_gen == apr_atomic_read32(&w->event_gen)
            && s->mut_gen == apr_atomic_read32(&w->mut_gen)
            && apr_time_now() - s->loaded <= DP_DK_WATCH_MAX_AGE) {
            dp_dk_snap_ref(s);
        }
        else {
            s = NULL;
        }
        apr_thread_mutex_unlock(w->lock);
        if (!apr_atomic_read32(&w->used)) {
            apr_atomic_set32(&w->used, 1);
        }
    }
    apr_atomic_inc32(s ? &w->n_hits : &w->n_misses);
    return s;
}

/* Marks the start of a call that may change containers. */
void dp_dk_watch_mutation_begin(dp_dk_watch_t *w)
{
    apr_atomic_inc32(&w->inflight);
}

/* Marks its end: the snapshot waits for a load that starts after it. */
void dp_dk_watch_mutation_end(dp_dk_watch_t *w)
{
    apr_atomic_inc32(&w->mut_gen);
    apr_atomic_dec32(&w->inflight);
    apr_thread_mutex_lock(w->lock);
    w->dirty = 1;
    apr_thread_cond_broadcast(w->cond);
    apr_thread_mutex_unlock(w->lock);
}

/* Fills *st with the counters. */
void dp_dk_watch_stats(dp_dk_watch_stats_t *st, dp_dk_watch_t *w)
{
    st->events = apr_atomic_read32(&w->n_events);
    st->reloads = apr_atomic_read32(&w->n_reloads);
    st->reconnects = apr_atomic_read32(&w->n_reconnects);
    st->hits = apr_atomic_read32(&w->n_hits);
    st->misses = apr_atomic_read32(&w->n_misses);
    apr_thread_mutex_lock(w->lock);
    st->synced = w->synced;
    apr_thread_mutex_unlock(w->lock);
}
