/* bench_proc.c - how long it takes to start a process and join it.
 *
 * Contenders, run interleaved (see bench/README.md):
 *   weft process             weft_process_create + start + join + destroy
 *                            of a function that returns 0 at once
 *   raw fork+waitpid         fork(), _exit(0) in the child, waitpid(): the
 *                            floor any process API on Linux stands on
 *   weft process, fork server  the same as the first, started through the
 *                            fork server (informational: one more hop)
 *   Python Process (fork)    multiprocessing.Process start + join with the
 *                            'fork' start method, via bench/proc.py
 *
 * Baseline: raw fork+waitpid. Targets: weft within 1.3x of it, and at least
 * 5x faster than Python. All four fork the same process (this one, with
 * weft's reaper thread running), so its size is the same for all C ones.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <weft/proc.h>

#include "harness.h"

static int child_noop(void *arg)
{
    (void)arg;
    return 0;
}

/* ctx: the weft_process_opts to create each process with. */
static int64_t run_weft(void *ctx, long iterations)
{
    const weft_process_opts *opts = ctx;
    weft_process *p;
    int rc, code;
    long i;

    for (i = 0; i < iterations; i++) {
        rc = weft_process_create(&p, child_noop, NULL, opts);
        if (rc < 0)
            return rc;
        rc = weft_process_start(p);
        if (rc == 0)
            rc = weft_process_join(p, -1);
        /* Checked so that a broken child cannot pass for a fast one; it
         * reads what join already recorded. */
        if (rc == 0)
            rc = weft_process_exitcode(p, &code);
        if (rc == 0 && code != 0)
            rc = -EPROTO;
        if (weft_process_destroy(p) < 0 && rc == 0)
            rc = -EBUSY;
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int64_t run_raw_fork(void *ctx, long iterations)
{
    int status;
    pid_t pid;
    long i;

    (void)ctx;
    for (i = 0; i < iterations; i++) {
        pid = fork();
        if (pid < 0)
            return -errno;
        if (pid == 0)
            _exit(0);
        while (waitpid(pid, &status, 0) < 0)
            if (errno != EINTR)
                return -errno;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
            return -EPROTO;
    }
    return 0;
}

int main(int argc, char **argv)
{
    weft_process_opts fork_opts = {.start_method = WEFT_START_FORK};
    weft_process_opts fs_opts = {.start_method = WEFT_START_FORKSERVER};
    const char *py[3] = {"python3", NULL, NULL};
    char *script, why[128];
    bench_suite *s;
    int fs_rc, rc;

    /* First, while the program is single-threaded: the fork server must be
     * a copy of a clean process (see weft/proc.h). */
    fs_rc = weft_forkserver_start();

    s = bench_suite_new("Process start + join",
                        "start a process running a function that returns "
                        "0 at once, join it, release it");
    bench_parse_args(s, argc, argv);
    script = bench_path_beside(__FILE__, "proc.py");
    py[1] = script;

    bench_add(s, "weft process", run_weft, &fork_opts);
    bench_add(s, "raw fork+waitpid", run_raw_fork, NULL);
    if (fs_rc == 0) {
        bench_add(s, "weft process, fork server", run_weft, &fs_opts);
    } else {
        snprintf(why, sizeof why, "weft_forkserver_start: %s",
                 weft_strerror(fs_rc));
        bench_add_skipped(s, "weft process, fork server", why);
    }
    bench_add_external(s, "Python Process (fork)", py);
    bench_set_baseline(s, "raw fork+waitpid");
    bench_check(s, "weft process", BENCH_WITHIN, 1.3, NULL,
                "weft within 1.3x of raw fork+waitpid");
    bench_check(s, "weft process", BENCH_FASTER, 5.0, "Python Process (fork)",
                "weft at least 5x faster than Python");

    rc = bench_run(s, 7, 400);
    bench_suite_free(s);
    free(script);
    return rc;
}
