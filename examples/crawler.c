/* crawler.c - fetch pages on a thread pool, analyse each in a done
 * callback.
 *
 * Python:
 *     with ThreadPoolExecutor(4) as ex:
 *         for url in urls:
 *             f = ex.submit(requests.get, url)
 *             f.add_done_callback(analyse)   # title, word count
 *
 * There is no internet here, so the program starts its own small web
 * site first: a thread listening on 127.0.0.1 (a port the kernel picks)
 * that hands each connection to a second thread pool - socketserver's
 * ThreadingMixIn - which answers in HTTP/1.0 from pages held in memory,
 * after 100 ms of pretend network delay. The crawler fetches 6 URLs with
 * libcurl on a pool of 4 threads (one of the URLs does not exist: 404).
 * Each future gets a done callback that finds the page's <title> and
 * counts its words. On a thread pool the callback runs on the worker
 * thread that ran the fetch, so several run at once: the totals they add
 * to are guarded by a lock.
 *
 * Run: ./build/examples/crawler
 * Expect: one line per URL (path, status, title, words) in the order the
 * fetches finish, then "crawled 6 of 6 pages in ~200 ms: 5 ok, ..." - six
 * fetches of 100 ms on 4 threads take two rounds, not six.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <weft/weft.h>

#define FETCHERS 4
#define DELAY_MS 100

/* ---- The web site ----------------------------------------------------- */

struct page {
    const char *path;
    const char *html;
};

static const struct page site[] = {
    {"/", "<html><head><title>Weft home</title></head><body>"
          "<h1>Welcome</h1><p>weft is a concurrency toolkit for C.</p>"
          "<a href=\"/about\">about</a> <a href=\"/news\">news</a>"
          "</body></html>"},
    {"/about", "<html><head><title>About weft</title></head><body>"
               "<p>Processes, threads, queues, locks and pools, as in "
               "Python's multiprocessing and threading.</p></body></html>"},
    {"/news", "<html><head><title>News</title></head><body><ul>"
              "<li>Process and thread pools have landed.</li>"
              "<li>Futures get done callbacks.</li></ul></body></html>"},
    {"/blog", "<html><head><title>The weft blog</title></head><body>"
              "<p>Why a C program needs no GIL, and what it needs "
              "instead: locks around what threads share.</p>"
              "</body></html>"},
    {"/contact", "<html><head><title>Contact</title></head><body>"
                 "<p>Write to the mailing list.</p></body></html>"},
};

static const char not_found[] =
    "<html><head><title>Not found</title></head><body>"
    "<p>No page here.</p></body></html>";

struct server {
    int fd;              /* listening socket */
    atomic_bool stop;    /* set by main: the accept loop ends */
    weft_pool *handlers; /* threads answering connections */
};

static int send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);

        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return -errno;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* A server task: read one request, answer it, close the connection. */
static int answer(const void *arg, size_t len, weft_buf *result)
{
    struct timeval tv = {2, 0};
    weft_buf resp = WEFT_BUF_INIT;
    const char *html = not_found, *path, *end;
    char req[2048];
    size_t have = 0, i;
    int fd, rc, code = 404;

    (void)len;
    (void)result;
    memcpy(&fd, arg, sizeof fd);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    while (have < sizeof req - 1) {
        ssize_t k = recv(fd, req + have, sizeof req - 1 - have, 0);

        if (k <= 0)
            break;
        have += (size_t)k;
        req[have] = '\0';
        if (strstr(req, "\r\n\r\n"))
            break;
    }
    req[have] = '\0';
    if (strncmp(req, "GET /", 5) != 0) {
        close(fd);
        return 1;
    }
    path = req + 4;
    end = strchr(path, ' ');
    if (end == NULL) {
        close(fd);
        return 1;
    }
    for (i = 0; i < sizeof site / sizeof site[0]; i++)
        if (strlen(site[i].path) == (size_t)(end - path) &&
            memcmp(site[i].path, path, (size_t)(end - path)) == 0) {
            html = site[i].html;
            code = 200;
        }
    weft_sleep_ms(DELAY_MS); /* a slow network */
    rc = weft_buf_appendf(&resp,
                          "HTTP/1.0 %d %s\r\nContent-Type: text/html\r\n"
                          "Content-Length: %zu\r\n\r\n%s",
                          code, code == 200 ? "OK" : "Not Found", strlen(html),
                          html);
    if (rc == 0)
        rc = send_all(fd, resp.data, resp.len);
    weft_buf_free(&resp);
    close(fd);
    return rc < 0 ? 1 : 0;
}

