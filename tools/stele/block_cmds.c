/*
 * block_cmds.c — `stele block get N`: stele.AtomicBroadcast/Deliver for block N alone
 * (FAIL_IF_NOT_READY), the request signed with the caller's identity.
 *
 * Prints the header, its recomputed hash, whether the data hash matches the envelopes, the
 * tx_ids and a summary of the finality proof. For solo blocks the signature is checked against
 * the public key carried in the proof, and the signer's identity record against the caller's
 * own CA (ca.pub of --identity): a valid orderer identity holding that key. Whether that
 * orderer is the one the channel configuration names is for a full audit. Block 0 also shows
 * the channel configuration it carries (channel_print.h); `stele chain config` shows only that.
 */
#include "block_cmds.h"
#include "channel_print.h"
#include "orderer_client.h"
#include "peer_client.h"
#include "peer_cmds.h"

#include "base/text.h"
#include "base/arena.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/json.h"
#include "base/status.h"
#include "cli/cli.h"
#include "crypto/ecdsa.h"
#include "crypto/key.h"
#include "identity/enrolment.h"
#include "identity/identity.h"
#include "ledger/blockhash.h"
#include "ledger/envelope.h"
#include "ledger/genesis.h"
#include "ledger/pbft_msg.h"
#include "ledger/seek.h"
#include "pb/pb.h"
#include "stele/peer.pb-c.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char block_usage[] =
    "Usage: stele block get N (--orderer HOST:PORT --identity DIR | --network NET)\n"
    "       stele block get N --peer HOST:PORT --identity DIR\n"
    "                         [--channel ID] [--tls-ca FILE [--tls-cert FILE --tls-key FILE]]\n"
    "                         [--json]\n"
    "\n"
    "Fetches block N from an orderer (Deliver, signed with the enrolled identity in DIR:\n"
    "key.pem, cert, identity, ca.pub) and prints its number, header hash, previous and data\n"
    "hashes, tx_ids and finality proof. A solo proof's signature is checked, and its signer's\n"
    "identity against your CA (DIR/ca.pub): it must be an orderer holding the signing key.\n"
    "Block 0 also shows the channel configuration it carries (organisations and their CA\n"
    "keys, orderers with addresses, consensus, batch parameters, chaincode definitions) and\n"
    "who signed it (see also 'stele chain config').\n"
    "With --peer the block comes from a peer's ledger (stele.Query/Block, a signed request),\n"
    "with the validation code of each transaction and the state hash after it.\n"
    "Exits 1 when the block does not exist or the request is refused.\n"
    "--channel defaults to the orderer's channel (asked with Orderer/ChainInfo).\n"
    "--tls-ca FILE: the orderer (or the peer) serves TLS with a certificate from these PEM\n"
    "roots; --tls-cert and --tls-key give a client certificate (mutual TLS); --network NET\n"
    "uses the network's own when it runs TLS.\n"
    "--network NET takes the first orderer, the channel and (unless --identity is given) the\n"
    "CA admin's identity of the network `stele-network up --dir NET` started.\n";

#define PROG         "stele block get"
#define TX_IDS_SHOWN 8 /* tx_ids printed in the human output */

/* What the command works with. */
struct block_ctx {
    const struct chain_opts *o;  /* options */
    const char *prog;            /* the command, for messages */
    bool config_only;            /* stele chain config: print block 0's configuration only */
    int config_status;           /* with config_only: the exit status of what was printed */
    struct enrolment self;       /* the caller's identity (signs the request) */
    struct msp *msp;             /* trusts the caller's CA: judges the signer of a proof */
    bool load_genesis;           /* the block asked for is block 0, read for its orderer set */
    bool have_members;           /* `members` holds the orderer set of block 0 */
    struct pbft_members members; /* checks pbft commit certificates */
    const char *channel;         /* the channel asked (orderer) */
};

