/* error.c - names and messages for every code weft returns.
 *
 * errno values are described by glibc (strerrordesc_np and strerrorname_np,
 * which unlike strerror() are thread-safe and never format into a shared
 * buffer); weft's own codes come from WEFT_ERRNO_MAP in core.h.
 */
#include <string.h>

#include <weft/core.h>

const char *weft_strerror(int code)
{
    const char *s;

    if (code >= 0)
        return "success";
    switch (code) {
#define WEFT__ERR_MSG(name, value, msg)                                        \
    case value:                                                                \
        return msg;
        WEFT_ERRNO_MAP(WEFT__ERR_MSG)
#undef WEFT__ERR_MSG
    default:
        break;
    }
    if (code < -4095)
        return "unknown error";
    s = strerrordesc_np(-code);
    return s ? s : "unknown error";
}

const char *weft_err_name(int code)
{
    const char *s;

    if (code >= 0)
        return "OK";
    switch (code) {
#define WEFT__ERR_NAME(name, value, msg)                                       \
    case value:                                                                \
        return "WEFT_" #name;
        WEFT_ERRNO_MAP(WEFT__ERR_NAME)
#undef WEFT__ERR_NAME
    default:
        break;
    }
    if (code < -4095)
        return "UNKNOWN";
    s = strerrorname_np(-code);
    return s ? s : "UNKNOWN";
}
