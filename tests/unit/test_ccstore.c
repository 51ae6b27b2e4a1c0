/*
 * test_ccstore.c — peer/ccstore.c, the store of installed chaincode packages: two installs of
 * one package at once both succeed and leave one whole package, and what a crashed install
 * left behind is in nobody's way; a package is listed only once its shared object loaded as
 * the chaincode it names (a crash during that check leaves nothing that looks installed), and
 * ccstore_get() finds only such a package, with its name and version; a
 * version a log line or a terminal would act on is refused; the name and version are read
 * without the shared object, from a package whose fields come in any order, and a stored
 * package damaged on disk is reported, not misread.
 */
#include "ccrt_fixture.h"
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

/* A package of chaincode `name` `version` holding `so` (`so_len` octets). */
static void make_package_of(const char *name, const char *version, const uint8_t *so, size_t so_len)
{
    Stele__ChaincodePackage cp = STELE__CHAINCODE_PACKAGE__INIT;
    cp.name = (char *)name;
    cp.version = (char *)version;
    cp.so = (ProtobufCBinaryData){so_len, (uint8_t *)so};
    pkg_len = stele__chaincode_package__get_packed_size(&cp);
    pkg = malloc(pkg_len);
    stele__chaincode_package__pack(&cp, pkg);
}

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

/* Listing callback: counts the packages. */
static int count_entry(void *ctx, const struct ccstore_entry *e)
{
    (void)e;
    ++*(int *)ctx;
    return STELE_OK;
}

/* kv.so packaged as chaincode `name`, installed on a store with a chaincode runtime. */
static int install_kv_as(const char *dir, const char *name, struct ccstore_entry *e, char **err)
{
    char *path = test_binary_path("tests/chaincode/kv.so");
    size_t so_len;
    uint8_t *so = (uint8_t *)test_read_file(path, &so_len);
    assert_non_null(so);
    make_package_of(name, "1.0", so, so_len);
    struct peer_config cfg = {.data_dir = (char *)dir};
    struct peer p = {.cfg = &cfg};
    p.ccrt = ccrt_fx_runtime(&(struct ccrt_config){.allow_without_landlock = true});
    int rc = ccstore_install(&p, pkg, pkg_len, e, err);
    ccrt_destroy(p.ccrt);
    free(so);
    free(path);
    return rc;
}

/* A .so that is another chaincode than its package says is refused by the store itself,
 * before the package is listed: nothing of it stays, and installing it again is checked again
 * (it was once written, then removed after the check, so a crash during the check left a
 * package that looked installed and that a new install called "already installed"). */
static void a_package_is_listed_only_once_it_loads(void **state)
{
    (void)state;
    char *dir = test_tmpdir("ccstore");
    struct peer_config cfg = {.data_dir = dir};
    struct peer p = {.cfg = &cfg};
    struct ccstore_entry e;
    char *err = NULL;
    for (int round = 0; round < 2; round++) {
        assert_int_equal(install_kv_as(dir, "assetx", &e, &err), STELE_ERR_MALFORMED);
        assert_non_null(err);
        assert_non_null(strstr(err, "package refused: the shared object is chaincode 'kv', the "
                                    "package says 'assetx'"));
        assert_null(strstr(err, dir)); /* no store path in the message */
        free(err);
        err = NULL;
        uint8_t h[32];
        char so[4096], chaincodes[4096];
        assert_int_equal(crypto_sha256(pkg, pkg_len, h), STELE_OK);
        assert_int_equal(ccstore_so_path(&p, h, so, sizeof so), STELE_ERR_NOT_FOUND);
        struct ccstore_entry got;
        assert_int_equal(ccstore_get(&p, h, &got), STELE_ERR_NOT_FOUND);
        int n = 0;
        assert_int_equal(ccstore_list(&p, count_entry, &n), STELE_OK);
        assert_int_equal(n, 0);
        snprintf(chaincodes, sizeof chaincodes, "%s/chaincodes", dir);
        assert_int_equal(files_in(chaincodes), 0);
        free(pkg);
    }
    /* the same .so under its own name installs, and is then found */
    assert_int_equal(install_kv_as(dir, "kv", &e, &err), STELE_OK);
    assert_false(e.already);
    char so[4096];
    assert_int_equal(ccstore_so_path(&p, e.hash, so, sizeof so), STELE_OK);
    struct ccstore_entry got; /* what the endorser checks an approval's package against */
    assert_int_equal(ccstore_get(&p, e.hash, &got), STELE_OK);
    assert_string_equal(got.name, "kv");
    assert_string_equal(got.version, e.version);
    assert_memory_equal(got.hash, e.hash, 32);
    free(pkg);
    test_rmtree(dir);
    free(dir);
}

/* A version with a newline, an escape or a space is refused (the peer logs it and `stele
 * chaincode list --installed` prints it), as definitions refuse it; a 64-character one is fine. */
