/* frame.c - framed messages: a 4-byte little-endian header length, a JSON
 * object header, a body of the header's file_size bytes (weft/frame.h,
 * docs/PROTOCOL.md).
 *
 * One checker (check_header) serves the in-memory parser, which the fuzz
 * target drives, and the descriptor reader, so both refuse exactly the
 * same frames. The length is checked before anything is allocated, and
 * jansson parses strictly: valid UTF-8 only, no NUL, no duplicate keys,
 * nothing after the object.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <weft/co.h>
#include <weft/frame.h>
#include <weft/net.h>

#define BODY_CHUNK (64u * 1024)
/* Bodies received to a callback or a file: big reads, few system calls
 * (1 GiB in 1,024 reads rather than 16,384). */
#define RECV_CHUNK (1024u * 1024)

static int limits(const weft_frame_limits *lim, size_t *max_header,
                  uint64_t *max_body)
{
    *max_header = lim != NULL && lim->max_header
                      ? lim->max_header
                      : WEFT_FRAME_MAX_HEADER_DEFAULT;
    *max_body = lim != NULL && lim->max_body ? lim->max_body
                                             : WEFT_FRAME_MAX_BODY_DEFAULT;
    return *max_header > WEFT_FRAME_MAX_HEADER_LIMIT ? -EINVAL : 0;
}

static uint32_t get_le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static void put_le32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

/* Parse and check len bytes of header text. */
static int check_header(const char *text, size_t len, uint64_t max_body,
                        json_t **header, uint64_t *body_len)
{
    json_error_t err;
    json_t *h = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
    if (h == NULL || !json_is_object(h)) {
        json_decref(h);
        return WEFT_EHDRJSON;
    }
    uint64_t size = 0;
    json_t *fs = json_object_get(h, "file_size");
    if (fs != NULL) {
        /* A whole number: 3 yes; 3.0, -1, "3", 1e3 no. */
        if (!json_is_integer(fs) || json_integer_value(fs) < 0 ||
            (uint64_t)json_integer_value(fs) > max_body) {
            json_decref(h);
            return WEFT_EBODYSIZE;
        }
        size = (uint64_t)json_integer_value(fs);
    }
    *header = h;
    *body_len = size;
    return 0;
}

int weft_frame_parse(const void *buf, size_t n, const weft_frame_limits *lim,
                     json_t **header, uint64_t *body_len)
{
    size_t max_header;
    uint64_t max_body;
    if ((buf == NULL && n > 0) || header == NULL || body_len == NULL ||
        limits(lim, &max_header, &max_body) < 0)
        return -EINVAL;
    if (n < 4)
        return 0;
    uint32_t len = get_le32(buf);
    if (len == 0 || len > max_header)
        return WEFT_EHDRLEN;
    if (n - 4 < len)
        return 0;
    int rc =
        check_header((const char *)buf + 4, len, max_body, header, body_len);
    return rc < 0 ? rc : (int)(4 + len);
}

int weft_frame_encode(json_t *header, uint64_t body_len, weft_buf *out)
{
    if (!json_is_object(header) || out == NULL || body_len > INT64_MAX)
        return -EINVAL;
    int rc = body_len > 0
                 ? json_object_set_new(header, "file_size",
                                       json_integer((json_int_t)body_len))
                 : (json_object_del(header, "file_size"), 0);
    if (rc < 0)
        return -ENOMEM;
    size_t len = json_dumpb(header, NULL, 0, JSON_COMPACT);
    if (len == 0)
        return -ENOMEM;
    if (len > WEFT_FRAME_MAX_HEADER_LIMIT)
        return -EMSGSIZE;
    size_t start = out->len;
    if ((rc = weft_buf_reserve(out, 4 + len)) < 0)
        return rc;
    put_le32((unsigned char *)out->data + start, (uint32_t)len);
    if (json_dumpb(header, out->data + start + 4, len, JSON_COMPACT) != len)
        return -ENOMEM;
    out->len = start + 4 + len;
    out->data[out->len] = '\0';
    return 0;
}

int weft_frame_send_header(int fd, json_t *header, uint64_t body_len,
                           int timeout_ms)
{
    weft_buf b = WEFT_BUF_INIT;
    int rc = weft_frame_encode(header, body_len, &b);
    if (rc == 0)
        rc = weft_write_all(fd, b.data, b.len, NULL, timeout_ms);
    weft_buf_free(&b);
    return rc;
}

