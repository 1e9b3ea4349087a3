/* thread_semaphore.c - 20 threads, 4 at a time: a semaphore between
 * threads.
 *
 * Python:
 *     sem = threading.Semaphore(4)
 *     def task(i):
 *         with sem:
 *             print(i, "inside"); time.sleep(random.random())
 *     for i in range(20): threading.Thread(target=task, args=(i,)).start()
 *
 * Twenty threads start at once; each takes the semaphore, stays inside
 * 50-100 ms, and gives it back. A counter of the threads inside (an
 * atomic, updated by the threads themselves) shows that never more than 4
 * are in at once, so the work takes about 20 / 4 = 5 rounds. With
 * --no-semaphore every thread walks straight in: all 20 inside together.
 * (ktv_semaphore shows the same between processes.)
 *
 * Run: ./build/examples/thread_semaphore [--threads N] [--slots K]
 *      [--no-semaphore]
 * Expect: "thread  3 enters (2 inside)" lines, then "at most 4 of 20
 * threads were inside at once (a semaphore of 4), in ~400 ms";
 * --no-semaphore: "at most 20 of 20 ... (no semaphore), in ~100 ms".
 */
#include <getopt.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include <weft/weft.h>

static weft_semaphore *slots;
static bool use_semaphore = true;
static atomic_int inside; /* threads inside right now */
static atomic_int most;   /* the largest "inside" ever seen */
static atomic_int finished;

static int task(void *arg)
{
    int id = (int)(long)arg, now, seen;
    unsigned seed = (unsigned)id * 2654435761u;

    if (use_semaphore)
        weft_semaphore_acquire(slots, -1);
    now = atomic_fetch_add(&inside, 1) + 1;
    seen = atomic_load(&most);
    while (now > seen && !atomic_compare_exchange_weak(&most, &seen, now))
        ;
    printf("thread %2d enters (%d inside)\n", id, now);
    weft_sleep_ms(50 + (int)(rand_r(&seed) % 51));
    atomic_fetch_sub(&inside, 1);
    if (use_semaphore)
        weft_semaphore_release(slots);
    atomic_fetch_add(&finished, 1);
    return 0;
}

/* A whole number in [lo, hi] from an option, or exit 2. */
static int number(const char *opt, const char *s, int lo, int hi)
{
    char *end;
    long v = strtol(s, &end, 10);

    if (end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "thread_semaphore: %s wants %d..%d, got '%s'\n", opt,
                lo, hi, s);
        exit(2);
    }
    return (int)v;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"threads", required_argument, NULL, 't'},
        {"slots", required_argument, NULL, 's'},
        {"no-semaphore", no_argument, NULL, 'n'},
        {NULL, 0, NULL, 0},
    };
    int n = 20, k = 4, c, i, rc;
    weft_thread *t[200];
    char how[32];
    int64_t t0;

    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 't':
            n = number("--threads", optarg, 1, 200);
            break;
        case 's':
            k = number("--slots", optarg, 1, 200);
            break;
        case 'n':
            use_semaphore = false;
            break;
        default:
            fprintf(stderr, "usage: thread_semaphore [--threads N] "
                            "[--slots K] [--no-semaphore]\n");
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "thread_semaphore: unexpected argument '%s'\n",
                argv[optind]);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    rc = weft_semaphore_create(&slots, NULL, k);
    if (rc < 0) {
        fprintf(stderr, "thread_semaphore: %s\n", weft_strerror(rc));
        return 1;
    }
    t0 = weft_now_ms();
    for (i = 0; i < n; i++) {
        rc = weft_thread_create(&t[i], task, (void *)(long)(i + 1), NULL);
        if (rc == 0)
            rc = weft_thread_start(t[i]);
        if (rc < 0) {
            fprintf(stderr, "thread_semaphore: thread %d: %s\n", i + 1,
                    weft_strerror(rc));
            return 1;
        }
    }
    for (i = 0; i < n; i++) {
        weft_thread_join(t[i], -1);
        weft_thread_destroy(t[i]);
    }
    printf("%d of %d threads done\n", atomic_load(&finished), n);
    if (use_semaphore)
        snprintf(how, sizeof how, "a semaphore of %d", k);
    else
        snprintf(how, sizeof how, "no semaphore");
    printf("at most %d of %d threads were inside at once (%s), in %lld ms\n",
           atomic_load(&most), n, how, (long long)(weft_now_ms() - t0));
    weft_semaphore_destroy(slots);
    return !use_semaphore || atomic_load(&most) <= k ? 0 : 1;
}
