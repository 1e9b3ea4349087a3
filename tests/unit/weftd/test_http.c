/* test_http.c - weftd's HTTP parsing layer (src/weftd/http*.c): the
 * request head with every refusal and its status, the same bytes fed
 * whole, byte by byte (in a buffer that moves) and in random pieces;
 * chunked bodies split anywhere; Range; multipart/form-data split at
 * every byte; dates, escaping, Content-Type, ETags. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "weftd/http.h"

/* ---- the request head ------------------------------------------------- */

static struct http_request req, req2;

/* Parse s[0..n) into r whole: rc. */
static int parse_whole(struct http_request *r, const char *s, size_t n)
{
    http_request_init(r);
    return http_parse_request(r, s, n);
}

/* Compare the results of two successful parses. */
static void assert_same(const struct http_request *a,
                        const struct http_request *b)
{
    assert_int_equal(a->method, b->method);
    assert_int_equal(a->version, b->version);
    assert_int_equal(a->keep_alive, b->keep_alive);
    assert_int_equal(a->expect_continue, b->expect_continue);
    assert_int_equal(a->body, b->body);
    assert_int_equal(a->content_length, b->content_length);
    assert_int_equal(a->target_len, b->target_len);
    assert_memory_equal(a->target, b->target, a->target_len);
    assert_int_equal(a->query == NULL, b->query == NULL);
    if (a->query != NULL) {
        assert_int_equal(a->query_len, b->query_len);
        assert_memory_equal(a->query, b->query, a->query_len);
    }
    assert_int_equal(a->path_len, b->path_len);
    assert_string_equal(a->path, b->path);
    assert_int_equal(a->n_fields, b->n_fields);
}

/* The bytes of the moving buffer of parse_bytewise, kept for req2. */
static char *moving;

/* Feed s[0..n) one byte more each call, each time from a fresh copy (so
 * nothing may point into an old buffer): the first non-zero rc, or 0. */
