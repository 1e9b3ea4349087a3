/* http_range.c - the Range request header (RFC 9110 section 14.1-14.2)
 * against a file's size.
 *
 * A malformed header is ignored (the whole file, 200), as the RFC asks;
 * a valid one with nothing satisfiable is 416. What is satisfiable is
 * clipped, sorted and merged where it overlaps or touches, so a client
 * cannot make the server send the same bytes many times over (the RFC
 * lets a server coalesce ranges; docs/http.md).
 */
#include <string.h>
#include <strings.h>

#include "http.h"

/* Decimal digits at v[*i..n), saturating at UINT64_MAX: false if none. */
static bool number(const char *v, size_t n, size_t *i, uint64_t *x)
{
    size_t s = *i;
    uint64_t r = 0;
    while (*i < n && v[*i] >= '0' && v[*i] <= '9') {
        unsigned d = (unsigned)(v[*i] - '0');
        r = r > (UINT64_MAX - d) / 10 ? UINT64_MAX : r * 10 + d;
        (*i)++;
    }
    if (*i == s)
        return false; /* *x untouched */
    *x = r;
    return true;
}

int http_parse_range(const char *v, size_t len, uint64_t size,
                     struct http_range out[HTTP_MAX_RANGES])
{
    if (len < 6 || strncasecmp(v, "bytes=", 6) != 0)
        return 0;
    size_t i = 6;
    int specs = 0, n = 0;
    while (i < len) {
        /* One list member: OWS spec OWS, then ',' or the end. Empty
         * members are allowed by the list syntax (RFC 9110 5.6.1). */
        while (i < len && (v[i] == ' ' || v[i] == '\t'))
            i++;
        if (i < len && v[i] == ',') {
            i++;
            continue;
        }
        if (i == len)
            break;
        uint64_t first = 0, last = UINT64_MAX;
        bool suffix = v[i] == '-';
        if (suffix) {
            i++;
            if (!number(v, len, &i, &last))
                return 0;
        } else {
            if (!number(v, len, &i, &first) || i == len || v[i] != '-')
                return 0;
            i++;
            if (number(v, len, &i, &last) && last < first)
                return 0;
        }
        while (i < len && (v[i] == ' ' || v[i] == '\t'))
            i++;
        if (i < len && v[i] != ',')
            return 0;
        if (++specs > HTTP_MAX_RANGES)
            return 0;
        if (suffix) {
            if (last == 0 || size == 0)
                continue; /* "-0": unsatisfiable */
            first = last >= size ? 0 : size - last;
            last = size - 1;
        } else {
            if (first >= size)
                continue;
            if (last >= size)
                last = size - 1;
        }
        out[n].first = first;
        out[n].last = last;
        n++;
    }
    if (specs == 0 || size == 0)
        return 0;
    if (n == 0)
        return -416;
    /* Sort by first byte (at most 16: insertion), then merge. */
    for (int a = 1; a < n; a++) {
        struct http_range t = out[a];
        int b = a;
        for (; b > 0 && out[b - 1].first > t.first; b--)
            out[b] = out[b - 1];
        out[b] = t;
    }
    int m = 0;
    for (int a = 1; a < n; a++) {
        /* last < size <= UINT64_MAX, so last + 1 cannot overflow. */
        if (out[a].first <= out[m].last + 1) {
            if (out[a].last > out[m].last)
                out[m].last = out[a].last;
        } else {
            out[++m] = out[a];
        }
    }
    return m + 1;
}