static void odd_versions_are_refused(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "1.0\nfake log line",
        "1.0\x1b[2J",
        "1 0",
        "",
        "\xc3\xa9",
        "12345678901234567890123456789012345678901234567890123456789012345"};
    uint8_t so[16] = {0x7f, 'E', 'L', 'F'};
    char *dir = test_tmpdir("ccstore");
    struct peer_config cfg = {.data_dir = dir};
    struct peer p = {.cfg = &cfg};
    struct ccstore_entry e;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *err = NULL;
        make_package_of("asset", bad[i], so, sizeof so);
        assert_int_equal(ccstore_install(&p, pkg, pkg_len, &e, &err), STELE_ERR_MALFORMED);
        assert_non_null(strstr(err, "version"));
        free(err);
        free(pkg);
    }
    int n = 0;
    assert_int_equal(ccstore_list(&p, count_entry, &n), STELE_OK);
    assert_int_equal(n, 0);
    make_package_of("asset", "1234567890123456789012345678901234567890123456789012345678901234", so,
                    sizeof so);
    char *err = NULL;
    assert_int_equal(ccstore_install(&p, pkg, pkg_len, &e, &err), STELE_OK);
    free(pkg);
    test_rmtree(dir);
    free(dir);
}

/* Appends a length-delimited field to `b` (`*n` octets used). */
static void put_field(uint8_t *b, size_t *n, unsigned field, const void *data, size_t len)
{
    b[(*n)++] = (uint8_t)(field << 3 | 2);
    for (size_t v = len;; v >>= 7) {
        b[(*n)++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        if (v <= 0x7f)
            break;
    }
    memcpy(b + *n, data, len);
    *n += len;
}

static void name_and_version_come_from_any_field_order(void **state)
{
    (void)state;
    char *dir = test_tmpdir("ccstore");
    struct peer_config cfg = {.data_dir = dir};
    struct peer p = {.cfg = &cfg};
    /* the shared object first (300 octets: a two-octet length), an unknown varint field 9 and
     * a fixed64 field 10, the name twice (the last counts, as when decoding, even when the
     * first was longer than any name may be), a version with octets after a NUL (a C string,
     * as protobuf-c gives it, ends at the NUL) */
    uint8_t so[300] = {0x7f, 'E', 'L', 'F'}, b[1024];
    size_t n = 0;
    put_field(b, &n, 3, so, sizeof so);
    b[n++] = 9 << 3 | 0;
    b[n++] = 0x96;
    b[n++] = 0x01;
    b[n++] = 10 << 3 | 1;
    memset(b + n, 0xab, 8);
    n += 8;
    char long_first[100];
    memset(long_first, 'y', sizeof long_first);
    put_field(b, &n, 1, long_first, sizeof long_first); /* replaced by the last name */
    put_field(b, &n, 2, "2.0-rc1\0 and octets after a NUL, which a C string ends before", 62);
    put_field(b, &n, 1, "asset", 5);
    struct ccstore_entry e, got;
    char *err = NULL;
    assert_int_equal(ccstore_install(&p, b, n, &e, &err), STELE_OK);
    assert_string_equal(e.name, "asset");
    assert_int_equal(ccstore_get(&p, e.hash, &got), STELE_OK);
    assert_string_equal(got.name, "asset");
    assert_string_equal(got.version, "2.0-rc1");
    int count = 0;
    assert_int_equal(ccstore_list(&p, count_entry, &count), STELE_OK);
    assert_int_equal(count, 1);

    /* the stored package damaged: cut inside the name's length-delimited octets, or inside the
     * fixed64 field, or a name longer than install allows */
    char path[4096], hx[65];
    hex_encode(e.hash, 32, hx);
    snprintf(path, sizeof path, "%s/chaincodes/%s.pkg", dir, hx);
    size_t cuts[] = {n - 2, 3 + sizeof so + 3 + 4};
    for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++) {
        assert_int_equal(chmod(path, 0600), 0);
        assert_int_equal(test_write_file(path, b, cuts[i]), 0);
        assert_int_equal(ccstore_get(&p, e.hash, &got), STELE_ERR_MALFORMED);
    }
    char long_name[80];
    memset(long_name, 'x', sizeof long_name);
    size_t m = 0;
    uint8_t c[512];
    put_field(c, &m, 1, long_name, sizeof long_name);
    put_field(c, &m, 2, "1", 1);
    assert_int_equal(test_write_file(path, c, m), 0);
    assert_int_equal(ccstore_get(&p, e.hash, &got), STELE_ERR_MALFORMED);
    count = 0;
    assert_int_equal(ccstore_list(&p, count_entry, &count), STELE_OK); /* skipped, not misread */
    assert_int_equal(count, 0);
    test_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(two_installs_at_once),
        cmocka_unit_test(a_crashed_install_is_in_nobodys_way),
        cmocka_unit_test(a_package_is_listed_only_once_it_loads),
        cmocka_unit_test(odd_versions_are_refused),
        cmocka_unit_test(name_and_version_come_from_any_field_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
