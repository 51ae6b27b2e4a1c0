/* testutil.c — helpers shared by the cmocka tests. */
#include "testutil.h"

#include "base/buf.h"
#include "base/clock.h"
#include "base/status.h"
#include "crypto/ecqv.h"
#include "crypto/hash.h"
#include "identity/enrolment.h"
#include "identity/identity.h"
#include "ledger/genesis.h"
#include "ledger/tx.h"
#include "base/arena.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static char *join(const char *env, const char *fallback, const char *rel)
{
    const char *base = getenv(env);
    if (!base)
        base = fallback;
    size_t n = strlen(base) + strlen(rel) + 2;
    char *p = malloc(n);
    snprintf(p, n, "%s/%s", base, rel);
    return p;
}

char *test_source_path(const char *rel)
{
    return join("STELE_SOURCE_DIR", "..", rel);
}

char *test_binary_path(const char *rel)
{
    return join("STELE_BINARY_DIR", ".", rel);
}

char *test_tmpdir(const char *tag)
{
    const char *t = getenv("TMPDIR");
    char tmpl[512];
    snprintf(tmpl, sizeof tmpl, "%s/stele-%s-XXXXXX", t ? t : "/tmp", tag);
    char *d = mkdtemp(tmpl);
    return d ? strdup(d) : NULL;
}

void test_rmtree(const char *path)
{
    if (!path || !*path || strcmp(path, "/") == 0)
        return;
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    if (system(cmd) != 0)
        fprintf(stderr, "testutil: could not remove %s\n", path);
}

char *test_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *p = malloc((size_t)n + 1);
    size_t got = fread(p, 1, (size_t)n, f);
    fclose(f);
    p[got] = 0;
    if (len)
        *len = got;
    return p;
}

int test_write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t w = fwrite(data, 1, len, f);
    return (fclose(f) == 0 && w == len) ? 0 : -1;
}

void test_identity_issue(const struct crypto_key *ca, uint64_t ca_id, const char *id,
                         const char *org, const char *role, uint64_t valid_from, uint32_t valid_s,
                         struct test_identity *out)
{
    static atomic_ulong serial = 1000;
    struct crypto_key *k_u = NULL;
    uint8_t r_u[CRYPTO_POINT_COMPRESSED_LEN], r[32], h[32];
    struct ecqv_cert f = {.serial = atomic_fetch_add(&serial, 1),
                          .issuer_id = ca_id,
                          .valid_from = valid_from ? valid_from : clock_wall_s() - 60,
                          .valid_duration = valid_s,
                          .key_usage = ECQV_USAGE_SIGN};
    memset(out, 0, sizeof *out);
    assert_int_equal(crypto_sha256(id, strlen(id), h), STELE_OK);
    memcpy(f.subject_id, h, ECQV_SUBJECT_ID_LEN);
    assert_int_equal(ecqv_request(&k_u, r_u), STELE_OK);
    assert_int_equal(ecqv_generate(ca, r_u, sizeof r_u, &f, out->cert, r), STELE_OK);
    assert_int_equal(ecqv_reception(k_u, out->cert, sizeof out->cert, r, ca, &out->key), STELE_OK);
    crypto_key_destroy(k_u);
    out->record = calloc(1, sizeof *out->record);
    assert_int_equal(
        identity_issue(ca, out->cert, id, org, role, NULL, 0, f.valid_from, out->record), STELE_OK);
}

void test_identity_save(const struct test_identity *t, const struct crypto_key *ca, const char *dir)
{
    char *err = NULL;
    int rc = enrolment_save(dir, t->key, t->cert, t->record->data, t->record->len, ca, &err);
    if (rc != STELE_OK)
        fail_msg("enrolment_save %s: %s", dir, err ? err : "?");
}

void test_identity_free(struct test_identity *t)
{
    crypto_key_destroy(t->key);
    if (t->record)
        buf_release(t->record);
    free(t->record);
    memset(t, 0, sizeof *t);
}

