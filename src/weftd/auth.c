/* auth.c - logins: passwords checked with libsodium's argon2id, failed
 * logins rate-limited per client address.
 *
 * Verification. crypto_pwhash_str_verify() against the user's hash. A
 * name that is not in the users file is checked against a dummy hash
 * made at start-up with the first user's cost parameters, so an unknown
 * name costs the same time as a wrong password: names cannot be probed
 * by timing. Each check takes the hash's memory (64 MiB for the
 * INTERACTIVE parameters `weftd passwd` uses) and tens of milliseconds of
 * CPU, so at most `slots` checks run at once in all of weftd's
 * processes (a shared semaphore; the others wait up to 10 s).
 *
 * Rate limit. Failures are counted per client address (an IPv6 address
 * by its /64 prefix, which one client usually holds whole): max_fails
 * failures within window_s seconds lock that address out for window_s
 * seconds; meanwhile logins are answered rate_limited with retry_after,
 * without checking the password. A success does not reset the count (so
 * one valid account does not buy more guesses at another). The counters
 * live in a weft_dict in shared memory (WEFT_SHARED), created before the
 * server starts, so every process of the fork and prefork models sees
 * the same counts; the times are CLOCK_MONOTONIC seconds, the same in
 * every process. When the table is full of live entries, unknown
 * addresses are refused (fail closed) until entries expire.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "weftd.h"

#define RL_CAPACITY  4096 /* addresses tracked at once */
#define RL_KEY_MAX   64
#define SLOT_WAIT_MS 10000

struct weftd_auth {
    const struct weftd_users *users;
    char dummy[crypto_pwhash_STRBYTES]; /* for names not in the file */
    weft_dict *rl;                      /* address -> struct rl_entry */
    weft_semaphore *slots;              /* checks running at once */
    int max_fails, window_s;
};

/* One address's failures (the dict's value). */
struct rl_entry {
    int64_t start; /* first failure of the current window (s) */
    int64_t count; /* failures since start */
    int64_t until; /* locked out until then (s); 0: not */
};

static int64_t now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec;
}

/* The cost parameters in a "$argon2id$v=19$m=65536,t=2,p=1$..." string:
 * 0, or -1 if they cannot be read. */
static int hash_params(const char *h, unsigned long long *ops, size_t *mem)
{
    const char *m = strstr(h, "$m="), *t = strstr(h, ",t=");
    char *end;

    if (m == NULL || t == NULL)
        return -1;
    errno = 0;
    unsigned long mk = strtoul(m + 3, &end, 10);
    if (errno != 0 || *end != ',' || mk == 0 || mk > (1ul << 22))
        return -1;
    unsigned long tv = strtoul(t + 3, &end, 10);
    if (errno != 0 || *end != ',' || tv == 0 || tv > 64)
        return -1;
    *mem = (size_t)mk * 1024;
    *ops = tv;
    return 0;
}

int weftd_auth_create(weftd_auth **out, const struct weftd_users *users,
                      int max_fails, int window_s)
{
    weftd_auth *a = calloc(1, sizeof *a);
    unsigned char pw[32];
    unsigned long long ops = crypto_pwhash_OPSLIMIT_INTERACTIVE;
    size_t mem = crypto_pwhash_MEMLIMIT_INTERACTIVE;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    int rc;

    if (a == NULL) {
        fprintf(stderr, "weftd: out of memory\n");
        return -ENOMEM;
    }
    if (sodium_init() < 0) {
        fprintf(stderr, "weftd: libsodium failed to start\n");
        free(a);
        return -EIO;
    }
    a->users = users;
    a->max_fails = max_fails;
    a->window_s = window_s;
    if (users->n > 0)
        hash_params(users->v[0].hash, &ops, &mem);
    randombytes_buf(pw, sizeof pw);
    if (crypto_pwhash_str(a->dummy, (const char *)pw, sizeof pw, ops, mem) !=
        0) {
        fprintf(stderr, "weftd: out of memory making the dummy hash\n");
        free(a);
        return -ENOMEM;
    }
    rc = weft_dict_create(&a->rl, WEFT_SHARED, RL_CAPACITY, RL_KEY_MAX,
                          sizeof(struct rl_entry));
    if (rc == 0)
        rc = weft_semaphore_create(&a->slots, WEFT_SHARED,
                                   cpus < 2   ? 2
                                   : cpus > 8 ? 8
                                              : (int)cpus);
    if (rc < 0) {
        fprintf(stderr, "weftd: the login rate limiter: %s\n",
                weft_strerror(rc));
        weftd_auth_destroy(a);
        return rc;
    }
    *out = a;
    return 0;
}

void weftd_auth_destroy(weftd_auth *a)
{
    if (a == NULL)
        return;
    weft_dict_destroy(a->rl);
    weft_semaphore_destroy(a->slots);
    sodium_memzero(a->dummy, sizeof a->dummy);
    free(a);
}

/* The rate limiter's key for a peer: its IP address (IPv4-mapped
 * addresses as IPv4; IPv6 by its /64), "unix" for a unix socket. */
