/* socketload: the bare-socket baseline of the benchmarks. N threads, each with one keep-alive
 * HTTP/1.1 connection to a unix socket, send GET PATH back to back for T seconds; prints the
 * requests per second (and errors) as one JSON line.
 *   socketload SOCKET PATH THREADS SECONDS */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    const char *sock, *path;
    double until;
    long done, errors, bytes;
} worker_t;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int connect_unix(const char *path)
{
    struct sockaddr_un sa;
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);

    if (fd < 0) return -1;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    strncpy(sa.sun_path, path, sizeof(sa.sun_path) - 1);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Reads one response (Content-Length or chunked) from fd using buf; returns 0 or -1. */
static int read_response(int fd, char *buf, size_t cap, size_t *have, long *bytes)
{
    size_t len = *have;
    char *hend;
    long clen = -1;
    int chunked = 0;

    for (;;) {
        ssize_t n;
        buf[len] = '\0';
        if ((hend = strstr(buf, "\r\n\r\n")) != NULL) break;
        if (len >= cap - 1) return -1;
        n = read(fd, buf + len, cap - 1 - len);
        if (n <= 0) return -1;
        len += (size_t)n;
    }
    {
        char *h = buf;
        while (h < hend) {
            char *eol = strstr(h, "\r\n");
            if (!strncasecmp(h, "Content-Length:", 15)) clen = strtol(h + 15, NULL, 10);
            if (!strncasecmp(h, "Transfer-Encoding:", 18) && strstr(h, "chunked") && strstr(h, "chunked") < eol) chunked = 1;
            h = eol + 2;
        }
    }
    {
        size_t off = (size_t)(hend + 4 - buf);
        if (!chunked) {
            size_t need = off + (size_t)(clen < 0 ? 0 : clen);
            while (len < need) {
                ssize_t n;
                if (need > cap - 1) {   /* large body: drain it */
                    size_t left = need - len;
                    char tmp[65536];
                    while (left > 0) {
                        n = read(fd, tmp, left < sizeof(tmp) ? left : sizeof(tmp));
                        if (n <= 0) return -1;
                        left -= (size_t)n;
                    }
                    len = need;
                    *have = 0;
                    *bytes += (long)need;
                    return 0;
                }
                n = read(fd, buf + len, cap - 1 - len);
                if (n <= 0) return -1;
                len += (size_t)n;
            }
            memmove(buf, buf + need, len - need);
            *have = len - need;
            *bytes += (long)need;
            return 0;
        }
        /* chunked: walk the chunks, reading more as needed */
        for (;;) {
            char *eol;
            long sz;
            size_t need;
            for (;;) {
                buf[len] = '\0';
                if ((eol = strstr(buf + off, "\r\n")) != NULL) break;
                if (len >= cap - 1) return -1;
                {
                    ssize_t n = read(fd, buf + len, cap - 1 - len);
                    if (n <= 0) return -1;
                    len += (size_t)n;
                }
            }
            sz = strtol(buf + off, NULL, 16);
            need = (size_t)(eol + 2 - buf) + (size_t)sz + 2;
            while (len < need) {
                ssize_t n;
                if (need > cap - 1) return -1;
                n = read(fd, buf + len, cap - 1 - len);
                if (n <= 0) return -1;
                len += (size_t)n;
            }
            off = need;
            if (sz == 0) break;
        }
        memmove(buf, buf + off, len - off);
        *have = len - off;
        *bytes += (long)off;
        return 0;
    }
}

static void *run(void *arg)
{
    worker_t *w = arg;
    size_t cap = 4 * 1024 * 1024, have = 0;
    char *buf = malloc(cap), req[2048];
    int fd = -1, rl;

    rl = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: localhost\r\nUser-Agent: socketload\r\n\r\n", w->path);
    while (now() < w->until) {
        if (fd < 0) {
            have = 0;
            if ((fd = connect_unix(w->sock)) < 0) {
                ++w->errors;
                nanosleep(&(struct timespec){0, 1000000}, NULL);
                continue;
            }
        }
        if (write(fd, req, (size_t)rl) != rl || read_response(fd, buf, cap, &have, &w->bytes) != 0) {
            ++w->errors;
            close(fd);
            fd = -1;
            continue;
        }
        ++w->done;
    }
    if (fd >= 0) close(fd);
    free(buf);
    return NULL;
}

int main(int argc, char **argv)
{
    int n, i;
    double secs, t0, t1;
    worker_t *ws;
    pthread_t *th;
    long done = 0, errors = 0, bytes = 0;

    if (argc != 5) {
        fprintf(stderr, "usage: socketload SOCKET PATH THREADS SECONDS\n");
        return 2;
    }
    n = atoi(argv[3]);
    secs = atof(argv[4]);
    if (n < 1 || n > 1024 || secs <= 0) return 2;
    ws = calloc((size_t)n, sizeof(*ws));
    th = calloc((size_t)n, sizeof(*th));
    t0 = now();
    for (i = 0; i < n; ++i) {
        ws[i].sock = argv[1];
        ws[i].path = argv[2];
        ws[i].until = t0 + secs;
        pthread_create(&th[i], NULL, run, &ws[i]);
    }
    for (i = 0; i < n; ++i) {
        pthread_join(th[i], NULL);
        done += ws[i].done;
        errors += ws[i].errors;
        bytes += ws[i].bytes;
    }
    t1 = now();
    printf("{\"requests\":%ld,\"errors\":%ld,\"bytes\":%ld,\"seconds\":%.3f,\"rps\":%.1f}\n",
           done, errors, bytes, t1 - t0, (double)done / (t1 - t0));
    free(ws);
    free(th);
    return 0;
}
