/* log_int.h - the library's private logging entry point. Modules call
 * weft__log(); it costs one relaxed load when no callback is set. */
#ifndef WEFT_LOG_INT_H
#define WEFT_LOG_INT_H

#include <weft/core.h>

void weft__log(int level, const char *fmt, ...) WEFT_PRINTF(2, 3);

#endif