/* What the proof says, for printing. */
struct proof_summary {
    const char *kind;               /* consensus_type, or "none" */
    const char *node_id;            /* solo: signer's node id */
    const ProtobufCBinaryData *key; /* solo: signer's public key */
    const char *verdict;            /* "valid", "invalid", "absent", "unknown encoding" */
    const char *signer;             /* the signer's identity: "verified", or why not */
    struct identity id;             /* the signer's identity when verified */
    uint64_t view;                  /* pbft: the view of the certificate */
    char committers[256];           /* pbft: the orderers whose COMMITs it holds */
};

/* Builds the signed Deliver request for block n; *out is malloc'd. */
static int seek_request(struct block_ctx *ctx, const char *channel, uint64_t n,
                        ProtobufCBinaryData *out)
{
    const struct enrolment *self = &ctx->self;
    int rc =
        seek_deliver_request(channel, n, n, STELE__SEEK_INFO__SEEK_BEHAVIOR__SEEK_FAIL_IF_NOT_READY,
                             self->identity.data, self->identity.len, self->key, out);
    if (rc)
        rc = cli_fail(ctx->prog, rc, "cannot sign the request: %s", stele_strerror(rc));
    return rc;
}

/* Judges the identity record in a solo proof with the caller's CA: a valid orderer identity
 * whose key is the one that signed. */
static const char *judge_signer(struct block_ctx *ctx, struct arena *a, const Stele__SoloProof *p,
                                const struct crypto_key *k, struct identity *id)
{
    struct crypto_key *q = NULL;
    char *err = NULL;
    if (p->identity.len == 0)
        return "absent";
    int rc =
        identity_verify(ctx->msp, a, p->identity.data, p->identity.len, clock_wall_s(), id, &err);
    free(err);
    if (rc == STELE_ERR_EXPIRED)
        return "expired";
    if (rc == STELE_ERR_REVOKED)
        return "revoked";
    if (rc)
        return "not issued by your CA";
    bool same = identity_public_key(ctx->msp, id, &q) == STELE_OK && crypto_key_public_equal(q, k);
    crypto_key_destroy(q);
    if (!same)
        return "does not hold the signing key";
    return identity_has_role(id, "orderer") ? "verified" : "not an orderer";
}

/* A pbft commit certificate, checked against the orderer set of block 0. */
static void summarize_pbft(struct block_ctx *ctx, struct arena *a, const Stele__Block *b,
                           struct proof_summary *s)
{
    const ProtobufCBinaryData *fp = &b->metadata->finality_proof;
    Stele__PbftProof *p =
        (Stele__PbftProof *)pb_unpack(&stele__pbft_proof__descriptor, a, fp->data, fp->len, 0);
    if (!p)
        return;
    s->view = p->view;
    s->signer = "absent";
    size_t used = 0;
    for (size_t i = 0; i < p->n_commits && used + 70 < sizeof s->committers; i++) {
        Stele__PbftMessage *m = (Stele__PbftMessage *)pb_unpack(&stele__pbft_message__descriptor, a,
                                                                p->commits[i]->message.data,
                                                                p->commits[i]->message.len, 0);
        int k = snprintf(s->committers + used, sizeof s->committers - used, "%s%.64s",
                         used ? ", " : "", m && m->sender ? m->sender : "?");
        if (k > 0)
            used += (size_t)k;
    }
    if (!ctx->have_members) {
        s->verdict = "not checked (block 0 could not be read)";
        return;
    }
    const char *why = "";
    s->verdict = pbft_block_check(&ctx->members, a, b, NULL, &why) == STELE_OK ? "valid" : why;
}

