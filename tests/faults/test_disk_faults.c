/*
 * test_disk_faults.c — an orderer whose disk fails while it runs, with real processes: four
 * pbft stele-orderer processes and two stele-peer processes of two organisations on 127.0.0.1
 * (peer_fixture.h). Failures are injected by test hooks (STELE_TEST_HOOKS builds only).
 *
 *   1. an orderer that cannot write its consensus state (pbft.state.*) sends no vote it might
 *      forget, says so on /healthz (503), and votes and answers 200 again once the disk is
 *      back, while the others order on.
 *
 * (An orderer that cannot append a block: test_events_query.c.)
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
#else
static void consensus_state_write_failure_is_reported(void **state)
{
    (void)state;
    skip(); /* failures are injected by test hooks */
}
#endif

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(consensus_state_write_failure_is_reported),
    };
    if (getenv("STELE_TEST_FILTER"))
        cmocka_set_test_filter(getenv("STELE_TEST_FILTER"));
#ifdef STELE_TEST_HOOKS
    return cmocka_run_group_tests(tests, net_group_up, net_group_down);
#else
    return cmocka_run_group_tests(tests, NULL, NULL); /* skipped: no network needed */
#endif
}
