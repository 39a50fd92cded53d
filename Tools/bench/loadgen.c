/*
 * loadgen: a closed-loop HTTP/1.1 load generator for Tools/bench.
 *
 * Why not wrk: wrk cannot do HEAD (its parser waits for the Content-Length body a HEAD
 * response never sends) and cannot stop after a number of requests (populating keys).
 * This does what the benchmark needs and nothing more, in C with epoll so the client
 * stays far below the server's CPU: T threads, C keep-alive connections in all, each
 * with one request outstanding; every request takes the next line of a file of request
 * targets (presigned S3 paths, or a static file's path), so a run walks distinct keys.
 *
 *   loadgen -p PORT -m METHOD -f PATHS [-a ADDR] [-H HOST] [-s BODY_BYTES]
 *           [-c CONNS] [-t THREADS] [-d SECONDS] [-n COUNT] [-e LENGTH]
 *
 * Duration mode (no -n): runs -d seconds, cycling through the lines (a PUT run that
 * outlasts its lines overwrites keys: reported as `wrapped`). Count mode (-n): sends
 * exactly COUNT requests (lines 0..COUNT-1), -d is then the deadline. A request cut by
 * a socket error is retried on a new connection, up to 3 times. With -e, a 2xx response
 * whose Content-Length is not LENGTH counts as `wrong_length` (a GET or HEAD that did not
 * find the object it was meant to).
 *
 * Output, one `name value` per line: ok (2xx responses), non2xx, sock_errors, wrong_length,
 * status_NNN per code seen, duration_s, ops_s (2xx per second), p50_ms, p99_ms,
 * mean_ms, max_ms (over all complete responses), cpu_s (loadgen's own CPU time, to show
 * the client is not the bottleneck), wrapped, unfinished (count mode), and
 * first_error (the first non-2xx response's start) when there was one.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define RECV_BUF (256 * 1024)
#define HEAD_MAX (64 * 1024)
#define MAX_RETRIES 3

enum phase { IDLE, SENDING, HEADERS, BODY_LENGTH, BODY_EOF, CHUNK_SIZE, CHUNK_DATA, CHUNK_CRLF, TRAILERS, DONE };

struct conn {
    int fd;
    enum phase phase;
    uint64_t index;            /* line of this request */
    int retries;
    char head[8192];           /* request line and headers */
    size_t head_len, sent;     /* bytes of head+body sent */
    double started;
    char *buf;                 /* received bytes not yet consumed */
    size_t len;
    int status;
    int close_after;
    int want_out;              /* EPOLLOUT is watched: the last write did not take it all */
    uint64_t remaining;        /* body bytes (or chunk bytes) still to come */
    struct worker *worker;
};

struct worker {
    pthread_t thread;
    int epfd;
    struct conn *conns;
    int nconns;
    uint32_t *lat_us;
    size_t nlat, caplat;
    uint64_t ok, non2xx, sock_errors, wrong_length;
    uint64_t status[600];
    char first_error[256];
};

static struct {
    struct sockaddr_in addr;
    const char *method;
    char host[256];
    char **lines;
    uint64_t nlines;
    char *body;
    size_t body_len;
    uint64_t count;            /* 0: duration mode */
    long long expect_length;   /* -1: not checked */
    double deadline;
    int is_head;
} cfg;

static atomic_uint_fast64_t next_index;
static atomic_int stopping;
static atomic_uint_fast64_t wrapped;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what) {
    perror(what);
    exit(2);
}