static void summarize_proof(struct block_ctx *ctx, struct arena *a, const Stele__Block *b,
                            const uint8_t hash[32], struct proof_summary *s)
{
    const Stele__BlockMetadata *md = b->metadata;
    *s = (struct proof_summary){.kind = "none", .verdict = "absent", .signer = "absent"};
    if (!md || md->finality_proof.len == 0)
        return;
    s->kind = md->consensus_type && md->consensus_type[0] ? md->consensus_type : "unknown";
    s->verdict = "unknown encoding";
    if (strcmp(s->kind, "pbft") == 0) {
        summarize_pbft(ctx, a, b, s);
        return;
    }
    if (strcmp(s->kind, "solo") != 0)
        return;
    Stele__SoloProof *p = (Stele__SoloProof *)pb_unpack(
        &stele__solo_proof__descriptor, a, md->finality_proof.data, md->finality_proof.len, 0);
    if (!p)
        return;
    struct crypto_key *k = NULL;
    s->node_id = p->node_id;
    s->key = &p->public_key;
    s->verdict = "invalid";
    if (crypto_key_from_public(p->public_key.data, p->public_key.len, &k) != STELE_OK)
        return;
    if (crypto_verify_digest(k, hash, p->signature.data, p->signature.len) == STELE_OK)
        s->verdict = "valid";
    s->signer = judge_signer(ctx, a, p, k, &s->id);
    crypto_key_destroy(k);
}

/* The tx_id of envelope i, or "(undecodable)". */
static const char *tx_id_of(struct arena *a, const ProtobufCBinaryData *e)
{
    struct envelope_view v;
    Stele__Envelope *env =
        (Stele__Envelope *)pb_unpack(&stele__envelope__descriptor, a, e->data, e->len, 0);
    if (env && envelope_open(a, env, &v, NULL) == STELE_OK)
        return v.header->tx_id;
    return "(undecodable)";
}

int block_print_config(struct arena *a, const Stele__Block *b, bool json)
{
    struct channel_view v;
    uint8_t hash[32] = {0};
    blockhash_header_pb(b->header, hash);
    channel_view_read(a, b, &v);
    if (json) {
        struct buf out;
        struct json j;
        buf_init(&out);
        json_init(&j, &out);
        channel_view_json(&j, &v, hash);
        printf("%s\n", (char *)out.data);
        buf_release(&out);
    } else {
        char hx[65];
        hex_encode(hash, 32, hx);
        printf("genesis block  %s\n", hx);
        channel_view_text(stdout, &v);
    }
    return v.cfg ? CLI_EXIT_OK : CLI_EXIT_REFUSED;
}

