/* ktv_semaphore.c - 10 people, 4 karaoke rooms: a semaphore of 4.
 *
 * Each person is a process that waits for a room (weft_semaphore_acquire),
 * sings for a while, and leaves (release). A shared counter of people
 * inside, updated atomically, shows that never more than 4 are in at once.
 *
 * Run: ./build/examples/ktv_semaphore
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <weft/weft.h>

enum { PEOPLE = 10, ROOMS = 4 };

static weft_semaphore *rooms;
static weft_value *inside; /* people inside right now */
static weft_value *most;   /* the largest "inside" ever seen */

static int person(void *arg)
{
    int id = (int)(long)arg;
    int64_t now, seen;

    srand((unsigned)getpid());
    weft_semaphore_acquire(rooms, -1);
    weft_value_add(inside, 1, &now);
    weft_value_get_i64(most, &seen);
    while (now > seen && !weft_value_cas(most, &seen, now))
        ;
    printf("person %2d enters  (%lld inside)\n", id, (long long)now);
    weft_sleep_ms(100 + rand() % 200);
    weft_value_add(inside, -1, &now);
    printf("person %2d leaves  (%lld inside)\n", id, (long long)now);
    weft_semaphore_release(rooms);
    return 0;
}

int main(void)
{
    weft_process *p[PEOPLE];
    int64_t max;
    int i;

    setvbuf(stdout, NULL, _IOLBF, 0);
    if (weft_semaphore_create(&rooms, WEFT_SHARED, ROOMS) < 0 ||
        weft_value_create(&inside, WEFT_SHARED, WEFT_INT64, 0, false) < 0 ||
        weft_value_create(&most, WEFT_SHARED, WEFT_INT64, 0, false) < 0)
        return 1;
    for (i = 0; i < PEOPLE; i++) {
        weft_process_create(&p[i], person, (void *)(long)(i + 1), NULL);
        weft_process_start(p[i]);
    }
    for (i = 0; i < PEOPLE; i++) {
        weft_process_join(p[i], -1);
        weft_process_destroy(p[i]);
    }
    weft_value_get_i64(most, &max);
    printf("at most %lld of %d people were inside at once (%d rooms)\n",
           (long long)max, PEOPLE, ROOMS);
    weft_semaphore_destroy(rooms);
    weft_value_destroy(inside);
    weft_value_destroy(most);
    return max <= ROOMS ? 0 : 1;
}
