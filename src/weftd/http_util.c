/* http_util.c - small pure helpers for weftd's HTTP answers: dates (RFC
 * 9110 section 5.6.7), percent-decoding and -encoding (RFC 3986), HTML
 * escaping for the folder listing, Content-Type by extension, ETags and
 * conditional requests (RFC 9110 section 8.8.3, 13.1.2, 13.2.2).
 *
 * Dates are converted by arithmetic, not by timegm() or the C locale, so
 * the result never depends on the process's TZ or LC_TIME.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "http.h"

/* ---- dates ----------------------------------------------------------- */

static const char wkday[7][4] = {"Sun", "Mon", "Tue", "Wed",
                                 "Thu", "Fri", "Sat"};
static const char *const weekday[7] = {"Sunday",    "Monday",   "Tuesday",
                                       "Wednesday", "Thursday", "Friday",
                                       "Saturday"};
static const char month[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * days_from_civil); m is 1..12. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* The inverse: a day count to year, month (1..12), day. */
static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

size_t http_date_format(time_t t, char out[HTTP_DATE_LEN + 1])
{
    int64_t s = (int64_t)t;
    /* Years 0..9999 only: an IMF-fixdate has four digits (and the
     * arithmetic below stays far from overflow). */
    if (s < -62167219200LL || s > 253402300799LL)
        return 0;
    int64_t days = s >= 0 ? s / 86400 : -((-s + 86399) / 86400);
    int64_t sec = s - days * 86400;
    int64_t y;
    int m, d;
    civil_from_days(days, &y, &m, &d);
    int wd = (int)(((days % 7) + 11) % 7); /* 1970-01-01 was a Thursday */
    /* "Sun, 06 Nov 1994 08:49:37 GMT", digit by digit: every field is in
     * range here, and no format can truncate. */
    static const char tmpl[] = "www, dd mmm yyyy hh:mm:ss GMT";
    memcpy(out, tmpl, sizeof tmpl);
    memcpy(out, wkday[wd], 3);
    memcpy(out + 8, month[m - 1], 3);
    const int f[][3] = {{5, 2, d},
                        {12, 4, (int)y},
                        {17, 2, (int)(sec / 3600)},
                        {20, 2, (int)(sec / 60 % 60)},
                        {23, 2, (int)(sec % 60)}};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        for (int k = f[i][1] - 1, v = f[i][2]; k >= 0; k--, v /= 10)
            out[f[i][0] + k] = (char)('0' + v % 10);
    return HTTP_DATE_LEN;
}

/* n decimal digits at s, into *v. */
static bool digits(const char *s, size_t n, int *v)
{
    *v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        *v = *v * 10 + (s[i] - '0');
    }
    return true;
}

/* A month name at s: true and *m (1..12). */
static bool month_of(const char *s, int *m)
{
    for (int i = 0; i < 12; i++) {
        if (memcmp(s, month[i], 3) == 0) {
            *m = i + 1;
            return true;
        }
    }
    return false;
}

static bool wkday_ok(const char *s)
{
    for (int i = 0; i < 7; i++)
        if (memcmp(s, wkday[i], 3) == 0)
            return true;
    return false;
}

/* "HH:MM:SS" at s. */
static bool time_of_day(const char *s, int *h, int *mi, int *se)
{
    return digits(s, 2, h) && s[2] == ':' && digits(s + 3, 2, mi) &&
           s[5] == ':' && digits(s + 6, 2, se);
}

static bool leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* A valid date and time to seconds since the epoch. */
static int to_time(int y, int m, int d, int h, int mi, int se, time_t *t)
{
    static const int mdays[12] = {31, 28, 31, 30, 31, 30,
                                  31, 31, 30, 31, 30, 31};
    if (m < 1 || m > 12 || d < 1 || d > mdays[m - 1] + (m == 2 && leap(y)) ||
        h > 23 || mi > 59 ||
        se > 60) /* 60: a leap second, read as the next one */
        return -1;
    int64_t s = days_from_civil(y, m, d) * 86400 + h * 3600 + mi * 60 + se;
    *t = (time_t)s;
    return 0;
}

