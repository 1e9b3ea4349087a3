/* threads_basics.c - threads share one memory; daemon threads do not keep
 * the program alive.
 *
 * Part 1: four threads each add 100000 to one global counter. They all see
 * the same variable (unlike processes, which get copies), so the updates
 * need a mutex; without it increments get lost and the total falls short.
 *
 * Part 2: Python's daemon threads. A daemon "ticker" prints a tick every
 * 100 ms forever; a non-daemon "worker" takes 350 ms. weft_exit(0) waits
 * for the worker but not for the ticker, which simply stops when the
 * process ends. (Returning from main() instead would not wait for the
 * worker either: plain C waits for no thread.)
 *
 * Run: ./build/examples/threads_basics
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include <weft/thread.h>

#define THREADS 4
#define ROUNDS  100000

static long counter;
static pthread_mutex_t counter_lock = PTHREAD_MUTEX_INITIALIZER;

static int add_to_counter(void *arg)
{
    int i;

    for (i = 0; i < ROUNDS; i++) {
        pthread_mutex_lock(&counter_lock);
        counter++;
        pthread_mutex_unlock(&counter_lock);
    }
    return 0;
}

static int tick_forever(void *arg)
{
    int n;

    for (n = 1;; n++) {
        weft_sleep_ms(100);
        printf("  [%s] tick %d\n", weft_thread_current_name(), n);
        fflush(stdout);
    }
    return 0;
}

static int work(void *arg)
{
    weft_sleep_ms(350);
    printf("  [%s] done\n", weft_thread_current_name());
    fflush(stdout);
    return 0;
}

/* Runs inside exit(), after weft_exit() has waited for the worker. */
static void say_goodbye(void)
{
    printf("  [%s] worker finished: exiting; the ticker ends with us\n",
           weft_thread_current_name());
}

static int start(weft_thread **t, weft_thread_fn fn, const char *name,
                 bool daemon)
{
    weft_thread_opts opts = {.name = name, .daemon = daemon};
    int rc;

    rc = weft_thread_create(t, fn, NULL, &opts);
    if (rc == 0) {
        rc = weft_thread_start(*t);
        if (rc < 0)
            weft_thread_destroy(*t);
    }
    if (rc < 0)
        fprintf(stderr, "threads_basics: starting %s: %s\n", name,
                weft_strerror(rc));
    return rc;
}

int main(void)
{
    weft_thread *adders[THREADS], *ticker, *worker;
    char name[16];
    int i;

    printf("Part 1: %d threads share one counter\n", THREADS);
    for (i = 0; i < THREADS; i++) {
        snprintf(name, sizeof name, "adder-%d", i + 1);
        if (start(&adders[i], add_to_counter, name, false) < 0)
            return 1;
    }
    for (i = 0; i < THREADS; i++) {
        weft_thread_join(adders[i], -1);
        weft_thread_destroy(adders[i]);
    }
    printf("  counter = %ld (expected %d)\n\n", counter, THREADS * ROUNDS);

    printf("Part 2: a daemon ticker and a non-daemon worker\n");
    if (start(&ticker, tick_forever, "ticker", true) < 0 ||
        start(&worker, work, "worker", false) < 0)
        return 1;
    printf("  [%s] %d threads running; calling weft_exit(0)\n",
           weft_thread_current_name(), weft_thread_count());
    fflush(stdout);
    atexit(say_goodbye);
    /* Waits for the worker, not for the ticker; then exits. */
    weft_exit(0);
}
