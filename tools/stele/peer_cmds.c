/*
 * peer_cmds.c — `stele tx get`, `stele state get|range`, `stele history`, `stele events` and
 * `stele chain info --all-peers`: the committed ledger as a peer holds it (stele.Query and
 * stele.Events, proto/stele/peer.proto).
 */
#include "peer_cmds.h"
#include "peer_client.h"

#include "base/arena.h"
#include "base/buf.h"
#include "base/json.h"
#include "base/status.h"
#include "cli/cli.h"
#include "identity/identity.h"
#include "ledger/envelope.h"
#include "ledger/tx.h"
#include "pb/pb.h"
#include "stele/peer.pb-c.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PEER_OPTS_HELP                                                                         \
    "  --peer HOST:PORT   the peer asked (--network DIR: the first peer of that network)\n"    \
    "  --identity DIR     enrolment signing the request (default with --network: its admin)\n" \
    "  --json             one JSON object\n" PEER_CLIENT_TLS_HELP

/* Prints `data` as text when it is printable, else as hex. */
static void print_value(const uint8_t *data, size_t len)
{
    bool text = true;
    for (size_t i = 0; i < len && text; i++)
        text = data[i] >= 0x20 && data[i] < 0x7f;
    if (text) {
        printf("%.*s", (int)len, (const char *)data);
        return;
    }
    for (size_t i = 0; i < len; i++)
        printf("%02x", data[i]);
}

/* Value in JSON: "value" as text when printable UTF-8-free ASCII, and always "value_hex". */
static void json_value(struct json *j, const uint8_t *data, size_t len)
{
    json_kv_hex(j, "value_hex", data, len);
    bool text = true;
    for (size_t i = 0; i < len && text; i++)
        text = data[i] >= 0x20 && data[i] < 0x7f;
    if (text) {
        json_key(j, "value");
        json_string_len(j, (const char *)data, len);
    }
}

static void json_print(struct buf *b)
{
    printf("%s\n", (char *)b->data);
    buf_release(b);
}

/* ---- tx get ------------------------------------------------------------------------------ */

static const char tx_usage[] = "Usage: stele tx get TX_ID (--peer HOST:PORT | --network DIR) "
                               "[--identity DIR] [--json]\n\n"
                               "Prints a committed transaction: its block, position, validation "
                               "code, chaincode, function,\ncreator and endorsers. Exit status 1 "
                               "when the peer has not committed it.\n\n" PEER_OPTS_HELP;

/* Summarizes what an envelope carries. */
struct tx_summary {
    const char *tx_id;           /* its header's, or NULL when the envelope does not open */
    const char *creator;         /* "id (org, role)" or "?" */
    const char *chaincode;       /* or "" */
    const char *function;        /* or "" */
    size_t n_endorsements;       /* endorsements carried */
    const Stele__TxRwSet *rwset; /* or NULL */
};

static const char *who(struct arena *a, const ProtobufCBinaryData *rec)
{
    struct identity id;
    if (identity_decode(a, rec->data, rec->len, &id, NULL) != STELE_OK)
        return "?";
    size_t n = strlen(id.id) + strlen(id.org) + strlen(id.role) + 8;
    char *s = arena_alloc(a, n);
    if (s)
        snprintf(s, n, "%s (%s, %s)", id.id, id.org, id.role);
    return s ? s : "?";
}

static void summarize(struct arena *a, const ProtobufCBinaryData *env, struct tx_summary *s)
{
    struct envelope_view ev;
    struct tx_view tv;
    Stele__TxValidationCode code;
    *s = (struct tx_summary){.creator = "?", .chaincode = "", .function = ""};
    if (envelope_parse(a, env->data, env->len, 0, &ev, NULL) != STELE_OK)
        return;
    s->tx_id = ev.header->tx_id;
    s->creator = who(a, &ev.header->creator);
    if (tx_open(a, &ev, &tv, &code, NULL) != STELE_OK)
        return;
    s->chaincode = tv.invocation->chaincode;
    s->function = tv.invocation->function;
    s->n_endorsements = tv.tx->n_endorsements;
    s->rwset = tv.rwset;
}

