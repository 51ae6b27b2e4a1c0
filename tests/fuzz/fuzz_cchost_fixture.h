/*
 * fuzz_cchost_fixture.h — the committed state of fuzz_cchost.c: a real statedb, opened once in
 * a temporary directory (removed at exit), holding the keys of namespace NS the fuzzer's
 * invocations read — among them 150 keys p000..p149 so ranges cross pages, keys with octets
 * >= 0x80, a deleted key, an empty value — and keys of the neighbouring namespaces "k" and
 * "kvx" that must never show; a model of NS's keys (fx.c, sorted) for the reference model; and
 * a proposal invoking NS, built once, for tx_open().
 *
 * Part of fuzz_cchost.c, and included by it only: a fuzz target is built from its one
 * tests/fuzz/fuzz_*.c (CMakeLists.txt), so its pieces are headers, with static definitions.
 */
#ifndef STELE_FUZZ_CCHOST_FIXTURE_H
#define STELE_FUZZ_CCHOST_FIXTURE_H

#include "base/buf.h"
#include "base/status.h"
#include "crypto/key.h"
#include "ledger/statedb.h"
#include "ledger/tx.h"

#include <ftw.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NS        "kv"
#define MAX_ITERS 256 /* iterators open at once (ccrt.h) */

/* Reports a broken promise and aborts. */
#define FAIL(...)                                     \
    do {                                              \
        fprintf(stderr, "fuzz_cchost: " __VA_ARGS__); \
        fputc('\n', stderr);                          \
        abort();                                      \
    } while (0)

/* ---- the committed state ------------------------------------------------------------------ */

/* A committed key of namespace NS, with its value and version. */
struct committed {
    char *key;
    uint8_t *value;
    size_t len;
    struct statedb_version ver;
};

static struct {
    char dir[256];
    struct statedb *db;
    struct committed *c; /* NS's keys, sorted (strcmp: unsigned octets) */
    size_t n_c;
    uint8_t *proposal; /* a proposal invoking NS, for tx_open() */
    size_t proposal_len;
} fx;

/* One write of the fixture. */
struct fx_write {
    uint64_t block;
    uint32_t tx;
    const char *ns;
    const char *key;
    const char *value; /* NULL: a delete */
};

static int cmp_committed(const void *x, const void *y)
{
    return strcmp(((const struct committed *)x)->key, ((const struct committed *)y)->key);
}

/* Records a write in the model of NS. */
static void fx_model(const struct fx_write *w)
{
    if (strcmp(w->ns, NS) != 0)
        return;
    size_t i = 0;
    while (i < fx.n_c && strcmp(fx.c[i].key, w->key) != 0)
        i++;
    if (i < fx.n_c) {
        free(fx.c[i].key);
        free(fx.c[i].value);
        fx.c[i] = fx.c[--fx.n_c];
    }
    if (!w->value)
        return;
    struct committed e = {
        strdup(w->key), (uint8_t *)strdup(w->value), strlen(w->value), {w->block, w->tx}};
    struct committed *c = realloc(fx.c, (fx.n_c + 1) * sizeof *fx.c);
    if (!e.key || !e.value || !c)
        abort();
    fx.c = c;
    fx.c[fx.n_c++] = e;
}

static void fx_apply(const struct fx_write *w, size_t n)
{
    struct statedb_update *u = statedb_update_create(w[0].block);
    for (size_t i = 0; i < n; i++) {
        char tx_id[65];
        snprintf(tx_id, sizeof tx_id, "%064x", (unsigned)(w[i].block * 16 + w[i].tx));
        const char *v = w[i].value ? w[i].value : "";
        if (!u || statedb_update_write(u, w[i].tx, tx_id, w[i].ns, w[i].key, (const uint8_t *)v,
                                       strlen(v), !w[i].value) != STELE_OK)
            FAIL("cannot write the fixture");
        fx_model(&w[i]);
    }
    if (statedb_apply(fx.db, u, NULL) != STELE_OK)
        FAIL("cannot apply the fixture");
    statedb_update_destroy(u);
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static void fx_cleanup(void)
{
    statedb_close(fx.db);
    fx.db = NULL;
    nftw(fx.dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    for (size_t i = 0; i < fx.n_c; i++) {
        free(fx.c[i].key);
        free(fx.c[i].value);
    }
    free(fx.c);
    free(fx.proposal);
}

/* Opens the statedb with the fixture and builds the proposal. */
static void fx_init(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(fx.dir, sizeof fx.dir, "%s/fuzz_cchost.XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
    char *err = NULL;
    if (!mkdtemp(fx.dir) || statedb_open(fx.dir, false, &fx.db, &err) != STELE_OK)
        FAIL("cannot open a statedb in %s: %s", fx.dir, err ? err : "?");
    atexit(fx_cleanup);

    struct fx_write b0[] = {
        {0, 0, NS, "a", "1"},     {0, 0, NS, "b", "2"},  {0, 0, "kvx", "a", "other ns"},
        {0, 0, "kvx", "b0", "x"}, {0, 0, "k", "v", "x"}, {0, 1, NS, "c", "3"},
        {0, 1, NS, "d", ""},      {0, 1, NS, "e", "5"},
    };
    fx_apply(b0, sizeof b0 / sizeof *b0);
    static char keys[150][8], vals[150][8];
    struct fx_write b1[156];
    for (unsigned i = 0; i < 150; i++) {
        snprintf(keys[i], sizeof keys[i], "p%03u", i);
        snprintf(vals[i], sizeof vals[i], "v%03u", i);
        b1[i] = (struct fx_write){1, i / 50, NS, keys[i], vals[i]}; /* versions differ */
    }
    b1[150] = (struct fx_write){1, 2, NS, "\x80hi", "hi"};
    b1[151] = (struct fx_write){1, 2, NS, "\xff", "ff"};
    b1[152] = (struct fx_write){1, 2, "kvx", "p0005", "other ns"};
    b1[153] = (struct fx_write){1, 3, NS, "b", "2b"};
    b1[154] = (struct fx_write){1, 3, NS, "c", NULL};
    b1[155] = (struct fx_write){1, 3, NS, "zz/2", "two"};
    fx_apply(b1, 156);
    struct fx_write b2[] = {
        {2, 0, NS, "zz/1", "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz"},
        {2, 3, NS, "zz/2", "two again"},
    };
    fx_apply(b2, 2);
    qsort(fx.c, fx.n_c, sizeof *fx.c, cmp_committed);

    /* the proposal: fixed key, nonce and time, so that every run builds the same bytes */
    uint8_t d[CRYPTO_SCALAR_LEN], nonce[24];
    memset(d, 0x11, sizeof d);
    memset(nonce, 0x22, sizeof nonce);
    struct crypto_key *k = NULL;
    struct tx_proposal_params p = {.channel_id = "ch",
                                   .creator = (const uint8_t *)"fuzz-creator",
                                   .creator_len = 12,
                                   .chaincode = NS,
                                   .function = "f",
                                   .nonce = nonce,
                                   .nonce_len = sizeof nonce,
                                   .timestamp_ms = 1700000000000ull};
    struct buf b;
    uint8_t sig[64];
    buf_init(&b);
    if (crypto_key_from_scalar(d, &k) || tx_proposal_build(&p, k, &b, sig, NULL))
        FAIL("cannot build the proposal");
    crypto_key_destroy(k);
    fx.proposal = buf_steal(&b, &fx.proposal_len);
}

static const struct committed *committed_find(const char *key)
{
    size_t lo = 0, hi = fx.n_c;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(fx.c[mid].key, key);
        if (c == 0)
            return &fx.c[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

#endif
