/* proto.c - weftd's connection handler: the commands of docs/PROTOCOL.md
 * (hello, list, stat, get, put, delete, mkdir, quit, and the course's
 * classic upload without "cmd").
 *
 * One call per connection, in whichever of the six models the server
 * runs: wait for a request (the idle timeout), read its frame (64 KiB of
 * header at most; the body is left on the socket), answer it, repeat.
 * Transfers are bounded by the I/O timeout per slice of a few MiB, so a
 * large file on a slow link is not cut while it makes progress, and a
 * client that stops is dropped after the I/O timeout.
 *
 * This file reads untrusted input (every field of every header): each
 * field is checked for its type and range before use, paths go through
 * weftd_path_check and then fs.c, which resolves them beneath the
 * library. A refusal of a put whose body was not read closes the
 * connection (the body cannot be skipped without reading it); every other
 * refusal leaves it usable. Buffers live on the heap (coroutine stacks
 * are small).
 *
 * With users (--users), a connection may do nothing but hello and quit
 * until a hello with user and password succeeds (auth.c checks it);
 * then its paths are resolved beneath the user's root (a folder of the
 * library, opened beneath it like any path) and the user's read-only
 * flag is added to the server's.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "weftd.h"

#define SEND_SLICE ((uint64_t)2 << 20) /* bytes per sendfile call */
#define RECV_SLICE ((uint64_t)4 << 20) /* bytes per timed body read */
#define LINGER_MS  2000                /* draining before a refusal close */
#ifndef ASYNC_HASH_MIN /* bodies hashed on a thread; -D for A/B runs */
#define ASYNC_HASH_MIN ((uint64_t)8 << 20)
#endif

enum { GO_ON = 0, CLOSE = 1 };

struct conn {
    weft_request *req;
    const struct weftd_config *cfg;
    int fd;     /* the client's socket, or the TLS pump's end */
    int io_ms;  /* the I/O timeout */
    json_t *id; /* the current request's "id" (borrowed), or NULL */
    char peer[WEFT_ADDR_TEXT_MAX];
    /* The session: what this connection may see and do. */
    const struct weftd_root *root; /* the library, or the user's root */
    struct weftd_root user_root;   /* fd -1 unless the user has a root */
    bool read_only;                /* the server's or the user's */
    const struct weftd_user *user; /* logged in as, or NULL */
};

/* ---- replies --------------------------------------------------------------
 */

/* Send h (taking it) with an optional body: GO_ON, or CLOSE when the
 * connection is of no more use. */
static int send_reply(struct conn *c, json_t *h, const void *body, size_t len)
{
    if (h == NULL)
        return CLOSE;
    if (c->id != NULL)
        json_object_set(h, "id", c->id);
    int rc = weft_frame_send(c->fd, h, body, len, c->io_ms);
    json_decref(h);
    return rc < 0 ? CLOSE : GO_ON;
}

/* A refusal {"ok": false, "error": code, "message": ...} plus extra's
 * members (taken; may be NULL). */
static int refuse_with(struct conn *c, json_t *extra, const char *code,
                       const char *fmt, ...) WEFT_PRINTF(4, 5);
static int refuse_with(struct conn *c, json_t *extra, const char *code,
                       const char *fmt, ...)
{
    char msg[600];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_t *h = json_pack("{s:b, s:s}", "ok", 0, "error", code);
    if (h == NULL) {
        json_decref(extra);
        return CLOSE;
    }
    /* A message that is not UTF-8 (cut mid-character) is left out. */
    json_object_set_new(h, "message", json_string(msg));
    if (extra != NULL) {
        json_object_update(h, extra);
        json_decref(extra);
    }
    return send_reply(c, h, NULL, 0);
}

#define refuse(c, code, ...) refuse_with(c, NULL, code, __VA_ARGS__)

/* The stable error code for a negative errno value from fs.c. */
static const char *code_of(int err)
{
    switch (-err) {
    case ENOENT:
        return "not_found";
    case EXDEV:
    case ELOOP:
    case ENAMETOOLONG:
        return "bad_path";
    case ENOTDIR:
        return "not_a_directory";
    case EISDIR:
        return "is_a_directory";
    case EEXIST:
        return "exists";
    case ENOTEMPTY:
        return "not_empty";
    case ENOSPC:
    case EDQUOT:
    case EFBIG:
        return "no_space";
    case EROFS:
        return "read_only";
    default:
        return "internal";
    }
}