static int tx_get(struct peer_opts *o, const char *tx_id)
{
    Stele__TransactionQuery q = STELE__TRANSACTION_QUERY__INIT;
    q.tx_id = (char *)tx_id;
    Stele__ProcessedTransaction *t = NULL;
    int rc =
        peer_client_call(o, "stele tx", "/stele.Query/Transaction", &q.base,
                         &stele__processed_transaction__descriptor, (ProtobufCMessage **)&t, true);
    if (rc == PEER_CLIENT_NOT_FOUND)
        return cli_fail("stele tx", STELE_ERR_NOT_FOUND, "%s has no transaction %s", o->peer,
                        tx_id);
    if (rc)
        return rc;
    struct arena *a = arena_create(0);
    struct tx_summary s;
    if (!a) {
        pb_free(&t->base);
        return cli_fail("stele tx", STELE_ERR_NOMEM, "out of memory");
    }
    summarize(a, &t->envelope, &s);
    /* Another transaction is not the answer, and neither is octets that do not open as one:
     * the peer found the transaction by the tx_id its envelope's header carries. */
    if (!s.tx_id || strcmp(s.tx_id, tx_id) != 0) {
        arena_destroy(a);
        pb_free(&t->base);
        return cli_fail("stele tx", STELE_ERR_MALFORMED, "%s answered with %s than %s", o->peer,
                        s.tx_id ? "another transaction" : "an envelope that does not open, rather",
                        tx_id);
    }
    size_t writes = 0;
    for (size_t i = 0; s.rwset && i < s.rwset->n_ns_rwsets; i++)
        writes += s.rwset->ns_rwsets[i]->n_writes;
    if (o->json) {
        struct buf b;
        struct json j;
        buf_init(&b);
        json_init(&j, &b);
        json_object_begin(&j);
        json_kv_string(&j, "tx_id", tx_id);
        json_kv_uint(&j, "block", t->block_number);
        json_kv_uint(&j, "index", t->tx_index);
        json_kv_string(&j, "validation_code", peer_code_name(t->validation_code));
        json_kv_uint(&j, "timestamp_ms", t->timestamp_ms);
        json_kv_string(&j, "creator", s.creator);
        json_kv_string(&j, "chaincode", s.chaincode);
        json_kv_string(&j, "function", s.function);
        json_kv_uint(&j, "endorsements", s.n_endorsements);
        json_kv_uint(&j, "writes", writes);
        json_object_end(&j);
        json_print(&b);
    } else {
        /* creator, chaincode and function are whatever the transaction says */
        printf("tx          %s\nblock       %" PRIu64 " (transaction %u)\nvalidation  %s\n"
               "creator     ",
               tx_id, t->block_number, t->tx_index, peer_code_name(t->validation_code));
        peer_client_fput_printable(s.creator, stdout);
        printf("\nchaincode   ");
        peer_client_fput_printable(s.chaincode, stdout);
        putchar(' ');
        peer_client_fput_printable(s.function, stdout);
        printf("\nendorsed by %zu, %zu writes\n", s.n_endorsements, writes);
    }
    arena_destroy(a);
    pb_free(&t->base);
    return CLI_EXIT_OK;
}

int cmd_tx(int argc, char **argv)
{
    struct peer_opts o = {0};
    int rc = peer_client_parse(argc, argv, &o, "stele tx", tx_usage);
    if (rc >= 0)
        return rc;
    if (optind + 2 != argc || strcmp(argv[optind], "get") != 0)
        return cli_usage("stele tx", "give get TX_ID");
    if (!(rc = peer_client_finish(&o, "stele tx", true)))
        rc = tx_get(&o, argv[optind + 1]);
    peer_client_release(&o);
    return rc;
}

/* ---- state get | range ------------------------------------------------------------------- */

