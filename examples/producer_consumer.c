/* producer_consumer.c - the bun shop: producers bake, consumers eat,
 * a queue between them.
 *
 * Three variants, as in the course:
 *   1. one baker, one eater; the baker puts an end marker after its last
 *      bun (Python: q.put(None)) and the eater stops on it;
 *   2. three bakers, two eaters; when every baker is done the queue is
 *      closed, and each eater stops when it has eaten what is left (weft's
 *      close replaces one None per consumer);
 *   3. a JoinableQueue: daemon eaters that never stop by themselves; the
 *      baker waits with join() until every bun is marked done, and the
 *      eaters end with the program.
 * Each variant counts buns baked and eaten in shared memory and says
 * whether any was lost or eaten twice.
 *
 * Run: ./build/examples/producer_consumer
 */
#include <stdio.h>
#include <string.h>

#include <weft/weft.h>

#define END "END"

static weft_queue *q;
static weft_array
    *tally; /* [0] baked, [1] eaten, [2] sum of bun numbers eaten */

static void eat(int bun)
{
    weft_array_add(tally, 1, 1, NULL);
    weft_array_add(tally, 2, bun, NULL);
}

static int baker(void *arg)
{
    int id = (int)(long)arg, i;

    for (i = 0; i < 5; i++) {
        int bun = id * 100 + i;
        weft_sleep_ms(10); /* baking */
        weft_queue_put(q, &bun, sizeof bun, -1);
        weft_array_add(tally, 0, 1, NULL);
        printf("  %-9s baked bun %d\n", weft_current_name(), bun);
    }
    return 0;
}

/* Variant 1: stop on the end marker. */
static int eater_until_marker(void *arg)
{
    char msg[16];
    int n, bun;

    (void)arg;
    while ((n = weft_queue_get(q, msg, sizeof msg, -1)) > 0) {
        if (n == sizeof END - 1 && memcmp(msg, END, (size_t)n) == 0)
            break;
        memcpy(&bun, msg, sizeof bun);
        eat(bun);
        printf("  %-9s ate bun %d\n", weft_current_name(), bun);
    }
    return 0;
}

/* Variant 2: stop when the closed queue is empty. */
static int eater_until_closed(void *arg)
{
    int bun, n;

    (void)arg;
    while ((n = weft_queue_get(q, &bun, sizeof bun, -1)) > 0) {
        eat(bun);
        printf("  %-9s ate bun %d\n", weft_current_name(), bun);
    }
    return n == WEFT_ECLOSED ? 0 : 1;
}

/* Variant 3: a daemon that eats forever and marks each bun done. */
static int eater_forever(void *arg)
{
    int bun;

    (void)arg;
    for (;;) {
        if (weft_queue_get(q, &bun, sizeof bun, -1) != sizeof bun)
            return 1;
        weft_sleep_ms(5); /* eating */
        eat(bun);
        printf("  %-9s ate bun %d\n", weft_current_name(), bun);
        weft_queue_task_done(q);
    }
}

static weft_process *start(weft_process_fn fn, long arg, const char *name,
                           bool daemon)
{
    weft_process_opts o = {.name = name, .daemon = daemon};
    weft_process *p;

    weft_process_create(&p, fn, (void *)arg, &o);
    weft_process_start(p);
    return p;
}

static void finish(weft_process **ps, int n)
{
    int i;

    for (i = 0; i < n; i++) {
        weft_process_join(ps[i], -1);
        weft_process_destroy(ps[i]);
    }
}

static void verdict(int expect_sum)
{
    int64_t baked, eaten, sum;

    weft_array_get_i64(tally, 0, &baked);
    weft_array_get_i64(tally, 1, &eaten);
    weft_array_get_i64(tally, 2, &sum);
    printf("  baked %lld, eaten %lld: %s\n\n", (long long)baked,
           (long long)eaten,
           baked == eaten && sum == expect_sum ? "no bun lost or eaten twice"
                                               : "BUNS LOST OR EATEN TWICE");
    weft_array_set_i64(tally, 0, 0);
    weft_array_set_i64(tally, 1, 0);
    weft_array_set_i64(tally, 2, 0);
}

int main(void)
{
    weft_queue_opts jo = {.joinable = true};
    weft_process *ps[8];

    setvbuf(stdout, NULL, _IOLBF, 0);
    if (weft_array_create(&tally, WEFT_SHARED, WEFT_INT64, 3, 0, false) < 0)
        return 1;

    printf("1. one baker, one eater, an end marker\n");
    weft_queue_create(&q, WEFT_SHARED, NULL);
    ps[0] = start(baker, 1, "baker-1", false);
    ps[1] = start(eater_until_marker, 0, "eater-1", false);
    finish(ps, 1);
    weft_queue_put(q, END, sizeof END - 1, -1);
    finish(ps + 1, 1);
    weft_queue_destroy(q);
    verdict(100 * 5 + 10);

    printf("2. three bakers, two eaters, the queue closed at the end\n");
    weft_queue_create(&q, WEFT_SHARED, NULL);
    ps[0] = start(baker, 1, "baker-1", false);
    ps[1] = start(baker, 2, "baker-2", false);
    ps[2] = start(baker, 3, "baker-3", false);
    ps[3] = start(eater_until_closed, 0, "eater-1", false);
    ps[4] = start(eater_until_closed, 0, "eater-2", false);
    finish(ps, 3);
    weft_queue_close(q); /* every eater stops once the queue is empty */
    finish(ps + 3, 2);
    weft_queue_destroy(q);
    verdict((100 + 200 + 300) * 5 + 3 * 10);

    printf("3. a joinable queue and daemon eaters\n");
    weft_queue_create(&q, WEFT_SHARED, &jo);
    start(eater_forever, 0, "eater-1", true);
    start(eater_forever, 0, "eater-2", true);
    ps[0] = start(baker, 1, "baker-1", false);
    finish(ps, 1);
    weft_queue_join(q, -1); /* every bun baked has been eaten */
    verdict(100 * 5 + 10);
    return 0; /* the daemon eaters are terminated as the program ends */
}
