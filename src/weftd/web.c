/* web.c - weftd's HTTP/1.1 side: the same library for browsers and curl,
 * on the same port as the native protocol (docs/weftd.md, "HTTP").
 *
 * One call per connection that proto.c found to speak HTTP (its first
 * four bytes are those of a method). Requests are read into one buffer
 * per connection and parsed by http.h's strict parser; responses are
 * written in order, so pipelined requests are answered as they come.
 *
 *   GET, HEAD    files (sendfile; small ones read into the head's buffer
 *                and sent in one write), with ETag, Last-Modified, 304s,
 *                Range (206, multipart/byteranges, 416); folders as an
 *                HTML page or JSON (?format=json, Accept: application/json)
 *   PUT          a file, streamed to disk through fs.c's atomic uploads
 *   POST         a browser form's files (multipart/form-data) into a folder
 *   DELETE       a file or an empty folder
 *   OPTIONS      what is allowed
 *
 * With users (--users), every request needs HTTP Basic credentials, and
 * they are taken only over TLS or from this machine (unless
 * --insecure-http-auth). A connection remembers its last good
 * Authorization header (by its SHA-256), so a browser's keep-alive
 * requests do not pay argon2id each time.
 *
 * This file reads untrusted input (the parser's results, bodies): paths
 * go through weftd_path_check and fs.c like the native protocol's.
 * Buffers live on the heap (coroutine stacks are small).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "http.h"
#include "weftd.h"

#define IN_CAP     (HTTP_HEAD_MAX + 256 * 1024) /* head + body pieces */
#define SMALL_FILE (32 * 1024) /* sent from the head's buffer */
#define SEND_SLICE ((size_t)2 << 20)
#define DRAIN_MAX  (64 * 1024) /* an unwanted body read to keep alive */
#define AUTH_MAX   2048        /* bytes of an Authorization header */
#define MAX_NAMES  100000      /* entries an HTML listing sorts */

enum { GO_ON = 0, CLOSE = 1 };

struct web {
    weft_request *req;
    const struct weftd_config *cfg;
    int fd;     /* the client's socket, or the TLS pump's end */
    int io_ms;  /* the I/O timeout */
    bool tls;   /* this connection came through TLS */
    bool local; /* the peer is this machine */
    const char *peer;
    char *in;        /* bytes received */
    size_t have;     /* ... how many */
    size_t pos;      /* ... consumed up to here (head and body) */
    size_t head_len; /* the current request's head */
    bool close;      /* close after this response */
    weft_buf out;    /* the response head (and a small body) */
    weft_buf page;   /* a generated body (listings, error pages) */
    time_t date_t;   /* the Date header, made once a second */
    char date[HTTP_DATE_LEN + 1];
    /* The login: the session's root and flags. */
    const struct weftd_user *user;
    char auth_hex[65]; /* SHA-256 of the Authorization that logged in */
    struct weftd_root user_root;
    const struct weftd_root *root;
    bool read_only;
    struct http_request r;
};

static const char *reason(int status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 204:
        return "No Content";
    case 206:
        return "Partial Content";
    case 301:
        return "Moved Permanently";
    case 303:
        return "See Other";
    case 304:
        return "Not Modified";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 411:
        return "Length Required";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 415:
        return "Unsupported Media Type";
    case 416:
        return "Range Not Satisfiable";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 501:
        return "Not Implemented";
    case 503:
        return "Service Unavailable";
    case 505:
        return "HTTP Version Not Supported";
    case 507:
        return "Insufficient Storage";
    default:
        return "Internal Server Error";
    }
}

/* ---- writing ------------------------------------------------------------- */

/* Responses are made by hand, not by printf: these run for every request
 * (a 1 KiB file is served tens of thousands of times a second). */

/* Decimal digits of v at p: the end. */
static char *put_uint(char *p, uint64_t v)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v > 0);
    while (n > 0)
        *p++ = tmp[--n];
    return p;
}

static char *put_2(char *p, int v)
{
    *p++ = (char)('0' + v / 10 % 10);
    *p++ = (char)('0' + v % 10);
    return p;
}

static char *put_lit(char *p, const char *s)
{
    size_t n = strlen(s);
    memcpy(p, s, n);
    return p + n;
}

/* Append decimal v to b. */
static void add_uint(weft_buf *b, uint64_t v)
{
    char tmp[24];
    weft_buf_append(b, tmp, (size_t)(put_uint(tmp, v) - tmp));
}

static int send_all(struct web *w, const void *p, size_t n, int flags)
{
    const char *s = p;
    while (n > 0) {
        ssize_t k = weft_co_send(w->fd, s, n, flags, w->io_ms);
        if (k < 0)
            return (int)k;
        s += k;
        n -= (size_t)k;
    }
    return 0;
}

static const char *date_now(struct web *w)
{
    time_t now = time(NULL);
    if (now != w->date_t) {
        w->date_t = now;
        http_date_format(now, w->date);
    }
    return w->date;
}

/* Start a response head in w->out. */
static void head_begin(struct web *w, int status)
{
    char code[5] = {(char)('0' + status / 100 % 10),
                    (char)('0' + status / 10 % 10), (char)('0' + status % 10),
                    ' ', '\0'};
    weft_buf *b = &w->out;
    weft_buf_reset(b);
    weft_buf_append_str(b, "HTTP/1.1 ");
    weft_buf_append_str(b, code);
    weft_buf_append_str(b, reason(status));
    weft_buf_append_str(b, "\r\nServer: weftd\r\nDate: ");
    weft_buf_append_str(b, date_now(w));
    weft_buf_append(b, "\r\n", 2);
}

/* End it: the connection's fate and the blank line. 0 or -ENOMEM. */
static int head_end(struct web *w)
{
    if (w->close)
        weft_buf_append_str(&w->out, "Connection: close\r\n");
    else if (w->r.version == 10)
        weft_buf_append_str(&w->out, "Connection: keep-alive\r\n");
    return weft_buf_append(&w->out, "\r\n", 2);
}

/* A whole response whose body is in memory (none for HEAD). GO_ON or
 * CLOSE. */
