/* fuzz_http_multipart.c - weftd's multipart/form-data parser
 * (src/weftd/http_multipart.c) and the HTTP helpers that read header
 * values (http_range.c, http_util.c), fed arbitrary bytes.
 *
 * The input's first line (up to '\n') is a header value, the rest a
 * body. For any bytes:
 *   - the line as a Content-Type gives a boundary of 1..70 bchars or -1;
 *     the body (split with that boundary, or "XyZ") is parsed whole, in
 *     pieces cut where the input says, and byte by byte, with the same
 *     events, the same content and the same verdict; content is only
 *     ever passed from the piece being fed or from the delimiter, a
 *     part's content never holds its delimiter, and an accepted file
 *     name is a plain base name;
 *   - the line as a Range gives sorted, disjoint, in-file ranges, 0 or
 *     -416;
 *   - the line as a date, if accepted, formats and parses back; escaping
 *     it for HTML leaves no markup; URL-encoding it decodes back.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/weftd/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint32_t next(uint32_t *s)
{
    *s = *s * 1103515245u + 12345u;
    return *s >> 16;
}

/* ---- multipart ---------------------------------------------------------- */

struct run {
    struct http_multipart m;
    uint64_t hash; /* of every event, in order */
    const char *piece;
    size_t piece_len;
    char *content; /* the current part's content */
    size_t content_len, cap;
};

static void mix(struct run *r, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        r->hash = (r->hash ^ b[i]) * 1099511628211ull;
}

static int on_part(void *ud, const struct http_part *p)
{
    struct run *r = ud;
    mix(r, "P", 1);
    mix(r, p->name, strlen(p->name) + 1);
    if (strlen(p->name) > HTTP_MAX_PART_NAME)
        abort();
    if (p->filename != NULL) {
        const char *f = p->filename;
        size_t n = strlen(f);
        mix(r, f, n + 1);
        mix(r, &p->filename_ok, 1);
        if (p->filename_ok &&
            (n == 0 || n > HTTP_MAX_PART_NAME || strcmp(f, ".") == 0 ||
             strcmp(f, "..") == 0 || strchr(f, '/') != NULL ||
             strchr(f, '\\') != NULL))
            abort();
        for (size_t i = 0; p->filename_ok && i < n; i++)
            if ((unsigned char)f[i] < 0x20 || f[i] == 0x7f)
                abort();
    }
    if (p->content_type != NULL)
        mix(r, p->content_type, strlen(p->content_type) + 1);
    r->content_len = 0;
    return 0;
}

static int on_data(void *ud, const char *p, size_t n)
{
    struct run *r = ud;
    const struct http_multipart *m = &r->m;
    bool in_piece = p >= r->piece && p + n <= r->piece + r->piece_len;
    bool in_delim = p >= m->delim && p + n <= m->delim + m->delim_len;
    if (n == 0 || (!in_piece && !in_delim))
        abort();
    if (r->content_len + n > r->cap)
        abort(); /* more content than body */
    memcpy(r->content + r->content_len, p, n);
    /* No delimiter inside (what the parser must have caught): search
     * what the new bytes could complete. */
    size_t from =
        r->content_len >= m->delim_len ? r->content_len - m->delim_len + 1 : 0;
    r->content_len += n;
    if (memmem(r->content + from, r->content_len - from, m->delim,
               m->delim_len) != NULL)
        abort();
    mix(r, p, n);
    return 0;
}

static int on_part_end(void *ud)
{
    struct run *r = ud;
    mix(r, "E", 1);
    return 0;
}

/* Parse body[0..n) in pieces (step 0: pseudo-random). */
static int multipart(struct run *r, const char *bnd, size_t blen,
                     const char *body, size_t n, size_t step, uint32_t seed)
{
    struct http_multipart_cb cb = {on_part, on_data, on_part_end, r};
    r->hash = 14695981039346656037ull;
    r->content_len = 0;
    if (http_multipart_init(&r->m, bnd, blen, &cb) != 0)
        abort();
    int rc = 0;
    for (size_t i = 0; i < n;) {
        size_t k = step ? step : 1 + next(&seed) % 200;
        if (k > n - i)
            k = n - i;
        /* A copy per piece: data must come from this one. */
        char *piece = malloc(k);
        if (piece == NULL)
            abort();
        memcpy(piece, body + i, k);
        r->piece = piece;
        r->piece_len = k;
        rc = http_multipart_feed(&r->m, piece, k);
        free(piece);
        i += k;
        if (rc != 0)
            break;
    }
    if (rc != 0 && rc != 1 && rc != -400)
        abort();
    mix(r, &rc, sizeof rc);
    return rc;
}

