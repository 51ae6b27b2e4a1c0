/*
 * test_enrolment.c — lib/identity/enrolment.c: an enrolment directory replaced in place is never
 * left half old, half new. Each crash point of enrolment_save() is rebuilt by hand (the files a
 * save had written when it stopped) and enrolment_load() must then give one whole enrolment:
 * the new one once its four files were all written, the old one before; staged files that
 * cannot be read are kept, and a load waits for a save another program is making.
 */
#include "testutil.h"

#include "base/status.h"
#include "crypto/key.h"
#include "identity/enrolment.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define CA_ID 0x5151515151515151ull

struct fx {
    struct crypto_key *ca;
    struct test_identity old, new; /* the enrolment in place, and its replacement */
    char *dir;                     /* holds `old` */
    char *scratch;                 /* holds `new`, as a save would have written it */
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    assert_int_equal(crypto_key_generate(&f->ca), STELE_OK);
    test_identity_issue(f->ca, CA_ID, "juror-17", "org1", "client", 0, 3600, &f->old);
    test_identity_issue(f->ca, CA_ID, "juror-17", "org1", "client", 0, 3600, &f->new);
    f->dir = test_tmpdir("enrolment");
    f->scratch = test_tmpdir("enrolment-new");
    test_identity_save(&f->old, f->ca, f->dir);
    test_identity_save(&f->new, f->ca, f->scratch);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    test_rmtree(f->dir);
    test_rmtree(f->scratch);
    free(f->dir);
    free(f->scratch);
    test_identity_free(&f->old);
    test_identity_free(&f->new);
    crypto_key_destroy(f->ca);
    free(f);
    return 0;
}

static bool present(const char *dir, const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return access(path, F_OK) == 0;
}

/* Copies scratch/NAME to dir/AS. */
static void copy(const struct fx *f, const char *name, const char *as)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", f->scratch, name);
    size_t len = 0;
    char *data = test_read_file(path, &len);
    assert_non_null(data);
    snprintf(path, sizeof path, "%s/%s", f->dir, as);
    assert_int_equal(test_write_file(path, data, len), 0);
    free(data);
}

/* The new enrolment's files, staged as a save writes them before its commit point. */
static void stage(const struct fx *f, const char *const *names, size_t n)
{
    char as[64];
    for (size_t i = 0; i < n; i++) {
        snprintf(as, sizeof as, "%s.new", names[i]);
        copy(f, names[i], as);
    }
}

static const char *const all[] = {"key.pem", "cert", "identity", "ca.pub"};

/* Loads f->dir: it must hold exactly `want`, with nothing staged left beside it. */
static void holds(const struct fx *f, const struct test_identity *want)
{
    struct enrolment e;
    char *err = NULL;
    int rc = enrolment_load(f->dir, &e, &err);
    if (rc != STELE_OK)
        fail_msg("enrolment_load: %s", err ? err : "?");
    assert_true(crypto_key_public_equal(e.key, want->key));
    assert_memory_equal(e.cert, want->cert, sizeof e.cert);
    enrolment_release(&e);
    for (size_t i = 0; i < 4; i++) {
        char staged[64];
        snprintf(staged, sizeof staged, "%s.new", all[i]);
        assert_false(present(f->dir, staged));
    }
    assert_false(present(f->dir, "enrolment.commit"));
}

static void save_replaces(void **state)
{
    struct fx *f = *state;
    holds(f, &f->old);
    test_identity_save(&f->new, f->ca, f->dir);
    holds(f, &f->new);
}

/* Stopped while writing the new files: the old enrolment stays, the partial files go. */
static void partial_staging_is_undone(void **state)
{
    struct fx *f = *state;
    stage(f, all, 2);
    holds(f, &f->old);
}

/* Stopped after writing all four, before the mark: they are a whole enrolment, so it is the
 * one taken (the CA has already superseded the old certificate). */
static void complete_staging_is_finished(void **state)
{
    struct fx *f = *state;
    stage(f, all, 4);
    holds(f, &f->new);
}

/* Stopped halfway through the renames: key.pem and cert are new, identity and ca.pub still old
 * (ca.pub is the same CA's either way). Without the mark this directory would be refused. */
