/* version.c - the version of the loaded library. */
#include <weft/core.h>

const char *weft_version(void)
{
    return WEFT_VERSION_STRING;
}

unsigned weft_version_hex(void)
{
    return WEFT_VERSION_HEX;
}