static int respond(struct web *w, int status, const char *ctype,
                   const char *extra, const void *body, size_t len)
{
    head_begin(w, status);
    if (ctype != NULL) {
        weft_buf_append_str(&w->out, "Content-Type: ");
        weft_buf_append_str(&w->out, ctype);
        weft_buf_append(&w->out, "\r\n", 2);
    }
    if (status != 204 && status != 304) {
        weft_buf_append_str(&w->out, "Content-Length: ");
        add_uint(&w->out, len);
        weft_buf_append(&w->out, "\r\n", 2);
    }
    if (extra != NULL)
        weft_buf_append_str(&w->out, extra);
    int rc = head_end(w);
    if (rc == 0 && w->r.method != HTTP_HEAD && len > 0)
        rc = weft_buf_append(&w->out, body, len);
    if (rc == 0)
        rc = send_all(w, w->out.data, w->out.len, 0);
    return rc == 0 && !w->close ? GO_ON : CLOSE;
}

/* An error page: status, one line of explanation, HTML. */
static int error_page(struct web *w, int status, const char *extra,
                      const char *fmt, ...) WEFT_PRINTF(4, 5);
static int error_page(struct web *w, int status, const char *extra,
                      const char *fmt, ...)
{
    char msg[512], esc[1600];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    http_html_escape(msg, strlen(msg), esc, sizeof esc);
    weft_buf_reset(&w->page);
    weft_buf_appendf(&w->page,
                     "<!doctype html>\n<html><head><meta charset=\"utf-8\">"
                     "<title>%d %s</title></head>\n<body><h1>%d %s</h1>\n"
                     "<p>%s</p>\n<p><a href=\"/\">The library</a></p>"
                     "</body></html>\n",
                     status, reason(status), status, reason(status), esc);
    if (w->page.data == NULL)
        return CLOSE;
    return respond(w, status, "text/html; charset=utf-8", extra, w->page.data,
                   w->page.len);
}

/* ---- reading ------------------------------------------------------------- */

/* Read the next request's head: its length (> 0); 0 when the client
 * closed or idled out between requests; -status for a bad or slow head.
 * The whole head must come within the I/O timeout (a client sending a
 * byte a second is dropped). */
static int read_head(struct web *w)
{
    weft_deadline d = weft_deadline_in(w->io_ms);
    bool first = true;

    http_request_init(&w->r);
    for (;;) {
        if (w->have > 0) {
            int rc = http_parse_request(&w->r, w->in, w->have);
            if (rc != 0)
                return rc;
        }
        if (w->have == 0 && first) {
            /* Between requests: the idle timeout, and the server's stop. */
            if (weft_request_wait_fd(w->req, w->fd) < 0)
                return 0;
            d = weft_deadline_in(w->io_ms);
        }
        first = false;
        if (w->have == IN_CAP)
            return -431; /* cannot happen: IN_CAP > HTTP_HEAD_MAX */
        ssize_t n = weft_co_read(w->fd, w->in + w->have, IN_CAP - w->have,
                                 weft_deadline_remaining_ms(d));
        if (n == 0)
            return 0;
        if (n < 0)
            return n == -ETIMEDOUT && w->have > 0 ? -408 : 0;
        w->have += (size_t)n;
    }
}

struct body {
    int kind;      /* enum http_body */
    uint64_t left; /* HTTP_BODY_LENGTH: bytes still to come */
    struct http_chunked ch;
    bool done;
};

static void body_init(struct web *w, struct body *b)
{
    b->kind = w->r.body;
    b->left = w->r.body == HTTP_BODY_LENGTH ? w->r.content_length : 0;
    b->done = w->r.body == HTTP_BODY_NONE ||
              (w->r.body == HTTP_BODY_LENGTH && b->left == 0);
    http_chunked_init(&b->ch);
}

/* The next piece of the body, in place in w->in (valid until the next
 * call): 1 and *p, *n; 0 at its end; -400 (bad chunked coding),
 * -ETIMEDOUT, -ECONNRESET (the client went). */
static int body_next(struct web *w, struct body *b, const char **p, size_t *n)
{
    for (;;) {
        if (b->done)
            return 0;
        if (w->pos == w->have) {
            /* All consumed: the space after the head is free again. */
            w->pos = w->have = w->head_len;
            ssize_t k = weft_co_read(w->fd, w->in + w->have, IN_CAP - w->have,
                                     w->io_ms);
            if (k <= 0)
                return k == 0 ? -ECONNRESET : (int)k;
            w->have += (size_t)k;
        }
        size_t avail = w->have - w->pos;
        if (b->kind == HTTP_BODY_LENGTH) {
            size_t take = avail < b->left ? avail : (size_t)b->left;
            *p = w->in + w->pos;
            *n = take;
            w->pos += take;
            b->left -= take;
            b->done = b->left == 0;
            return 1;
        }
        size_t used = 0, got = 0;
        int rc = http_chunked_feed(&b->ch, w->in + w->pos, avail, &used, &got);
        if (rc < 0)
            return rc;
        *p = w->in + w->pos;
        *n = got;
        w->pos += used;
        b->done = rc == 1;
        if (got > 0)
            return 1;
    }
}

/* Read and drop what is left of the body, if it is small, so the
 * connection can go on; otherwise it will be closed. */
static void drain(struct web *w, struct body *b)
{
    const char *p;
    size_t n, total = 0;
    if (b->kind == HTTP_BODY_LENGTH && b->left > DRAIN_MAX) {
        w->close = true;
        return;
    }
    while (total <= DRAIN_MAX && body_next(w, b, &p, &n) > 0)
        total += n;
    if (!b->done)
        w->close = true;
}

/* ---- the login ----------------------------------------------------------- */

static void logout(struct web *w)
{
    if (w->user_root.fd >= 0)
        close(w->user_root.fd);
    w->user_root.fd = -1;
    w->root = &w->cfg->root;
    w->read_only = w->cfg->read_only;
    w->user = NULL;
    w->auth_hex[0] = '\0';
}

/* Check the request's credentials when the server has users: GO_ON to
 * serve it (as w->user), or the refusal's GO_ON/CLOSE with *answered. */