static void peer_key(const weft_addr *peer, char key[RL_KEY_MAX])
{
    const struct sockaddr_storage *ss = &peer->ss;
    snprintf(key, RL_KEY_MAX, "other");
    if (ss->ss_family == AF_UNIX) {
        snprintf(key, RL_KEY_MAX, "unix");
    } else if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &in->sin_addr, key, RL_KEY_MAX);
    } else if (ss->ss_family == AF_INET6) {
        struct in6_addr a = ((const struct sockaddr_in6 *)ss)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(&a)) {
            inet_ntop(AF_INET, &a.s6_addr[12], key, RL_KEY_MAX);
        } else {
            memset(&a.s6_addr[8], 0, 8);
            char text[INET6_ADDRSTRLEN];
            if (inet_ntop(AF_INET6, &a, text, sizeof text) != NULL)
                snprintf(key, RL_KEY_MAX, "%s/64", text);
        }
    }
}

/* ---- the shared table ---------------------------------------------------- */

struct expired {
    char (*keys)[RL_KEY_MAX];
    size_t n, cap;
    int64_t now, window_s;
};

/* An entry is over when its window and its lock-out both are. */
static bool over(const struct rl_entry *e, int64_t now, int64_t window_s)
{
    return now - e->start >= window_s && e->until <= now;
}

static int collect_expired(const char *key, const void *val, size_t len,
                           void *arg)
{
    struct expired *x = arg;
    struct rl_entry e;
    if (len != sizeof e || x->n >= x->cap)
        return 0;
    memcpy(&e, val, sizeof e);
    if (over(&e, x->now, x->window_s))
        snprintf(x->keys[x->n++], RL_KEY_MAX, "%s", key);
    return 0;
}

/* Remove the entries that are over (the dict cannot be changed from
 * inside foreach: collect, then delete each one still over). */
static void purge(weftd_auth *a, int64_t now)
{
    struct expired x = {
        .cap = RL_CAPACITY, .now = now, .window_s = a->window_s};
    x.keys = malloc(RL_CAPACITY * sizeof *x.keys);
    if (x.keys == NULL)
        return;
    weft_dict_foreach(a->rl, collect_expired, &x);
    for (size_t i = 0; i < x.n; i++) {
        struct rl_entry e;
        size_t len = 0;
        if (weft_dict_get(a->rl, x.keys[i], &e, sizeof e, &len) >= 0 &&
            len == sizeof e && over(&e, now, a->window_s))
            weft_dict_delete(a->rl, x.keys[i]);
    }
    free(x.keys);
}

/* 1 and *retry_after if key may not try now, else 0. */
static int limited(weftd_auth *a, const char *key, int64_t now,
                   int *retry_after)
{
    struct rl_entry e;
    size_t len = 0;
    int rc = weft_dict_get(a->rl, key, &e, sizeof e, &len);

    if (rc >= 0 && len == sizeof e) {
        if (e.until > now) {
            *retry_after = (int)(e.until - now);
            return 1;
        }
        return 0;
    }
    if (weft_dict_len(a->rl) < RL_CAPACITY)
        return 0;
    purge(a, now);
    if (weft_dict_len(a->rl) < RL_CAPACITY)
        return 0;
    /* Full of live entries: fail closed. */
    weftd_log(WEFT_LOG_WARN,
              "login rate table full (%d addresses): refusing "
              "logins from new addresses",
              RL_CAPACITY);
    *retry_after = a->window_s;
    return 1;
}

struct fail_arg {
    int64_t now;
    int max_fails, window_s;
};

static int add_failure(void *buf, size_t *len, size_t max_len, bool exists,
                       void *arg)
{
    const struct fail_arg *f = arg;
    struct rl_entry e = {0};
    (void)max_len;
    if (exists && *len == sizeof e)
        memcpy(&e, buf, sizeof e);
    if (e.count == 0 || f->now - e.start >= f->window_s) {
        e.start = f->now;
        e.count = 0;
    }
    e.count++;
    if (e.count >= f->max_fails)
        e.until = f->now + f->window_s;
    memcpy(buf, &e, sizeof e);
    *len = sizeof e;
    return 0;
}

static void record_failure(weftd_auth *a, const char *key, int64_t now)
{
    struct fail_arg f = {now, a->max_fails, a->window_s};
    int rc = weft_dict_update(a->rl, key, add_failure, &f);
    if (rc == -ENOSPC) {
        purge(a, now);
        rc = weft_dict_update(a->rl, key, add_failure, &f);
    }
    if (rc < 0)
        weftd_log(WEFT_LOG_WARN, "login rate table: %s", weft_strerror(rc));
}

/* ---- logins ----------------------------------------------------------------
 */

int weftd_auth_login(weftd_auth *a, const weft_addr *peer, const char *name,
                     const char *password, size_t password_len,
                     const struct weftd_user **user, int *retry_after)
{
    char key[RL_KEY_MAX];
    const struct weftd_user *u = NULL;
    int64_t now = now_s();

    peer_key(peer, key);
    if (limited(a, key, now, retry_after)) {
        if (*retry_after < 1)
            *retry_after = 1;
        return WEFTD_LOGIN_LIMITED;
    }
    for (size_t i = 0; i < a->users->n; i++)
        if (strcmp(a->users->v[i].name, name) == 0)
            u = &a->users->v[i];

    int rc = weft_semaphore_acquire(a->slots, SLOT_WAIT_MS);
    if (rc < 0)
        return -EAGAIN;
    /* The same work whether the name exists or not. */
    bool ok = crypto_pwhash_str_verify(u != NULL ? u->hash : a->dummy, password,
                                       password_len) == 0;
    weft_semaphore_release(a->slots);
    if (ok && u != NULL && password_len > 0) {
        *user = u;
        return WEFTD_LOGIN_OK;
    }
    record_failure(a, key, now_s());
    return WEFTD_LOGIN_FAILED;
}
