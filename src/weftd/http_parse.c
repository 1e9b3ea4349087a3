/* http_parse.c - the HTTP/1.1 request head and the chunked transfer
 * coding (RFC 9112), parsed strictly and within fixed bounds.
 *
 * The head parser works line by line: each call searches only the bytes
 * it has not seen for the next LF, and a complete line is checked and
 * recorded (as offsets, so the caller's buffer may move) at once. Every
 * decision is taken at the first byte that makes it certain, in byte
 * order, so the result never depends on how the bytes were split; the
 * fuzz target checks exactly that. Header values are not copied: the
 * request keeps their offsets in the caller's buffer.
 *
 * What it refuses and why (request smuggling, mostly) is in docs/http.md.
 */
#include <limits.h>
#include <string.h>
#include <strings.h>

#include "http.h"

/* ---- character classes (RFC 9110 section 5.6.2, 5.5) ---------------- */

static bool is_tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
        (c >= '0' && c <= '9'))
        return true;
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* field-vchar, SP or HTAB; obs-text (0x80-0xff) is allowed. */
static bool is_field_char(unsigned char c)
{
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

/* A byte of a request target: visible ASCII or obs-text, no '#'. */
static bool is_target_char(unsigned char c)
{
    return c > 0x20 && c != 0x7f && c != '#';
}

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* s[0..n) equals the lower-case word w, in any case. */
static bool word_eq(const char *s, size_t n, const char *w)
{
    return strlen(w) == n && strncasecmp(s, w, n) == 0;
}

/* Trim OWS from both ends of s[*a..*b). */
static void trim(const char *s, size_t *a, size_t *b)
{
    while (*a < *b && is_ows(s[*a]))
        (*a)++;
    while (*b > *a && is_ows(s[*b - 1]))
        (*b)--;
}

/* ---- the request line ------------------------------------------------ */

static const struct {
    const char *name;
    int method;
} methods[] = {
    {"GET", HTTP_GET}, {"HEAD", HTTP_HEAD},     {"POST", HTTP_POST},
    {"PUT", HTTP_PUT}, {"DELETE", HTTP_DELETE}, {"OPTIONS", HTTP_OPTIONS},
};

/* Decode the path p[0..n) into r->path and refuse what must never reach
 * the file system: an encoded NUL, a bad escape, "." or ".." segments
 * (also when encoded, as %2e%2e). 0 or -400. */
static int set_path(struct http_request *r, const char *p, size_t n)
{
    ssize_t d = http_pct_decode(p, n, r->path, sizeof r->path, false);
    if (d <= 0 || r->path[0] != '/')
        return -400;
    r->path_len = (size_t)d;
    size_t seg = 1;
    for (size_t i = 1; i <= r->path_len; i++) {
        if (i < r->path_len && r->path[i] != '/')
            continue;
        size_t k = i - seg;
        const char *c = r->path + seg;
        if ((k == 1 && c[0] == '.') || (k == 2 && c[0] == '.' && c[1] == '.'))
            return -400;
        seg = i + 1;
    }
    return 0;
}

/* The target t[0..n) at offset off of the buffer: origin-form "/...",
 * absolute-form "http://host/..." (the path is taken, the authority
 * ignored) or "*" for OPTIONS. 0 or -400. */
static int parse_target(struct http_request *r, const char *t, size_t n,
                        size_t off, bool options)
{
    size_t i = 0;
    r->target_off = (uint32_t)off;
    r->target_len = n;
    if (n == 1 && t[0] == '*') {
        if (!options)
            return -400;
        r->path[0] = '*';
        r->path[1] = '\0';
        r->path_len = 1;
        return 0;
    }
    if (t[0] != '/') {
        size_t s;
        if (n > 7 && strncasecmp(t, "http://", 7) == 0)
            s = 7;
        else if (n > 8 && strncasecmp(t, "https://", 8) == 0)
            s = 8;
        else
            return -400;
        i = s;
        while (i < n && t[i] != '/' && t[i] != '?')
            i++;
        if (i == s)
            return -400; /* no authority */
    }
    size_t q = i;
    while (q < n && t[q] != '?')
        q++;
    if (q < n) {
        r->query_off = (uint32_t)(off + q + 1);
        r->query_len = n - q - 1;
    }
    if (i == q) /* absolute-form without a path: "/" */
        return set_path(r, "/", 1);
    return set_path(r, t + i, q - i);
}

/* The request line p[0..n) (without its CRLF) at offset off. */
static int request_line(struct http_request *r, const char *p, size_t n,
                        size_t off)
{
    size_t i = 0;
    while (i < n && is_tchar((unsigned char)p[i]))
        i++;
    if (i == 0 || i == n || p[i] != ' ')
        return -400;
    size_t mlen = i, t = ++i;
    while (i < n && p[i] != ' ') {
        if (!is_target_char((unsigned char)p[i]))
            return -400;
        i++;
    }
    if (i == t || i == n)
        return -400;
    size_t tlen = i - t;
    const char *v = p + i + 1;
    if (n - i - 1 != 8 || memcmp(v, "HTTP/", 5) != 0 || v[5] < '0' ||
        v[5] > '9' || v[6] != '.' || v[7] < '0' || v[7] > '9')
        return -400;
    int rc = parse_target(r, p + t, tlen, off + t,
                          mlen == 7 && memcmp(p, "OPTIONS", 7) == 0);
    if (rc < 0)
        return rc;
    if (v[5] != '1' || (v[7] != '0' && v[7] != '1'))
        return -505;
    r->version = v[7] == '1' ? 11 : 10;
    for (size_t k = 0; k < sizeof methods / sizeof methods[0]; k++) {
        /* Methods are case-sensitive: "get" is unknown. */
        if (strlen(methods[k].name) == mlen &&
            memcmp(methods[k].name, p, mlen) == 0) {
            r->method = methods[k].method;
            return 0;
        }
    }
    return -501;
}

/* ---- header lines ---------------------------------------------------- */

/* Content-Length: 1*DIGIT, or a list of identical ones ("5, 5"), equal
 * to any earlier Content-Length. At most INT64_MAX (an off_t). */
static int content_length(struct http_request *r, const char *v, size_t n)
{
    size_t i = 0;
    for (;;) {
        size_t a = i, b;
        while (i < n && v[i] != ',')
            i++;
        b = i;
        trim(v, &a, &b);
        if (a == b)
            return -400;
        uint64_t x = 0;
        for (size_t k = a; k < b; k++) {
            if (v[k] < '0' || v[k] > '9')
                return -400;
            unsigned d = (unsigned)(v[k] - '0');
            if (x > ((uint64_t)INT64_MAX - d) / 10)
                return -400;
            x = x * 10 + d;
        }
        if (r->n_cl > 0 && x != r->content_length)
            return -400;
        r->content_length = x;
        r->n_cl = 1;
        if (i == n)
            return 0;
        i++; /* the comma */
    }
}

/* Transfer-Encoding: a list of codings, across all its lines; chunked
 * must come last and once. Unknown codings are noted for a 501 (after
 * every 400 has had its chance). */
static int transfer_encoding(struct http_request *r, const char *v, size_t n)
{
    size_t i = 0;
    for (;;) {
        size_t a = i, b;
        while (i < n && v[i] != ',')
            i++;
        b = i;
        trim(v, &a, &b);
        if (a == b || r->te_chunked)
            return -400; /* empty, or something after chunked */
        for (size_t k = a; k < b; k++)
            if (!is_tchar((unsigned char)v[k]))
                return -400; /* parameters are not supported either */
        if (word_eq(v + a, b - a, "chunked"))
            r->te_chunked = true;
        else
            r->te_other = true;
        if (i == n)
            return 0;
        i++;
    }
}

/* Connection: the "close" and "keep-alive" options; others ignored. */
static void connection(struct http_request *r, const char *v, size_t n)
{
    size_t i = 0;
    while (i <= n) {
        size_t a = i, b;
        while (i < n && v[i] != ',')
            i++;
        b = i;
        trim(v, &a, &b);
        if (word_eq(v + a, b - a, "close"))
            r->conn_close = true;
        else if (word_eq(v + a, b - a, "keep-alive"))
            r->conn_keep_alive = true;
        i++;
    }
}

/* Host: uri-host [":" port]: reg-name, IPv4 or an IP literal. */
static bool host_ok(const char *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || strchr("-._~!$&'()*+,;=:[]%", c)))
            return false;
    }
    return true;
}

