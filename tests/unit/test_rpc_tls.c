/*
 * test_rpc_tls.c — lib/rpc over TLS on 127.0.0.1, with certificates made by openssl(1) in a
 * temporary directory: server-only TLS (a client trusting another CA, a plaintext client and a
 * waiting client all refused), mutual TLS (the client's CN seen by the handler; no client
 * certificate, or one from an untrusted CA, refused), and clear errors for bad files.
 */
#include "testutil.h"
#include "tls_fixture.h"

#include "base/status.h"
#include "rpc/rpc.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *tls_dir;

static void sh(const char *fmt, const char *dir)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, fmt, dir, dir, dir, dir, dir, dir, dir, dir);
    assert_int_equal(system(cmd), 0);
}

static int tls_setup(void **state)
{
    (void)state;
    tls_dir = test_tmpdir("tls");
    /* A CA, a server certificate for 127.0.0.1/localhost, a client certificate, and a second
     * CA whose client certificate must be refused. */
    const char *gen =
        "cd %s && "
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 "
        "-subj /CN=test-ca -keyout ca.key -out ca.crt 2>/dev/null && "
        "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
        "-subj /CN=node0 -keyout srv.key -out srv.csr 2>/dev/null && "
        "printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > srv.ext && "
        "openssl x509 -req -in srv.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 "
        "-extfile srv.ext -out srv.crt 2>/dev/null && "
        "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
        "-subj /CN=juror7@org1 -keyout cli.key -out cli.csr 2>/dev/null && "
        "openssl x509 -req -in cli.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 "
        "-out cli.crt 2>/dev/null && "
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 "
        "-subj /CN=rogue -keyout rogue.key -out rogue.crt 2>/dev/null";
    sh(gen, tls_dir);
    return 0;
}

static int tls_teardown(void **state)
{
    (void)state;
    test_rmtree(tls_dir);
    free(tls_dir);
    return 0;
}

static char *p(const char *name)
{
    static char buf[8][512];
    static int i;
    i = (i + 1) % 8;
    snprintf(buf[i], sizeof buf[i], "%s/%s", tls_dir, name);
    return buf[i];
}

/* The whoami server with the test's server certificate, asking for client certificates of
 * the test CA when `mutual`. */
static struct rpc_server *tls_server(bool mutual, char *target, size_t tlen)
{
    struct rpc_tls tls = {.cert_file = p("srv.crt"), .key_file = p("srv.key")};
    if (mutual)
        tls.ca_file = p("ca.crt");
    return tls_fx_whoami_server(&tls, target, tlen);
}

static void tls_server_only(void **state)
{
    (void)state;
    char target[64], cn[128];
    struct rpc_server *s = tls_server(false, target, sizeof target);
    struct rpc_result res;
    struct rpc_channel_opts o = {.fail_fast = true};
    o.tls.ca_file = p("ca.crt");
    assert_int_equal(tls_fx_whoami(target, &o, cn, sizeof cn, &res), STELE_OK);
    assert_string_equal(cn, "(none)");
    /* A client that trusts another CA refuses the server, and says why. */
    o.tls.ca_file = p("rogue.crt");
    assert_int_equal(tls_fx_whoami(target, &o, cn, sizeof cn, &res), STELE_ERR_UNAVAILABLE);
    /* A plaintext client cannot talk to a TLS server. */
    struct rpc_channel_opts plain = {.fail_fast = true};
    assert_int_equal(tls_fx_whoami(target, &plain, cn, sizeof cn, &res), STELE_ERR_UNAVAILABLE);
    /* A waiting (daemon-style) client keeps trying until its deadline, never succeeds. */
    o.fail_fast = false;
    o.timeout_ms = 1000;
    assert_int_equal(tls_fx_whoami(target, &o, cn, sizeof cn, &res), STELE_ERR_TIMEOUT);
    rpc_server_destroy(s);
}

static void tls_mutual(void **state)
{
    (void)state;
    char target[64], cn[128];
    struct rpc_server *s = tls_server(true, target, sizeof target);
    struct rpc_result res;
    struct rpc_channel_opts o = {.fail_fast = true};
    o.tls.ca_file = p("ca.crt");
    o.tls.cert_file = p("cli.crt");
    o.tls.key_file = p("cli.key");
    assert_int_equal(tls_fx_whoami(target, &o, cn, sizeof cn, &res), STELE_OK);
    assert_string_equal(cn, "juror7@org1");
    /* No client certificate, or one from a CA the server does not trust: refused. */
    struct rpc_channel_opts no_cert = {.fail_fast = true};
    no_cert.tls.ca_file = p("ca.crt");
    assert_int_equal(tls_fx_whoami(target, &no_cert, cn, sizeof cn, &res), STELE_ERR_UNAVAILABLE);
    struct rpc_channel_opts rogue = o;
    rogue.tls.cert_file = p("rogue.crt");
    rogue.tls.key_file = p("rogue.key");
    assert_int_equal(tls_fx_whoami(target, &rogue, cn, sizeof cn, &res), STELE_ERR_UNAVAILABLE);
    rpc_server_destroy(s);
}

static void tls_bad_files_are_clear_errors(void **state)
{
    (void)state;
    struct rpc_server_opts o = {.listen = "127.0.0.1:0"};
    o.tls.cert_file = p("missing.crt");
    o.tls.key_file = p("srv.key");
    char *err = NULL;
    assert_null(rpc_server_create(&o, &err));
    assert_non_null(strstr(err, "missing.crt"));
    free(err);
    o.tls.cert_file = p("srv.csr");
    o.tls.key_file = NULL;
    err = NULL;
    assert_null(rpc_server_create(&o, &err));
    assert_non_null(strstr(err, "both"));
    free(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(tls_server_only, tls_setup, tls_teardown),
        cmocka_unit_test_setup_teardown(tls_mutual, tls_setup, tls_teardown),
        cmocka_unit_test_setup_teardown(tls_bad_files_are_clear_errors, tls_setup, tls_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
