/* test_frame.c - framed messages: encode and parse, every malformed
 * frame refused with its own error, bodies from memory, files and
 * streams, truncation and timeouts, inside a coroutine. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include <weft/weft.h>

/* Bytes of a frame with header text h (its length prefixed). */
static size_t raw_frame(unsigned char *out, const char *h)
{
    uint32_t n = (uint32_t)strlen(h);
    out[0] = (unsigned char)n;
    out[1] = (unsigned char)(n >> 8);
    out[2] = (unsigned char)(n >> 16);
    out[3] = (unsigned char)(n >> 24);
    memcpy(out + 4, h, n);
    return 4 + n;
}

static int parse_text(const char *h, uint64_t *body)
{
    unsigned char buf[512];
    size_t n = raw_frame(buf, h);
    json_t *hdr = NULL;
    weft_frame_limits lim = {.max_header = 256, .max_body = 1000};
    int rc = weft_frame_parse(buf, n, &lim, &hdr, body);
    json_decref(hdr);
    return rc;
}

static void test_parse(void **state)
{
    (void)state;
    /* Round trip through encode. */
    json_t *h = json_pack("{s:s, s:s}", "cmd", "put", "file_name", "a.txt");
    weft_buf b = WEFT_BUF_INIT;
    assert_int_equal(weft_frame_encode(h, 1234, &b), 0);
    json_t *got = NULL;
    uint64_t body = 0;
    int n = weft_frame_parse(b.data, b.len, NULL, &got, &body);
    assert_int_equal(n, (int)b.len);
    assert_int_equal(body, 1234);
    assert_string_equal(json_string_value(json_object_get(got, "file_name")),
                        "a.txt");
    json_decref(got);
    /* Every shorter prefix asks for more, without error. */
    for (size_t k = 0; k < b.len; k++)
        assert_int_equal(weft_frame_parse(b.data, k, NULL, &got, &body), 0);
    /* file_size 0 is removed: no body. */
    weft_buf_reset(&b);
    assert_int_equal(weft_frame_encode(h, 0, &b), 0);
    assert_null(strstr(b.data + 4, "file_size"));
    json_decref(h);
    weft_buf_free(&b);

    uint64_t s = 99;
    assert_int_equal(parse_text("{}", &s), 6);
    assert_int_equal(s, 0);
    assert_true(parse_text("{\"file_size\":0}", &s) > 0);
    assert_true(parse_text("{\"file_size\":1000,\"x\":[1,2]}", &s) > 0);
    assert_int_equal(s, 1000);
    assert_true(parse_text("{\"name\":\"caf\xc3\xa9\"}", &s) > 0);

    /* Not JSON, not an object, invalid UTF-8, duplicates, garbage after. */
    static const char *bad_json[] = {
        "{",
        "[]",
        "\"x\"",
        "42",
        "null",
        "{\"a\":1} x",
        "{\"a\":1,\"a\":2}",
        "{\"n\":\"\xff\"}",
        "{'a':1}",
        "{\"a\":tru}",
    };
    for (size_t i = 0; i < sizeof bad_json / sizeof bad_json[0]; i++)
        assert_int_equal(parse_text(bad_json[i], &s), WEFT_EHDRJSON);
    /* file_size negative, fractional, a string, over the limit. */
    static const char *bad_size[] = {
        "{\"file_size\":-1}",    "{\"file_size\":1.5}",  "{\"file_size\":3.0}",
        "{\"file_size\":\"3\"}", "{\"file_size\":1e3}",  "{\"file_size\":1001}",
        "{\"file_size\":null}",  "{\"file_size\":true}",
    };
    for (size_t i = 0; i < sizeof bad_size / sizeof bad_size[0]; i++)
        assert_int_equal(parse_text(bad_size[i], &s), WEFT_EBODYSIZE);

    /* Header lengths: 0, and over the limit - refused from the prefix
     * alone, before the header has even arrived. */
    unsigned char zero[4] = {0, 0, 0, 0};
    assert_int_equal(weft_frame_parse(zero, 4, NULL, &got, &s), WEFT_EHDRLEN);
    unsigned char huge[4] = {0xff, 0xff, 0xff, 0xff};
    assert_int_equal(weft_frame_parse(huge, 4, NULL, &got, &s), WEFT_EHDRLEN);
    unsigned char over[4] = {0x01, 0x00, 0x01, 0x00}; /* 64 KiB + 1 */
    assert_int_equal(weft_frame_parse(over, 4, NULL, &got, &s), WEFT_EHDRLEN);
    /* Bad arguments. */
    assert_int_equal(weft_frame_parse(NULL, 4, NULL, &got, &s), -EINVAL);
    weft_frame_limits silly = {.max_header = (size_t)1 << 30};
    assert_int_equal(weft_frame_parse(zero, 4, &silly, &got, &s), -EINVAL);
    assert_int_equal(weft_frame_encode(NULL, 0, &b), -EINVAL);
    json_t *arr = json_array();
    assert_int_equal(weft_frame_encode(arr, 0, &b), -EINVAL);
    json_decref(arr);
}