/* One header line p[0..n) (without CRLF) at offset off. */
static int header_line(struct http_request *r, const char *p, size_t n,
                       size_t off)
{
    if (is_ows(p[0]))
        return -400; /* obsolete line folding */
    size_t i = 0;
    while (i < n && is_tchar((unsigned char)p[i]))
        i++;
    /* No colon, a space before it, or a bad byte in the name. */
    if (i == 0 || i == n || p[i] != ':')
        return -400;
    size_t nlen = i++;
    for (size_t k = i; k < n; k++)
        if (!is_field_char((unsigned char)p[k]))
            return -400;
    size_t a = i, b = n;
    trim(p, &a, &b);
    struct http_field *f = &r->fields[r->n_fields++];
    f->name = (uint32_t)off;
    f->name_len = (uint32_t)nlen;
    f->value = (uint32_t)(off + a);
    f->value_len = (uint32_t)(b - a);

    const char *v = p + a;
    size_t vn = b - a;
    if (word_eq(p, nlen, "content-length"))
        return content_length(r, v, vn);
    if (word_eq(p, nlen, "transfer-encoding")) {
        r->n_te++;
        return transfer_encoding(r, v, vn);
    }
    if (word_eq(p, nlen, "host")) {
        r->n_host++;
        return host_ok(v, vn) ? 0 : -400;
    }
    if (word_eq(p, nlen, "connection"))
        connection(r, v, vn);
    else if (word_eq(p, nlen, "expect") && word_eq(v, vn, "100-continue"))
        r->expect_continue = r->version == 11; /* 1.0 has no 100 */
    return 0;
}

