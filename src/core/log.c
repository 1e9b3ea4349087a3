/* log.c - the optional log callback: the library prints nothing itself. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

#include "core/log_int.h"

/* The callback and its data change together under the lock; the level is
 * also kept atomically so that the common "nobody listens" case is a single
 * load with no lock. */
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static weft_log_fn log_fn;
static void *log_userdata;
static atomic_int log_min = 1000; /* above every level: off */

void weft_log_set(weft_log_fn fn, void *userdata, int min_level)
{
    pthread_mutex_lock(&log_lock);
    log_fn = fn;
    log_userdata = userdata;
    atomic_store(&log_min, fn ? min_level : 1000);
    pthread_mutex_unlock(&log_lock);
}

const char *weft_log_level_name(int level)
{
    switch (level) {
    case WEFT_LOG_DEBUG:
        return "debug";
    case WEFT_LOG_INFO:
        return "info";
    case WEFT_LOG_WARN:
        return "warn";
    case WEFT_LOG_ERROR:
        return "error";
    default:
        return "?";
    }
}

void weft__log(int level, const char *fmt, ...)
{
    char msg[512];
    weft_log_fn fn;
    void *ud;
    va_list ap;

    if (level < atomic_load_explicit(&log_min, memory_order_relaxed))
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&log_lock);
    fn = log_fn;
    ud = log_userdata;
    pthread_mutex_unlock(&log_lock);
    if (fn)
        fn(level, msg, ud);
}
