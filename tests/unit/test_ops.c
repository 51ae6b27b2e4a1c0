/*
 * test_ops.c — ops/ops.h: the Prometheus text format, the HTTP request parser, and the
 * operations endpoint on a real socket: /metrics and /healthz answered, every other request
 * refused with the right code, a client that stalls does not keep others out for longer than
 * the timeout, and stopping does not wait for a stalled client.
 */
#include "testutil.h"

#include "base/buf.h"
#include "base/clock.h"
#include "base/status.h"
#include "ops/ops.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

static void text_format_escapes_and_prints_numbers(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b);
    assert_int_equal(ops_family(&b, "stele_tx_total", OPS_COUNTER, "a \\ and\na line"), STELE_OK);
    assert_int_equal(ops_sample(&b, "stele_tx_total", "code", "VALID", 12), STELE_OK);
    assert_int_equal(ops_sample(&b, "stele_tx_total", "code", "a\"b\\c\nd", 18446744073709551615.0),
                     STELE_OK);
    assert_int_equal(ops_family(&b, "stele_up", OPS_GAUGE, "up"), STELE_OK);
    assert_int_equal(ops_sample(&b, "stele_up", NULL, NULL, 0.25), STELE_OK);
    assert_int_equal(ops_sample(&b, "stele_up", NULL, NULL, -3), STELE_OK);
    buf_append_byte(&b, 0);
    assert_string_equal((char *)b.data, "# HELP stele_tx_total a \\\\ and\\na line\n"
                                        "# TYPE stele_tx_total counter\n"
                                        "stele_tx_total{code=\"VALID\"} 12\n"
                                        "stele_tx_total{code=\"a\\\"b\\\\c\\nd\"} "
                                        "1.8446744073709552e+19\n"
                                        "# HELP stele_up up\n"
                                        "# TYPE stele_up gauge\n"
                                        "stele_up 0.25\n"
                                        "stele_up -3\n");
    buf_release(&b);
}

/* A histogram's buckets are cumulative, end with +Inf equal to the count, and the sum is in
 * seconds. */
static void histograms_count_into_cumulative_buckets(void **state)
{
    (void)state;
    static const double bounds[] = {0.001, 0.01, 0.1};
    struct ops_hist h;
    ops_hist_init(&h, bounds, 3);
    ops_hist_observe_us(&h, 500);    /* 0.0005 s: le 0.001 */
    ops_hist_observe_us(&h, 1000);   /* exactly 0.001: le 0.001 */
    ops_hist_observe_us(&h, 20000);  /* le 0.1 */
    ops_hist_observe_us(&h, 250000); /* above every bound */
    struct buf b;
    buf_init(&b);
    assert_int_equal(ops_histogram(&b, "stele_x_seconds", "x", &h), STELE_OK);
    buf_append_byte(&b, 0);
    assert_string_equal((char *)b.data, "# HELP stele_x_seconds x\n"
                                        "# TYPE stele_x_seconds histogram\n"
                                        "stele_x_seconds_bucket{le=\"0.001\"} 2\n"
                                        "stele_x_seconds_bucket{le=\"0.01\"} 2\n"
                                        "stele_x_seconds_bucket{le=\"0.1\"} 3\n"
                                        "stele_x_seconds_bucket{le=\"+Inf\"} 4\n"
                                        "stele_x_seconds_sum 0.271500\n"
                                        "stele_x_seconds_count 4\n");
    buf_release(&b);
}

static int parse(const char *s, struct ops_request *r)
{
    return ops_parse_request((const uint8_t *)s, strlen(s), r);
}

