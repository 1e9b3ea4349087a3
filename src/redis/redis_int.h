/* redis_int.h - what the Redis backends share (conn.c): the parsed URL, a
 * small per-handle set of hiredis connections that threads borrow one at
 * a time, commands with their errors mapped to negative errno values, and
 * Lua scripts run by SHA with a fallback to EVAL.
 *
 * A hiredis context is not thread-safe and is unusable after an I/O error,
 * so a call borrows a context for its duration and hands it back; one that
 * saw an error is freed, and the next call connects again. That is all
 * the "reconnect" there is: nothing retries behind the caller's back.
 *
 * rediss:// (TLS): hiredis 0.14 has no TLS, so the connection is made
 * here - TCP with a timeout, libweft's TLS client handshake (weft/tls.h)
 * - and hiredis gets the pump's end of the socket pair (redisConnectFd).
 * The pump beside each such context is found in a table of conn.c: free
 * every context with weft__redis_free (in a forked child,
 * weft__redis_forget), never redisFree, so that the pump is finished and
 * its socket closed with it. */
#ifndef WEFT_REDIS_INT_H
#define WEFT_REDIS_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <hiredis/hiredis.h>

#include <weft/redis.h>

#define WEFT__REDIS_NAME_MAX 200
#define WEFT__REDIS_KEY_MAX  320
/* Redis's default proto-max-bulk-len. */
#define WEFT__REDIS_BULK_MAX ((size_t)512 << 20)

struct weft__rurl {
    bool tls;          /* rediss:// */
    char tls_ca[1024]; /* tls_ca=FILE; empty: the system's CAs */
    char host[256];
    int port;
    char user[128]; /* empty: AUTH with the password only */
    char pass[256]; /* empty: no AUTH */
    bool has_pass;
    char name[WEFT__REDIS_NAME_MAX + 1];
    int connect_timeout_ms;
    int visibility_ms;
    int db;
};

/* Parse url (redis:// or rediss://) into u. 0 or -EINVAL. */
int weft__redis_parse_url(const char *url, struct weft__rurl *u);

/* A connection set. Lock order: the owner's mutex, then this one's. */
struct weft__rconns {
    pthread_mutex_t mu;
    struct weft__rurl url;
    redisContext *free[8];
    int nfree;
    pid_t pid; /* the process the contexts belong to */
};

void weft__rconns_init(struct weft__rconns *cs, const struct weft__rurl *u);
/* Borrow a connected, authenticated context: 0 or a connection error. */
int weft__rconns_get(struct weft__rconns *cs, redisContext **out);
/* Hand it back (freed if it saw an error). */
void weft__rconns_put(struct weft__rconns *cs, redisContext *c);
/* Free every idle context (all must have been handed back). */
void weft__rconns_fini(struct weft__rconns *cs);
/* In a forked child: forget the parent's contexts (close only our fds). */
void weft__rconns_forked(struct weft__rconns *cs);

/* Connect, AUTH and SELECT as u says: 0 or an error of weft/redis.h. */
int weft__redis_connect(const struct weft__rurl *u, redisContext **out);
/* Free c (NULL: no-op) and, for rediss://, finish its TLS pump and close
 * the socket under it. */
void weft__redis_free(redisContext *c);
/* In a forked child: free c, closing only this process's descriptors;
 * the parent's connection (and TLS pump) is left alone. */
void weft__redis_forget(redisContext *c);
/* redisCommandArgv; on a rediss:// context with SIGPIPE held off (a
 * write to a pump that ended is -EPIPE, not a signal). */
redisReply *weft__redis_command(redisContext *c, int argc, const char **argv,
                                const size_t *lens);
/* The error of a context that failed, as a negative errno value. */
int weft__redis_ctx_err(const redisContext *c);
/* The error an ERROR reply stands for. */
int weft__redis_reply_err(const redisReply *r);

/* Run one command (argv/lens as hiredis). Socket timeout: block_ms (the
 * command's own blocking time, 0 for none) plus the connect timeout. 0
 * and *out (free with freeReplyObject), or an error; an ERROR reply is
 * mapped and freed. */
int weft__redis_cmd(redisContext *c, const struct weft__rurl *u, int block_ms,
                    redisReply **out, int argc, const char **argv,
                    const size_t *lens);
/* Send a command without waiting (pipelining); read with _read. */
int weft__redis_append(redisContext *c, int argc, const char **argv,
                       const size_t *lens);
int weft__redis_read(redisContext *c, redisReply **out);

/* A Lua script, run by EVALSHA (EVAL when the server does not have it). */
struct weft__rscript {
    const char *src;
    char sha[41];
};
/* The script's SHA once loaded (copied out under a lock): false if not
 * loaded yet. */
bool weft__redis_script_sha(struct weft__rscript *s, char sha[41]);
void weft__redis_script_set_sha(struct weft__rscript *s, const char *sha);
int weft__redis_script(redisContext *c, const struct weft__rurl *u,
                       struct weft__rscript *s, int nkeys, int argc,
                       const char **argv, const size_t *lens, redisReply **out);

/* Check that the server has the commands the backends use. 0 or
 * -EOPNOTSUPP. */
int weft__redis_check_commands(redisContext *c, const struct weft__rurl *u);

/* The largest message or argument the server takes in a command (its
 * proto-max-bulk-len, less room for the rest of the command). */
size_t weft__redis_bulk_limit(redisContext *c, const struct weft__rurl *u);

/* Build "weft:<kind>:{<name>}<suffix>" into buf (WEFT__REDIS_KEY_MAX). */
void weft__redis_key(char *buf, const char *kind, const char *name,
                     const char *suffix);

/* A consumer name unique across hosts and time: host:pid:random. */
void weft__redis_consumer_name(char *buf, size_t cap);

#endif
