/* ops_server.c — the operations endpoint's listener and its one thread (ops.h). */
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

struct ops_server {
    struct ops_server_opts o;
    char *component;
    int fd;      /* listening socket */
    int stop[2]; /* a pipe: writing to it stops the thread */
    int port;
    pthread_t thread;
    bool started;
};

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

/* Waits until `fd` is ready for `events` or the stop pipe is readable, at most until
 * `deadline_ms` (monotonic). True when fd is ready. */
static bool wait_fd(struct ops_server *s, int fd, short events, uint64_t deadline_ms)
{
    for (;;) {
        uint64_t now = clock_mono_ms();
        if (now >= deadline_ms)
            return false;
        struct pollfd p[2] = {{.fd = fd, .events = events}, {.fd = s->stop[0], .events = POLLIN}};
        int n = poll(p, 2, (int)(deadline_ms - now));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0 || p[1].revents)
            return false;
        return true;
    }
}

/* Sends all of `data`, by `deadline_ms`. */
static bool send_all(struct ops_server *s, int fd, const char *data, size_t len,
                     uint64_t deadline_ms)
{
    while (len) {
        if (!wait_fd(s, fd, POLLOUT, deadline_ms))
            return false;
        ssize_t w = send(fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            continue;
        if (w <= 0)
            return false;
        data += w;
        len -= (size_t)w;
    }
    return true;
}

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

/* Answers `code` with `body` (HEAD: headers only) and closes the connection. */
static void answer(struct ops_server *s, int fd, int code, const char *type, const char *body,
                   size_t len, bool head, uint64_t deadline_ms)
{
    char h[256];
    int n = snprintf(h, sizeof h,
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s"
                     "Connection: close\r\n\r\n",
                     code, reason(code), type, len, code == 405 ? "Allow: GET, HEAD\r\n" : "");
    if (n > 0 && (size_t)n < sizeof h && send_all(s, fd, h, (size_t)n, deadline_ms) && !head)
        send_all(s, fd, body, len, deadline_ms);
}

static void answer_text(struct ops_server *s, int fd, int code, const char *text,
                        uint64_t deadline_ms)
{
    answer(s, fd, code, "text/plain; charset=utf-8", text, strlen(text), false, deadline_ms);
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

static void serve_request(struct ops_server *s, int fd, const struct ops_request *r,
                          uint64_t deadline_ms)
{
    bool metrics = strcmp(r->path, "/metrics") == 0, health = strcmp(r->path, "/healthz") == 0;
    if (!metrics && !health) {
        answer_text(s, fd, 404, "not found: the paths are /metrics and /healthz\n", deadline_ms);
        return;
    }
    if (r->method == OPS_OTHER_METHOD) {
        answer_text(s, fd, 405, "only GET and HEAD\n", deadline_ms);
        return;
    }
    bool head = r->method == OPS_HEAD;
    struct buf b;
    buf_init(&b);
    if (metrics) {
        int rc = s->o.collect ? s->o.collect(s->o.arg, &b) : STELE_OK;
        if (rc != STELE_OK) {
            log_warn(s->component, "cannot collect the metrics: %s", stele_strerror(rc));
            answer_text(s, fd, 500, "cannot collect the metrics\n", deadline_ms);
        } else {
            answer(s, fd, 200, "text/plain; version=0.0.4; charset=utf-8", (const char *)b.data,
                   b.len, head, deadline_ms);
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
        answer(s, fd, ok ? 200 : 503, "application/json", (const char *)b.data, b.len, head,
               deadline_ms);
    }
    buf_release(&b);
}

/* Reads one request from `fd` and answers it. */
static void serve_connection(struct ops_server *s, int fd)
{
    uint64_t deadline = clock_mono_ms() + OPS_IO_TIMEOUT_MS;
    uint8_t req[OPS_MAX_REQUEST];
    size_t len = 0;
    struct ops_request r;
    int rc = STELE_OK;
    for (;;) {
        rc = ops_parse_request(req, len, &r);
        if (rc != STELE_OK || r.complete || len == sizeof req)
            break;
        if (!wait_fd(s, fd, POLLIN, deadline))
            return; /* too slow, or stopping: closed without an answer */
        ssize_t n = recv(fd, req + len, sizeof req - len, MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            continue;
        if (n <= 0)
            return; /* the client went away */
        len += (size_t)n;
    }
    if (rc == STELE_ERR_TOO_BIG)
        answer_text(s, fd, 414, "the path is too long\n", deadline);
    else if (rc == STELE_ERR_LIMIT || (rc == STELE_OK && !r.complete))
        answer_text(s, fd, 431, "the request is too large\n", deadline);
    else if (rc != STELE_OK)
        answer_text(s, fd, 400, "not an HTTP/1.x request\n", deadline);
    else
        serve_request(s, fd, &r, deadline);
}

static void *run(void *arg)
{
    struct ops_server *s = arg;
    for (;;) {
        struct pollfd p[2] = {{.fd = s->fd, .events = POLLIN},
                              {.fd = s->stop[0], .events = POLLIN}};
        int n = poll(p, 2, -1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 || p[1].revents)
            break;
        int c = accept4(s->fd, NULL, NULL, SOCK_CLOEXEC);
        if (c < 0) {
            if (errno == EMFILE || errno == ENFILE)
                usleep(100 * 1000); /* out of descriptors: let some close */
            continue;
        }
        serve_connection(s, c);
        close(c);
    }
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
