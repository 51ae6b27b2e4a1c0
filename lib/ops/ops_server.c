/* ops_server.c — the operations endpoint's listener and its one thread (ops.h): one poll loop
 * over the listening socket and up to OPS_MAX_CONNS connections, each with its own deadline, so
 * that a client that stalls holds its own connection only. */
#include "ops/ops.h"

#include "base/buf.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/status.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Connections served at once; past that the oldest one still sending its request gives way. */
#define OPS_MAX_CONNS 32
/* How long a connection whose answer is sent may still send what it sent beyond its request
 * (read and dropped) before it is closed. */
#define OPS_LINGER_MS 200

enum ops_conn_state { OPS_READING, OPS_WRITING, OPS_DRAINING };

struct ops_conn {
    int fd; /* -1: a free slot */
    enum ops_conn_state state;
    uint64_t since, deadline;    /* accepted at; closed at (monotonic ms) */
    uint8_t in[OPS_MAX_REQUEST]; /* what it sent so far */
    size_t len;
    struct buf out; /* the answer */
    size_t sent;    /* octets of it sent */
};

struct ops_server {
    struct ops_server_opts o;
    char *component;
    int fd;      /* listening socket */
    int stop[2]; /* a pipe: writing to it stops the thread */
    int port;
    pthread_t thread;
    bool started;
    uint64_t accept_pause_until; /* out of descriptors: no accept before (monotonic ms) */
    struct ops_conn conns[OPS_MAX_CONNS];
};

static void conn_close(struct ops_conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    buf_release(&c->out);
}

/* Splits "host:port" ("[v6]:port") and binds a listening socket. */
static int listen_on(const char *addr, int *fd_out, int *port_out, char **errmsg)
{
    const char *colon = addr ? strrchr(addr, ':') : NULL;
    char host[256];
    size_t hl = colon ? (size_t)(colon - addr) : 0;
    const char *h = addr;
    if (hl >= 2 && addr[0] == '[' && addr[hl - 1] == ']')
        h++, hl -= 2;
    if (!colon || hl == 0 || hl >= sizeof host || !colon[1])
        return stele_errf(errmsg, STELE_ERR_CONFIG,
                          "operations address \"%s\" is not host:port (e.g. 127.0.0.1:9443)",
                          addr ? addr : "");
    memcpy(host, h, hl);
    host[hl] = 0;
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV},
                    *res = NULL;
    int g = getaddrinfo(host, colon + 1, &hints, &res);
    if (g != 0)
        return stele_errf(errmsg, STELE_ERR_CONFIG, "operations address \"%s\": %s", addr,
                          gai_strerror(g));
    int fd = -1, err = 0;
    for (struct addrinfo *r = res; r && fd < 0; r = r->ai_next) {
        fd = socket(r->ai_family, r->ai_socktype | SOCK_CLOEXEC, r->ai_protocol);
        if (fd < 0) {
            err = errno;
            continue;
        }
        int one = 1;
        (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, r->ai_addr, r->ai_addrlen) != 0 || listen(fd, 16) != 0) {
            err = errno;
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd < 0)
        return stele_errf(errmsg, STELE_ERR_IO, "cannot listen on operations address %s: %s", addr,
                          strerror(err));
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    int port = 0;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
        port = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                        : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    *fd_out = fd;
    *port_out = port;
    return STELE_OK;
}

/* ---- answers ------------------------------------------------------------------------------ */

static const char *reason(int code)
{
    switch (code) {
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 414:
        return "URI Too Long";
    case 431:
        return "Request Header Fields Too Large";
    case 503:
        return "Service Unavailable";
    default:
        return "Internal Server Error";
    }
}

/* Writes the answer `code` with `body` (len octets; headers only for HEAD) into `out`. */
static void answer(struct buf *out, int code, const char *type, const char *body, size_t len,
                   bool head)
{
    buf_printf(out,
               "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s"
               "Connection: close\r\n\r\n",
               code, reason(code), type, len, code == 405 ? "Allow: GET, HEAD\r\n" : "");
    if (!head)
        buf_append(out, body, len);
}

static void answer_text(struct buf *out, int code, const char *text, bool head)
{
    answer(out, code, "text/plain; charset=utf-8", text, strlen(text), head);
}

/* Appends `s` as a JSON string's content (the health reason). */
static void json_text(struct buf *b, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            buf_printf(b, "\\%c", c);
        else if (c < 0x20)
            buf_printf(b, "\\u%04x", c);
        else
            buf_append_byte(b, c);
    }
}

