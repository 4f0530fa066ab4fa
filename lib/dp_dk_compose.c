/* dp_dk_compose: Compose projects from labels, the name and compose-file checks, and running
 * the Compose command with a time limit. */
#define _POSIX_C_SOURCE 200809L
#include <string.h>
#include <stdlib.h>
#include <signal.h>
#include <unistd.h>
#include <apr_strings.h>
#include <apr_lib.h>
#include <apr_hash.h>
#include <apr_file_io.h>
#include <apr_file_info.h>
#include <apr_thread_proc.h>
#include <apr_time.h>

#include "dp_dk_compose.h"
#include "dp_json.h"

#define LABEL_SERVICE    "com.docker.compose.service"
#define LABEL_NUMBER     "com.docker.compose.container-number"
#define LABEL_ONEOFF     "com.docker.compose.oneoff"
#define LABEL_WORKDIR    "com.docker.compose.project.working_dir"
#define LABEL_FILES      "com.docker.compose.project.config_files"
#define SETSID_PATH      "/usr/bin/setsid"
#define DEFAULT_PATH     "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* True when name matches ^[a-z0-9][a-z0-9_-]{0,62}$. */
int dp_dk_compose_name_ok(const char *name)
{
    apr_size_t i;

    if (name == NULL || !(apr_islower((unsigned char)name[0]) || apr_isdigit((unsigned char)name[0]))) {
        return 0;
    }
    for (i = 0; name[i]; ++i) {
        unsigned char c = (unsigned char)name[i];
        if (i >= 63 || !(apr_islower(c) || apr_isdigit(c) || c == '_' || c == '-')) {
            return 0;
        }
    }
    return 1;
}

/* ------------------------------------------------------------------------------------------ */
/* compose file policy (a line scan) */

/* Returns s without surrounding spaces and one pair of matching quotes, in p. */
static char *unquote(apr_pool_t *p, const char *s, apr_size_t n)
{
    while (n > 0 && (*s == ' ' || *s == '\t')) { ++s; --n; }
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t')) --n;
    if (n >= 2 && (s[0] == '"' || s[0] == '\'') && s[n - 1] == s[0]) {
        ++s;
        n -= 2;
    }
    return apr_pstrmemdup(p, s, n);
}

/* True for a host path as a bind source or file: "/x", "./x", "../x", "~/x", "${X}", "a/../b". */
static int hostpath(const char *v)
{
    return v[0] == '/' || v[0] == '.' || v[0] == '~' || v[0] == '$' || strstr(v, "..") != NULL;
}

/* Finds key as a mapping key in line ("key:", "\"key\":", "{key: ", "- key:"); returns the
 * value after the colon (cut at ',', '}' or ']' inside a flow mapping) in p, or NULL. */
static const char *find_key(apr_pool_t *p, const char *line, const char *key)
{
    apr_size_t klen = strlen(key);
    const char *s = line;
    int flow = strchr(line, '{') != NULL;

    while ((s = strstr(s, key)) != NULL) {
        const char *after = s + klen;
        int boundary = (s == line) || strchr(" \t{,\"'-[", s[-1]) != NULL;

        if (boundary && (*after == '"' || *after == '\'')) {
            ++after;
        }
        while (*after == ' ' || *after == '\t') ++after;
        if (boundary && *after == ':' && (after[1] == '\0' || after[1] == ' ' || after[1] == '\t'
                                           || after[1] == '}' || after[1] == ',')) {
            const char *v = after + 1;
            apr_size_t n = flow ? strcspn(v, ",}]") : strlen(v);
            return unquote(p, v, n);
        }
        s += klen;
    }
    return NULL;
}

/* Strips a comment ('#' at the start or after a space, outside quotes) in place. */
static void strip_comment(char *line)
{
    char quote = 0;
    char *s;

    for (s = line; *s; ++s) {
        if (quote) {
            if (*s == quote) quote = 0;
        }
        else if (*s == '"' || *s == '\'') {
            quote = *s;
        }
        else if (*s == '#' && (s == line || s[-1] == ' ' || s[-1] == '\t')) {
            *s = '\0';
            return;
        }
    }
}

static apr_status_t refuse(dp_problem_t **pprob, apr_pool_t *p, int lineno, const char *what)
{
    return dp_problem_fail(pprob, p, 403, "policy_denied",
                           "the compose file is refused: %s (line %d)", what, lineno);
}

