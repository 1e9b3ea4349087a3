/* printer_lock.c - three processes share one printer.
 *
 * Each process prints a few lines word by word, pausing between words like
 * a slow printer. Without a lock their words interleave into nonsense;
 * with a process-shared weft_lock held for a whole line, every line comes
 * out whole.
 *
 * Run: ./build/examples/printer_lock [--no-lock]
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <weft/weft.h>

static weft_lock *printer; /* NULL with --no-lock */

static void print_slowly(const char *line)
{
    const char *w = line;

    while (*w) {
        size_t n = strcspn(w, " ");
        if (write(STDOUT_FILENO, w, n + (w[n] == ' ')) < 0)
            return;
        w += n + (w[n] == ' ');
        weft_sleep_ms(3);
    }
    if (write(STDOUT_FILENO, "\n", 1) < 0)
        return;
}

static int job(void *arg)
{
    const char *who = arg;
    char line[128];
    int i;

    for (i = 1; i <= 3; i++) {
        snprintf(line, sizeof line, "%s prints page %d of its report", who, i);
        if (printer)
            weft_lock_acquire(printer, -1);
        print_slowly(line);
        if (printer)
            weft_lock_release(printer);
        weft_sleep_ms(10); /* walk back to the desk: others get a turn */
    }
    return 0;
}

int main(int argc, char **argv)
{
    static const char *who[3] = {"alice", "bob", "carol"};
    weft_process *p[3];
    int i;

    if (!(argc > 1 && strcmp(argv[1], "--no-lock") == 0))
        weft_lock_create(&printer, WEFT_SHARED);
    printf("%s\n", printer ? "with the printer lock:" : "without a lock:");
    fflush(stdout);
    for (i = 0; i < 3; i++) {
        weft_process_create(&p[i], job, (void *)who[i], NULL);
        weft_process_start(p[i]);
    }
    for (i = 0; i < 3; i++) {
        weft_process_join(p[i], -1);
        weft_process_destroy(p[i]);
    }
    weft_lock_destroy(printer);
    return 0;
}
