/*
 * block_cmds.c — `stele block get N`: stele.AtomicBroadcast/Deliver for block N alone
 * (FAIL_IF_NOT_READY), the request signed with the caller's identity.
 *
 * Prints the header, its recomputed hash, whether the data hash matches the envelopes, the
 * tx_ids and a summary of the finality proof. For solo blocks the signature is checked against
 * the public key carried in the proof: that shows the proof is well-formed; whether the key is
 * the channel's orderer is an audit against the channel configuration.
 */
#include "block_cmds.h"
#include "orderer_client.h"

#include "base/arena.h"
#include "base/buf.h"
#include "base/json.h"
#include "base/status.h"
#include "cli/cli.h"
#include "crypto/ecdsa.h"
#include "crypto/key.h"
#include "identity/enrolment.h"
#include "ledger/blockhash.h"
#include "ledger/envelope.h"
#include "pb/pb.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char block_usage[] =
    "Usage: stele block get N --orderer HOST:PORT --identity DIR [--channel ID] [--json]\n"
    "\n"
    "Fetches block N from an orderer (Deliver, signed with the enrolled identity in DIR:\n"
    "key.pem, cert, identity, ca.pub) and prints its number, header hash, previous and data\n"
    "hashes, tx_ids and finality proof.\n"
    "Exits 1 when the block does not exist or the request is refused.\n"
    "--channel defaults to the orderer's channel (asked with Orderer/ChainInfo).\n";

#define PROG "stele block get"

/* What the proof says, for printing. */
struct proof_summary {
    const char *kind;               /* consensus_type, or "none" */
    const char *node_id;            /* solo: signer's node id */
    const ProtobufCBinaryData *key; /* solo: signer's public key */
    const char *verdict;            /* "valid", "invalid", "absent", "unknown encoding" */
};

/* Builds the signed Deliver request for block n; *out is malloc'd. */
static int seek_request(const struct chain_opts *o, const char *channel, uint64_t n,
                        ProtobufCBinaryData *out)
{
    struct enrolment self = {0};
    char *err = NULL;
    int rc = enrolment_load(o->identity, &self, &err);
    if (rc) {
        rc = cli_fail(PROG, rc, "%s", err ? err : stele_strerror(rc));
        free(err);
        return rc;
    }
    Stele__SeekSpecified at = STELE__SEEK_SPECIFIED__INIT;
    at.number = n;
    Stele__SeekPosition pos = STELE__SEEK_POSITION__INIT;
    pos.type_case = STELE__SEEK_POSITION__TYPE_SPECIFIED;
    pos.specified = &at;
    Stele__SeekInfo si = STELE__SEEK_INFO__INIT;
    si.start = &pos;
    si.stop = &pos;
    si.behavior = STELE__SEEK_INFO__SEEK_BEHAVIOR__SEEK_FAIL_IF_NOT_READY;
    size_t dlen;
    uint8_t *data = pb_pack(&si.base, &dlen);
    struct envelope_params p = {.channel_id = channel,
                                .type = STELE__HEADER_TYPE__DELIVER_SEEK_INFO,
                                .creator = self.identity.data,
                                .creator_len = self.identity.len,
                                .data = data,
                                .data_len = dlen};
    rc = data ? envelope_build(&p, self.key, out, NULL) : STELE_ERR_NOMEM;
    if (rc)
        rc = cli_fail(PROG, rc, "cannot sign the request: %s", stele_strerror(rc));
    free(data);
    enrolment_release(&self);
    return rc;
}

