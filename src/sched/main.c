/* main.c - weft-sched, the CPU-scheduling simulator (docs/weft-sched.md).
 *
 * Reads a job list from a file (or "-" for stdin) or from --job options,
 * simulates one algorithm (or all of them), and prints the Gantt chart and
 * each job's waiting, turnaround and response times with their averages;
 * --svg also draws the chart(s) as an SVG image.
 *
 * Exit status: 0 done; 2 bad usage or bad input (one line on stderr);
 * 1 the SVG file could not be written.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <weft/version.h>

#include "sched.h"

#define MAX_INPUT (1 << 20) /* bytes of job list read */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: weft-sched [options] FILE|-\n"
            "       weft-sched [options] --job NAME,ARRIVAL,BURST[,PRIO] ...\n"
            "Simulate CPU scheduling of a job list; print the Gantt chart "
            "and each job's\nwaiting, turnaround and response times.\n"
            "\n"
            "  -a, --algorithm ALG  fcfs, sjf, srtf, rr, prio, pprio, mlfq, "
            "or all\n"
            "                       (default fcfs)\n"
            "  -q, --quantum N      round-robin quantum, and the first MLFQ "
            "quantum\n"
            "                       (default 4)\n"
            "  -l, --levels N       MLFQ queues, quanta N, 2N, 4N... "
            "(default 3)\n"
            "      --quanta LIST    MLFQ quanta, e.g. 8,16,0 (0: run to "
            "completion,\n"
            "                       last queue only)\n"
            "  -j, --job SPEC       one job, NAME,ARRIVAL,BURST[,PRIORITY]; "
            "repeat it\n"
            "      --svg FILE       also draw the Gantt chart(s) as an SVG "
            "image\n"
            "  -w, --width N        width of the text chart (default 78)\n"
            "  -h, --help           this help\n"
            "  -V, --version        the version\n"
            "\n"
            "FILE holds one job a line: NAME ARRIVAL BURST [PRIORITY]; '#' "
            "starts a\ncomment. Lower priority numbers are more important. "
            "Times are whole units.\n");
}

static void bad(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));

/* One line on stderr, exit 2. */
static void bad(const char *fmt, ...)
{
    va_list ap;

    fputs("weft-sched: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(2);
}

static int64_t number(const char *opt, const char *s, int64_t lo, int64_t hi)
{
    char *end;
    long long v;

    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        char range[64];

        snprintf(range, sizeof range, "%lld..%lld", (long long)lo,
                 (long long)hi);
        bad("%s wants a whole number %s", opt, range);
    }
    return v;
}

static int parse_quanta(const char *list, sched_params *p)
{
    char buf[256], *save = NULL, *tok;
    int n = 0;

    if (strlen(list) >= sizeof buf)
        return -1;
    memcpy(buf, list, strlen(list) + 1);
    for (tok = strtok_r(buf, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        char *end;
        long long v;

        if (n == SCHED_MAX_LEVELS)
            return -1;
        errno = 0;
        v = strtoll(tok, &end, 10);
        if (errno || end == tok || *end || v < 0 || v > SCHED_MAX_TIME)
            return -1;
        p->quanta[n++] = v;
    }
    if (n == 0)
        return -1;
    p->levels = n;
    return 0;
}

static char *read_all(const char *path, size_t *len)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    char *buf;
    size_t n;

    if (!f)
        bad("%s: %s", path, strerror(errno));
    buf = malloc(MAX_INPUT + 1);
    if (!buf)
        bad("%s: %s", path, strerror(ENOMEM));
    n = fread(buf, 1, MAX_INPUT + 1, f);
    if (ferror(f))
        bad("%s: %s", path, "read error");
    if (n > MAX_INPUT)
        bad("%s: %s", path, "larger than 1 MiB");
    if (f != stdin)
        fclose(f);
    *len = n;
    return buf;
}

