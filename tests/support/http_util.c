/* http_util.c — a plain HTTP GET and a Prometheus sample lookup for tests of the operations
 * endpoints (testutil.h). */
#include "testutil.h"

#include "base/buf.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

int test_http_get(const char *addr, const char *path, const char *request, struct buf *body)
{
    const char *colon = strrchr(addr, ':');
    if (!colon)
        return 0;
    char host[64];
    snprintf(host, sizeof host, "%.*s", (int)(colon - addr), addr);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1))};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || inet_pton(AF_INET, host, &a.sin_addr) != 1 ||
        connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        if (fd >= 0)
            close(fd);
        return 0;
    }
    struct timeval tv = {.tv_sec = 10};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char req[512];
    if (!request) {
        snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", path, addr);
        request = req;
    }
    size_t len = strlen(request);
    if (send(fd, request, len, MSG_NOSIGNAL) != (ssize_t)len) {
        close(fd);
        return 0;
    }
    struct buf all;
    buf_init(&all);
    char chunk[8192];
    ssize_t n;
    while ((n = recv(fd, chunk, sizeof chunk, 0)) > 0)
        buf_append(&all, chunk, (size_t)n);
    close(fd);
    buf_append_byte(&all, 0);
    int code = 0;
    const char *text = (const char *)all.data;
    if (sscanf(text, "HTTP/1.%*c %d", &code) != 1)
        code = 0;
    const char *start = strstr(text, "\r\n\r\n");
    if (body && start) {
        buf_append(body, start + 4, strlen(start + 4));
        buf_append_byte(body, 0);
        body->len--; /* NUL-terminated, not counted */
    }
    buf_release(&all);
    return code;
}

bool test_metric(const char *metrics, const char *sample, double *v)
{
    size_t n = strlen(sample);
    for (const char *line = metrics; line && *line;) {
        const char *end = strchr(line, '\n');
        if (line[0] != '#' && strncmp(line, sample, n) == 0 && line[n] == ' ') {
            *v = strtod(line + n + 1, NULL);
            return true;
        }
        line = end ? end + 1 : NULL;
    }
    return false;
}