static void requests_parse_as_http_1(void **state)
{
    (void)state;
    struct ops_request r;
    assert_int_equal(parse("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", &r), STELE_OK);
    assert_true(r.complete);
    assert_int_equal(r.method, OPS_GET);
    assert_string_equal(r.path, "/metrics");
    assert_int_equal(parse("HEAD /healthz?verbose=1 HTTP/1.0\n\n", &r), STELE_OK);
    assert_true(r.complete);
    assert_int_equal(r.method, OPS_HEAD);
    assert_string_equal(r.path, "/healthz");
    assert_int_equal(parse("POST /metrics HTTP/1.1\r\n\r\n", &r), STELE_OK);
    assert_int_equal(r.method, OPS_OTHER_METHOD);
    /* not yet complete: a request may still follow */
    const char *partial[] = {"", "GE", "GET /metrics HTTP/1.1\r",
                             "GET /metrics HTTP/1.1\r\nA: b\r\n"};
    for (size_t i = 0; i < sizeof partial / sizeof partial[0]; i++) {
        assert_int_equal(parse(partial[i], &r), STELE_OK);
        assert_false(r.complete);
    }
    /* not HTTP */
    const char *bad[] = {"\x16\x03\x01\x02\x00",         "GET\r\n\r\n",
                         "GET metrics HTTP/1.1\r\n\r\n", "GET /metrics HTTP/2.0\r\n\r\n",
                         "GET /metrics\r\n\r\n",         "GET /a b HTTP/1.1\r\n\r\n",
                         " GET / HTTP/1.1\r\n\r\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(parse(bad[i], &r), STELE_ERR_MALFORMED);
    static const uint8_t nul_header[] = "GET / HTTP/1.1\r\nA: \0\r\n\r\n";
    assert_int_equal(ops_parse_request(nul_header, sizeof nul_header - 1, &r), STELE_ERR_MALFORMED);
    /* too large */
    char big[OPS_MAX_REQUEST + 10];
    snprintf(big, sizeof big, "GET /%0300d HTTP/1.1\r\n\r\n", 0);
    assert_int_equal(parse(big, &r), STELE_ERR_TOO_BIG);
    memset(big, 0, sizeof big);
    strcpy(big, "GET / HTTP/1.1\r\nA: ");
    memset(big + strlen(big), 'a', OPS_MAX_REQUEST - strlen(big));
    assert_int_equal(ops_parse_request((uint8_t *)big, OPS_MAX_REQUEST, &r), STELE_ERR_LIMIT);
}

/* ---- the endpoint ---- */

static int healthy = 1;
static int collect_fails;

static int collect(void *arg, struct buf *out)
{
    (void)arg;
    if (collect_fails)
        return STELE_ERR_NOMEM;
    int rc = ops_family(out, "stele_test_total", OPS_COUNTER, "test");
    return rc ? rc : ops_sample(out, "stele_test_total", NULL, NULL, 7);
}

static bool health(void *arg, char *why, size_t len)
{
    (void)arg;
    if (!healthy)
        snprintf(why, len, "ledger \"failed\"\n");
    return healthy;
}

/* An endpoint on a free loopback port serving collect() (ops_server_stop() it). */
static struct ops_server *start_endpoint(void)
{
    struct ops_server_opts o = {.listen = "127.0.0.1:0", .collect = collect};
    struct ops_server *s = NULL;
    assert_int_equal(ops_server_start(&o, &s, NULL), STELE_OK);
    return s;
}

static int dial(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

/* Sends `req` (len octets) and returns the whole answer (free()). */
/* Everything `fd` sends until it closes, NUL-terminated (free()); closes fd. */
static char *read_all(int fd)
{
    struct buf b;
    buf_init(&b);
    char chunk[4096];
    ssize_t n;
    while ((n = recv(fd, chunk, sizeof chunk, 0)) > 0)
        buf_append(&b, chunk, (size_t)n);
    close(fd);
    buf_append_byte(&b, 0);
    return (char *)b.data;
}

static char *exchange(int port, const char *req, size_t len)
{
    int fd = dial(port);
    assert_int_equal(send(fd, req, len, MSG_NOSIGNAL), (ssize_t)len);
    return read_all(fd);
}

static char *get(int port, const char *req)
{
    return exchange(port, req, strlen(req));
}

static void expect(int port, const char *req, const char *status, const char *body_has)
{
    char *a = get(port, req);
    if (strncmp(a, status, strlen(status)) != 0 || (body_has && !strstr(a, body_has)))
        fail_msg("request %.40s: answered\n%s", req, a);
    free(a);
}

static void endpoint_answers_metrics_health_and_refusals(void **state)
{
    (void)state;
    struct ops_server_opts o = {
        .listen = "127.0.0.1:0", .component = "test-ops", .collect = collect, .health = health};
    struct ops_server *s = NULL;
    char *err = NULL;
    assert_int_equal(ops_server_start(&o, &s, &err), STELE_OK);
    int port = ops_server_port(s);
    assert_true(port > 0);
    expect(port, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 200 OK\r\n",
           "\r\n\r\n# HELP stele_test_total test\n# TYPE stele_test_total counter\n"
           "stele_test_total 7\n");
    expect(port, "GET /metrics HTTP/1.1\r\n\r\n", "HTTP/1.1 200 OK\r\n",
           "Content-Type: text/plain; version=0.0.4");
    char *head = get(port, "HEAD /metrics HTTP/1.1\r\n\r\n");
    assert_non_null(strstr(head, "Content-Length: 80\r\n"));
    assert_null(strstr(head, "stele_test_total 7"));
    free(head);
    expect(port, "GET /healthz HTTP/1.1\r\n\r\n", "HTTP/1.1 200 OK\r\n", "{\"status\":\"OK\"}");
    healthy = 0;
    expect(port, "GET /healthz HTTP/1.1\r\n\r\n", "HTTP/1.1 503 Service Unavailable\r\n",
           "{\"status\":\"unavailable\",\"reason\":\"ledger \\\"failed\\\"\\u000a\"}");
    healthy = 1;
    collect_fails = 1;
    expect(port, "GET /metrics HTTP/1.1\r\n\r\n", "HTTP/1.1 500 ", NULL);
    collect_fails = 0;
    expect(port, "GET / HTTP/1.1\r\n\r\n", "HTTP/1.1 404 Not Found\r\n", NULL);
    expect(port, "DELETE /metrics HTTP/1.1\r\n\r\n", "HTTP/1.1 405 ", "Allow: GET, HEAD");
    expect(port, "\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03", "HTTP/1.1 400 ", NULL);
    char big[OPS_MAX_REQUEST + 100];
    snprintf(big, sizeof big, "GET /metrics HTTP/1.1\r\nX: ");
    memset(big + strlen(big), 'x', sizeof big - strlen(big));
    char *a = exchange(port, big, sizeof big);
    assert_non_null(strstr(a, "HTTP/1.1 431 "));
    free(a);
    ops_server_stop(s);
}

static void a_stalled_client_holds_the_endpoint_for_the_timeout_at_most(void **state)
{
    (void)state;
    struct ops_server *s = start_endpoint();
    int port = ops_server_port(s);
    int stalled = dial(port);
    assert_int_equal(send(stalled, "GET /met", 8, MSG_NOSIGNAL), 8);
    uint64_t t0 = clock_mono_ms();
    expect(port, "GET /metrics HTTP/1.1\r\n\r\n", "HTTP/1.1 200 OK\r\n", "stele_test_total 7");
    uint64_t took = clock_mono_ms() - t0;
    print_message("answered after a stalled client in %llu ms\n", (unsigned long long)took);
    assert_true(took < OPS_IO_TIMEOUT_MS + 1500);
    char c;
    assert_int_equal(recv(stalled, &c, 1, 0), 0); /* closed without an answer */
    close(stalled);
    /* stopping does not wait for a client that stalls */
    stalled = dial(port);
    clock_sleep_ms(100);
    t0 = clock_mono_ms();
    ops_server_stop(s);
    assert_true(clock_mono_ms() - t0 < 1000);
    close(stalled);
}

static void a_bad_address_is_refused_clearly(void **state)
{
    (void)state;
    const char *bad[] = {"9443", "127.0.0.1:", ":9443", "no.such.host.invalid:9443", NULL};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct ops_server_opts o = {.listen = bad[i]};
        struct ops_server *s = (struct ops_server *)1;
        char *err = NULL;
        assert_int_not_equal(ops_server_start(&o, &s, &err), STELE_OK);
        assert_null(s);
        assert_non_null(err);
        print_message("%s: %s\n", bad[i] ? bad[i] : "(none)", err);
        free(err);
    }
    /* a port another socket holds */
    struct ops_server_opts o = {.listen = "127.0.0.1:0"};
    struct ops_server *s1 = NULL, *s2 = NULL;
    assert_int_equal(ops_server_start(&o, &s1, NULL), STELE_OK);
    char addr[64], *err = NULL;
    snprintf(addr, sizeof addr, "127.0.0.1:%d", ops_server_port(s1));
    o.listen = addr;
    assert_int_equal(ops_server_start(&o, &s2, &err), STELE_ERR_IO);
    assert_non_null(strstr(err, "cannot listen"));
    free(err);
    ops_server_stop(s1);
}

/* Clients that connect and send nothing hold their own connections only (review of
 * 2026-12-06: served one after another, five idle ones kept /healthz from answering for 10 s):
 * a probe behind five is answered at once, and one behind more idle connections than the
 * endpoint serves at once too (the oldest gives way). */
static void several_stalled_clients_do_not_starve_a_health_probe(void **state)
{
    (void)state;
    struct ops_server *s = start_endpoint();
    int port = ops_server_port(s);
    int idle[40];
    for (size_t n = 5; n <= 40; n += 35) {
        for (size_t i = 0; i < n; i++)
            idle[i] = dial(port);
        clock_sleep_ms(50); /* all accepted */
        uint64_t t0 = clock_mono_ms();
        expect(port, "GET /healthz HTTP/1.1\r\n\r\n", "HTTP/1.1 200 OK\r\n", NULL);
        uint64_t took = clock_mono_ms() - t0;
        print_message("/healthz behind %zu idle clients: %llu ms\n", n, (unsigned long long)took);
        for (size_t i = 0; i < n; i++)
            close(idle[i]);
        assert_true(took < 1000);
    }
    ops_server_stop(s);
}

/* An answer is not lost to a reset when the client sent more than its request: a POST with a
 * 200 KB body gets its 405 whole. */
static void an_answer_survives_a_body_left_unread(void **state)
{
    (void)state;
    struct ops_server *s = start_endpoint();
    size_t body = 200000;
    char *req = malloc(body + 128);
    int h = snprintf(req, 128, "POST /metrics HTTP/1.1\r\nContent-Length: %zu\r\n\r\n", body);
    memset(req + h, 'x', body);
    char *a = exchange(ops_server_port(s), req, (size_t)h + body);
    free(req);
    ops_server_stop(s);
    assert_non_null(strstr(a, "HTTP/1.1 405 Method Not Allowed\r\n"));
    assert_non_null(strstr(a, "only GET and HEAD\n"));
    free(a);
}

/* A HEAD request is answered without a body whatever its status (RFC 9110 9.3.2). */
static void head_of_an_unknown_path_has_no_body(void **state)
{
    (void)state;
    struct ops_server *s = start_endpoint();
    char *a = get(ops_server_port(s), "HEAD /nothing HTTP/1.1\r\n\r\n");
    ops_server_stop(s);
    const char *end = strstr(a, "\r\n\r\n");
    assert_non_null(end);
    bool body = end[4] != 0;
    print_message("HEAD /nothing answered: %s\n", a);
    free(a);
    assert_false(body);
}

/* ---- clients that hold slots or descriptors (review of 2026-12-06) ---- */

/* The answer to `req`, or "" when the connection was closed without one (free()). */
static char *try_get(int port, const char *req)
{
    int fd = dial(port);
    (void)send(fd, req, strlen(req), MSG_NOSIGNAL);
    return read_all(fd);
}

/* A connection whose answer is sent lingers (DRAINING) for up to 200 ms: a client that keeps
 * opening connections, sending a request on each and leaving it open keeps every slot in that
 * state, and a probe was accepted and closed at once (curl: "Empty reply from server") until
 * such connections gave way first. */
static void clients_holding_drained_connections_do_not_shut_out_a_health_probe(void **state)
{
    (void)state;
    struct ops_server *s = start_endpoint();
    int port = ops_server_port(s);
    const char *r = "GET /healthz HTTP/1.1\r\n\r\n";
    pid_t kid = fork();
    if (kid == 0) { /* the attacker: connections that send a whole request and stay open for
                     * 250 ms (past the 200 ms linger), opened as fast as a loop can */
        enum { N = 400 };
        int hog[N];
        uint64_t at[N];
        size_t head = 0, count = 0;
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
        uint64_t end = clock_mono_ms() + 3000;
        while (clock_mono_ms() < end) {
            uint64_t now = clock_mono_ms();
            while (count && now - at[head] > 250) {
                close(hog[head]);
                head = (head + 1) % N, count--;
            }
            while (count < N) {
                size_t i = (head + count) % N;
                hog[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
                (void)connect(hog[i], (struct sockaddr *)&sa, sizeof sa);
                at[i] = now;
                count++;
            }
            for (size_t k = 0; k < count; k++)
                (void)send(hog[(head + k) % N], r, strlen(r), MSG_NOSIGNAL);
            clock_sleep_ms(1);
        }
        _exit(0);
    }
    clock_sleep_ms(500);
    int ok = 0, tries = 10;
    for (int i = 0; i < tries; i++) {
        char *a = try_get(port, r);
        ok += strncmp(a, "HTTP/1.1 200 OK\r\n", 17) == 0;
        free(a);
        clock_sleep_ms(100);
    }
    int st;
    waitpid(kid, &st, 0);
    print_message("/healthz answered %d of %d times behind 32 clients holding drained "
                  "connections\n",
                  ok, tries);
    ops_server_stop(s);
    assert_int_equal(ok, tries);
}

/* The endpoint's thread does not spin: against clients that half-close, hang up, reset and
 * trickle, it uses little CPU. */
static void the_endpoint_does_not_spin_against_odd_clients(void **state)
{
    (void)state;
    struct ops_server *s = start_endpoint();
    int port = ops_server_port(s);
    struct rusage r0, r1;
    getrusage(RUSAGE_SELF, &r0);
    uint64_t t0 = clock_mono_ms();
    int fds[30];
    for (size_t i = 0; i < 30; i++) {
        fds[i] = dial(port);
        switch (i % 5) {
        case 0: /* request, then half-close */
            (void)send(fds[i], "GET /healthz HTTP/1.1\r\n\r\n", 25, MSG_NOSIGNAL);
            shutdown(fds[i], SHUT_WR);
            break;
        case 1: /* partial request, then half-close */
            (void)send(fds[i], "GET /hea", 8, MSG_NOSIGNAL);
            shutdown(fds[i], SHUT_WR);
            break;
        case 2: { /* request and reset */
            (void)send(fds[i], "GET /healthz HTTP/1.1\r\n\r\n", 25, MSG_NOSIGNAL);
            struct linger l = {1, 0};
            setsockopt(fds[i], SOL_SOCKET, SO_LINGER, &l, sizeof l);
            close(fds[i]);
            fds[i] = -1;
            break;
        }
        case 3: /* shut reading, request */
            shutdown(fds[i], SHUT_RD);
            (void)send(fds[i], "GET /metrics HTTP/1.1\r\n\r\n", 25, MSG_NOSIGNAL);
            break;
        default: /* a byte */
            (void)send(fds[i], "G", 1, MSG_NOSIGNAL);
        }
    }
    clock_sleep_ms(1500);
    getrusage(RUSAGE_SELF, &r1);
    double cpu = (double)(r1.ru_utime.tv_sec - r0.ru_utime.tv_sec + r1.ru_stime.tv_sec -
                          r0.ru_stime.tv_sec) +
                 (double)(r1.ru_utime.tv_usec - r0.ru_utime.tv_usec + r1.ru_stime.tv_usec -
                          r0.ru_stime.tv_usec) /
                     1e6;
    double wall = (double)(clock_mono_ms() - t0) / 1000;
    print_message("CPU %.3f s over %.3f s\n", cpu, wall);
    for (size_t i = 0; i < 30; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    ops_server_stop(s);
    assert_true(cpu < 0.3 * wall);
}

/* Out of descriptors, accept4() fails with EMFILE before any slot is looked at: the idle
 * connections the endpoint holds kept a probe waiting until their 2 s deadlines, until one of
 * them gave way for it (its descriptor is the one the probe needs). */
static void idle_clients_do_not_starve_a_probe_when_out_of_descriptors(void **state)
{
    (void)state;
    int ports[2];
    assert_int_equal(pipe(ports), 0);
    pid_t kid = fork();
    if (kid == 0) { /* the endpoint, with 12 descriptors to spare */
        struct ops_server_opts o = {.listen = "127.0.0.1:0", .collect = collect};
        struct ops_server *s = NULL;
        if (ops_server_start(&o, &s, NULL) != STELE_OK)
            _exit(1);
        int highest = 0;
        for (int fd = 0; fd < 1024; fd++)
            if (fcntl(fd, F_GETFD) != -1)
                highest = fd;
        int filler; /* the holes below the highest are taken: 12 descriptors left above it */
        while ((filler = open("/dev/null", O_RDONLY)) >= 0 && filler < highest)
            ;
        if (filler >= 0)
            close(filler);
        struct rlimit rl = {(rlim_t)highest + 13, (rlim_t)highest + 13};
        setrlimit(RLIMIT_NOFILE, &rl);
        int port = ops_server_port(s);
        (void)!write(ports[1], &port, sizeof port);
        clock_sleep_ms(5000);
        ops_server_stop(s);
        _exit(0);
    }
    int port = 0;
    assert_int_equal(read(ports[0], &port, sizeof port), (ssize_t)sizeof port);
    int idle[40];
    for (size_t i = 0; i < 40; i++)
        idle[i] = dial(port);
    clock_sleep_ms(100);
    uint64_t t0 = clock_mono_ms();
    char *a = try_get(port, "GET /healthz HTTP/1.1\r\n\r\n");
    uint64_t took = clock_mono_ms() - t0;
    print_message("/healthz behind 40 idle clients, out of descriptors: %llu ms: %.12s\n",
                  (unsigned long long)took, a);
    bool ok = strncmp(a, "HTTP/1.1 200 OK\r\n", 17) == 0;
    free(a);
    for (size_t i = 0; i < 40; i++)
        close(idle[i]);
    kill(kid, SIGTERM);
    waitpid(kid, NULL, 0);
    close(ports[0]);
    close(ports[1]);
    assert_true(ok);
    assert_true(took < 1000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(text_format_escapes_and_prints_numbers),
        cmocka_unit_test(histograms_count_into_cumulative_buckets),
        cmocka_unit_test(requests_parse_as_http_1),
        cmocka_unit_test(endpoint_answers_metrics_health_and_refusals),
        cmocka_unit_test(a_stalled_client_holds_the_endpoint_for_the_timeout_at_most),
        cmocka_unit_test(a_bad_address_is_refused_clearly),
        cmocka_unit_test(several_stalled_clients_do_not_starve_a_health_probe),
        cmocka_unit_test(head_of_an_unknown_path_has_no_body),
        cmocka_unit_test(an_answer_survives_a_body_left_unread),
        cmocka_unit_test(the_endpoint_does_not_spin_against_odd_clients),
        cmocka_unit_test(clients_holding_drained_connections_do_not_shut_out_a_health_probe),
        cmocka_unit_test(idle_clients_do_not_starve_a_probe_when_out_of_descriptors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