/* The answer to the complete request `r`, into `out`. */
static void serve_request(struct ops_server *s, const struct ops_request *r, struct buf *out)
{
    bool head = r->method == OPS_HEAD;
    bool metrics = strcmp(r->path, "/metrics") == 0, health = strcmp(r->path, "/healthz") == 0;
    if (!metrics && !health) {
        answer_text(out, 404, "not found: the paths are /metrics and /healthz\n", head);
        return;
    }
    if (r->method == OPS_OTHER_METHOD) {
        answer_text(out, 405, "only GET and HEAD\n", false);
        return;
    }
    struct buf b;
    buf_init(&b);
    if (metrics) {
        int rc = s->o.collect ? s->o.collect(s->o.arg, &b) : STELE_OK;
        if (rc != STELE_OK) {
            log_warn(s->component, "cannot collect the metrics: %s", stele_strerror(rc));
            answer_text(out, 500, "cannot collect the metrics\n", head);
        } else {
            answer(out, 200, "text/plain; version=0.0.4; charset=utf-8", (const char *)b.data,
                   b.len, head);
        }
    } else {
        char why[512] = "";
        bool ok = !s->o.health || s->o.health(s->o.arg, why, sizeof why);
        why[sizeof why - 1] = 0;
        buf_printf(&b, "{\"status\":\"%s\"", ok ? "OK" : "unavailable");
        if (!ok) {
            buf_printf(&b, ",\"reason\":\"");
            json_text(&b, why);
            buf_printf(&b, "\"");
        }
        buf_printf(&b, "}\n");
        answer(out, ok ? 200 : 503, "application/json", (const char *)b.data, b.len, head);
    }
    buf_release(&b);
}

/* ---- connections ------------------------------------------------------------------------- */

/* Reads what connection `c` sent; once it is a whole request (or cannot become one), its
 * answer goes into c->out and the connection turns to writing. */
static void on_readable(struct ops_server *s, struct ops_conn *c)
{
    ssize_t n = recv(c->fd, c->in + c->len, sizeof c->in - c->len, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n <= 0) { /* the client went away, or shut its side before a whole request */
        conn_close(c);
        return;
    }
    c->len += (size_t)n;
    struct ops_request r;
    int rc = ops_parse_request(c->in, c->len, &r);
    if (rc == STELE_OK && !r.complete && c->len < sizeof c->in)
        return; /* more to come */
    bool head = r.method == OPS_HEAD;
    if (rc == STELE_ERR_TOO_BIG)
        answer_text(&c->out, 414, "the path is too long\n", head);
    else if (rc == STELE_ERR_LIMIT || (rc == STELE_OK && !r.complete))
        answer_text(&c->out, 431, "the request is too large\n", head);
    else if (rc != STELE_OK)
        answer_text(&c->out, 400, "not an HTTP/1.x request\n", false);
    else
        serve_request(s, &r, &c->out);
    c->state = OPS_WRITING;
}

/* Sends what is left of the answer; once all is sent, shuts the sending side and drains what
 * the client may still send (a body, headers past the limit), so that closing does not reset
 * the connection before the client has read the answer. */