static int parse_bytewise(struct http_request *r, const char *s, size_t n)
{
    http_request_init(r);
    free(moving);
    moving = NULL;
    for (size_t k = 1; k <= n; k++) {
        char *b = malloc(k);
        assert_non_null(b);
        memcpy(b, s, k);
        free(moving);
        moving = b;
        int rc = http_parse_request(r, b, k);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* Feed in random pieces, in one buffer. */
static int parse_pieces(struct http_request *r, const char *s, size_t n)
{
    http_request_init(r);
    size_t k = 0;
    while (k < n) {
        k += 1 + (size_t)rand() % 700;
        if (k > n)
            k = n;
        int rc = http_parse_request(r, s, k);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* Parse s[0..n) the three ways: all must agree; rc, results in req. */
static int parse_n(const char *s, size_t n)
{
    int rc = parse_whole(&req, s, n);
    /* Byte by byte costs n calls of O(n) copies: keep it to small heads,
     * pieces cover the big ones. */
    if (n <= 20000) {
        int rc2 = parse_bytewise(&req2, s, n);
        assert_int_equal(rc2, rc);
        if (rc > 0)
            assert_same(&req, &req2);
    }
    int rc3 = parse_pieces(&req2, s, n);
    assert_int_equal(rc3, rc);
    if (rc > 0)
        assert_same(&req, &req2);
    /* Every proper prefix of a complete head asks for more (or already
     * fails the same way). */
    if (rc > 0 && n < 4096)
        for (size_t k = 0; k < (size_t)rc; k++)
            assert_int_equal(parse_whole(&req2, s, k), 0);
    return rc;
}

static int parse(const char *s)
{
    return parse_n(s, strlen(s));
}

/* The value of header name in req as a string (static buffer). */
static const char *hdr(const char *name)
{
    static char v[256];
    size_t n;
    const char *p = http_header(&req, name, &n);
    if (p == NULL)
        return NULL;
    assert_true(n < sizeof v);
    memcpy(v, p, n);
    v[n] = '\0';
    return v;
}

static void test_request_ok(void **state)
{
    (void)state;
    const char *s = "GET /docs/a%20b.txt?x=1&y=%20 HTTP/1.1\r\n"
                    "Host: example.org:8080\r\n"
                    "Accept: application/json  \r\n"
                    "If-None-Match:\"abc\"\r\n"
                    "X-Empty:\r\n"
                    "\r\n";
    assert_int_equal(parse(s), (int)strlen(s));
    assert_int_equal(req.method, HTTP_GET);
    assert_int_equal(req.version, 11);
    assert_true(req.keep_alive);
    assert_false(req.expect_continue);
    assert_int_equal(req.body, HTTP_BODY_NONE);
    assert_string_equal(req.path, "/docs/a b.txt");
    assert_int_equal(req.path_len, 13);
    assert_int_equal(req.query_len, 9);
    assert_memory_equal(req.query, "x=1&y=%20", 9);
    assert_int_equal(req.target_len, 25);
    assert_memory_equal(req.target, "/docs/a%20b.txt?x=1&y=%20", 25);
    assert_string_equal(hdr("host"), "example.org:8080");
    assert_string_equal(hdr("HOST"), "example.org:8080");
    assert_string_equal(hdr("Accept"), "application/json");
    assert_string_equal(hdr("if-none-match"), "\"abc\"");
    assert_string_equal(hdr("x-empty"), "");
    assert_null(hdr("range"));
    assert_null(hdr("hos"));

    /* Every method; HEAD, PUT with a body. */
    static const struct {
        const char *line;
        int method;
    } m[] = {
        {"GET", HTTP_GET}, {"HEAD", HTTP_HEAD},     {"POST", HTTP_POST},
        {"PUT", HTTP_PUT}, {"DELETE", HTTP_DELETE}, {"OPTIONS", HTTP_OPTIONS},
    };
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++) {
        char b[128];
        snprintf(b, sizeof b, "%s / HTTP/1.1\r\nHost: h\r\n\r\n", m[i].line);
        assert_true(parse(b) > 0);
        assert_int_equal(req.method, m[i].method);
        assert_string_equal(req.path, "/");
        assert_null(req.query);
    }
    assert_true(parse("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n") > 0);
    assert_string_equal(req.path, "*");

    /* Duplicate headers: the first is found. */
    assert_true(parse("GET / HTTP/1.1\r\nHost: h\r\nX-A: 1\r\nx-a: 2\r\n\r\n") >
                0);
    assert_string_equal(hdr("X-A"), "1");

    /* Expect. */
    assert_true(parse("PUT /f HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n"
                      "Expect: 100-Continue\r\n\r\n") > 0);
    assert_true(req.expect_continue);
    assert_int_equal(req.body, HTTP_BODY_LENGTH);
    assert_int_equal(req.content_length, 3);
    /* RFC 9110 10.1.1: ignored in HTTP/1.0. */
    assert_true(parse("PUT /f HTTP/1.0\r\nContent-Length: 3\r\n"
                      "Expect: 100-continue\r\n\r\n") > 0);
    assert_false(req.expect_continue);
}

static void test_request_keep_alive(void **state)
{
    (void)state;
    assert_true(parse("GET / HTTP/1.1\r\nHost: h\r\n\r\n") > 0);
    assert_true(req.keep_alive);
    assert_true(
        parse("GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n") > 0);
    assert_false(req.keep_alive);
    assert_true(
        parse(
            "GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, CLOSE\r\n\r\n") >
        0);
    assert_false(req.keep_alive);
    assert_true(parse("GET / HTTP/1.0\r\n\r\n") > 0); /* no Host needed */
    assert_int_equal(req.version, 10);
    assert_false(req.keep_alive);
    assert_true(parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n") > 0);
    assert_true(req.keep_alive);
    assert_true(parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\n"
                      "Connection: close\r\n\r\n") > 0);
    assert_false(req.keep_alive);
}

static void test_request_leading_crlf_and_pipelining(void **state)
{
    (void)state;
    const char *one = "\r\nGET /a HTTP/1.1\r\nHost: h\r\n\r\n";
    assert_int_equal(parse(one), (int)strlen(one));
    assert_string_equal(req.path, "/a");
    /* One CRLF only; a lone LF is not one. */
    assert_int_equal(parse("\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n"), -400);
    assert_int_equal(parse("\nGET / HTTP/1.1\r\nHost: h\r\n\r\n"), -400);

    /* Two pipelined requests with a body between them. */
    const char *two = "PUT /x HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\n"
                      "hello"
                      "GET /y HTTP/1.1\r\nHost: h\r\n\r\n";
    int n = parse_whole(&req, two, strlen(two));
    assert_int_equal(n, (int)strlen("PUT /x HTTP/1.1\r\nHost: h\r\n"
                                    "Content-Length: 5\r\n\r\n"));
    assert_memory_equal(two + n, "hello", 5);
    assert_int_equal(req.content_length, 5);
    int m = parse_whole(&req, two + n + 5, strlen(two) - (size_t)n - 5);
    assert_int_equal(m, (int)(strlen(two) - (size_t)n - 5));
    assert_string_equal(req.path, "/y");
}

static void test_request_line_errors(void **state)
{
    (void)state;
    static const struct {
        const char *line;
        int rc;
    } t[] = {
        {"get / HTTP/1.1", -501}, /* methods are case-sensitive */
        {"BREW / HTTP/1.1", -501},
        {"CONNECT h:443 HTTP/1.1", -400}, /* authority-form */
        {"CONNECT /h HTTP/1.1", -501},
        {"TRACE / HTTP/1.1", -501},
        {"G(ET / HTTP/1.1", -400},
        {"GET  / HTTP/1.1", -400},
        {"GET /  HTTP/1.1", -400},
        {" GET / HTTP/1.1", -400},
        {"GET / HTTP/1.1 ", -400},
        {"GET /", -400},
        {"GET / ", -400},
        {"GET", -400},
        {"GET\t/ HTTP/1.1", -400},
        {"GET / HTTP/2.0", -505},
        {"GET / HTTP/1.2", -505},
        {"GET / HTTP/0.9", -505},
        {"GET / HTTP/3.1", -505},
        {"BREW / HTTP/2.0", -505}, /* the version first */
        {"GET / http/1.1", -400},
        {"GET / HTTP/1.10", -400},
        {"GET / HTTP/1", -400},
        {"GET / HTTP/a.b", -400},
        {"GET /a#frag HTTP/1.1", -400},
        {"GET /a\x01 HTTP/1.1", -400},
        {"GET /a\x7f HTTP/1.1", -400},
        {"GET /a\rb HTTP/1.1", -400}, /* bare CR */
        {"GET a HTTP/1.1", -400},
        {"GET * HTTP/1.1", -400},
        {"GET ftp://h/x HTTP/1.1", -400},
        {"GET http:///x HTTP/1.1", -400},
        {"GET http:// HTTP/1.1", -400},
        {"BREW /%2e%2e/ HTTP/1.1", -400}, /* the path before the method */
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        char b[256];
        snprintf(b, sizeof b, "%s\r\nHost: h\r\n\r\n", t[i].line);
        int rc = parse(b);
        if (rc != t[i].rc)
            fail_msg("'%s': %d, not %d", t[i].line, rc, t[i].rc);
    }
    /* A bare LF ends nothing, a CR without LF is bare. */
    assert_int_equal(parse("GET / HTTP/1.1\nHost: h\r\n\r\n"), -400);
    assert_int_equal(parse("GET / HTTP/1.1\r\rHost: h\r\n\r\n"), -400);
}

static void test_request_paths(void **state)
{
    (void)state;
    static const struct {
        const char *target, *path, *query; /* path NULL: refused, 400 */
    } t[] = {
        {"/", "/", NULL},
        {"/a%20b", "/a b", NULL},
        {"/a%2Fb", "/a/b", NULL},
        {"/caf%C3%A9", "/caf\xc3\xa9", NULL},
        {"/caf\xc3\xa9", "/caf\xc3\xa9", NULL}, /* raw UTF-8, as curl sends */
        {"/a?", "/a", ""},
        {"/a?b?c", "/a", "b?c"},
        {"/a%3Fb?q=%2e%2e", "/a?b", "q=%2e%2e"},
        {"/a/..b/c..", "/a/..b/c..", NULL},
        {"/...", "/...", NULL},
        {"/a/", "/a/", NULL},
        {"http://h/x%41?q", "/xA", "q"},
        {"HTTPS://h:1/x", "/x", NULL},
        {"http://h", "/", NULL},
        {"http://h?x", "/", "x"},
        {"/%2e%2e", NULL, NULL},
        {"/%2E%2e/etc/passwd", NULL, NULL},
        {"/a/%2e%2e/b", NULL, NULL},
        {"/a/..", NULL, NULL},
        {"/../a", NULL, NULL},
        {"/a/.", NULL, NULL},
        {"/./a", NULL, NULL},
        {"/a/%2e/b", NULL, NULL},
        {"/a%2f..%2fb", NULL, NULL}, /* decoded: /a/../b */
        {"/.%2e/", NULL, NULL},
        {"http://h/../x", NULL, NULL},
        {"/a%00b", NULL, NULL},
        {"/a%0", NULL, NULL},
        {"/a%", NULL, NULL},
        {"/a%zz", NULL, NULL},
        {"/a%g0", NULL, NULL},
        {"%2fa", NULL, NULL},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        char b[256];
        snprintf(b, sizeof b, "GET %s HTTP/1.1\r\nHost: h\r\n\r\n",
                 t[i].target);
        int rc = parse(b);
        if (t[i].path == NULL) {
            if (rc != -400)
                fail_msg("'%s' gave %d, not 400", t[i].target, rc);
            continue;
        }
        if (rc <= 0)
            fail_msg("'%s' refused: %d", t[i].target, rc);
        assert_string_equal(req.path, t[i].path);
        assert_int_equal(req.path_len, strlen(t[i].path));
        assert_int_equal(req.target_len, strlen(t[i].target));
        if (t[i].query == NULL) {
            assert_null(req.query);
        } else {
            assert_int_equal(req.query_len, strlen(t[i].query));
            assert_memory_equal(req.query, t[i].query, req.query_len);
        }
    }
}

static void test_request_header_errors(void **state)
{
    (void)state;
    static const struct {
        const char *headers; /* after the request line */
        int rc;
    } t[] = {
        {"Host: h\r\nNoColon\r\n\r\n", -400},
        {"Host: h\r\nX-A : 1\r\n\r\n", -400},  /* blank before colon */
        {"Host: h\r\nX-A\t: 1\r\n\r\n", -400}, /* tab before colon */
        {"Host: h\r\n: 1\r\n\r\n", -400},      /* empty name */
        {"Host: h\r\nX(A: 1\r\n\r\n", -400},
        {"Host: h\r\nX\xc3\xa9: 1\r\n\r\n", -400},
        {"Host: h\r\nX-A: a\x01z\r\n\r\n", -400},
        {"Host: h\r\nX-A: a\x7fz\r\n\r\n", -400},
        {"Host: h\r\nX-A: a\rz\r\n\r\n", -400}, /* bare CR */
        {"Host: h\r\nX-A: a\r\r\n\r\n", -400},
        {"Host: h\r\nX-A: 1\n\r\n", -400}, /* bare LF */
        {"Host: h\r\nX-A: 1\r\n\n", -400},
        {"Host: h\r\nX-A: 1\r\n folded\r\n\r\n", -400}, /* obs-fold */
        {"Host: h\r\nX-A: 1\r\n\tfolded\r\n\r\n", -400},
        {" Host: h\r\n\r\n", -400}, /* blank before the first header */
        {"\r\n", -400},             /* HTTP/1.1 without Host */
        {"X-A: 1\r\n\r\n", -400},
        {"Host: h\r\nHost: h\r\n\r\n", -400},
        {"Host: a b\r\n\r\n", -400},
        {"Host: a/b\r\n\r\n", -400},
        {"Host: a@b\r\n\r\n", -400},
        {"Host:\r\n\r\n", 1}, /* empty: allowed (RFC 9112 3.2) */
        {"Host: [::1]:8080\r\n\r\n", 1},
        {"Host: h\r\nX-A: caf\xc3\xa9\r\n\r\n", 1}, /* obs-text */
        {"Host: h\r\nX-A: a\tb \t\r\n\r\n", 1},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        char b[256];
        snprintf(b, sizeof b, "GET / HTTP/1.1\r\n%s", t[i].headers);
        int rc = parse(b);
        if (t[i].rc > 0 ? rc <= 0 : rc != t[i].rc)
            fail_msg("case %zu: %d, not %d", i, rc, t[i].rc);
    }
    assert_true(parse("GET / HTTP/1.1\r\nHost: h\r\nX-A: a\tb \t\r\n\r\n") > 0);
    assert_string_equal(hdr("x-a"), "a\tb");
}

static void test_request_framing(void **state)
{
    (void)state;
    static const struct {
        const char *headers;
        int rc;          /* > 0: accepted */
        int body;        /* if accepted */
        uint64_t length; /* if HTTP_BODY_LENGTH */
    } t[] = {
        {"Content-Length: 0", 1, HTTP_BODY_LENGTH, 0},
        {"Content-Length: 42", 1, HTTP_BODY_LENGTH, 42},
        {"Content-Length: 007", 1, HTTP_BODY_LENGTH, 7},
        {"Content-Length: 5, 5", 1, HTTP_BODY_LENGTH, 5},
        {"Content-Length: 5\r\nContent-Length: 5", 1, HTTP_BODY_LENGTH, 5},
        {"Content-Length: 9223372036854775807", 1, HTTP_BODY_LENGTH,
         9223372036854775807ULL},
        {"Content-Length: 9223372036854775808", -400, 0, 0},
        {"Content-Length: 99999999999999999999", -400, 0, 0},
        {"Content-Length: 18446744073709551616", -400, 0, 0},
        {"Content-Length: -1", -400, 0, 0},
        {"Content-Length: +5", -400, 0, 0},
        {"Content-Length: 5a", -400, 0, 0},
        {"Content-Length: 0x5", -400, 0, 0},
        {"Content-Length: 5 5", -400, 0, 0},
        {"Content-Length: 1.0", -400, 0, 0},
        {"Content-Length:", -400, 0, 0},
        {"Content-Length: 5,", -400, 0, 0},
        {"Content-Length: 5, 6", -400, 0, 0},
        {"Content-Length: 5\r\nContent-Length: 6", -400, 0, 0},
        {"Transfer-Encoding: chunked", 1, HTTP_BODY_CHUNKED, 0},
        {"Transfer-Encoding: Chunked", 1, HTTP_BODY_CHUNKED, 0},
        {"Transfer-Encoding: chunked\r\nContent-Length: 5", -400, 0, 0},
        {"Content-Length: 5\r\nTransfer-Encoding: chunked", -400, 0, 0},
        {"Transfer-Encoding: gzip, chunked", -501, 0, 0},
        {"Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked", -501, 0, 0},
        {"Transfer-Encoding: chunked, gzip", -400, 0, 0},
        {"Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip", -400, 0, 0},
        {"Transfer-Encoding: gzip", -400, 0, 0},
        {"Transfer-Encoding: chunked, chunked", -400, 0, 0},
        {"Transfer-Encoding: chunked;q=1", -400, 0, 0},
        {"Transfer-Encoding: chunked,", -400, 0, 0},
        {"Transfer-Encoding:", -400, 0, 0},
        {"Transfer-Encoding: xchunked", -400, 0, 0},
        {"Transfer-Encoding: \"chunked\"", -400, 0, 0},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        char b[256];
        snprintf(b, sizeof b, "POST / HTTP/1.1\r\nHost: h\r\n%s\r\n\r\n",
                 t[i].headers);
        int rc = parse(b);
        if (t[i].rc > 0 ? rc <= 0 : rc != t[i].rc)
            fail_msg("'%s': %d, not %d", t[i].headers, rc, t[i].rc);
        if (rc > 0) {
            assert_int_equal(req.body, t[i].body);
            if (t[i].body == HTTP_BODY_LENGTH)
                assert_int_equal(req.content_length, t[i].length);
        }
    }
    /* HTTP/1.0 knows no chunked coding. */
    assert_int_equal(
        parse("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"), -400);
}

/* A request line with a target of n bytes. */
static char *long_line(size_t n, size_t *len)
{
    char *b = malloc(n + 64);
    assert_non_null(b);
    memcpy(b, "GET /", 5);
    memset(b + 5, 'a', n - 1);
    size_t k = 4 + n;
    memcpy(b + k, " HTTP/1.1\r\nHost: h\r\n\r\n", 22);
    *len = k + 22;
    return b;
}

static void test_request_limits(void **state)
{
    (void)state;
    size_t n;
    /* A request line of exactly the limit, and one byte over. */
    char *b = long_line(HTTP_MAX_REQUEST_LINE - 13, &n);
    assert_int_equal(parse_n(b, n), (int)n);
    assert_int_equal(req.path_len, HTTP_MAX_REQUEST_LINE - 13);
    free(b);
    b = long_line(HTTP_MAX_REQUEST_LINE - 12, &n);
    assert_int_equal(parse_n(b, n), -414);
    free(b);

    /* 1 MiB: refused as soon as the limit is certainly passed. */
    b = long_line(1 << 20, &n);
    assert_int_equal(parse_n(b, n), -414);
    assert_int_equal(parse_whole(&req, b, HTTP_MAX_REQUEST_LINE + 1), 0);
    assert_int_equal(parse_whole(&req, b, HTTP_MAX_REQUEST_LINE + 2), -414);
    free(b);

    /* 10,000 headers; the 101st; and 100. */
    size_t cap = 64 + 10000 * 16;
    b = malloc(cap);
    assert_non_null(b);
    static const int counts[] = {99, 100, 101, 10000};
    for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++) {
        int count = counts[c];
        size_t o = (size_t)snprintf(b, cap, "GET / HTTP/1.1\r\nHost: h\r\n");
        for (int i = 0; i < count; i++)
            o += (size_t)snprintf(b + o, cap - o, "X-%d: v\r\n", i);
        o += (size_t)snprintf(b + o, cap - o, "\r\n");
        int rc = parse_n(b, o);
        if (count + 1 <= HTTP_MAX_HEADERS)
            assert_int_equal(rc, (int)o);
        else
            assert_int_equal(rc, -431);
    }
    free(b);

    /* The header section: exactly 32 KiB, then one byte more. */
    static const char rl[] = "GET / HTTP/1.1\r\n";
    size_t rln = sizeof rl - 1;
    b = malloc(HTTP_HEAD_MAX + 16);
    assert_non_null(b);
    for (int extra = 0; extra <= 1; extra++) {
        memcpy(b, rl, rln);
        memcpy(b + rln, "Host: h\r\nX: ", 12);
        size_t v = HTTP_MAX_HEADER_BYTES - 9 - 3 - 2 - 2 + (size_t)extra;
        memset(b + rln + 12, 'v', v);
        memcpy(b + rln + 12 + v, "\r\n\r\n", 4);
        n = rln + 12 + v + 4;
        assert_int_equal(parse_n(b, n), extra ? -431 : (int)n);
    }
    /* One complete header line over the limit. */
    memcpy(b, "GET / HTTP/1.1\r\nX: ", 19);
    memset(b + 19, 'v', HTTP_MAX_HEADER_BYTES);
    memcpy(b + 19 + HTTP_MAX_HEADER_BYTES, "\r\nHost: h\r\n\r\n", 13);
    assert_int_equal(parse_n(b, 19 + HTTP_MAX_HEADER_BYTES + 13), -431);

    /* A never-ending header line: decided within HTTP_HEAD_MAX bytes,
     * even after the longest request line. */
    b[0] = '\r';
    b[1] = '\n';
    memcpy(b + 2, "GET /", 5);
    memset(b + 7, 'a', HTTP_MAX_REQUEST_LINE - 14);
    memcpy(b + 2 + HTTP_MAX_REQUEST_LINE - 9, " HTTP/1.1\r\n", 11);
    size_t h = 2 + HTTP_MAX_REQUEST_LINE + 2;
    memset(b + h, 'x', HTTP_HEAD_MAX - h);
    b[h + 1] = ':';
    assert_int_equal(parse_whole(&req, b, HTTP_HEAD_MAX - 1), 0);
    assert_int_equal(parse_whole(&req, b, HTTP_HEAD_MAX), -431);
    assert_int_equal(parse_pieces(&req, b, HTTP_HEAD_MAX), -431);
    free(b);
}

/* ---- chunked bodies --------------------------------------------------- */

/* Decode s[0..n) fed in pieces of step bytes (0: random), as a server
 * would: a buffer refilled from the input. Body into out; rc of the last
 * feed; *used: input bytes consumed in all. */
static int chunked(const char *s, size_t n, size_t step, char *out,
                   size_t *out_len, size_t *used)
{
    struct http_chunked c;
    http_chunked_init(&c);
    char buf[64];
    size_t i = 0, o = 0;
    int rc = 0;
    *used = 0;
    while (i < n) {
        size_t k = step ? step : 1 + (size_t)rand() % sizeof buf;
        if (k > n - i)
            k = n - i;
        if (k > sizeof buf)
            k = sizeof buf;
        memcpy(buf, s + i, k);
        size_t u, body;
        rc = http_chunked_feed(&c, buf, k, &u, &body);
        memcpy(out + o, buf, body);
        o += body;
        *used += u;
        i += k;
        if (rc != 0)
            break;
        assert_int_equal(u, k);
    }
    *out_len = o;
    assert_int_equal(c.total, o);
    return rc;
}

static void test_chunked(void **state)
{
    (void)state;
    const char *s = "5\r\nhello\r\n"
                    "1;name=value;x=\"q\"\r\n \r\n"
                    "00000010 ; ext\r\n0123456789abcdef\r\n"
                    "A\r\n0123456789\r\n"
                    "0\r\nTrailer: yes\r\nX: 1\r\n\r\n"
                    "GET / HTTP/1.1\r\n";
    const char *want = "hello 0123456789abcdef0123456789";
    size_t end = strlen(s) - 16;
    char out[256];
    for (size_t step = 0; step <= 40; step++) {
        for (int rep = 0; rep < (step == 0 ? 50 : 1); rep++) {
            size_t ol, used;
            assert_int_equal(chunked(s, strlen(s), step, out, &ol, &used), 1);
            assert_int_equal(ol, strlen(want));
            assert_memory_equal(out, want, ol);
            assert_int_equal(used, end);
        }
    }
    /* In place, whole: the bytes after the end are left where they are. */
    char b[256];
    memcpy(b, s, strlen(s));
    struct http_chunked c;
    http_chunked_init(&c);
    size_t u, body;
    assert_int_equal(http_chunked_feed(&c, b, strlen(s), &u, &body), 1);
    assert_int_equal(u, end);
    assert_int_equal(body, strlen(want));
    assert_memory_equal(b, want, body);
    assert_memory_equal(b + u, "GET / HTTP/1.1\r\n", 16);

    /* An empty body; every prefix of it wants more. */
    const char *empty = "0\r\n\r\n";
    for (size_t k = 0; k < 5; k++) {
        memcpy(b, empty, 5);
        http_chunked_init(&c);
        assert_int_equal(http_chunked_feed(&c, b, k, &u, &body), 0);
        assert_int_equal(u, k);
        assert_int_equal(body, 0);
    }
    http_chunked_init(&c);
    memcpy(b, empty, 5);
    assert_int_equal(http_chunked_feed(&c, b, 5, &u, &body), 1);

    /* Malformed: each refused, however split. */
    static const char *bad[] = {
        "\r\n",  /* no size */
        "g\r\n", /* not hex */
        "-1\r\n",
        "+1\r\n",
        "0x5\r\n",
        "5\nhello\r\n0\r\n\r\n", /* bare LF */
        "5\r\nhello0\r\n\r\n",   /* no CRLF after the data */
        "5\r\nhello\n0\r\n\r\n",
        "5\r\nhelloX\r\n0\r\n\r\n",
        "5 \r\nhello\r\n0\r\n\r\n", /* blanks, then no extension */
        "5 x\r\nhello\r\n0\r\n\r\n",
        "1000000000000000\r\n",   /* 2^60: over the size limit */
        "ffffffffffffffffff\r\n", /* 2^72 */
        "5;a\x01\r\nhello\r\n",   /* control byte in an extension */
        "5;a\rb\r\nhello\r\n",
        "0\r\nX: 1\n\r\n",
        "0\r\nX: 1\r\n folded\r\n\r\n",
        "0\r\nX: a\x01\r\n\r\n",
        "0\r\n\rx",
        "5\r\nhello\rx",
        "0\r\nX: 1\rx",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        for (size_t step = 0; step <= 3; step++) {
            size_t ol, used;
            int rc = chunked(bad[i], strlen(bad[i]), step, out, &ol, &used);
            if (rc != -400)
                fail_msg("'%s' step %zu: %d", bad[i], step, rc);
        }
    }
    /* An error stays. */
    http_chunked_init(&c);
    memcpy(b, "x\r\n0\r\n\r\n", 8);
    assert_int_equal(http_chunked_feed(&c, b, 1, &u, &body), -400);
    assert_int_equal(http_chunked_feed(&c, b + 3, 5, &u, &body), -400);
    assert_int_equal(http_chunked_feed(&c, b, 0, &u, &body), -400);

    /* The biggest size allowed, and leading zeros. */
    const char *big = "0000000fffffffffffffff\r\n";
    http_chunked_init(&c);
    memcpy(b, big, strlen(big));
    assert_int_equal(http_chunked_feed(&c, b, strlen(big), &u, &body), 0);
    assert_int_equal(c.left, 0xfffffffffffffffULL);

    /* The extension and trailer limits. */
    char *e = malloc(HTTP_MAX_TRAILER + 64);
    assert_non_null(e);
    for (int over = 0; over <= 1; over++) {
        e[0] = '1';
        e[1] = ';';
        memset(e + 2, 'x', HTTP_MAX_CHUNK_EXT - 1 + (size_t)over);
        size_t k = 2 + HTTP_MAX_CHUNK_EXT - 1 + (size_t)over;
        memcpy(e + k, "\r\nz\r\n0\r\n\r\n", 10);
        http_chunked_init(&c);
        int rc = http_chunked_feed(&c, e, k + 10, &u, &body);
        assert_int_equal(rc, over ? -400 : 1);
        memcpy(e, "0\r\nX:", 5);
        memset(e + 5, 'y', HTTP_MAX_TRAILER - 3 + (size_t)over);
        k = 5 + HTTP_MAX_TRAILER - 3 + (size_t)over;
        memcpy(e + k, "\r\n\r\n", 4);
        http_chunked_init(&c);
        rc = http_chunked_feed(&c, e, k + 4, &u, &body);
        assert_int_equal(rc, over ? -400 : 1);
    }
    free(e);
}

/* ---- Range ------------------------------------------------------------- */

/* Parse v for size: rc; the ranges as "a-b,c-d" in got. */
static int range(const char *v, uint64_t size, char *got, size_t cap)
{
    struct http_range r[HTTP_MAX_RANGES];
    int n = http_parse_range(v, strlen(v), size, r);
    size_t o = 0;
    got[0] = '\0';
    for (int i = 0; i < n; i++) {
        assert_true(r[i].first <= r[i].last);
        assert_true(r[i].last < size);
        o += (size_t)snprintf(got + o, cap - o, "%s%llu-%llu", i ? "," : "",
                              (unsigned long long)r[i].first,
                              (unsigned long long)r[i].last);
    }
    return n;
}

static void test_range(void **state)
{
    (void)state;
    static const struct {
        const char *v;
        uint64_t size;
        int rc;
        const char *ranges;
    } t[] = {
        {"bytes=0-499", 1000, 1, "0-499"},
        {"Bytes=0-0", 1000, 1, "0-0"},
        {"bytes=500-", 1000, 1, "500-999"},
        {"bytes=-200", 1000, 1, "800-999"},
        {"bytes=-1000", 1000, 1, "0-999"},
        {"bytes=-2000", 1000, 1, "0-999"},
        {"bytes=0-99999", 1000, 1, "0-999"},
        {"bytes=999-", 1000, 1, "999-999"},
        {"bytes=0-0,-1", 1000, 2, "0-0,999-999"},
        {"bytes=500-600,0-99", 1000, 2, "0-99,500-600"},
        {"bytes= 0-1 , 3-4", 1000, 2, "0-1,3-4"},
        {"bytes=0-1,,3-4,", 1000, 2, "0-1,3-4"},
        {"bytes=0-1, ", 1000, 1, "0-1"},
        {"bytes=0-10,5-20,21-30", 1000, 1, "0-30"}, /* overlap, touch */
        {"bytes=0-10,12-20", 1000, 2, "0-10,12-20"},
        {"bytes=0-,0-,0-", 1000, 1, "0-999"},
        {"bytes=1000-,0-1", 1000, 1, "0-1"},
        {"bytes=0-99999999999999999999", 1000, 1, "0-999"},
        {"bytes=-99999999999999999999", 1000, 1, "0-999"},
        {"bytes=0-", UINT64_MAX, 1, "0-18446744073709551614"},
        {"bytes=1000-", 1000, -416, ""},
        {"bytes=-0", 1000, -416, ""},
        {"bytes=1000-2000,5000-", 1000, -416, ""},
        {"bytes=99999999999999999999-", 1000, -416, ""},
        /* Ignored: the whole file. */
        {"bytes=0-1", 0, 0, ""},
        {"bytes=-5", 0, 0, ""},
        {"bytes=", 1000, 0, ""},
        {"bytes=,", 1000, 0, ""},
        {"bytes=a-b", 1000, 0, ""},
        {"bytes=5-3", 1000, 0, ""},
        {"bytes=0-1,5-3", 1000, 0, ""},
        {"bytes=--5", 1000, 0, ""},
        {"bytes=5", 1000, 0, ""},
        {"bytes=-", 1000, 0, ""},
        {"bytes=1-2-3", 1000, 0, ""},
        {"bytes=0-1;", 1000, 0, ""},
        {"bytes=0-1 x", 1000, 0, ""},
        {"bytes=0 -1", 1000, 0, ""},
        {"bytes 0-1", 1000, 0, ""},
        {"items=0-1", 1000, 0, ""},
        {"", 1000, 0, ""},
    };
    char got[512];
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        int rc = range(t[i].v, t[i].size, got, sizeof got);
        if (rc != t[i].rc || strcmp(got, t[i].ranges) != 0)
            fail_msg("'%s' (%llu): %d '%s', not %d '%s'", t[i].v,
                     (unsigned long long)t[i].size, rc, got, t[i].rc,
                     t[i].ranges);
    }
    /* 16 specs are served, 17 ignored. */
    char v[256] = "bytes=";
    for (int i = 0; i < 17; i++) {
        size_t o = strlen(v);
        snprintf(v + o, sizeof v - o, "%s%d-%d", i ? "," : "", i * 10,
                 i * 10 + 1);
        int rc = range(v, 1000, got, sizeof got);
        assert_int_equal(rc, i < 16 ? i + 1 : 0);
    }
}

/* ---- multipart/form-data ------------------------------------------------ */

/* What the callbacks saw, as text; the piece being fed, to check that
 * data comes from it or from the boundary, never from a copy. */
static char mp_log[8192];
static size_t mp_len;
static const char *mp_buf;
static size_t mp_buf_len;
static struct http_multipart mp;
static int mp_fail_at = -1; /* on_data returns -413 at this call */
static int mp_calls;

static void mp_put(const char *p, size_t n)
{
    assert_true(mp_len + n < sizeof mp_log);
    memcpy(mp_log + mp_len, p, n);
    mp_len += n;
    mp_log[mp_len] = '\0';
}

static int on_part(void *ud, const struct http_part *p)
{
    char b[1024];
    assert_ptr_equal(ud, &mp);
    int n = snprintf(b, sizeof b, "[part name=%s file=%s ok=%d type=%s]",
                     p->name, p->filename ? p->filename : "(none)",
                     p->filename_ok, p->content_type ? p->content_type : "-");
    mp_put(b, (size_t)n);
    return 0;
}

static int on_data(void *ud, const char *p, size_t n)
{
    (void)ud;
    assert_true(n > 0);
    bool in_buf = p >= mp_buf && p + n <= mp_buf + mp_buf_len;
    bool in_delim = p >= mp.delim && p + n <= mp.delim + mp.delim_len;
    assert_true(in_buf || in_delim);
    if (mp_calls++ == mp_fail_at)
        return -413;
    mp_put(p, n);
    return 0;
}

static int on_part_end(void *ud)
{
    (void)ud;
    mp_put("[end]", 5);
    return 0;
}

static const struct http_multipart_cb mp_cb = {on_part, on_data, on_part_end,
                                               &mp};

/* Feed body[0..n) cut at the given positions (ascending, < n). */
static int mp_feed(const char *boundary, const char *body, size_t n,
                   const size_t *cuts, size_t ncuts)
{
    mp_len = 0;
    mp_log[0] = '\0';
    mp_calls = 0;
    assert_int_equal(
        http_multipart_init(&mp, boundary, strlen(boundary), &mp_cb), 0);
    size_t at = 0;
    int rc = 0;
    for (size_t c = 0; c <= ncuts; c++) {
        size_t end = c < ncuts ? cuts[c] : n;
        /* A fresh copy per piece: nothing may point into an old one. */
        char *piece = malloc(end - at + 1);
        assert_non_null(piece);
        memcpy(piece, body + at, end - at);
        mp_buf = piece;
        mp_buf_len = end - at;
        rc = http_multipart_feed(&mp, piece, end - at);
        free(piece);
        at = end;
        if (rc != 0)
            break;
    }
    return rc;
}

static const char mp_body[] =
    "--XyZ\r\n"
    "Content-Disposition: form-data; name=\"title\"\r\n"
    "\r\n"
    "hello world\r\n"
    "--XyZ  \t\r\n"
    "content-disposition: form-data; name=\"file\"; "
    "filename=\"C:\\dir\\a%22b.txt\"\r\n"
    "Content-Type: text/plain\r\n"
    "\r\n"
    "\r\n--XyX\r\n--Xy\r\r\n--X-XyZ--XyZ\r\n\r\n-\r"
    "\r\n"
    "--XyZ\r\n"
    "Content-Disposition: form-data; name=empty; filename=\"\"\r\n"
    "\r\n"
    "\r\n"
    "--XyZ--\r\n"
    "epilogue \r\n--XyZ garbage";

static const char mp_want[] =
    "[part name=title file=(none) ok=0 type=-]hello world[end]"
    "[part name=file file=a\"b.txt ok=1 type=text/plain]"
    "\r\n--XyX\r\n--Xy\r\r\n--X-XyZ--XyZ\r\n\r\n-\r[end]"
    "[part name=empty file= ok=0 type=-][end]";

static void test_multipart(void **state)
{
    (void)state;
    size_t n = sizeof mp_body - 1;
    assert_int_equal(mp_feed("XyZ", mp_body, n, NULL, 0), 1);
    assert_string_equal(mp_log, mp_want);
    /* Cut at every position, into two and into three pieces; and one
     * byte at a time. */
    for (size_t k = 0; k <= n; k++) {
        size_t cuts[2] = {k, 0};
        assert_int_equal(mp_feed("XyZ", mp_body, n, cuts, 1), 1);
        assert_string_equal(mp_log, mp_want);
        for (size_t j = k; j <= n && j < k + 9; j++) {
            cuts[1] = j;
            assert_int_equal(mp_feed("XyZ", mp_body, n, cuts, 2), 1);
            assert_string_equal(mp_log, mp_want);
        }
    }
    size_t *every = malloc(n * sizeof *every);
    assert_non_null(every);
    for (size_t k = 0; k < n; k++)
        every[k] = k;
    assert_int_equal(mp_feed("XyZ", mp_body, n, every, n), 1);
    assert_string_equal(mp_log, mp_want);
    free(every);
    /* Later feeds after the end change nothing. */
    assert_int_equal(http_multipart_feed(&mp, "--XyZ\r\n", 7), 1);

    /* A preamble is skipped; a truncated body never ends. */
    const char *pre = "preamble\r\n--b\r\nContent-Disposition: form-data;"
                      "name=a\r\n\r\nx\r\n--b--";
    assert_int_equal(mp_feed("b", pre, strlen(pre), NULL, 0), 1);
    assert_string_equal(mp_log, "[part name=a file=(none) ok=0 type=-]x[end]");
    for (size_t k = 0; k < strlen(pre); k++)
        assert_int_equal(mp_feed("b", pre, k, NULL, 0), 0);

    /* A callback's refusal stops the feed and stays. */
    mp_fail_at = 1;
    assert_int_equal(mp_feed("XyZ", mp_body, n, NULL, 0), -413);
    mp_fail_at = -1;
    assert_int_equal(http_multipart_feed(&mp, "x", 1), -400);
}

static void test_multipart_errors(void **state)
{
    (void)state;
    static const char *bad[] = {
        /* No Content-Disposition, or not form-data. */
        "--b\r\n\r\nx\r\n--b--",
        "--b\r\nContent-Type: text/plain\r\n\r\nx\r\n--b--",
        "--b\r\nContent-Disposition: attachment; name=a\r\n\r\nx\r\n--b--",
        "--b\r\nContent-Disposition: form-data; name=a; name=b\r\n\r\n--b--",
        ("--b\r\nContent-Disposition: form-data; filename=a; filename=b\r\n"
         "\r\n--b--"),
        "--b\r\nContent-Disposition: form-data; name=\"a\r\n\r\n--b--",
        "--b\r\nContent-Disposition: form-data; name\r\n\r\n--b--",
        "--b\r\nContent-Disposition: form-data, name=a\r\n\r\n--b--",
        /* Header lines: no colon, bare LF, bare CR, control bytes. */
        "--b\r\nContent-Disposition form-data\r\n\r\n--b--",
        "--b\r\nContent-Disposition: form-data\n\r\n--b--",
        "--b\r\nContent-Disposition: form-data\r\nX: a\rb\r\n\r\n--b--",
        "--b\r\nContent-Disposition: form-data\r\nX: a\x01\r\n\r\n--b--",
        "--b\r\nContent-Disposition: form-data\r\n\n--b--",
        /* A delimiter line followed by something else. */
        "--b\r\nContent-Disposition: form-data\r\n\r\nx\r\n--bx\r\n",
        "--bx\r\n",
        "--b-x",
        "--b \tx\r\n",
        "--b\r\r\n",
        "--b\r\nContent-Disposition: form-data\r\n\r\nx\r\n--b\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        for (size_t k = 0; k < strlen(bad[i]); k++) {
            size_t cut = k;
            int rc = mp_feed("b", bad[i], strlen(bad[i]), &cut, 1);
            if (rc != -400)
                fail_msg("case %zu cut %zu: %d", i, k, rc);
        }
    }
    /* Header lines over the limit; a name over 255 bytes. */
    size_t cap = HTTP_MAX_PART_HEAD + 256;
    char *b = malloc(cap);
    assert_non_null(b);
    for (int over = 0; over <= 1; over++) {
        int o = snprintf(b, cap,
                         "--b\r\nContent-Disposition: form-data\r\n"
                         "X: ");
        size_t v = HTTP_MAX_PART_HEAD - 32 - 3 - 4 + (size_t)over;
        memset(b + o, 'v', v);
        memcpy(b + (size_t)o + v, "\r\n\r\n\r\n--b--", 11);
        assert_int_equal(mp_feed("b", b, (size_t)o + v + 11, NULL, 0),
                         over ? -400 : 1);
    }
    for (int over = 0; over <= 1; over++) {
        int o = snprintf(b, cap,
                         "--b\r\nContent-Disposition: form-data; "
                         "name=\"");
        memset(b + o, 'n', 255 + (size_t)over);
        memcpy(b + o + 255 + over, "\"\r\n\r\n\r\n--b--", 12);
        assert_int_equal(
            mp_feed("b", b, (size_t)o + 267 + (size_t)over, NULL, 0),
            over ? -400 : 1);
    }
    free(b);
    /* Boundaries: 1..70 bchars, no trailing space. */
    assert_int_equal(http_multipart_init(&mp, "", 0, &mp_cb), -400);
    assert_int_equal(http_multipart_init(&mp, "a ", 2, &mp_cb), -400);
    assert_int_equal(http_multipart_init(&mp, "a\r", 2, &mp_cb), -400);
    char lb[72];
    memset(lb, 'b', sizeof lb);
    assert_int_equal(http_multipart_init(&mp, lb, 70, &mp_cb), 0);
    assert_int_equal(http_multipart_init(&mp, lb, 71, &mp_cb), -400);
}

