/* log.c — one-line-per-event logging to stderr or a file. */
#include "base/log.h"
#include "base/status.h"
#include "base/text.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static atomic_int current_level = -1; /* -1: not yet read from the environment */
static int log_fd = STDERR_FILENO;
static pthread_mutex_t log_fd_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const level_names[] = {"DEBUG", "INFO ", "WARN ", "ERROR"};

int log_parse_level(const char *name, enum log_level *level)
{
    static const char *const names[] = {"debug", "info", "warn", "error", "off"};
    for (int i = 0; i <= LOG_OFF; i++) {
        if (name && strcasecmp(name, names[i]) == 0) {
            *level = (enum log_level)i;
            return STELE_OK;
        }
    }
    return STELE_ERR_INVALID;
}

enum log_level log_get_level(void)
{
    int l = atomic_load(&current_level);
    if (l < 0) {
        enum log_level parsed = LOG_INFO;
        const char *env = getenv("STELE_LOG");
        if (env && log_parse_level(env, &parsed) != STELE_OK)
            parsed = LOG_INFO;
        l = (int)parsed;
        atomic_store(&current_level, l);
    }
    return (enum log_level)l;
}

void log_set_level(enum log_level level)
{
    atomic_store(&current_level, (int)level);
}

int log_open_file(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (fd < 0)
        return STELE_ERR_IO;
    pthread_mutex_lock(&log_fd_lock);
    if (log_fd != STDERR_FILENO)
        close(log_fd);
    log_fd = fd;
    pthread_mutex_unlock(&log_fd_lock);
    return STELE_OK;
}

void log_close(void)
{
    pthread_mutex_lock(&log_fd_lock);
    if (log_fd != STDERR_FILENO)
        close(log_fd);
    log_fd = STDERR_FILENO;
    pthread_mutex_unlock(&log_fd_lock);
}

void log_vwrite(enum log_level level, const char *component, const char *fmt, va_list ap)
{
    if (level < LOG_DEBUG || level >= LOG_OFF || level < log_get_level())
        return;

    char line[2048];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof line,
                     "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s %s: ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     ts.tv_nsec / 1000000, level_names[level], component ? component : "-");
    if (n < 0)
        return;
    size_t head = (size_t)n;
    int m = vsnprintf(line + head, sizeof line - head - 1, fmt, ap);
    if (m < 0)
        return;
    size_t len = head + (size_t)m;
    if (len > sizeof line - 2) {
        len = sizeof line - 2; /* truncated: mark it */
        memcpy(line + len - 3, "...", 3);
    }
    /* One line per event, and nothing a terminal acts on: what is logged often quotes what a
     * client sent (ids, names, errors), and an operator reads the log with tail or less. Line
     * breaks and tabs become spaces; other C0 controls, DEL and the C1 controls (U+0080..U+009F,
     * UTF-8 C2 80..C2 9F: CSI and friends for some terminals) become '?', and so does every
     * octet that is not part of well-formed UTF-8 (a bare 0x9B is CSI to a terminal that reads
     * 8-bit controls). */
    for (size_t i = head; i < len; i++) {
        unsigned char c = (unsigned char)line[i];
        size_t k = c < 0x80 ? 1 : text_utf8_len((const unsigned char *)line + i, len - i);
        if (c == '\n' || c == '\r' || c == '\t')
            line[i] = ' ';
        else if (c < 0x20 || c == 0x7f || k == 0)
            line[i] = '?';
        else if (c == 0xc2 && (unsigned char)line[i + 1] <= 0x9f)
            line[i] = '?', line[i + 1] = '?', i++;
        else
            i += k - 1;
    }
    while (len > head && line[len - 1] == ' ')
        len--;
    line[len++] = '\n';

    pthread_mutex_lock(&log_fd_lock);
    const char *p = line;
    while (len > 0) {
        ssize_t w = write(log_fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        p += w;
        len -= (size_t)w;
    }
    pthread_mutex_unlock(&log_fd_lock);
}

void log_write(enum log_level level, const char *component, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vwrite(level, component, fmt, ap);
    va_end(ap);
}
