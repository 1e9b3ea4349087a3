/* http.h - weftd's HTTP/1.1 parsing layer: pure code, no sockets, no file
 * system, no allocation (docs/http.md).
 *
 *   http_parse.c      the request head (incremental, strict, bounded) and
 *                     the chunked transfer coding (a streaming decoder)
 *   http_range.c      the Range header, against a file size
 *   http_multipart.c  multipart/form-data bodies, streamed part by part
 *   http_util.c       dates, percent-decoding, HTML and URL escaping,
 *                     Content-Type by extension, ETags and If-None-Match
 *
 * Everything here reads untrusted bytes; every function reads nothing
 * past the length it is given, writes nothing past the capacity it is
 * given, and keeps nothing in proportion to its input beyond the fixed
 * limits below. fuzz/fuzz_http_request.c and fuzz/fuzz_http_multipart.c
 * drive it. Errors are negative HTTP status codes (-400, -414, ...), so a
 * caller answers with -rc.
 *
 * Threads: no globals; each struct belongs to one connection.
 */
#ifndef WEFTD_HTTP_H
#define WEFTD_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

/* ---- limits --------------------------------------------------------- */

#define HTTP_MAX_REQUEST_LINE 8192  /* bytes before its CRLF, else 414 */
#define HTTP_MAX_HEADER_BYTES 32768 /* header lines + final CRLF, else 431 */
#define HTTP_MAX_HEADERS      100   /* header lines, else 431 */
/* A head buffer this big always holds enough for http_parse_request to
 * decide: it never answers "need more" with this many bytes. */
#define HTTP_HEAD_MAX (2 + HTTP_MAX_REQUEST_LINE + 2 + HTTP_MAX_HEADER_BYTES)

/* ---- the request head ----------------------------------------------- */

enum http_method {
    HTTP_GET = 1,
    HTTP_HEAD,
    HTTP_POST,
    HTTP_PUT,
    HTTP_DELETE,
    HTTP_OPTIONS,
};

enum http_body {
    HTTP_BODY_NONE,    /* no Content-Length, no Transfer-Encoding */
    HTTP_BODY_LENGTH,  /* content_length bytes (may be 0) */
    HTTP_BODY_CHUNKED, /* Transfer-Encoding: chunked (see http_chunked) */
};

/* Where one header line's name and value lie in the head (private). */
struct http_field {
    uint32_t name, name_len;
    uint32_t value, value_len; /* without surrounding whitespace */
};

struct http_request {
    /* Results, valid after http_parse_request returned > 0. Pointers
     * point into the buffer given to that last call. */
    int method;              /* enum http_method */
    int version;             /* 10 or 11 (HTTP/1.0, HTTP/1.1) */
    bool keep_alive;         /* the connection may carry another request */
    bool expect_continue;    /* "Expect: 100-continue" */
    int body;                /* enum http_body */
    uint64_t content_length; /* HTTP_BODY_LENGTH: the body's bytes */
    const char *target;      /* the request target, raw, as sent */
    size_t target_len;
    const char *query; /* raw bytes after '?', NULL if there is no '?' */
    size_t query_len;
    /* The target's path, percent-decoded and NUL-terminated: "/" then
     * the rest ("/" is the library itself); "*" for "OPTIONS *". Never
     * holds a NUL, a "." or ".." segment, or the query. */
    char path[HTTP_MAX_REQUEST_LINE + 1];
    size_t path_len;

    /* Private: the parser's state between calls. */
    const char *buf;
    size_t pos;  /* start of the line not yet parsed */
    size_t scan; /* bytes already searched for its LF */
    size_t hdr;  /* first byte of the header section; 0: not there yet */
    uint32_t target_off, query_off;
    size_t n_fields;
    struct http_field fields[HTTP_MAX_HEADERS];
    int n_host, n_cl, n_te;
    bool conn_close, conn_keep_alive;
    bool te_chunked, te_other; /* chunked seen; another coding seen */
};

/* Reset r for a new request (also after an error). */
void http_request_init(struct http_request *r);

/* Parse the request head in buf[0..len): every byte received for this
 * request so far, from its first one. Call again with more bytes after a
 * 0: buf may have moved but its first len bytes must be the same; only
 * the new bytes are searched.
 *
 * Returns:
 *   > 0   the head is complete and valid: it is buf[0..rc) (a single CRLF
 *         before the request line included); the body, if any, starts at
 *         buf + rc. r's results are filled in.
 *   0     need more bytes (never with HTTP_HEAD_MAX bytes or more).
 *   < 0   -status to answer, then close the connection:
 *         -400 malformed (see docs/http.md), -414 request line too long,
 *         -431 header section too big or too many headers, -501 unknown
 *         method or transfer coding, -505 HTTP version not 1.0 or 1.1.
 * Errors are decided in byte order, so feeding the same bytes in any
 * pieces gives the same result. */