/* The file name reported for a filename parameter p (quoted as given). */
static void filename(const char *p, const char *want, bool ok)
{
    char b[1024];
    snprintf(b, sizeof b,
             "--b\r\nContent-Disposition: form-data; name=f; filename=%s\r\n"
             "\r\nx\r\n--b--",
             p);
    assert_int_equal(mp_feed("b", b, strlen(b), NULL, 0), 1);
    char w[512];
    snprintf(w, sizeof w, "[part name=f file=%s ok=%d type=-]x[end]", want, ok);
    if (strcmp(mp_log, w) != 0)
        fail_msg("%s: %s", p, mp_log);
}

static void test_multipart_filenames(void **state)
{
    (void)state;
    filename("\"a.txt\"", "a.txt", true);
    filename("a.txt", "a.txt", true);
    filename("\"../../etc/passwd\"", "passwd", true);
    filename("\"/abs/x y.txt\"", "x y.txt", true);
    filename("\"C:\\\\Users\\\\me\\\\f.txt\"", "f.txt", true);
    filename("\"caf\xc3\xa9.txt\"", "caf\xc3\xa9.txt", true);
    filename("\"q%22q\"", "q\"q", true);
    filename("\"100%.txt\"", "100%.txt", true);
    filename("\"\"", "", false);
    filename("\".\"", ".", false);
    filename("\"..\"", "..", false);
    filename("\"a/..\"", "..", false);
    filename("\"dir/\"", "", false);
    filename("\"a\tb\"", "a\tb", false);
    filename("\"%22..\"", "\"..", true);
    /* Blanks around the parameters. */
    char b[512];
    const char *sp = "--b\r\nContent-Disposition: form-data ; name = \"f\" ;"
                     "filename= \"a.txt\" \t\r\n\r\nx\r\n--b--";
    assert_int_equal(mp_feed("b", sp, strlen(sp), NULL, 0), 1);
    assert_string_equal(mp_log, "[part name=f file=a.txt ok=1 type=-]x[end]");
    /* A part's Content-Type: up to 255 bytes. */
    for (int over = 0; over <= 1; over++) {
        int o = snprintf(b, sizeof b,
                         "--b\r\nContent-Disposition: form-data; name=n\r\n"
                         "Content-Type: ");
        memset(b + o, 't', 255 + (size_t)over);
        memcpy(b + o + 255 + over, "\r\n\r\n\r\n--b--", 11);
        size_t len = (size_t)o + 266 + (size_t)over;
        assert_int_equal(mp_feed("b", b, len, NULL, 0), over ? -400 : 1);
        if (!over)
            assert_int_equal(strlen(mp_log), 35 + 255 + 1 + 5);
    }
    char longname[400] = "\"";
    memset(longname + 1, 'x', 256);
    memcpy(longname + 257, "\"", 2);
    filename(longname, "", false);
    memset(longname + 1, 'x', 255);
    memcpy(longname + 256, "\"", 2);
    char want[300];
    memset(want, 'x', 255);
    want[255] = '\0';
    filename(longname, want, true);
}

