/* weft/pipe.h - message pipes: Python's multiprocessing.Pipe for C.
 *
 * Model
 *   weft_pipe() makes two connected ends. Duplex: each end sends and
 *   receives. One-way: the first end only receives, the second only sends
 *   (Python's Pipe(duplex=False) returns (reader, writer) in that order).
 *   Create the pipe, fork, and each process keeps one end (destroying its
 *   copy of the other).
 *
 *   Messages keep their boundaries: one send is one recv, whatever its size
 *   (1 byte .. WEFT_PIPE_MAX_MSG; zero-length messages are allowed). Under
 *   the hood an end is a Unix stream socket and each message a 4-byte
 *   length and the bytes, written with one system call where they fit.
 *
 *   recv into a buffer too small fails with -ENOBUFS and loses nothing:
 *   the message stays first, weft_conn_next_len() tells its size, and the
 *   next recv with a larger buffer gets it.
 *
 *   End of file: once every copy of the peer end is closed (in every
 *   process that had one), recv returns WEFT_ECLOSED after the messages
 *   already sent, and send returns -EPIPE (never a SIGPIPE).
 *
 *   Descriptors: weft_conn_send_fd() passes an open file descriptor to the
 *   peer (SCM_RIGHTS), which receives its own descriptor for the same open
 *   file - the way a server hands a connection to a worker process. Sent
 *   descriptors and messages arrive in the order sent.
 *
 * Threads and fork
 *   One thread at a time per end for sending, and one for receiving. An
 *   end is private memory plus a descriptor: a forked child gets a working
 *   copy, and the peer sees end of file only when all copies are closed.
 */
#ifndef WEFT_PIPE_H
#define WEFT_PIPE_H

#include <stdbool.h>
#include <stddef.h>

#include <weft/core.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Largest message: 1 GiB. */
#define WEFT_PIPE_MAX_MSG ((size_t)1 << 30)

typedef struct weft_conn weft_conn;

/* Two connected ends (see above for one-way order). Errors: -EMFILE,
 * -ENFILE, -ENOMEM. */
WEFT_API int weft_pipe(weft_conn **a, weft_conn **b, bool duplex);

/* Send one whole message (blocking until it is written; the peer's
 * buffer may hold several). 0; -EPIPE (peer closed); -EMSGSIZE (over
 * WEFT_PIPE_MAX_MSG); -EBADF (this end cannot send, or is closed);
 * -EINVAL (NULL with len > 0). */
WEFT_API int weft_conn_send(weft_conn *c, const void *msg, size_t len);
/* Python's send_bytes(buf, offset, size): send buf[offset, offset+size). */
WEFT_API int weft_conn_send_bytes(weft_conn *c, const void *buf, size_t offset,
                                  size_t size);

/* Receive one message into buf: returns its length (>= 0). -EAGAIN /
 * -ETIMEDOUT when none came; -ENOBUFS (buffer too small; nothing lost);
 * WEFT_ECLOSED at end of file; -EPROTO if the peer sent something that is
 * not a weft message (the end is unusable then); -EBADF. */
WEFT_API int weft_conn_recv(weft_conn *c, void *buf, size_t cap,
                            int timeout_ms);
/* Receive one message into memory the call allocates (*out, free() it);
 * returns its length. Errors as recv (never -ENOBUFS), plus -ENOMEM. */
WEFT_API int weft_conn_recv_alloc(weft_conn *c, void **out, int timeout_ms);
/* The length of the next message, waiting like recv. */
WEFT_API int weft_conn_next_len(weft_conn *c, int timeout_ms);
/* 1 if a message (or end of file) can be received now, 0 if none came
 * within timeout_ms. */
WEFT_API int weft_conn_poll(weft_conn *c, int timeout_ms);

/* Pass descriptor fd to the peer (-EBADF if fd is not open). The peer's
 * weft_conn_recv_fd gets a new descriptor (close-on-exec) for the same
 * open file; recv_fd fails with -EPROTO if the next message is not a
 * descriptor (and a plain recv fails the same way on a descriptor). */
WEFT_API int weft_conn_send_fd(weft_conn *c, int fd);
WEFT_API int weft_conn_recv_fd(weft_conn *c, int *fd, int timeout_ms);

/* The underlying descriptor, for poll/epoll (readable = a message or end
 * of file may be there; weft_conn_poll is exact). */
WEFT_API int weft_conn_fileno(const weft_conn *c);
/* Close this end: the peer sees end of file once every copy is closed,
 * and descriptors received but not taken are closed. The handle stays
 * valid: every call on it afterwards returns -EBADF (and a second close
 * too). NULL is a no-op. */
WEFT_API int weft_conn_close(weft_conn *c);
/* Close the end if it is still open and free the handle. NULL is a
 * no-op. */
WEFT_API int weft_conn_destroy(weft_conn *c);

#ifdef __cplusplus
}
#endif
#endif
