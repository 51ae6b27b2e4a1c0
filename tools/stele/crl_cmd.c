/*
 * crl_cmd.c — `stele crl publish FILE`: puts a CA's signed CRL (as `stele-ca crl --out` wrote
 * it) on the ledger, as a `_lifecycle crl` transaction through a peer's gateway (an admin of a
 * channel organisation). Every peer installs it after the block that carries it, so a revoked
 * identity is refused from the same block on, everywhere (lib/ledger/lifecycle.h).
 */
#include "gateway_client.h"
#include "peer_cmds.h"

#include "base/buf.h"
#include "base/status.h"
#include "cli/cli.h"
#include "identity/enrolment.h"
#include "identity/identity.h"
#include "ledger/lifecycle.h"
#include "pb/pb.h"
#include "stele/identity.pb-c.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define PROG "stele crl"

static const char crl_usage[] =
    "Usage: stele crl publish FILE --peer HOST:PORT --identity DIR [--json]\n"
    "\n"
    "Puts the signed CRL in FILE (from `stele-ca crl --out FILE`) on the ledger through the\n"
    "peer's gateway. DIR must be an admin of a channel organisation. The CRL must be signed by\n"
    "a CA of a channel organisation and be newer than the one the ledger holds for that CA.\n"
    "Every peer refuses the identities it revokes from the next block on.\n" PEER_CLIENT_TLS_HELP;

int cmd_crl(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(crl_usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
    }
    if (strcmp(argv[1], "publish") != 0)
        return cli_usage(PROG, "unknown subcommand '%s' (publish)", argv[1]);
    argc--;
    argv++;
    static const struct option longopts[] = {
        PEER_CLIENT_LONGOPTS, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    struct peer_opts o = {0};
    int ch, rc;
    optind = 1;
    while ((ch = cli_getopt(PROG " publish", argc, argv, "h", longopts)) != -1) {
        if (ch == 'h') {
            fputs(crl_usage, stdout);
            return CLI_EXIT_OK;
        }
        if (!peer_client_option(&o, ch, optarg))
            return cli_bad_option(PROG " publish");
    }
    if (optind != argc - 1)
        return cli_usage(PROG, "publish takes one FILE");
    const char *file = argv[optind];
    struct buf crl;
    buf_init(&crl);
    rc = enrolment_read_file(file, IDENTITY_CRL_MAX_LEN, &crl);
    if (rc)
        return peer_client_read_failed(PROG, file, rc);
    Stele__Crl *c = (Stele__Crl *)pb_unpack(&stele__crl__descriptor, NULL, crl.data, crl.len, 0);
    Stele__CrlBody *b = c ? (Stele__CrlBody *)pb_unpack(&stele__crl_body__descriptor, NULL,
                                                        c->body.data, c->body.len, 0)
                          : NULL;
    bool ok = b != NULL;
    uint64_t number = ok ? b->number : 0;
    size_t entries = ok ? b->n_entries : 0;
    pb_free(ok ? &b->base : NULL);
    pb_free(c ? &c->base : NULL);
    if (!ok) {
        buf_release(&crl);
        return cli_fail(PROG, STELE_ERR_MALFORMED,
                        "%s is not a signed CRL (write one with `stele-ca crl --out FILE`)", file);
    }
    ProtobufCBinaryData arg = {crl.len, crl.data};
    struct gw_request r = {
        .chaincode = LIFECYCLE_NS, .function = "crl", .args = &arg, .n_args = 1, .wait = true};
    struct gw_outcome out = {0};
    if (!(rc = peer_client_finish(&o, PROG, true)))
        rc = gw_submit(&o, PROG, &r, &out);
    if (rc == 0) {
        if (o.json)
            printf("{\"crl_number\":%" PRIu64 ",\"entries\":%zu,\"tx_id\":\"%s\",\"block\":%" PRIu64
                   ",\"validation_code\":\"%s\"}\n",
                   number, entries, out.tx_id, out.block, peer_code_name(out.code));
        else
            printf("CRL number %" PRIu64 " (%zu revoked) committed in block %" PRIu64
                   " (tx %s): peers refuse what it revokes from block %" PRIu64 " on\n",
                   number, entries, out.block, out.tx_id, out.block + 1);
    }
    gw_outcome_release(&out);
    buf_release(&crl);
    peer_client_release(&o);
    return rc;
}
