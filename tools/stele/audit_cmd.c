/*
 * audit_cmd.c — `stele audit`: walks a peer's whole chain and recomputes it.
 *
 * Block 0 read from the peer must be a genesis block of the channel (its configuration gives
 * the orderers, their keys and the organisations' CAs). The auditor then rebuilds the ledger
 * on its own, in a temporary directory, with the very code a peer commits with
 * (lib/ledger/kvledger.h): every next block must link to the previous one, carry a valid
 * finality proof, and have every transaction validated again — signatures, identities,
 * endorsement policies, duplicates, MVCC — and its writes applied. For each block the audit
 * compares what the peer recorded (validation codes, state hash in the metadata) with what it
 * recomputed, and at the end the peer's chain info (height, head hash, state hash) with its
 * own. The first inconsistency is reported with its block (and transaction) and the audit
 * exits 1; 0 when the whole chain checks out; 3 when the peer cannot be read.
 */
#include "peer_cmds.h"
#include "peer_client.h"

#include "base/arena.h"
#include "base/buf.h"
#include "base/json.h"
#include "base/log.h"
#include "base/status.h"
#include "cli/cli.h"
#include "identity/enrolment.h"
#include "identity/identity.h"
#include "ledger/blockhash.h"
#include "ledger/blockstore.h"
#include "ledger/kvledger.h"
#include "pb/pb.h"
#include "stele/peer.pb-c.h"

#include <ftw.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PROG "stele audit"

static const char audit_usage[] =
    "Usage: stele audit (--peer HOST:PORT | --network DIR) [--identity DIR] [--genesis FILE]\n"
    "                   [--json]\n\n"
    "Walks the peer's whole chain and recomputes it: hash links, finality proofs (commit\n"
    "certificates), creator and endorser signatures and identities, endorsement policies,\n"
    "validation codes and the state hash after every block. Reports the first inconsistency\n"
    "with its block (and transaction) and exits 1; exits 0 when everything checks out.\n"
    "--genesis FILE is the channel's genesis block as you trust it (with --network, the\n"
    "network's genesis.block): the peer's block 0 must be it, and every orderer key and CA\n"
    "comes from it. Without it the audit can only check the chain against the peer's own\n"
    "block 0, and says so. --network DIR audits the first peer of that network. The CRLs\n"
    "the ledger carries (stele crl publish) are applied as the peers apply them; CRL files\n"
    "a peer installs (`crls`) govern its services, never validation, and need no "
    "auditing.\n" PEER_CLIENT_TLS_HELP;

/* What the audit found. */
struct finding {
    bool bad;       /* an inconsistency */
    uint64_t block; /* where */
    long tx;        /* the transaction, or -1 */
    char what[512]; /* what is wrong */
};