static const char state_usage[] =
    "Usage: stele state get NAMESPACE KEY (--peer HOST:PORT | --network DIR) [options]\n"
    "       stele state range NAMESPACE [START [END]] [--limit N] (--peer ... | --network ...)\n"
    "\n"
    "get prints the current value of KEY in a chaincode's namespace with the version (block,\n"
    "transaction) that wrote it; exit status 1 when the key does not exist. range prints the\n"
    "keys in [START, END) in key order (END absent: to the end of the namespace), at most N\n"
    "(default 100, at most 1000).\n\n" PEER_OPTS_HELP;

static void print_entry(struct json *j, const Stele__StateEntry *e)
{
    uint64_t b = e->version ? e->version->block_number : 0;
    uint32_t t = e->version ? e->version->tx_index : 0;
    if (j) {
        json_object_begin(j);
        json_kv_string(j, "key", e->key);
        json_value(j, e->value.data, e->value.len);
        json_kv_uint(j, "block", b);
        json_kv_uint(j, "tx", t);
        json_object_end(j);
        return;
    }
    peer_client_fput_printable(e->key, stdout);
    printf(" = ");
    print_value(e->value.data, e->value.len);
    printf("  (block %" PRIu64 ", tx %u)\n", b, t);
}

static int state_get(struct peer_opts *o, const char *ns, const char *key)
{
    Stele__StateQuery q = STELE__STATE_QUERY__INIT;
    q.namespace_ = (char *)ns;
    q.key = (char *)key;
    Stele__StateResponse *r = NULL;
    int rc = peer_client_call(o, "stele state", "/stele.Query/State", &q.base,
                              &stele__state_response__descriptor, (ProtobufCMessage **)&r, false);
    if (rc)
        return rc;
    if (!r->found || !r->entry) {
        pb_free(&r->base);
        return cli_fail("stele state", STELE_ERR_NOT_FOUND, "%s has no key %s in %s", o->peer, key,
                        ns);
    }
    if (strcmp(r->entry->key, key) != 0) { /* not an answer: never shown as one */
        pb_free(&r->base);
        return cli_fail("stele state", STELE_ERR_MALFORMED, "%s answered with another key than %s",
                        o->peer, key);
    }
    if (o->json) {
        struct buf b;
        struct json j;
        buf_init(&b);
        json_init(&j, &b);
        print_entry(&j, r->entry);
        json_print(&b);
    } else {
        print_entry(NULL, r->entry);
    }
    pb_free(&r->base);
    return CLI_EXIT_OK;
}

/* Prints the keys of [start, end) in `ns`, at most `limit`, asking for as many pages as that
 * takes: a peer ends a page early once its values fill 4 MiB. Each next page starts at the
 * last key shown (a START cannot be "just after" a key), which it skips. When more keys
 * follow, says which one a next call starts from. */
