/* hasher.c - SHA-256 on a thread of its own, fed while an upload arrives.
 *
 * Why. SHA-256 runs at about 1.2 GB/s on this machine's cores (with the
 * CPU's SHA extensions), as slow as receiving and writing the bytes
 * together; done inline, it halves a large upload's rate. Here the
 * connection's code copies each piece into one of a few 1 MiB buffers and
 * goes on receiving and writing, while this thread hashes the buffers in
 * the order they were filled. Every byte is still hashed as it arrives,
 * never in a second pass over the file.
 *
 * The buffers go round: the filler takes a free one (waiting, if all are
 * queued, on an eventfd - so a coroutine yields instead of blocking its
 * scheduler), fills it, queues it; the thread hashes it and frees it.
 * Memory is HASH_BUFS buffers whatever the upload's size.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "weftd.h"

#define HASH_BUFS 4
#define HASH_BUF  ((size_t)1 << 20)

struct weftd_hasher {
    weftd_sha *sha; /* updated by the thread only, until the end */
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t work; /* a buffer was queued, or stop */
    int efd;             /* a buffer was freed */
    char *buf[HASH_BUFS];
    size_t len[HASH_BUFS];
    int queue[HASH_BUFS]; /* filled buffers, oldest first (a ring) */
    int qhead, qn;
    int free_[HASH_BUFS]; /* buffers to fill */
    int nfree;
    bool stop;
    int cur; /* the buffer being filled, -1 if none */
};

static void *hash_main(void *arg)
{
    weftd_hasher *h = arg;

    for (;;) {
        pthread_mutex_lock(&h->lock);
        while (h->qn == 0 && !h->stop)
            pthread_cond_wait(&h->work, &h->lock);
        if (h->qn == 0) {
            pthread_mutex_unlock(&h->lock);
            return NULL;
        }
        int i = h->queue[h->qhead];
        h->qhead = (h->qhead + 1) % HASH_BUFS;
        h->qn--;
        pthread_mutex_unlock(&h->lock);

        weftd_sha_update(h->sha, h->buf[i], h->len[i]);

        pthread_mutex_lock(&h->lock);
        h->free_[h->nfree++] = i;
        pthread_mutex_unlock(&h->lock);
        uint64_t one = 1;
        ssize_t w = write(h->efd, &one, sizeof one);
        (void)w; /* an eventfd counter cannot overflow here */
    }
}

int weftd_hasher_start(weftd_hasher **out, weftd_sha *sha)
{
    weftd_hasher *h = calloc(1, sizeof *h);
    sigset_t all, old;
    int rc;

    if (h == NULL)
        return -ENOMEM;
    h->sha = sha;
    h->cur = -1;
    rc = 0;
    for (int i = 0; i < HASH_BUFS; i++) {
        h->buf[i] = malloc(HASH_BUF);
        h->free_[h->nfree++] = i;
        if (h->buf[i] == NULL)
            rc = -ENOMEM;
    }
    h->efd = rc == 0 ? eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK) : -1;
    if (h->efd < 0) {
        rc = rc < 0 ? rc : -errno;
        goto fail;
    }
    pthread_mutex_init(&h->lock, NULL);
    pthread_cond_init(&h->work, NULL);
    /* The thread takes no signals: the server's own threads handle them. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = -pthread_create(&h->thread, NULL, hash_main, h);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc < 0) {
        pthread_cond_destroy(&h->work);
        pthread_mutex_destroy(&h->lock);
        close(h->efd);
        goto fail;
    }
    *out = h;
    return 0;
fail:
    for (int i = 0; i < HASH_BUFS; i++)
        free(h->buf[i]);
    free(h);
    return rc;
}

/* A free buffer, waiting for one (yielding, in a coroutine): its index,
 * or -errno (-ECANCELED: the connection's coroutine was cancelled). */
static int take_free(weftd_hasher *h)
{
    for (;;) {
        pthread_mutex_lock(&h->lock);
        if (h->nfree > 0) {
            int i = h->free_[--h->nfree];
            pthread_mutex_unlock(&h->lock);
            return i;
        }
        pthread_mutex_unlock(&h->lock);
        /* A free after the check has written the eventfd already: the
         * wait returns at once. */
        int rc = weft_co_wait_fd(h->efd, WEFT_CO_READ, -1);
        if (rc < 0)
            return rc;
        uint64_t v;
        ssize_t r = read(h->efd, &v, sizeof v);
        (void)r; /* EAGAIN: another reader reset it; look again */
    }
}

static void queue_cur(weftd_hasher *h)
{
    pthread_mutex_lock(&h->lock);
    h->queue[(h->qhead + h->qn) % HASH_BUFS] = h->cur;
    h->qn++;
    pthread_cond_signal(&h->work);
    pthread_mutex_unlock(&h->lock);
    h->cur = -1;
}

int weftd_hasher_feed(weftd_hasher *h, const void *p, size_t n)
{
    const char *s = p;
    while (n > 0) {
        if (h->cur < 0) {
            int i = take_free(h);
            if (i < 0)
                return i;
            h->cur = i;
            h->len[i] = 0;
        }
        size_t room = HASH_BUF - h->len[h->cur];
        size_t k = n < room ? n : room;
        memcpy(h->buf[h->cur] + h->len[h->cur], s, k);
        h->len[h->cur] += k;
        s += k;
        n -= k;
        if (h->len[h->cur] == HASH_BUF)
            queue_cur(h);
    }
    return 0;
}

weftd_sha *weftd_hasher_end(weftd_hasher *h, bool finish)
{
    weftd_sha *sha = h->sha;

    if (h->cur >= 0 && (!finish || h->len[h->cur] == 0)) {
        h->free_[h->nfree++] = h->cur; /* taken, and not to be hashed */
        h->cur = -1;
    }
    if (finish && h->cur >= 0)
        queue_cur(h);
    /* Wait (yielding, in a coroutine) until every buffer is hashed, so
     * the join below does not hold up a scheduler. */
    while (finish) {
        pthread_mutex_lock(&h->lock);
        bool idle = h->nfree == HASH_BUFS;
        pthread_mutex_unlock(&h->lock);
        if (idle || weft_co_wait_fd(h->efd, WEFT_CO_READ, -1) < 0)
            break;
        uint64_t v;
        ssize_t r = read(h->efd, &v, sizeof v);
        (void)r;
    }
    pthread_mutex_lock(&h->lock);
    if (!finish) {
        /* Drop what is queued: the digest will not be used. */
        while (h->qn > 0) {
            h->free_[h->nfree++] = h->queue[h->qhead];
            h->qhead = (h->qhead + 1) % HASH_BUFS;
            h->qn--;
        }
    }
    /* The thread hashes what is still queued, then returns. */
    h->stop = true;
    pthread_cond_signal(&h->work);
    pthread_mutex_unlock(&h->lock);
    pthread_join(h->thread, NULL);
    pthread_cond_destroy(&h->work);
    pthread_mutex_destroy(&h->lock);
    close(h->efd);
    for (int i = 0; i < HASH_BUFS; i++)
        free(h->buf[i]);
    free(h);
    return sha;
}
