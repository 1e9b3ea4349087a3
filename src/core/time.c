/* time.c - the monotonic clock and deadlines behind every timeout. */
#include <errno.h>
#include <time.h>

#include <weft/core.h>

int64_t weft_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t weft_now_ms(void)
{
    return weft_now_ns() / 1000000;
}

weft_deadline weft_deadline_in(int timeout_ms)
{
    if (timeout_ms < 0)
        return WEFT_DEADLINE_NEVER;
    return weft_now_ns() + (int64_t)timeout_ms * 1000000;
}

int weft_deadline_remaining_ms(weft_deadline d)
{
    int64_t left;

    if (d == WEFT_DEADLINE_NEVER)
        return -1;
    left = d - weft_now_ns();
    if (left <= 0)
        return 0;
    /* Round up: a poll() that wakes a little late is fine, one that wakes
     * early just loops once more for nothing. */
    left = (left + 999999) / 1000000;
    return left > 0x7fffffff ? 0x7fffffff : (int)left;
}

bool weft_deadline_expired(weft_deadline d)
{
    return d != WEFT_DEADLINE_NEVER && weft_now_ns() >= d;
}

int weft_sleep_ms(int ms)
{
    struct timespec until;
    int64_t at;

    if (ms < 0)
        return -EINVAL;
    /* An absolute wake-up time makes EINTR restarts exact. */
    at = weft_now_ns() + (int64_t)ms * 1000000;
    until.tv_sec = at / 1000000000;
    until.tv_nsec = at % 1000000000;
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL) ==
           EINTR)
        ;
    return 0;
}
