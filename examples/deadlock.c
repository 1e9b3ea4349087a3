/* deadlock.c - two locks taken in opposite orders, and the RLock fix.
 *
 * Thread 1 takes A then B; thread 2 takes B then A. If each gets its first
 * lock, each waits forever for the other's: a deadlock. Here the second
 * acquire has a timeout, so the deadlock is detected and reported instead
 * of hanging the program.
 *
 * The classic fix from the Python course: one RLock under both names
 * (mutexA = mutexB = RLock()). It is one lock, so there is no order to get
 * wrong, and it is recursive, so a thread may take "both".
 *
 * Run: ./build/examples/deadlock
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>

#include <weft/weft.h>

static weft_lock *a, *b;
static weft_barrier *both_have_one; /* makes the bad timing certain */

static void *take(weft_lock *first, weft_lock *second, const char *me,
                  const char *n1, const char *n2)
{
    int rc;

    weft_lock_acquire(first, -1);
    printf("%s holds %s, wants %s\n", me, n1, n2);
    weft_barrier_wait(both_have_one, -1);
    rc = weft_lock_acquire(second, 1000);
    if (rc == -ETIMEDOUT) {
        printf("%s: DEADLOCK: waited 1 s for %s, which the other thread "
               "holds while it waits for %s; giving up\n",
               me, n2, n1);
    } else {
        printf("%s got both\n", me);
        weft_lock_release(second);
    }
    weft_lock_release(first);
    return NULL;
}

static void *t1(void *arg)
{
    (void)arg;
    return take(a, b, "thread 1", "A", "B");
}

static void *t2(void *arg)
{
    (void)arg;
    return take(b, a, "thread 2", "B", "A");
}

static weft_rlock *ab; /* mutexA = mutexB = RLock() */

static void *fixed(void *arg)
{
    const char *me = arg;
    int i;

    for (i = 0; i < 3; i++) {
        weft_rlock_acquire(ab, -1); /* "A" */
        weft_rlock_acquire(ab, -1); /* "B": the same lock, again */
        printf("%s holds A and B (count %d)\n", me, weft_rlock_count(ab));
        weft_rlock_release(ab);
        weft_rlock_release(ab);
    }
    return NULL;
}

int main(void)
{
    pthread_t x, y;

    setvbuf(stdout, NULL, _IOLBF, 0);
    weft_lock_create(&a, NULL);
    weft_lock_create(&b, NULL);
    weft_barrier_create(&both_have_one, NULL, 2);
    printf("-- two Locks, opposite orders --\n");
    pthread_create(&x, NULL, t1, NULL);
    pthread_create(&y, NULL, t2, NULL);
    pthread_join(x, NULL);
    pthread_join(y, NULL);

    printf("-- the fix: one RLock for both --\n");
    weft_rlock_create(&ab, NULL);
    pthread_create(&x, NULL, fixed, "thread 1");
    pthread_create(&y, NULL, fixed, "thread 2");
    pthread_join(x, NULL);
    pthread_join(y, NULL);
    printf("no deadlock\n");
    weft_rlock_destroy(ab);
    weft_lock_destroy(a);
    weft_lock_destroy(b);
    weft_barrier_destroy(both_have_one);
    return 0;
}