/* The empty line: the head is complete; check what spans lines. */
static int finish(struct http_request *r, size_t end)
{
    if (r->version == 11 && r->n_host == 0)
        return -400;
    if (r->n_host > 1)
        return -400;
    if (r->n_te > 0) {
        /* Both framings: a smuggling attempt. HTTP/1.0 has no chunked. */
        if (r->n_cl > 0 || r->version == 10 || !r->te_chunked)
            return -400;
        if (r->te_other)
            return -501;
        r->body = HTTP_BODY_CHUNKED;
    } else if (r->n_cl > 0) {
        r->body = HTTP_BODY_LENGTH;
    } else {
        r->body = HTTP_BODY_NONE;
    }
    if (r->version == 11)
        r->keep_alive = !r->conn_close;
    else
        r->keep_alive = r->conn_keep_alive && !r->conn_close;
    r->target = r->buf + r->target_off;
    r->query = r->query_off != 0 ? r->buf + r->query_off : NULL;
    return (int)end;
}

/* The line buf[s..e) whose LF is at e: 0 to go on, > 0 done, < 0. */
static int line(struct http_request *r, const char *buf, size_t s, size_t e)
{
    size_t n = e - s;
    if (r->hdr == 0) {
        if (n > HTTP_MAX_REQUEST_LINE + 1)
            return -414;
        if (n == 0 || buf[e - 1] != '\r')
            return -400; /* bare LF */
        if (n == 1) {
            /* RFC 9112 section 2.2: one CRLF before the request line
             * is ignored (a client's leftover after a POST body). */
            if (s != 0)
                return -400;
            return 0;
        }
        int rc = request_line(r, buf + s, n - 1, s);
        if (rc < 0)
            return rc;
        r->hdr = e + 1;
        return 0;
    }
    size_t total = e + 1 - r->hdr;
    if (total > HTTP_MAX_HEADER_BYTES)
        return -431;
    if (n == 0 || buf[e - 1] != '\r')
        return -400;
    if (n == 1)
        return finish(r, e + 1);
    /* The final CRLF must still fit. */
    if (total + 2 > HTTP_MAX_HEADER_BYTES || r->n_fields == HTTP_MAX_HEADERS)
        return -431;
    return header_line(r, buf + s, n - 1, s);
}

void http_request_init(struct http_request *r)
{
    memset(r, 0, offsetof(struct http_request, path));
    r->path[0] = '\0';
    memset(&r->path_len, 0,
           sizeof *r - offsetof(struct http_request, path_len));
}

int http_parse_request(struct http_request *r, const char *buf, size_t len)
{
    r->buf = buf;
    for (;;) {
        if (r->scan < r->pos)
            r->scan = r->pos;
        const char *lf = NULL;
        if (r->scan < len)
            lf = memchr(buf + r->scan, '\n', len - r->scan);
        if (lf == NULL) {
            /* The line so far already breaks its limit? (Its LF, at
             * least, is still to come.) */
            r->scan = len;
            if (r->hdr == 0 && len - r->pos >= HTTP_MAX_REQUEST_LINE + 2)
                return -414;
            if (r->hdr != 0 && len - r->hdr >= HTTP_MAX_HEADER_BYTES)
                return -431;
            return 0;
        }
        size_t e = (size_t)(lf - buf);
        int rc = line(r, buf, r->pos, e);
        if (rc != 0)
            return rc;
        r->pos = e + 1;
    }
}

const char *http_header(const struct http_request *r, const char *name,
                        size_t *len)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < r->n_fields; i++) {
        const struct http_field *f = &r->fields[i];
        if (f->name_len == n && strncasecmp(r->buf + f->name, name, n) == 0) {
            *len = f->value_len;
            return r->buf + f->value;
        }
    }
    return NULL;
}

