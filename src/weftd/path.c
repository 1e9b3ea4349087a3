/* path.c - the check every client path passes before weftd touches the
 * file system (docs/PROTOCOL.md, "Paths"; docs/SECURITY.md).
 *
 * The check is lexical and strict; it is not what keeps paths inside the
 * library (fs.c does that, with openat2 RESOLVE_BENEATH from the
 * library's descriptor, which also catches symlinks), but it refuses
 * early and with one clear code everything a well-meaning client never
 * sends: "..", ".", empty components, absolute paths, NUL bytes, invalid
 * UTF-8, over-long names, and weftd's own ".weft*" names.
 *
 * Pure code with no state: fuzz/fuzz_weftd_path.c drives it.
 */
#include <errno.h>
#include <string.h>

#include "weftd.h"

int weftd_utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;

    while (i < len) {
        unsigned c = p[i];
        size_t n;
        unsigned cp, min;

        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            n = 1, cp = c & 0x1f, min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            n = 2, cp = c & 0x0f, min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            n = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return 0;
        }
        if (len - i <= n)
            return 0;
        for (size_t k = 1; k <= n; k++) {
            if ((p[i + k] & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | (p[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += n + 1;
    }
    return 1;
}

/* One component c[0..n): not empty, not "." or "..", not too long, not
 * weftd's own. */
static int component_ok(const char *c, size_t n)
{
    if (n == 0 || n > WEFTD_MAX_NAME)
        return 0;
    if ((n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
        return 0;
    if (n >= 5 && memcmp(c, ".weft", 5) == 0)
        return 0;
    return 1;
}

int weftd_path_check(const char *p, size_t len)
{
    if (p == NULL)
        return -EINVAL;
    if (len == 0)
        return 0; /* the library itself */
    if (len > WEFTD_MAX_PATH || memchr(p, '\0', len) != NULL ||
        !weftd_utf8_valid(p, len))
        return -EINVAL;
    /* An absolute path has an empty first component. */
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || p[i] == '/') {
            if (!component_ok(p + start, i - start))
                return -EINVAL;
            start = i + 1;
        }
    }
    return 0;
}

const char *weftd_path_base(const char *p)
{
    const char *slash = strrchr(p, '/');
    return slash != NULL ? slash + 1 : p;
}