static int authenticate(struct web *w, bool *answered)
{
    static const char challenge[] =
        "WWW-Authenticate: Basic realm=\"weftd\", charset=\"UTF-8\"\r\n";
    char hex[65], cred[AUTH_MAX], user[WEFTD_USER_MAX + 1];
    const struct weftd_user *u = NULL;
    size_t vlen, clen;
    int retry = 0;

    *answered = false;
    if (w->cfg->auth == NULL)
        return GO_ON;
    *answered = true;
    if (!w->tls && !w->local && !w->cfg->insecure_http_auth)
        return error_page(w, 403, NULL,
                          "This server takes HTTP logins only over TLS "
                          "(https) or from its own machine.");
    const char *v = http_header(&w->r, "Authorization", &vlen);
    if (v == NULL || vlen < 6 || strncasecmp(v, "Basic ", 6) != 0)
        return error_page(w, 401, challenge, "Log in to see this library.");
    if (vlen > AUTH_MAX)
        return error_page(w, 400, NULL, "The credentials are too long.");
    weftd_sha_text(v, vlen, hex);
    if (w->user != NULL && strcmp(hex, w->auth_hex) == 0) {
        *answered = false;
        return GO_ON; /* the same as last time on this connection */
    }
    logout(w);
    const char *b64 = v + 6;
    size_t blen = vlen - 6;
    while (blen > 0 && *b64 == ' ')
        b64++, blen--;
    if (sodium_base642bin((unsigned char *)cred, sizeof cred - 1, b64, blen,
                          NULL, &clen, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0)
        return error_page(w, 400, NULL, "The credentials are not base64.");
    cred[clen] = '\0';
    char *colon = memchr(cred, ':', clen);
    if (colon == NULL || (size_t)(colon - cred) > WEFTD_USER_MAX)
        return error_page(w, 401, challenge, "Wrong user or password.");
    memcpy(user, cred, (size_t)(colon - cred));
    user[colon - cred] = '\0';
    const char *pass = colon + 1;
    size_t plen = clen - (size_t)(colon + 1 - cred);
    if (plen > WEFTD_PASSWORD_MAX || strlen(user) != (size_t)(colon - cred))
        user[0] = '\0'; /* checked all the same, and fails */
    const char *shown =
        weftd_user_name_ok(user, strlen(user)) ? user : "(bad name)";
    int rc = weftd_auth_login(w->cfg->auth, weft_request_peer(w->req), user,
                              pass, plen, &u, &retry);
    sodium_memzero(cred, sizeof cred);
    if (rc == WEFTD_LOGIN_LIMITED) {
        char extra[64];
        snprintf(extra, sizeof extra, "Retry-After: %d\r\n", retry);
        weftd_log(WEFT_LOG_WARN,
                  "%s: http login as %s refused: too many "
                  "failures",
                  w->peer, shown);
        return error_page(w, 429, extra,
                          "Too many failed logins from this address; try "
                          "again in %d s.",
                          retry);
    }
    if (rc == WEFTD_LOGIN_FAILED) {
        weftd_log(WEFT_LOG_WARN, "%s: http login as %s failed", w->peer, shown);
        return error_page(w, 401, challenge, "Wrong user or password.");
    }
    if (rc < 0)
        return error_page(w, 503, "Retry-After: 1\r\n",
                          "The login could not be checked now; try again.");
    if (u->root[0] != '\0') {
        int fd = weftd_open(&w->cfg->root, u->root, O_RDONLY | O_DIRECTORY);
        if (fd < 0) {
            weftd_log(WEFT_LOG_WARN, "%s: user %s: root %s: %s", w->peer,
                      u->name, u->root, weft_strerror(fd));
            return error_page(w, 500, NULL, "The user's folder is missing.");
        }
        w->user_root.fd = fd;
        w->user_root.no_openat2 = w->cfg->root.no_openat2;
        w->root = &w->user_root;
    }
    w->user = u;
    w->read_only = w->cfg->read_only || u->read_only;
    memcpy(w->auth_hex, hex, sizeof hex);
    weftd_log(WEFT_LOG_INFO, "%s: http login as %s", w->peer, u->name);
    *answered = false;
    return GO_ON;
}

/* ---- listings ------------------------------------------------------------ */

struct listing {
    struct weftd_entry *v;
    size_t n, cap;
    weft_buf names; /* the names, NUL-terminated, one after the other */
};

static int collect(void *ud, const struct weftd_entry *e)
{
    struct listing *l = ud;
    if (l->n == MAX_NAMES)
        return -E2BIG;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        struct weftd_entry *v = realloc(l->v, cap * sizeof *v);
        if (v == NULL)
            return -ENOMEM;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n] = *e;
    /* Offsets for now: the arena may move while it grows. */
    l->v[l->n].name = (const char *)(uintptr_t)l->names.len;
    l->n++;
    return weft_buf_append(&l->names, e->name, strlen(e->name) + 1);
}

/* The listing's order, for qsort: set just before it, per thread. */
static _Thread_local int sort_by, sort_desc;

static int by_column(const void *a, const void *b)
{
    const struct weftd_entry *x = a, *y = b;
    int dx = x->type[0] == 'd', dy = y->type[0] == 'd';
    int c = 0;
    if (dx != dy)
        return dy - dx; /* folders first, whatever the order */
    if (sort_by == 1)
        c = x->size < y->size ? -1 : x->size > y->size;
    else if (sort_by == 2)
        c = x->mtime < y->mtime ? -1 : x->mtime > y->mtime;
    if (c == 0)
        c = strcmp(x->name, y->name);
    return sort_desc ? -c : c;
}

/* The listing is built per request, so its rows are made by hand, not
 * by printf: a 1,000-file folder is listed hundreds of times a second. */

/* "123 B", "1.5 KiB", "2.0 GiB"... at p: the end. */
static char *put_size(char *p, uint64_t n)
{
    static const char *const units[] = {" KiB", " MiB", " GiB", " TiB", " PiB"};
    int u = -1;
    uint64_t unit = 1;
    while (u < 4 && n >= unit * 1024) {
        unit *= 1024;
        u++;
    }
    if (u < 0) {
        p = put_uint(p, n);
        memcpy(p, " B", 2);
        return p + 2;
    }
    /* Tenths, rounded half up. */
    uint64_t tenths = (n / unit) * 10 + ((n % unit) * 10 + unit / 2) / unit;
    p = put_uint(p, tenths / 10);
    *p++ = '.';
    *p++ = (char)('0' + tenths % 10);
    memcpy(p, units[u], 4);
    return p + 4;
}

/* "YYYY-MM-DD HH:MM" (UTC) at p: the end. */
static char *put_time(char *p, int64_t secs)
{
    struct tm tm;
    time_t t = (time_t)secs;
    if (gmtime_r(&t, &tm) == NULL || tm.tm_year < -1900 ||
        tm.tm_year > 9999 - 1900)
        return p;
    p = put_2(p, (tm.tm_year + 1900) / 100);
    p = put_2(p, (tm.tm_year + 1900) % 100);
    *p++ = '-';
    p = put_2(p, tm.tm_mon + 1);
    *p++ = '-';
    p = put_2(p, tm.tm_mday);
    *p++ = ' ';
    p = put_2(p, tm.tm_hour);
    *p++ = ':';
    return put_2(p, tm.tm_min);
}

