/* weft/core.h - what every weft module shares: errors, time and deadlines,
 * a growable byte buffer, and the optional log callback.
 *
 * Model
 *   Every weft function that can fail returns an int: 0 (or a non-negative
 *   count) on success, a negative errno value on failure (-ETIMEDOUT,
 *   -EAGAIN, -EINVAL, ...), or one of the weft codes below, which lie in
 *   their own range (-1000 .. -1999) so they never collide with errno.
 *   weft_strerror() names every code. There is no global error state, the
 *   library prints nothing and never calls exit() or abort() on bad input.
 *
 *   Timeouts follow Python's block/timeout pair everywhere:
 *     timeout_ms < 0   wait forever
 *     timeout_ms == 0  do not wait (the _nowait forms): -EAGAIN if not ready
 *     timeout_ms > 0   wait at most that long: -ETIMEDOUT on expiry
 *   Inside, waits run against deadlines on the monotonic clock, so a change
 *   of wall-clock time never shortens or stretches them.
 *
 * Threads and fork
 *   Everything here is safe to call from any thread. weft_buf objects are
 *   plain memory: one thread at a time, and a forked child gets a copy.
 */
#ifndef WEFT_CORE_H
#define WEFT_CORE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <weft/version.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Marks the exported API; everything else in libweft is hidden. */
#define WEFT_API __attribute__((visibility("default")))

#if defined(__GNUC__)
#define WEFT_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define WEFT_PRINTF(f, a)
#endif

/* ---- Version ------------------------------------------------------------ */

/* The version of the loaded library, "MAJOR.MINOR.PATCH". Never fails. */
WEFT_API const char *weft_version(void);
/* The same as WEFT_VERSION_HEX of the loaded library. */
WEFT_API unsigned weft_version_hex(void);

/* ---- Errors ------------------------------------------------------------- */

/* weft's own codes: name, value, message. Values are never renumbered or
 * reused; new codes are added at the end of the table. */
#define WEFT_ERRNO_MAP(XX)                                                     \
    XX(ENOTSTARTED, -1001, "not started yet")                                  \
    XX(ESTARTED, -1002, "already started")                                     \
    XX(ERUNNING, -1003, "still running")                                       \
    XX(ENOSTATUS, -1004,                                                       \
       "exit status lost (child reaped elsewhere or SIGCHLD ignored)")         \
    XX(ENOFORKSERVER, -1005, "fork server not started or gone")                \
    XX(ECLOSED, -1006, "closed by the other side")                             \
    XX(EWORKERDIED, -1007, "worker died")                                      \
    XX(EBROKEN, -1008,                                                         \
       "broken (a barrier timed out or was aborted; a pool's initializer "     \
       "failed)")                                                              \
    XX(EHDRLEN, -1009, "frame header length zero or over the limit")           \
    XX(EHDRJSON, -1010, "frame header is not a JSON object")                   \
    XX(EBODYSIZE, -1011,                                                       \
       "frame file_size is not a whole number within the limit")               \
    XX(ETRUNCATED, -1012, "frame cut short: the peer closed mid-frame")

enum {
    WEFT_ERR_FIRST = -1999, /* lowest value in weft's own range */
    WEFT_ERR_LAST = -1000,  /* highest value in weft's own range */
#define WEFT__ERR_ENUM(name, value, msg) WEFT_##name = (value),
    WEFT_ERRNO_MAP(WEFT__ERR_ENUM)
#undef WEFT__ERR_ENUM
};

/* A human-readable message for any code a weft function returns: a negative
 * errno value, a WEFT_E* code, or 0 ("success"). Unknown codes give
 * "unknown error". The string is static; never NULL; thread-safe. */
WEFT_API const char *weft_strerror(int code);
/* The symbolic name of a code: "ETIMEDOUT", "WEFT_ECLOSED", "OK", or
 * "UNKNOWN". Static string, never NULL. */
WEFT_API const char *weft_err_name(int code);

/* ---- Time and deadlines ------------------------------------------------- */

/* Nanoseconds / milliseconds on CLOCK_MONOTONIC (arbitrary origin). */
WEFT_API int64_t weft_now_ns(void);
WEFT_API int64_t weft_now_ms(void);

