/* weft/net.h - addresses and sockets: parse "host:port", listen, accept,
 * connect with a timeout, UDP datagrams, and whole transfers (read
 * exactly n bytes, write all n) that absorb short counts and EINTR.
 *
 * Model
 *   Every call here works in ordinary blocking code and inside a
 *   coroutine (weft/co.h): inside one it yields while it would block, so
 *   the other coroutines run; outside it blocks the thread, waiting with
 *   poll(2) for its timeout. (It is built on the weft_co_* I/O calls,
 *   which behave that way; they set O_NONBLOCK on the descriptors they
 *   use.) Timeouts follow weft/core.h: < 0 forever, 0 never waits
 *   (-EAGAIN), > 0 at most that many ms (-ETIMEDOUT).
 *
 *   Descriptors are created close-on-exec. A peer that closes its end
 *   makes reads report WEFT_ECLOSED (end of file before the bytes asked
 *   for) and writes -EPIPE, never SIGPIPE (sockets are written with
 *   MSG_NOSIGNAL; for pipes, weft_write_all blocks SIGPIPE in the calling
 *   thread while it writes and takes back the one its write raised).
 *
 * Threads and fork
 *   All functions are thread-safe; a weft_addr is a plain value.
 */
#ifndef WEFT_NET_H
#define WEFT_NET_H

#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <weft/core.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A socket address: IPv4, IPv6 or a unix-domain path. */
typedef struct weft_addr {
    struct sockaddr_storage ss;
    socklen_t len;
} weft_addr;

/* The longest text weft_addr_format writes, with its NUL. */
#define WEFT_ADDR_TEXT_MAX 112

/* Parse text into *out:
 *   "127.0.0.1:9000", "[::1]:9000"        numeric addresses
 *   "localhost:9000", "example.org:80"    names (resolved; the first
 *                                          address getaddrinfo gives)
 *   ":9000", "*:9000"                      any IPv4 address
 *   "[::]:9000"                            any IPv6 address
 *   "/run/weft.sock", "unix:relative.sock" unix-domain sockets
 * The port is 0..65535 (0: the kernel picks one when listening). Errors:
 * -EINVAL (no port, a port out of range or not a number, a bad IPv6
 * bracket, an empty host, a unix path too long for sun_path), -ENOENT (a
 * name that does not resolve), -EAFNOSUPPORT. */
WEFT_API int weft_addr_parse(weft_addr *out, const char *text);
/* Write the address as parse accepts it ("127.0.0.1:9000", "[::1]:9000",
 * "/run/weft.sock") into buf: its length, or -ENOSPC (cap too small; buf
 * gets as much as fits, NUL-terminated), -EAFNOSUPPORT. */
WEFT_API int weft_addr_format(const weft_addr *a, char *buf, size_t cap);
/* The port (host order), or -EAFNOSUPPORT for a unix address. */
WEFT_API int weft_addr_port(const weft_addr *a);
/* The address a socket is bound to (after listening on port 0: the port
 * chosen), or the peer's: 0 or -errno. */
WEFT_API int weft_addr_local(int fd, weft_addr *out);
WEFT_API int weft_addr_peer(int fd, weft_addr *out);

/* ---- streams (TCP, unix) ------------------------------------------------ */

/* A listening stream socket on a (SO_REUSEADDR for TCP; IPV6_V6ONLY for
 * IPv6, so "[::]" and "0.0.0.0" can both be listened on). A unix path
 * left by a dead server is replaced if nobody answers a connect on it (a
 * live server there sees that one connection, closed at once, and the
 * call fails with -EADDRINUSE). backlog <= 0 means 128. The descriptor,
 * or -EADDRINUSE, -EACCES, -EINVAL, ... */
WEFT_API int weft_listen(const weft_addr *a, int backlog);
/* The next connection (non-blocking and close-on-exec); peer may be NULL.
 * Connections reset before they were accepted are skipped. */
WEFT_API int weft_accept(int lfd, weft_addr *peer, int timeout_ms);
/* A connected stream socket to a: the descriptor; -ETIMEDOUT (the
 * handshake did not finish in time), -ECONNREFUSED, -ENETUNREACH, ... */
WEFT_API int weft_connect(const weft_addr *a, int timeout_ms);

/* Read exactly len bytes: 0; WEFT_ECLOSED if the peer closed first
 * (*got, if not NULL, tells how many came); -ETIMEDOUT / -EAGAIN when
 * the time ran out first (*got as well); -errno. The timeout bounds the
 * whole transfer, not each read. */
WEFT_API int weft_read_exact(int fd, void *buf, size_t len, size_t *got,
                             int timeout_ms);
/* Write all len bytes: 0; -EPIPE / -ECONNRESET (peer gone); -ETIMEDOUT /
 * -EAGAIN (*sent tells how many went); -errno. */
WEFT_API int weft_write_all(int fd, const void *buf, size_t len, size_t *sent,
                            int timeout_ms);

/* ---- datagrams (UDP) ------------------------------------------------------
 */

/* A UDP socket bound to a (port 0: any). The descriptor or -errno. */
WEFT_API int weft_udp_bind(const weft_addr *a);
/* A UDP socket of a's family, unbound (the kernel binds it on the first
 * send). */
WEFT_API int weft_udp_socket(const weft_addr *a);
/* Send one datagram: its length, or -EMSGSIZE, -ETIMEDOUT, -errno. */
WEFT_API ssize_t weft_udp_sendto(int fd, const void *buf, size_t len,
                                 const weft_addr *to, int timeout_ms);
/* Receive one datagram into buf: its length (boundaries kept; a datagram
 * longer than cap is cut to cap and -EMSGSIZE returned instead, as it is
 * lost); from may be NULL. -ETIMEDOUT / -EAGAIN, -errno. */
WEFT_API ssize_t weft_udp_recvfrom(int fd, void *buf, size_t cap,
                                   weft_addr *from, int timeout_ms);

#ifdef __cplusplus
}
#endif
#endif