static void title(FILE *f, sched_alg alg, const sched_params *p)
{
    int i;

    fputs(sched_alg_title(alg), f);
    if (alg == SCHED_RR)
        fprintf(f, " (quantum %lld)", (long long)p->quantum);
    if (alg == SCHED_MLFQ) {
        fprintf(f, " (%d queues, quanta", p->levels);
        for (i = 0; i < p->levels; i++) {
            if (p->quanta[i] == 0)
                fprintf(f, "%s FCFS", i ? "," : "");
            else
                fprintf(f, "%s %lld", i ? "," : "", (long long)p->quanta[i]);
        }
        fputc(')', f);
    }
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"algorithm", required_argument, NULL, 'a'},
        {"quantum", required_argument, NULL, 'q'},
        {"levels", required_argument, NULL, 'l'},
        {"quanta", required_argument, NULL, 'Q'},
        {"job", required_argument, NULL, 'j'},
        {"svg", required_argument, NULL, 'S'},
        {"width", required_argument, NULL, 'w'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    sched_result results[SCHED_NALGS];
    const char *svg = NULL, *alg_arg = "fcfs";
    bool all = false, levels_set = false;
    bool quanta_set = false;
    char err[SCHED_ERR_LEN];
    sched_joblist jl;
    sched_params p;
    int c, rc, a, first, last, width = 78, nres = 0, i;

    sched_params_default(&p);
    sched_joblist_init(&jl);
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":a:q:l:j:w:hV", longopts, NULL)) !=
           -1) {
        switch (c) {
        case 'a':
            alg_arg = optarg;
            break;
        case 'q':
            p.quantum = number("--quantum", optarg, 1, SCHED_MAX_TIME);
            break;
        case 'l':
            p.levels = (int)number("--levels", optarg, 1, SCHED_MAX_LEVELS);
            levels_set = true;
            break;
        case 'Q':
            if (parse_quanta(optarg, &p) < 0)
                bad("--quanta %s: want up to 8 whole numbers, e.g. 8,16,0",
                    optarg);
            quanta_set = true;
            break;
        case 'j':
            if (sched_parse_spec(&jl, optarg, err, sizeof err) < 0)
                bad("--job %s: %s", optarg, err);
            break;
        case 'S':
            svg = optarg;
            break;
        case 'w':
            width = (int)number("--width", optarg, 20, 1000);
            break;
        case 'h':
            usage(stdout);
            return 0;
        case 'V':
            printf("weft-sched %s\n", WEFT_VERSION_STRING);
            return 0;
        case ':':
            bad("option %s needs an argument", argv[optind - 1]);
            break;
        default:
            bad("unknown option %s (try --help)", argv[optind - 1]);
        }
    }

    if (strcmp(alg_arg, "all") == 0) {
        all = true;
    } else if (sched_alg_parse(alg_arg) < 0) {
        bad("unknown algorithm '%s' (fcfs, sjf, srtf, rr, prio, pprio, "
            "mlfq, all)",
            alg_arg);
    }
    if (quanta_set && levels_set)
        bad("give --levels or --quanta, not both");
    if (!quanta_set) {
        for (i = 0; i < p.levels; i++) {
            /* Doubling from the base quantum, capped where it would pass
             * the largest time. */
            p.quanta[i] = i == 0 ? p.quantum : p.quanta[i - 1] * 2;
            if (p.quanta[i] > SCHED_MAX_TIME)
                p.quanta[i] = SCHED_MAX_TIME;
        }
    }
    if (sched_params_check(&p, err, sizeof err) < 0)
        bad("%s", err);

    if (jl.n > 0 && optind < argc)
        bad("give a job file or --job options, not both");
    if (jl.n == 0) {
        char *text;
        size_t len;

        if (optind >= argc)
            bad("no jobs: give a job file, - for stdin, or --job (try "
                "--help)");
        if (optind + 1 < argc)
            bad("one job file only, got '%s' too", argv[optind + 1]);
        text = read_all(argv[optind], &len);
        rc = sched_parse(&jl, text, len, err, sizeof err);
        free(text);
        if (rc < 0)
            bad("%s: %s", argv[optind], err);
        if (jl.n == 0)
            bad("%s: no jobs in it", argv[optind]);
    }

    first = all ? 0 : sched_alg_parse(alg_arg);
    last = all ? SCHED_NALGS - 1 : first;
    for (a = first; a <= last; a++) {
        sched_stats st;

        rc = sched_run((sched_alg)a, &p, &jl, &results[nres]);
        if (rc == -E2BIG)
            bad("%s: more than 1000000 slices; use a larger quantum",
                sched_alg_name((sched_alg)a));
        if (rc < 0)
            bad("%s: %s", sched_alg_name((sched_alg)a), strerror(-rc));
        if (sched_stats_compute(&jl, &results[nres], &st) < 0)
            bad("%s: %s", sched_alg_name((sched_alg)a), strerror(ENOMEM));
        if (nres > 0)
            fputc('\n', stdout);
        title(stdout, (sched_alg)a, &p);
        printf(": %zu job%s\n\n", jl.n, jl.n == 1 ? "" : "s");
        sched_print_gantt(stdout, &jl, &results[nres], width);
        fputc('\n', stdout);
        sched_print_table(stdout, &jl, &results[nres], &st);
        sched_stats_free(&st);
        nres++;
    }
    if (all) {
        printf("\n%-6s %12s %15s %13s\n", "", "avg waiting", "avg turnaround",
               "avg response");
        for (i = 0; i < nres; i++) {
            sched_stats st;

            if (sched_stats_compute(&jl, &results[i], &st) < 0)
                bad("summary: %s", strerror(ENOMEM));
            printf("%-6s %12.2f %15.2f %13.2f\n",
                   sched_alg_name(results[i].alg), st.avg_waiting,
                   st.avg_turnaround, st.avg_response);
            sched_stats_free(&st);
        }
    }

    rc = 0;
    if (svg) {
        FILE *f = fopen(svg, "w");

        if (!f || sched_write_svg(f, &jl, results, (size_t)nres, &p) < 0 ||
            fclose(f) != 0) {
            fprintf(stderr, "weft-sched: %s: cannot write the SVG: %s\n", svg,
                    strerror(errno ? errno : EIO));
            rc = 1;
        }
    }
    for (i = 0; i < nres; i++)
        sched_result_free(&results[i]);
    sched_joblist_free(&jl);
    if (fflush(stdout) != 0)
        return 1;
    return rc;
}
