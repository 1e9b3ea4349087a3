/* traffic_light.c - an Event as a traffic light.
 *
 * A daemon process is the light: it sets the event (green) and clears it
 * (red) every 300 ms. Cars are processes that arrive at random times; a
 * car that finds the light red waits on the event, and passes when it
 * turns green. The program ends after the last car; the light, a daemon,
 * is stopped with it.
 *
 * Run: ./build/examples/traffic_light [cars]
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <weft/weft.h>

static weft_event *green;

static int light(void *arg)
{
    (void)arg;
    for (;;) {
        weft_event_set(green);
        printf("        light: GREEN\n");
        weft_sleep_ms(300);
        weft_event_clear(green);
        printf("        light: RED\n");
        weft_sleep_ms(300);
    }
    return 0;
}

static int car(void *arg)
{
    int id = (int)(long)arg;

    srand((unsigned)getpid());
    weft_sleep_ms(rand() % 1200); /* arrives some time */
    if (!weft_event_is_set(green)) {
        printf("car %d waits at the red light\n", id);
        weft_event_wait(green, -1);
    }
    printf("car %d passes\n", id);
    return 0;
}

int main(int argc, char **argv)
{
    int cars = argc > 1 ? (int)strtol(argv[1], NULL, 10) : 6, i;
    weft_process_opts lo = {.name = "light", .daemon = true};
    weft_process *l, *c[64];

    if (cars < 1 || cars > 64) {
        fprintf(stderr, "traffic_light: cars must be 1..64\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (weft_event_create(&green, WEFT_SHARED) < 0)
        return 1;
    weft_process_create(&l, light, NULL, &lo);
    weft_process_start(l);
    for (i = 0; i < cars; i++) {
        weft_process_create(&c[i], car, (void *)(long)(i + 1), NULL);
        weft_process_start(c[i]);
    }
    for (i = 0; i < cars; i++) {
        weft_process_join(c[i], -1);
        weft_process_destroy(c[i]);
    }
    printf("all %d cars have passed\n", cars);
    return 0; /* the light is a daemon: weft terminates it at exit */
}
