/* priority_messages.c - urgent before normal before junk.
 *
 * A priority queue between threads hands out the lowest priority number
 * first, and messages of equal priority in the order they were put
 * (Python's queue.PriorityQueue with (priority, count) tuples). The
 * messages are put in a jumble; they come out sorted.
 *
 * Run: ./build/examples/priority_messages
 */
#include <stdio.h>
#include <string.h>

#include <weft/weft.h>

enum { URGENT = 0, NORMAL = 1, JUNK = 2 };

static const struct {
    int prio;
    const char *text;
} mail[] = {
    {JUNK, "junk: you have won a prize"},
    {NORMAL, "normal: lunch at noon?"},
    {URGENT, "urgent: the server is down"},
    {JUNK, "junk: cheap watches"},
    {NORMAL, "normal: minutes of the meeting"},
    {URGENT, "urgent: the disk is full"},
    {NORMAL, "normal: holiday plans"},
};

int main(void)
{
    weft_queue_opts o = {.kind = WEFT_QUEUE_PRIORITY};
    weft_queue *q;
    char text[64];
    size_t i;
    int n;

    if (weft_queue_create(&q, NULL, &o) < 0)
        return 1;
    printf("put in this order:\n");
    for (i = 0; i < sizeof mail / sizeof mail[0]; i++) {
        printf("  %s\n", mail[i].text);
        weft_queue_put_prio(q, mail[i].prio, mail[i].text, strlen(mail[i].text),
                            -1);
    }
    printf("taken out:\n");
    while ((n = weft_queue_get(q, text, sizeof text - 1, 0)) > 0) {
        text[n] = '\0';
        printf("  %s\n", text);
    }
    weft_queue_destroy(q);
    return 0;
}