/* ---- on a socket --------------------------------------------------------- */

struct sender {
    int fd;
    int mode; /* 0: memory, 1: file, 2: streamed */
    size_t len;
    int file;
};

static unsigned char pattern(size_t i)
{
    return (unsigned char)(i * 7 + 3);
}

static void *send_main(void *arg)
{
    struct sender *s = arg;
    json_t *h = json_pack("{s:s}", "cmd", "get");
    static unsigned char body[300000];
    for (size_t i = 0; i < sizeof body; i++)
        body[i] = pattern(i);
    if (s->mode == 0)
        weft_frame_send(s->fd, h, body, s->len, 5000);
    else if (s->mode == 1)
        weft_frame_send_file(s->fd, h, s->file, 0, s->len, 5000);
    else if (weft_frame_send_header(s->fd, h, s->len, 5000) == 0)
        for (size_t off = 0; off < s->len; off += 1000)
            weft_write_all(s->fd, body + off,
                           s->len - off < 1000 ? s->len - off : 1000, NULL,
                           5000);
    json_decref(h);
    return NULL;
}

static int check_chunks(void *ud, const void *chunk, size_t n)
{
    size_t *at = ud;
    const unsigned char *c = chunk;
    for (size_t i = 0; i < n; i++)
        if (c[i] != pattern(*at + i))
            return -EILSEQ;
    *at += n;
    return 0;
}

static void test_send_recv(void **state)
{
    (void)state;
    char path[] = "/tmp/weft-frame-XXXXXX";
    int file = mkstemp(path);
    assert_true(file >= 0);
    unlink(path);
    static unsigned char data[300000];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = pattern(i);
    assert_int_equal(write(file, data, sizeof data), sizeof data);

    static const size_t sizes[] = {0, 1, 1000, 70000, 300000};
    for (int mode = 0; mode < 3; mode++) {
        for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
            int sv[2];
            assert_int_equal(
                socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
            struct sender s = {sv[0], mode, sizes[k], file};
            pthread_t t;
            assert_int_equal(pthread_create(&t, NULL, send_main, &s), 0);
            json_t *h = NULL;
            uint64_t len = 0;
            assert_int_equal(weft_frame_recv(sv[1], NULL, &h, &len, 5000), 0);
            assert_int_equal(len, sizes[k]);
            assert_string_equal(json_string_value(json_object_get(h, "cmd")),
                                "get");
            json_decref(h);
            size_t at = 0;
            assert_int_equal(
                weft_frame_recv_body_cb(sv[1], len, check_chunks, &at, 5000),
                0);
            assert_int_equal(at, sizes[k]);
            pthread_join(t, NULL);
            /* Between frames, a close is a clean end. */
            close(sv[0]);
            assert_int_equal(weft_frame_recv(sv[1], NULL, &h, &len, 1000),
                             WEFT_ECLOSED);
            close(sv[1]);
        }
    }

    /* Body into memory and into a file. */
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    struct sender s = {sv[0], 0, 5000, file};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, send_main, &s), 0);
    json_t *h;
    uint64_t len;
    assert_int_equal(weft_frame_recv(sv[1], NULL, &h, &len, 5000), 0);
    json_decref(h);
    static unsigned char mem[5000];
    assert_int_equal(weft_frame_recv_body(sv[1], mem, len, 5000), 0);
    assert_memory_equal(mem, data, 5000);
    pthread_join(t, NULL);
    assert_int_equal(pthread_create(&t, NULL, send_main, &s), 0);
    assert_int_equal(weft_frame_recv(sv[1], NULL, &h, &len, 5000), 0);
    json_decref(h);
    char out[] = "/tmp/weft-frame-out-XXXXXX";
    int of = mkstemp(out);
    unlink(out);
    assert_int_equal(weft_frame_recv_body_file(sv[1], len, of, 5000), 0);
    assert_int_equal(lseek(of, 0, SEEK_CUR), 5000);
    pthread_join(t, NULL);
    close(of);
    close(sv[0]);
    close(sv[1]);
    close(file);
}

