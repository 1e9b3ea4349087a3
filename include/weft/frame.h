/* weft/frame.h - framed messages: the course's answer to TCP's "sticky
 * packet" problem, as weftd and its client speak it (docs/PROTOCOL.md).
 *
 * A frame is
 *     4 bytes   the header's length N, unsigned, little-endian
 *     N bytes   the header: UTF-8 JSON, an object
 *     S bytes   the body, S = the header's "file_size" (absent or 0: none)
 *
 * Receiving is strict and bounded: a header length of 0 or over the limit
 * (default 64 KiB) is WEFT_EHDRLEN - refused before anything is allocated;
 * invalid JSON, invalid UTF-8, duplicate keys or anything but an object is
 * WEFT_EHDRJSON; a file_size that is not a whole non-negative number
 * within the body limit (default 1 GiB) is WEFT_EBODYSIZE; a peer that
 * closes mid-frame is WEFT_ETRUNCATED (between frames: WEFT_ECLOSED).
 *
 * Headers are jansson objects (json_t, https://jansson.readthedocs.io):
 * weft's headers include <jansson.h> and weft.pc requires jansson. A
 * header returned to the caller is a new reference: json_decref it.
 *
 * The calls that touch a descriptor work in blocking code and, yielding,
 * inside coroutines, with whole-call timeouts, as in weft/net.h.
 */
#ifndef WEFT_FRAME_H
#define WEFT_FRAME_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include <weft/core.h>

#ifdef __cplusplus
extern "C" {
#endif

#define WEFT_FRAME_MAX_HEADER_DEFAULT (64u * 1024)
#define WEFT_FRAME_MAX_HEADER_LIMIT   (16u * 1024 * 1024)
#define WEFT_FRAME_MAX_BODY_DEFAULT   ((uint64_t)1 << 30)

typedef struct weft_frame_limits {
    size_t max_header; /* 0: 64 KiB; at most WEFT_FRAME_MAX_HEADER_LIMIT */
    uint64_t max_body; /* 0: 1 GiB */
} weft_frame_limits;

/* Parse the frame at the start of buf[0..n) - without its body: > 0, the
 * bytes of prefix and header, with *header (a new reference) and
 * *body_len (the body's S bytes follow); 0 if buf holds too little yet;
 * WEFT_EHDRLEN, WEFT_EHDRJSON, WEFT_EBODYSIZE; -EINVAL. lim may be NULL
 * (the defaults). It reads nothing past n and allocates only for a header
 * within the limit. */
WEFT_API int weft_frame_parse(const void *buf, size_t n,
                              const weft_frame_limits *lim, json_t **header,
                              uint64_t *body_len);

/* Append the 4-byte prefix and the header (compact JSON) to out, setting
 * its "file_size" to body_len first (removing it for 0). 0; -EINVAL (not
 * an object); -EMSGSIZE (header over WEFT_FRAME_MAX_HEADER_LIMIT, or out's
 * cap); -ENOMEM. */
WEFT_API int weft_frame_encode(json_t *header, uint64_t body_len,
                               weft_buf *out);

/* ---- on a descriptor ---------------------------------------------------- */

/* Send a frame with body[0..len) (header's file_size set to len). 0;
 * -ETIMEDOUT; -EPIPE / -ECONNRESET; errors of weft_frame_encode. */
WEFT_API int weft_frame_send(int fd, json_t *header, const void *body,
                             size_t len, int timeout_ms);
/* Send a frame whose body is len bytes of file_fd from offset, with
 * sendfile(2) (fd must be a socket). -EIO if the file ends first. */
WEFT_API int weft_frame_send_file(int fd, json_t *header, int file_fd,
                                  off_t offset, uint64_t len, int timeout_ms);
/* Send only the prefix and header announcing body_len; the caller then
 * streams exactly body_len bytes (weft_write_all, in chunks). */
WEFT_API int weft_frame_send_header(int fd, json_t *header, uint64_t body_len,
                                    int timeout_ms);

/* Receive the next frame's prefix and header: 0 with *header (a new
 * reference) and *body_len; the body is left on fd, for one of the
 * weft_frame_recv_body* calls. WEFT_ECLOSED (the peer closed between
 * frames), WEFT_ETRUNCATED, WEFT_EHDRLEN, WEFT_EHDRJSON, WEFT_EBODYSIZE,
 * -ETIMEDOUT, -errno. After an error the stream's framing is lost: close
 * it. */
WEFT_API int weft_frame_recv(int fd, const weft_frame_limits *lim,
                             json_t **header, uint64_t *body_len,
                             int timeout_ms);
/* The body, len bytes: into buf; into file_fd (written at its offset);
 * or chunk by chunk to cb (which returns 0 to go on, or an error that is
 * returned). WEFT_ETRUNCATED if the peer closes first; -ETIMEDOUT; the
 * file's write errors (-ENOSPC, -EDQUOT, ...). */
WEFT_API int weft_frame_recv_body(int fd, void *buf, size_t len,
                                  int timeout_ms);
WEFT_API int weft_frame_recv_body_file(int fd, uint64_t len, int file_fd,
                                       int timeout_ms);
typedef int (*weft_frame_body_fn)(void *ud, const void *chunk, size_t n);
WEFT_API int weft_frame_recv_body_cb(int fd, uint64_t len,
                                     weft_frame_body_fn cb, void *ud,
                                     int timeout_ms);

#ifdef __cplusplus
}
#endif
#endif
