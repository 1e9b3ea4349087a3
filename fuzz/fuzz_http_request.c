/* fuzz_http_request.c - weftd's HTTP request head parser and chunked body
 * decoder (src/weftd/http_parse.c), fed arbitrary bytes.
 *
 * For any bytes:
 *   - http_parse_request never crashes or reads past the input; it
 *     answers "need more", a head length, or one of -400 -414 -431 -501
 *     -505; fed whole, byte by byte, or in pieces cut where the input
 *     says, it gives the same answer and the same request;
 *   - what it accepts holds no NUL, "." or ".." segment in its decoded
 *     path, ends in CRLF CRLF, keeps its strings inside the input, and
 *     stays within the limits (HTTP_HEAD_MAX bytes, 100 headers);
 *   - with HTTP_HEAD_MAX bytes or more, it has decided;
 *   - the chunked decoder, over what follows an accepted chunked head
 *     (or over the whole input otherwise), gives the same body, the same
 *     end and the same verdict however the bytes are split.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/weftd/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct http_request a, b;

/* A small deterministic generator: piece sizes from the input itself. */
static uint32_t next(uint32_t *s)
{
    *s = *s * 1103515245u + 12345u;
    return *s >> 16;
}

static uint32_t seed_of(const uint8_t *d, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ d[i]) * 16777619u;
    return h;
}

static void same(const struct http_request *x, const struct http_request *y)
{
    if (x->method != y->method || x->version != y->version ||
        x->keep_alive != y->keep_alive ||
        x->expect_continue != y->expect_continue || x->body != y->body ||
        x->content_length != y->content_length ||
        x->target_len != y->target_len || x->path_len != y->path_len ||
        strcmp(x->path, y->path) != 0 ||
        (x->query == NULL) != (y->query == NULL) ||
        x->query_len != y->query_len || x->n_fields != y->n_fields)
        abort();
}

static bool inside(const char *p, size_t n, const char *buf, size_t len)
{
    return p >= buf && p + n <= buf + len;
}

static void check_accepted(const struct http_request *r, const char *buf,
                           size_t len, int rc)
{
    size_t n = (size_t)rc;
    if (n > len || n > HTTP_HEAD_MAX || n < 4 ||
        memcmp(buf + n - 4, "\r\n\r\n", 4) != 0)
        abort();
    if (r->n_fields > HTTP_MAX_HEADERS)
        abort();
    if (r->method < HTTP_GET || r->method > HTTP_OPTIONS)
        abort();
    if (r->version != 10 && r->version != 11)
        abort();
    if (!inside(r->target, r->target_len, buf, n))
        abort();
    if (r->query != NULL && !inside(r->query, r->query_len, buf, n))
        abort();
    if (strlen(r->path) != r->path_len || r->path_len == 0)
        abort();
    if (strcmp(r->path, "*") == 0) {
        if (r->method != HTTP_OPTIONS)
            abort();
    } else {
        if (r->path[0] != '/')
            abort();
        /* No "." or ".." segment (a naive second opinion). */
        char p[HTTP_MAX_REQUEST_LINE + 3];
        memcpy(p, r->path, r->path_len);
        memcpy(p + r->path_len, "/", 2);
        if (strstr(p, "/./") != NULL || strstr(p, "/../") != NULL)
            abort();
    }
    if (r->body == HTTP_BODY_LENGTH && r->content_length > INT64_MAX)
        abort();
    static const char *const names[] = {"host", "content-length", "range",
                                        "transfer-encoding", "x"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        size_t vl;
        const char *v = http_header(r, names[i], &vl);
        if (v != NULL && !inside(v, vl, buf, n))
            abort();
        if (v != NULL && vl > 0 && (v[0] == ' ' || v[vl - 1] == ' '))
            abort();
    }
    if (r->version == 11 && http_header(r, "host", &(size_t){0}) == NULL)
        abort();
}

/* Decode s[0..n) in pieces (step 0: pseudo-random), copying each piece
 * into a small buffer; body bytes into out. */
static int chunked(const uint8_t *s, size_t n, size_t step, uint32_t seed,
                   uint8_t *out, size_t *olen, size_t *used)
{
    struct http_chunked c;
    http_chunked_init(&c);
    char buf[97];
    size_t i = 0;
    int rc = 0;
    *olen = *used = 0;
    while (i < n) {
        size_t k = step ? step : 1 + next(&seed) % sizeof buf;
        if (k > n - i)
            k = n - i;
        if (k > sizeof buf)
            k = sizeof buf;
        memcpy(buf, s + i, k);
        size_t u, body;
        rc = http_chunked_feed(&c, buf, k, &u, &body);
        if (u > k || body > u)
            abort();
        if (rc == 0 && u != k)
            abort();
        memcpy(out + *olen, buf, body);
        *olen += body;
        *used += u;
        i += k;
        if (rc != 0)
            break;
    }
    if (c.total != *olen)
        abort();
    if (rc != 0 && rc != 1 && rc != -400)
        abort();
    return rc;
}

