/* flash_sale.c - 100 buyers, 10 wristbands: a bounded queue decides.
 *
 * The sale is a queue that holds at most 10 entries. Each buyer process
 * tries to put its name in without waiting (weft_queue_put with timeout
 * 0): the first 10 get in, everybody after them is told the sale is full
 * (-EAGAIN). The organiser then reads the queue in order and prints the
 * winners' ranks.
 *
 * Run: ./build/examples/flash_sale
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <weft/weft.h>

enum { BUYERS = 100, BANDS = 10 };

static weft_queue *sale;
static weft_value *refused;

static int buyer(void *arg)
{
    int id = (int)(long)arg;
    char name[32];

    snprintf(name, sizeof name, "buyer-%d", id);
    if (weft_queue_put(sale, name, strlen(name), 0) == -EAGAIN)
        weft_value_add(refused, 1, NULL); /* full: no wristband */
    return 0;
}

int main(void)
{
    weft_queue_opts o = {.max_items = BANDS};
    weft_process *p[BUYERS];
    char name[32];
    int64_t nrefused;
    int i, n, rank = 0;

    if (weft_queue_create(&sale, WEFT_SHARED, &o) < 0 ||
        weft_value_create(&refused, WEFT_SHARED, WEFT_INT64, 0, false) < 0)
        return 1;
    for (i = 0; i < BUYERS; i++) {
        weft_process_create(&p[i], buyer, (void *)(long)(i + 1), NULL);
        weft_process_start(p[i]);
    }
    for (i = 0; i < BUYERS; i++) {
        weft_process_join(p[i], -1);
        weft_process_destroy(p[i]);
    }
    while ((n = weft_queue_get(sale, name, sizeof name - 1, 0)) > 0) {
        name[n] = '\0';
        printf("rank %2d: %s\n", ++rank, name);
    }
    weft_value_get_i64(refused, &nrefused);
    printf("%d wristbands given, %lld buyers told the sale is full\n", rank,
           (long long)nrefused);
    weft_queue_destroy(sale);
    weft_value_destroy(refused);
    return rank == BANDS && rank + nrefused == BUYERS ? 0 : 1;
}
