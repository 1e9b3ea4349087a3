/* test_region.c - weft_region: anonymous regions shared with a forked
 * child, named regions opened by name from another process, the errors of
 * create/open/unlink, and that nothing is left behind in /dev/shm. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <weft/weft.h>

#include "unit/fork_helpers.h"

/* ---- Helpers ------------------------------------------------------------ */

/* Every name this program makes starts with this ("weft-test-region-PID-"),
 * so the last test can find whatever an earlier one left behind. */
static char prefix[64];

static void name_of(char *buf, size_t n, const char *tag)
{
    snprintf(buf, n, "%s%s", prefix, tag);
}

static size_t page_size(void)
{
    return (size_t)sysconf(_SC_PAGESIZE);
}

/* ---- Tests -------------------------------------------------------------- */

static void test_anonymous_shared_with_child(void **state)
{
    weft_region *r;
    unsigned char *p;
    size_t i;
    pid_t pid;

    (void)state;
    assert_int_equal(weft_region_create(&r, 10000), 0);
    p = weft_region_addr(r);
    assert_non_null(p);
    /* Rounded up to whole pages, zero-filled. */
    assert_int_equal(weft_region_size(r) % page_size(), 0);
    assert_true(weft_region_size(r) >= 10000);
    for (i = 0; i < weft_region_size(r); i++)
        assert_int_equal(p[i], 0);

    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        for (i = 0; i < 10000; i++)
            p[i] = (unsigned char)(i * 7 + 1);
        _exit(0);
    }
    assert_int_equal(wait_child(pid), 0);
    for (i = 0; i < 10000; i++)
        assert_int_equal(p[i], (unsigned char)(i * 7 + 1));
    assert_int_equal(weft_region_close(r), 0);
}

/* What the "unrelated" child does: open by name, check the parent's bytes,
 * answer in the second half. Exit codes name the step that failed. */
static int named_child(const char *name, size_t size)
{
    weft_region *r;
    unsigned char *p;
    size_t i;

    if (weft_region_open(&r, name) != 0)
        return 1;
    if (weft_region_size(r) != size)
        return 2;
    p = weft_region_addr(r);
    for (i = 0; i < size / 2; i++)
        if (p[i] != (unsigned char)(i ^ 0x5a))
            return 3;
    for (i = size / 2; i < size; i++)
        p[i] = (unsigned char)(i ^ 0xa5);
    return weft_region_close(r) == 0 ? 0 : 4;
}

static void test_named_create_open(void **state)
{
    char name[128], slashed[130];
    weft_region *r, *r2, *r3;
    unsigned char *p, *p2;
    size_t i, size;
    pid_t pid;

    (void)state;
    name_of(name, sizeof name, "named");
    assert_int_equal(weft_region_create_named(&r, name, 5000, 0600), 0);
    size = weft_region_size(r);
    assert_int_equal(size % page_size(), 0);
    assert_true(size >= 5000);
    p = weft_region_addr(r);
    for (i = 0; i < size; i++)
        assert_int_equal(p[i], 0);
    for (i = 0; i < size / 2; i++)
        p[i] = (unsigned char)(i ^ 0x5a);

    /* The child drops the mapping it inherited and opens by name, as an
     * unrelated process would. */
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        weft_region_close(r);
        _exit(named_child(name, size));
    }
    assert_int_equal(wait_child(pid), 0);
    for (i = size / 2; i < size; i++)
        assert_int_equal(p[i], (unsigned char)(i ^ 0xa5));

    /* A second mapping in this process, by the "/name" spelling: another
     * address, the same bytes. */
    snprintf(slashed, sizeof slashed, "/%s", name);
    assert_int_equal(weft_region_open(&r2, slashed), 0);
    p2 = weft_region_addr(r2);
    assert_ptr_not_equal(p, p2);
    assert_int_equal(weft_region_size(r2), size);
    p2[17] = 0x42;
    assert_int_equal(p[17], 0x42);

    /* Unlink removes the name; the mappings live on. */
    assert_int_equal(weft_region_unlink(name), 0);
    assert_int_equal(weft_region_unlink(name), -ENOENT);
    r3 = (weft_region *)&r3;
    assert_int_equal(weft_region_open(&r3, name), -ENOENT);
    assert_null(r3);
    p[18] = 0x43;
    assert_int_equal(p2[18], 0x43);
    assert_int_equal(weft_region_close(r2), 0);
    assert_int_equal(weft_region_close(r), 0);
}