static void check_chunked(const uint8_t *s, size_t n, uint32_t seed)
{
    uint8_t *o1 = malloc(n + 1), *o2 = malloc(n + 1), *o3 = malloc(n + 1);
    uint8_t *whole = malloc(n + 1);
    if (o1 == NULL || o2 == NULL || o3 == NULL || whole == NULL)
        abort();
    size_t l1, l2, l3, u1, u2, u3;
    int r1 = chunked(s, n, 1, seed, o1, &l1, &u1);
    int r2 = chunked(s, n, 0, seed, o2, &l2, &u2);
    int r3 = chunked(s, n, 7, seed, o3, &l3, &u3);
    /* Whole and in place, as the server does. */
    memcpy(whole, s, n);
    struct http_chunked c;
    http_chunked_init(&c);
    size_t u4, l4;
    int r4 = http_chunked_feed(&c, (char *)whole, n, &u4, &l4);
    if (r1 != r2 || r1 != r3 || r1 != r4)
        abort();
    if (r1 != -400) {
        if (l1 != l2 || l1 != l3 || l1 != l4 || u1 != u2 || u1 != u3 ||
            u1 != u4 || memcmp(o1, o2, l1) != 0 || memcmp(o1, o3, l1) != 0 ||
            memcmp(o1, whole, l1) != 0)
            abort();
        /* After the end, the rest is untouched. */
        if (r1 == 1 && memcmp(whole + u4, s + u4, n - u4) != 0)
            abort();
    }
    free(o1);
    free(o2);
    free(o3);
    free(whole);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    uint32_t seed = seed_of(data, size < 64 ? size : 64);

    http_request_init(&a);
    int rc = http_parse_request(&a, buf, size);
    if (rc < 0 && rc != -400 && rc != -414 && rc != -431 && rc != -501 &&
        rc != -505)
        abort();
    if (rc == 0 && size >= HTTP_HEAD_MAX)
        abort();
    if (rc > 0)
        check_accepted(&a, buf, size, rc);

    /* Byte by byte, in one growing buffer. */
    http_request_init(&b);
    int rc2 = 0;
    for (size_t k = 1; k <= size && rc2 == 0; k++)
        rc2 = http_parse_request(&b, buf, k);
    if (rc2 != rc)
        abort();
    if (rc > 0)
        same(&a, &b);

    /* In pieces, through a buffer that moves at every call. */
    http_request_init(&b);
    int rc3 = 0;
    char *moving = NULL;
    for (size_t k = 0; k < size && rc3 == 0;) {
        k += 1 + next(&seed) % 300;
        if (k > size)
            k = size;
        char *m = malloc(k);
        if (m == NULL)
            abort();
        memcpy(m, buf, k);
        free(moving);
        moving = m;
        rc3 = http_parse_request(&b, m, k);
    }
    if (rc3 != rc)
        abort();
    if (rc > 0) {
        same(&a, &b);
        check_accepted(&b, moving, size, rc);
    }
    free(moving);

    if (rc > 0 && a.body == HTTP_BODY_CHUNKED)
        check_chunked(data + rc, size - (size_t)rc, seed);
    else if (rc < 0)
        check_chunked(data, size, seed);
    return 0;
}

#ifndef WEFT_LIBFUZZER
/* All of f in a malloc'd buffer, or NULL. */
static uint8_t *read_all(FILE *f, size_t *len)
{
    size_t cap = 1 << 16;
    uint8_t *data = malloc(cap);
    *len = 0;
    while (data != NULL) {
        size_t got = fread(data + *len, 1, cap - *len, f);
        if (got == 0)
            break;
        *len += got;
        if (*len == cap) {
            cap *= 2;
            uint8_t *d = realloc(data, cap);
            if (d == NULL)
                free(data);
            data = d;
        }
    }
    return data;
}

/* Replay: each argument is one input file, read whole. */
int main(int argc, char **argv)
{
    int n = 0;
    for (int i = 1; i < argc; i++) {
        FILE *f = fopen(argv[i], "rb");
        if (f == NULL) {
            fprintf(stderr, "fuzz_http_request: cannot open %s\n", argv[i]);
            return 1;
        }
        size_t len;
        uint8_t *data = read_all(f, &len);
        fclose(f);
        if (data == NULL)
            return 1;
        LLVMFuzzerTestOneInput(data, len);
        free(data);
        n++;
    }
    printf("fuzz_http_request: replayed %d inputs\n", n);
    return n > 0 ? 0 : 1;
}
#endif