/* The accept loop, on its own thread: each connection goes to the
 * handler pool. It looks at the stop flag every 50 ms. */
static int serve(void *arg)
{
    struct server *srv = arg;
    struct pollfd pfd = {.fd = srv->fd, .events = POLLIN};

    while (!atomic_load(&srv->stop)) {
        int fd;

        if (poll(&pfd, 1, 50) <= 0)
            continue;
        fd = accept4(srv->fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
            continue;
        if (weft_pool_apply_async(srv->handlers, answer, &fd, sizeof fd, NULL,
                                  NULL, NULL, NULL) < 0)
            close(fd);
    }
    return 0;
}

/* A socket on 127.0.0.1, on a port the kernel picks: its port, or -1. */
static int listen_local(int *port)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t alen = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd < 0)
        return -1;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, 16) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &alen) < 0) {
        close(fd);
        return -1;
    }
    *port = ntohs(a.sin_port);
    return fd;
}

/* ---- The crawler ------------------------------------------------------ */

static const char *const paths[] = {"/",     "/about",   "/news",
                                    "/blog", "/contact", "/missing"};
#define NPATHS (sizeof paths / sizeof paths[0])

struct fetch {
    char url[64];
    const char *path;
    long http_status; /* written by the fetch task */
};

struct totals {
    weft_lock *lock; /* callbacks run on several threads at once */
    int pages, ok, words;
};

static struct totals totals;

static size_t on_body(char *data, size_t size, size_t n, void *ud)
{
    return weft_buf_append(ud, data, size * n) < 0 ? 0 : size * n;
}

/* The task: GET the URL; the body becomes the result bytes, the status
 * the CURLcode (0: a response came, whatever its HTTP status). */
static int fetch_page(const void *arg, size_t len, weft_buf *result)
{
    struct fetch *f;
    CURL *c;
    CURLcode rc;

    (void)len;
    memcpy(&f, arg, sizeof f); /* a thread pool may be handed pointers */
    c = curl_easy_init();
    if (c == NULL)
        return CURLE_FAILED_INIT;
    curl_easy_setopt(c, CURLOPT_URL, f->url);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, result);
    rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &f->http_status);
    curl_easy_cleanup(c);
    return (int)rc;
}

/* Words of the text outside the tags. */
static int count_words(const char *p, size_t n)
{
    int words = 0, in_tag = 0, in_word = 0;
    size_t i;

    for (i = 0; i < n; i++) {
        char ch = p[i];

        if (ch == '<')
            in_tag = 1;
        if (in_tag || ch == ' ' || ch == '\n' || ch == '\t' || ch == '\r') {
            in_word = 0;
        } else if (!in_word) {
            in_word = 1;
            words++;
        }
        if (ch == '>')
            in_tag = 0;
    }
    return words;
}

/* The text between <title> and </title>, into out. */
static void find_title(const char *p, size_t n, char *out, size_t cap)
{
    const char *start = memmem(p, n, "<title>", 7), *stop;

    snprintf(out, cap, "(no title)");
    if (start == NULL)
        return;
    start += 7;
    stop = memmem(start, n - (size_t)(start - p), "</title>", 8);
    if (stop != NULL)
        snprintf(out, cap, "%.*s", (int)(stop - start), start);
}