/* Checks one item of a volumes list ("src:dst[:mode]" or "dst"). */
static int volume_item_bad(apr_pool_t *p, const char *item)
{
    const char *v = unquote(p, item, strlen(item));
    const char *colon = strchr(v, ':');

    if (*v == '\0' || *v == '{') {
        return 0;  /* long syntax in a flow mapping: its source:/type: keys are checked */
    }
    return colon != NULL && hostpath(apr_pstrmemdup(p, v, (apr_size_t)(colon - v)));
}

/* Scans compose YAML text for refused settings. */
apr_status_t dp_dk_compose_policy(dp_problem_t **pprob, apr_pool_t *p, const char *yaml, apr_size_t len)
{
    static const char *const always[] = {
        "cap_add", "devices", "security_opt", "sysctls", "device_cgroup_rules", "cgroup_parent", NULL
    };
    static const char *const host_modes[] = { "network_mode", "pid", "ipc", "uts", "userns_mode", NULL };
    static const char *const files[] = { "file", "env_file", "context", "build", "extends", NULL };
    apr_pool_t *sp;
    const char *s = yaml, *end = yaml + len;
    int lineno = 0, list_indent = -1, list_kind = 0;  /* 1: volumes, 2: env_file */
    apr_status_t rv = APR_SUCCESS;

    apr_pool_create(&sp, p);
    while (s < end && rv == APR_SUCCESS) {
        const char *nl = memchr(s, '\n', (apr_size_t)(end - s));
        apr_size_t n = nl ? (apr_size_t)(nl - s) : (apr_size_t)(end - s);
        char *line = apr_pstrmemdup(sp, s, n), *body;
        const char *v;
        int indent = 0, i, item;

        ++lineno;
        s += n + 1;
        if (n > 0 && line[n - 1] == '\r') line[n - 1] = '\0';
        if (strstr(line, "\\x") || strstr(line, "\\u") || strstr(line, "\\U")) {
            rv = refuse(pprob, p, lineno, "escape sequences (\\x, \\u) are not accepted");
            break;
        }
        strip_comment(line);
        while (line[indent] == ' ' || line[indent] == '\t') ++indent;
        body = line + indent;
        if (*body == '\0') {
            continue;
        }
        if (body[0] == '?' && (body[1] == ' ' || body[1] == '\0')) {
            rv = refuse(pprob, p, lineno, "explicit '?' keys are not accepted");
            break;
        }
        item = body[0] == '-' && (body[1] == ' ' || body[1] == '\0');

        /* a block list under volumes:/env_file: ends at a line that is not deeper (or an item) */
        if (list_indent >= 0 && (indent < list_indent || (indent == list_indent && !item))) {
            list_indent = -1;
        }
        if (list_indent >= 0 && item && body[1] != '\0') {
            const char *it = body + 2;
            if (list_kind == 1 && find_key(sp, it, "source") == NULL && find_key(sp, it, "type") == NULL
                && volume_item_bad(sp, it)) {
                rv = refuse(pprob, p, lineno, "a volume with a host path as its source");
                break;
            }
            if (list_kind == 2 && hostpath(unquote(sp, it, strlen(it)))) {
                rv = refuse(pprob, p, lineno, "an env_file outside the project folder");
                break;
            }
        }

        for (i = 0; always[i]; ++i) {
            if (find_key(sp, body, always[i])) {
                rv = refuse(pprob, p, lineno, apr_pstrcat(sp, "'", always[i], "'", NULL));
                break;
            }
        }
        if (rv != APR_SUCCESS) break;
        if ((v = find_key(sp, body, "privileged")) != NULL
            && strcasecmp(v, "false") && strcasecmp(v, "no") && strcasecmp(v, "off")) {
            rv = refuse(pprob, p, lineno, "'privileged'");
            break;
        }
        for (i = 0; host_modes[i]; ++i) {
            if ((v = find_key(sp, body, host_modes[i])) != NULL && !strcasecmp(v, "host")) {
                rv = refuse(pprob, p, lineno, apr_pstrcat(sp, "'", host_modes[i], ": host'", NULL));
                break;
            }
        }
        if (rv != APR_SUCCESS) break;
        if (((v = find_key(sp, body, "source")) != NULL && hostpath(v))
            || ((v = find_key(sp, body, "device")) != NULL && hostpath(v))
            || ((v = find_key(sp, body, "type")) != NULL && !strcasecmp(v, "bind"))
            || ((v = find_key(sp, body, "o")) != NULL && strstr(v, "bind"))) {
            rv = refuse(pprob, p, lineno, "a bind mount of a host path");
            break;
        }
        for (i = 0; files[i]; ++i) {
            if ((v = find_key(sp, body, files[i])) != NULL && *v && *v != '[' && hostpath(v)
                && !(strcmp(files[i], "build") == 0 && strcmp(v, ".") == 0)
                && !(strcmp(files[i], "context") == 0 && strcmp(v, ".") == 0)) {
                rv = refuse(pprob, p, lineno, apr_pstrcat(sp, "'", files[i], "' outside the project folder", NULL));
                break;
            }
        }
        if (rv != APR_SUCCESS) break;

        /* volumes: / env_file: as a flow list on this line, or a block list below it */
        for (i = 1; i <= 2; ++i) {
            if ((v = find_key(sp, body, i == 1 ? "volumes" : "env_file")) == NULL) {
                continue;
            }
            if (*v == '\0') {
                list_indent = indent;
                list_kind = i;
            }
            else if (*v == '[') {
                const char *lb = strchr(body, '[');
                char *items = apr_pstrdup(sp, lb + 1), *last = NULL, *tok;
                char *rb = strchr(items, ']');
                if (rb) *rb = '\0';
                for (tok = apr_strtok(items, ",", &last); tok; tok = apr_strtok(NULL, ",", &last)) {
                    if (i == 1 ? volume_item_bad(sp, tok) : hostpath(unquote(sp, tok, strlen(tok)))) {
                        rv = refuse(pprob, p, lineno, i == 1 ? "a volume with a host path as its source"
                                                              : "an env_file outside the project folder");
                        break;
                    }
                }
            }
        }
    }
    apr_pool_destroy(sp);
    return rv;
}