static int state_range(struct peer_opts *o, const char *ns, const char *start, const char *end,
                       unsigned limit)
{
    Stele__RangeQuery q = STELE__RANGE_QUERY__INIT;
    q.namespace_ = (char *)ns;
    q.end_key = (char *)end;
    char *from = strdup(start), *last = NULL, *next = NULL; /* `last`: the last key shown */
    unsigned shown = 0;
    int rc = from ? 0 : cli_fail("stele state", STELE_ERR_NOMEM, "out of memory");
    struct buf b;
    struct json j;
    if (o->json) {
        buf_init(&b);
        json_init(&j, &b);
        json_object_begin(&j);
        json_key(&j, "entries");
        json_array_begin(&j);
    }
    while (!rc && !next) {
        Stele__RangeResponse *r = NULL;
        q.start_key = from;
        q.limit = limit - shown + 1 + (last != NULL); /* the next key too, and `last` again */
        if ((rc = peer_client_call(o, "stele state", "/stele.Query/StateRange", &q.base,
                                   &stele__range_response__descriptor, (ProtobufCMessage **)&r,
                                   false)))
            break;
        size_t fresh = 0;
        for (size_t i = 0; i < r->n_entries && !next; i++) {
            const Stele__StateEntry *e = r->entries[i];
            if (last && strcmp(e->key, last) <= 0)
                continue;
            if (strcmp(e->key, start) < 0 || (end[0] && strcmp(e->key, end) >= 0)) {
                rc = cli_fail("stele state", STELE_ERR_MALFORMED,
                              "%s answered with a key outside the range asked", o->peer);
                break;
            }
            fresh++;
            if (shown == limit) {
                if (!(next = strdup(e->key)))
                    rc = cli_fail("stele state", STELE_ERR_NOMEM, "out of memory");
                break;
            }
            print_entry(o->json ? &j : NULL, e);
            shown++;
            free(last);
            last = strdup(e->key);
        }
        bool more = r->has_more;
        pb_free(&r->base);
        if (rc || next || !more)
            break;
        if (!fresh) {
            rc = cli_fail("stele state", STELE_ERR_MALFORMED,
                          "%s says more keys follow but sends none", o->peer);
            break;
        }
        free(from);
        if (!(from = last ? strdup(last) : NULL))
            rc = cli_fail("stele state", STELE_ERR_NOMEM, "out of memory");
    }
    if (!rc && o->json) {
        json_array_end(&j);
        json_kv_bool(&j, "has_more", next != NULL);
        if (next)
            json_kv_string(&j, "next_key", next);
        json_object_end(&j);
        json_print(&b);
    } else if (o->json) {
        buf_release(&b);
    } else if (!rc && next) {
        printf("(more keys follow: ask again with START ");
        peer_client_fput_printable(next, stdout);
        printf(")\n");
    }
    free(from);
    free(last);
    free(next);
    return rc;
}

