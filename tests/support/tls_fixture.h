/*
 * tls_fixture.h — what test_rpc_tls.c and test_crypto_tlscert.c share: a lib/rpc server whose
 * one method (/stele.Bench/Echo) answers the common name of the client's TLS certificate
 * ("(none)" without one), and the call that asks it. Functions fail the test on error unless
 * they say otherwise.
 */
#ifndef STELE_TESTS_TLS_FIXTURE_H
#define STELE_TESTS_TLS_FIXTURE_H

#include "rpc/rpc.h"

#include <stddef.h>

/* Starts the server on 127.0.0.1 (a free port) with TLS settings `tls` (certificate, key, and
 * ca_file to ask for client certificates) and writes its address to `target`. The caller
 * destroys it with rpc_server_destroy(). */
struct rpc_server *tls_fx_whoami_server(const struct rpc_tls *tls, char *target, size_t tlen);

/* Calls the server at `target` on a new channel with options `o` (deadline: o->timeout_ms). On
 * STELE_OK, `cn` holds the name the server saw. Returns the call's status; `res` (may be NULL) gets
 * its code and detail. */
int tls_fx_whoami(const char *target, const struct rpc_channel_opts *o, char *cn, size_t n,
                  struct rpc_result *res);

#endif