/* The done callback: on the worker thread that fetched the page. */
static void analyse(weft_future *fut, void *ud)
{
    struct fetch *f = ud;
    const void *data;
    size_t len;
    char title[64];
    int rc, status, words = 0;

    rc = weft_future_result(fut, &status, &data, &len);
    if (rc < 0) {
        printf("%-9s failed: %s\n", f->path, weft_strerror(rc));
    } else if (status != 0) {
        printf("%-9s failed: %s\n", f->path,
               curl_easy_strerror((CURLcode)status));
    } else {
        find_title(data, len, title, sizeof title);
        words = count_words(data, len);
        printf("%-9s %3ld  %-16s %3d words\n", f->path, f->http_status, title,
               words);
    }
    weft_lock_acquire(totals.lock, -1);
    totals.pages += rc == 0 && status == 0;
    totals.ok += rc == 0 && status == 0 && f->http_status == 200;
    totals.words += words;
    weft_lock_release(totals.lock);
}

static void die(const char *what, int rc)
{
    fprintf(stderr, "crawler: %s: %s\n", what, weft_strerror(rc));
    exit(1);
}

int main(void)
{
    weft_pool_opts ho = {.kind = WEFT_POOL_THREAD, .workers = 4};
    weft_pool_opts co = {.kind = WEFT_POOL_THREAD, .workers = FETCHERS};
    struct server srv = {.fd = -1};
    struct fetch jobs[NPATHS];
    weft_future *fs[NPATHS];
    weft_thread *acceptor;
    weft_pool *crawl;
    int64_t t0, ms;
    size_t i;
    int rc, port;

    setvbuf(stdout, NULL, _IOLBF, 0);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        die("curl_global_init", -ENOMEM);
    rc = weft_lock_create(&totals.lock, NULL);
    if (rc < 0)
        die("weft_lock_create", rc);

    /* The site: a listening socket, an accept thread, a handler pool. */
    srv.fd = listen_local(&port);
    if (srv.fd < 0)
        die("listen on 127.0.0.1", -errno);
    atomic_init(&srv.stop, false);
    rc = weft_pool_create(&srv.handlers, &ho);
    if (rc < 0)
        die("weft_pool_create (server)", rc);
    rc = weft_thread_create(&acceptor, serve, &srv, NULL);
    if (rc == 0)
        rc = weft_thread_start(acceptor);
    if (rc < 0)
        die("weft_thread_start", rc);
    printf("site on http://127.0.0.1:%d/, crawling %zu URLs with %d "
           "threads\n",
           port, NPATHS, FETCHERS);

    /* The crawl: submit every fetch, each with its done callback. */
    rc = weft_pool_create(&crawl, &co);
    if (rc < 0)
        die("weft_pool_create (crawler)", rc);
    t0 = weft_now_ms();
    for (i = 0; i < NPATHS; i++) {
        struct fetch *f = &jobs[i];

        snprintf(f->url, sizeof f->url, "http://127.0.0.1:%d%s", port,
                 paths[i]);
        f->path = paths[i];
        f->http_status = 0;
        rc = weft_pool_submit(crawl, fetch_page, &f, sizeof f, &fs[i]);
        if (rc < 0)
            die("weft_pool_submit", rc);
        rc = weft_future_add_done_callback(fs[i], analyse, f);
        if (rc < 0)
            die("weft_future_add_done_callback", rc);
    }
    /* Shutdown with wait joins the workers: every callback has run. */
    rc = weft_pool_shutdown(crawl, true, false);
    if (rc < 0)
        die("weft_pool_shutdown", rc);
    ms = weft_now_ms() - t0;
    for (i = 0; i < NPATHS; i++)
        weft_future_release(fs[i]);
    weft_pool_destroy(crawl);

    weft_lock_acquire(totals.lock, -1);
    printf("crawled %d of %zu pages in %lld ms: %d ok, %d not ok, "
           "%d words\n",
           totals.pages, NPATHS, (long long)ms, totals.ok,
           totals.pages - totals.ok, totals.words);
    weft_lock_release(totals.lock);

    /* Take the site down. */
    atomic_store(&srv.stop, true);
    weft_thread_join(acceptor, -1);
    weft_thread_destroy(acceptor);
    weft_pool_shutdown(srv.handlers, true, false);
    weft_pool_destroy(srv.handlers);
    close(srv.fd);
    weft_lock_destroy(totals.lock);
    curl_global_cleanup();
    return totals.pages == (int)NPATHS ? 0 : 1;
}
