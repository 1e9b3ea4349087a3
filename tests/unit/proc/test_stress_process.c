/* test_stress_process.c - many processes from several threads at once,
 * killed at random instants, joined with random timeouts, mixed with the
 * fork server and with children weft did not start.
 *
 * Checks, for every child: the exit code is exactly the one it must have
 * (its return value, or -9 if it was killed before it returned - never
 * anything else), no call hangs, and at the end no zombie is left and the
 * foreign children kept their statuses.
 *
 * `make test` runs a light version; `make stress` (WEFT_STRESS=1) runs
 * many more trials.
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <weft/weft.h>

#include "unit/proc_helpers.h"

enum { THREADS = 4 };

static int trials_per_thread;

/* Sleeps a little (0-3 ms, from the argument), then returns a code. */
static int nap_then_return(void *arg)
{
    unsigned v = *(unsigned *)arg;

    if (v & 3)
        weft_sleep_ms((int)(v & 3));
    return (int)(v >> 2) & 0x7f;
}

struct worker {
    unsigned seed;
    int failures;
    char why[160];
};

static void note_failure(struct worker *w, const char *what, int got)
{
    if (!w->failures++)
        snprintf(w->why, sizeof w->why, "%s (got %d)", what, got);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    int i;

    for (i = 0; i < trials_per_thread; i++) {
        unsigned v = (unsigned)rand_r(&w->seed);
        weft_process_opts o = {.arg_bytes = &v, .arg_len = sizeof v};
        weft_process *p;
        int expect = (int)(v >> 2) & 0x7f, code, rc, killed = 0;

        if ((v >> 12) % 4 == 0)
            o.start_method = WEFT_START_FORKSERVER;
        rc = weft_process_create(&p, nap_then_return, NULL, &o);
        if (rc < 0) {
            note_failure(w, "create", rc);
            continue;
        }
        rc = weft_process_start(p);
        if (rc < 0) {
            note_failure(w, "start", rc);
            weft_process_destroy(p);
            continue;
        }
        switch ((v >> 9) % 4) {
        case 0: /* kill at once: may land before or after it returns */
            killed = 1;
            weft_process_kill(p);
            break;
        case 1: /* a short join that may time out, then a kill */
            if (weft_process_join(p, 1) < 0) {
                killed = 1;
                weft_process_kill(p);
            }
            break;
        default:
            break;
        }
        rc = weft_process_join(p, 10000);
        if (rc != 0) {
            note_failure(w, "join did not finish", rc);
            weft_process_kill(p);
            weft_process_join(p, -1);
        }
        rc = weft_process_exitcode(p, &code);
        if (rc != 0)
            note_failure(w, "no exit code", rc);
        else if (code != expect && !(killed && code == -SIGKILL))
            note_failure(w, "wrong exit code", code);
        rc = weft_process_destroy(p);
        if (rc != 0)
            note_failure(w, "destroy", rc);
    }
    return NULL;
}

static void test_many_processes_many_threads(void **state)
{
    struct worker w[THREADS];
    pthread_t tid[THREADS];
    pid_t foreign[8];
    int i, status;

    (void)state;
    /* Children weft did not start, exiting while weft reaps its own. */
    for (i = 0; i < 8; i++) {
        foreign[i] = fork();
        assert_true(foreign[i] >= 0);
        if (foreign[i] == 0) {
            weft_sleep_ms(20 * i);
            _exit(100 + i);
        }
    }
    for (i = 0; i < THREADS; i++) {
        memset(&w[i], 0, sizeof w[i]);
        w[i].seed = 12345u + (unsigned)i * 7919u;
        assert_int_equal(pthread_create(&tid[i], NULL, worker_main, &w[i]), 0);
    }
    for (i = 0; i < THREADS; i++) {
        pthread_join(tid[i], NULL);
        if (w[i].failures)
            fail_msg("thread %d: %d failures, first: %s", i, w[i].failures,
                     w[i].why);
    }
    for (i = 0; i < 8; i++) {
        assert_int_equal(waitpid(foreign[i], &status, 0), foreign[i]);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 100 + i);
    }
    for (i = 0; i < 100 && count_zombies() > 0; i++)
        weft_sleep_ms(10);
    assert_int_equal(count_zombies(), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_many_processes_many_threads),
    };

    trials_per_thread = getenv("WEFT_STRESS") ? 5000 : 150;
    /* The fork server must start while we are single-threaded. */
    if (weft_forkserver_start() < 0) {
        fprintf(stderr, "cannot start the fork server\n");
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