static void print_block(struct block_ctx *ctx, struct arena *a, const Stele__Block *b)
{
    bool json = ctx->o->json;
    uint8_t hash[32] = {0};
    blockhash_header_pb(b->header, hash);
    if (ctx->config_only) {
        ctx->config_status = block_print_config(a, b, json);
        return;
    }
    struct channel_view cv = {0};
    if (b->header->number == 0)
        channel_view_read(a, b, &cv);
    bool data_ok = blockhash_check_data(b) == STELE_OK;
    struct proof_summary ps;
    summarize_proof(ctx, a, b, hash, &ps);
    size_t n = b->data ? b->data->n_envelopes : 0;
    const Stele__BlockHeader *h = b->header;
    const Stele__BlockMetadata *md = b->metadata;
    if (json) {
        struct buf out;
        struct json j;
        buf_init(&out);
        json_init(&j, &out);
        json_object_begin(&j);
        json_kv_uint(&j, "number", h->number);
        json_kv_hex(&j, "hash", hash, sizeof hash);
        json_kv_hex(&j, "previous_hash", h->previous_hash.data, h->previous_hash.len);
        json_kv_hex(&j, "data_hash", h->data_hash.data, h->data_hash.len);
        json_kv_bool(&j, "data_hash_valid", data_ok);
        json_kv_string(&j, "channel_id", md ? md->channel_id : "");
        json_kv_uint(&j, "timestamp_ms", md ? md->timestamp_ms : 0);
        json_key(&j, "tx_ids");
        json_array_begin(&j);
        for (size_t i = 0; i < n; i++)
            json_string(&j, tx_id_of(a, &b->data->envelopes[i]));
        json_array_end(&j);
        if (md && md->validation_codes.len) {
            json_key(&j, "validation_codes");
            json_array_begin(&j);
            for (size_t i = 0; i < md->validation_codes.len; i++)
                json_string(&j, peer_code_name(md->validation_codes.data[i]));
            json_array_end(&j);
        }
        if (md && md->state_hash.len)
            json_kv_hex(&j, "state_hash", md->state_hash.data, md->state_hash.len);
        json_key(&j, "finality_proof");
        json_object_begin(&j);
        json_kv_string(&j, "consensus_type", ps.kind);
        if (ps.node_id)
            json_kv_string(&j, "node_id", ps.node_id);
        if (ps.key)
            json_kv_hex(&j, "public_key", ps.key->data, ps.key->len);
        if (strcmp(ps.kind, "pbft") == 0) {
            json_kv_uint(&j, "view", ps.view);
            json_kv_string(&j, "committers", ps.committers);
            json_kv_string(&j, "certificate", ps.verdict);
        }
        json_kv_string(&j, "signature", ps.verdict);
        json_kv_string(&j, "signer_identity", ps.signer);
        if (strcmp(ps.signer, "verified") == 0) {
            json_kv_string(&j, "signer_id", ps.id.id);
            json_kv_string(&j, "signer_org", ps.id.org);
        }
        json_object_end(&j);
        if (h->number == 0) {
            json_key(&j, "channel_config");
            channel_view_json(&j, &cv, NULL);
        }
        json_object_end(&j);
        printf("%s\n", (char *)out.data);
        buf_release(&out);
        return;
    }
    char hx[65], prev[65] = "", data[65] = "";
    hex_encode(hash, sizeof hash, hx);
    if (h->previous_hash.len == 32)
        hex_encode(h->previous_hash.data, 32, prev);
    if (h->data_hash.len == 32)
        hex_encode(h->data_hash.data, 32, data);
    char chan[260], t[260];
    printf("number         %" PRIu64 "\nhash           %s\nprevious_hash  %s\n"
           "data_hash      %s (%s)\nchannel        %s\ntransactions   %zu\n",
           h->number, hx, prev, data, data_ok ? "matches the envelopes" : "MISMATCH",
           peer_client_printable(md ? md->channel_id : "", chan, sizeof chan), n);
    /* A terminal shows the first few; --json lists every tx_id. */
    size_t shown = n <= TX_IDS_SHOWN + 1 ? n : TX_IDS_SHOWN;
    for (size_t i = 0; i < shown; i++)
        printf(
            "  %s%s%s\n", peer_client_printable(tx_id_of(a, &b->data->envelopes[i]), t, sizeof t),
            md && i < md->validation_codes.len ? " " : "",
            md && i < md->validation_codes.len ? peer_code_name(md->validation_codes.data[i]) : "");
    if (md && md->state_hash.len == 32) {
        char st[65];
        hex_encode(md->state_hash.data, 32, st);
        printf("state_hash     %s (after this block, as the peer computed it)\n", st);
    }
    if (shown < n)
        printf("  … and %zu more (--json lists them all)\n", n - shown);
    char t1[260], t2[260], who[sizeof ps.committers * 4];
    printf("finality       %s", peer_client_printable(ps.kind, t1, sizeof t1));
    if (strcmp(ps.kind, "pbft") == 0) {
        printf(": commit certificate %s (view %" PRIu64 ", COMMITs from %s)\n", ps.verdict, ps.view,
               peer_client_printable(ps.committers, who, sizeof who));
        return;
    }
    if (ps.node_id)
        printf(", signed by %s", peer_client_printable(ps.node_id, t1, sizeof t1));
    printf(": signature %s", ps.verdict);
    if (strcmp(ps.kind, "solo") == 0 && strcmp(ps.signer, "verified") == 0)
        printf(", signer %s of %s verified with your CA",
               peer_client_printable(ps.id.id, t1, sizeof t1),
               peer_client_printable(ps.id.org, t2, sizeof t2));
    else if (strcmp(ps.kind, "solo") == 0)
        printf(", signer identity %s", ps.signer);
    putchar('\n');
    if (h->number == 0)
        channel_view_text(stdout, &cv);
}

