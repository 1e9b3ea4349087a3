/* tls_helpers.h - test helpers around weft/tls.h: a throwaway certificate,
 * and the descriptors and pump threads a process holds (for checking that
 * a test leaves none behind). Header-only, for tests (they use cmocka's
 * asserts). */
#ifndef WEFT_TEST_TLS_HELPERS_H
#define WEFT_TEST_TLS_HELPERS_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A self-signed certificate for localhost and 127.0.0.1, made with the
 * openssl command: 0, or -1 (no openssl command, or it failed). */
static inline int test_make_cert(const char *cert, const char *key)
{
    char cmd[640];
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey ec -pkeyopt "
             "ec_paramgen_curve:prime256v1 -nodes -keyout '%s' -out '%s' "
             "-days 2 -subj /CN=localhost -addext "
             "'subjectAltName=DNS:localhost,IP:127.0.0.1' >/dev/null 2>&1",
             key, cert);
    return system(cmd) == 0 ? 0 : -1;
}

/* How many descriptors this process has open. */
static inline int test_count_fds(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    assert_non_null(d);
    while (readdir(d) != NULL)
        n++;
    closedir(d);
    return n;
}

/* How many pump threads (named "weft-tls-pump" by libweft) are alive. */
static inline int test_count_pumps(void)
{
    char path[300], comm[64];
    struct dirent *e;
    int n = 0;
    DIR *d = opendir("/proc/self/task");
    assert_non_null(d);
    while ((e = readdir(d)) != NULL) {
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
        FILE *f = fopen(path, "r");
        if (f == NULL)
            continue;
        if (fgets(comm, sizeof comm, f) != NULL &&
            strncmp(comm, "weft-tls-pump", 13) == 0)
            n++;
        fclose(f);
    }
    closedir(d);
    return n;
}

#endif