int http_date_parse(const char *s, size_t len, time_t *t)
{
    int y, m, d, h, mi, se;
    /* IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT" */
    if (len == 29 && wkday_ok(s) && memcmp(s + 3, ", ", 2) == 0 &&
        digits(s + 5, 2, &d) && s[7] == ' ' && month_of(s + 8, &m) &&
        s[11] == ' ' && digits(s + 12, 4, &y) && s[16] == ' ' &&
        time_of_day(s + 17, &h, &mi, &se) && memcmp(s + 25, " GMT", 4) == 0)
        return to_time(y, m, d, h, mi, se, t);
    /* asctime: "Sun Nov  6 08:49:37 1994" */
    if (len == 24 && wkday_ok(s) && s[3] == ' ' && month_of(s + 4, &m) &&
        s[7] == ' ' &&
        (s[8] == ' ' ? digits(s + 9, 1, &d) : digits(s + 8, 2, &d)) &&
        s[10] == ' ' && time_of_day(s + 11, &h, &mi, &se) && s[19] == ' ' &&
        digits(s + 20, 4, &y))
        return to_time(y, m, d, h, mi, se, t);
    /* RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT" */
    for (int i = 0; i < 7; i++) {
        size_t w = strlen(weekday[i]);
        if (len != w + 24 || memcmp(s, weekday[i], w) != 0)
            continue;
        const char *p = s + w;
        if (memcmp(p, ", ", 2) == 0 && digits(p + 2, 2, &d) && p[4] == '-' &&
            month_of(p + 5, &m) && p[8] == '-' && digits(p + 9, 2, &y) &&
            p[11] == ' ' && time_of_day(p + 12, &h, &mi, &se) &&
            memcmp(p + 20, " GMT", 4) == 0)
            return to_time(y < 70 ? 2000 + y : 1900 + y, m, d, h, mi, se, t);
    }
    return -1;
}

/* ---- percent-encoding, HTML ----------------------------------------- */

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

ssize_t http_pct_decode(const char *in, size_t n, char *out, size_t cap,
                        bool plus_space)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = in[i];
        if (c == '%') {
            int hi = i + 2 < n ? hexval((unsigned char)in[i + 1]) : -1;
            int lo = i + 2 < n ? hexval((unsigned char)in[i + 2]) : -1;
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
                return -1;
            c = (char)(hi * 16 + lo);
            i += 2;
        } else if (c == '+' && plus_space) {
            c = ' ';
        } else if (c == '\0') {
            return -1;
        }
        if (o + 1 >= cap)
            return -1;
        out[o++] = c;
    }
    if (cap == 0)
        return -1;
    out[o] = '\0';
    return (ssize_t)o;
}

/* Append s[0..n) to out[*o..cap), counting what does not fit. */
static void put(char *out, size_t cap, size_t *o, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++, (*o)++)
        if (*o + 1 < cap)
            out[*o] = s[i];
}

static size_t done(char *out, size_t cap, size_t o)
{
    if (cap > 0)
        out[o < cap ? o : cap - 1] = '\0';
    return o;
}

size_t http_html_escape(const char *in, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        switch (in[i]) {
        case '&':
            put(out, cap, &o, "&amp;", 5);
            break;
        case '<':
            put(out, cap, &o, "&lt;", 4);
            break;
        case '>':
            put(out, cap, &o, "&gt;", 4);
            break;
        case '"':
            put(out, cap, &o, "&quot;", 6);
            break;
        case '\'':
            put(out, cap, &o, "&#39;", 5);
            break;
        default:
            put(out, cap, &o, in + i, 1);
        }
    }
    return done(out, cap, o);
}

size_t http_url_encode(const char *in, size_t n, char *out, size_t cap,
                       bool keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)in[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
            (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
            c == '~' || (c == '/' && keep_slash)) {
            put(out, cap, &o, in + i, 1);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            put(out, cap, &o, e, 3);
        }
    }
    return done(out, cap, o);
}

/* ---- Content-Type ---------------------------------------------------- */

