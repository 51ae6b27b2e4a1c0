/*
 * log.h — the one logging API of Stele.
 *
 * One line per event: `2026-11-23T15:50:00.123Z INFO  rpc: listening on 127.0.0.1:7050`.
 * Lines go to stderr unless log_open_file() chose a file. Writes are atomic per line (one
 * write(2) of the whole formatted line), so threads and processes sharing a file do not
 * interleave inside a line. Secrets must never be passed to these functions.
 */
#ifndef STELE_BASE_LOG_H
#define STELE_BASE_LOG_H

#include <stdarg.h>

enum log_level { LOG_DEBUG = 0, LOG_INFO = 1, LOG_WARN = 2, LOG_ERROR = 3, LOG_OFF = 4 };

/* Sets the minimum level written. The initial level comes from the environment variable
 * STELE_LOG (debug, info, warn, error, off) or is LOG_INFO. Thread-safe. */
void log_set_level(enum log_level level);
enum log_level log_get_level(void);

/* Parses "debug", "info", "warn", "error" or "off" into *level. Returns STELE_OK or
 * STELE_ERR_INVALID. */
int log_parse_level(const char *name, enum log_level *level);

/* Sends subsequent lines to `path` (appended, created 0640). Returns STELE_OK or STELE_ERR_IO;
 * on error the current destination stays. log_close() returns to stderr. */
int log_open_file(const char *path);
void log_close(void);

/* Writes one line if `level` is enabled. `component` names the module or daemon part ("rpc",
 * "ca", "orderer"). A trailing newline in `fmt` is not needed; embedded newlines are replaced
 * by spaces so one event stays one line. */
void log_write(enum log_level level, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void log_vwrite(enum log_level level, const char *component, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

#define log_debug(comp, ...) log_write(LOG_DEBUG, comp, __VA_ARGS__)
#define log_info(comp, ...)  log_write(LOG_INFO, comp, __VA_ARGS__)
#define log_warn(comp, ...)  log_write(LOG_WARN, comp, __VA_ARGS__)
#define log_error(comp, ...) log_write(LOG_ERROR, comp, __VA_ARGS__)

#endif