/* Refuse for err, logging what is not the client's doing. */
static int refuse_errno(struct conn *c, const char *what, const char *path,
                        int err)
{
    const char *code = code_of(err);
    if (strcmp(code, "internal") == 0)
        weftd_log(WEFT_LOG_WARN, "%s: %s %s: %s", c->peer, what, path,
                  weft_strerror(err));
    if (strcmp(code, "bad_path") == 0)
        return refuse(c, code, "%s: path leads out of the library", what);
    return refuse(c, code, "%s %s: %s", what, path, weft_strerror(err));
}

/* Before closing after a refusal whose request body was not read: stop
 * writing, and read (and drop) what the client still sends for a moment,
 * so the close does not reset the connection before the client has read
 * the refusal. */
static int linger_close(struct conn *c, uint64_t body)
{
    shutdown(c->fd, SHUT_WR);
    char *buf = malloc(64 * 1024);
    weft_deadline d = weft_deadline_in(LINGER_MS);
    body += 64 * 1024; /* and what may follow it, until end of file */
    while (buf != NULL && body > 0 && !weft_deadline_expired(d)) {
        ssize_t n =
            weft_co_read(c->fd, buf, 64 * 1024, weft_deadline_remaining_ms(d));
        if (n <= 0)
            break;
        body = (uint64_t)n >= body ? 0 : body - (uint64_t)n;
    }
    free(buf);
    return CLOSE;
}

/* ---- fields ---------------------------------------------------------------
 */

/* The path in h[key]: 0 and *out; or a refusal sent and its GO_ON/CLOSE
 * in *rc (-1 returned). dflt: used when the key is absent (NULL: it is
 * required). */
static int field_path(struct conn *c, json_t *h, const char *key,
                      const char *dflt, const char **out, int *rc)
{
    json_t *v = json_object_get(h, key);
    if (v == NULL && dflt != NULL) {
        *out = dflt;
        return 0;
    }
    if (!json_is_string(v)) {
        *rc = refuse(c, "bad_request", "%s: a string is required", key);
        return -1;
    }
    const char *p = json_string_value(v);
    size_t len = json_string_length(v);
    if (weftd_path_check(p, len) < 0) {
        *rc = refuse(c, "bad_path", "%s: not a valid library path", key);
        return -1;
    }
    *out = p;
    return 0;
}

