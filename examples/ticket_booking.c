/* ticket_booking.c - the train-ticket exercise: why a lock is needed.
 *
 * The remaining tickets are kept in a JSON file, {"count": 3}. Each buyer
 * is a process that reads the count, pauses a little (the network, the
 * user), and buys if the count is above zero by writing count - 1 back.
 *
 *   --no-lock  every buyer reads "3" before anybody writes: tickets are
 *              sold many times over (oversold);
 *   --lock     the read-pause-write runs under a process-shared weft_lock:
 *              exactly the tickets there are get sold.
 *
 * Run: ./build/examples/ticket_booking [--lock|--no-lock] [--buyers N]
 *                                      [--tickets T] [--file PATH]
 * The last line reads `sold S of T tickets`.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <weft/weft.h>

static const char *path = "/tmp/weft-tickets.json";
static weft_lock *lock; /* shared; NULL with --no-lock */

static int read_count(void)
{
    json_error_t err;
    json_t *doc = json_load_file(path, 0, &err);
    int count = -1;

    if (doc && json_is_integer(json_object_get(doc, "count")))
        count = (int)json_integer_value(json_object_get(doc, "count"));
    json_decref(doc);
    return count;
}

static int write_count(int count)
{
    json_t *doc = json_pack("{s:i}", "count", count);
    int rc = doc ? json_dump_file(doc, path, 0) : -1;

    json_decref(doc);
    return rc;
}

/* A buyer: exit code 0 if it bought a ticket, 1 if none was left. */
static int buyer(void *arg)
{
    int count, bought = 0;

    (void)arg;
    srand((unsigned)getpid());
    if (lock)
        weft_lock_acquire(lock, -1);
    count = read_count();
    printf("%-9s sees %d ticket(s) left\n", weft_current_name(), count);
    weft_sleep_ms(50 + rand() % 50); /* the user thinks it over */
    if (count > 0) {
        write_count(count - 1);
        bought = 1;
        printf("%-9s bought a ticket\n", weft_current_name());
    } else {
        printf("%-9s found none left\n", weft_current_name());
    }
    if (lock)
        weft_lock_release(lock);
    return bought ? 0 : 1;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"lock", no_argument, NULL, 'l'},
        {"no-lock", no_argument, NULL, 'n'},
        {"buyers", required_argument, NULL, 'b'},
        {"tickets", required_argument, NULL, 't'},
        {"file", required_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int use_lock = 1, buyers = 10, tickets = 3, sold = 0, c, i, code;
    weft_process *p[256];

    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'l':
            use_lock = 1;
            break;
        case 'n':
            use_lock = 0;
            break;
        case 'b':
            buyers = (int)strtol(optarg, NULL, 10);
            break;
        case 't':
            tickets = (int)strtol(optarg, NULL, 10);
            break;
        case 'f':
            path = optarg;
            break;
        default:
            fprintf(stderr,
                    "usage: %s [--lock|--no-lock] [--buyers N] "
                    "[--tickets T] [--file PATH]\n",
                    argv[0]);
            return c == 'h' ? 0 : 2;
        }
    }
    if (buyers < 1 || buyers > 256 || tickets < 0) {
        fprintf(stderr,
                "ticket_booking: buyers must be 1..256, tickets >= 0\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (write_count(tickets) != 0) {
        fprintf(stderr, "ticket_booking: cannot write %s: %s\n", path,
                strerror(errno));
        return 1;
    }
    if (use_lock && weft_lock_create(&lock, WEFT_SHARED) < 0) {
        fprintf(stderr, "ticket_booking: cannot create the lock\n");
        return 1;
    }
    printf("%d buyers, %d tickets, %s\n", buyers, tickets,
           use_lock ? "with a lock" : "without a lock");
    for (i = 0; i < buyers; i++) {
        char name[32];
        weft_process_opts o = {.name = name};
        snprintf(name, sizeof name, "buyer-%d", i + 1);
        if (weft_process_create(&p[i], buyer, NULL, &o) < 0 ||
            weft_process_start(p[i]) < 0) {
            fprintf(stderr, "ticket_booking: cannot start buyer %d\n", i + 1);
            return 1;
        }
    }
    for (i = 0; i < buyers; i++) {
        weft_process_join(p[i], -1);
        if (weft_process_exitcode(p[i], &code) == 0 && code == 0)
            sold++;
        weft_process_destroy(p[i]);
    }
    weft_lock_destroy(lock);
    unlink(path);
    if (sold > tickets)
        printf("oversold: %d buyers paid for %d tickets\n", sold, tickets);
    printf("sold %d of %d tickets\n", sold, tickets);
    return 0;
}