/* Runs the Deliver call and prints the block. */
static int get_block(struct block_ctx *ctx, struct rpc_channel *ch, uint64_t n,
                     const ProtobufCBinaryData *req_bytes)
{
    const struct chain_opts *o = ctx->o;
    Stele__Envelope *req = (Stele__Envelope *)pb_unpack(&stele__envelope__descriptor, NULL,
                                                        req_bytes->data, req_bytes->len, 0);
    struct rpc_call *call = rpc_stream_open(ch, "/stele.AtomicBroadcast/Deliver", RPC_SERVER_STREAM,
                                            &stele__deliver_response__descriptor, 30000);
    struct arena *a = arena_create(0);
    int rc = STELE_ERR_NOMEM, printed = 0;
    bool by_status = false; /* rc comes from the orderer's status message, `status` */
    bool other = false;     /* the orderer sent another block than n, or n twice: `got` */
    uint64_t got = 0;
    int status = 0;
    if (!req || !call || !a)
        goto out;
    if ((rc = rpc_call_send(call, &req->base)) || (rc = rpc_call_close_send(call)))
        goto out;
    for (;;) {
        ProtobufCMessage *m = NULL;
        rc = rpc_call_recv(call, &m, 30000, false);
        if (rc)
            break;
        Stele__DeliverResponse *r = (Stele__DeliverResponse *)m;
        if (r->type_case == STELE__DELIVER_RESPONSE__TYPE_BLOCK && r->block && r->block->header) {
            if (r->block->header->number != n || printed) { /* block n was asked for, alone */
                other = true;
                got = r->block->header->number;
                rc = STELE_ERR_MALFORMED;
                pb_free(m);
                break;
            }
            if (ctx->load_genesis) {
                Stele__ChannelConfig *cfg = NULL;
                if (genesis_read(a, r->block, NULL, &cfg, NULL) == STELE_OK &&
                    pbft_members_init(&ctx->members, cfg) == STELE_OK)
                    ctx->have_members = true;
            } else {
                print_block(ctx, a, r->block);
            }
            printed++;
        } else if (r->type_case == STELE__DELIVER_RESPONSE__TYPE_STATUS) {
            rc = r->status == STELE__STATUS__STATUS_SUCCESS     ? STELE_OK
                 : r->status == STELE__STATUS__STATUS_NOT_FOUND ? STELE_ERR_NOT_FOUND
                 : r->status == STELE__STATUS__STATUS_FORBIDDEN ? STELE_ERR_PERMISSION
                                                                : STELE_ERR_INVALID;
            by_status = true;
            status = r->status;
            pb_free(m);
            break;
        }
        pb_free(m);
    }
out:;
    struct rpc_result res = {0};
    int frc = call ? rpc_call_finish(call, rc != STELE_OK, &res) : STELE_OK;
    pb_free(req ? &req->base : NULL);
    arena_destroy(a);
    /* a stream that broke (orderer unreachable, deadline) exits as the transport failed */
    if (rc != STELE_OK && !by_status && res.code != RPC_OK && res.code != RPC_CANCELLED)
        rc = peer_client_failure(rpc_status_from_code(res.code), &res);
    if (ctx->load_genesis) /* quiet: the fetch of the block asked for reports */
        return rc;
    if (other)
        return cli_fail(ctx->prog, rc,
                        "%s answered block %" PRIu64 " when asked for block %" PRIu64 " alone",
                        o->orderer, got, n);
    if (rc == STELE_ERR_NOT_FOUND)
        return cli_fail(ctx->prog, rc,
                        "block %" PRIu64 " does not exist on %s (see stele chain info)", n,
                        o->orderer);
    if (rc == STELE_ERR_PERMISSION)
        return cli_fail(ctx->prog, rc, "%s refused the request: the identity is not a reader",
                        o->orderer);
    if (rc && by_status) { /* say what the orderer said, not how the stream then ended */
        const ProtobufCEnumValue *v =
            protobuf_c_enum_descriptor_get_value(&stele__status__descriptor, status);
        return cli_fail(ctx->prog, rc,
                        "%s answered %s to the request for block %" PRIu64 " of channel %s",
                        o->orderer, v ? v->name : "an unknown status", n, ctx->channel);
    }
    if (rc == STELE_OK && printed == 0)
        rc = frc ? frc : STELE_ERR_MALFORMED;
    char d[PEER_CLIENT_DETAIL_MAX];
    if (rc)
        return cli_fail(ctx->prog, rc, "%s: %s", o->orderer,
                        peer_client_detail(&res, stele_strerror(rc), d, sizeof d));
    return ctx->config_only ? ctx->config_status : CLI_EXIT_OK;
}