static void test_truncated(void **state)
{
    (void)state;
    unsigned char buf[64];
    size_t n = raw_frame(buf, "{\"file_size\":10}");
    json_t *h;
    uint64_t len;
    /* Cut in the prefix, in the header, in the body. */
    size_t cuts[] = {2, 4 + 3, n + 4};
    for (int i = 0; i < 3; i++) {
        int sv[2];
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
                         0);
        memcpy(buf + n, "abcd", 4);
        assert_int_equal(write(sv[0], buf, cuts[i]), (ssize_t)cuts[i]);
        close(sv[0]);
        int rc = weft_frame_recv(sv[1], NULL, &h, &len, 1000);
        if (i < 2) {
            assert_int_equal(rc, WEFT_ETRUNCATED);
        } else {
            assert_int_equal(rc, 0);
            json_decref(h);
            char body[10];
            assert_int_equal(weft_frame_recv_body(sv[1], body, 10, 1000),
                             WEFT_ETRUNCATED);
        }
        close(sv[1]);
    }
    /* A peer that stalls mid-header: the timeout fires. */
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    assert_int_equal(write(sv[0], buf, 6), 6);
    int64_t t0 = weft_now_ms();
    assert_int_equal(weft_frame_recv(sv[1], NULL, &h, &len, 100), -ETIMEDOUT);
    assert_true(weft_now_ms() - t0 >= 100);
    close(sv[0]);
    close(sv[1]);
    /* A malicious length is refused without reading (or allocating) on. */
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    unsigned char huge[4] = {0xff, 0xff, 0xff, 0x7f};
    assert_int_equal(write(sv[0], huge, 4), 4);
    assert_int_equal(weft_frame_recv(sv[1], NULL, &h, &len, 1000),
                     WEFT_EHDRLEN);
    close(sv[0]);
    close(sv[1]);
}

/* ---- inside a coroutine
 * ------------------------------------------------------- */

static int co_peer(void *arg)
{
    int fd = (int)(intptr_t)arg;
    json_t *h;
    uint64_t len;
    int rc = weft_frame_recv(fd, NULL, &h, &len, 5000);
    if (rc < 0)
        return rc;
    char body[16] = {0};
    rc = weft_frame_recv_body(fd, body, len, 5000);
    if (rc == 0)
        rc = weft_frame_send(fd, h, body, len, 5000); /* echo it */
    json_decref(h);
    return rc;
}

static int co_main(void *arg)
{
    (void)arg;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    weft_co *p;
    weft_co_spawn(&p, co_peer, (void *)(intptr_t)sv[1], NULL);
    json_t *h = json_pack("{s:s}", "cmd", "echo");
    assert_int_equal(weft_frame_send(sv[0], h, "hello", 5, 5000), 0);
    json_decref(h);
    uint64_t len;
    assert_int_equal(weft_frame_recv(sv[0], NULL, &h, &len, 5000), 0);
    assert_int_equal(len, 5);
    char body[5];
    assert_int_equal(weft_frame_recv_body(sv[0], body, 5, 5000), 0);
    assert_memory_equal(body, "hello", 5);
    json_decref(h);
    int r = -1;
    weft_co_join(p, -1, &r);
    weft_co_release(p);
    close(sv[0]);
    close(sv[1]);
    return r;
}

static void test_in_coroutine(void **state)
{
    (void)state;
    int r = -1;
    assert_int_equal(weft_co_run(co_main, NULL, NULL, &r), 0);
    assert_int_equal(r, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_send_recv),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_in_coroutine),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