int weft_frame_send(int fd, json_t *header, const void *body, size_t len,
                    int timeout_ms)
{
    if (body == NULL && len > 0)
        return -EINVAL;
    weft_deadline d = weft_deadline_in(timeout_ms);
    weft_buf b = WEFT_BUF_INIT;
    int rc = weft_frame_encode(header, len, &b);
    /* One write for small bodies: header and body in one segment. */
    if (rc == 0 && len <= BODY_CHUNK) {
        rc = weft_buf_append(&b, body, len);
        if (rc == 0)
            rc = weft_write_all(fd, b.data, b.len, NULL, timeout_ms);
    } else if (rc == 0) {
        rc = weft_write_all(fd, b.data, b.len, NULL, timeout_ms);
        if (rc == 0)
            rc = weft_write_all(fd, body, len, NULL,
                                weft_deadline_remaining_ms(d));
    }
    weft_buf_free(&b);
    return rc;
}

int weft_frame_send_file(int fd, json_t *header, int file_fd, off_t offset,
                         uint64_t len, int timeout_ms)
{
    weft_deadline d = weft_deadline_in(timeout_ms);
    int rc = weft_frame_send_header(fd, header, len, timeout_ms);
    while (rc == 0 && len > 0) {
        size_t chunk = len > 0x7ffff000 ? 0x7ffff000 : (size_t)len;
        ssize_t n = weft_co_sendfile(fd, file_fd, &offset, chunk,
                                     weft_deadline_remaining_ms(d));
        if (n == 0)
            return -EIO; /* the file is shorter than announced */
        if (n < 0)
            return (int)n;
        len -= (uint64_t)n;
    }
    return rc;
}

/* read_exact, with end of file mid-frame reported as a truncation. */
static int read_part(int fd, void *buf, size_t len, weft_deadline d, bool first)
{
    size_t got = 0;
    int rc = weft_read_exact(fd, buf, len, &got, weft_deadline_remaining_ms(d));
    if (rc == WEFT_ECLOSED)
        return first && got == 0 ? WEFT_ECLOSED : WEFT_ETRUNCATED;
    return rc;
}

int weft_frame_recv(int fd, const weft_frame_limits *lim, json_t **header,
                    uint64_t *body_len, int timeout_ms)
{
    size_t max_header;
    uint64_t max_body;
    if (header == NULL || body_len == NULL ||
        limits(lim, &max_header, &max_body) < 0)
        return -EINVAL;
    weft_deadline d = weft_deadline_in(timeout_ms);
    unsigned char prefix[4];
    int rc = read_part(fd, prefix, sizeof prefix, d, true);
    if (rc < 0)
        return rc;
    uint32_t len = get_le32(prefix);
    if (len == 0 || len > max_header)
        return WEFT_EHDRLEN;
    char *text = malloc(len);
    if (text == NULL)
        return -ENOMEM;
    rc = read_part(fd, text, len, d, false);
    if (rc == 0)
        rc = check_header(text, len, max_body, header, body_len);
    free(text);
    return rc;
}

int weft_frame_recv_body(int fd, void *buf, size_t len, int timeout_ms)
{
    if (buf == NULL && len > 0)
        return -EINVAL;
    return read_part(fd, buf, len, weft_deadline_in(timeout_ms), false);
}

int weft_frame_recv_body_cb(int fd, uint64_t len, weft_frame_body_fn cb,
                            void *ud, int timeout_ms)
{
    if (cb == NULL)
        return -EINVAL;
    weft_deadline d = weft_deadline_in(timeout_ms);
    char *chunk = malloc(RECV_CHUNK);
    if (chunk == NULL)
        return -ENOMEM;
    int rc = 0;
    while (rc == 0 && len > 0) {
        ssize_t n =
            weft_co_read(fd, chunk, len < RECV_CHUNK ? (size_t)len : RECV_CHUNK,
                         weft_deadline_remaining_ms(d));
        if (n == 0)
            rc = WEFT_ETRUNCATED;
        else if (n < 0)
            rc = (int)n;
        else {
            rc = cb(ud, chunk, (size_t)n);
            len -= (uint64_t)n;
        }
    }
    free(chunk);
    return rc;
}

static int to_file(void *ud, const void *chunk, size_t n)
{
    int fd = *(int *)ud;
    while (n > 0) {
        ssize_t w = write(fd, chunk, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        chunk = (const char *)chunk + w;
        n -= (size_t)w;
    }
    return 0;
}

int weft_frame_recv_body_file(int fd, uint64_t len, int file_fd, int timeout_ms)
{
    return weft_frame_recv_body_cb(fd, len, to_file, &file_fd, timeout_ms);
}
