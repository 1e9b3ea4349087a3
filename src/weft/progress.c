/* progress.c - the transfer progress bar (label, bar, percent, rate, time
 * left) drawn on stderr, and the human-readable sizes and times that ls
 * and stat print.
 *
 * The bar is drawn only when stderr is a terminal (the caller decides),
 * at most ten times a second, fitted to the terminal's width, and
 * redrawn in place with a carriage return.
 */
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

#define REDRAW_NS    100000000 /* 0.1 s between redraws */
#define DEFAULT_COLS 80

void cli_human_size(uint64_t n, char *buf, size_t cap)
{
    static const char *const units[] = {"B",   "KiB", "MiB", "GiB",
                                        "TiB", "PiB", "EiB"};
    if (n < 1024) {
        snprintf(buf, cap, "%u B", (unsigned)n);
        return;
    }
    double v = (double)n;
    size_t u = 0;
    while (v >= 1024 && u + 1 < sizeof units / sizeof units[0]) {
        v /= 1024;
        u++;
    }
    snprintf(buf, cap, v < 100 ? "%.1f %s" : "%.0f %s", v, units[u]);
}

void cli_human_time(int64_t t, bool seconds, char *buf, size_t cap)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (localtime_r(&tt, &tm) == NULL ||
        strftime(buf, cap, seconds ? "%Y-%m-%d %H:%M:%S" : "%Y-%m-%d %H:%M",
                 &tm) == 0)
        snprintf(buf, cap, "%lld", (long long)t);
}

static int term_cols(void)
{
    struct winsize ws;
    if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20)
        return ws.ws_col;
    return DEFAULT_COLS;
}

/* "1:02:03" or "02:03" */
static void clock_text(int64_t secs, char *buf, size_t cap)
{
    if (secs >= 3600)
        snprintf(buf, cap, "%lld:%02lld:%02lld", (long long)(secs / 3600),
                 (long long)(secs / 60 % 60), (long long)(secs % 60));
    else
        snprintf(buf, cap, "%02lld:%02lld", (long long)(secs / 60),
                 (long long)(secs % 60));
}

static void draw(cli_progress *p, int64_t now, bool final)
{
    double elapsed = (double)(now - p->t0_ns) / 1e9;
    double rate = elapsed > 0 ? (double)(p->done - p->start) / elapsed : 0;
    char size[32], speed[32], eta[32], tail[96];
    cli_human_size(p->done, size, sizeof size);
    cli_human_size((uint64_t)rate, speed, sizeof speed);
    if (final)
        clock_text((int64_t)elapsed, eta, sizeof eta);
    else if (rate > 0 && p->total >= p->done)
        clock_text((int64_t)((double)(p->total - p->done) / rate), eta,
                   sizeof eta);
    else
        snprintf(eta, sizeof eta, "--:--");
    unsigned pct = p->total > 0 ? (unsigned)(p->done * 100 / p->total) : 100;
    int n = snprintf(tail, sizeof tail, " %3u%% %9s %9s/s %s%s", pct, size,
                     speed, eta, final ? "     " : " left");
    /* The label takes what the numbers and a bar of at least 10 leave. */
    int cols = term_cols() - 1;
    int label_max = cols - n - 13;
    int label_len = (int)strlen(p->label);
    if (label_max < 0)
        label_max = 0;
    if (label_len > label_max)
        label_len = label_max;
    int bar = cols - n - label_len - 3;
    if (bar < 0)
        bar = 0;
    int fill = p->total > 0
                   ? (int)((double)bar * (double)p->done / (double)p->total)
                   : bar;
    if (fill > bar)
        fill = bar;
    char line[512];
    int pos = snprintf(line, sizeof line, "\r%.*s [", label_len, p->label);
    for (int i = 0; i < bar && pos < (int)sizeof line - 2; i++)
        line[pos++] = i < fill ? '#' : '-';
    line[pos] = '\0';
    fprintf(stderr, "%s]%s", line, tail);
    fflush(stderr);
}

void cli_progress_begin(cli_progress *p, bool on, const char *label,
                        uint64_t start, uint64_t total)
{
    memset(p, 0, sizeof *p);
    p->on = on;
    p->label = label;
    p->start = start;
    p->done = start;
    p->total = total;
    p->t0_ns = weft_now_ns();
    if (on)
        draw(p, p->t0_ns, false);
    p->last_ns = p->t0_ns;
}

void cli_progress_add(cli_progress *p, uint64_t n)
{
    p->done += n;
    if (!p->on)
        return;
    int64_t now = weft_now_ns();
    if (now - p->last_ns >= REDRAW_NS) {
        draw(p, now, false);
        p->last_ns = now;
    }
}

void cli_progress_end(cli_progress *p, bool ok)
{
    if (!p->on)
        return;
    if (ok) {
        draw(p, weft_now_ns(), true);
        fputc('\n', stderr);
    } else {
        /* Leave the line for the error message that follows. */
        fputc('\n', stderr);
    }
    fflush(stderr);
    p->on = false;
}
