/* sanitizer_int.h - what weft needs to know about the sanitizers it is
 * built with. WEFT__TSAN is 1 under ThreadSanitizer. */
#ifndef WEFT_SANITIZER_INT_H
#define WEFT_SANITIZER_INT_H

#if defined(__SANITIZE_THREAD__)
#define WEFT__TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define WEFT__TSAN 1
#endif
#endif
#ifndef WEFT__TSAN
#define WEFT__TSAN 0
#endif

#endif
