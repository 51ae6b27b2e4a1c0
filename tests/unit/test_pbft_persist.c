/* test_pbft_persist.c — what a pbft orderer remembers across a restart survives a write torn by
 * a crash (orderer/consensus/pbft_persist.c): the newest valid of the two state files wins, a
 * damaged one falls back to the other, and none at all means a fresh start. */
#include "testutil.h"

#include "base/status.h"
#include "crypto/key.h"
#include "orderer/consensus/pbft_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct fx {
    struct crypto_key *keys[4];
    uint8_t pubs[4][33];
    Stele__OrdererNodeConfig nodes[4];
    Stele__OrdererNodeConfig *ptrs[4];
    Stele__ChannelConfig cfg;
    char *dir;
};

static const char *ids[4] = {"o0", "o1", "o2", "o3"};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    stele__channel_config__init(&f->cfg);
    f->cfg.channel_id = (char *)"ch";
    for (int i = 0; i < 4; i++) {
        assert_int_equal(crypto_key_generate(&f->keys[i]), STELE_OK);
        crypto_key_public_compressed(f->keys[i], f->pubs[i]);
        stele__orderer_node_config__init(&f->nodes[i]);
        f->nodes[i].node_id = (char *)ids[i];
        f->nodes[i].public_key = (ProtobufCBinaryData){33, f->pubs[i]};
        f->ptrs[i] = &f->nodes[i];
    }
    f->cfg.orderers = f->ptrs;
    f->cfg.n_orderers = 4;
    f->dir = test_tmpdir("pbft-persist");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    for (int i = 0; i < 4; i++)
        crypto_key_destroy(f->keys[i]);
    test_rmtree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

/* A replica's state as pbft_start() sets it up before restoring. */
static struct pbft *replica(struct fx *f)
{
    struct pbft *b = calloc(1, sizeof *b);
    assert_int_equal(pbft_members_init(&b->m, &f->cfg), STELE_OK);
    b->me = 1;
    b->p.data_dir = f->dir;
    b->p.signer = f->keys[1];
    b->state_fd[0] = b->state_fd[1] = -1;
    b->active = true;
    pbft_slot_reset(b);
    return b;
}

static void replica_free(struct pbft *b)
{
    pbft_persist_close(b);
    buf_release(&b->my_vc);
    buf_release(&b->new_view);
    buf_release(&b->slot.pp_signed);
    buf_release(&b->slot.block);
    pbft_members_release(&b->m);
    free(b);
}

/* Spoils the first octet of the state in file i (after the 24-octet header). */
static void spoil(const char *dir, int i)
{
    char path[512];
    snprintf(path, sizeof path, "%s/pbft.state.%d", dir, i);
    size_t len;
    char *data = test_read_file(path, &len);
    assert_non_null(data);
    assert_true(len > 24);
    data[24] ^= 0x55;
    assert_int_equal(test_write_file(path, data, len), 0);
    free(data);
}

static void newest_valid_state_wins(void **state)
{
    struct fx *f = *state;
    struct pbft *b = replica(f);
    b->view = 3;
    assert_int_equal(pbft_persist(b), STELE_OK); /* counter 1: pbft.state.1 */
    b->view = 4;
    b->active = false;
    buf_append(&b->my_vc, "vc", 2);
    assert_int_equal(pbft_persist(b), STELE_OK); /* counter 2: pbft.state.0 */
    replica_free(b);

    b = replica(f);
    assert_int_equal(pbft_restore(b), STELE_OK);
    assert_int_equal(b->view, 4);
    assert_false(b->active);
    assert_int_equal(b->my_vc.len, 2);
    replica_free(b);

    /* The newest write was torn: the previous state comes back. */
    spoil(f->dir, 0);
    b = replica(f);
    assert_int_equal(pbft_restore(b), STELE_OK);
    assert_int_equal(b->view, 3);
    assert_true(b->active);
    /* It keeps counting from there: the next write replaces the damaged file. */
    b->view = 5;
    assert_int_equal(pbft_persist(b), STELE_OK);
    replica_free(b);
    b = replica(f);
    assert_int_equal(pbft_restore(b), STELE_OK);
    assert_int_equal(b->view, 5);
    replica_free(b);

    /* Both damaged: the disk lost what it voted, which a torn write cannot do. It refuses
     * to start rather than start afresh (it could then vote against its own votes), and
     * starts afresh (view 0) once the operator deletes them. */
    spoil(f->dir, 0);
    spoil(f->dir, 1);
    b = replica(f);
    assert_int_equal(pbft_restore(b), STELE_ERR_MALFORMED);
    replica_free(b);
    char path[512];
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/pbft.state.%d", f->dir, i);
        assert_int_equal(unlink(path), 0);
    }
    b = replica(f);
    assert_int_equal(pbft_restore(b), STELE_OK);
    assert_int_equal(b->view, 0);
    replica_free(b);
}

/* Writes that fail half-way (a full disk) damage only the file they went to: the other one
 * keeps the last state written whole, however many fail in a row, and the next write that
 * succeeds is the newest. */
static void failed_writes_keep_the_last_whole_state(void **state)
{
#ifndef STELE_TEST_HOOKS
    (void)state;
    skip();
#else
    struct fx *f = *state;
    struct pbft *b = replica(f);
    b->view = 3;
    assert_int_equal(pbft_persist(b), STELE_OK);
    /* Each failed write is larger than the last state: what it leaves in a file is short. */
    char vc[300];
    memset(vc, 'v', sizeof vc);
    char tear[600];
    snprintf(tear, sizeof tear, "%s/disk-full", f->dir);
    assert_int_equal(test_write_file(tear, "", 0), 0);
    setenv("STELE_TEST_PBFT_PERSIST_TEAR", tear, 1); /* while the file exists */
    b->view = 4;
    buf_append(&b->my_vc, vc, 200);
    assert_int_equal(pbft_persist(b), STELE_ERR_IO);
    b->view = 5;
    buf_append(&b->my_vc, vc, 100);
    assert_int_equal(pbft_persist(b), STELE_ERR_IO);
    assert_true(b->persist_failed);
    unsetenv("STELE_TEST_PBFT_PERSIST_TEAR");
    unlink(tear);
    replica_free(b);

    b = replica(f);
    assert_int_equal(pbft_restore(b), STELE_OK);
    assert_int_equal(b->view, 3); /* not 0: a fresh start would forget the votes it sent */
    assert_int_equal(b->my_vc.len, 0);
    b->view = 6;
    assert_int_equal(pbft_persist(b), STELE_OK);
    replica_free(b);
    b = replica(f);
    assert_int_equal(pbft_restore(b), STELE_OK);
    assert_int_equal(b->view, 6);
    replica_free(b);
#endif
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(newest_valid_state_wins, setup, teardown),
        cmocka_unit_test_setup_teardown(failed_writes_keep_the_last_whole_state, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
