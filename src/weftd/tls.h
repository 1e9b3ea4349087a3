/* tls.h - TLS for weftd and weft (OpenSSL), as a pump between the
 * encrypted socket and one end of a socket pair.
 *
 * Why a pump. Everything weftd and weft say goes through descriptors:
 * frames (weft/frame.h), sendfile, the server's waits and timeouts, in
 * every concurrency model, coroutines included. The pump keeps all of
 * that as it is: a thread owns the SSL object and the client's socket,
 * and moves bytes between them and a UNIX socket pair whose other end
 * the protocol code reads and writes like any socket. The cost is a
 * thread and a copy per TLS connection; this machine's kernel has no
 * kernel TLS (kTLS), which would avoid both.
 *
 * Shared by the two programs (src/weft compiles this file too); nothing
 * here depends on the rest of weftd.
 */
#ifndef WEFTD_TLS_H
#define WEFTD_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/ssl.h>

/* The first byte of every TLS connection (a handshake record). */
#define TLS_RECORD_HANDSHAKE 0x16

/* A server context from a PEM certificate chain and its private key
 * (key_file NULL: the key is in cert_file too). NULL after writing why
 * into err. TLS 1.2 at least. */
SSL_CTX *tls_server_ctx(const char *cert_file, const char *key_file, char *err,
                        size_t errlen);
/* A client context that verifies the server: against ca_file (a PEM
 * certificate or bundle) or, NULL, the system's trusted authorities. */
SSL_CTX *tls_client_ctx(const char *ca_file, char *err, size_t errlen);

/* The handshake on connected socket fd (made non-blocking), within
 * timeout_ms (-1: none). Client side: host is checked against the
 * server's certificate and sent as SNI when it is a name. 0 and *out,
 * or -1 after writing why into err. */
int tls_handshake(SSL_CTX *ctx, int fd, bool server, const char *host,
                  int timeout_ms, SSL **out, char *err, size_t errlen);

typedef struct tls_pump tls_pump;

/* Start pumping between fd (the TLS socket) and a new socket pair; the
 * protocol's end is tls_pump_fd(). With ssl NULL, the pump thread does
 * the server handshake itself first (so a slow client holds no one else
 * up); otherwise ssl is a finished handshake, which the pump takes over.
 * io_ms bounds each wait for the peer while there are bytes to move.
 * The caller keeps owning fd and closes it after tls_pump_end. 0 or
 * -errno. */
int tls_pump_start(tls_pump **out, SSL_CTX *ctx, SSL *ssl, int fd, int io_ms);
/* The protocol's end of the pair: read and write it like the socket. */
int tls_pump_fd(const tls_pump *p);
/* Finish: everything written to the protocol's end is encrypted and
 * sent, then TLS's close_notify; waits (yielding, in a coroutine) until
 * the pump thread is done, and frees it. 0, or -1 with the reason the
 * TLS side failed (a handshake error, a reset...) in err. */
int tls_pump_end(tls_pump *p, char *err, size_t errlen);

#endif