static int open_socket(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    /* Loopback: a blocking connect returns at once; non-blocking after. */
    if (connect(fd, (struct sockaddr *)&cfg.addr, sizeof cfg.addr) < 0) {
        close(fd);
        return -1;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

static void watch(struct conn *c, uint32_t events, int op) {
    struct epoll_event ev = { .events = events, .data.ptr = c };
    if (epoll_ctl(c->worker->epfd, op, c->fd, &ev) < 0) die("epoll_ctl");
    c->want_out = (events & EPOLLOUT) != 0;
}

static void finish(struct conn *c) {
    if (c->fd >= 0) {
        epoll_ctl(c->worker->epfd, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
        c->fd = -1;
    }
    c->phase = DONE;
}

static void send_more(struct conn *c);

/* Takes the next line, or finishes the connection when the run is over. */
static void start_request(struct conn *c, int retry) {
    if (atomic_load(&stopping) || now() > cfg.deadline) { finish(c); return; }
    if (!retry) {
        uint64_t i = atomic_fetch_add(&next_index, 1);
        if (cfg.count && i >= cfg.count) { finish(c); return; }
        if (i >= cfg.nlines && i % cfg.nlines == 0) atomic_fetch_add(&wrapped, 1);
        c->index = i % cfg.nlines;
        c->retries = 0;
    }
    int n;
    if (cfg.body_len > 0)
        n = snprintf(c->head, sizeof c->head,
                     "%s %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/octet-stream\r\n"
                     "Content-Length: %zu\r\n\r\n", cfg.method, cfg.lines[c->index], cfg.host, cfg.body_len);
    else
        n = snprintf(c->head, sizeof c->head, "%s %s HTTP/1.1\r\nHost: %s\r\n\r\n",
                     cfg.method, cfg.lines[c->index], cfg.host);
    if (n < 0 || (size_t)n >= sizeof c->head) { fprintf(stderr, "request line too long\n"); exit(2); }
    c->head_len = n;
    c->sent = 0;
    c->len = 0;
    c->status = 0;
    c->close_after = 0;
    c->phase = SENDING;
    c->started = now();
    send_more(c);
}

/* A socket error: count it, reconnect, and send the same request again (bounded). */
static void fail(struct conn *c) {
    struct worker *w = c->worker;
    w->sock_errors++;
    if (c->fd >= 0) {
        epoll_ctl(w->epfd, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
    }
    c->fd = open_socket();
    if (c->fd < 0) { finish(c); return; }
    watch(c, EPOLLIN, EPOLL_CTL_ADD);
    if (++c->retries > MAX_RETRIES) { start_request(c, 0); return; }
    start_request(c, 1);
}

static void send_more(struct conn *c) {
    size_t total = c->head_len + cfg.body_len;
    while (c->sent < total) {
        struct iovec iov[2];
        int n = 0;
        if (c->sent < c->head_len) {
            iov[n].iov_base = c->head + c->sent;
            iov[n++].iov_len = c->head_len - c->sent;
            if (cfg.body_len) { iov[n].iov_base = cfg.body; iov[n++].iov_len = cfg.body_len; }
        } else {
            size_t off = c->sent - c->head_len;
            iov[n].iov_base = cfg.body + off;
            iov[n++].iov_len = cfg.body_len - off;
        }
        ssize_t w = writev(c->fd, iov, n);
        if (w < 0) {
            if (errno == EAGAIN) {
                if (!c->want_out) watch(c, EPOLLIN | EPOLLOUT, EPOLL_CTL_MOD);
                return;
            }
            fail(c);
            return;
        }
        c->sent += w;
    }
    c->phase = HEADERS;
    if (c->want_out) watch(c, EPOLLIN, EPOLL_CTL_MOD);   /* most requests never need EPOLLOUT */
}

static void record(struct conn *c) {
    struct worker *w = c->worker;
    double done = now();
    if (c->status >= 200 && c->status < 300) w->ok++; else w->non2xx++;
    if (c->status > 0 && c->status < 600) w->status[c->status]++;
    if (w->nlat == w->caplat) {
        w->caplat = w->caplat ? w->caplat * 2 : 65536;
        w->lat_us = realloc(w->lat_us, w->caplat * sizeof *w->lat_us);
        if (!w->lat_us) die("realloc");
    }
    double us = (done - c->started) * 1e6;
    w->lat_us[w->nlat++] = us > 4e9 ? 4000000000u : (uint32_t)us;
}

static void consume(struct conn *c, size_t n) {
    memmove(c->buf, c->buf + n, c->len - n);
    c->len -= n;
}

/* Parses the status line and headers; returns 0 when more bytes are needed, -1 on error. */
static int parse_head(struct conn *c) {
    char *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
    if (!end) return c->len >= HEAD_MAX ? -1 : 0;
    size_t head_len = end - c->buf + 4;
    int minor;
    if (sscanf(c->buf, "HTTP/1.%d %d", &minor, &c->status) != 2) return -1;
    int chunked = 0, has_length = 0;
    uint64_t length = 0;
    c->close_after = minor == 0;
    for (char *line = memchr(c->buf, '\n', head_len); line && line < end; line = memchr(line, '\n', end - line)) {
        line++;
        if (!strncasecmp(line, "content-length:", 15)) { length = strtoull(line + 15, NULL, 10); has_length = 1; }
        else if (!strncasecmp(line, "transfer-encoding:", 18)) {
            char *eol = memchr(line, '\r', end + 2 - line);
            chunked = eol && memmem(line, eol - line, "chunked", 7) != NULL;
        } else if (!strncasecmp(line, "connection:", 11)) {
            char *eol = memchr(line, '\r', end + 2 - line);
            if (eol && memmem(line, eol - line, "close", 5)) c->close_after = 1;
            if (eol && memmem(line, eol - line, "keep-alive", 10)) c->close_after = 0;
        }
    }
    struct worker *w = c->worker;
    if ((c->status < 200 || c->status >= 300) && !w->first_error[0]) {
        size_t n = c->len < sizeof w->first_error - 1 ? c->len : sizeof w->first_error - 1;
        for (size_t i = 0; i < n; i++) w->first_error[i] = (c->buf[i] >= 32 && c->buf[i] < 127) ? c->buf[i] : ' ';
        w->first_error[n] = 0;
    }
    if (cfg.expect_length >= 0 && c->status >= 200 && c->status < 300 &&
        (!has_length || (long long)length != cfg.expect_length))
        w->wrong_length++;
    consume(c, head_len);
    if (c->status >= 100 && c->status < 200) { c->status = 0; return 1; } /* interim: next head */
    if (cfg.is_head || c->status == 204 || c->status == 304) { c->remaining = 0; c->phase = BODY_LENGTH; }
    else if (chunked) c->phase = CHUNK_SIZE;
    else if (has_length) { c->remaining = length; c->phase = BODY_LENGTH; }
    else { c->phase = BODY_EOF; c->close_after = 1; }
    return 1;
}

/* Advances through the received bytes; returns 1 when the response is complete. */
static int advance(struct conn *c) {
    for (;;) {
        switch (c->phase) {
        case HEADERS: {
            int r = parse_head(c);
            if (r <= 0) return r;
            break;
        }
        case BODY_LENGTH:
        case CHUNK_DATA: {
            size_t n = c->len < c->remaining ? c->len : c->remaining;
            consume(c, n);
            c->remaining -= n;
            if (c->remaining) return 0;
            if (c->phase == BODY_LENGTH) return 1;
            c->phase = CHUNK_CRLF;
            break;
        }
        case BODY_EOF:
            c->len = 0;
            return 0;
        case CHUNK_CRLF:
            if (c->len < 2) return 0;
            consume(c, 2);
            c->phase = CHUNK_SIZE;
            break;
        case CHUNK_SIZE: {
            char *eol = memmem(c->buf, c->len, "\r\n", 2);
            if (!eol) return c->len > 1024 ? -1 : 0;
            c->remaining = strtoull(c->buf, NULL, 16);
            consume(c, eol - c->buf + 2);
            c->phase = c->remaining ? CHUNK_DATA : TRAILERS;
            break;
        }
        case TRAILERS: {
            char *eol = memmem(c->buf, c->len, "\r\n", 2);
            if (!eol) return 0;
            int empty = eol == c->buf;
            consume(c, eol - c->buf + 2);
            if (empty) return 1;
            break;
        }
        default:
            return -1;
        }
    }
}

static void complete(struct conn *c) {
    record(c);
    /* No pipelining: leftover bytes, or an answer before the whole body was sent, leave
     * the stream unusable. */
    if (c->len != 0 || c->close_after || c->sent < c->head_len + cfg.body_len) {
        epoll_ctl(c->worker->epfd, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
        c->fd = open_socket();
        if (c->fd < 0) { c->worker->sock_errors++; finish(c); return; }
        watch(c, EPOLLIN, EPOLL_CTL_ADD);
    }
    start_request(c, 0);
}

static void on_readable(struct conn *c) {
    for (;;) {
        if (c->len == RECV_BUF) { fail(c); return; }
        ssize_t r = read(c->fd, c->buf + c->len, RECV_BUF - c->len);
        if (r < 0) {
            if (errno == EAGAIN) return;
            fail(c);
            return;
        }
        if (r == 0) {
            if (c->phase == BODY_EOF) { c->close_after = 1; complete(c); }
            else fail(c);
            return;
        }
        if (c->phase == SENDING || c->phase == IDLE) { fail(c); return; }  /* an answer before the body: an error */
        c->len += r;
        int done = advance(c);
        if (done < 0) { fail(c); return; }
        if (done) { complete(c); return; }
    }
}

static void *run_worker(void *arg) {
    struct worker *w = arg;
    struct epoll_event events[256];
    for (int i = 0; i < w->nconns; i++) start_request(&w->conns[i], 0);
    for (;;) {
        int active = 0;
        for (int i = 0; i < w->nconns; i++) active += w->conns[i].phase != DONE;
        if (!active) break;
        if (atomic_load(&stopping) || now() > cfg.deadline) break;
        int n = epoll_wait(w->epfd, events, 256, 50);
        if (n < 0 && errno != EINTR) die("epoll_wait");
        for (int i = 0; i < n; i++) {
            struct conn *c = events[i].data.ptr;
            if (c->phase == DONE) continue;
            if (c->phase == SENDING && (events[i].events & EPOLLOUT)) send_more(c);
            else if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
                if (c->phase == SENDING) {
                    /* The server answered before taking the whole body (an error): read it. */
                    c->phase = HEADERS;
                }
                on_readable(c);
            }
        }
    }
    return NULL;
}

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

static void read_lines(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) die(path);
    size_t cap = 1024;
    cfg.lines = malloc(cap * sizeof *cfg.lines);
    char *line = NULL;
    size_t n = 0;
    ssize_t len;
    while ((len = getline(&line, &n, f)) > 0) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
        if (!len) continue;
        if (cfg.nlines == cap) cfg.lines = realloc(cfg.lines, (cap *= 2) * sizeof *cfg.lines);
        cfg.lines[cfg.nlines++] = strdup(line);
    }
    free(line);
    fclose(f);
    if (!cfg.nlines) { fprintf(stderr, "%s: no request targets\n", path); exit(2); }
}

static void usage(void) {
    fprintf(stderr, "usage: loadgen -p PORT -m METHOD -f PATHS [-a ADDR] [-H HOST] [-s BODY_BYTES]\n"
                    "               [-c CONNS] [-t THREADS] [-d SECONDS] [-n COUNT] [-e LENGTH]\n");
    exit(2);
}

int main(int argc, char **argv) {
    const char *addr = "127.0.0.1", *paths = NULL, *host = NULL;
    int port = 0, conns = 16, threads = 2, opt;
    double seconds = 10;
    cfg.method = "GET";
    cfg.expect_length = -1;
    while ((opt = getopt(argc, argv, "a:p:H:m:f:s:c:t:d:n:e:")) != -1) {
        switch (opt) {
        case 'a': addr = optarg; break;
        case 'p': port = atoi(optarg); break;
        case 'H': host = optarg; break;
        case 'm': cfg.method = optarg; break;
        case 'f': paths = optarg; break;
        case 's': cfg.body_len = strtoull(optarg, NULL, 10); break;
        case 'c': conns = atoi(optarg); break;
        case 't': threads = atoi(optarg); break;
        case 'd': seconds = atof(optarg); break;
        case 'n': cfg.count = strtoull(optarg, NULL, 10); break;
        case 'e': cfg.expect_length = atoll(optarg); break;
        default: usage();
        }
    }
    if (!port || !paths || conns < 1 || threads < 1 || seconds <= 0) usage();
    if (threads > conns) threads = conns;
    signal(SIGPIPE, SIG_IGN);
    cfg.addr.sin_family = AF_INET;
    cfg.addr.sin_port = htons(port);
    if (inet_pton(AF_INET, addr, &cfg.addr.sin_addr) != 1) usage();
    snprintf(cfg.host, sizeof cfg.host, "%s", host ? host : "");
    if (!host) snprintf(cfg.host, sizeof cfg.host, "%s:%d", addr, port);
    cfg.is_head = !strcmp(cfg.method, "HEAD");
    read_lines(paths);
    if (cfg.body_len) {
        /* Random bodies: SeaweedFS compresses compressible ones. */
        cfg.body = malloc(cfg.body_len);
        int fd = open("/dev/urandom", O_RDONLY);
        size_t got = 0;
        while (fd >= 0 && got < cfg.body_len) {
            ssize_t r = read(fd, cfg.body + got, cfg.body_len - got);
            if (r <= 0) die("/dev/urandom");
            got += r;
        }
        close(fd);
    }

    struct worker *workers = calloc(threads, sizeof *workers);
    for (int t = 0; t < threads; t++) {
        struct worker *w = &workers[t];
        w->nconns = conns / threads + (t < conns % threads);
        w->conns = calloc(w->nconns, sizeof *w->conns);
        w->epfd = epoll_create1(0);
        if (w->epfd < 0) die("epoll_create1");
        for (int i = 0; i < w->nconns; i++) {
            struct conn *c = &w->conns[i];
            c->worker = w;
            c->buf = malloc(RECV_BUF);
            c->fd = open_socket();
            if (c->fd < 0) die("connect");
            watch(c, EPOLLIN, EPOLL_CTL_ADD);
        }
    }

    double start = now();
    cfg.deadline = start + seconds;
    for (int t = 0; t < threads; t++) pthread_create(&workers[t].thread, NULL, run_worker, &workers[t]);
    if (!cfg.count) {
        struct timespec ts = { (time_t)seconds, (long)((seconds - (time_t)seconds) * 1e9) };
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {}
        atomic_store(&stopping, 1);
    }
    for (int t = 0; t < threads; t++) pthread_join(workers[t].thread, NULL);
    double elapsed = cfg.count ? now() - start : seconds;

    uint64_t ok = 0, non2xx = 0, sock_errors = 0, wrong_length = 0, nlat = 0, status[600] = {0};
    const char *first_error = "";
    for (int t = 0; t < threads; t++) {
        struct worker *w = &workers[t];
        ok += w->ok;
        non2xx += w->non2xx;
        sock_errors += w->sock_errors;
        wrong_length += w->wrong_length;
        nlat += w->nlat;
        for (int s = 0; s < 600; s++) status[s] += w->status[s];
        if (!first_error[0] && w->first_error[0]) first_error = w->first_error;
    }
    uint32_t *lat = malloc((nlat ? nlat : 1) * sizeof *lat);
    size_t k = 0;
    double sum = 0;
    for (int t = 0; t < threads; t++)
        for (size_t i = 0; i < workers[t].nlat; i++) { lat[k++] = workers[t].lat_us[i]; sum += workers[t].lat_us[i]; }
    qsort(lat, nlat, sizeof *lat, cmp_u32);
    printf("ok %llu\nnon2xx %llu\nsock_errors %llu\nwrong_length %llu\n", (unsigned long long)ok,
           (unsigned long long)non2xx, (unsigned long long)sock_errors, (unsigned long long)wrong_length);
    for (int s = 0; s < 600; s++)
        if (status[s]) printf("status_%d %llu\n", s, (unsigned long long)status[s]);
    printf("duration_s %.3f\nops_s %.1f\n", elapsed, ok / elapsed);
    if (nlat) {
        printf("p50_ms %.3f\np99_ms %.3f\nmean_ms %.3f\nmax_ms %.3f\n", lat[(nlat - 1) / 2] / 1e3,
               lat[(size_t)((nlat - 1) * 0.99)] / 1e3, sum / nlat / 1e3, lat[nlat - 1] / 1e3);
    }
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    printf("cpu_s %.3f\n", usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6 +
                             usage.ru_stime.tv_sec + usage.ru_stime.tv_usec / 1e6);
    printf("wrapped %llu\n", (unsigned long long)atomic_load(&wrapped));
    if (cfg.count) {
        uint64_t done = ok + non2xx;
        printf("unfinished %llu\n", (unsigned long long)(cfg.count > done ? cfg.count - done : 0));
    }
    if (first_error[0]) printf("first_error %s\n", first_error);
    return 0;
}
