/* weft/tls.h - TLS (OpenSSL) for descriptor-based code, as a pump between
 * the encrypted socket and one end of a socket pair.
 *
 * Why a pump
 *   Everything weft's users say goes through descriptors: frames
 *   (weft/frame.h), sendfile, the server's waits and timeouts in every
 *   concurrency model, coroutines included, or a client library that
 *   only knows a file descriptor (hiredis, for rediss://). The pump
 *   keeps all of that as it is: a thread owns the SSL object and the TCP
 *   socket, and moves bytes between them and a UNIX socket pair whose
 *   other end (weft_tls_fd) the protocol code reads and writes like any
 *   socket. The cost is a thread and a copy per TLS connection; this
 *   machine's kernel has no kernel TLS (kTLS), which would avoid both.
 *
 * Model
 *   A context (weft_tls_ctx) holds the certificate and key (server) or
 *   the authorities to trust (client); TLS 1.2 at least. A connection
 *   (weft_tls_conn) is made on a connected TCP socket the caller owns:
 *   weft_tls_accept (server: the handshake runs in the pump thread, so a
 *   slow client holds no one else up) or weft_tls_connect (client: the
 *   handshake runs in the caller, with the server's certificate checked
 *   against the host name or IP address, then the pump starts). The
 *   protocol uses weft_tls_fd(); weft_tls_close finishes: what was
 *   written is sent, then TLS's close_notify, and the thread is joined.
 *   OpenSSL types appear nowhere here; link with libweft only.
 *
 * Errors
 *   Negative errno values; where TLS itself failed, a line saying why
 *   (OpenSSL's reason, the certificate check's verdict) goes into the
 *   caller's err buffer (errlen bytes, NUL-terminated; err may be NULL).
 *
 * Threads and fork
 *   A context may be shared by any number of threads and connections. A
 *   connection is used by one thread at a time (its descriptor, as any
 *   socket). After fork() the pump thread exists only in the parent: a
 *   child that inherited a connection gives it up with weft_tls_forget.
 */
#ifndef WEFT_TLS_H
#define WEFT_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include <weft/core.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The first byte of every TLS connection (a handshake record): peek it to
 * tell TLS from a plain protocol on one port. */
#define WEFT_TLS_RECORD_HANDSHAKE 0x16

/* The size an err buffer needs for any reason given here. */
#define WEFT_TLS_ERR_MAX 256

typedef struct weft_tls_ctx weft_tls_ctx;
typedef struct weft_tls_conn weft_tls_conn;

/* ---- Contexts ------------------------------------------------------------ */

/* A server context from a PEM certificate chain and its private key
 * (key_file NULL: the key is in cert_file too). 0 and *out, or -EINVAL
 * (a file missing or unreadable, not PEM, or a key that does not match
 * the certificate; why in err), -ENOMEM. */
WEFT_API int weft_tls_server_ctx(weft_tls_ctx **out, const char *cert_file,
                                 const char *key_file, char *err,
                                 size_t errlen);

/* A client context that verifies the server: against ca_file (a PEM
 * certificate or bundle) or, NULL, the system's trusted authorities.
 * Errors as weft_tls_server_ctx. */
WEFT_API int weft_tls_client_ctx(weft_tls_ctx **out, const char *ca_file,
                                 char *err, size_t errlen);

/* Release the caller's reference: connections made with it keep their
 * own until they are closed. NULL: no-op. */
WEFT_API void weft_tls_ctx_destroy(weft_tls_ctx *ctx);

/* ---- Connections --------------------------------------------------------- */

/* Server side: serve TLS on fd (a connected socket, made non-blocking;
 * the caller keeps owning it and closes it after weft_tls_close). The
 * handshake runs in the pump thread, within io_ms; a failed handshake
 * shows as end of file on weft_tls_fd() and its reason comes from
 * weft_tls_close. io_ms (<= 0: none) bounds each wait for the peer while
 * there are bytes to move. 0 and *out, or -ENOMEM, -EAGAIN (no thread),
 * -EMFILE and other errors of socketpair(2). */
WEFT_API int weft_tls_accept(weft_tls_conn **out, weft_tls_ctx *ctx, int fd,
                             int io_ms);

/* Client side: the handshake on fd (a connected socket, made
 * non-blocking; the caller keeps owning it), within timeout_ms (< 0:
 * none), then the pump as for weft_tls_accept. host (NULL: not checked)
 * is what the server's certificate must name: an IP address is checked
 * against the certificate's IP addresses, a name against its DNS names
 * (and sent as SNI). 0 and *out, or:
 *   -EACCES      the certificate is not trusted or not for host
 *   -EPROTO      the handshake failed otherwise (not TLS, no common
 *                version or cipher, an alert from the server)
 *   -ECONNRESET  the server closed or reset the connection
 *   -ETIMEDOUT   no handshake within timeout_ms
 *   -EINVAL      host cannot be checked (empty, or not a valid name)
 *   -ENOMEM, -EAGAIN, errors of socketpair(2) and poll(2)
 * with the reason in err. */
WEFT_API int weft_tls_connect(weft_tls_conn **out, weft_tls_ctx *ctx, int fd,
                              const char *host, int timeout_ms, int io_ms,
                              char *err, size_t errlen);

/* The protocol's end of the pair: read and write it like the socket. */
WEFT_API int weft_tls_fd(const weft_tls_conn *c);

/* Flags of weft_tls_close and weft_tls_forget. */
enum {
    /* The user has closed weft_tls_fd() itself already (a library such
     * as hiredis closes the descriptor it was given): it is not touched
     * again, whatever the number now names. Closing it is the user's
     * "no more": the pump sends what it had and close_notify. */
    WEFT_TLS_FD_CLOSED = 1 << 0,
    /* Close the TCP socket too (otherwise it stays the caller's). */
    WEFT_TLS_CLOSE_SOCKET = 1 << 1,
};

/* Finish and free: everything written to weft_tls_fd() is encrypted and
 * sent, then close_notify and a FIN; what the peer still sends meanwhile
 * is read and dropped (so the pump never waits on the caller), until the
 * peer closes too or for at most 1 s (io_ms if shorter) - a socket closed
 * with unread bytes would reset the connection and destroy what the peer
 * had not read yet. Waits - yielding, in a coroutine, unless
 * WEFT_TLS_FD_CLOSED - until the pump thread is done; closes weft_tls_fd()
 * (unless WEFT_TLS_FD_CLOSED). 0, or -EPROTO with the reason the TLS side
 * failed (a handshake error, a reset, a timeout...) in err. NULL: 0. */
WEFT_API int weft_tls_close(weft_tls_conn *c, int flags, char *err,
                            size_t errlen);

/* In a forked child that inherited c: close this process's copies of its
 * descriptors (weft_tls_fd() unless WEFT_TLS_FD_CLOSED, the TCP socket
 * with WEFT_TLS_CLOSE_SOCKET, the pump's end) and free the handle,
 * leaving the parent's connection untouched. The TLS state (a few KiB)
 * is not freed: the parent's pump thread may have been changing it at
 * fork(), so it is not safe to walk. NULL: no-op. */
WEFT_API void weft_tls_forget(weft_tls_conn *c, int flags);

#ifdef __cplusplus
}
#endif
#endif
