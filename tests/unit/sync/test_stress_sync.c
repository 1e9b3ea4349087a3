/* test_stress_sync.c - crash trials: worker processes hammer a shared
 * lock, a shared dict and the arena's allocator and are SIGKILLed at
 * random instants, trial after trial.
 *
 * After every kill the survivors must go on without a hang: the lock is
 * taken within a second (0 or WEFT_OWNERDEAD), the dict answers, and the
 * arena still allocates. The dict's "count" entry is checked against the
 * increments acknowledged: it may exceed them by at most one per kill (an
 * increment committed but not yet acknowledged when its process died),
 * never fall short (a lost update) or exceed them by more (a replay done
 * twice).
 *
 * `make test` runs 60 trials; `make stress` (WEFT_STRESS=1) runs 3,000.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <weft/weft.h>

struct shared_state {
    int64_t acked;   /* increments acknowledged, under the lock */
    int64_t in_lock; /* holders inside the lock right now */
    int64_t overlap; /* set if two were ever inside at once */
};

static weft_lock *lock;
static weft_dict *dict;
static struct shared_state *st;

static void worker(unsigned seed)
{
    void *blocks[8] = {0};
    int i = 0, rc;

    for (;;) {
        rc = weft_lock_acquire(lock, -1);
        if (rc < 0)
            _exit(3);
        if (rc == WEFT_OWNERDEAD)
            st->in_lock = 0; /* repair: the dead holder left its count */
        if (++st->in_lock != 1)
            st->overlap = 1;
        st->in_lock--;
        weft_lock_release(lock);

        /* The dict's own lock guards the count; the ack is taken after. */
        if (weft_dict_add_i64(dict, "count", 1, NULL) < 0)
            _exit(4);
        __atomic_add_fetch(&st->acked, 1, __ATOMIC_SEQ_CST);

        i = (i + 1) % 8;
        if (blocks[i])
            weft_arena_free(blocks[i]);
        blocks[i] = NULL;
        weft_arena_alloc(weft_arena_default(), 64 + rand_r(&seed) % 2000,
                         &blocks[i]);
    }
}

static void test_crash_trials(void **state)
{
    int trials = getenv("WEFT_STRESS") ? 3000 : 60;
    int t, k, status, rc;
    int64_t count;
    void *p;

    (void)state;
    assert_int_equal(weft_lock_create(&lock, WEFT_SHARED), 0);
    assert_int_equal(weft_dict_create(&dict, WEFT_SHARED, 64, 16, 8), 0);
    assert_int_equal(
        weft_arena_alloc(weft_arena_default(), sizeof *st, (void **)&st), 0);
    srand(7);
    for (t = 0; t < trials; t++) {
        pid_t pids[3];
        for (k = 0; k < 3; k++) {
            pids[k] = fork();
            assert_true(pids[k] >= 0);
            if (pids[k] == 0)
                worker((unsigned)(t * 3 + k));
        }
        usleep((useconds_t)(200 + rand() % 3000));
        /* Kill one at random, then the others after a moment more. */
        kill(pids[rand() % 3], SIGKILL);
        usleep((useconds_t)(rand() % 500));
        for (k = 0; k < 3; k++)
            kill(pids[k], SIGKILL);
        for (k = 0; k < 3; k++) {
            assert_int_equal(waitpid(pids[k], &status, 0), pids[k]);
            assert_true(WIFSIGNALED(status)); /* none failed on its own */
        }
        /* The survivors' view: nothing hangs, nothing is lost. */
        rc = weft_lock_acquire(lock, 1000);
        assert_true(rc == 0 || rc == WEFT_OWNERDEAD);
        assert_int_equal(st->overlap, 0);
        st->in_lock = 0; /* a holder killed inside left its count */
        weft_lock_release(lock);
        rc = weft_dict_get(dict, "count", &count, sizeof count, NULL);
        assert_true(rc == 8 || rc == WEFT_OWNERDEAD);
        assert_true(count >= st->acked);
        assert_true(count <= st->acked + 3);
        st->acked = count; /* start the next trial from the truth */
        assert_int_equal(weft_arena_alloc(weft_arena_default(), 4096, &p), 0);
        assert_int_equal(weft_arena_free(p), 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crash_trials),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