int http_parse_request(struct http_request *r, const char *buf, size_t len);

/* The value of the first header named name (any case), trimmed, not NUL
 * terminated: its length in *len. NULL if there is none. Valid after
 * http_parse_request returned > 0, while that buffer is. */
const char *http_header(const struct http_request *r, const char *name,
                        size_t *len);

/* ---- chunked request bodies ----------------------------------------- */

#define HTTP_MAX_CHUNK_EXT 4096 /* bytes of extensions on one size line */
#define HTTP_MAX_TRAILER   8192 /* bytes of trailer lines, ignored */

struct http_chunked {
    uint64_t total; /* read-only: body bytes decoded so far */
    /* Private. */
    uint64_t left; /* bytes of chunk data still to come */
    int state;
    int digits;
    size_t ext;     /* extension bytes on this size line */
    size_t trailer; /* trailer bytes so far */
};

void http_chunked_init(struct http_chunked *c);

/* Decode buf[0..len) in place: the body bytes found in it are moved to
 * buf[0..*body). *used is the bytes of buf that belonged to the chunked
 * body (all of them, except after its end: what follows is the next
 * request). Returns 1 when the body ended (the zero-size chunk and the
 * trailer section have been read), 0 when more is needed, -400 when the
 * coding is malformed (bad or overflowing size, extension or trailer over
 * its limit, missing CRLF; and every call after that). */
int http_chunked_feed(struct http_chunked *c, char *buf, size_t len,
                      size_t *used, size_t *body);

/* ---- Range ---------------------------------------------------------- */

#define HTTP_MAX_RANGES 16 /* range specs in one header, else ignored */

struct http_range {
    uint64_t first, last; /* inclusive byte positions, first <= last */
};

/* Parse a Range value v[0..len) for a file of size bytes, into at most
 * HTTP_MAX_RANGES ranges in out, in ascending order with overlapping or
 * adjacent ones merged. Returns the count (1: answer 206 with a single
 * part, more: multipart/byteranges); 0 to ignore the header and answer
 * 200 with the whole file (malformed, not "bytes", too many ranges, an
 * empty file); -416 if it is valid but no range is satisfiable. */
int http_parse_range(const char *v, size_t len, uint64_t size,
                     struct http_range out[HTTP_MAX_RANGES]);

/* ---- multipart/form-data -------------------------------------------- */

#define HTTP_MAX_BOUNDARY  70   /* RFC 2046 */
#define HTTP_MAX_PART_HEAD 8192 /* bytes of one part's header lines */
#define HTTP_MAX_PART_NAME 255  /* bytes of a name or file name */

/* The boundary parameter of a Content-Type value v[0..len), quoted or
 * not, NUL-terminated in out: its length, or -1 if v is not
 * multipart/form-data with a valid boundary (1..70 characters of RFC
 * 2046's bchars, not ending in a space). */
int http_multipart_boundary(const char *v, size_t len,
                            char out[HTTP_MAX_BOUNDARY + 1]);

/* One part, as its header lines described it. Strings are NUL-terminated
 * and valid during the on_part call only. */
struct http_part {
    const char *name; /* Content-Disposition's name ("" if absent) */
    /* NULL when the part has no filename (a form field). Otherwise the
     * browser's file name reduced to its base name (after the last '/'
     * or '\'; %22 decoded to '"'): filename_ok is false if that is empty
     * (no file chosen), ".", "..", over 255 bytes or holds a control
     * character (then filename is "" if it was too long) - do not store
     * such a file. */
    const char *filename;
    bool filename_ok;
    const char *content_type; /* the part's own, NULL if absent */
};

/* Callbacks: a non-zero return stops http_multipart_feed, which returns
 * it (use a negative status, e.g. -413). */
struct http_multipart_cb {
    int (*on_part)(void *ud, const struct http_part *part);
    int (*on_data)(void *ud, const char *p, size_t n); /* in pieces */
    int (*on_part_end)(void *ud);
    void *ud;
};

