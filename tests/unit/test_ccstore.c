/*
 * test_ccstore.c — peer/ccstore.c, the store of installed chaincode packages: two installs of
 * one package at once both succeed and leave one whole package, and what a crashed install
 * left behind is in nobody's way.
 */
#include "testutil.h"

#include "base/status.h"
#include "crypto/hash.h"
#include "peer/config.h"
#include "peer/peer_int.h"
#include "stele/lifecycle.pb-c.h"

#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static uint8_t *pkg;
static size_t pkg_len;

/* A package of chaincode "asset" whose "shared object" is `so_len` octets starting with ELF. */
static void make_package(size_t so_len)
{
    Stele__ChaincodePackage cp = STELE__CHAINCODE_PACKAGE__INIT;
    cp.name = (char *)"asset";
    cp.version = (char *)"1";
    uint8_t *so = calloc(1, so_len);
    memcpy(so,
           "\x7f"
           "ELF",
           4);
    cp.so = (ProtobufCBinaryData){so_len, so};
    pkg_len = stele__chaincode_package__get_packed_size(&cp);
    pkg = malloc(pkg_len);
    stele__chaincode_package__pack(&cp, pkg);
    free(so);
}

struct job {
    struct peer *p;
    int rc;
    pthread_t t;
};

static void *install_main(void *arg)
{
    struct job *j = arg;
    struct ccstore_entry e;
    char *err = NULL;
    j->rc = ccstore_install(j->p, pkg, pkg_len, &e, &err);
    free(err);
    return NULL;
}

/* Files in `dir`. */
static int files_in(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *de;
    while (d && (de = readdir(d)))
        n += de->d_name[0] != '.';
    if (d)
        closedir(d);
    return n;
}

static void two_installs_at_once(void **state)
{
    (void)state;
    make_package(4u << 20);
    for (int round = 0; round < 10; round++) {
        char *dir = test_tmpdir("ccstore");
        struct peer_config cfg = {.data_dir = dir};
        struct peer p = {.cfg = &cfg};
        struct job j[2] = {{.p = &p}, {.p = &p}};
        for (int i = 0; i < 2; i++)
            assert_int_equal(pthread_create(&j[i].t, NULL, install_main, &j[i]), 0);
        for (int i = 0; i < 2; i++) {
            pthread_join(j[i].t, NULL);
            assert_int_equal(j[i].rc, STELE_OK);
        }
        uint8_t h[32];
        assert_int_equal(crypto_sha256(pkg, pkg_len, h), STELE_OK);
        char so[4096], chaincodes[4096];
        assert_int_equal(ccstore_so_path(&p, h, so, sizeof so), STELE_OK);
        struct stat st;
        assert_int_equal(stat(so, &st), 0);
        assert_int_equal((size_t)st.st_size, (size_t)4u << 20);
        snprintf(chaincodes, sizeof chaincodes, "%s/chaincodes", dir);
        assert_int_equal(files_in(chaincodes), 2); /* .so and .pkg, no temporary left */
        test_rmtree(dir);
        free(dir);
    }
    free(pkg);
}

static void a_crashed_install_is_in_nobodys_way(void **state)
{
    (void)state;
    make_package(4096);
    char *dir = test_tmpdir("ccstore");
    struct peer_config cfg = {.data_dir = dir};
    struct peer p = {.cfg = &cfg};
    uint8_t h[32];
    char hx[65], path[4096];
    assert_int_equal(crypto_sha256(pkg, pkg_len, h), STELE_OK);
    hex_encode(h, 32, hx);
    snprintf(path, sizeof path, "%s/chaincodes", dir);
    assert_int_equal(mkdir(path, 0700), 0);
    /* An install killed before its rename used to leave read-only <hash>.so.tmp and
     * .pkg.tmp, which a peer not running as root could then never open again; directories
     * there stand in for them (no one, root included, can open them for writing). */
    snprintf(path, sizeof path, "%s/chaincodes/%s.so.tmp", dir, hx);
    assert_int_equal(mkdir(path, 0500), 0);
    snprintf(path, sizeof path, "%s/chaincodes/%s.pkg.tmp", dir, hx);
    assert_int_equal(mkdir(path, 0400), 0);
    struct ccstore_entry e;
    char *err = NULL;
    assert_int_equal(ccstore_install(&p, pkg, pkg_len, &e, &err), STELE_OK);
    assert_false(e.already);
    char so[4096];
    assert_int_equal(ccstore_so_path(&p, h, so, sizeof so), STELE_OK);
    test_rmtree(dir);
    free(dir);
    free(pkg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(two_installs_at_once),
        cmocka_unit_test(a_crashed_install_is_in_nobodys_way),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