static void found(struct finding *f, uint64_t block, long tx, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void found(struct finding *f, uint64_t block, long tx, const char *fmt, ...)
{
    va_list ap;
    f->bad = true;
    f->block = block;
    f->tx = tx;
    va_start(ap, fmt);
    vsnprintf(f->what, sizeof f->what, fmt, ap);
    va_end(ap);
}

/* Asks the peer for block `n`; *out freed with pb_free(). */
static int fetch(struct peer_opts *o, uint64_t n, Stele__Block **out)
{
    Stele__BlockQuery q = STELE__BLOCK_QUERY__INIT;
    q.by_case = STELE__BLOCK_QUERY__BY_NUMBER;
    q.number = n;
    return peer_client_call(o, PROG, "/stele.Query/Block", &q.base, &stele__block__descriptor,
                            (ProtobufCMessage **)out, false);
}

/* fetch(), but a block the peer does not have answers PEER_CLIENT_NOT_FOUND quietly. */
static int fetch_quiet(struct peer_opts *o, uint64_t n, Stele__Block **out)
{
    Stele__BlockQuery q = STELE__BLOCK_QUERY__INIT;
    q.by_case = STELE__BLOCK_QUERY__BY_NUMBER;
    q.number = n;
    return peer_client_call(o, PROG, "/stele.Query/Block", &q.base, &stele__block__descriptor,
                            (ProtobufCMessage **)out, true);
}

/* The trust anchor: the genesis block the user gives (--genesis FILE, or the network's
 * genesis.block with --network), compared with the peer's block 0. Without one, the audit
 * can only check the peer against the genesis block the peer itself serves. On success *g
 * (malloc'd) and *glen are the genesis bytes to start from and *channel (in b0 or the trusted
 * block) its channel. */
static int anchor(const char *file, const Stele__Block *b0, struct finding *f, uint8_t **g,
                  size_t *glen, Stele__Block **trusted)
{
    *trusted = NULL;
    if (!file) {
        if (!(*g = pb_pack(&b0->base, glen)))
            return cli_fail(PROG, STELE_ERR_NOMEM, "out of memory");
        fprintf(stderr, PROG ": warning: no --genesis: the chain is checked against the genesis "
                             "block the peer itself serves\n");
        return 0;
    }
    struct buf b;
    buf_init(&b);
    int rc = enrolment_read_file(file, 64u << 20, &b);
    if (rc) {
        buf_release(&b);
        return peer_client_read_failed(PROG, file, rc);
    }
    *trusted = (Stele__Block *)pb_unpack(&stele__block__descriptor, NULL, b.data, b.len, 0);
    uint8_t want[32], got[32];
    if (!*trusted || !(*trusted)->header || !(*trusted)->metadata ||
        blockhash_header_pb((*trusted)->header, want) != STELE_OK) {
        buf_release(&b);
        return cli_fail(PROG, STELE_ERR_MALFORMED, "%s is not a block", file);
    }
    if (!b0->header || blockhash_header_pb(b0->header, got) != STELE_OK ||
        memcmp(want, got, 32) != 0)
        found(f, 0, -1, "the peer's block 0 is not the genesis block of %s", file);
    *g = b.data; /* the buffer's memory passes to the caller */
    *glen = b.len;
    return 0;
}

/* Compares what the peer recorded for block `b` with the audit's ledger `l` after it
 * committed its own copy. */
static void compare(struct kvledger *l, const Stele__Block *b, struct finding *f)
{
    uint64_t n = b->header->number;
    Stele__Block *mine = NULL;
    struct arena *a = arena_create(0);
    if (!a || blockstore_get(kvledger_blocks(l), n, a, &mine) != STELE_OK) {
        found(f, n, -1, "the audit cannot read back its own copy of the block");
        goto out;
    }
    const ProtobufCBinaryData *theirs = &b->metadata->validation_codes,
                              *ours = &mine->metadata->validation_codes;
    if (theirs->len != ours->len) {
        found(f, n, -1, "the peer recorded %zu validation codes for %zu transactions", theirs->len,
              ours->len);
        goto out;
    }
    for (size_t i = 0; i < ours->len; i++)
        if (theirs->data[i] != ours->data[i]) {
            found(f, n, (long)i, "the peer recorded %s, the audit computes %s",
                  peer_code_name(theirs->data[i]), peer_code_name(ours->data[i]));
            goto out;
        }
    if (b->metadata->state_hash.len != mine->metadata->state_hash.len ||
        memcmp(b->metadata->state_hash.data, mine->metadata->state_hash.data,
               mine->metadata->state_hash.len) != 0)
        found(f, n, -1, "the peer's state hash after this block differs from the recomputed one");
out:
    arena_destroy(a);
}

/* Walks blocks 1..height-1 of the peer into `l`. */
static int walk(struct peer_opts *o, struct kvledger *l, uint64_t height, struct finding *f)
{
    for (uint64_t n = 1; n < height && !f->bad; n++) {
        Stele__Block *b = NULL;
        int rc = fetch_quiet(o, n, &b);
        if (rc == PEER_CLIENT_NOT_FOUND) { /* NOT_FOUND below the height it reported */
            found(f, n, -1, "the peer reports height %" PRIu64 " but does not serve this block",
                  height);
            break;
        }
        if (rc)
            return rc;
        if (!b->header || !b->metadata || b->header->number != n) {
            found(f, n, -1, "the peer answered another block or one without header/metadata");
            pb_free(&b->base);
            break;
        }
        /* Commit the block as the orderers delivered it: without the peer's additions. */
        Stele__BlockMetadata md = *b->metadata;
        md.validation_codes = (ProtobufCBinaryData){0, NULL};
        md.state_hash = (ProtobufCBinaryData){0, NULL};
        Stele__Block copy = *b;
        copy.metadata = &md;
        char *err = NULL;
        rc = kvledger_commit(l, &copy, &err);
        if (rc == STELE_ERR_NOMEM || rc == STELE_ERR_IO) {
            rc = cli_fail(PROG, rc, "%s", err ? err : stele_strerror(rc));
            free(err);
            pb_free(&b->base);
            return rc;
        }
        if (rc)
            found(f, n, -1, "%s", err ? err : stele_strerror(rc));
        else
            compare(l, b, f);
        free(err);
        pb_free(&b->base);
        if (n % 100 == 0 && isatty(STDERR_FILENO))
            fprintf(stderr, "\raudited %" PRIu64 " of %" PRIu64 " blocks", n, height);
    }
    if (isatty(STDERR_FILENO) && height > 100)
        fprintf(stderr, "\n");
    return 0;
}

/* Compares the peer's chain info with the audit's ledger. */
static void compare_head(struct kvledger *l, const Stele__PeerChainInfo *info, struct finding *f)
{
    uint64_t h;
    uint8_t head[32], state[32];
    kvledger_head(l, &h, head, NULL, state);
    if (info->height != h)
        found(f, h, -1, "the peer reports height %" PRIu64 " but served %" PRIu64 " blocks",
              info->height, h);
    else if (info->current_hash.len != 32 || memcmp(info->current_hash.data, head, 32))
        found(f, h - 1, -1, "the peer reports another head hash than the chain it served");
    else if (info->state_hash.len != 32 || memcmp(info->state_hash.data, state, 32))
        found(f, h - 1, -1, "the peer reports another state hash than the recomputed one");
}

static int report(const struct peer_opts *o, const struct finding *f, uint64_t height,
                  const uint8_t state[32])
{
    if (o->json) {
        struct buf b;
        struct json j;
        buf_init(&b);
        json_init(&j, &b);
        json_object_begin(&j);
        json_kv_string(&j, "peer", o->peer);
        json_kv_bool(&j, "consistent", !f->bad);
        json_kv_uint(&j, "blocks", height);
        if (f->bad) {
            json_kv_uint(&j, "block", f->block);
            if (f->tx >= 0)
                json_kv_int(&j, "tx", f->tx);
            json_kv_string(&j, "problem", f->what);
        } else {
            json_kv_hex(&j, "state_hash", state, 32);
        }
        json_object_end(&j);
        printf("%s\n", (char *)b.data);
        buf_release(&b);
    } else if (f->bad) { /* the finding quotes what the peer sent (its channel id, ...) */
        if (f->tx >= 0)
            printf("INCONSISTENT at block %" PRIu64 ", transaction %ld: ", f->block, f->tx);
        else
            printf("INCONSISTENT at block %" PRIu64 ": ", f->block);
        peer_client_fput_printable(f->what, stdout);
        putchar('\n');
    } else {
        char hx[65];
        hex_encode(state, 32, hx);
        printf("%s: %" PRIu64 " blocks audited: hash links, finality proofs, signatures, "
               "policies and validation codes check out\nstate hash %s\n",
               o->peer, height, hx);
    }
    return f->bad ? CLI_EXIT_REFUSED : CLI_EXIT_OK;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

int cmd_audit(int argc, char **argv)
{
    static const struct option longopts[] = {PEER_CLIENT_LONGOPTS,
                                             {"genesis", required_argument, NULL, 'G'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    struct peer_opts o = {0};
    struct finding f = {0};
    const char *genesis = NULL;
    char genesis_path[4096];
    Stele__Block *trusted = NULL;
    struct kvledger *l = NULL;
    struct msp *msp = NULL;
    Stele__Block *b0 = NULL;
    Stele__PeerChainInfo *info = NULL;
    char dir[] = "/tmp/stele-audit-XXXXXX", *err = NULL;
    bool made = false;
    int ch, rc;
    optind = 1;
    while ((ch = cli_getopt(PROG, argc, argv, "h", longopts)) != -1) {
        if (ch == 'h') {
            fputs(audit_usage, stdout);
            return CLI_EXIT_OK;
        }
        if (ch == 'G') {
            genesis = optarg;
            continue;
        }
        if (!peer_client_option(&o, ch, optarg))
            return cli_bad_option(PROG);
    }
    if (optind != argc)
        return cli_usage(PROG, "unexpected argument '%s'", argv[optind]);
    if (getenv("STELE_LOG") == NULL)
        log_set_level(LOG_WARN);
    if ((rc = peer_client_finish(&o, PROG, true)))
        goto out;
    Stele__PeerChainInfoRequest rq = STELE__PEER_CHAIN_INFO_REQUEST__INIT;
    if ((rc = peer_client_call(&o, PROG, "/stele.Query/ChainInfo", &rq.base,
                               &stele__peer_chain_info__descriptor, (ProtobufCMessage **)&info,
                               false)) ||
        (rc = fetch(&o, 0, &b0)))
        goto out;
    if (!genesis && o.network) {
        snprintf(genesis_path, sizeof genesis_path, "%s/genesis.block", o.network);
        genesis = genesis_path;
    }
    size_t glen = 0;
    uint8_t *g = NULL;
    if ((rc = anchor(genesis, b0, &f, &g, &glen, &trusted)))
        goto out;
    const char *channel = trusted && trusted->metadata->channel_id[0]
                              ? trusted->metadata->channel_id
                              : info->channel_id;
    if (f.bad) { /* another genesis block: nothing after it can be trusted */
        free(g);
        rc = report(&o, &f, 0, (const uint8_t[32]){0});
        goto out;
    }
    if (!(msp = msp_create(0)) || !mkdtemp(dir)) {
        free(g);
        rc = cli_fail(PROG, STELE_ERR_IO, "cannot prepare the audit's ledger in /tmp");
        goto out;
    }
    made = true;
    struct kvledger_options lo = {.dir = dir,
                                  .channel_id = channel,
                                  .genesis = g,
                                  .genesis_len = glen,
                                  .sync = false,
                                  .threads = 2,
                                  .msp = msp};
    rc = kvledger_open(&lo, &l, &err);
    free(g);
    if (rc) {
        found(&f, 0, -1, "block 0 is not a genesis block of channel %s: %s", channel,
              err ? err : stele_strerror(rc));
    } else if (!(rc = walk(&o, l, info->height, &f)) && !f.bad) {
        compare_head(l, info, &f);
    }
    if (rc == 0 || f.bad) {
        uint8_t state[32] = {0};
        uint64_t h = 0;
        if (l)
            kvledger_head(l, &h, NULL, NULL, state);
        rc = report(&o, &f, h, state);
    }
out:
    free(err);
    kvledger_close(l);
    msp_destroy(msp);
    pb_free(b0 ? &b0->base : NULL);
    pb_free(trusted ? &trusted->base : NULL);
    pb_free(info ? &info->base : NULL);
    peer_client_release(&o);
    if (made && nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
        fprintf(stderr, PROG ": could not remove %s\n", dir);
    return rc;
}
