/* fork_helpers.h - test helpers for work spread over processes, and for
 * checking that tests leave nothing in /dev/shm. Header-only, for tests
 * (they use cmocka's asserts). */
#ifndef WEFT_TEST_FORK_HELPERS_H
#define WEFT_TEST_FORK_HELPERS_H

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <weft/shm.h>

/* Run fn(arg, i) in n child processes, released together through a pipe
 * (closed once all are forked) so that they really run at the same time.
 * Returns how many children failed or died. */
static inline int run_children(int n, int (*fn)(void *, int), void *arg)
{
    int gate[2], i, failed = 0, status;
    pid_t *pids = calloc((size_t)n, sizeof *pids);
    char c;

    assert_non_null(pids);
    assert_int_equal(pipe(gate), 0);
    for (i = 0; i < n; i++) {
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0) {
            close(gate[1]);
            if (read(gate[0], &c, 1) != 0)
                _exit(2);
            _exit(fn(arg, i) == 0 ? 0 : 1);
        }
    }
    close(gate[0]);
    close(gate[1]);
    for (i = 0; i < n; i++) {
        assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
            failed++;
    }
    free(pids);
    return failed;
}

/* The child's exit code, or -signal; -1000 if it cannot be waited for. */
static inline int wait_child(pid_t pid)
{
    int st;

    if (waitpid(pid, &st, 0) != pid)
        return -1000;
    if (WIFEXITED(st))
        return WEXITSTATUS(st);
    return -WTERMSIG(st);
}

/* Names under /dev/shm that start with prefix: removed (so a failed run
 * does not litter) and counted. A test asserts the count is 0. */
static inline int remove_left_in_dev_shm(const char *prefix)
{
    struct dirent *e;
    int left = 0;
    DIR *d = opendir("/dev/shm");

    assert_non_null(d);
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0) {
            print_error("left behind: /dev/shm/%s\n", e->d_name);
            weft_region_unlink(e->d_name);
            left++;
        }
    }
    closedir(d);
    return left;
}

#endif