/* One row of the listing's table, appended to b. */
static void html_row(weft_buf *b, const struct weftd_entry *e)
{
    bool dir = e->type[0] == 'd';
    size_t len = strlen(e->name);
    /* Room for the worst case: every byte %XX-encoded in the link and
     * "&quot;"-escaped in the text, plus the markup. */
    size_t room = len * 3 + len * 6 + 160;
    if (weft_buf_reserve(b, room) < 0) {
        weft_buf_free(b);
        return;
    }
    char *start = b->data + b->len, *p = start, *end = start + room;
    p = put_lit(p, "<tr><td><a href=\"");
    p += http_url_encode(e->name, len, p, (size_t)(end - p), false);
    p = put_lit(p, dir ? "/\">" : "\">");
    p += http_html_escape(e->name, len, p, (size_t)(end - p));
    p = put_lit(p, dir ? "/</a></td><td class=\"s\">"
                       : "</a></td><td class=\"s\">");
    if (!dir)
        p = put_size(p, e->size);
    p = put_lit(p, "</td><td class=\"m\">");
    p = put_time(p, e->mtime);
    p = put_lit(p, "</td></tr>\n");
    b->len += (size_t)(p - start);
    b->data[b->len] = '\0';
}

/* Folders first, keeping the order within each kind (a stable
 * partition). */
static void dirs_first(struct listing *l)
{
    size_t nd = 0;
    for (size_t i = 0; i < l->n; i++)
        nd += l->v[i].type[0] == 'd';
    if (nd == 0 || nd == l->n)
        return;
    struct weftd_entry *v = malloc(l->n * sizeof *v);
    if (v == NULL)
        return; /* by name alone, then */
    size_t a = 0, f = nd;
    for (size_t i = 0; i < l->n; i++)
        v[l->v[i].type[0] == 'd' ? a++ : f++] = l->v[i];
    free(l->v);
    l->v = v;
    l->cap = l->n;
}

/* The value of key in a query string (raw, not decoded), or NULL. */
static const char *query_get(const struct http_request *r, const char *key,
                             size_t *len)
{
    size_t klen = strlen(key);
    const char *q = r->query, *end = q != NULL ? q + r->query_len : NULL;
    while (q != NULL && q < end) {
        const char *amp = memchr(q, '&', (size_t)(end - q));
        const char *stop = amp != NULL ? amp : end;
        if ((size_t)(stop - q) > klen && memcmp(q, key, klen) == 0 &&
            q[klen] == '=') {
            *len = (size_t)(stop - q - (ptrdiff_t)klen - 1);
            return q + klen + 1;
        }
        q = amp != NULL ? amp + 1 : NULL;
    }
    return NULL;
}

static bool query_is(const struct http_request *r, const char *key,
                     const char *value)
{
    size_t len;
    const char *v = query_get(r, key, &len);
    return v != NULL && len == strlen(value) && memcmp(v, value, len) == 0;
}

static bool wants_json(const struct web *w)
{
    size_t len;
    const char *a = http_header(&w->r, "Accept", &len);
    if (query_is(&w->r, "format", "json"))
        return true;
    if (a == NULL)
        return false;
    /* A browser says text/html first; a script asking for JSON says it. */
    for (size_t i = 0; i + 16 <= len; i++)
        if (strncasecmp(a + i, "application/json", 16) == 0)
            return true;
    return false;
}

/* Append s escaped for HTML text, straight into b. */
static void html_text(weft_buf *b, const char *s)
{
    size_t len = strlen(s), n = http_html_escape(s, len, NULL, 0);
    if (weft_buf_reserve(b, n + 1) == 0) {
        http_html_escape(s, len, b->data + b->len, n + 1);
        b->len += n;
    }
}

/* Append s[0..len) percent-encoded for a URL. */
static void url_part(weft_buf *b, const char *s, size_t len, bool keep_slash)
{
    size_t n = http_url_encode(s, len, NULL, 0, keep_slash);
    if (weft_buf_reserve(b, n + 1) == 0) {
        http_url_encode(s, len, b->data + b->len, n + 1, keep_slash);
        b->len += n;
    }
}

static const char style[] =
    "<style>body{font:15px/1.5 system-ui,sans-serif;margin:2em auto;"
    "max-width:60em;padding:0 1em;color:#222}h1{font-size:1.3em;"
    "font-weight:600}nav a{text-decoration:none}table{border-collapse:"
    "collapse;width:100%}th,td{padding:.3em .6em;text-align:left;"
    "border-bottom:1px solid #e4e4e4}th a{color:inherit}td.s,th.s{text-align:"
    "right;white-space:nowrap}td.m{white-space:nowrap;color:#555}"
    "tr:hover td{background:#f6f8fa}a{color:#0550ae}form{margin:1.5em 0;"
    "padding:1em;border:1px dashed #bbb;border-radius:6px}"
    "footer{color:#888;font-size:.85em;margin-top:2em}</style>\n";

/* The HTML page of folder path (lib: library path, url: the request's
 * path ending in '/'). */
