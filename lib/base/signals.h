/*
 * signals.h — how a Stele daemon waits for its stop signal.
 *
 * gRPC and our servers start threads; a SIGTERM may be delivered to any of them, so a daemon
 * blocks the termination signals in main() before creating any thread (every thread inherits
 * the mask) and later waits for one with sig_wait_termination(). SIGPIPE is ignored.
 */
#ifndef STELE_BASE_SIGNALS_H
#define STELE_BASE_SIGNALS_H

/* Blocks SIGTERM, SIGINT and SIGHUP in the calling thread and ignores SIGPIPE. Call first in
 * main(). Returns STELE_OK or STELE_ERR_INTERNAL. */
int sig_block_termination(void);

/* Waits until SIGTERM, SIGINT or SIGHUP arrives; returns the signal number. */
int sig_wait_termination(void);

#endif
