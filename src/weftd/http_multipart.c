/* http_multipart.c - multipart/form-data request bodies (RFC 7578, RFC
 * 2046 section 5.1), parsed as they stream in.
 *
 * The body is a sequence of parts, each after a delimiter line
 * "--boundary" that starts the body or follows a CRLF. The parser looks
 * for "\r\n--boundary" in the data: content bytes go straight from the
 * caller's buffer to on_data; only a possible delimiter prefix at the end
 * of a piece is held back, and as it is by definition a prefix of the
 * delimiter, it is re-sent from the delimiter string if it turns out to
 * be content. So nothing of a part is ever copied, and memory is the
 * fixed struct whatever the part's size. Because the boundary holds no
 * CR, a mismatch never needs to back up within that prefix: the only
 * place a new match can start is the current byte.
 *
 * A part's header lines are buffered (HTTP_MAX_PART_HEAD bytes at most)
 * and read for Content-Disposition's name and filename and for the
 * part's Content-Type. How browsers quote those values, and what file
 * names are refused, is in docs/http.md.
 */
#include <string.h>
#include <strings.h>

#include "http.h"

enum {
    MP_PREAMBLE, /* before the first delimiter: skipped */
    MP_DELIM,    /* a delimiter matched: "--", blanks or CRLF follow */
    MP_CLOSE,    /* "--boundary-": the second '-' of the close */
    MP_PAD,      /* blanks after the delimiter */
    MP_LF,       /* the LF of the delimiter line */
    MP_HEADERS,  /* a part's header lines */
    MP_DATA,     /* a part's content */
    MP_DONE,     /* after the close delimiter: the epilogue, ignored */
    MP_ERROR,
};

#define MAX_PAD 256 /* blanks after a delimiter */

/* RFC 2046 bchars: DIGIT / ALPHA / "'()+_,-./:=?" and space. */
static bool is_bchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("'()+_,-./:=? ", c) != NULL);
}

static bool is_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

static bool boundary_ok(const char *b, size_t n)
{
    if (n == 0 || n > HTTP_MAX_BOUNDARY || b[n - 1] == ' ')
        return false;
    for (size_t i = 0; i < n; i++)
        if (!is_bchar((unsigned char)b[i]))
            return false;
    return true;
}

int http_multipart_boundary(const char *v, size_t len,
                            char out[HTTP_MAX_BOUNDARY + 1])
{
    static const char type[] = "multipart/form-data";
    size_t i = sizeof type - 1;
    if (len < i || strncasecmp(v, type, i) != 0)
        return -1;
    /* Parameters: *( OWS ";" OWS name "=" value ), any order. */
    int found = -1;
    while (i < len) {
        while (i < len && is_ows(v[i]))
            i++;
        if (i == len)
            break;
        if (v[i++] != ';')
            return -1;
        while (i < len && is_ows(v[i]))
            i++;
        size_t a = i;
        while (i < len && is_tchar((unsigned char)v[i]))
            i++;
        size_t an = i - a;
        if (an == 0 || i == len || v[i++] != '=')
            return -1;
        const char *val;
        size_t vn;
        if (i < len && v[i] == '"') {
            val = v + ++i;
            while (i < len && v[i] != '"' && v[i] != '\\')
                i++;
            if (i == len || v[i] != '"')
                return -1; /* unterminated, or an escape: no bchar */
            vn = (size_t)(v + i - val);
            i++;
        } else {
            val = v + i;
            while (i < len && is_tchar((unsigned char)v[i]))
                i++;
            vn = (size_t)(v + i - val);
        }
        if (an == 8 && strncasecmp(v + a, "boundary", 8) == 0) {
            if (found >= 0 || !boundary_ok(val, vn))
                return -1;
            memcpy(out, val, vn);
            out[vn] = '\0';
            found = (int)vn;
        }
    }
    return found;
}

int http_multipart_init(struct http_multipart *m, const char *boundary,
                        size_t len, const struct http_multipart_cb *cb)
{
    memset(m, 0, offsetof(struct http_multipart, head));
    if (!boundary_ok(boundary, len))
        return -400;
    m->cb = *cb;
    memcpy(m->delim, "\r\n--", 4);
    memcpy(m->delim + 4, boundary, len);
    m->delim_len = 4 + len;
    /* The first delimiter may start the body: as if a CRLF came first. */
    m->match = 2;
    m->state = MP_PREAMBLE;
    return 0;
}

/* ---- part headers ----------------------------------------------------- */