static int html_listing(struct web *w, const char *lib, const char *url)
{
    struct listing l = {.names = WEFT_BUF_INIT}; /* names: offsets first */
    weft_buf *b = &w->page;
    int rc = weftd_list_each(w->root, lib, collect, &l, NULL);

    if (rc < 0) {
        free(l.v);
        weft_buf_free(&l.names);
        return rc;
    }
    for (size_t i = 0; i < l.n; i++)
        l.v[i].name = l.names.data + (uintptr_t)l.v[i].name;
    sort_by = query_is(&w->r, "sort", "size")    ? 1
              : query_is(&w->r, "sort", "mtime") ? 2
                                                 : 0;
    sort_desc = query_is(&w->r, "order", "desc");
    if (sort_by == 0 && !sort_desc)
        dirs_first(&l); /* by name already: keep it, folders first */
    else if (l.n > 1)
        qsort(l.v, l.n, sizeof *l.v, by_column);

    weft_buf_reset(b);
    weft_buf_append_str(b, "<!doctype html>\n<html lang=\"en\"><head>"
                           "<meta charset=\"utf-8\"><meta name=\"viewport\" "
                           "content=\"width=device-width,initial-scale=1\">"
                           "<title>");
    html_text(b, url);
    weft_buf_append_str(b, " - weftd</title>\n");
    weft_buf_append_str(b, style);
    weft_buf_append_str(b, "</head><body>\n<h1><nav aria-label=\"path\">"
                           "<a href=\"/\">library</a> / ");
    /* The breadcrumb: each folder of the path, linked. */
    for (const char *p = url + 1; *p != '\0';) {
        const char *slash = strchr(p, '/');
        size_t n = slash != NULL ? (size_t)(slash - p) : strlen(p);
        char name[256];
        if (n == 0 || n > 255)
            break;
        memcpy(name, p, n);
        name[n] = '\0';
        weft_buf_append_str(b, "<a href=\"");
        url_part(b, url, (size_t)(p - url) + n, true);
        weft_buf_append_str(b, "/\">");
        html_text(b, name);
        weft_buf_append_str(b, "</a> / ");
        p += n + (slash != NULL);
    }
    weft_buf_append_str(b, "</nav></h1>\n<table><thead><tr>");
    static const char *const cols[] = {"name", "size", "mtime"};
    static const char *const titles[] = {"Name", "Size", "Modified"};
    for (int c = 0; c < 3; c++) {
        bool cur = sort_by == c;
        weft_buf_appendf(b,
                         "<th%s><a href=\"?sort=%s&amp;order=%s\">%s%s</a>"
                         "</th>",
                         c == 1 ? " class=\"s\"" : "", cols[c],
                         cur && !sort_desc ? "desc" : "asc", titles[c],
                         !cur        ? ""
                         : sort_desc ? " &#9660;"
                                     : " &#9650;");
    }
    weft_buf_append_str(b, "</tr></thead>\n<tbody>\n");
    if (url[1] != '\0')
        weft_buf_append_str(b, "<tr><td><a href=\"../\">../</a></td>"
                               "<td class=\"s\"></td><td class=\"m\"></td>"
                               "</tr>\n");
    for (size_t i = 0; i < l.n && b->data != NULL; i++)
        html_row(b, &l.v[i]);
    weft_buf_appendf(b, "</tbody></table>\n<p>%zu item%s</p>\n", l.n,
                     l.n == 1 ? "" : "s");
    if (!w->read_only)
        weft_buf_append_str(
            b, "<form method=\"post\" enctype=\"multipart/form-data\">"
               "<label>Upload to this folder: <input type=\"file\" "
               "name=\"file\" multiple required></label> "
               "<button type=\"submit\">Upload</button></form>\n");
    weft_buf_append_str(b, "<footer>weftd " WEFT_VERSION_STRING
                           " (UTC times)</footer>\n</body></html>\n");
    free(l.v);
    weft_buf_free(&l.names);
    return b->data != NULL ? 0 : -ENOMEM;
}

static int send_listing(struct web *w, const char *lib, const char *url)
{
    int rc;
    if (wants_json(w)) {
        size_t count;
        rc = weftd_list(w->root, lib, &w->page, &count);
        if (rc == 0)
            return respond(w, 200, "application/json", NULL, w->page.data,
                           w->page.len);
    } else {
        rc = html_listing(w, lib, url);
        if (rc == 0)
            return respond(w, 200, "text/html; charset=utf-8",
                           "Cache-Control: no-cache\r\n", w->page.data,
                           w->page.len);
    }
    if (rc == -E2BIG)
        return error_page(w, 500, NULL, "The folder is too large to show.");
    return error_page(w, 500, NULL, "The folder cannot be listed: %s",
                      weft_strerror(rc));
}

/* ---- GET and HEAD -------------------------------------------------------- */

/* The errno of an open or a listing as an error page. */
static int errno_page(struct web *w, int err)
{
    switch (err) {
    case -ENOENT:
    case -ENOTDIR:
        return error_page(w, 404, NULL, "There is no such file or folder.");
    case -EXDEV:
    case -ELOOP:
        return error_page(w, 403, NULL, "That path leads out of the library.");
    case -EACCES:
    case -EPERM:
        return error_page(w, 403, NULL, "weftd may not read that.");
    case -EISDIR:
        return error_page(w, 409, NULL, "That is a folder.");
    case -ENOTEMPTY:
        return error_page(w, 409, NULL, "The folder is not empty.");
    case -EEXIST:
        return error_page(w, 409, NULL, "That name exists already.");
    case -ENOSPC:
    case -EDQUOT:
        return error_page(w, 507, NULL, "The server's disk is full.");
    default:
        weftd_log(WEFT_LOG_WARN, "%s: %s", w->peer, weft_strerror(err));
        return error_page(w, 500, NULL, "Something went wrong: %s",
                          weft_strerror(err));
    }
}

/* sendfile len bytes of fd from off, in slices within the I/O timeout. */
static int send_range(struct web *w, int fd, uint64_t off, uint64_t len)
{
    off_t pos = (off_t)off;
    while (len > 0) {
        size_t n = len < SEND_SLICE ? (size_t)len : SEND_SLICE;
        ssize_t k = weft_co_sendfile(w->fd, fd, &pos, n, w->io_ms);
        if (k <= 0)
            return k == 0 ? -EIO : (int)k; /* 0: the file shrank */
        len -= (uint64_t)k;
        if (len > 0)
            weft_co_yield(); /* the scheduler's others (coroutine model) */
    }
    return 0;
}

static const char byteranges_boundary[] = "weftd-byteranges-7d3f1c";

