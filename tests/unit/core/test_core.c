/* test_core.c - errors, time and deadlines, the byte buffer, the log
 * callback. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/log_int.h"
#include <weft/weft.h>

static void test_version(void **state)
{
    (void)state;
    assert_string_equal(weft_version(), WEFT_VERSION_STRING);
    assert_int_equal(weft_version_hex(), WEFT_VERSION_HEX);
}

static void test_strerror_names_every_code(void **state)
{
    (void)state;
    assert_string_equal(weft_strerror(0), "success");
    assert_string_equal(weft_err_name(0), "OK");
    assert_string_equal(weft_err_name(-ETIMEDOUT), "ETIMEDOUT");
    assert_string_equal(weft_strerror(-ETIMEDOUT), "Connection timed out");
    assert_string_equal(weft_err_name(-EAGAIN), "EAGAIN");
#define CHECK(name, value, msg)                                                \
    assert_string_equal(weft_strerror(value), msg);                            \
    assert_string_equal(weft_err_name(value), "WEFT_" #name);                  \
    assert_true((value) >= WEFT_ERR_FIRST && (value) <= WEFT_ERR_LAST);
    WEFT_ERRNO_MAP(CHECK)
#undef CHECK
    assert_string_equal(weft_strerror(-1500), "unknown error");
    assert_string_equal(weft_strerror(-99999), "unknown error");
    assert_string_equal(weft_err_name(-99999), "UNKNOWN");
    assert_string_equal(weft_strerror(INT32_MIN), "unknown error");
}

static void test_deadlines(void **state)
{
    weft_deadline d;
    int64_t t0;

    (void)state;
    assert_int_equal(weft_deadline_in(-1), WEFT_DEADLINE_NEVER);
    assert_int_equal(weft_deadline_remaining_ms(WEFT_DEADLINE_NEVER), -1);
    assert_false(weft_deadline_expired(WEFT_DEADLINE_NEVER));
    assert_true(weft_deadline_expired(weft_deadline_in(0)));
    assert_int_equal(weft_deadline_remaining_ms(weft_deadline_in(0)), 0);
    d = weft_deadline_in(1000);
    assert_in_range(weft_deadline_remaining_ms(d), 900, 1000);
    assert_false(weft_deadline_expired(d));
    /* A deadline under a millisecond away still rounds up to 1 ms. */
    assert_int_equal(weft_deadline_remaining_ms(weft_now_ns() + 1000), 1);

    t0 = weft_now_ms();
    assert_int_equal(weft_sleep_ms(30), 0);
    assert_in_range(weft_now_ms() - t0, 30, 1000);
    assert_int_equal(weft_sleep_ms(-1), -EINVAL);
    assert_true(weft_now_ns() > 0);
}

static void test_buf_grows_and_caps(void **state)
{
    weft_buf b = WEFT_BUF_INIT;
    char big[1000];
    size_t len;
    char *p;
    int i;

    (void)state;
    assert_null(b.data);
    for (i = 0; i < 1000; i++)
        assert_int_equal(weft_buf_append(&b, "ab", 2), 0);
    assert_int_equal(b.len, 2000);
    assert_int_equal(b.data[b.len], '\0');
    assert_memory_equal(b.data + 1998, "ab", 2);
    weft_buf_consume(&b, 1990);
    assert_int_equal(b.len, 10);
    assert_string_equal(b.data, "ababababab");
    assert_int_equal(weft_buf_appendf(&b, "-%d-%s", 42, "x"), 0);
    assert_string_equal(b.data, "ababababab-42-x");
    weft_buf_consume(&b, 100);
    assert_int_equal(b.len, 0);
    assert_string_equal(b.data, "");
    p = weft_buf_detach(&b, &len);
    assert_non_null(p);
    assert_int_equal(len, 0);
    free(p);
    assert_null(b.data);

    /* A cap is a hard limit, and a failed append changes nothing. */
    weft_buf_init(&b, 100);
    memset(big, 'x', sizeof big);
    assert_int_equal(weft_buf_append(&b, big, 60), 0);
    assert_int_equal(weft_buf_append(&b, big, 41), -EMSGSIZE);
    assert_int_equal(b.len, 60);
    assert_int_equal(weft_buf_append(&b, big, 40), 0);
    assert_int_equal(b.len, 100);
    assert_int_equal(weft_buf_append(&b, big, 1), -EMSGSIZE);
    assert_int_equal(weft_buf_appendf(&b, "%s", "y"), -EMSGSIZE);
    assert_int_equal(weft_buf_reserve(&b, SIZE_MAX), -EMSGSIZE);
    assert_true(b.cap <= 100);
    weft_buf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_int_equal(weft_buf_append_str(&b, "hello"), 0);
    assert_string_equal(b.data, "hello");
    weft_buf_free(&b);
    assert_null(b.data);
    weft_buf_free(&b); /* twice is harmless */
}

struct logged {
    int count;
    int level;
    char msg[128];
};

static void log_cb(int level, const char *msg, void *ud)
{
    struct logged *l = ud;

    l->count++;
    l->level = level;
    strncpy(l->msg, msg, sizeof l->msg - 1);
}

static void test_log_callback(void **state)
{
    struct logged l = {0};

    (void)state;
    weft__log(WEFT_LOG_ERROR, "nobody listens %d", 1);
    weft_log_set(log_cb, &l, WEFT_LOG_WARN);
    weft__log(WEFT_LOG_INFO, "below the level");
    assert_int_equal(l.count, 0);
    weft__log(WEFT_LOG_WARN, "disk %s", "full");
    assert_int_equal(l.count, 1);
    assert_int_equal(l.level, WEFT_LOG_WARN);
    assert_string_equal(l.msg, "disk full");
    weft_log_set(NULL, NULL, WEFT_LOG_DEBUG);
    weft__log(WEFT_LOG_ERROR, "off again");
    assert_int_equal(l.count, 1);
    assert_string_equal(weft_log_level_name(WEFT_LOG_ERROR), "error");
    assert_string_equal(weft_log_level_name(42), "?");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_version),
        cmocka_unit_test(test_strerror_names_every_code),
        cmocka_unit_test(test_deadlines),
        cmocka_unit_test(test_buf_grows_and_caps),
        cmocka_unit_test(test_log_callback),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