/* Copy a parameter value v[0..n) into out (HTTP_MAX_PART_NAME + 1),
 * decoding browsers' %22; as a file name (base), keep only what follows
 * the last '/' or '\'. false if it does not fit. */
static bool copy_value(const char *v, size_t n, char *out, bool base)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = v[i];
        if (c == '%' && i + 2 < n && v[i + 1] == '2' && v[i + 2] == '2') {
            c = '"';
            i += 2;
        } else if (base && (c == '/' || c == '\\')) {
            o = 0;
            continue;
        }
        if (o == HTTP_MAX_PART_NAME)
            return false;
        out[o++] = c;
    }
    out[o] = '\0';
    return true;
}

/* Content-Disposition v[0..n): form-data; name="..."; filename="...". */
static int disposition(struct http_multipart *m, const char *v, size_t n,
                       struct http_part *p)
{
    size_t i = 0;
    while (i < n && is_tchar((unsigned char)v[i]))
        i++;
    if (i != 9 || strncasecmp(v, "form-data", 9) != 0)
        return -400;
    bool has_name = false;
    while (i < n) {
        while (i < n && is_ows(v[i]))
            i++;
        if (i == n)
            break;
        if (v[i++] != ';')
            return -400;
        while (i < n && is_ows(v[i]))
            i++;
        size_t a = i;
        while (i < n && is_tchar((unsigned char)v[i]))
            i++;
        size_t an = i - a;
        while (i < n && is_ows(v[i]))
            i++;
        if (an == 0 || i == n || v[i++] != '=')
            return -400;
        while (i < n && is_ows(v[i]))
            i++;
        const char *val;
        size_t vn;
        if (i < n && v[i] == '"') {
            /* No backslash escapes: browsers send '"' as %22. */
            val = v + ++i;
            while (i < n && v[i] != '"')
                i++;
            if (i == n)
                return -400;
            vn = (size_t)(v + i - val);
            i++;
        } else {
            val = v + i;
            while (i < n && is_tchar((unsigned char)v[i]))
                i++;
            vn = (size_t)(v + i - val);
        }
        if (an == 4 && strncasecmp(v + a, "name", 4) == 0) {
            if (has_name || !copy_value(val, vn, m->name, false))
                return -400;
            has_name = true;
        } else if (an == 8 && strncasecmp(v + a, "filename", 8) == 0) {
            if (p->filename != NULL)
                return -400;
            p->filename = m->filename;
            p->filename_ok = copy_value(val, vn, m->filename, true);
            if (!p->filename_ok)
                m->filename[0] = '\0';
        }
        /* Others (filename* included: RFC 7578 4.2) are ignored. */
    }
    if (p->filename != NULL && p->filename_ok) {
        const char *f = m->filename;
        size_t fl = strlen(f);
        bool ok = fl > 0 && strcmp(f, ".") != 0 && strcmp(f, "..") != 0;
        for (size_t k = 0; ok && k < fl; k++)
            if ((unsigned char)f[k] < 0x20 || f[k] == 0x7f)
                ok = false;
        p->filename_ok = ok;
    }
    return 0;
}

/* The buffered header lines head[0..hlen), each ending in CRLF, the last
 * one empty: the part they describe, then on_part. */
static int part_headers(struct http_multipart *m)
{
    struct http_part p = {.name = m->name};
    bool disp = false;
    m->name[0] = '\0';
    size_t s = 0;
    while (s + 2 < m->hlen) {
        const char *l = m->head + s;
        const char *e = memchr(l, '\r', m->hlen - s);
        /* Lines end in CRLF: head was cut at "\r\n\r\n", and a CR
         * elsewhere is refused. */
        if (e == NULL || e[1] != '\n')
            return -400;
        size_t n = (size_t)(e - l), i = 0;
        s += n + 2;
        while (i < n && is_tchar((unsigned char)l[i]))
            i++;
        if (i == 0 || i == n || l[i] != ':')
            return -400;
        size_t nl = i++;
        for (size_t k = i; k < n; k++)
            if ((unsigned char)l[k] < 0x20 && l[k] != '\t')
                return -400;
        while (i < n && is_ows(l[i]))
            i++;
        while (n > i && is_ows(l[n - 1]))
            n--;
        if (nl == 19 && strncasecmp(l, "content-disposition", 19) == 0) {
            if (disp || disposition(m, l + i, n - i, &p) < 0)
                return -400;
            disp = true;
        } else if (nl == 12 && strncasecmp(l, "content-type", 12) == 0) {
            if (p.content_type != NULL || n - i > HTTP_MAX_PART_NAME)
                return -400;
            memcpy(m->ctype, l + i, n - i);
            m->ctype[n - i] = '\0';
            p.content_type = m->ctype;
        }
    }
    if (!disp)
        return -400;
    m->in_part = true;
    return m->cb.on_part != NULL ? m->cb.on_part(m->cb.ud, &p) : 0;
}

