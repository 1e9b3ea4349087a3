/* fuzz_sched_input.c - weft-sched's job-list parser and simulator, fed
 * arbitrary bytes as a job file.
 *
 * For any bytes, sched_parse (src/sched/sched.c) returns 0 or an error
 * with a message, never crashes or reads past the input, and every job it
 * accepts obeys the format's rules (name characters and length, unique
 * names, ranges). When the list is small enough to simulate quickly, every
 * algorithm is run and its schedule checked against what any correct
 * schedule must be: slices back to back from 0, each job running exactly
 * its burst and never before its arrival, first run and finish where its
 * slices say, and the CPU idle only while no unfinished job has arrived.
 * Non-preemptive algorithms never split a job. The text and SVG reports
 * are written to memory streams.
 *
 * Built (fuzz/CMakeLists.txt) with src/sched/sched.c and render.c.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/sched/sched.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int cond, const char *what)
{
    if (!cond) {
        fprintf(stderr, "fuzz_sched_input: broken: %s\n", what);
        abort();
    }
}

static void check_jobs(const sched_joblist *jl)
{
    size_t i, k;

    check(jl->n <= SCHED_MAX_JOBS, "too many jobs");
    for (i = 0; i < jl->n; i++) {
        const sched_job *j = &jl->jobs[i];
        size_t len = strlen(j->name);

        check(len >= 1 && len <= SCHED_NAME_MAX, "name length");
        for (k = 0; k < len; k++) {
            char c = j->name[k];

            check((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                      (c >= '0' && c <= '9') || c == '_' || c == '.' ||
                      c == '-',
                  "name character");
        }
        check(j->arrival >= 0 && j->arrival <= SCHED_MAX_TIME, "arrival");
        check(j->burst >= 1 && j->burst <= SCHED_MAX_TIME, "burst");
        check(j->priority >= -SCHED_MAX_TIME && j->priority <= SCHED_MAX_TIME,
              "priority");
        check(j->has_priority || j->priority == 0, "default priority");
        for (k = 0; k < i; k++)
            check(strcmp(jl->jobs[k].name, j->name) != 0, "unique names");
    }
}

static void check_schedule(const sched_joblist *jl, const sched_result *r,
                           const sched_params *p)
{
    int64_t *ran = calloc(jl->n, sizeof *ran);
    int64_t *first = calloc(jl->n, sizeof *first);
    int64_t *last = calloc(jl->n, sizeof *last);
    int64_t t = 0;
    size_t i, k;

    check(ran && first && last, "memory");
    for (k = 0; k < jl->n; k++)
        first[k] = -1;
    for (i = 0; i < r->nslices; i++) {
        const sched_slice *s = &r->slices[i];

        check(s->start == t && s->end > s->start, "slices back to back");
        if (s->job < 0) {
            /* Idle: no unfinished job has arrived, and one arrives at
             * the end of the gap. */
            int arrives = 0;

            for (k = 0; k < jl->n; k++) {
                check(jl->jobs[k].arrival > s->start ||
                          r->finish[k] <= s->start,
                      "idle while a job waits");
                arrives |= jl->jobs[k].arrival == s->end;
            }
            check(arrives, "idle gap ends at an arrival");
        } else {
            const sched_job *j = &jl->jobs[s->job];

            check((size_t)s->job < jl->n, "job index");
            check(s->start >= j->arrival, "runs before its arrival");
            check(s->level >= 0 && s->level < p->levels, "level");
            check(r->alg == SCHED_MLFQ || s->level == 0, "level outside MLFQ");
            if (first[s->job] < 0)
                first[s->job] = s->start;
            ran[s->job] += s->end - s->start;
            last[s->job] = s->end;
        }
        t = s->end;
    }
    for (k = 0; k < jl->n; k++) {
        check(ran[k] == jl->jobs[k].burst, "ran exactly its burst");
        check(first[k] == r->first_run[k], "first run");
        check(last[k] == r->finish[k], "finish");
        /* Non-preemptive: once started, a job runs to its end. */
        if (r->alg == SCHED_FCFS || r->alg == SCHED_SJF || r->alg == SCHED_PRIO)
            check(first[k] + jl->jobs[k].burst == last[k], "not preempted");
    }
    free(ran);
    free(first);
    free(last);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[SCHED_ERR_LEN];
    sched_joblist jl;
    sched_params p;
    int64_t work = 0, latest = 0;
    size_t i;
    int rc, a;

    sched_joblist_init(&jl);
    err[0] = '\0';
    rc = sched_parse(&jl, (const char *)data, size, err, sizeof err);
    check(rc == 0 || err[0] != '\0', "an error comes with a message");
    check(strlen(err) < sizeof err, "message bounded");
    check_jobs(&jl);
    if (rc < 0 || jl.n == 0)
        goto out;

    /* Simulate only what runs fast: round robin costs one slice per
     * quantum, and SJF-like picks scan every job. */
    for (i = 0; i < jl.n; i++) {
        work += jl.jobs[i].burst;
        if (jl.jobs[i].arrival > latest)
            latest = jl.jobs[i].arrival;
    }
    if (jl.n > 200 || work > 20000)
        goto out;
    sched_params_default(&p);
    p.quantum = 1 + (int64_t)(size % 5);
    p.levels = 1 + (int)(size % 4);
    for (i = 0; i < (size_t)p.levels; i++)
        p.quanta[i] = p.quantum << i;
    if (size % 3 == 0)
        p.quanta[p.levels - 1] = 0; /* an FCFS last level */
    check(sched_params_check(&p, NULL, 0) == 0, "parameters");
    for (a = 0; a < SCHED_NALGS; a++) {
        sched_result r;
        sched_stats st;
        char *buf = NULL;
        size_t len = 0;
        FILE *f;

        rc = sched_run((sched_alg)a, &p, &jl, &r);
        check(rc == 0, "a small list always simulates");
        check_schedule(&jl, &r, &p);
        check(r.slices[r.nslices - 1].end <= latest + work, "makespan");
        check(sched_stats_compute(&jl, &r, &st) == 0, "stats");
        for (i = 0; i < jl.n; i++)
            check(st.waiting[i] >= 0 && st.response[i] >= 0 &&
                      st.response[i] <= st.waiting[i],
                  "times");
        f = open_memstream(&buf, &len);
        check(f != NULL, "memstream");
        sched_print_gantt(f, &jl, &r, 20 + (int)(size % 80));
        sched_print_table(f, &jl, &r, &st);
        check(sched_write_svg(f, &jl, &r, 1, &p) == 0, "svg");
        fclose(f);
        free(buf);
        sched_stats_free(&st);
        sched_result_free(&r);
    }
out:
    sched_joblist_free(&jl);
    return 0;
}

#ifndef WEFT_LIBFUZZER
/* Replay: each argument is one input file (as fuzz_frame does). */
int main(int argc, char **argv)
{
    static uint8_t data[100000];
    int n = 0;

    for (int i = 1; i < argc; i++) {
        FILE *f = fopen(argv[i], "rb");
        size_t len;

        if (f == NULL) {
            fprintf(stderr, "fuzz_sched_input: cannot open %s\n", argv[i]);
            return 1;
        }
        len = fread(data, 1, sizeof data, f);
        fclose(f);
        LLVMFuzzerTestOneInput(data, len);
        n++;
    }
    printf("fuzz_sched_input: replayed %d inputs\n", n);
    return n > 0 ? 0 : 1;
}
#endif