static int get_file(struct web *w, int fd, const struct stat *st)
{
    char etag[HTTP_ETAG_MAX], mod[HTTP_DATE_LEN + 1], extra[256];
    struct http_range ranges[HTTP_MAX_RANGES];
    const char *ctype = http_mime_type(w->r.path);
    uint64_t size = (uint64_t)st->st_size;
    size_t vlen;
    int n = 0, rc;

    http_etag(etag, size,
              (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec,
              (uint64_t)st->st_ino);
    http_date_format(st->st_mtim.tv_sec, mod);
    char *e = put_lit(extra, "ETag: ");
    e = put_lit(e, etag);
    e = put_lit(e, "\r\nLast-Modified: ");
    e = put_lit(e, mod);
    e = put_lit(e, "\r\nAccept-Ranges: bytes\r\n");
    *e = '\0';
    if (http_not_modified(&w->r, etag, st->st_mtim.tv_sec))
        return respond(w, 304, NULL, extra, NULL, 0);

    const char *range = http_header(&w->r, "Range", &vlen);
    size_t irlen;
    const char *ifr = http_header(&w->r, "If-Range", &irlen);
    /* If-Range: the ranges only if the file is still that version. */
    if (range != NULL && ifr != NULL &&
        !(irlen == strlen(etag) && memcmp(ifr, etag, irlen) == 0) &&
        !(irlen == strlen(mod) && memcmp(ifr, mod, irlen) == 0))
        range = NULL;
    if (range != NULL)
        n = http_parse_range(range, vlen, size, ranges);
    if (n == -416) {
        char cr[300];
        snprintf(cr, sizeof cr, "%sContent-Range: bytes */%llu\r\n", extra,
                 (unsigned long long)size);
        return error_page(w, 416, cr,
                          "No range of that is in the file (%llu "
                          "bytes).",
                          (unsigned long long)size);
    }

    head_begin(w, n > 0 ? 206 : 200);
    weft_buf_append_str(&w->out, extra);
    uint64_t body = size;
    weft_buf parts = WEFT_BUF_INIT; /* multipart: each part's head */
    size_t *part_off = NULL;
    if (n == 1) {
        body = ranges[0].last - ranges[0].first + 1;
        weft_buf_appendf(&w->out,
                         "Content-Type: %s\r\nContent-Range: bytes "
                         "%llu-%llu/%llu\r\n",
                         ctype, (unsigned long long)ranges[0].first,
                         (unsigned long long)ranges[0].last,
                         (unsigned long long)size);
    } else if (n > 1) {
        /* multipart/byteranges: the part heads are made first, for the
         * exact Content-Length. */
        part_off = calloc((size_t)n + 1, sizeof *part_off);
        if (part_off == NULL)
            return CLOSE;
        body = 0;
        for (int i = 0; i < n; i++) {
            part_off[i] = parts.len;
            weft_buf_appendf(
                &parts,
                "\r\n--%s\r\nContent-Type: %s\r\n"
                "Content-Range: bytes %llu-%llu/%llu\r\n\r\n",
                byteranges_boundary, ctype, (unsigned long long)ranges[i].first,
                (unsigned long long)ranges[i].last, (unsigned long long)size);
            body += ranges[i].last - ranges[i].first + 1;
        }
        part_off[n] = parts.len;
        weft_buf_appendf(&parts, "\r\n--%s--\r\n", byteranges_boundary);
        if (parts.data == NULL) {
            free(part_off);
            return CLOSE;
        }
        body += parts.len;
        weft_buf_appendf(&w->out,
                         "Content-Type: multipart/byteranges; boundary=%s\r\n",
                         byteranges_boundary);
    } else {
        weft_buf_append_str(&w->out, "Content-Type: ");
        weft_buf_append_str(&w->out, ctype);
        weft_buf_append(&w->out, "\r\n", 2);
    }
    weft_buf_append_str(&w->out, "Content-Length: ");
    add_uint(&w->out, body);
    weft_buf_append(&w->out, "\r\n", 2);
    rc = head_end(w);
    if (rc < 0) {
        free(part_off);
        weft_buf_free(&parts);
        return CLOSE;
    }
    if (w->r.method == HTTP_HEAD) {
        rc = send_all(w, w->out.data, w->out.len, 0);
    } else if (n <= 1 && body <= SMALL_FILE) {
        /* One write for head and body. */
        uint64_t off = n == 1 ? ranges[0].first : 0;
        size_t at = w->out.len;
        rc = weft_buf_reserve(&w->out, (size_t)body);
        ssize_t k = rc == 0
                        ? pread(fd, w->out.data + at, (size_t)body, (off_t)off)
                        : -1;
        if (k != (ssize_t)body)
            rc = -EIO;
        else
            w->out.len += (size_t)body;
        if (rc == 0)
            rc = send_all(w, w->out.data, w->out.len, 0);
    } else if (n <= 1) {
        rc = send_all(w, w->out.data, w->out.len, MSG_MORE);
        if (rc == 0)
            rc = send_range(w, fd, n == 1 ? ranges[0].first : 0, body);
    } else {
        rc = send_all(w, w->out.data, w->out.len, MSG_MORE);
        for (int i = 0; rc == 0 && i < n; i++) {
            rc = send_all(w, parts.data + part_off[i],
                          part_off[i + 1] - part_off[i], MSG_MORE);
            if (rc == 0)
                rc = send_range(w, fd, ranges[i].first,
                                ranges[i].last - ranges[i].first + 1);
        }
        if (rc == 0)
            rc = send_all(w, parts.data + part_off[n], parts.len - part_off[n],
                          0);
    }
    free(part_off);
    weft_buf_free(&parts);
    return rc == 0 && !w->close ? GO_ON : CLOSE;
}

/* The library path of the request ("" for the library): the request's
 * decoded path without its leading '/' and a trailing '/', checked; NULL
 * after answering 400. */
static const char *lib_path(struct web *w, int *rc)
{
    char *p = w->r.path + 1;
    size_t len = w->r.path_len > 0 ? w->r.path_len - 1 : 0;
    if (w->r.path[0] != '/') {
        *rc = error_page(w, 400, NULL, "That is not a path.");
        return NULL;
    }
    if (len > 0 && p[len - 1] == '/')
        p[--len] = '\0';
    if (weftd_path_check(p, len) < 0) {
        *rc = error_page(w, 400, NULL,
                         "That path is not one weftd serves: no \".\" or "
                         "\"..\", empty or .weft names, or invalid UTF-8.");
        return NULL;
    }
    return p;
}

static int do_get(struct web *w)
{
    bool slash = w->r.path_len > 1 && w->r.path[w->r.path_len - 1] == '/';
    char url[HTTP_MAX_REQUEST_LINE + 2];
    int rc;

    snprintf(url, sizeof url, "%s", w->r.path);
    const char *lib = lib_path(w, &rc);
    if (lib == NULL)
        return rc;
    int fd = weftd_open(w->root, lib, O_RDONLY);
    if (fd < 0)
        return errno_page(w, fd);
    struct stat st;
    if (fstat(fd, &st) < 0) {
        rc = -errno;
        close(fd);
        return errno_page(w, rc);
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        if (lib[0] != '\0' && !slash) {
            /* Folders end in '/', so their relative links work. */
            weft_buf loc = WEFT_BUF_INIT;
            weft_buf_append_str(&loc, "Location: ");
            url_part(&loc, url, strlen(url), true);
            weft_buf_append_str(&loc, "/\r\n");
            rc = loc.data != NULL
                     ? error_page(w, 301, loc.data, "It is a folder: %s/", url)
                     : CLOSE;
            weft_buf_free(&loc);
            return rc;
        }
        if (lib[0] == '\0')
            snprintf(url, sizeof url, "/");
        return send_listing(w, lib, url);
    }
    if (!S_ISREG(st.st_mode) || slash) {
        close(fd);
        return error_page(w, 404, NULL, "There is no such file or folder.");
    }
    rc = get_file(w, fd, &st);
    close(fd);
    return rc;
}

/* ---- PUT, POST, DELETE --------------------------------------------------- */

/* Refusal before a body: answer and close unless the body is small enough
 * to read and drop. */
static int refuse_body(struct web *w, struct body *b, int status,
                       const char *msg)
{
    drain(w, b);
    return error_page(w, status, NULL, "%s", msg);
}

/* Would n more bytes (replacing old) put the library over its quota? */
static bool over_quota(struct web *w, uint64_t n, uint64_t old)
{
    uint64_t used = 0;
    if (w->cfg->quota == 0)
        return false;
    if (weftd_usage(&w->cfg->root, &used) < 0)
        return true;
    return used - (old < used ? old : used) + n > w->cfg->quota;
}

/* 100 Continue, when the client waits for it before its body. */
static int maybe_continue(struct web *w)
{
    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
    if (!w->r.expect_continue || w->r.version < 11)
        return 0;
    return send_all(w, cont, sizeof cont - 1, 0);
}

/* Commit u (all of its bytes received): 0 or -errno. */
static int finish_upload(struct web *w, struct weftd_upload *u,
                         const char *path)
{
    char hex[65];
    if (u->werr != 0) {
        int err = u->werr;
        weftd_upload_abort(u);
        return err;
    }
    weftd_upload_digest(u, hex);
    uint64_t size = u->size;
    int rc = weftd_upload_commit(u, hex);
    if (rc == 0)
        weftd_log(WEFT_LOG_INFO, "%s: http put %s (%llu bytes)", w->peer, path,
                  (unsigned long long)size);
    return rc;
}

static int do_put(struct web *w, struct body *b)
{
    struct weftd_upload u;
    uint64_t held, old = 0;
    bool existed = false;
    struct stat st;
    int rc;

    if (w->read_only)
        return refuse_body(w, b, 403, "The library is read-only.");
    if (w->r.body == HTTP_BODY_NONE)
        return refuse_body(w, b, 411, "A PUT needs a Content-Length.");
    if (w->r.path_len > 1 && w->r.path[w->r.path_len - 1] == '/')
        return refuse_body(w, b, 409, "A PUT names a file, not a folder.");
    w->close = w->close || !b->done; /* if the path is refused */
    const char *lib = lib_path(w, &rc);
    if (lib == NULL)
        return CLOSE;
    w->close = !w->r.keep_alive;
    if (lib[0] == '\0')
        return refuse_body(w, b, 409, "The library is a folder.");
    uint64_t total = w->r.body == HTTP_BODY_LENGTH ? w->r.content_length : 0;
    if (total > w->cfg->max_upload) {
        w->close = true;
        return error_page(w, 413, NULL,
                          "Over the server's limit of %llu bytes.",
                          (unsigned long long)w->cfg->max_upload);
    }
    int fd = weftd_open(w->root, lib, O_PATH);
    if (fd >= 0 && fstat(fd, &st) == 0) {
        existed = true;
        old = S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0;
    }
    if (fd >= 0)
        close(fd);
    if (over_quota(w, total, old)) {
        w->close = true;
        return error_page(w, 507, NULL,
                          "That would put the library over its "
                          "quota.");
    }
    rc = weftd_upload_begin(w->root, lib, 0, &u, &held);
    if (rc < 0) {
        w->close = true;
        return errno_page(w, rc);
    }
    rc = maybe_continue(w);
    const char *p;
    size_t n;
    while (rc == 0 && (rc = body_next(w, b, &p, &n)) > 0) {
        if (u.size + n > w->cfg->max_upload) {
            rc = -EFBIG;
            break;
        }
        weftd_upload_write(&u, p, n);
        rc = 0;
    }
    if (rc < 0) {
        weftd_upload_abort(&u);
        w->close = true;
        weftd_log(WEFT_LOG_INFO, "%s: http put %s cut: %s", w->peer, lib,
                  weft_strerror(rc));
        if (rc == -EFBIG)
            return error_page(w, 413, NULL, "Over the server's limit.");
        if (rc == -400)
            return error_page(w, 400, NULL, "Bad chunked coding.");
        return CLOSE;
    }
    if (w->r.body == HTTP_BODY_CHUNKED && over_quota(w, u.size, old)) {
        weftd_upload_abort(&u);
        return error_page(w, 507, NULL,
                          "That would put the library over its "
                          "quota.");
    }
    rc = finish_upload(w, &u, lib);
    if (rc < 0)
        return errno_page(w, rc);
    if (existed)
        return respond(w, 204, NULL, NULL, NULL, 0);
    weft_buf loc = WEFT_BUF_INIT;
    weft_buf_append_str(&loc, "Location: /");
    url_part(&loc, lib, strlen(lib), true);
    weft_buf_append_str(&loc, "\r\n");
    rc = loc.data != NULL ? respond(w, 201, "text/plain; charset=utf-8",
                                    loc.data, "created\n", 8)
                          : CLOSE;
    weft_buf_free(&loc);
    return rc;
}

/* A browser form's files into a folder. */
struct form {
    struct web *w;
    const char *folder;
    struct weftd_upload u;
    bool active; /* u is open */
    int stored;
    int err; /* the first failure (-errno or -status) */
};

static int form_part(void *ud, const struct http_part *part)
{
    struct form *f = ud;
    char path[WEFTD_MAX_PATH + 1];
    uint64_t held;

    if (part->filename == NULL || part->filename[0] == '\0')
        return 0; /* a plain field, or no file chosen: nothing to store */
    if (!part->filename_ok)
        return f->err = -400;
    int n = snprintf(path, sizeof path, "%s%s%s", f->folder,
                     f->folder[0] != '\0' ? "/" : "", part->filename);
    if (n < 0 || (size_t)n >= sizeof path ||
        weftd_path_check(path, (size_t)n) < 0)
        return f->err = -400;
    int rc = weftd_upload_begin(f->w->root, path, 0, &f->u, &held);
    if (rc < 0)
        return f->err = rc;
    f->active = true;
    return 0;
}

static int form_data(void *ud, const char *p, size_t n)
{
    struct form *f = ud;
    if (!f->active)
        return 0;
    if (f->u.size + n > f->w->cfg->max_upload)
        return f->err = -413;
    weftd_upload_write(&f->u, p, n);
    return 0;
}

static int form_part_end(void *ud)
{
    struct form *f = ud;
    if (!f->active)
        return 0;
    f->active = false;
    int rc = finish_upload(f->w, &f->u, f->u.name);
    if (rc < 0)
        return f->err = rc;
    f->stored++;
    return 0;
}

static int do_post(struct web *w, struct body *b)
{
    char boundary[HTTP_MAX_BOUNDARY + 1];
    struct http_multipart *m;
    size_t vlen;
    int rc;

    if (w->read_only)
        return refuse_body(w, b, 403, "The library is read-only.");
    const char *ct = http_header(&w->r, "Content-Type", &vlen);
    int blen = ct != NULL ? http_multipart_boundary(ct, vlen, boundary) : -1;
    if (blen < 0)
        return refuse_body(w, b, 415,
                           "Upload with a multipart/form-data "
                           "form.");
    w->close = w->close || !b->done; /* if the path is refused */
    const char *lib = lib_path(w, &rc);
    if (lib == NULL)
        return CLOSE;
    w->close = !w->r.keep_alive;
    int dfd = weftd_open(w->root, lib, O_RDONLY | O_DIRECTORY);
    if (dfd < 0) {
        drain(w, b);
        return errno_page(w, dfd);
    }
    close(dfd);
    if (w->r.body == HTTP_BODY_LENGTH &&
        over_quota(w, w->r.content_length, 0)) {
        w->close = true;
        return error_page(w, 507, NULL,
                          "That would put the library over its "
                          "quota.");
    }
    m = malloc(sizeof *m);
    if (m == NULL)
        return CLOSE;
    struct form f = {.w = w, .folder = lib};
    struct http_multipart_cb cb = {form_part, form_data, form_part_end, &f};
    rc = http_multipart_init(m, boundary, (size_t)blen, &cb);
    if (rc == 0)
        rc = maybe_continue(w);
    const char *p;
    size_t n;
    int done = 0;
    while (rc == 0 && done == 0 && (rc = body_next(w, b, &p, &n)) > 0) {
        done = http_multipart_feed(m, p, n);
        rc = done < 0 ? done : 0;
    }
    free(m);
    if (f.active)
        weftd_upload_abort(&f.u);
    if (rc == 0 && done != 1)
        rc = -400; /* the body ended before the closing delimiter */
    if (rc < 0) {
        drain(w, b);
        if (!b->done)
            w->close = true;
        int err = f.err != 0 ? f.err : rc;
        weftd_log(WEFT_LOG_INFO, "%s: http upload to /%s: %d stored, then %s",
                  w->peer, lib, f.stored,
                  err <= -100 ? "a bad form" : weft_strerror(err));
        if (err == -413)
            return error_page(w, 413, NULL,
                              "A file is over the server's "
                              "limit.");
        if (err <= -100 || err == -ECONNRESET || err == -ETIMEDOUT)
            return err <= -100 ? error_page(w, 400, NULL,
                                            "The form could not be read (a "
                                            "file name weftd cannot store?).")
                               : CLOSE;
        return errno_page(w, err);
    }
    drain(w, b); /* the epilogue, if any */
    /* Back to the folder, as browsers expect after a form. */
    weft_buf loc = WEFT_BUF_INIT;
    weft_buf_append_str(&loc, "Location: /");
    url_part(&loc, lib, strlen(lib), true);
    weft_buf_append_str(&loc, lib[0] != '\0' ? "/\r\n" : "\r\n");
    rc = loc.data != NULL ? error_page(w, 303, loc.data, "%d file%s stored.",
                                       f.stored, f.stored == 1 ? "" : "s")
                          : CLOSE;
    weft_buf_free(&loc);
    return rc;
}

static int do_delete(struct web *w, struct body *b)
{
    int rc;
    if (w->read_only)
        return refuse_body(w, b, 403, "The library is read-only.");
    drain(w, b);
    const char *lib = lib_path(w, &rc);
    if (lib == NULL)
        return rc;
    if (lib[0] == '\0')
        return error_page(w, 403, NULL, "The library itself stays.");
    rc = weftd_delete(w->root, lib);
    if (rc < 0)
        return errno_page(w, rc);
    weftd_log(WEFT_LOG_INFO, "%s: http delete %s", w->peer, lib);
    return respond(w, 204, NULL, NULL, NULL, 0);
}

/* ---- the connection ------------------------------------------------------ */

static int dispatch(struct web *w)
{
    static const char allow[] =
        "Allow: GET, HEAD, PUT, POST, DELETE, OPTIONS\r\n";
    struct body b;
    bool answered;
    int rc;

    body_init(w, &b);
    rc = authenticate(w, &answered);
    if (answered) {
        drain(w, &b);
        return w->close ? CLOSE : rc;
    }
    switch (w->r.method) {
    case HTTP_GET:
    case HTTP_HEAD:
        drain(w, &b);
        return do_get(w);
    case HTTP_PUT:
        return do_put(w, &b);
    case HTTP_POST:
        return do_post(w, &b);
    case HTTP_DELETE:
        return do_delete(w, &b);
    case HTTP_OPTIONS:
        drain(w, &b);
        return respond(w, 204, NULL, allow, NULL, 0);
    default:
        drain(w, &b);
        return error_page(w, 405, allow, "That method is not served here.");
    }
}

void weftd_web_serve(weft_request *req, const struct weftd_config *cfg, int fd,
                     bool tls, const char *peer)
{
    struct web *w = calloc(1, sizeof *w);
    if (w == NULL || (w->in = malloc(IN_CAP)) == NULL) {
        free(w);
        return;
    }
    w->req = req;
    w->cfg = cfg;
    w->fd = fd;
    w->io_ms = weft_request_io_timeout(req);
    w->tls = tls;
    w->local = weftd_addr_is_local(weft_request_peer(req));
    w->peer = peer;
    weft_buf_init(&w->out, 0);
    weft_buf_init(&w->page, 0);
    w->user_root.fd = -1;
    logout(w);
    for (;;) {
        int rc = read_head(w);
        if (rc == 0)
            break;
        if (rc < 0) {
            /* The request cannot be read: say why, then close. */
            w->close = true;
            if (w->r.version == 0)
                w->r.version = 11;
            weftd_log(WEFT_LOG_INFO, "%s: http: %d %s", w->peer, -rc,
                      reason(-rc));
            error_page(w, -rc, NULL, "weftd could not read that request.");
            break;
        }
        w->head_len = w->pos = (size_t)rc;
        w->close = !w->r.keep_alive;
        rc = dispatch(w);
        if (rc != GO_ON || w->close)
            break;
        /* What follows is the next request (pipelining). */
        memmove(w->in, w->in + w->pos, w->have - w->pos);
        w->have -= w->pos;
        w->pos = w->head_len = 0;
    }
    logout(w);
    weft_buf_free(&w->out);
    weft_buf_free(&w->page);
    free(w->in);
    free(w);
}