/* ---- the body ----------------------------------------------------------- */

static int emit(struct http_multipart *m, const char *p, size_t n)
{
    if (n == 0 || m->cb.on_data == NULL || m->state != MP_DATA)
        return 0;
    return m->cb.on_data(m->cb.ud, p, n);
}

/* Scan buf[*ip..len) for the delimiter, passing content on (in MP_DATA)
 * or dropping it (the preamble). true when a delimiter was matched (*ip
 * just after it); false at the end of buf or when a callback returned
 * non-zero (*rc). */
static bool scan(struct http_multipart *m, const char *buf, size_t len,
                 size_t *ip, int *rc)
{
    size_t i = *ip, span = i;
    *rc = 0;
    while (i < len) {
        if (m->match == 0) {
            const char *cr = memchr(buf + i, '\r', len - i);
            if (cr == NULL) {
                i = len;
                break;
            }
            i = (size_t)(cr - buf);
            *rc = emit(m, buf + span, i - span);
            if (*rc != 0)
                return false;
            m->match = 1;
            i++;
            continue;
        }
        if (buf[i] == m->delim[m->match]) {
            i++;
            if (++m->match == m->delim_len) {
                m->match = 0;
                *ip = i;
                return true;
            }
            continue;
        }
        /* Not the delimiter: what was held is content, and buf[i] is
         * looked at again from scratch (it may be a CR). */
        *rc = emit(m, m->delim, m->match);
        if (*rc != 0)
            return false;
        m->match = 0;
        span = i;
    }
    *ip = i;
    if (m->match == 0)
        *rc = emit(m, buf + span, i - span);
    return false;
}

int http_multipart_feed(struct http_multipart *m, const char *buf, size_t len)
{
    size_t i = 0;
    int rc;
    while (i < len) {
        char c = buf[i];
        switch (m->state) {
        case MP_PREAMBLE:
        case MP_DATA:
            if (!scan(m, buf, len, &i, &rc)) {
                if (rc != 0)
                    goto fail;
                break;
            }
            if (m->in_part) {
                m->in_part = false;
                if (m->cb.on_part_end != NULL) {
                    rc = m->cb.on_part_end(m->cb.ud);
                    if (rc != 0)
                        goto fail;
                }
            }
            m->state = MP_DELIM;
            m->pad = 0;
            break;
        case MP_DELIM:
            if (c == '-')
                m->state = MP_CLOSE;
            else if (is_ows(c))
                m->state = MP_PAD;
            else if (c == '\r')
                m->state = MP_LF;
            else
                goto bad;
            i++;
            break;
        case MP_CLOSE:
            if (c != '-')
                goto bad;
            m->state = MP_DONE;
            return 1;
        case MP_PAD:
            if (c == '\r')
                m->state = MP_LF;
            else if (!is_ows(c) || ++m->pad > MAX_PAD)
                goto bad;
            i++;
            break;
        case MP_LF:
            if (c != '\n')
                goto bad;
            m->state = MP_HEADERS;
            m->hlen = 0;
            i++;
            break;
        case MP_HEADERS:
            if (m->hlen == sizeof m->head)
                goto bad;
            m->head[m->hlen++] = c;
            i++;
            if (c != '\n')
                break;
            /* Every line ends in CRLF; an empty one ends the headers. */
            if (m->hlen < 2 || m->head[m->hlen - 2] != '\r')
                goto bad;
            if (m->hlen == 2 || (m->hlen >= 4 && m->head[m->hlen - 4] == '\r' &&
                                 m->head[m->hlen - 3] == '\n')) {
                rc = part_headers(m);
                if (rc != 0)
                    goto fail;
                m->state = MP_DATA;
            }
            break;
        case MP_DONE:
            return 1;
        default:
            goto bad;
        }
    }
    return m->state == MP_DONE ? 1 : m->state == MP_ERROR ? -400 : 0;
bad:
    rc = -400;
fail:
    m->state = MP_ERROR;
    return rc;
}