static void check_multipart(const char *line, size_t ln, const char *body,
                            size_t n, uint32_t seed)
{
    char bnd[HTTP_MAX_BOUNDARY + 1];
    int bl = http_multipart_boundary(line, ln, bnd);
    if (bl == 0 || bl > HTTP_MAX_BOUNDARY || (bl < 0 && bl != -1))
        abort();
    if (bl < 0) {
        memcpy(bnd, "XyZ", 4);
        bl = 3;
    } else if (strlen(bnd) != (size_t)bl) {
        abort();
    }
    static struct run r;
    r.cap = n;
    r.content = malloc(n + 1);
    if (r.content == NULL)
        abort();
    int rc1 = multipart(&r, bnd, (size_t)bl, body, n, 0, seed);
    uint64_t h1 = r.hash;
    int rc2 = multipart(&r, bnd, (size_t)bl, body, n, 1, seed);
    if (rc2 != rc1 || r.hash != h1)
        abort();
    int rc3 = multipart(&r, bnd, (size_t)bl, body, n, n ? n : 1, seed);
    if (rc3 != rc1 || r.hash != h1)
        abort();
    free(r.content);
}

/* ---- Range, dates, escaping --------------------------------------------- */

static void check_range(const char *v, size_t n, uint64_t size)
{
    struct http_range out[HTTP_MAX_RANGES];
    int rc = http_parse_range(v, n, size, out);
    if (rc < -416 || (rc < 0 && rc != -416) || rc > HTTP_MAX_RANGES)
        abort();
    if (rc != 0 && size == 0)
        abort();
    for (int i = 0; i < rc; i++) {
        if (out[i].first > out[i].last || out[i].last >= size)
            abort();
        if (i > 0 && out[i].first <= out[i - 1].last + 1)
            abort(); /* not sorted, overlapping or touching */
    }
}

static void check_helpers(const char *line, size_t n)
{
    time_t t;
    if (http_date_parse(line, n, &t) == 0) {
        char d[HTTP_DATE_LEN + 1];
        time_t back;
        if (http_date_format(t, d) != HTTP_DATE_LEN ||
            http_date_parse(d, HTTP_DATE_LEN, &back) != 0 || back != t)
            abort();
    }

    size_t cap = 6 * n + 1;
    char *e = malloc(cap), *f = malloc(cap), *s = malloc(n + 1);
    if (e == NULL || f == NULL || s == NULL)
        abort();
    size_t el = http_html_escape(line, n, e, cap);
    if (el >= cap || e[el] != '\0')
        abort();
    for (size_t i = 0; i < el; i++)
        if (strchr("<>\"'", e[i]) != NULL && e[i] != '\0')
            abort();
    /* A truncated escape is a prefix of the whole one. */
    size_t small = n / 2 + 1;
    size_t keep = el < small - 1 ? el : small - 1;
    if (http_html_escape(line, n, f, small) != el || f[keep] != '\0' ||
        memcmp(f, e, keep) != 0)
        abort();

    size_t ul = http_url_encode(line, n, e, cap, n % 2);
    if (ul >= cap || strlen(e) != ul ||
        strspn(e, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                  "abcdefghijklmnopqrstuvwxyz"
                  "0123456789-._~%/") != ul)
        abort();
    ssize_t dl = http_pct_decode(e, ul, s, n + 1, false);
    if (memchr(line, '\0', n) == NULL) {
        if (dl != (ssize_t)n || memcmp(s, line, n) != 0)
            abort();
    } else if (dl != -1) {
        abort(); /* an encoded NUL is refused */
    }

    memcpy(s, line, n);
    s[n] = '\0';
    if (http_mime_type(s) == NULL)
        abort();
    int match = http_etag_match(line, n, "\"x\"");
    if (match != 0 && match != 1)
        abort();
    if (n == 3 && memcmp(line, "\"x\"", 3) == 0 && match != 1)
        abort();
    free(e);
    free(f);
    free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = (const char *)data;
    const char *nl = memchr(in, '\n', size);
    size_t ln = nl != NULL ? (size_t)(nl - in) : size;
    const char *body = nl != NULL ? nl + 1 : in + size;
    size_t bn = size - (size_t)(body - in);
    uint32_t seed = (uint32_t)size * 2654435761u;
    for (size_t i = 0; i < ln && i < 32; i++)
        seed = seed * 31 + data[i];

    check_multipart(in, ln, body, bn, seed);
    check_range(in, ln, bn);
    check_range(in, ln, (uint64_t)seed * seed);
    check_helpers(in, ln);
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
            fprintf(stderr, "fuzz_http_multipart: cannot open %s\n", argv[i]);
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
    printf("fuzz_http_multipart: replayed %d inputs\n", n);
    return n > 0 ? 0 : 1;
}
#endif