/* A deadline is an absolute time in nanoseconds on CLOCK_MONOTONIC. */
typedef int64_t weft_deadline;
#define WEFT_DEADLINE_NEVER INT64_MAX

/* The deadline timeout_ms from now, with the timeout convention:
 * < 0 gives WEFT_DEADLINE_NEVER, 0 gives "now" (already expired). */
WEFT_API weft_deadline weft_deadline_in(int timeout_ms);
/* What is left of a deadline, as a timeout: -1 for never, 0 if expired,
 * otherwise milliseconds rounded up (so a poll() never wakes too early). */
WEFT_API int weft_deadline_remaining_ms(weft_deadline d);
/* True if the deadline has passed. */
WEFT_API bool weft_deadline_expired(weft_deadline d);
/* Sleep for ms milliseconds, resuming after signal interruptions.
 * Returns 0, or -EINVAL for ms < 0. */
WEFT_API int weft_sleep_ms(int ms);

/* ---- Growable byte buffer ----------------------------------------------- */

/* A byte buffer that grows on demand up to a cap. Fields are readable:
 * data[0..len) holds the bytes and data[len] is always a NUL (when data is
 * not NULL), so text can be used as a C string. The buffer owns data; free
 * it with weft_buf_free(), or take it with weft_buf_detach(). */
typedef struct weft_buf {
    char *data; /* read-only for callers; NULL until first growth */
    size_t len; /* bytes in use */
    size_t cap; /* bytes allocated, excluding the NUL slot */
    size_t max; /* growth beyond this many bytes fails with -EMSGSIZE */
} weft_buf;

/* Static initializer: an empty buffer with no cap beyond memory. */
#define WEFT_BUF_INIT                                                          \
    {                                                                          \
        NULL, 0, 0, SIZE_MAX / 2                                               \
    }

/* Make b empty with cap max (0 means no cap beyond memory). Allocates
 * nothing. */
WEFT_API void weft_buf_init(weft_buf *b, size_t max);
/* Ensure room for n more bytes. 0, -ENOMEM, or -EMSGSIZE (over the cap). On
 * failure the buffer is unchanged. */
WEFT_API int weft_buf_reserve(weft_buf *b, size_t n);
/* Append n bytes. Errors as weft_buf_reserve; on failure unchanged. */
WEFT_API int weft_buf_append(weft_buf *b, const void *p, size_t n);
/* Append a NUL-terminated string (without its NUL). */
WEFT_API int weft_buf_append_str(weft_buf *b, const char *s);
/* Append printf-style formatted text. Errors as weft_buf_reserve, or
 * -EINVAL for a bad format. */
WEFT_API int weft_buf_appendf(weft_buf *b, const char *fmt, ...)
    WEFT_PRINTF(2, 3);
WEFT_API int weft_buf_vappendf(weft_buf *b, const char *fmt, va_list ap)
    WEFT_PRINTF(2, 0);
/* Remove the first n bytes (all of them if n >= len). */
WEFT_API void weft_buf_consume(weft_buf *b, size_t n);
/* Make the buffer empty, keeping its memory. */
WEFT_API void weft_buf_reset(weft_buf *b);
/* Release the memory; the buffer is empty and reusable afterwards. */
WEFT_API void weft_buf_free(weft_buf *b);
/* Hand the bytes to the caller (free() them) and empty the buffer. *len is
 * set when len is not NULL. Returns NULL for a buffer that never grew. */
WEFT_API char *weft_buf_detach(weft_buf *b, size_t *len);

/* ---- Logging ------------------------------------------------------------- */

enum weft_log_level {
    WEFT_LOG_DEBUG = 0,
    WEFT_LOG_INFO = 1,
    WEFT_LOG_WARN = 2,
    WEFT_LOG_ERROR = 3
};

/* Receives one log message (no trailing newline). It may be called from any
 * thread, including weft's own helper threads; it must not call back into
 * weft_log_set(). */
typedef void (*weft_log_fn)(int level, const char *msg, void *userdata);

/* Route the library's log messages at or above min_level to fn. With fn NULL
 * (the default) the library logs nothing. Thread-safe. */
WEFT_API void weft_log_set(weft_log_fn fn, void *userdata, int min_level);
/* "debug", "info", "warn", "error", or "?" */
WEFT_API const char *weft_log_level_name(int level);

#ifdef __cplusplus
}
#endif
#endif