static void test_named_errors(void **state)
{
    static const char *bad[] = {"",   "/",  "a/b", "/a/b", "//a",  "a/",    ".",
                                "..", "/.", "/..", "./a",  "../a", "a/../b"};
    char name[128], other[128], longest[256], toolong[256];
    weft_region *r, *r2;
    size_t i;

    (void)state;
    name_of(name, sizeof name, "errors");
    name_of(other, sizeof other, "missing");
    assert_int_equal(weft_region_create_named(&r, name, 4096, 0600), 0);
    ((char *)weft_region_addr(r))[0] = 'x';

    /* An existing name: -EEXIST, and the existing region is untouched. */
    r2 = (weft_region *)&r2;
    assert_int_equal(weft_region_create_named(&r2, name, 4096, 0600), -EEXIST);
    assert_null(r2);
    assert_int_equal(weft_region_open(&r2, name), 0);
    assert_int_equal(((char *)weft_region_addr(r2))[0], 'x');
    assert_int_equal(weft_region_close(r2), 0);

    assert_int_equal(weft_region_open(&r2, other), -ENOENT);
    assert_int_equal(weft_region_unlink(other), -ENOENT);

    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(weft_region_create_named(&r2, bad[i], 4096, 0600),
                         -EINVAL);
        assert_int_equal(weft_region_open(&r2, bad[i]), -EINVAL);
        assert_int_equal(weft_region_unlink(bad[i]), -EINVAL);
    }
    assert_int_equal(weft_region_create_named(&r2, NULL, 4096, 0600), -EINVAL);
    assert_int_equal(weft_region_open(&r2, NULL), -EINVAL);
    assert_int_equal(weft_region_unlink(NULL), -EINVAL);

    /* 200 bytes is the longest name, 201 too long (with or without the
     * leading slash, which does not count). */
    memset(longest, 'x', sizeof longest);
    memcpy(longest, prefix, strlen(prefix));
    longest[200] = '\0';
    memcpy(toolong, longest, 200);
    toolong[200] = 'y';
    toolong[201] = '\0';
    assert_int_equal(weft_region_create_named(&r2, toolong, 4096, 0600),
                     -EINVAL);
    assert_int_equal(weft_region_create_named(&r2, longest, 4096, 0600), 0);
    assert_int_equal(weft_region_close(r2), 0);
    assert_int_equal(weft_region_unlink(longest), 0);

    /* Size 0, bad mode, no out pointer. */
    assert_int_equal(weft_region_create(&r2, 0), -EINVAL);
    assert_int_equal(weft_region_create_named(&r2, other, 0, 0600), -EINVAL);
    assert_int_equal(weft_region_create_named(&r2, other, 4096, 010000),
                     -EINVAL);
    assert_int_equal(weft_region_create(NULL, 4096), -EINVAL);
    assert_int_equal(weft_region_create_named(NULL, other, 4096, 0600),
                     -EINVAL);
    assert_int_equal(weft_region_open(NULL, name), -EINVAL);
    assert_int_equal(weft_region_open(&r2, other), -ENOENT); /* nothing made */

    /* NULL handles. */
    assert_int_equal(weft_region_close(NULL), 0);
    assert_null(weft_region_addr(NULL));
    assert_int_equal(weft_region_size(NULL), 0);

    assert_int_equal(weft_region_close(r), 0);
    assert_int_equal(weft_region_unlink(name), 0);
}

/* An object that exists but has no size yet (its creator is between
 * shm_open and ftruncate) cannot be mapped: -EAGAIN, try again. */
static void test_open_unsized(void **state)
{
    char name[128], path[130];
    weft_region *r;
    int fd;

    (void)state;
    name_of(name, sizeof name, "unsized");
    snprintf(path, sizeof path, "/%s", name);
    fd = shm_open(path, O_CREAT | O_EXCL | O_RDWR, 0600);
    assert_true(fd >= 0);
    assert_int_equal(weft_region_open(&r, name), -EAGAIN);
    assert_int_equal(ftruncate(fd, 8192), 0);
    assert_int_equal(weft_region_open(&r, name), 0);
    assert_int_equal(weft_region_size(r), 8192);
    assert_int_equal(weft_region_close(r), 0);
    close(fd);
    assert_int_equal(weft_region_unlink(name), 0);
}

/* A create that fails after the name exists removes the name again: here
 * the memory cannot be reserved because it is bigger than all of
 * /dev/shm. */
static void test_failed_create_leaves_nothing(void **state)
{
    char name[128];
    struct statvfs vfs;
    weft_region *r;
    uint64_t total;

    (void)state;
    if (statvfs("/dev/shm", &vfs) < 0 || vfs.f_blocks == 0) {
        skip(); /* unlimited /dev/shm: no size is sure to fail fast */
        return;
    }
    total = (uint64_t)vfs.f_blocks * vfs.f_frsize;
    if (total > SIZE_MAX / 4) {
        skip();
        return;
    }
    name_of(name, sizeof name, "toobig");
    assert_true(weft_region_create_named(&r, name, (size_t)total * 2, 0600) <
                0);
    assert_null(r);
    assert_int_equal(weft_region_open(&r, name), -ENOENT);
}

/* Last: nothing with this program's prefix may remain in /dev/shm. What is
 * found is removed (so a failed run does not litter) and fails the test. */
static void test_nothing_left_in_dev_shm(void **state)
{
    (void)state;
    assert_int_equal(remove_left_in_dev_shm(prefix), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_anonymous_shared_with_child),
        cmocka_unit_test(test_named_create_open),
        cmocka_unit_test(test_named_errors),
        cmocka_unit_test(test_open_unsized),
        cmocka_unit_test(test_failed_create_leaves_nothing),
        cmocka_unit_test(test_nothing_left_in_dev_shm),
    };

    snprintf(prefix, sizeof prefix, "weft-test-region-%d-", (int)getpid());
    return cmocka_run_group_tests(tests, NULL, NULL);
}