/* ------------------------------------------------------------------------------------------ */
/* projects from labels */

static const char *label_of(json_object *c, const char *key)
{
    return dp_json_get_str(dp_json_get(c, "Labels"), key);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Returns the alphabetically ordered status summary of containers. */
const char *dp_dk_compose_status(apr_pool_t *p, json_object *containers)
{
    apr_hash_t *counts = apr_hash_make(p);
    apr_array_header_t *keys = apr_array_make(p, 4, sizeof(const char *));
    const char *out = "";
    size_t i, n = containers ? json_object_array_length(containers) : 0;
    int k;

    for (i = 0; i < n; ++i) {
        const char *st = dp_json_get_str(json_object_array_get_idx(containers, i), "State");
        int *cnt;
        if (st == NULL || *st == '\0') st = "unknown";
        if ((cnt = apr_hash_get(counts, st, APR_HASH_KEY_STRING)) == NULL) {
            cnt = apr_pcalloc(p, sizeof(*cnt));
            apr_hash_set(counts, st, APR_HASH_KEY_STRING, cnt);
            APR_ARRAY_PUSH(keys, const char *) = st;
        }
        ++*cnt;
    }
    qsort(keys->elts, (size_t)keys->nelts, sizeof(const char *), cmp_str);
    for (k = 0; k < keys->nelts; ++k) {
        const char *st = APR_ARRAY_IDX(keys, k, const char *);
        out = apr_psprintf(p, "%s%s%s(%d)", out, k ? ", " : "", st,
                           *(int *)apr_hash_get(counts, st, APR_HASH_KEY_STRING));
    }
    return out;
}

typedef struct {
    const char *name;
    json_object *members;       /* borrowed container objects (array owned by the pool) */
    apr_array_header_t *services;
    apr_hash_t *seen;
    const char *working_dir, *config_files;
} project_t;

/* Groups Docker list objects by their project label. */
json_object *dp_dk_compose_group(apr_pool_t *p, json_object *containers)
{
    apr_hash_t *projects = apr_hash_make(p);
    apr_array_header_t *names = apr_array_make(p, 8, sizeof(const char *));
    json_object *out = dp_json_array(p);
    size_t i, n = containers ? json_object_array_length(containers) : 0;
    int k;

    for (i = 0; i < n; ++i) {
        json_object *c = json_object_array_get_idx(containers, i);
        const char *name = label_of(c, DP_DK_COMPOSE_LABEL_PROJECT);
        const char *oneoff = label_of(c, LABEL_ONEOFF);
        const char *svc = label_of(c, LABEL_SERVICE);
        project_t *pr;

        if (name == NULL || *name == '\0' || (oneoff && !strcasecmp(oneoff, "true"))) {
            continue;
        }
        if ((pr = apr_hash_get(projects, name, APR_HASH_KEY_STRING)) == NULL) {
            pr = apr_pcalloc(p, sizeof(*pr));
            pr->name = name;
            pr->members = dp_json_array(p);
            pr->services = apr_array_make(p, 4, sizeof(const char *));
            pr->seen = apr_hash_make(p);
            apr_hash_set(projects, name, APR_HASH_KEY_STRING, pr);
            APR_ARRAY_PUSH(names, const char *) = name;
        }
        json_object_array_add(pr->members, json_object_get(c));
        if (svc && !apr_hash_get(pr->seen, svc, APR_HASH_KEY_STRING)) {
            apr_hash_set(pr->seen, svc, APR_HASH_KEY_STRING, svc);
            APR_ARRAY_PUSH(pr->services, const char *) = svc;
        }
        if (pr->working_dir == NULL) pr->working_dir = label_of(c, LABEL_WORKDIR);
        if (pr->config_files == NULL) pr->config_files = label_of(c, LABEL_FILES);
    }
    qsort(names->elts, (size_t)names->nelts, sizeof(const char *), cmp_str);
    for (k = 0; k < names->nelts; ++k) {
        project_t *pr = apr_hash_get(projects, APR_ARRAY_IDX(names, k, const char *), APR_HASH_KEY_STRING);
        json_object *o = json_object_new_object(), *svcs = json_object_new_array();
        json_object *files = json_object_new_array();
        int j;

        qsort(pr->services->elts, (size_t)pr->services->nelts, sizeof(const char *), cmp_str);
        for (j = 0; j < pr->services->nelts; ++j) {
            json_object_array_add(svcs, json_object_new_string(APR_ARRAY_IDX(pr->services, j, const char *)));
        }
        if (pr->config_files) {
            char *list = apr_pstrdup(p, pr->config_files), *last = NULL, *f;
            for (f = apr_strtok(list, ",", &last); f; f = apr_strtok(NULL, ",", &last)) {
                json_object_array_add(files, json_object_new_string(f));
            }
        }
        json_object_object_add(o, "name", json_object_new_string(pr->name));
        json_object_object_add(o, "status", json_object_new_string(dp_dk_compose_status(p, pr->members)));
        json_object_object_add(o, "services", svcs);
        json_object_object_add(o, "container_count", json_object_new_int((int)json_object_array_length(pr->members)));
        json_object_object_add(o, "working_dir", pr->working_dir ? json_object_new_string(pr->working_dir) : NULL);
        json_object_object_add(o, "config_files", files);
        json_object_array_add(out, o);
    }
    return out;
}

typedef struct {
    json_object *c;
    const char *service;
    long number;
} order_t;

static int cmp_order(const void *a, const void *b)
{
    const order_t *x = a, *y = b;
    int r = strcmp(x->service, y->service);

    if (r) return r;
    return x->number < y->number ? -1 : x->number > y->number;
}

/* Orders the containers by service then container number. */
json_object *dp_dk_compose_order(apr_pool_t *p, json_object *containers, int reverse)
{
    size_t i, n = containers ? json_object_array_length(containers) : 0;
    order_t *v = apr_pcalloc(p, (n ? n : 1) * sizeof(*v));
    json_object *out = dp_json_array(p);

    for (i = 0; i < n; ++i) {
        const char *num;
        v[i].c = json_object_array_get_idx(containers, i);
        v[i].service = label_of(v[i].c, LABEL_SERVICE);
        if (v[i].service == NULL) v[i].service = "";
        num = label_of(v[i].c, LABEL_NUMBER);
        v[i].number = num ? strtol(num, NULL, 10) : 0;
    }
    qsort(v, n, sizeof(*v), cmp_order);
    for (i = 0; i < n; ++i) {
        json_object_array_add(out, json_object_get(v[reverse ? n - 1 - i : i].c));
    }
    return out;
}

/* Splits the compose command into argv words and appends args. */
const char **dp_dk_compose_argv(apr_pool_t *p, const char *command, const char *const *args)
{
    apr_array_header_t *a = apr_array_make(p, 12, sizeof(const char *));
    char *cmd = apr_pstrdup(p, command), *last = NULL, *w;

    for (w = apr_strtok(cmd, " \t", &last); w; w = apr_strtok(NULL, " \t", &last)) {
        APR_ARRAY_PUSH(a, const char *) = w;
    }
    for (; args && *args; ++args) {
        APR_ARRAY_PUSH(a, const char *) = *args;
    }
    APR_ARRAY_PUSH(a, const char *) = NULL;
    return (const char **)a->elts;
}

/* ------------------------------------------------------------------------------------------ */
/* running a command */

/* Finds prog in the PATH of env (or a default PATH); absolute names are taken as they are. */
static const char *find_program(apr_pool_t *p, const char *prog, const char *const *env)
{
    const char *path = DEFAULT_PATH;
    char *dirs, *last = NULL, *d;

    if (strchr(prog, '/')) {
        return access(prog, X_OK) == 0 ? prog : NULL;
    }
    for (; env && *env; ++env) {
        if (!strncmp(*env, "PATH=", 5)) path = *env + 5;
    }
    dirs = apr_pstrdup(p, path);
    for (d = apr_strtok(dirs, ":", &last); d; d = apr_strtok(NULL, ":", &last)) {
        const char *f = apr_pstrcat(p, d, "/", prog, NULL);
        if (d[0] == '/' && access(f, X_OK) == 0) {
            return f;
        }
    }
    return NULL;
}

/* Appends what the pipe has (up to the cap; the rest is read and dropped). */
static void collect(dp_dk_run_t *res, char *buf, apr_size_t *plen, apr_size_t max, const char *data,
                    apr_size_t n)
{
    apr_size_t room = max - *plen;

    if (n > room) {
        res->output_truncated = 1;
        n = room;
    }
    memcpy(buf + *plen, data, n);
    *plen += n;
}

/* Runs argv with a time limit, capturing its output. */
apr_status_t dp_dk_run(dp_dk_run_t *res, dp_problem_t **pprob, apr_pool_t *p, const char *const *argv,
                       const char *const *env, const char *dir, int timeout_s, apr_size_t max_output)
{
    apr_procattr_t *attr;
    apr_proc_t proc;
    apr_file_t *rd = NULL, *wr = NULL, *devnull = NULL;
    const char *prog;
    const char **args;
    char *buf = apr_palloc(p, max_output + 1), chunk[8192];
    apr_size_t len = 0, i, n;
    apr_time_t deadline = apr_time_now() + apr_time_from_sec(timeout_s), killed_at = 0;
    int use_setsid = access(SETSID_PATH, X_OK) == 0, code = 0, sig = 0;
    apr_exit_why_e why;
    apr_status_t rv;

    memset(res, 0, sizeof(*res));
    if ((prog = find_program(p, argv[0], env)) == NULL) {
        return dp_problem_fail(pprob, p, 503, "compose_unavailable",
                               "the compose command '%s' is not installed", argv[0]);
    }
    for (n = 0; argv[n]; ++n) ;
    args = apr_pcalloc(p, (n + 2) * sizeof(*args));
    i = 0;
    if (use_setsid) args[i++] = SETSID_PATH;
    args[i++] = prog;
    memcpy(args + i, argv + 1, n * sizeof(*args));  /* the rest and the NULL */
    if ((rv = apr_file_pipe_create_ex(&rd, &wr, APR_WRITE_BLOCK, p)) != APR_SUCCESS
        || (rv = apr_file_open(&devnull, "/dev/null", APR_FOPEN_READ, APR_OS_DEFAULT, p)) != APR_SUCCESS
        || (rv = apr_procattr_create(&attr, p)) != APR_SUCCESS
        || (rv = apr_procattr_child_in_set(attr, devnull, NULL)) != APR_SUCCESS
        || (rv = apr_procattr_child_out_set(attr, wr, NULL)) != APR_SUCCESS
        || (rv = apr_procattr_child_err_set(attr, wr, NULL)) != APR_SUCCESS
        || (rv = apr_procattr_dir_set(attr, dir)) != APR_SUCCESS
        || (rv = apr_procattr_cmdtype_set(attr, APR_PROGRAM)) != APR_SUCCESS
        || (rv = apr_procattr_error_check_set(attr, 1)) != APR_SUCCESS
        || (rv = apr_proc_create(&proc, args[0], args, env, attr, p)) != APR_SUCCESS) {
        if (wr) apr_file_close(wr);
        if (rd) apr_file_close(rd);
        return dp_problem_fail(pprob, p, 500, "compose_start_failed", "the compose command could not be started");
    }
    apr_file_close(wr);
    apr_file_close(devnull);

    for (;;) {
        apr_time_t now = apr_time_now();
        if (killed_at == 0 && now >= deadline) {
            res->timed_out = 1;
            kill(use_setsid ? -proc.pid : proc.pid, SIGTERM);
            killed_at = now;
        }
        else if (killed_at && now >= killed_at + apr_time_from_sec(3)) {
            kill(use_setsid ? -proc.pid : proc.pid, SIGKILL);
            if (now >= killed_at + apr_time_from_sec(6)) {
                break;  /* something keeps the pipe open: stop reading */
            }
        }
        apr_file_pipe_timeout_set(rd, apr_time_from_msec(200));
        n = sizeof(chunk);
        rv = apr_file_read(rd, chunk, &n);
        if (n > 0) {
            collect(res, buf, &len, max_output, chunk, n);
        }
        if (rv == APR_EOF) {
            break;
        }
        if (rv != APR_SUCCESS && !APR_STATUS_IS_TIMEUP(rv) && !APR_STATUS_IS_EAGAIN(rv)) {
            break;
        }
    }
    apr_file_close(rd);
    /* the output ended; the process should be gone or going */
    while ((rv = apr_proc_wait(&proc, &code, &why, APR_NOWAIT)) == APR_CHILD_NOTDONE) {
        apr_time_t now = apr_time_now();
        if (killed_at == 0 && now >= deadline) {
            res->timed_out = 1;
            kill(use_setsid ? -proc.pid : proc.pid, SIGTERM);
            killed_at = now;
        }
        else if (killed_at && now >= killed_at + apr_time_from_sec(3) && !sig) {
            kill(use_setsid ? -proc.pid : proc.pid, SIGKILL);
            sig = 1;
        }
        apr_sleep(apr_time_from_msec(50));
    }
    if (use_setsid) {
        kill(-proc.pid, SIGKILL);  /* leftovers of the group, if any */
    }
    res->exit_code = rv == APR_CHILD_DONE ? (why == APR_PROC_EXIT ? code : 128 + code) : -1;
    buf[len] = '\0';
    res->output = buf;
    res->output_len = len;
    return APR_SUCCESS;
}

/* Writes data to dir/name atomically. */
apr_status_t dp_dk_write_file(dp_problem_t **pprob, apr_pool_t *p, const char *dir, const char *name,
                              const char *data, apr_size_t len)
{
    apr_file_t *f = NULL;
    char *tmp = apr_pstrcat(p, dir, "/.", name, ".XXXXXX", NULL);
    const char *final = apr_pstrcat(p, dir, "/", name, NULL);
    apr_size_t done = 0;
    apr_status_t rv;

    if ((rv = apr_dir_make_recursive(dir, APR_FPROT_UREAD | APR_FPROT_UWRITE | APR_FPROT_UEXECUTE
                                          | APR_FPROT_GREAD | APR_FPROT_GEXECUTE, p)) != APR_SUCCESS) {
        return dp_problem_fail(pprob, p, 500, "compose_root_unwritable",
                               "the compose folder cannot be created (DockpayComposeRoot)");
    }
    if ((rv = apr_file_mktemp(&f, tmp, APR_FOPEN_CREATE | APR_FOPEN_WRITE | APR_FOPEN_EXCL
                                       | APR_FOPEN_BINARY, p)) != APR_SUCCESS) {
        return dp_problem_fail(pprob, p, 500, "compose_root_unwritable",
                               "the compose file cannot be written (DockpayComposeRoot)");
    }
    rv = apr_file_write_full(f, data, len, &done);
    if (rv == APR_SUCCESS) rv = apr_file_flush(f);
    if (apr_file_close(f) != APR_SUCCESS && rv == APR_SUCCESS) rv = APR_EGENERAL;
    if (rv == APR_SUCCESS) rv = apr_file_perms_set(tmp, APR_FPROT_UREAD | APR_FPROT_UWRITE | APR_FPROT_GREAD);
    if (rv == APR_SUCCESS) rv = apr_file_rename(tmp, final, p);
    if (rv != APR_SUCCESS) {
        apr_file_remove(tmp, p);
        return dp_problem_fail(pprob, p, 500, "compose_root_unwritable",
                               "the compose file cannot be written (DockpayComposeRoot)");
    }
    return APR_SUCCESS;
}
