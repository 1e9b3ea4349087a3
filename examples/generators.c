/* generators.c - two coroutines hand control back and forth with yield.
 *
 * Python (a generator as a consumer, driven by send):
 *     def consumer():
 *         r = ''
 *         while True:
 *             n = yield r
 *             print('[CONSUMER] Consuming %s...' % n)
 *             r = '200 OK'
 *     def produce(c):
 *         c.send(None)
 *         for n in range(1, 6):
 *             print('[PRODUCER] Producing %s...' % n)
 *             r = c.send(n)
 *             print('[PRODUCER] Consumer return: %s' % r)
 *         c.close()
 *
 * Here both sides are coroutines of one scheduler, sharing a one-item
 * slot. weft_co_yield lets every other runnable coroutine run once, then
 * continues: with just these two runnable, each yield hands the thread to
 * the other side, like each send/yield pair above. No lock is needed: a
 * coroutine is never interrupted between two yields.
 *
 * Run: ./build/examples/generators
 * Expect: "[PRODUCER] Producing 1...", "[CONSUMER] Consuming 1...",
 * "[PRODUCER] Consumer return: 200 OK", and so on up to 5, strictly in
 * turn, then "[CONSUMER] closed after 5 items".
 */
#include <stdbool.h>
#include <stdio.h>

#include <weft/co.h>

#define ITEMS 5

/* The slot the two sides share (the value of send, and of yield). */
struct slot {
    int item;          /* what the producer sent */
    const char *reply; /* what the consumer answered */
    bool closed;       /* c.close() */
};

static int consumer(void *arg)
{
    struct slot *s = arg;
    int n = 0;

    for (;;) {
        weft_co_yield(); /* n = yield r: wait for the next item */
        if (s->closed)
            break;
        printf("[CONSUMER] Consuming %d...\n", s->item);
        s->reply = "200 OK";
        n++;
    }
    printf("[CONSUMER] closed after %d items\n", n);
    return n;
}

static int producer(void *arg)
{
    struct slot *s = arg;

    for (int n = 1; n <= ITEMS; n++) {
        printf("[PRODUCER] Producing %d...\n", n);
        s->item = n;
        s->reply = NULL;
        weft_co_yield(); /* r = c.send(n) */
        printf("[PRODUCER] Consumer return: %s\n",
               s->reply ? s->reply : "(nothing)");
    }
    s->closed = true; /* c.close() */
    return 0;
}

static int run(void *arg)
{
    struct slot s = {0, NULL, false};
    weft_co *c, *p;
    int consumed = 0, rc;

    (void)arg;
    /* The consumer first: it runs up to its first yield (c.send(None)),
     * then waits for the producer. */
    rc = weft_co_spawn(&c, consumer, &s, NULL);
    if (rc == 0)
        rc = weft_co_spawn(&p, producer, &s, NULL);
    if (rc < 0) {
        fprintf(stderr, "generators: weft_co_spawn: %s\n", weft_strerror(rc));
        return 1;
    }
    weft_co_join(p, -1, NULL);
    weft_co_join(c, -1, &consumed);
    weft_co_release(p);
    weft_co_release(c);
    return consumed == ITEMS ? 0 : 1;
}

int main(void)
{
    int result = 1, rc;

    setvbuf(stdout, NULL, _IOLBF, 0);
    rc = weft_co_run(run, NULL, NULL, &result);
    if (rc < 0) {
        fprintf(stderr, "generators: weft_co_run: %s\n", weft_strerror(rc));
        return 1;
    }
    return result;
}