static void test_multipart_boundary(void **state)
{
    (void)state;
    static const struct {
        const char *ctype, *boundary; /* NULL: -1 */
    } t[] = {
        {"multipart/form-data; boundary=----WebKitFormBoundary7MA4YWxkTrZu0gW",
         "----WebKitFormBoundary7MA4YWxkTrZu0gW"},
        {"Multipart/Form-Data;BOUNDARY=x", "x"},
        {"multipart/form-data; charset=utf-8; boundary=\"a b:c?\"", "a b:c?"},
        {"multipart/form-data ; boundary=abc ", "abc"},
        {"multipart/form-data", NULL},
        {"multipart/form-data;", NULL},
        {"multipart/form-data; boundary=", NULL},
        {"multipart/form-data; boundary=\"\"", NULL},
        {"multipart/form-data; boundary=\"a \"", NULL},
        {"multipart/form-data; boundary=\"a\\\"b\"", NULL},
        {"multipart/form-data; boundary=\"ab", NULL},
        {"multipart/form-data; boundary=a(b", NULL},
        {"multipart/form-data; boundary=a; boundary=b", NULL},
        {"multipart/form-datax; boundary=a", NULL},
        {"multipart/mixed; boundary=a", NULL},
        {"text/plain; boundary=a", NULL},
        {"multipart/form-data; boundary=a\x01", NULL},
        {"multipart/form-data; boundary=\"a\x01\"", NULL},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        char out[HTTP_MAX_BOUNDARY + 1];
        int rc = http_multipart_boundary(t[i].ctype, strlen(t[i].ctype), out);
        if (t[i].boundary == NULL) {
            if (rc != -1)
                fail_msg("'%s': %d", t[i].ctype, rc);
        } else {
            if (rc != (int)strlen(t[i].boundary))
                fail_msg("'%s': %d", t[i].ctype, rc);
            assert_string_equal(out, t[i].boundary);
        }
    }
    char v[128] = "multipart/form-data; boundary=";
    size_t o = strlen(v);
    memset(v + o, 'b', 71);
    v[o + 71] = '\0';
    char out[HTTP_MAX_BOUNDARY + 1];
    assert_int_equal(http_multipart_boundary(v, strlen(v), out), -1);
    v[o + 70] = '\0';
    assert_int_equal(http_multipart_boundary(v, strlen(v), out), 70);
}

