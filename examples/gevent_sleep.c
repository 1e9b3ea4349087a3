/* gevent_sleep.c - coroutines that sleep overlap: 300 ms and 100 ms of
 * sleeping take 300 ms in all, on one thread.
 *
 * Python:
 *     import gevent
 *     def eat(name):
 *         print('%s eat 1' % name); gevent.sleep(0.3); print('%s eat 2' % name)
 *     def play(name):
 *         print('%s play 1' % name); gevent.sleep(0.1); print('%s play 2' %
 * name) g1 = gevent.spawn(eat, 'egon'); g2 = gevent.spawn(play, 'egon')
 *     gevent.joinall([g1, g2])
 *
 * weft_co_sleep parks the coroutine on a timer and lets the scheduler run
 * the others, as gevent.sleep does. A sleep that blocks the thread
 * (weft_sleep_ms here, time.sleep in Python without
 * gevent.monkey.patch_all()) stops every coroutine of the thread: the
 * second run shows it - the sleeps then add up, to 400 ms.
 *
 * Run: ./build/examples/gevent_sleep
 * Expect: "egon eat 1", "egon play 1", "egon play 2" (after ~100 ms),
 * "egon eat 2" (after ~300 ms), "gevent.sleep: both finished in ~300 ms";
 * then the blocking run: "blocking sleep: both finished in ~400 ms".
 */
#include <stdbool.h>
#include <stdio.h>

#include <weft/co.h>

static bool blocking; /* the second run: sleep the whole thread */

static void nap(int ms)
{
    if (blocking)
        weft_sleep_ms(ms); /* time.sleep without monkey-patching */
    else
        weft_co_sleep(ms); /* gevent.sleep */
}

static int eat(void *arg)
{
    printf("%s eat 1\n", (const char *)arg);
    nap(300);
    printf("%s eat 2\n", (const char *)arg);
    return 0;
}

static int play(void *arg)
{
    printf("%s play 1\n", (const char *)arg);
    nap(100);
    printf("%s play 2\n", (const char *)arg);
    return 0;
}

static int run(void *arg)
{
    weft_co *gs[2] = {NULL, NULL};
    int64_t t0 = weft_now_ns();
    int rc;

    (void)arg;
    rc = weft_co_spawn(&gs[0], eat, "egon", NULL);
    if (rc == 0)
        rc = weft_co_spawn(&gs[1], play, "egon", NULL);
    if (rc == 0)
        rc = weft_co_join_all(gs, 2, -1); /* gevent.joinall */
    weft_co_release(gs[0]);
    weft_co_release(gs[1]);
    if (rc < 0) {
        fprintf(stderr, "gevent_sleep: %s\n", weft_strerror(rc));
        return 1;
    }
    printf("%s: both finished in %lld ms\n",
           blocking ? "blocking sleep" : "gevent.sleep",
           (long long)((weft_now_ns() - t0) / 1000000));
    return 0;
}

int main(void)
{
    int result = 1, rc;

    setvbuf(stdout, NULL, _IOLBF, 0);
    for (int i = 0; i < 2; i++) {
        blocking = i == 1;
        rc = weft_co_run(run, NULL, NULL, &result);
        if (rc < 0 || result != 0) {
            fprintf(stderr, "gevent_sleep: weft_co_run: %s\n",
                    weft_strerror(rc));
            return 1;
        }
    }
    return 0;
}
