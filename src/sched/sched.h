/* sched.h - the CPU-scheduling simulator behind weft-sched: the job-list
 * parser, the scheduling algorithms and the reports.
 *
 * Model
 *   A job has a name, an arrival time, a CPU burst and an optional
 *   priority (lower number = more important, as in Silberschatz). Times
 *   are whole time units. sched_run() simulates one algorithm on one CPU
 *   and returns the Gantt chart as a list of slices (who ran from when to
 *   when; job -1 is the idle CPU) plus each job's first start and finish,
 *   from which the waiting, turnaround and response times follow.
 *
 *   Everything here is single-threaded, allocates with malloc and frees
 *   with the matching *_free; nothing prints except the sched_print_* and
 *   sched_write_svg functions, which write to the FILE they are given.
 *
 * Tie-breaking (docs/weft-sched.md says the same)
 *   - Jobs arriving at the same time enter the ready queue in input order.
 *   - At any instant, arrivals are admitted before the job that just used
 *     up its quantum or was preempted goes back to a queue, so a newcomer
 *     queues ahead of it (the textbook round-robin convention).
 *   - FCFS: earliest arrival, then input order.
 *   - SJF / SRTF: shortest burst (remaining time for SRTF), then earliest
 *     arrival, then input order. SRTF preempts only for a strictly shorter
 *     remaining time: on a tie the running job keeps the CPU.
 *   - Priority / preemptive priority: lowest number, then earliest
 *     arrival, then input order; preemption only for a strictly better
 *     priority. A job without a priority counts as priority 0.
 *   - MLFQ: see sched_run().
 */
#ifndef WEFT_SCHED_H
#define WEFT_SCHED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define SCHED_NAME_MAX   16           /* bytes of a job name, without the NUL */
#define SCHED_MAX_JOBS   1000         /* jobs in one list */
#define SCHED_MAX_TIME   1000000000LL /* largest arrival, burst, |prio| */
#define SCHED_MAX_LEVELS 8            /* MLFQ queues */
#define SCHED_MAX_SLICES 1000000      /* Gantt slices before -E2BIG */
#define SCHED_ERR_LEN    160          /* size of an error message buffer */

typedef struct sched_job {
    char name[SCHED_NAME_MAX + 1];
    int64_t arrival;   /* >= 0 */
    int64_t burst;     /* >= 1 */
    int64_t priority;  /* 0 when not given */
    bool has_priority; /* the input gave one */
} sched_job;

typedef struct sched_joblist {
    sched_job *jobs; /* in input order */
    size_t n;
    size_t cap;
} sched_joblist;

typedef enum sched_alg {
    SCHED_FCFS,  /* first come, first served */
    SCHED_SJF,   /* shortest job first, non-preemptive */
    SCHED_SRTF,  /* shortest remaining time first (preemptive SJF) */
    SCHED_RR,    /* round robin with a quantum */
    SCHED_PRIO,  /* priority, non-preemptive */
    SCHED_PPRIO, /* priority, preemptive */
    SCHED_MLFQ,  /* multi-level feedback queue */
    SCHED_NALGS
} sched_alg;

typedef struct sched_params {
    int64_t quantum;                  /* RR; >= 1 */
    int levels;                       /* MLFQ queues, 1..SCHED_MAX_LEVELS */
    int64_t quanta[SCHED_MAX_LEVELS]; /* MLFQ quantum per level; 0 = run to
                                       * completion (last level only) */
} sched_params;

typedef struct sched_slice {
    int job;       /* index into the job list; -1: the CPU is idle */
    int level;     /* MLFQ queue the job ran from; 0 otherwise */
    int64_t start; /* the slice is [start, end) */
    int64_t end;
} sched_slice;

typedef struct sched_result {
    sched_alg alg;
    sched_slice *slices;
    size_t nslices;
    int64_t *first_run; /* per job: when it first got the CPU */
    int64_t *finish;    /* per job: when its burst was done */
    size_t njobs;
} sched_result;