static int block_run(struct chain_opts *o_, int argc, char **argv);

int cmd_block(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) { /* with --peer too */
        fputs(block_usage, stdout);
        return CLI_EXIT_OK;
    }
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--peer") == 0 || strncmp(argv[i], "--peer=", 7) == 0)
            return peer_block_get(argc, argv);
    if (argc < 2 || strcmp(argv[1], "get") != 0) {
        bool help = argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0);
        fputs(block_usage, help ? stdout : stderr);
        return help ? CLI_EXIT_OK : CLI_EXIT_USAGE;
    }
    struct chain_opts o = {0};
    int rc = orderer_client_parse(argc - 1, argv + 1, PROG, block_usage, &o);
    if (rc == 0)
        rc = block_run(&o, argc, argv);
    orderer_client_release(&o);
    return rc;
}

int block_fetch(const struct chain_opts *o, uint64_t n, bool config_only, const char *prog)
{
    int rc;
    if (!o->identity)
        return cli_usage(prog, "--identity DIR is required (Deliver requests are signed)");
    struct block_ctx ctx = {.o = o, .prog = prog, .config_only = config_only};
    char *err = NULL;
    if ((rc = enrolment_load(o->identity, &ctx.self, &err))) {
        rc = cli_fail(prog, rc, "--identity %s: %s", o->identity, err ? err : stele_strerror(rc));
        free(err);
        return rc;
    }
    if (!(ctx.msp = msp_create(0)) || msp_add_ca(ctx.msp, NULL, 0, ctx.self.ca_pub) != STELE_OK) {
        msp_destroy(ctx.msp);
        enrolment_release(&ctx.self);
        return cli_fail(prog, STELE_ERR_NOMEM, "out of memory");
    }
    struct rpc_channel *ch = orderer_client_open(prog, o, &rc);
    Stele__BlockchainInfo *info = NULL;
    ProtobufCBinaryData req = {0, NULL};
    if (!ch)
        goto out;
    if (!o->channel && (rc = orderer_client_chain_info(ch, prog, o, &info)))
        goto out;
    const char *channel = o->channel ? o->channel : info->channel_id;
    ctx.channel = channel;
    if (n > 0 && !config_only) {
        /* Block 0 names the orderers whose signatures make a pbft block final. */
        ctx.load_genesis = true;
        if (seek_request(&ctx, channel, 0, &req) == STELE_OK)
            get_block(&ctx, ch, 0, &req);
        free(req.data);
        req.data = NULL;
        ctx.load_genesis = false;
    }
    if ((rc = seek_request(&ctx, channel, n, &req)))
        goto out;
    rc = get_block(&ctx, ch, n, &req);
out:
    free(req.data);
    pb_free(info ? &info->base : NULL);
    rpc_channel_close(ch);
    msp_destroy(ctx.msp);
    enrolment_release(&ctx.self);
    pbft_members_release(&ctx.members);
    return rc;
}