static void interrupted_renames_are_finished(void **state)
{
    struct fx *f = *state;
    copy(f, "key.pem", "key.pem");
    copy(f, "cert", "cert");
    const char *const rest[] = {"identity", "ca.pub"};
    stage(f, rest, 2);
    char mark[4096];
    snprintf(mark, sizeof mark, "%s/enrolment.commit", f->dir);
    assert_int_equal(test_write_file(mark, "", 0), 0);
    holds(f, &f->new);
}

/* Four staged files that do not belong together (the new key, the old certificate) and no
 * mark: not a finished write; the old enrolment stays. */
static void inconsistent_staging_is_undone(void **state)
{
    struct fx *f = *state;
    stage(f, all, 4);
    char src[4096], dst[4096];
    snprintf(src, sizeof src, "%s/cert", f->dir);
    snprintf(dst, sizeof dst, "%s/cert.new", f->dir);
    size_t len = 0;
    char *old_cert = test_read_file(src, &len);
    assert_non_null(old_cert);
    assert_int_equal(test_write_file(dst, old_cert, len), 0);
    free(old_cert);
    holds(f, &f->old);
}

/* Four staged files of which one cannot be read (here a directory): whether they form a whole
 * enrolment cannot be told, so they stay (they may hold the only copy of the new key) and the
 * whole enrolment in place is used. */
static void unreadable_staging_is_kept(void **state)
{
    struct fx *f = *state;
    const char *const three[] = {"key.pem", "identity", "ca.pub"};
    stage(f, three, 3);
    char path[4096];
    snprintf(path, sizeof path, "%s/cert.new", f->dir);
    assert_int_equal(mkdir(path, 0700), 0);
    struct enrolment e;
    assert_int_equal(enrolment_load(f->dir, &e, NULL), STELE_OK);
    assert_true(crypto_key_public_equal(e.key, f->old.key));
    enrolment_release(&e);
    assert_true(present(f->dir, "key.pem.new"));
    assert_true(present(f->dir, "cert.new"));
}

struct loader {
    const char *dir;
    atomic_int done;
    int rc;
};

static void *load_thread(void *arg)
{
    struct loader *l = arg;
    struct enrolment e;
    l->rc = enrolment_load(l->dir, &e, NULL);
    if (l->rc == STELE_OK)
        enrolment_release(&e);
    atomic_store(&l->done, 1);
    return NULL;
}

/* A program loading the directory while another saves into it (holding the directory's lock,
 * its new files half written) waits for the save instead of undoing it. */
static void load_waits_for_a_save(void **state)
{
    struct fx *f = *state;
    int fd = open(f->dir, O_RDONLY | O_DIRECTORY);
    assert_true(fd >= 0);
    assert_int_equal(flock(fd, LOCK_EX), 0);
    stage(f, all, 2); /* the save so far */
    struct loader l = {.dir = f->dir};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, load_thread, &l), 0);
    usleep(200 * 1000);
    assert_int_equal(atomic_load(&l.done), 0);
    assert_true(present(f->dir, "key.pem.new"));
    stage(f, all + 2, 2); /* the save finishes writing, marks and renames */
    char path[4096];
    snprintf(path, sizeof path, "%s/enrolment.commit", f->dir);
    assert_int_equal(test_write_file(path, "", 0), 0);
    close(fd); /* a crash here: the loader finishes it */
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(l.rc, STELE_OK);
    holds(f, &f->new);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(save_replaces, setup, teardown),
        cmocka_unit_test_setup_teardown(partial_staging_is_undone, setup, teardown),
        cmocka_unit_test_setup_teardown(complete_staging_is_finished, setup, teardown),
        cmocka_unit_test_setup_teardown(interrupted_renames_are_finished, setup, teardown),
        cmocka_unit_test_setup_teardown(inconsistent_staging_is_undone, setup, teardown),
        cmocka_unit_test_setup_teardown(unreadable_staging_is_kept, setup, teardown),
        cmocka_unit_test_setup_teardown(load_waits_for_a_save, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