Stele__ChannelConfig *test_channel_config(struct arena *a, const char *channel,
                                          const char *consensus, struct crypto_key *const *keys,
                                          size_t n, const struct crypto_key *ca)
{
    Stele__ChannelConfig *c = arena_calloc(a, 1, sizeof *c);
    Stele__BatchParameters *b = arena_calloc(a, 1, sizeof *b);
    Stele__PbftParameters *p = arena_calloc(a, 1, sizeof *p);
    Stele__OrganisationConfig *orgs = arena_calloc(a, 2, sizeof *orgs);
    Stele__ChaincodeDefinition *cc = arena_calloc(a, 1, sizeof *cc);
    uint8_t *ca_pub = arena_alloc(a, 33), *hash = arena_alloc(a, 32);
    assert_true(c && b && p && orgs && cc && ca_pub && hash);
    stele__channel_config__init(c);
    stele__batch_parameters__init(b);
    stele__pbft_parameters__init(p);
    stele__chaincode_definition__init(cc);
    c->channel_id = arena_strdup(a, channel);
    c->consensus_type = arena_strdup(a, consensus);
    c->endorsement_version = TX_ENDORSEMENT_VERSION; /* as genesis builders write it */
    *b = (Stele__BatchParameters){b->base, 10, 50, 16 << 10, 64 << 10};
    c->batch = b;
    if (strcmp(consensus, "pbft") == 0) {
        *p = (Stele__PbftParameters){p->base, 10, 40, 2000, 2000, 30000};
        c->pbft = p;
    }
    crypto_key_public_compressed(ca, ca_pub);
    static const char *names[] = {"OrdererOrg", "Org1"};
    c->organisations = arena_calloc(a, 2, sizeof *c->organisations);
    for (size_t i = 0; i < 2; i++) {
        stele__organisation_config__init(&orgs[i]);
        orgs[i].name = (char *)names[i];
        orgs[i].n_ca_public_keys = 1;
        orgs[i].ca_public_keys = arena_calloc(a, 1, sizeof(ProtobufCBinaryData));
        orgs[i].ca_public_keys[0] = (ProtobufCBinaryData){33, ca_pub};
        c->organisations[i] = &orgs[i];
    }
    orgs[0].n_admins = 1;
    orgs[0].admins = arena_calloc(a, 1, sizeof(char *));
    orgs[0].admins[0] = "admin.orderers";
    c->n_organisations = 2;
    c->orderers = n ? arena_calloc(a, n, sizeof *c->orderers) : NULL;
    for (size_t i = 0; i < n; i++) {
        Stele__OrdererNodeConfig *o = arena_calloc(a, 1, sizeof *o);
        uint8_t *pub = arena_alloc(a, 33);
        assert_true(o && pub);
        stele__orderer_node_config__init(o);
        crypto_key_public_compressed(keys[i], pub);
        o->node_id = arena_printf(a, "orderer%zu", i);
        o->organisation = "OrdererOrg";
        o->public_key = (ProtobufCBinaryData){33, pub};
        o->address = arena_printf(a, "127.0.0.1:%zu", 7050 + i);
        c->orderers[i] = o;
    }
    c->n_orderers = n;
    memset(hash, 0xab, 32);
    cc->name = "vote";
    cc->version = "1.0";
    cc->sequence = 1;
    cc->package_hash = (ProtobufCBinaryData){32, hash};
    cc->endorsement_policy = "AND(Org1.peer, OrdererOrg.admin)";
    c->chaincodes = arena_calloc(a, 1, sizeof *c->chaincodes);
    c->chaincodes[0] = cc;
    c->n_chaincodes = 1;
    c->lifecycle_policy = GENESIS_DEFAULT_LIFECYCLE_POLICY;
    assert_int_equal(genesis_check(c, NULL), STELE_OK);
    return c;
}

/* Claims `port` for the rest of this process (the lock's descriptor is never closed, and is
 * not inherited by the daemons it starts). False when another process holds it. */
static bool claim_port(int port)
{
    const char *tmp = getenv("TMPDIR");
    char dir[512], path[600];
    snprintf(dir, sizeof dir, "%s/stele-test-ports", tmp && tmp[0] ? tmp : "/tmp");
    (void)mkdir(dir, 0777);
    snprintf(path, sizeof path, "%s/c%d.lock", dir, port);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0)
        return true; /* no place for locks: the bind check alone, as before */
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        close(fd);
        return false;
    }
    return true;
}

int test_free_port(void)
{
    static unsigned seed;
    if (!seed)
        seed = (unsigned)getpid() ^ (unsigned)clock_mono_ms();
    for (int tries = 0; tries < 200; tries++) {
        int port = 10000 + (int)(rand_r(&seed) % 10000);
        if (!claim_port(port))
            continue;
        int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in sa = {.sin_family = AF_INET,
                                 .sin_port = htons((uint16_t)port),
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        bool ok = s >= 0 && bind(s, (struct sockaddr *)&sa, sizeof sa) == 0;
        if (s >= 0)
            close(s);
        if (ok)
            return port;
    }
    fail_msg("no free port in 10000..19999");
    return -1;
}

/* volatile: GCC takes malloc() for a function that touches no variable of the program, and
 * would drop a store to the countdown just before one */
static volatile long alloc_countdown = -1; /* allocations left before one fails; -1: none */
static volatile long alloc_failed;         /* allocations failed since armed */

void test_alloc_arm(long n)
{
    alloc_failed = 0;
    alloc_countdown = n < 0 ? -1 : n;
}

long test_alloc_disarm(void)
{
    alloc_countdown = -1;
    return alloc_failed;
}

bool test_alloc_fails(void)
{
    if (alloc_countdown == 0) {
        alloc_failed++;
        return true;
    }
    if (alloc_countdown > 0)
        alloc_countdown--;
    return false;
}
