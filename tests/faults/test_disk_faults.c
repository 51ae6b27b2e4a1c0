/*
 * test_disk_faults.c — daemons whose disk fails while they run, with real processes: four
 * pbft stele-orderer processes and two stele-peer processes of two organisations on 127.0.0.1
 * (peer_fixture.h). Failures are injected by test hooks (STELE_TEST_HOOKS builds only).
 *
 *   1. an orderer that cannot write its consensus state (pbft.state.*) sends no vote it might
 *      forget, says so on /healthz (503), and votes and answers 200 again once the disk is
 *      back, while the others order on;
 *   2. a peer that cannot store a block commits nothing more and says so on /healthz (503)
 *      until it is restarted, then catches up;
 *   3. an orderer that cannot append a block orders nothing more, refuses Broadcast and says
 *      so on /healthz (503); restarted, it catches up and answers 200.
 *
 * STELE_KEEP_TEST_DIR=1 keeps the logs.
 */
#include "peer_fixture.h"

#include "base/buf.h"
#include "base/clock.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef STELE_TEST_HOOKS
/* GET /healthz of p until it answers `want` (up to `s` seconds): the last status, its body in
 * *m. */
static int health_until(const struct proc *p, int want, int s, struct buf *m)
{
    int code = 0;
    for (int k = 0; k < 10 * s && code != want; k++) {
        buf_init(m);
        if ((code = test_http_get(p->ops, "/healthz", NULL, m)) != want) {
            buf_release(m);
            clock_sleep_ms(100);
        }
    }
    print_message("/healthz of %s: %d %s\n", p->addr, code, code == want ? (char *)m->data : "");
    return code;
}

/* An orderer that is a backup now, so that no view change is needed. */
static int a_backup(void)
{
    for (int i = ORDERERS - 1; i >= 0; i--) {
        struct buf m;
        buf_init(&m);
        double v = -1;
        assert_int_equal(test_http_get(N.o[i].ops, "/metrics", NULL, &m), 200);
        bool backup = test_metric((char *)m.data, "stele_consensus_role{role=\"backup\"}", &v);
        buf_release(&m);
        if (backup && v == 1)
            return i;
    }
    fail_msg("no orderer is a backup");
    return -1;
}

/* Orders one transaction through the orderers of `mask` and waits until peer 0 has it. */
static void order_one(unsigned mask, int value)
{
    char tx_id[65], v[16];
    snprintf(v, sizeof v, "%d", value);
    ProtobufCBinaryData e =
        tx_must(&(struct txspec){.writes = {{.key = "pdisk", .value = v}}}, tx_id);
    submit(mask, &e, 1);
    free(e.data);
    assert_int_equal(tx_wait(0, tx_id, 30000, NULL, NULL), STELE__TX_VALIDATION_CODE__VALID);
}

static void consensus_state_write_failure_is_reported(void **state)
{
    (void)state;
    int k = a_backup();
    char name[16], fail[700];
    snprintf(name, sizeof name, "o%d", k);
    snprintf(fail, sizeof fail, "%s/disk-full", N.o[k].dir);
    proc_stop(&N.o[k], SIGTERM, name);
    setenv("STELE_TEST_PBFT_PERSIST_TEAR", fail, 1); /* while the file exists */
    net_orderer_start(k);
    unsetenv("STELE_TEST_PBFT_PERSIST_TEAR");
    struct buf m;
    assert_int_equal(health_until(&N.o[k], 200, 30, &m), 200);
    buf_release(&m);
    assert_int_equal(test_write_file(fail, "", 0), 0);
    /* The other three order without it; it fails writing when it votes (not while it catches
     * up by state transfer, which it may do first). */
    int code = 0;
    for (int i = 0; i < 10 && code != 503; i++) {
        order_one(ALL_ORDERERS & ~(1u << k), i);
        if ((code = health_until(&N.o[k], 503, 2, &m)) != 503)
            buf_release(&m);
    }
    assert_int_equal(code, 503);
    assert_non_null(strstr((char *)m.data, "the consensus state cannot be written"));
    buf_release(&m);
    assert_int_equal(unlink(fail), 0); /* the disk is back */
    for (int i = 10; i < 20 && code != 200; i++) {
        order_one(ALL_ORDERERS & ~(1u << k), i);
        if ((code = health_until(&N.o[k], 200, 2, &m)) != 200)
            buf_release(&m);
    }
    assert_int_equal(code, 200);
    buf_release(&m);
    for (int i = 0; i < 300 && orderer_height(k) < orderer_height(0); i++)
        clock_sleep_ms(100);
    assert_true(orderer_height(k) >= orderer_height(0));
}

/* GET path of p into *out (released by the caller); the HTTP status. */
static int ops_get(const struct proc *p, const char *path, struct buf *out)
{
    buf_init(out);
    return test_http_get(p->ops, path, NULL, out);
}