/* ---- chunked bodies (RFC 9112 section 7.1) --------------------------- */

enum {
    CH_SIZE,       /* chunk-size hex digits */
    CH_BWS,        /* blanks after the size: only ';' may follow */
    CH_EXT,        /* a chunk extension, skipped up to its CR */
    CH_SIZE_LF,    /* the LF of the size line */
    CH_DATA,       /* chunk data, left bytes to go */
    CH_DATA_CR,    /* the CRLF after chunk data */
    CH_DATA_LF,    /* */
    CH_TRAILER,    /* the start of a trailer line, or the final CRLF */
    CH_TRAILER_IN, /* inside a trailer line */
    CH_TRAILER_LF, /* the LF ending a trailer line */
    CH_END_LF,     /* the LF of the final CRLF */
    CH_DONE,
    CH_ERROR, /* sticky: every later feed fails too */
};

void http_chunked_init(struct http_chunked *c)
{
    memset(c, 0, sizeof *c);
    c->state = CH_SIZE;
}

int http_chunked_feed(struct http_chunked *c, char *buf, size_t len,
                      size_t *used, size_t *body)
{
    size_t i = 0, out = 0;
    int rc = 0;
    if (c->state == CH_ERROR)
        goto bad;
    while (i < len && c->state != CH_DONE) {
        unsigned char ch = (unsigned char)buf[i];
        switch (c->state) {
        case CH_SIZE: {
            int h = hexval(ch);
            if (h >= 0) {
                /* Sizes stay below 2^60, so no sum downstream overflows;
                 * leading zeros are bounded too. */
                if ((c->left >> 56) != 0 || ++c->digits > 64)
                    goto bad;
                c->left = c->left * 16 + (unsigned)h;
            } else if (c->digits == 0) {
                goto bad; /* no digit */
            } else if (ch == ';') {
                c->state = CH_EXT;
            } else if (is_ows((char)ch)) {
                c->state = CH_BWS;
            } else if (ch == '\r') {
                c->state = CH_SIZE_LF;
            } else {
                goto bad;
            }
            i++;
            break;
        }
        case CH_BWS:
            if (ch == ';')
                c->state = CH_EXT;
            else if (!is_ows((char)ch))
                goto bad;
            if (++c->ext > HTTP_MAX_CHUNK_EXT)
                goto bad;
            i++;
            break;
        case CH_EXT:
            if (ch == '\r')
                c->state = CH_SIZE_LF;
            else if (!is_field_char(ch))
                goto bad;
            if (++c->ext > HTTP_MAX_CHUNK_EXT)
                goto bad;
            i++;
            break;
        case CH_SIZE_LF:
            if (ch != '\n')
                goto bad;
            c->state = c->left == 0 ? CH_TRAILER : CH_DATA;
            c->digits = 0;
            c->ext = 0;
            i++;
            break;
        case CH_DATA: {
            size_t n = len - i;
            if (n > c->left)
                n = (size_t)c->left;
            /* Out never passes i: the body moves toward the front. */
            memmove(buf + out, buf + i, n);
            out += n;
            i += n;
            c->left -= n;
            c->total += n;
            if (c->left == 0)
                c->state = CH_DATA_CR;
            break;
        }
        case CH_DATA_CR:
            if (ch != '\r')
                goto bad;
            c->state = CH_DATA_LF;
            i++;
            break;
        case CH_DATA_LF:
            if (ch != '\n')
                goto bad;
            c->state = CH_SIZE;
            i++;
            break;
        case CH_TRAILER:
            if (ch == '\r') {
                c->state = CH_END_LF;
                i++;
                break;
            }
            if (is_ows((char)ch))
                goto bad; /* folding, as in the head */
            c->state = CH_TRAILER_IN;
            break;
        case CH_TRAILER_IN:
            if (ch == '\r')
                c->state = CH_TRAILER_LF;
            else if (!is_field_char(ch))
                goto bad;
            if (++c->trailer > HTTP_MAX_TRAILER)
                goto bad;
            i++;
            break;
        case CH_TRAILER_LF:
            if (ch != '\n')
                goto bad;
            c->state = CH_TRAILER;
            i++;
            break;
        case CH_END_LF:
            if (ch != '\n')
                goto bad;
            c->state = CH_DONE;
            i++;
            break;
        default:
            goto bad;
        }
    }
    rc = c->state == CH_DONE;
    *used = i;
    *body = out;
    return rc;
bad:
    c->state = CH_ERROR;
    *used = i;
    *body = out;
    return -400;
}