/* ---- helpers ------------------------------------------------------------ */

static void test_dates(void **state)
{
    (void)state;
    char b[HTTP_DATE_LEN + 1];
    time_t t;
    assert_int_equal(http_date_format(0, b), HTTP_DATE_LEN);
    assert_string_equal(b, "Thu, 01 Jan 1970 00:00:00 GMT");
    assert_int_equal(http_date_format(784111777, b), HTTP_DATE_LEN);
    assert_string_equal(b, "Sun, 06 Nov 1994 08:49:37 GMT");
    static const char *forms[] = {
        "Sun, 06 Nov 1994 08:49:37 GMT",
        "Sunday, 06-Nov-94 08:49:37 GMT",
        "Sun Nov  6 08:49:37 1994",
    };
    for (size_t i = 0; i < 3; i++) {
        t = 0;
        assert_int_equal(http_date_parse(forms[i], strlen(forms[i]), &t), 0);
        assert_int_equal(t, 784111777);
    }
    assert_int_equal(http_date_parse("Sun Nov 16 08:49:37 1994", 24, &t), 0);
    assert_int_equal(t, 784111777 + 10 * 86400);
    assert_int_equal(
        http_date_parse("Thursday, 01-Jan-04 00:00:00 GMT", 32, &t), 0);
    assert_int_equal(t, 1072915200); /* 2004 */
    assert_int_equal(http_date_parse("Tue, 29 Feb 2000 00:00:00 GMT", 29, &t),
                     0);
    static const char *bad[] = {
        "Sun, 06 Nov 1994 08:49:37 UTC",
        "Sun, 06 Nov 1994 08:49:37 GMT ",
        "Sun, 6 Nov 1994 08:49:37 GMT",
        "Xyz, 06 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nox 1994 08:49:37 GMT",
        "Sun, 31 Feb 1994 08:49:37 GMT",
        "Sun, 29 Feb 1900 08:49:37 GMT",
        "Sun, 00 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 24:00:00 GMT",
        "Sun, 06 Nov 1994 08:60:00 GMT",
        "Sun, 06 Nov 1994 08:49:61 GMT",
        "Sun, 06 Nov 19a4 08:49:37 GMT",
        "Sun, 06 Nov 1994 08-49-37 GMT",
        "Sunday, 06-Nov-1994 08:49:37 GMT",
        "Sun Nov 6 08:49:37 1994",
        "Sun Nov  6 08:49:37 1994 ",
        "",
        "Sun,",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (http_date_parse(bad[i], strlen(bad[i]), &t) != -1)
            fail_msg("accepted '%s'", bad[i]);
    /* Round trips, checked against the C library (UTC, C locale). */
    for (int i = 0; i < 20000; i++) {
        int64_t r = ((int64_t)rand() << 31 | rand()) % 253402300800LL;
        if (i == 1)
            r = 253402300799LL; /* 9999-12-31 23:59:59 */
        if (i == 2)
            r = -62167219200LL; /* 0000-01-01 */
        if (i >= 3 && i < 100)
            r = -(r % 62167219200LL); /* before 1970 */
        t = (time_t)r;
        assert_int_equal(http_date_format(t, b), HTTP_DATE_LEN);
        struct tm tm;
        assert_non_null(gmtime_r(&t, &tm));
        char c[64];
        strftime(c, sizeof c, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        if (tm.tm_year + 1900 >= 1000)
            assert_string_equal(b, c);
        time_t back;
        assert_int_equal(http_date_parse(b, HTTP_DATE_LEN, &back), 0);
        assert_int_equal(back, t);
    }
    assert_int_equal(http_date_format(253402300800LL, b), 0);
    assert_int_equal(http_date_format(-62167219201LL, b), 0);
    assert_int_equal(http_date_format((time_t)INT64_MIN, b), 0);
    assert_int_equal(http_date_format((time_t)INT64_MAX, b), 0);
}

static void test_escaping(void **state)
{
    (void)state;
    char b[64];
    assert_int_equal(http_pct_decode("a%20b+c%2F", 10, b, sizeof b, true), 6);
    assert_string_equal(b, "a b c/");
    assert_int_equal(http_pct_decode("a%20b+c", 7, b, sizeof b, false), 5);
    assert_string_equal(b, "a b+c");
    assert_int_equal(http_pct_decode("%e2%82%AC", 9, b, sizeof b, false), 3);
    assert_string_equal(b, "\xe2\x82\xac");
    assert_int_equal(http_pct_decode("", 0, b, sizeof b, false), 0);
    assert_string_equal(b, "");
    static const char *bad[] = {"%", "%0", "a%", "%00", "%0g", "%g0", "%%"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(
            http_pct_decode(bad[i], strlen(bad[i]), b, sizeof b, false), -1);
    assert_int_equal(http_pct_decode("a\0b", 3, b, sizeof b, false), -1);
    assert_int_equal(http_pct_decode("abc", 3, b, 3, false), -1);
    assert_int_equal(http_pct_decode("abc", 3, b, 4, false), 3);
    assert_int_equal(http_pct_decode("", 0, b, 0, false), -1);

    const char *h = "<a href=\"x\">&'";
    assert_int_equal(http_html_escape(h, strlen(h), b, sizeof b), 38);
    assert_string_equal(b, "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
    assert_int_equal(http_html_escape(h, strlen(h), b, 6), 38);
    assert_string_equal(b, "&lt;a");
    assert_int_equal(http_html_escape("abc", 3, b, 0), 3);
    /* Measuring with no buffer at all. */
    assert_int_equal(http_html_escape(h, strlen(h), NULL, 0), 38);
    assert_int_equal(http_url_encode("a b", 3, NULL, 0, false), 5);

    const char *u = "a b/\xc3\xbc~_.-Z9?#%";
    assert_int_equal(http_url_encode(u, strlen(u), b, sizeof b, false), 29);
    assert_string_equal(b, "a%20b%2F%C3%BC~_.-Z9%3F%23%25");
    assert_int_equal(http_url_encode(u, strlen(u), b, sizeof b, true), 27);
    assert_string_equal(b, "a%20b/%C3%BC~_.-Z9%3F%23%25");
    assert_int_equal(http_url_encode(u, strlen(u), b, 5, false), 29);
    assert_string_equal(b, "a%20");
}

static void test_mime(void **state)
{
    (void)state;
    static const struct {
        const char *name, *type;
    } t[] = {
        {"index.html", "text/html; charset=utf-8"},
        {"A.HTM", "text/html; charset=utf-8"},
        {"notes.txt", "text/plain; charset=utf-8"},
        {"s.css", "text/css; charset=utf-8"},
        {"app.js", "text/javascript; charset=utf-8"},
        {"d.json", "application/json"},
        {"p.png", "image/png"},
        {"p.JPG", "image/jpeg"},
        {"p.jpeg", "image/jpeg"},
        {"g.gif", "image/gif"},
        {"i.svg", "image/svg+xml"},
        {"d.pdf", "application/pdf"},
        {"a.zip", "application/zip"},
        {"a.tar.gz", "application/gzip"},
        {"a.tar", "application/x-tar"},
        {"v.mp4", "video/mp4"},
        {"v.webm", "video/webm"},
        {"s.mp3", "audio/mpeg"},
        {"m.wasm", "application/wasm"},
        {"README.md", "text/markdown; charset=utf-8"},
        {"noext", "application/octet-stream"},
        {".md", "application/octet-stream"},
        {"dir.html/file", "application/octet-stream"},
        {"dir/x.png", "image/png"},
        {"x.", "application/octet-stream"},
        {"x.exe", "application/octet-stream"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        assert_string_equal(http_mime_type(t[i].name), t[i].type);
}

static void test_etags(void **state)
{
    (void)state;
    char e[HTTP_ETAG_MAX];
    assert_int_equal(http_etag(e, 1234, 1700000000123456789LL, 42), 25);
    assert_string_equal(e, "\"2a-4d2-17979cfe3d85cd15\"");
    size_t n = http_etag(e, UINT64_MAX, INT64_MAX, UINT64_MAX);
    assert_true(n < HTTP_ETAG_MAX);
    assert_int_equal(n, strlen(e));

    const char *tag = "\"abc\"";
    static const struct {
        const char *v;
        int match;
    } t[] = {
        {"*", 1},
        {" * ", 1},
        {"\"abc\"", 1},
        {"W/\"abc\"", 1},
        {"\"x\", \"abc\"", 1},
        {"\"x\",W/\"abc\" ,\"y\"", 1},
        {"\"x\", \"y\"", 0},
        {"\"abcd\"", 0},
        {"\"ab\"", 0},
        {"abc", 0},
        {"\"abc", 0},
        {"", 0},
        {"w/\"abc\"", 0},
        {"\"x\" garbage", 0},
        {"*, \"x\"", 0},
        {"\"x\"y, \"abc\"", 0},
        {"\"a c\", \"abc\"", 0},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (http_etag_match(t[i].v, strlen(t[i].v), tag) != t[i].match)
            fail_msg("'%s'", t[i].v);
    assert_int_equal(http_etag_match("\"abc\"", 5, "W/\"abc\""), 1);
}

static void test_not_modified(void **state)
{
    (void)state;
    const char *tag = "\"t\"";
    time_t mtime = 784111777; /* Sun, 06 Nov 1994 08:49:37 GMT */
    static const struct {
        const char *req;
        int nm;
    } t[] = {
        {"GET / HTTP/1.1\r\nHost: h\r\n\r\n", 0},
        {"GET / HTTP/1.1\r\nHost: h\r\nIf-None-Match: \"t\"\r\n\r\n", 1},
        {"HEAD / HTTP/1.1\r\nHost: h\r\nIf-None-Match: *\r\n\r\n", 1},
        {"POST / HTTP/1.1\r\nHost: h\r\nIf-None-Match: \"t\"\r\n\r\n", 0},
        {"GET / HTTP/1.1\r\nHost: h\r\nIf-None-Match: \"u\"\r\n\r\n", 0},
        {"GET / HTTP/1.1\r\nHost: h\r\n"
         "If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n\r\n",
         1},
        {"GET / HTTP/1.1\r\nHost: h\r\n"
         "If-Modified-Since: Sun, 06 Nov 1994 08:49:36 GMT\r\n\r\n",
         0},
        {"GET / HTTP/1.1\r\nHost: h\r\n"
         "If-Modified-Since: Sunday, 06-Nov-94 09:00:00 GMT\r\n\r\n",
         1},
        {"GET / HTTP/1.1\r\nHost: h\r\nIf-Modified-Since: yesterday\r\n\r\n",
         0},
        /* If-None-Match wins over If-Modified-Since. */
        {"GET / HTTP/1.1\r\nHost: h\r\nIf-None-Match: \"u\"\r\n"
         "If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n\r\n",
         0},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        assert_true(parse(t[i].req) > 0);
        if (http_not_modified(&req, tag, mtime) != t[i].nm)
            fail_msg("case %zu", i);
    }
}

int main(void)
{
    srand(12345);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_ok),
        cmocka_unit_test(test_request_keep_alive),
        cmocka_unit_test(test_request_leading_crlf_and_pipelining),
        cmocka_unit_test(test_request_line_errors),
        cmocka_unit_test(test_request_paths),
        cmocka_unit_test(test_request_header_errors),
        cmocka_unit_test(test_request_framing),
        cmocka_unit_test(test_request_limits),
        cmocka_unit_test(test_chunked),
        cmocka_unit_test(test_range),
        cmocka_unit_test(test_multipart),
        cmocka_unit_test(test_multipart_errors),
        cmocka_unit_test(test_multipart_filenames),
        cmocka_unit_test(test_multipart_boundary),
        cmocka_unit_test(test_dates),
        cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_mime),
        cmocka_unit_test(test_etags),
        cmocka_unit_test(test_not_modified),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    free(moving);
    return rc;
}