/* A non-negative integer h[key] (dflt when absent): 0, or -1. */
static int field_uint(json_t *h, const char *key, uint64_t dflt, uint64_t *out)
{
    json_t *v = json_object_get(h, key);
    if (v == NULL) {
        *out = dflt;
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return -1;
    *out = (uint64_t)json_integer_value(v);
    return 0;
}

/* A body the command does not use: read and dropped. 0 or < 0. */
static int body_drop_cb(void *ud, const void *chunk, size_t n)
{
    (void)ud, (void)chunk, (void)n;
    return 0;
}

static int drop_body(struct conn *c, uint64_t body)
{
    int rc = 0;
    while (rc == 0 && body > 0) {
        uint64_t n = body < RECV_SLICE ? body : RECV_SLICE;
        rc = weft_frame_recv_body_cb(c->fd, n, body_drop_cb, NULL, c->io_ms);
        body -= n;
    }
    return rc;
}

/* ---- commands -------------------------------------------------------------
 */

/* End the session's login: back to the library and the server's flags. */
static void logout(struct conn *c)
{
    if (c->user_root.fd >= 0)
        close(c->user_root.fd);
    c->user_root.fd = -1;
    c->root = &c->cfg->root;
    c->read_only = c->cfg->read_only;
    c->user = NULL;
}

/* hello's user and password: a refusal sent (its GO_ON/CLOSE returned),
 * or -1 when the login succeeded and the session is the user's. */
static int login(struct conn *c, json_t *uv, json_t *pv)
{
    const struct weftd_user *u = NULL;
    int retry = 0;

    if (!json_is_string(uv) || !json_is_string(pv))
        return refuse(c, "bad_request", "user and password: strings");
    const char *name = json_string_value(uv);
    size_t nlen = json_string_length(uv);
    /* Only a valid name goes into the log (no control characters). */
    const char *shown = weftd_user_name_ok(name, nlen) ? name : "(bad name)";
    logout(c);
    if (nlen > WEFTD_USER_MAX || json_string_length(pv) > WEFTD_PASSWORD_MAX)
        name = ""; /* checked all the same, and fails */
    int rc = weftd_auth_login(c->cfg->auth, weft_request_peer(c->req), name,
                              json_string_value(pv), json_string_length(pv), &u,
                              &retry);
    if (rc == WEFTD_LOGIN_LIMITED) {
        weftd_log(WEFT_LOG_WARN, "%s: login as %s refused: too many failures",
                  c->peer, shown);
        return refuse_with(c, json_pack("{s:i}", "retry_after", retry),
                           "rate_limited",
                           "too many failed logins from this address; try "
                           "again in %d s",
                           retry);
    }
    if (rc == WEFTD_LOGIN_FAILED) {
        weftd_log(WEFT_LOG_WARN, "%s: login as %s failed", c->peer, shown);
        return refuse(c, "auth_failed", "wrong user or password");
    }
    if (rc < 0) {
        weftd_log(WEFT_LOG_WARN, "%s: login as %s: %s", c->peer, shown,
                  weft_strerror(rc));
        return refuse(c, "internal",
                      "the login could not be checked now, "
                      "try again");
    }
    if (u->root[0] != '\0') {
        int fd = weftd_open(&c->cfg->root, u->root, O_RDONLY | O_DIRECTORY);
        if (fd < 0) {
            weftd_log(WEFT_LOG_WARN, "%s: user %s: root %s: %s", c->peer,
                      u->name, u->root, weft_strerror(fd));
            return refuse(c, "internal", "the user's folder is missing");
        }
        c->user_root.fd = fd;
        c->user_root.no_openat2 = c->cfg->root.no_openat2;
        c->root = &c->user_root;
    }
    c->user = u;
    c->read_only = c->cfg->read_only || u->read_only;
    weftd_log(WEFT_LOG_INFO, "%s: login as %s", c->peer, u->name);
    return -1;
}

static int cmd_hello(struct conn *c, json_t *h)
{
    json_t *vs = json_object_get(h, "versions");
    json_t *uv = json_object_get(h, "user");
    bool ok = vs == NULL; /* default [1] */
    size_t i;
    json_t *v;

    if (vs != NULL && !json_is_array(vs))
        return refuse(c, "bad_request", "versions: an array is required");
    json_array_foreach(vs, i, v)
    {
        if (json_is_integer(v) &&
            json_integer_value(v) == WEFTD_PROTOCOL_VERSION)
            ok = true;
    }
    if (!ok)
        return refuse(c, "version", "this server speaks version %d only",
                      WEFTD_PROTOCOL_VERSION);
    /* A server without users ignores a login. */
    if (uv != NULL && c->cfg->auth != NULL) {
        int rc = login(c, uv, json_object_get(h, "password"));
        if (rc >= 0)
            return rc;
    }
    json_t *rep = json_pack("{s:b, s:i, s:s, s:b, s:b}", "ok", 1, "version",
                            WEFTD_PROTOCOL_VERSION, "server",
                            "weftd/" WEFT_VERSION_STRING, "auth",
                            c->user != NULL, "read_only", c->read_only);
    if (rep != NULL && c->user != NULL)
        json_object_set_new(rep, "user", json_string(c->user->name));
    return send_reply(c, rep, NULL, 0);
}

static int cmd_list(struct conn *c, json_t *h)
{
    const char *path;
    weft_buf body = WEFT_BUF_INIT;
    size_t count;
    int rc;

    if (field_path(c, h, "path", "", &path, &rc) < 0)
        return rc;
    rc = weftd_list(c->root, path, &body, &count);
    if (rc < 0) {
        weft_buf_free(&body);
        return refuse_errno(c, "list", path, rc);
    }
    rc = send_reply(c,
                    json_pack("{s:b, s:s, s:I}", "ok", 1, "path", path, "count",
                              (json_int_t)count),
                    body.data, body.len);
    weft_buf_free(&body);
    return rc;
}

/* Open path as a regular file to read: the descriptor and *st, or
 * -EISDIR, -EINVAL (not a file), -errno. Devices and FIFOs are never
 * opened for reading (opening one can block or have effects). */
static int open_regular(const struct weftd_root *r, const char *path,
                        struct stat *st)
{
    struct stat st2;
    int fd = weftd_open(r, path, O_PATH);
    if (fd < 0)
        return fd;
    int rc = fstat(fd, st) < 0 ? -errno : 0;
    close(fd);
    if (rc < 0)
        return rc;
    if (S_ISDIR(st->st_mode))
        return -EISDIR;
    if (!S_ISREG(st->st_mode))
        return -EINVAL;
    fd = weftd_open(r, path, O_RDONLY | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return fd;
    if (fstat(fd, &st2) < 0 || st2.st_dev != st->st_dev ||
        st2.st_ino != st->st_ino || !S_ISREG(st2.st_mode)) {
        close(fd);
        return -EAGAIN; /* replaced between the two opens */
    }
    *st = st2;
    return fd;
}

static const char *type_of(const struct stat *st)
{
    return S_ISREG(st->st_mode)   ? "file"
           : S_ISDIR(st->st_mode) ? "dir"
                                  : "other";
}

static int cmd_stat(struct conn *c, json_t *h)
{
    const struct weftd_root *r = c->root;
    const char *path;
    struct stat st;
    char hex[65];
    int rc;

    if (field_path(c, h, "path", "", &path, &rc) < 0)
        return rc;
    uint64_t partial = weftd_partial_size(r, path);
    int fd = weftd_open(r, path, O_PATH);
    if (fd < 0) {
        json_t *extra = NULL;
        if (fd == -ENOENT && partial > 0)
            extra = json_pack("{s:I}", "partial_size", (json_int_t)partial);
        if (fd == -ENOENT)
            return refuse_with(c, extra, "not_found", "no such file: %s", path);
        return refuse_errno(c, "stat", path, fd);
    }
    rc = fstat(fd, &st) < 0 ? -errno : 0;
    close(fd);
    if (rc < 0)
        return refuse_errno(c, "stat", path, rc);
    json_t *rep = json_pack("{s:b, s:s, s:s, s:I, s:I}", "ok", 1, "path", path,
                            "type", type_of(&st), "size",
                            (json_int_t)(S_ISREG(st.st_mode) ? st.st_size : 0),
                            "mtime", (json_int_t)st.st_mtim.tv_sec);
    if (rep == NULL)
        return CLOSE;
    if (S_ISREG(st.st_mode)) {
        fd = open_regular(r, path, &st);
        rc = fd < 0 ? fd : weftd_sha_file(fd, &st, hex);
        if (fd >= 0)
            close(fd);
        if (rc < 0) {
            json_decref(rep);
            return refuse_errno(c, "stat", path, rc);
        }
        json_object_set_new(rep, "sha256", json_string(hex));
    }
    if (partial > 0)
        json_object_set_new(rep, "partial_size",
                            json_integer((json_int_t)partial));
    return send_reply(c, rep, NULL, 0);
}

static int cmd_get(struct conn *c, json_t *h)
{
    const char *path;
    struct stat st;
    uint64_t offset;
    char hex[65];
    int rc;

    if (field_path(c, h, "file_name", NULL, &path, &rc) < 0)
        return rc;
    if (field_uint(h, "offset", 0, &offset) < 0)
        return refuse(c, "bad_request", "offset: a whole number >= 0");
    if (path[0] == '\0')
        return refuse(c, "is_a_directory", "get: the library is a folder");
    int fd = open_regular(c->root, path, &st);
    if (fd == -EINVAL)
        return refuse(c, "bad_request", "get %s: not a regular file", path);
    if (fd < 0)
        return refuse_errno(c, "get", path, fd);
    uint64_t size = (uint64_t)st.st_size;
    if (offset > size) {
        close(fd);
        return refuse(c, "bad_request", "offset %llu is past the end (%llu)",
                      (unsigned long long)offset, (unsigned long long)size);
    }
    rc = weftd_sha_file(fd, &st, hex);
    if (rc < 0) {
        close(fd);
        return refuse_errno(c, "get", path, rc);
    }
    json_t *rep =
        json_pack("{s:b, s:s, s:I, s:I, s:s, s:I}", "ok", 1, "file_name", path,
                  "offset", (json_int_t)offset, "total_size", (json_int_t)size,
                  "sha256", hex, "mtime", (json_int_t)st.st_mtim.tv_sec);
    if (rep != NULL && c->id != NULL)
        json_object_set(rep, "id", c->id);
    rc = rep != NULL
             ? weft_frame_send_header(c->fd, rep, size - offset, c->io_ms)
             : -ENOMEM;
    json_decref(rep);

    /* The body in slices, each within the I/O timeout: progress keeps a
     * long download alive, a stalled client is dropped. */
    off_t pos = (off_t)offset;
    uint64_t left = size - offset;
    while (rc == 0 && left > 0) {
        size_t n = left < SEND_SLICE ? (size_t)left : (size_t)SEND_SLICE;
        ssize_t w = weft_co_sendfile(c->fd, fd, &pos, n, c->io_ms);
        if (w == 0)
            rc = -EIO; /* the file shrank behind weftd's back */
        else if (w < 0)
            rc = (int)w;
        else
            left -= (uint64_t)w;
        /* Let the scheduler's other connections run (coroutine model;
         * -EPERM elsewhere, harmless). */
        if (rc == 0 && left > 0)
            weft_co_yield();
    }
    close(fd);
    if (rc < 0) {
        weftd_log(WEFT_LOG_INFO, "%s: get %s cut: %s", c->peer, path,
                  weft_strerror(rc));
        return CLOSE;
    }
    return GO_ON;
}

static int on_chunk(void *ud, const void *chunk, size_t n)
{
    weftd_upload_write(ud, chunk, n);
    return 0;
}

/* The parameters of one upload, checked. */
struct put_req {
    const char *path;
    uint64_t offset, body, total;
    const char *sha; /* expected, lower-case hex, or NULL */
    bool reply;      /* false for the classic upload */
};

/* Receive and store an upload whose request was checked: the refusals
 * before the body close the connection. */
static int do_put(struct conn *c, const struct put_req *p)
{
    const struct weftd_root *r = c->root;
    struct weftd_upload u;
    uint64_t held;
    int rc;

    if (c->cfg->quota > 0) {
        uint64_t used = 0, old = 0;
        struct stat st;
        int fd = weftd_open(r, p->path, O_PATH);
        if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
            old = (uint64_t)st.st_size;
        if (fd >= 0)
            close(fd);
        /* The quota is the whole library's, whoever uploads. */
        rc = weftd_usage(&c->cfg->root, &used);
        if (rc < 0 ||
            used - (old < used ? old : used) + p->total > c->cfg->quota) {
            if (p->reply)
                refuse(c, "quota",
                       "the upload would put the library over its quota of "
                       "%llu bytes (%llu used)",
                       (unsigned long long)c->cfg->quota,
                       (unsigned long long)used);
            return linger_close(c, p->body);
        }
    }
    rc = weftd_upload_begin(r, p->path, p->offset, &u, &held);
    if (rc == -ERANGE) {
        if (p->reply)
            refuse_with(
                c, json_pack("{s:I}", "partial_size", (json_int_t)held),
                "offset", "offset %llu does not match the %llu bytes held",
                (unsigned long long)p->offset, (unsigned long long)held);
        return linger_close(c, p->body);
    }
    if (rc < 0) {
        if (p->reply)
            refuse_errno(c, "put", p->path, rc);
        return linger_close(c, p->body);
    }

    /* A large body is hashed on a thread of its own while it arrives
     * (hasher.c); a small one inline (a thread would cost more). */
    if (p->body >= ASYNC_HASH_MIN && (rc = weftd_upload_hash_async(&u)) < 0)
        weftd_log(WEFT_LOG_INFO, "%s: put %s: hashing inline: %s", c->peer,
                  p->path, weft_strerror(rc));
    uint64_t left = p->body;
    rc = 0;
    while (rc == 0 && left > 0) {
        uint64_t n = left < RECV_SLICE ? left : RECV_SLICE;
        rc = weft_frame_recv_body_cb(c->fd, n, on_chunk, &u, c->io_ms);
        left -= n;
    }
    if (rc < 0) {
        /* Cut short: what came is kept for a resume. */
        weftd_log(WEFT_LOG_INFO, "%s: put %s cut after %llu bytes: %s", c->peer,
                  p->path, (unsigned long long)u.size, weft_strerror(rc));
        weftd_upload_keep(&u);
        return CLOSE;
    }
    if (u.werr != 0) {
        int err = u.werr;
        weftd_upload_abort(&u);
        weftd_log(WEFT_LOG_WARN, "%s: put %s: %s", c->peer, p->path,
                  weft_strerror(err));
        return p->reply ? refuse_errno(c, "put", p->path, err) : GO_ON;
    }
    if (u.size < p->total) {
        /* A piece of a larger file: held until the rest comes. */
        uint64_t size = u.size;
        weftd_upload_keep(&u);
        if (!p->reply)
            return GO_ON;
        return send_reply(c,
                          json_pack("{s:b, s:s, s:I, s:I}", "ok", 1,
                                    "file_name", p->path, "partial_size",
                                    (json_int_t)size, "total_size",
                                    (json_int_t)p->total),
                          NULL, 0);
    }
    char hex[65];
    weftd_upload_digest(&u, hex);
    if (p->sha != NULL && strcmp(hex, p->sha) != 0) {
        weftd_upload_abort(&u);
        return p->reply ? refuse(c, "checksum",
                                 "put %s: the bytes received have sha256 %s",
                                 p->path, hex)
                        : GO_ON;
    }
    uint64_t size = u.size;
    rc = weftd_upload_commit(&u, hex);
    if (rc < 0) {
        if (!p->reply) {
            weftd_log(WEFT_LOG_WARN, "%s: upload %s: %s", c->peer, p->path,
                      weft_strerror(rc));
            return GO_ON;
        }
        return refuse_errno(c, "put", p->path, rc);
    }
    weftd_log(WEFT_LOG_INFO, "%s: put %s (%llu bytes)", c->peer, p->path,
              (unsigned long long)size);
    if (!p->reply)
        return GO_ON;
    return send_reply(c,
                      json_pack("{s:b, s:s, s:I, s:s}", "ok", 1, "file_name",
                                p->path, "size", (json_int_t)size, "sha256",
                                hex),
                      NULL, 0);
}

static int cmd_put(struct conn *c, json_t *h, uint64_t body)
{
    struct put_req p = {.body = body, .reply = true};
    char sha[65];
    int rc;

    if (c->read_only) {
        refuse(c, "read_only", "read-only");
        return linger_close(c, body);
    }
    if (field_path(c, h, "file_name", NULL, &p.path, &rc) < 0)
        return linger_close(c, body);
    if (p.path[0] == '\0') {
        refuse(c, "is_a_directory", "put: the library is a folder");
        return linger_close(c, body);
    }
    if (field_uint(h, "offset", 0, &p.offset) < 0 ||
        p.offset > UINT64_MAX - body ||
        field_uint(h, "total_size", p.offset + body, &p.total) < 0 ||
        p.total < p.offset + body) {
        refuse(c, "bad_request",
               "offset and total_size: whole numbers, offset + file_size <= "
               "total_size");
        return linger_close(c, body);
    }
    if (p.total > c->cfg->max_upload) {
        refuse(c, "too_large",
               "the file is over the server's limit of %llu "
               "bytes",
               (unsigned long long)c->cfg->max_upload);
        return linger_close(c, body);
    }
    json_t *s = json_object_get(h, "sha256");
    if (s != NULL) {
        const char *v = json_is_string(s) ? json_string_value(s) : "";
        size_t i;
        for (i = 0; i < 64 && v[i] != '\0'; i++) {
            char ch = v[i];
            if (ch >= 'A' && ch <= 'F')
                ch = (char)(ch - 'A' + 'a');
            if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f')))
                break;
            sha[i] = ch;
        }
        if (i != 64 || v[64] != '\0') {
            refuse(c, "bad_request", "sha256: 64 hexadecimal digits");
            return linger_close(c, body);
        }
        sha[64] = '\0';
        p.sha = sha;
    }
    return do_put(c, &p);
}

/* The course's client: {"file_name": ..., "file_size": N} and the bytes,
 * no reply. The name is the last component of new_file_name or
 * file_name. */
static int classic_upload(struct conn *c, json_t *h, uint64_t body)
{
    json_t *v = json_object_get(h, "new_file_name");
    if (!json_is_string(v))
        v = json_object_get(h, "file_name");
    if (!json_is_string(v) || c->read_only ||
        strlen(json_string_value(v)) != json_string_length(v)) {
        weftd_log(WEFT_LOG_INFO, "%s: classic upload refused", c->peer);
        return linger_close(c, body);
    }
    const char *name = weftd_path_base(json_string_value(v));
    if (name[0] == '\0' || weftd_path_check(name, strlen(name)) < 0 ||
        body > c->cfg->max_upload) {
        weftd_log(WEFT_LOG_INFO, "%s: classic upload refused: bad name",
                  c->peer);
        return linger_close(c, body);
    }
    struct put_req p = {.path = name, .body = body, .total = body};
    return do_put(c, &p);
}

static int cmd_delete(struct conn *c, json_t *h)
{
    const char *path;
    int rc;

    if (c->read_only)
        return refuse(c, "read_only", "read-only");
    if (field_path(c, h, "path", NULL, &path, &rc) < 0)
        return rc;
    if (path[0] == '\0')
        return refuse(c, "bad_path", "the library itself cannot be deleted");
    rc = weftd_delete(c->root, path);
    if (rc < 0)
        return refuse_errno(c, "delete", path, rc);
    weftd_log(WEFT_LOG_INFO, "%s: delete %s", c->peer, path);
    return send_reply(c, json_pack("{s:b, s:s}", "ok", 1, "path", path), NULL,
                      0);
}

static int cmd_mkdir(struct conn *c, json_t *h)
{
    const char *path;
    int rc;

    if (c->read_only)
        return refuse(c, "read_only", "read-only");
    if (field_path(c, h, "path", NULL, &path, &rc) < 0)
        return rc;
    json_t *parents = json_object_get(h, "parents");
    if (parents != NULL && !json_is_boolean(parents))
        return refuse(c, "bad_request", "parents: true or false");
    if (path[0] == '\0')
        return refuse(c, "exists", "the library exists");
    rc = weftd_mkdir(c->root, path, json_is_true(parents));
    if (rc < 0)
        return refuse_errno(c, "mkdir", path, rc);
    weftd_log(WEFT_LOG_INFO, "%s: mkdir %s", c->peer, path);
    return send_reply(c, json_pack("{s:b, s:s}", "ok", 1, "path", path), NULL,
                      0);
}

/* One request: GO_ON or CLOSE. */
static int dispatch(struct conn *c, json_t *h, uint64_t body)
{
    json_t *cmdv = json_object_get(h, "cmd");
    const char *cmd = json_is_string(cmdv) ? json_string_value(cmdv) : NULL;

    /* Before a login (with users) only hello and quit are heard; the body
     * of anything else is not read from a stranger: the connection is
     * closed after the refusal. */
    if (c->cfg->auth != NULL && c->user == NULL &&
        (cmd == NULL ||
         (strcmp(cmd, "hello") != 0 && strcmp(cmd, "quit") != 0))) {
        if (cmdv == NULL) {
            weftd_log(WEFT_LOG_INFO,
                      "%s: upload without cmd refused: login "
                      "required",
                      c->peer);
            return linger_close(c, body);
        }
        int rc = refuse(c, "auth_required",
                        "log in first (hello with user and password)");
        return body > 0 ? linger_close(c, body) : rc;
    }
    if (body > c->cfg->max_upload) {
        if (cmdv != NULL)
            refuse(c, "too_large",
                   "file_size is over the server's limit of %llu bytes",
                   (unsigned long long)c->cfg->max_upload);
        return linger_close(c, body);
    }
    if (cmdv == NULL) {
        if (json_is_string(json_object_get(h, "file_name")) &&
            json_object_get(h, "file_size") != NULL)
            return classic_upload(c, h, body);
        if (drop_body(c, body) < 0)
            return CLOSE;
        return refuse(c, "bad_request", "cmd is missing");
    }
    if (cmd != NULL && strcmp(cmd, "put") == 0)
        return cmd_put(c, h, body);
    /* The other commands take no body: read past one. */
    if (drop_body(c, body) < 0)
        return CLOSE;
    if (cmd == NULL)
        return refuse(c, "bad_request", "cmd must be a string");
    if (strcmp(cmd, "hello") == 0)
        return cmd_hello(c, h);
    if (strcmp(cmd, "list") == 0)
        return cmd_list(c, h);
    if (strcmp(cmd, "stat") == 0)
        return cmd_stat(c, h);
    if (strcmp(cmd, "get") == 0)
        return cmd_get(c, h);
    if (strcmp(cmd, "delete") == 0)
        return cmd_delete(c, h);
    if (strcmp(cmd, "mkdir") == 0)
        return cmd_mkdir(c, h);
    if (strcmp(cmd, "quit") == 0) {
        send_reply(c, json_pack("{s:b}", "ok", 1), NULL, 0);
        return CLOSE;
    }
    return refuse(c, "unknown_command", "unknown command");
}

/* The native protocol on c->fd until the client quits, goes or idles. */
static void serve_native(struct conn *c)
{
    /* No body limit in the frame layer: weftd answers too_large itself. */
    weft_frame_limits lim = {.max_header = WEFT_FRAME_MAX_HEADER_DEFAULT,
                             .max_body = UINT64_MAX};

    for (;;) {
        json_t *h = NULL;
        uint64_t body = 0;
        if (weft_request_wait_fd(c->req, c->fd) < 0)
            break;
        int rc = weft_frame_recv(c->fd, &lim, &h, &body, c->io_ms);
        if (rc == WEFT_EHDRLEN || rc == WEFT_EHDRJSON || rc == WEFT_EBODYSIZE) {
            /* The framing is lost: answer, then close. */
            c->id = NULL;
            refuse(c, "bad_request", "%s", weft_strerror(rc));
            linger_close(c, 0);
            break;
        }
        if (rc < 0)
            break;
        c->id = json_object_get(h, "id");
        rc = dispatch(c, h, body);
        json_decref(h);
        if (rc != GO_ON)
            break;
    }
}

/* The first byte tells TLS (a handshake record) from plain. With
 * --tls-cert a TLS connection is served through libweft's TLS pump
 * (weft/tls.h), whose socket pair end becomes c->fd; a plain one only
 * from this machine.
 * Without it, a TLS client is told nothing it could read: it is logged
 * and closed. GO_ON, or CLOSE when the connection is done. */
static int start_tls(struct conn *c, weft_tls_conn **tls)
{
    unsigned char first;

    if (weft_request_wait(c->req) < 0)
        return CLOSE;
    if (weft_co_recv(c->fd, &first, 1, MSG_PEEK, c->io_ms) != 1)
        return CLOSE;
    if (first != WEFT_TLS_RECORD_HANDSHAKE) {
        if (c->cfg->tls == NULL ||
            weftd_addr_is_local(weft_request_peer(c->req)))
            return GO_ON;
        refuse(c, "tls_required",
               "this server takes plain connections from its own machine "
               "only: connect with TLS (weft --tls)");
        return linger_close(c, 0);
    }
    if (c->cfg->tls == NULL) {
        weftd_log(WEFT_LOG_INFO,
                  "%s: a TLS handshake, but weftd has no "
                  "--tls-cert: closed",
                  c->peer);
        return CLOSE;
    }
    int rc = weft_tls_accept(tls, c->cfg->tls, c->fd, c->io_ms);
    if (rc < 0) {
        weftd_log(WEFT_LOG_WARN, "%s: TLS: %s", c->peer, weft_strerror(rc));
        return CLOSE;
    }
    c->fd = weft_tls_fd(*tls);
    return GO_ON;
}

/* HTTP or the native protocol? A frame starts with its header's length,
 * 4 bytes little-endian, at most 64 KiB: its last two bytes are zero. An
 * HTTP request starts with its method and a space ("GET ", "HEAD",
 * "POST", "PUT ", "DELE", "OPTI"): four bytes of capitals and spaces,
 * which as a length would be over 500 MB. 1 for HTTP, 0 for native, -1
 * when the client went or sent nothing within the I/O timeout. */
static int speaks_http(struct conn *c)
{
    unsigned char b[4];
    weft_deadline d = weft_deadline_in(c->io_ms);

    if (weft_request_wait_fd(c->req, c->fd) < 0)
        return -1;
    for (;;) {
        ssize_t n = weft_co_recv(c->fd, b, sizeof b, MSG_PEEK,
                                 weft_deadline_remaining_ms(d));
        if (n <= 0)
            return -1;
        for (ssize_t i = 0; i < n; i++)
            if (!((b[i] >= 'A' && b[i] <= 'Z') || b[i] == ' '))
                return 0;
        if (n == 4)
            return 1;
        /* A few capitals so far: wait for the rest (rare; a byte-by-byte
         * client). */
        if (weft_deadline_expired(d) || weft_co_sleep(5) < 0)
            return -1;
    }
}

void weftd_handle(weft_request *req, void *arg)
{
    struct conn c = {.req = req,
                     .cfg = arg,
                     .fd = weft_request_fd(req),
                     .io_ms = weft_request_io_timeout(req),
                     .user_root.fd = -1};
    weft_tls_conn *tls = NULL;
    char err[WEFT_TLS_ERR_MAX];

    if (weft_addr_format(weft_request_peer(req), c.peer, sizeof c.peer) < 0)
        snprintf(c.peer, sizeof c.peer, "?");
    logout(&c); /* the session starts as nobody's */
    if (start_tls(&c, &tls) == GO_ON) {
        int http = speaks_http(&c);
        if (http == 1)
            weftd_web_serve(req, c.cfg, c.fd, tls != NULL, c.peer);
        else if (http == 0)
            serve_native(&c);
    }
    logout(&c);
    /* The server closes the socket itself after the handler. */
    if (tls != NULL && weft_tls_close(tls, 0, err, sizeof err) < 0)
        weftd_log(WEFT_LOG_INFO, "%s: %s", c.peer, err);
}

int weftd_refusal(weft_buf *out)
{
    json_t *h = json_pack("{s:b, s:s, s:s}", "ok", 0, "error", "busy",
                          "message", "too many connections, try again later");
    if (h == NULL)
        return -ENOMEM;
    int rc = weft_frame_encode(h, 0, out);
    json_decref(h);
    return rc;
}
