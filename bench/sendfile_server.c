/* sendfile_server.c - the "limit" contender of bench_fileserver.py: a
 * minimal file server in plain C, no weft, no protocol beyond one line.
 *
 *   sendfile_server --listen HOST:PORT --file PATH [--upload PATH]
 *                   [--writeback MIB]
 *
 * Prints "listening on ADDR" (the port the kernel chose, after port 0)
 * and serves until killed. One thread per connection, which reads one
 * request line:
 *
 *   "GET\n"  the whole of --file is sent with sendfile(2) (in calls of at
 *            most 0x7ffff000 bytes, the kernel's limit), then the
 *            connection is closed: the client reads until end of file.
 *   "PUT\n"  everything that follows, until the client shuts down its
 *            side, is read into a 256 KiB buffer and written to --upload
 *            (created or truncated); then fsync(2) and close, and the
 *            answer "OK\n" (or "ERR ...\n"): the least a durable upload
 *            does - no hash, no temporary file, no rename.
 *
 * --writeback MIB (an experiment, off by default): during an upload,
 * start the write-back of each MIB mebibytes written with
 * sync_file_range(SYNC_FILE_RANGE_WRITE), so that the disk works while
 * the bytes arrive and the final fsync has little left to do.
 *
 * Nothing is checked beyond the request line; it is a measuring stick for
 * loopback, never a server to expose.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* accept4, sendfile, sync_file_range */
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define BUF_SIZE  (256 * 1024)
#define MAX_CHUNK 0x7ffff000L /* the most one sendfile call moves */
#define BACKLOG   128

static const char *file_path;   /* what GET sends */
static const char *upload_path; /* where PUT writes */
static off_t writeback;         /* bytes between write-back starts, or 0 */

/* Read the request line, at most 15 bytes, one byte at a time (so that
 * nothing of a PUT body is consumed with it). 0, or -1. */
static int read_line(int fd, char *line, size_t cap)
{
    size_t n = 0;

    while (n + 1 < cap) {
        ssize_t r = read(fd, line + n, 1);
        if (r <= 0)
            return -1;
        if (line[n] == '\n') {
            line[n] = '\0';
            return 0;
        }
        n++;
    }
    return -1;
}

static void serve_get(int fd)
{
    int in = open(file_path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    off_t pos = 0;

    if (in < 0 || fstat(in, &st) < 0) {
        perror(file_path);
        if (in >= 0)
            close(in);
        return;
    }
    while (pos < st.st_size) {
        off_t left = st.st_size - pos;
        ssize_t w = sendfile(fd, in, &pos, left < MAX_CHUNK ? left : MAX_CHUNK);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
    }
    close(in);
}

static void serve_put(int fd)
{
    char *buf = malloc(BUF_SIZE);
    const char *err = NULL;
    int out = open(upload_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    off_t written = 0, started = 0;

    if (buf == NULL || out < 0)
        err = "ERR open\n";
    while (err == NULL) {
        ssize_t r = read(fd, buf, BUF_SIZE);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            err = "ERR read\n";
        if (r <= 0)
            break;
        for (ssize_t done = 0; done < r && err == NULL;) {
            ssize_t w = write(out, buf + done, (size_t)(r - done));
            if (w < 0 && errno != EINTR)
                err = "ERR write\n";
            else if (w > 0)
                done += w;
        }
        written += r;
        if (writeback > 0 && written - started >= writeback) {
            sync_file_range(out, started, written - started,
                            SYNC_FILE_RANGE_WRITE);
            started = written;
        }
    }
    if (err == NULL && fsync(out) < 0)
        err = "ERR fsync\n";
    if (out >= 0 && close(out) < 0 && err == NULL)
        err = "ERR close\n";
    free(buf);
    if (err == NULL)
        err = "OK\n";
    if (write(fd, err, strlen(err)) < 0)
        perror("write");
}

static void *conn_main(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char line[16];

    if (read_line(fd, line, sizeof line) == 0) {
        if (strcmp(line, "GET") == 0)
            serve_get(fd);
        else if (strcmp(line, "PUT") == 0 && upload_path != NULL)
            serve_put(fd);
    }
    close(fd);
    return NULL;
}

static void usage(void)
{
    fprintf(stderr, "usage: sendfile_server --listen HOST:PORT --file PATH "
                    "[--upload PATH] [--writeback MIB]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"listen", 1, NULL, 'l'},
                                         {"file", 1, NULL, 'f'},
                                         {"upload", 1, NULL, 'u'},
                                         {"writeback", 1, NULL, 'w'},
                                         {NULL, 0, NULL, 0}};
    const char *listen_at = "127.0.0.1:0";
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t len = sizeof sa;
    pthread_attr_t attr;
    int c, lfd, one = 1;

    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'l')
            listen_at = optarg;
        else if (c == 'f')
            file_path = optarg;
        else if (c == 'u')
            upload_path = optarg;
        else if (c == 'w')
            writeback = (off_t)strtol(optarg, NULL, 10) << 20;
        else
            usage();
    }
    const char *colon = strrchr(listen_at, ':');
    if (file_path == NULL || colon == NULL)
        usage();
    char host[64];
    size_t hl = (size_t)(colon - listen_at);
    if (hl >= sizeof host)
        usage();
    memcpy(host, listen_at, hl);
    host[hl] = '\0';
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end != '\0' || port < 0 || port > 65535 ||
        inet_pton(AF_INET, host, &sa.sin_addr) != 1)
        usage();
    sa.sin_port = htons((uint16_t)port);

    signal(SIGPIPE, SIG_IGN);
    lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (lfd < 0 ||
        setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
        listen(lfd, BACKLOG) < 0 ||
        getsockname(lfd, (struct sockaddr *)&sa, &len) < 0) {
        perror("listen");
        return 1;
    }
    printf("listening on %s:%d\n", host, ntohs(sa.sin_port));
    fflush(stdout);

    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        pthread_t t;
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE)
                continue;
            perror("accept4");
            return 1;
        }
        if (pthread_create(&t, &attr, conn_main, (void *)(intptr_t)fd) != 0)
            close(fd);
    }
}