static void summarize_proof(struct arena *a, const Stele__Block *b, const uint8_t hash[32],
                            struct proof_summary *s)
{
    const Stele__BlockMetadata *md = b->metadata;
    *s = (struct proof_summary){.kind = "none", .verdict = "absent"};
    if (!md || md->finality_proof.len == 0)
        return;
    s->kind = md->consensus_type && md->consensus_type[0] ? md->consensus_type : "unknown";
    s->verdict = "unknown encoding";
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
    if (crypto_key_from_public(p->public_key.data, p->public_key.len, &k) == STELE_OK &&
        crypto_verify_digest(k, hash, p->signature.data, p->signature.len) == STELE_OK)
        s->verdict = "valid";
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

static void print_block(struct arena *a, const Stele__Block *b, bool json)
{
    uint8_t hash[32] = {0};
    blockhash_header_pb(b->header, hash);
    bool data_ok = blockhash_check_data(b) == STELE_OK;
    struct proof_summary ps;
    summarize_proof(a, b, hash, &ps);
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
        json_key(&j, "finality_proof");
        json_object_begin(&j);
        json_kv_string(&j, "consensus_type", ps.kind);
        if (ps.node_id)
            json_kv_string(&j, "node_id", ps.node_id);
        if (ps.key)
            json_kv_hex(&j, "public_key", ps.key->data, ps.key->len);
        json_kv_string(&j, "signature", ps.verdict);
        json_object_end(&j);
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
    printf("number         %" PRIu64 "\nhash           %s\nprevious_hash  %s\n"
           "data_hash      %s (%s)\nchannel        %s\ntransactions   %zu\n",
           h->number, hx, prev, data, data_ok ? "matches the envelopes" : "MISMATCH",
           md ? md->channel_id : "", n);
    for (size_t i = 0; i < n; i++)
        printf("  %s\n", tx_id_of(a, &b->data->envelopes[i]));
    printf("finality       %s", ps.kind);
    if (ps.node_id)
        printf(", signed by %s", ps.node_id);
    printf(": signature %s\n", ps.verdict);
}

/* Runs the Deliver call and prints the block. */
static int get_block(struct rpc_channel *ch, const struct chain_opts *o, uint64_t n,
                     const ProtobufCBinaryData *req_bytes)
{
    Stele__Envelope *req = (Stele__Envelope *)pb_unpack(&stele__envelope__descriptor, NULL,
                                                        req_bytes->data, req_bytes->len, 0);
    struct rpc_call *call = rpc_stream_open(ch, "/stele.AtomicBroadcast/Deliver", RPC_SERVER_STREAM,
                                            &stele__deliver_response__descriptor, 30000);
    struct arena *a = arena_create(0);
    int rc = STELE_ERR_NOMEM, printed = 0;
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
            print_block(a, r->block, o->json);
            printed++;
        } else if (r->type_case == STELE__DELIVER_RESPONSE__TYPE_STATUS) {
            rc = r->status == STELE__STATUS__STATUS_SUCCESS     ? STELE_OK
                 : r->status == STELE__STATUS__STATUS_NOT_FOUND ? STELE_ERR_NOT_FOUND
                 : r->status == STELE__STATUS__STATUS_FORBIDDEN ? STELE_ERR_PERMISSION
                                                                : STELE_ERR_INVALID;
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
    if (rc == STELE_ERR_NOT_FOUND)
        return cli_fail(PROG, rc, "block %" PRIu64 " does not exist on %s (see stele chain info)",
                        n, o->orderer);
    if (rc == STELE_ERR_PERMISSION)
        return cli_fail(PROG, rc, "%s refused the request: the identity is not a reader",
                        o->orderer);
    if (rc == STELE_OK && printed == 0)
        rc = frc ? frc : STELE_ERR_MALFORMED;
    if (rc)
        return cli_fail(PROG, rc, "%s: %s", o->orderer,
                        res.detail[0] ? res.detail : stele_strerror(rc));
    return CLI_EXIT_OK;
}

int cmd_block(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "get") != 0) {
        bool help = argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0);
        fputs(block_usage, help ? stdout : stderr);
        return help ? CLI_EXIT_OK : CLI_EXIT_USAGE;
    }
    struct chain_opts o = {0};
    int rc = orderer_client_parse(argc - 1, argv + 1, PROG, block_usage, &o);
    if (rc)
        return rc;
    if (optind + 1 != argc - 1)
        return cli_usage(PROG, "give exactly one block number");
    char *end;
    const char *arg = argv[1 + optind];
    errno = 0;
    unsigned long long n = strtoull(arg, &end, 10);
    if (!*arg || *end || errno || arg[0] == '-')
        return cli_usage(PROG, "'%s' is not a block number", arg);
    if (!o.identity)
        return cli_usage(PROG, "--identity DIR is required (Deliver requests are signed)");
    struct rpc_channel *ch = orderer_client_open(PROG, o.orderer, &rc);
    if (!ch)
        return rc;
    Stele__BlockchainInfo *info = NULL;
    ProtobufCBinaryData req = {0, NULL};
    if (!o.channel && (rc = orderer_client_chain_info(ch, PROG, &o, &info)))
        goto out;
    if ((rc = seek_request(&o, o.channel ? o.channel : info->channel_id, n, &req)))
        goto out;
    rc = get_block(ch, &o, n, &req);
out:
    free(req.data);
    pb_free(info ? &info->base : NULL);
    rpc_channel_close(ch);
    return rc;
}