/* The command once its options are parsed. */
static int block_run(struct chain_opts *o, int argc, char **argv)
{
    if (optind + 1 != argc - 1)
        return cli_usage(PROG, "give exactly one block number");
    const char *arg = argv[1 + optind];
    uint64_t n;
    if (!text_parse_u64(arg, strlen(arg), &n))
        return cli_usage(PROG, "'%s' is not a block number", arg);
    return block_fetch(o, n, false, PROG);
}

/* Reads block `n` from the peer into *out (pb_free()). */
static int peer_fetch(struct peer_opts *po, uint64_t n, Stele__Block **out)
{
    Stele__BlockQuery q = STELE__BLOCK_QUERY__INIT;
    q.by_case = STELE__BLOCK_QUERY__BY_NUMBER;
    q.number = n;
    return peer_client_call(po, PROG, "/stele.Query/Block", &q.base, &stele__block__descriptor,
                            (ProtobufCMessage **)out, true);
}

int peer_block_get(int argc, char **argv)
{
    static const struct option longopts[] = {
        PEER_CLIENT_LONGOPTS, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    struct peer_opts po = {0};
    int ch, rc;
    optind = 1;
    while ((ch = cli_getopt(PROG, argc, argv, "h", longopts)) != -1)
        if (ch == 'h' || !peer_client_option(&po, ch, optarg))
            return cli_bad_option(PROG);
    const char *arg = optind + 2 == argc ? argv[optind + 1] : "";
    uint64_t n;
    if (!text_parse_u64(arg, strlen(arg), &n) || strcmp(argv[optind], "get") != 0)
        return cli_usage(PROG, "give get N with one block number");
    struct chain_opts o = {.json = po.json};
    struct block_ctx ctx = {.o = &o, .prog = PROG};
    struct arena *a = arena_create(0);
    Stele__Block *b0 = NULL, *b = NULL;
    if ((rc = peer_client_finish(&po, PROG, true)))
        goto out;
    if (!a || !(ctx.msp = msp_create(0)) || msp_add_ca(ctx.msp, NULL, 0, po.self.ca_pub)) {
        rc = cli_fail(PROG, STELE_ERR_NOMEM, "out of memory");
        goto out;
    }
    /* Block 0 names the orderers whose signatures make a pbft block final. */
    Stele__ChannelConfig *cfg = NULL;
    if (n > 0 && (rc = peer_fetch(&po, 0, &b0)) != 0 && rc != PEER_CLIENT_NOT_FOUND)
        goto out; /* printed: the peer cannot be asked at all */
    if (n > 0 && rc == 0 && genesis_read(a, b0, NULL, &cfg, NULL) == STELE_OK &&
        pbft_members_init(&ctx.members, cfg) == STELE_OK)
        ctx.have_members = true;
    rc = peer_fetch(&po, n, &b);
    if (rc == PEER_CLIENT_NOT_FOUND)
        rc = cli_fail(PROG, STELE_ERR_NOT_FOUND, "block %llu is not committed on %s",
                      (unsigned long long)n, po.peer);
    else if (rc == 0 && !b->header)
        rc = cli_fail(PROG, STELE_ERR_MALFORMED, "%s answered a block without a header", po.peer);
    else if (rc == 0 && b->header->number != n)
        rc = cli_fail(PROG, STELE_ERR_MALFORMED,
                      "%s answered block %" PRIu64 " when asked for block %" PRIu64, po.peer,
                      b->header->number, n);
    else if (rc == 0)
        print_block(&ctx, a, b);
out:
    pb_free(b ? &b->base : NULL);
    pb_free(b0 ? &b0->base : NULL);
    pbft_members_release(&ctx.members);
    msp_destroy(ctx.msp);
    arena_destroy(a);
    peer_client_release(&po);
    return rc;
}