static void on_writable(struct ops_conn *c)
{
    while (c->sent < c->out.len) {
        ssize_t w =
            send(c->fd, c->out.data + c->sent, c->out.len - c->sent, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (w <= 0) {
            conn_close(c);
            return;
        }
        c->sent += (size_t)w;
    }
    shutdown(c->fd, SHUT_WR);
    c->state = OPS_DRAINING;
    uint64_t linger = clock_mono_ms() + OPS_LINGER_MS;
    if (linger < c->deadline)
        c->deadline = linger;
}

/* Reads and drops what the client still sends, until it closes (or the deadline). */
static void on_drain(struct ops_conn *c)
{
    uint8_t sink[4096];
    ssize_t n = recv(c->fd, sink, sizeof sink, MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
        conn_close(c);
}

/* The connection that gives way to a new one: the oldest whose answer is sent (closing it loses
 * nothing), else the oldest still sending its request; NULL when all are being answered. */
static struct ops_conn *victim(struct ops_server *s)
{
    struct ops_conn *oldest = NULL, *drained = NULL;
    for (size_t i = 0; i < OPS_MAX_CONNS; i++) {
        struct ops_conn *c = &s->conns[i];
        if (c->fd < 0)
            continue;
        if (c->state == OPS_DRAINING && (!drained || c->since < drained->since))
            drained = c;
        else if (c->state == OPS_READING && (!oldest || c->since < oldest->since))
            oldest = c;
    }
    return drained ? drained : oldest;
}

/* Takes a new connection into a free slot; with none free, or with no descriptor left for it,
 * victim() gives way (a client holding slots or descriptors with idle or drained connections
 * cannot keep others out); only when every connection is being answered is the new one closed
 * (or, out of descriptors, left queued for 100 ms). */
static void on_accept(struct ops_server *s)
{
    int fd = accept4(s->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0 && (errno == EMFILE || errno == ENFILE)) {
        struct ops_conn *v = victim(s); /* its descriptor is the one the new one needs */
        if (v) {
            conn_close(v);
            fd = accept4(s->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        }
    }
    if (fd < 0 && (errno == EMFILE || errno == ENFILE || errno == ENOMEM || errno == ENOBUFS))
        s->accept_pause_until = clock_mono_ms() + 100; /* let some close, or memory come back */
    if (fd < 0)
        return;
    struct ops_conn *slot = NULL;
    for (size_t i = 0; i < OPS_MAX_CONNS && !slot; i++)
        if (s->conns[i].fd < 0)
            slot = &s->conns[i];
    if (!slot && (slot = victim(s)))
        conn_close(slot);
    if (!slot) {
        close(fd);
        return;
    }
    slot->fd = fd;
    slot->state = OPS_READING;
    slot->len = slot->sent = 0;
    buf_clear(&slot->out);
    slot->since = clock_mono_ms();
    slot->deadline = slot->since + OPS_IO_TIMEOUT_MS;
}

static void *run(void *arg)
{
    struct ops_server *s = arg;
    struct pollfd p[OPS_MAX_CONNS + 2];
    struct ops_conn *of[OPS_MAX_CONNS + 2];
    for (;;) {
        uint64_t now = clock_mono_ms(), wake = UINT64_MAX;
        size_t n = 0;
        p[n++] = (struct pollfd){.fd = s->stop[0], .events = POLLIN};
        bool listening = now >= s->accept_pause_until;
        if (listening)
            p[n++] = (struct pollfd){.fd = s->fd, .events = POLLIN};
        else
            wake = s->accept_pause_until;
        size_t first_conn = n;
        for (size_t i = 0; i < OPS_MAX_CONNS; i++) {
            struct ops_conn *c = &s->conns[i];
            if (c->fd < 0)
                continue;
            if (now >= c->deadline) { /* too slow to send its request or take the answer */
                conn_close(c);
                continue;
            }
            if (c->deadline < wake)
                wake = c->deadline;
            of[n] = c;
            p[n++] =
                (struct pollfd){.fd = c->fd, .events = c->state == OPS_WRITING ? POLLOUT : POLLIN};
        }
        int timeout = wake == UINT64_MAX ? -1 : (int)(wake - now);
        int k = poll(p, (nfds_t)n, timeout);
        if (k < 0 && errno != EINTR) { /* ENOMEM: the kernel's to mend; serve on after it */
            log_warn(s->component, "poll: %s", strerror(errno));
            usleep(100 * 1000);
            continue;
        }
        if (k <= 0)
            continue;
        if (p[0].revents)
            break; /* stopping */
        for (size_t i = first_conn; i < n; i++) {
            struct ops_conn *c = of[i];
            if (!p[i].revents || c->fd < 0)
                continue;
            if (c->state == OPS_READING)
                on_readable(s, c);
            else if (c->state == OPS_WRITING)
                on_writable(c);
            else
                on_drain(c);
        }
        if (listening && p[1].revents)
            on_accept(s);
    }
    for (size_t i = 0; i < OPS_MAX_CONNS; i++)
        conn_close(&s->conns[i]);
    return NULL;
}

int ops_server_start(const struct ops_server_opts *o, struct ops_server **out, char **errmsg)
{
    *out = NULL;
    struct ops_server *s = calloc(1, sizeof *s);
    if (!s || !(s->component = strdup(o->component ? o->component : "ops"))) {
        free(s);
        return stele_errf(errmsg, STELE_ERR_NOMEM, "out of memory");
    }
    s->o = *o;
    s->fd = s->stop[0] = s->stop[1] = -1;
    for (size_t i = 0; i < OPS_MAX_CONNS; i++) {
        s->conns[i].fd = -1;
        buf_init(&s->conns[i].out);
    }
    int rc = listen_on(o->listen, &s->fd, &s->port, errmsg);
    if (rc == STELE_OK && pipe2(s->stop, O_CLOEXEC) != 0)
        rc = stele_errf(errmsg, STELE_ERR_IO, "cannot create a pipe: %s", strerror(errno));
    if (rc == STELE_OK) {
        /* the thread takes no signal: the daemon's main thread handles them */
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, &old);
        int e = pthread_create(&s->thread, NULL, run, s);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (e != 0)
            rc = stele_errf(errmsg, STELE_ERR_NOMEM, "cannot start the operations thread: %s",
                            strerror(e));
        else
            s->started = true;
    }
    if (rc != STELE_OK) {
        ops_server_stop(s);
        return rc;
    }
    log_info(s->component, "operations endpoint on port %d: /metrics, /healthz", s->port);
    *out = s;
    return STELE_OK;
}

int ops_server_port(const struct ops_server *s)
{
    return s->port;
}

void ops_server_stop(struct ops_server *s)
{
    if (!s)
        return;
    if (s->started) {
        ssize_t w = write(s->stop[1], "x", 1);
        (void)w;
        pthread_join(s->thread, NULL);
    }
    if (s->fd >= 0)
        close(s->fd);
    if (s->stop[0] >= 0)
        close(s->stop[0]);
    if (s->stop[1] >= 0)
        close(s->stop[1]);
    free(s->component);
    free(s);
}