int cmd_state(int argc, char **argv)
{
    static const struct option longopts[] = {PEER_CLIENT_LONGOPTS,
                                             {"limit", required_argument, NULL, 'l'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    struct peer_opts o = {0};
    uint64_t limit = 100;
    int ch, rc;
    optind = 1;
    while ((ch = cli_getopt("stele state", argc, argv, "h", longopts)) != -1) {
        if (ch == 'h') {
            fputs(state_usage, stdout);
            return CLI_EXIT_OK;
        }
        if (ch == 'l') {
            if (!peer_client_number(optarg, 1000, &limit) || limit < 1)
                return cli_usage("stele state", "--limit takes 1..1000, not '%s'", optarg);
        } else if (!peer_client_option(&o, ch, optarg))
            return cli_bad_option("stele state");
    }
    int n = argc - optind;
    bool get = n == 3 && strcmp(argv[optind], "get") == 0;
    bool range = n >= 2 && n <= 4 && strcmp(argv[optind], "range") == 0;
    if (!get && !range)
        return cli_usage("stele state", "give get NAMESPACE KEY, or range NAMESPACE [START [END]]");
    if (!(rc = peer_client_finish(&o, "stele state", true)))
        rc = get ? state_get(&o, argv[optind + 1], argv[optind + 2])
                 : state_range(&o, argv[optind + 1], n > 2 ? argv[optind + 2] : "",
                               n > 3 ? argv[optind + 3] : "", (unsigned)limit);
    peer_client_release(&o);
    return rc;
}

/* ---- history ------------------------------------------------------------------------------ */

static const char history_usage[] =
    "Usage: stele history NAMESPACE KEY (--peer HOST:PORT | --network DIR) [options]\n\n"
    "Prints every committed write of KEY, oldest first: block, transaction, tx_id, time and the\n"
    "value written (or \"deleted\"). A peer answers in pages (at most 1000 writes, or those of 64\n"
    "blocks); every page is asked for. A key never written has no history: like 'state get' of\n"
    "an absent key, that is said on stderr and the exit status is 1 (with --json too, which then\n"
    "prints nothing).\n\n" PEER_OPTS_HELP;

/* Prints one write of the key (text), or adds it to the JSON array. */
static void print_write(struct json *j, const Stele__HistoryEntry *e)
{
    uint64_t blk = e->version ? e->version->block_number : 0;
    uint32_t tx = e->version ? e->version->tx_index : 0;
    if (j) {
        json_object_begin(j);
        json_kv_uint(j, "block", blk);
        json_kv_uint(j, "tx", tx);
        json_kv_string(j, "tx_id", e->tx_id);
        json_kv_uint(j, "timestamp_ms", e->timestamp_ms);
        json_kv_bool(j, "deleted", e->is_delete);
        if (!e->is_delete)
            json_value(j, e->value.data, e->value.len);
        json_object_end(j);
        return;
    }
    char id[17]; /* the tx_id is whatever the peer says: its first 16 octets, escaped */
    snprintf(id, sizeof id, "%s", e->tx_id);
    printf("block %" PRIu64 " tx %u  ", blk, tx);
    peer_client_fput_printable(id, stdout);
    printf("...  %" PRIu64 "  ", e->timestamp_ms);
    if (e->is_delete)
        printf("deleted\n");
    else {
        print_value(e->value.data, e->value.len);
        printf("\n");
    }
}

int cmd_history(int argc, char **argv)
{
    struct peer_opts o = {0};
    int rc = peer_client_parse(argc, argv, &o, "stele history", history_usage);
    if (rc >= 0)
        return rc;
    if (optind + 2 != argc)
        return cli_usage("stele history", "give NAMESPACE KEY");
    if ((rc = peer_client_finish(&o, "stele history", true)))
        goto out;
    Stele__HistoryQuery q = STELE__HISTORY_QUERY__INIT;
    Stele__Version after = STELE__VERSION__INIT;
    q.namespace_ = argv[optind];
    q.key = argv[optind + 1];
    struct buf b;
    struct json j;
    if (o.json) {
        buf_init(&b);
        json_init(&j, &b);
        json_object_begin(&j);
        json_key(&j, "entries");
        json_array_begin(&j);
    }
    bool more = true;
    size_t n_writes = 0;
    while (more) { /* each page starts after the last write of the one before */
        Stele__HistoryResponse *r = NULL;
        if ((rc = peer_client_call(&o, "stele history", "/stele.Query/History", &q.base,
                                   &stele__history_response__descriptor, (ProtobufCMessage **)&r,
                                   false)))
            break;
        for (size_t i = 0; i < r->n_entries; i++)
            print_write(o.json ? &j : NULL, r->entries[i]);
        n_writes += r->n_entries;
        const Stele__HistoryEntry *last = r->n_entries ? r->entries[r->n_entries - 1] : NULL;
        more = r->has_more;
        if (more && (!last || !last->version))
            rc = cli_fail("stele history", STELE_ERR_MALFORMED,
                          "%s says more writes follow but sends none", o.peer);
        else if (more && q.after &&
                 (last->version->block_number < after.block_number ||
                  (last->version->block_number == after.block_number &&
                   last->version->tx_index <= after.tx_index)))
            /* the next page would be this one again: a peer cannot keep us printing forever */
            rc = cli_fail("stele history", STELE_ERR_MALFORMED,
                          "%s says more writes follow, but its page does not move past block "
                          "%" PRIu64 " tx %u",
                          o.peer, after.block_number, after.tx_index);
        else if (more) {
            after.block_number = last->version->block_number;
            after.tx_index = last->version->tx_index;
            q.after = &after;
        }
        pb_free(&r->base);
        if (rc)
            break;
    }
    if (!rc && n_writes == 0)
        rc = cli_fail("stele history", STELE_ERR_NOT_FOUND,
                      "chaincode %s has no history for key %s", q.namespace_, q.key);
    if (o.json && !rc) {
        json_array_end(&j);
        json_kv_bool(&j, "has_more", false);
        json_object_end(&j);
        json_print(&b);
    } else if (o.json) {
        buf_release(&b);
    }
out:
    peer_client_release(&o);
    return rc;
}