static const struct {
    const char *ext, *type;
} mime[] = {
    {"html", "text/html; charset=utf-8"},
    {"htm", "text/html; charset=utf-8"},
    {"txt", "text/plain; charset=utf-8"},
    {"css", "text/css; charset=utf-8"},
    {"js", "text/javascript; charset=utf-8"},
    {"md", "text/markdown; charset=utf-8"},
    {"json", "application/json"},
    {"png", "image/png"},
    {"jpg", "image/jpeg"},
    {"jpeg", "image/jpeg"},
    {"gif", "image/gif"},
    {"svg", "image/svg+xml"},
    {"pdf", "application/pdf"},
    {"zip", "application/zip"},
    {"gz", "application/gzip"},
    {"tar", "application/x-tar"},
    {"mp4", "video/mp4"},
    {"webm", "video/webm"},
    {"mp3", "audio/mpeg"},
    {"wasm", "application/wasm"},
};

const char *http_mime_type(const char *name)
{
    const char *slash = strrchr(name, '/');
    const char *base = slash != NULL ? slash + 1 : name;
    const char *dot = strrchr(base, '.');
    /* ".bashrc" has no extension, only a leading dot. */
    if (dot != NULL && dot != base) {
        for (size_t i = 0; i < sizeof mime / sizeof mime[0]; i++)
            if (strcasecmp(dot + 1, mime[i].ext) == 0)
                return mime[i].type;
    }
    return "application/octet-stream";
}

/* ---- ETags, conditional requests ------------------------------------ */

size_t http_etag(char out[HTTP_ETAG_MAX], uint64_t size, int64_t mtime_ns,
                 uint64_t ino)
{
    /* By hand, not snprintf: every file response makes one. */
    static const char hex[] = "0123456789abcdef";
    const uint64_t v[3] = {ino, size, (uint64_t)mtime_ns};
    size_t n = 0;
    out[n++] = '"';
    for (int k = 0; k < 3; k++) {
        int d = 60;
        while (d > 0 && (v[k] >> d) == 0)
            d -= 4; /* no leading zeros, as %x */
        for (; d >= 0; d -= 4)
            out[n++] = hex[(v[k] >> d) & 15];
        out[n++] = k < 2 ? '-' : '"';
    }
    out[n] = '\0';
    return n;
}

/* The opaque-tag of an entity tag (its quotes included), without W/. */
static void opaque(const char **s, size_t *n)
{
    if (*n >= 2 && (*s)[0] == 'W' && (*s)[1] == '/') {
        *s += 2;
        *n -= 2;
    }
}

int http_etag_match(const char *v, size_t len, const char *etag)
{
    const char *e = etag;
    size_t en = strlen(etag);
    opaque(&e, &en);
    size_t i = 0;
    while (i < len && (v[i] == ' ' || v[i] == '\t'))
        i++;
    size_t j = len;
    while (j > i && (v[j - 1] == ' ' || v[j - 1] == '\t'))
        j--;
    if (j - i == 1 && v[i] == '*')
        return 1;
    while (i < j) {
        if (v[i] == ',' || v[i] == ' ' || v[i] == '\t') {
            i++;
            continue;
        }
        if (j - i >= 2 && v[i] == 'W' && v[i + 1] == '/')
            i += 2;
        if (i >= j || v[i] != '"')
            return 0;
        size_t q = i++;
        while (i < j && v[i] != '"') {
            unsigned char c = (unsigned char)v[i];
            if (c < 0x21 || c == 0x7f)
                return 0;
            i++;
        }
        if (i >= j)
            return 0;
        i++;
        if (i - q == en && memcmp(v + q, e, en) == 0)
            return 1;
        if (i < j && v[i] != ',' && v[i] != ' ' && v[i] != '\t')
            return 0;
    }
    return 0;
}

int http_not_modified(const struct http_request *r, const char *etag,
                      time_t mtime)
{
    if (r->method != HTTP_GET && r->method != HTTP_HEAD)
        return 0;
    size_t n;
    const char *v = http_header(r, "if-none-match", &n);
    if (v != NULL)
        return etag != NULL && http_etag_match(v, n, etag);
    v = http_header(r, "if-modified-since", &n);
    time_t since;
    if (v == NULL || http_date_parse(v, n, &since) < 0)
        return 0;
    return mtime <= since;
}
