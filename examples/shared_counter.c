/* shared_counter.c - 100 processes decrement one shared number.
 *
 * Each of 100 processes takes 1 from a shared Value and from the "count"
 * entry of a shared dict, ten times. Starting from 1000, both must end at
 * 0. `count = count - 1` is a read, a computation and a write: two
 * processes that read the same value both write back the same result, and
 * one decrement is lost.
 *
 *   --lock     (default) the Value's read-modify-write runs under its
 *              built-in lock, and the dict's under weft_dict_add_i64: exact;
 *   --no-lock  plain reads and writes: usually far from 0.
 *
 * Run: ./build/examples/shared_counter [--no-lock]
 */
#include <sched.h>
#include <stdio.h>
#include <string.h>

#include <weft/weft.h>

enum { PROCS = 100, TIMES = 10 };

static weft_value *value;
static weft_dict *dict;
static int use_lock = 1;

static int decrement(void *arg)
{
    int64_t v;
    int i;

    (void)arg;
    for (i = 0; i < TIMES; i++) {
        if (use_lock) {
            WEFT_WITH_LOCK(weft_value_lock(value))
            {
                weft_value_get_i64(value, &v);
                weft_value_set_i64(value, v - 1);
            }
            weft_dict_add_i64(dict, "count", -1, NULL);
        } else {
            weft_value_get_i64(value, &v);
            sched_yield(); /* another process gets in between */
            weft_value_set_i64(value, v - 1);
            weft_dict_get(dict, "count", &v, sizeof v, NULL);
            sched_yield();
            v -= 1;
            weft_dict_set(dict, "count", &v, sizeof v);
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    weft_process *p[PROCS];
    int64_t start = PROCS * TIMES, v, d;
    int i;

    if (argc > 1 && strcmp(argv[1], "--no-lock") == 0)
        use_lock = 0;
    if (weft_value_create(&value, WEFT_SHARED, WEFT_INT64, 0, true) < 0 ||
        weft_dict_create(&dict, WEFT_SHARED, 16, 32, 64) < 0)
        return 1;
    weft_value_set_i64(value, start);
    weft_dict_set(dict, "count", &start, sizeof start);
    printf("%d processes x %d decrements from %lld, %s\n", PROCS, TIMES,
           (long long)start, use_lock ? "with the lock" : "without a lock");
    for (i = 0; i < PROCS; i++) {
        weft_process_create(&p[i], decrement, NULL, NULL);
        weft_process_start(p[i]);
    }
    for (i = 0; i < PROCS; i++) {
        weft_process_join(p[i], -1);
        weft_process_destroy(p[i]);
    }
    weft_value_get_i64(value, &v);
    weft_dict_get(dict, "count", &d, sizeof d, NULL);
    printf("shared value: %lld   shared dict[\"count\"]: %lld   (exact: 0)\n",
           (long long)v, (long long)d);
    weft_value_destroy(value);
    weft_dict_destroy(dict);
    return 0;
}
