/* dp_dk_logs: decodes Docker's log stream (8-byte frames, or raw bytes for TTY containers)
 * into lines, whatever the chunk boundaries of the transfer are. */
#ifndef DP_DK_LOGS_H
#define DP_DK_LOGS_H

#include <apr_pools.h>

/* Longest line handed out in one piece; longer lines come out in pieces of this size. */
#define DP_DK_LOG_LINE_MAX (64 * 1024)

/* Stream numbers as in the frame header (stdin output counts as stdout). */
#define DP_DK_STDOUT 1
#define DP_DK_STDERR 2

/* Receives one line of stream (DP_DK_STDOUT/STDERR) without its newline (nor a CR before
 * it); non-APR_SUCCESS stops the decoder and is returned by dp_dk_logs_feed. */
typedef apr_status_t dp_dk_logline_fn(void *baton, int stream, const char *line, apr_size_t len);

typedef struct dp_dk_logs_t dp_dk_logs_t;

/* Creates a decoder in p: tty means the input is raw (no frames, all stdout). */
dp_dk_logs_t *dp_dk_logs_create(apr_pool_t *p, int tty, dp_dk_logline_fn *fn, void *baton);

/* Feeds len bytes; calls fn for each completed line. APR_EINVAL when a frame header is bad
 * (the stream is not framed), or the callback's error. */
apr_status_t dp_dk_logs_feed(dp_dk_logs_t *d, const char *data, apr_size_t len);

/* Ends the input: hands out unterminated last lines; APR_EINCOMPLETE when the input stopped
 * inside a frame (what was received of it is still handed out). */
apr_status_t dp_dk_logs_finish(dp_dk_logs_t *d);

/* Splits a line of a "timestamps=true" stream into Docker's RFC 3339 time and the text after
 * the space; returns 0 (and leaves text = line) when the line has no such prefix. */
int dp_dk_logs_split_time(const char **ptime, apr_size_t *ptlen, const char **ptext,
                          apr_size_t *plen, const char *line, apr_size_t len);

/* Copies len bytes of line to out (room for len bytes) with every byte that is not part of
 * valid UTF-8 replaced by '?'; returns line itself when it is valid, else out. */
const char *dp_dk_logs_utf8(char *out, const char *line, apr_size_t len);

#endif