struct http_multipart {
    /* Private. */
    struct http_multipart_cb cb;
    char delim[4 + HTTP_MAX_BOUNDARY]; /* "\r\n--" boundary */
    size_t delim_len;
    size_t match; /* bytes of delim matched at the end of the last feed */
    int state;
    size_t pad; /* whitespace after a delimiter */
    size_t hlen;
    bool in_part;
    char head[HTTP_MAX_PART_HEAD];
    char name[HTTP_MAX_PART_NAME + 1];
    char filename[HTTP_MAX_PART_NAME + 1];
    char ctype[HTTP_MAX_PART_NAME + 1];
};

/* Start parsing a body delimited by boundary[0..len) (as returned by
 * http_multipart_boundary). 0, or -400 if the boundary is invalid. */
int http_multipart_init(struct http_multipart *m, const char *boundary,
                        size_t len, const struct http_multipart_cb *cb);

/* Feed the next body bytes buf[0..len), in any pieces. Calls on_part
 * when a part's header lines are complete, on_data with its content in
 * pieces (never buffered: the bytes come from buf, or from the boundary
 * itself for a CRLF-- prefix that turned out to be content), on_part_end
 * after its last byte. Returns 1 once the closing delimiter has been read
 * (the epilogue after it is ignored, and so is any later feed), 0 for
 * more, -400 if the body is malformed (no part header, header lines over
 * HTTP_MAX_PART_HEAD, no Content-Disposition form-data, a name over 255
 * bytes, a delimiter followed by anything but "--", blanks and CRLF), or
 * a callback's non-zero return; after those, every feed returns -400.
 * A body that ends (Content-Length or chunked) before 1 was truncated:
 * on_part_end has not been called for the part in progress, so drop
 * what it started. */
int http_multipart_feed(struct http_multipart *m, const char *buf, size_t len);

/* ---- helpers -------------------------------------------------------- */

#define HTTP_DATE_LEN 29 /* "Sun, 06 Nov 1994 08:49:37 GMT" */

/* t as an IMF-fixdate in out, NUL-terminated: HTTP_DATE_LEN, or 0 if t
 * is outside years 0..9999. */
size_t http_date_format(time_t t, char out[HTTP_DATE_LEN + 1]);
/* Parse an HTTP date s[0..len): IMF-fixdate, or the obsolete RFC 850
 * ("Sunday, 06-Nov-94 08:49:37 GMT", years 70..99 are 19xx, others
 * 20xx) and asctime ("Sun Nov  6 08:49:37 1994") forms. 0 and *t, or -1
 * if it is none of them or not a real date. */
int http_date_parse(const char *s, size_t len, time_t *t);

/* Percent-decode in[0..n) into out (cap bytes, NUL-terminated): the
 * decoded length, or -1 on a bad escape ("%" not followed by two hex
 * digits), an encoded NUL or too small a cap. plus_space: '+' decodes to
 * a space (form and query values). */
ssize_t http_pct_decode(const char *in, size_t n, char *out, size_t cap,
                        bool plus_space);
/* Escape in[0..n) for HTML text and attribute values (& < > " '). Like
 * snprintf: writes at most cap bytes with the NUL and returns the full
 * escaped length (out may be NULL when cap is 0, to measure). */
size_t http_html_escape(const char *in, size_t n, char *out, size_t cap);
/* Percent-encode in[0..n) for a URL: every byte but A-Z a-z 0-9 - . _ ~
 * (and '/' if keep_slash). Like snprintf, as above. */
size_t http_url_encode(const char *in, size_t n, char *out, size_t cap,
                       bool keep_slash);

/* The Content-Type for a file name, by its extension (any case); text
 * types say charset=utf-8. "application/octet-stream" if unknown. */
const char *http_mime_type(const char *name);

#define HTTP_ETAG_MAX 56 /* "\"" 3 x 16 hex digits, 2 '-', "\"" and NUL */

/* A strong ETag for a file, quoted, in out: its length. */
size_t http_etag(char out[HTTP_ETAG_MAX], uint64_t size, int64_t mtime_ns,
                 uint64_t ino);
/* 1 if the If-None-Match value v[0..len) ("*" or a list of entity tags)
 * matches etag by the weak comparison (W/ ignored on both sides), else 0
 * (also when v is malformed). */
int http_etag_match(const char *v, size_t len, const char *etag);
/* 1 if a GET or HEAD may be answered 304 Not Modified: by If-None-Match
 * when the request has one, otherwise by If-Modified-Since (mtime, whole
 * seconds, not after that date). RFC 9110 section 13.2.2. */
int http_not_modified(const struct http_request *r, const char *etag,
                      time_t mtime);

#endif