/* Per-job times and their averages, from a result. */
typedef struct sched_stats {
    int64_t *waiting;    /* turnaround - burst */
    int64_t *turnaround; /* finish - arrival */
    int64_t *response;   /* first run - arrival */
    double avg_waiting, avg_turnaround, avg_response;
} sched_stats;

/* ---- job lists ------------------------------------------------------- */

void sched_joblist_init(sched_joblist *jl);
void sched_joblist_free(sched_joblist *jl);

/* Parse a job list: lines "NAME ARRIVAL BURST [PRIORITY]", fields split by
 * spaces or tabs, '#' starts a comment, blank lines are skipped. NAME is
 * 1..SCHED_NAME_MAX of [A-Za-z0-9_.-] and unique; ARRIVAL 0..MAX_TIME;
 * BURST 1..MAX_TIME; PRIORITY -MAX_TIME..MAX_TIME. text need not end in a
 * NUL. Appends to jl. 0, or -EINVAL with err ("line N: what") filled;
 * -E2BIG past SCHED_MAX_JOBS; -ENOMEM. An empty list is not an error here
 * (the caller decides). */
int sched_parse(sched_joblist *jl, const char *text, size_t len, char *err,
                size_t errlen);

/* Parse one job given as "NAME,ARRIVAL,BURST[,PRIORITY]" (the --job form)
 * and append it. Errors as sched_parse, err without a line number. */
int sched_parse_spec(sched_joblist *jl, const char *spec, char *err,
                     size_t errlen);

/* ---- algorithms ------------------------------------------------------ */

/* "fcfs", "sjf", ... -> the algorithm, or -1. */
int sched_alg_parse(const char *name);
const char *sched_alg_name(sched_alg alg);  /* "fcfs" */
const char *sched_alg_title(sched_alg alg); /* "First come, first served" */

/* The default parameters: quantum 4, 3 MLFQ levels of 4, 8, 16. */
void sched_params_default(sched_params *p);

/* Check parameters: 0 or -EINVAL with err filled. */
int sched_params_check(const sched_params *p, char *err, size_t errlen);

/* Simulate alg on the jobs. Multi-level feedback queue: p->levels queues,
 * level 0 the highest, level i with quantum p->quanta[i]. A job arrives at
 * the tail of level 0. The CPU runs the head of the highest non-empty
 * queue; a lower queue runs only when all higher ones are empty. A job
 * that uses its whole quantum drops one level (the lowest level keeps
 * it) and goes to that queue's tail; one that finishes early leaves. A
 * new arrival (always at level 0) preempts a job running from a lower
 * level at once: that job goes back to the tail of its own queue, and
 * next time starts a fresh quantum. A quantum of 0 (allowed on the last
 * level) means run to completion there (FCFS).
 * 0 with *out filled (free with sched_result_free); -EINVAL for bad
 * parameters or an empty list; -E2BIG past SCHED_MAX_SLICES slices;
 * -ENOMEM. */
int sched_run(sched_alg alg, const sched_params *p, const sched_joblist *jl,
              sched_result *out);
void sched_result_free(sched_result *r);

/* 0, or -ENOMEM. Free with sched_stats_free. */
int sched_stats_compute(const sched_joblist *jl, const sched_result *r,
                        sched_stats *st);
void sched_stats_free(sched_stats *st);

/* ---- reports (render.c) ---------------------------------------------- */

/* The Gantt chart as text, wrapped at width columns (>= 20). */
void sched_print_gantt(FILE *f, const sched_joblist *jl, const sched_result *r,
                       int width);
/* The per-job table with averages. */
void sched_print_table(FILE *f, const sched_joblist *jl, const sched_result *r,
                       const sched_stats *st);
/* A standalone SVG image with one Gantt chart per result. 0 or -EIO. */
int sched_write_svg(FILE *f, const sched_joblist *jl, const sched_result *rs,
                    size_t n, const sched_params *p);

#endif
