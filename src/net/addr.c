/* addr.c - socket addresses as text: "host:port", "[v6]:port", unix paths.
 *
 * Numeric forms never touch the resolver; names go through getaddrinfo
 * (the first address it gives, in its preference order). One parser for
 * every program, so weftd's --listen, the client's --server and the
 * examples accept exactly the same things.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include <weft/net.h>

static int parse_port(const char *s, in_port_t *out)
{
    if (*s < '0' || *s > '9')
        return -EINVAL;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < 0 || v > 65535)
        return -EINVAL;
    *out = htons((uint16_t)v);
    return 0;
}

static int parse_unix(weft_addr *out, const char *path)
{
    struct sockaddr_un *un = (struct sockaddr_un *)&out->ss;
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof un->sun_path)
        return -EINVAL;
    memset(out, 0, sizeof *out);
    un->sun_family = AF_UNIX;
    memcpy(un->sun_path, path, n + 1);
    out->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
    return 0;
}

static int resolve(weft_addr *out, const char *host, in_port_t port)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_ADDRCONFIG};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(host, NULL, &hints, &res);
    if (rc == EAI_ADDRFAMILY || rc == EAI_NONAME || rc == EAI_NODATA) {
        /* AI_ADDRCONFIG hides loopback names on a host with no other
         * address configured: ask again without it. */
        hints.ai_flags = 0;
        rc = getaddrinfo(host, NULL, &hints, &res);
    }
    if (rc != 0)
        return rc == EAI_AGAIN ? -EAGAIN : rc == EAI_MEMORY ? -ENOMEM : -ENOENT;
    int err = -EAFNOSUPPORT;
    for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
        if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
            continue;
        memset(out, 0, sizeof *out);
        memcpy(&out->ss, ai->ai_addr, ai->ai_addrlen);
        out->len = ai->ai_addrlen;
        if (ai->ai_family == AF_INET)
            ((struct sockaddr_in *)&out->ss)->sin_port = port;
        else
            ((struct sockaddr_in6 *)&out->ss)->sin6_port = port;
        err = 0;
        break;
    }
    freeaddrinfo(res);
    return err;
}

int weft_addr_parse(weft_addr *out, const char *text)
{
    if (out == NULL || text == NULL)
        return -EINVAL;
    if (text[0] == '/')
        return parse_unix(out, text);
    if (strncmp(text, "unix:", 5) == 0)
        return parse_unix(out, text + 5);

    char host[256];
    const char *port_text;
    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (close == NULL || close[1] != ':' ||
            (size_t)(close - text - 1) >= sizeof host)
            return -EINVAL;
        memcpy(host, text + 1, (size_t)(close - text - 1));
        host[close - text - 1] = '\0';
        port_text = close + 2;
        in_port_t port;
        if (parse_port(port_text, &port) < 0)
            return -EINVAL;
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&out->ss;
        memset(out, 0, sizeof *out);
        if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1)
            return -EINVAL;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = port;
        out->len = sizeof *s6;
        return 0;
    }
    const char *colon = strrchr(text, ':');
    if (colon == NULL || (size_t)(colon - text) >= sizeof host)
        return -EINVAL;
    memcpy(host, text, (size_t)(colon - text));
    host[colon - text] = '\0';
    if (strchr(host, ':') != NULL)
        return -EINVAL; /* an IPv6 address needs its brackets */
    in_port_t port;
    if (parse_port(colon + 1, &port) < 0)
        return -EINVAL;
    struct sockaddr_in *s4 = (struct sockaddr_in *)&out->ss;
    if (host[0] == '\0' || strcmp(host, "*") == 0) {
        memset(out, 0, sizeof *out);
        s4->sin_family = AF_INET;
        s4->sin_addr.s_addr = htonl(INADDR_ANY);
        s4->sin_port = port;
        out->len = sizeof *s4;
        return 0;
    }
    memset(out, 0, sizeof *out);
    if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = port;
        out->len = sizeof *s4;
        return 0;
    }
    return resolve(out, host, port);
}

int weft_addr_format(const weft_addr *a, char *buf, size_t cap)
{
    if (a == NULL || buf == NULL || cap == 0)
        return -EINVAL;
    char ip[INET6_ADDRSTRLEN];
    int n;
    switch (a->ss.ss_family) {
    case AF_INET: {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)&a->ss;
        inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof ip);
        n = snprintf(buf, cap, "%s:%u", ip, ntohs(s4->sin_port));
        break;
    }
    case AF_INET6: {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&a->ss;
        inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof ip);
        n = snprintf(buf, cap, "[%s]:%u", ip, ntohs(s6->sin6_port));
        break;
    }
    case AF_UNIX: {
        const struct sockaddr_un *un = (const struct sockaddr_un *)&a->ss;
        size_t max = a->len > offsetof(struct sockaddr_un, sun_path)
                         ? a->len - offsetof(struct sockaddr_un, sun_path)
                         : 0;
        n = snprintf(buf, cap, "%.*s", (int)strnlen(un->sun_path, max),
                     un->sun_path);
        break;
    }
    default:
        buf[0] = '\0';
        return -EAFNOSUPPORT;
    }
    return n < 0 ? -EINVAL : (size_t)n >= cap ? -ENOSPC : n;
}

int weft_addr_port(const weft_addr *a)
{
    if (a == NULL)
        return -EINVAL;
    if (a->ss.ss_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)&a->ss)->sin_port);
    if (a->ss.ss_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)&a->ss)->sin6_port);
    return -EAFNOSUPPORT;
}

int weft_addr_local(int fd, weft_addr *out)
{
    if (out == NULL)
        return -EINVAL;
    memset(out, 0, sizeof *out);
    out->len = sizeof out->ss;
    return getsockname(fd, (struct sockaddr *)&out->ss, &out->len) < 0 ? -errno
                                                                       : 0;
}

int weft_addr_peer(int fd, weft_addr *out)
{
    if (out == NULL)
        return -EINVAL;
    memset(out, 0, sizeof *out);
    out->len = sizeof out->ss;
    return getpeername(fd, (struct sockaddr *)&out->ss, &out->len) < 0 ? -errno
                                                                       : 0;
}
