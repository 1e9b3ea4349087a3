/* buf.c - the growable byte buffer (weft_buf), capped like curl's dynbuf so
 * that no peer can make a buffer grow without bound. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <weft/core.h>

void weft_buf_init(weft_buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max ? max : SIZE_MAX / 2;
}

int weft_buf_reserve(weft_buf *b, size_t n)
{
    size_t need, cap;
    char *p;

    if (n > b->max || b->len > b->max - n)
        return -EMSGSIZE;
    need = b->len + n;
    if (b->data && need <= b->cap)
        return 0;
    /* Grow by doubling from 64 bytes, clamped to the cap, so appends are
     * amortised O(1) without overshooting what the caller allowed. */
    cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap > SIZE_MAX / 4 ? need : cap * 2;
    if (cap > b->max)
        cap = b->max;
    p = realloc(b->data, cap + 1);
    if (!p)
        return -ENOMEM;
    b->data = p;
    b->cap = cap;
    b->data[b->len] = '\0';
    return 0;
}

int weft_buf_append(weft_buf *b, const void *p, size_t n)
{
    int rc = weft_buf_reserve(b, n);

    if (rc < 0)
        return rc;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int weft_buf_append_str(weft_buf *b, const char *s)
{
    return weft_buf_append(b, s, strlen(s));
}

int weft_buf_vappendf(weft_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    int n, rc;

    va_copy(ap2, ap);
    n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return -EINVAL;
    rc = weft_buf_reserve(b, (size_t)n);
    if (rc < 0)
        return rc;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return 0;
}

int weft_buf_appendf(weft_buf *b, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = weft_buf_vappendf(b, fmt, ap);
    va_end(ap);
    return rc;
}

void weft_buf_consume(weft_buf *b, size_t n)
{
    if (n >= b->len) {
        weft_buf_reset(b);
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
    b->data[b->len] = '\0';
}

void weft_buf_reset(weft_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

void weft_buf_free(weft_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

char *weft_buf_detach(weft_buf *b, size_t *len)
{
    char *p = b->data;

    if (len)
        *len = b->len;
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    return p;
}