/* A peer whose disk fails storing a block commits nothing more until it is restarted, and says
 * so on /healthz (503), so that a liveness probe restarts it; restarted, it serves and catches
 * up. */
static void peer_health_says_when_its_ledger_failed(void **state)
{
    (void)state;
    struct head h;
    assert_true(peer_head(1, &h));
    char at[32];
    snprintf(at, sizeof at, "%llu", (unsigned long long)h.height);
    setenv("STELE_TEST_LEDGER_IO_FAIL_AT", at, 1);
    proc_stop(&N.p[1], SIGTERM, "peer0.org2");
    net_peer_start(1, true);
    unsetenv("STELE_TEST_LEDGER_IO_FAIL_AT");
    struct buf m;
    assert_int_equal(ops_get(&N.p[1], "/healthz", &m), 200);
    buf_release(&m);
    char tx_id[65];
    ProtobufCBinaryData e =
        tx_must(&(struct txspec){.writes = {{.key = "disk", .value = "1"}}}, tx_id);
    submit(ALL_ORDERERS, &e, 1);
    free(e.data);
    assert_int_equal(tx_wait(0, tx_id, 30000, NULL, NULL), STELE__TX_VALIDATION_CODE__VALID);
    assert_int_equal(health_until(&N.p[1], 503, 10, &m), 503); /* it pulls the block, fails */
    assert_non_null(strstr((char *)m.data, "the ledger failed on the disk"));
    buf_release(&m);
    proc_stop(&N.p[1], SIGTERM, "peer0.org2");
    net_peer_start(1, true);
    assert_int_equal(tx_wait(1, tx_id, 30000, NULL, NULL), STELE__TX_VALIDATION_CODE__VALID);
    assert_int_equal(ops_get(&N.p[1], "/healthz", &m), 200);
    buf_release(&m);
}

/* An orderer whose disk fails appending a block orders nothing more, refuses Broadcast and says
 * so on /healthz (503); the others order on; restarted, it catches up and answers 200. */
static void orderer_health_says_when_its_chain_failed(void **state)
{
    (void)state;
    int k = a_backup(); /* so that no view change is needed */
    char at[32], name[16];
    snprintf(at, sizeof at, "%llu", (unsigned long long)orderer_height(k));
    snprintf(name, sizeof name, "o%d", k);
    setenv("STELE_TEST_ORDERER_IO_FAIL_AT", at, 1);
    proc_stop(&N.o[k], SIGTERM, name);
    net_orderer_start(k);
    unsetenv("STELE_TEST_ORDERER_IO_FAIL_AT");
    struct buf m;
    assert_int_equal(ops_get(&N.o[k], "/healthz", &m), 200);
    buf_release(&m);
    char tx_id[65];
    ProtobufCBinaryData e =
        tx_must(&(struct txspec){.writes = {{.key = "odisk", .value = "1"}}}, tx_id);
    submit(ALL_ORDERERS & ~(1u << k), &e, 1);
    free(e.data);
    assert_int_equal(tx_wait(0, tx_id, 30000, NULL, NULL), STELE__TX_VALIDATION_CODE__VALID);
    assert_int_equal(health_until(&N.o[k], 503, 10, &m), 503);
    assert_non_null(strstr((char *)m.data, "the block store failed"));
    buf_release(&m);
    e = tx_must(&(struct txspec){.writes = {{.key = "odisk", .value = "2"}}}, tx_id);
    Stele__Status st;
    broadcast(1u << k, &e, 1, &st);
    free(e.data);
    assert_int_not_equal(st, STELE__STATUS__STATUS_SUCCESS);
    proc_stop(&N.o[k], SIGTERM, name);
    net_orderer_start(k);
    for (int i = 0; i < 300 && orderer_height(k) < orderer_height(0); i++)
        clock_sleep_ms(100);
    assert_true(orderer_height(k) >= orderer_height(0));
    assert_int_equal(ops_get(&N.o[k], "/healthz", &m), 200);
    buf_release(&m);
}
#else
static void consensus_state_write_failure_is_reported(void **state)
{
    (void)state;
    skip(); /* failures are injected by test hooks */
}

static void peer_health_says_when_its_ledger_failed(void **state)
{
    (void)state;
    skip();
}

static void orderer_health_says_when_its_chain_failed(void **state)
{
    (void)state;
    skip();
}
#endif

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(consensus_state_write_failure_is_reported),
        cmocka_unit_test(peer_health_says_when_its_ledger_failed),
        cmocka_unit_test(orderer_health_says_when_its_chain_failed),
    };
    if (getenv("STELE_TEST_FILTER"))
        cmocka_set_test_filter(getenv("STELE_TEST_FILTER"));
#ifdef STELE_TEST_HOOKS
    return cmocka_run_group_tests(tests, net_group_up, net_group_down);
#else
    return cmocka_run_group_tests(tests, NULL, NULL); /* skipped: no network needed */
#endif
}
