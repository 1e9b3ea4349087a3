/* log.c - weftd's log: one line per event, to stderr or --log FILE.
 *
 * A line is "2026-11-22T11:30:00Z weftd[1234] info: message", written
 * with one write(2) on a descriptor opened with O_APPEND, so the lines of
 * the fork and prefork models' processes never interleave mid-line.
 *
 * The descriptor is the one piece of process-wide state: it is set once
 * by main() before any handler runs, and only read afterwards.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "weftd.h"

static int log_fd = 2;

void weftd_log_init(int fd)
{
    log_fd = fd;
}

static void log_line(int level, const char *msg)
{
    char line[1024], when[32];
    struct timespec ts;
    struct tm tm;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    int n = snprintf(line, sizeof line, "%s weftd[%ld] %s: %s\n", when,
                     (long)getpid(), weft_log_level_name(level), msg);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof line) {
        n = sizeof line - 1;
        line[n - 1] = '\n';
    }
    /* A short write to a log is not worth more than one retry. */
    ssize_t w = write(log_fd, line, (size_t)n);
    if (w >= 0 && w < n)
        (void)!write(log_fd, line + w, (size_t)(n - w));
}

void weftd_log(int level, const char *fmt, ...)
{
    char msg[900];
    va_list ap;
    int saved = errno;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    log_line(level, msg);
    errno = saved;
}

void weftd_log_weft(int level, const char *msg, void *ud)
{
    (void)ud;
    log_line(level, msg);
}
