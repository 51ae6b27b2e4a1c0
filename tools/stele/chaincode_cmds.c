/*
 * chaincode_cmds.c — `stele chaincode`: the lifecycle (proto/stele/lifecycle.proto).
 *   package  --so FILE --name N --version V --out FILE      (offline)
 *   install  PACKAGE                                       (an admin of the peer's org)
 *   approve  --name N --version V --sequence S (--package FILE | --package-hash HEX)
 *            --policy POLICY                               (an org admin; a transaction)
 *   commit   (the same definition)                         (an admin; a transaction)
 *   list     [--installed]                                 (committed definitions)
 */
#include "gateway_client.h"
#include "peer_cmds.h"

#include "base/buf.h"
#include "base/json.h"
#include "base/status.h"
#include "cli/cli.h"
#include "crypto/hash.h"
#include "identity/enrolment.h"
#include "identity/identity.h"
#include "ledger/lifecycle.h"
#include "ledger/tx.h"
#include "pb/pb.h"
#include "stele/lifecycle.pb-c.h"
#include "stele/peer.pb-c.h"

#include <elf.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROG        "stele chaincode"
#define MAX_PACKAGE (64u << 20)

static const char cc_usage[] =
    "Usage: stele chaincode package --so FILE --name NAME --version VERSION --out FILE\n"
    "       stele chaincode install PACKAGE (--peer HOST:PORT | --network DIR) --identity DIR\n"
    "       stele chaincode approve|checkcommitreadiness|commit --name NAME --version VERSION\n"
    "                       --sequence N (--package FILE | --package-hash HEX) --policy POLICY\n"
    "                       (--peer HOST:PORT | --network DIR) --identity DIR\n"
    "       stele chaincode list [--installed] (--peer HOST:PORT | --network DIR) --identity DIR\n"
    "\n"
    "package  wraps a chaincode shared object with its name and version; prints the package\n"
    "         hash (SHA-256 of the file) that definitions name.\n"
    "install  sends the package to a peer (an admin of the peer's organisation).\n"
    "approve  an organisation admin approves a definition: name, version, sequence (1 for a\n"
    "         new chaincode, +1 per upgrade), package hash and endorsement policy, e.g.\n"
    "         'AND(org1.peer, org2.peer)'. It is a transaction; it waits for the commit.\n"
    "checkcommitreadiness  which organisations approved exactly this definition as their\n"
    "         latest approval for the sequence (any member may ask; nothing is submitted).\n"
    "commit   commits the definition once the organisations whose admins approved it\n"
    "         satisfy the channel's lifecycle policy (by default MAJORITY Admins: more than\n"
    "         half); the chaincode can be invoked from the next block on every peer that\n"
    "         installed the package.\n"
    "list     the committed definitions and whether the peer has their package installed;\n"
    "         --installed lists the packages installed on the peer (its org's "
    "admins).\n" PEER_CLIENT_TLS_HELP;

/* A one-line JSON object: line_begin(), its members, line_end() prints and frees it. */
static void line_begin(struct buf *b, struct json *j)
{
    buf_init(b);
    json_init(j, b);
    json_object_begin(j);
}

static void line_end(struct buf *b, struct json *j)
{
    json_object_end(j);
    printf("%s\n", (char *)b->data);
    buf_release(b);
}

/* True when `data` is an ELF shared object (e_type ET_DYN), which dlopen() can load: not a
 * relocatable .o, an executable, an archive or a script. */
static bool is_shared_object(const uint8_t *data, size_t len)
{
    if (len < EI_NIDENT + 2 || memcmp(data, ELFMAG, SELFMAG) != 0)
        return false;
    const uint8_t *t = data + EI_NIDENT; /* e_type, in the byte order of EI_DATA */
    unsigned type =
        data[EI_DATA] == ELFDATA2MSB ? (unsigned)t[0] << 8 | t[1] : (unsigned)t[1] << 8 | t[0];
    return type == ET_DYN;
}

/* True when `b` is a package as `package` writes it: a peer could install it. `name` gets
 * the chaincode's name (at most 64 octets, as a package holds). */
static bool is_package(const struct buf *b, char name[65])
{
    Stele__ChaincodePackage *cp = (Stele__ChaincodePackage *)pb_unpack(
        &stele__chaincode_package__descriptor, NULL, b->data, b->len, 0);
    bool ok = cp && tx_chaincode_name_ok(cp->name) && is_shared_object(cp->so.data, cp->so.len);
    if (ok)
        snprintf(name, 65, "%s", cp->name);
    pb_free(cp ? &cp->base : NULL);
    return ok;
}

static int read_all(const char *path, struct buf *b)
{
    int rc = enrolment_read_file(path, MAX_PACKAGE, b);
    if (rc)
        return peer_client_read_failed(PROG, path, rc);
    return 0;
}

static int cc_package(int argc, char **argv)
{
    static const struct option longopts[] = {{"so", required_argument, NULL, 's'},
                                             {"name", required_argument, NULL, 'n'},
                                             {"version", required_argument, NULL, 'v'},
                                             {"out", required_argument, NULL, 'o'},
                                             {"json", no_argument, NULL, 'j'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    const char *so = NULL, *name = NULL, *version = NULL, *outp = NULL;
    bool json = false;
    int ch;
    optind = 1;
    char prog[64];
    snprintf(prog, sizeof prog, PROG " %s", argv[0]);
    while ((ch = cli_getopt(prog, argc, argv, "h", longopts)) != -1) {
        switch (ch) {
        case 's':
            so = optarg;
            break;
        case 'n':
            name = optarg;
            break;
        case 'v':
            version = optarg;
            break;
        case 'o':
            outp = optarg;
            break;
        case 'j':
            json = true;
            break;
        case 'h':
            fputs(cc_usage, stdout);
            return CLI_EXIT_OK;
        default:
            return cli_bad_option(prog);
        }
    }
    if (!so || !name || !version || !outp || optind != argc)
        return cli_usage(PROG, "package needs --so, --name, --version and --out");
    /* what a peer's install accepts (peer/ccstore.c): refused here, before the package hash
     * goes round the organisations, rather than at the first install */
    if (!tx_chaincode_name_ok(name) || name[0] == '_')
        return cli_usage(PROG, "--name: 1..64 of [A-Za-z0-9_.-], not starting with '_'");
    if (!lifecycle_version_ok(version))
        return cli_usage(PROG, "--version: 1..%d printable characters without spaces",
                         LIFECYCLE_MAX_VERSION);
    struct buf b, pkg;
    buf_init(&b);
    buf_init(&pkg);
    int rc = read_all(so, &b);
    if (rc)
        return rc;
    if (!is_shared_object(b.data, b.len)) {
        buf_release(&b);
        return cli_fail(PROG, STELE_ERR_MALFORMED,
                        "%s is not an ELF shared object (build it with cc -shared -fPIC)", so);
    }
    Stele__ChaincodePackage cp = STELE__CHAINCODE_PACKAGE__INIT;
    cp.name = (char *)name;
    cp.version = (char *)version;
    cp.so = (ProtobufCBinaryData){b.len, b.data};
    uint8_t h[32];
    char hx[65];
    if ((rc = pb_pack_buf(&cp.base, &pkg)) || (rc = crypto_sha256(pkg.data, pkg.len, h))) {
        rc = cli_fail(PROG, rc, "cannot build the package: %s", stele_strerror(rc));
    } else if ((errno = 0, rc = enrolment_write_file(outp, pkg.data, pkg.len, 0644))) {
        rc = peer_client_write_failed(PROG, outp, errno);
    } else {
        hex_encode(h, 32, hx);
        if (json) {
            struct buf jb;
            struct json j;
            line_begin(&jb, &j);
            json_kv_string(&j, "package", outp);
            json_kv_string(&j, "name", name);
            json_kv_string(&j, "version", version);
            json_kv_string(&j, "package_hash", hx);
            line_end(&jb, &j);
        } else
            printf("packaged %s %s in %s\npackage hash %s\n", name, version, outp, hx);
    }
    buf_release(&b);
    buf_release(&pkg);
    return rc;
}

static int cc_install(int argc, char **argv)
{
    struct peer_opts o = {0};
    int rc = peer_client_parse(argc, argv, &o, PROG, cc_usage);
    if (rc >= 0)
        return rc;
    if (optind + 1 != argc)
        return cli_usage(PROG, "install takes one PACKAGE file");
    struct buf pkg, req;
    buf_init(&pkg);
    buf_init(&req);
    ProtobufCMessage *m = NULL;
    if ((rc = peer_client_finish(&o, PROG, true)) || (rc = read_all(argv[optind], &pkg)))
        goto out;
    if (!o.ch && !(o.ch = peer_client_open(&o, PROG, NULL, &rc)))
        goto out;
    uint8_t h[32], sig[64];
    Stele__InstallRequest ir = STELE__INSTALL_REQUEST__INIT;
    ir.package_hash = (ProtobufCBinaryData){32, h};
    Stele__SignedRequest sr;
    if ((rc = crypto_sha256(pkg.data, pkg.len, h)) ||
        (rc = peer_client_sign(&o, "/stele.Lifecycle/Install", &ir.base, &req, sig, &sr))) {
        rc = cli_fail(PROG, rc, "cannot sign the request: %s", stele_strerror(rc));
        goto out;
    }
    Stele__SignedInstall si = STELE__SIGNED_INSTALL__INIT;
    si.request = &sr;
    si.package = (ProtobufCBinaryData){pkg.len, pkg.data};
    struct rpc_result res = {0};
    if ((rc = rpc_unary(o.ch, "/stele.Lifecycle/Install", &si.base,
                        &stele__install_response__descriptor, &m, 60000, &res))) {
        char d[PEER_CLIENT_DETAIL_MAX];
        rc = cli_fail(PROG, peer_client_failure(rc, &res), "%s: %s (%s)", o.peer,
                      peer_client_detail(&res, "no detail", d, sizeof d), rpc_code_name(res.code));
        goto out;
    }
    const Stele__InstallResponse *r = (const Stele__InstallResponse *)m;
    char hx[65];
    hex_encode(r->package_hash.data, r->package_hash.len == 32 ? 32 : 0, hx);
    if (o.json) {
        struct buf jb;
        struct json j;
        line_begin(&jb, &j);
        json_kv_string(&j, "peer", o.peer);
        json_kv_string(&j, "name", r->name);
        json_kv_string(&j, "version", r->version);
        json_kv_string(&j, "package_hash", hx);
        json_kv_bool(&j, "already_installed", r->already_installed);
        line_end(&jb, &j);
    } else {
        char nm[260], ver[260]; /* as the peer read them from the package */
        printf("%s %s %s on %s\npackage hash %s\n", peer_client_printable(r->name, nm, sizeof nm),
               peer_client_printable(r->version, ver, sizeof ver),
               r->already_installed ? "was already installed" : "installed", o.peer, hx);
    }
out:
    pb_free(m);
    buf_release(&pkg);
    buf_release(&req);
    peer_client_release(&o);
    return rc;
}

/* approve and commit */
/* Prints the CommitReadiness in `payload` (from the peer): one line per organisation, or one
 * JSON line. Returns 0 or an exit status with the error printed. */
static int print_readiness(const struct peer_opts *o, const char *name, const char *version,
                           uint64_t seq, const ProtobufCBinaryData *payload)
{
    Stele__CommitReadiness *cr = (Stele__CommitReadiness *)pb_unpack(
        &stele__commit_readiness__descriptor, NULL, payload->data, payload->len, 0);
    if (!cr)
        return cli_fail(PROG, STELE_ERR_MALFORMED, "the peer's answer is not a CommitReadiness");
    size_t yes = 0;
    for (size_t i = 0; i < cr->n_approvals; i++)
        yes += cr->approvals[i]->approved;
    /* the peer judges by the channel's lifecycle policy; one that does not say: the default */
    bool by_policy = cr->policy && cr->policy[0];
    bool ready = by_policy ? cr->ready : 2 * yes > cr->n_approvals;
    if (o->json) {
        struct buf jb;
        struct json j;
        line_begin(&jb, &j);
        json_kv_string(&j, "name", name);
        json_kv_string(&j, "version", version);
        json_kv_uint(&j, "sequence", seq);
        json_key(&j, "approvals");
        json_object_begin(&j);
        for (size_t i = 0; i < cr->n_approvals; i++)
            json_kv_bool(&j, cr->approvals[i]->org, cr->approvals[i]->approved);
        json_object_end(&j);
        json_kv_bool(&j, "ready", ready);
        if (by_policy)
            json_kv_string(&j, "lifecycle_policy", cr->policy);
        line_end(&jb, &j);
    } else {
        printf("%s %s sequence %" PRIu64 ":\n", name, version, seq);
        for (size_t i = 0; i < cr->n_approvals; i++) {
            fputs("  ", stdout);
            peer_client_fput_printable(cr->approvals[i]->org, stdout);
            printf(": %s\n", cr->approvals[i]->approved ? "approved" : "not approved");
        }
        printf("%zu of %zu organisations approved: %s", yes, cr->n_approvals,
               ready ? "ready to commit" : "not enough for a commit");
        if (by_policy) {
            fputs(" (lifecycle policy ", stdout);
            peer_client_fput_printable(cr->policy, stdout);
            fputs(")", stdout);
        }
        putchar('\n');
    }
    pb_free(&cr->base);
    return 0;
}

static int cc_define(int argc, char **argv, const char *function)
{
    static const struct option longopts[] = {PEER_CLIENT_LONGOPTS,
                                             {"name", required_argument, NULL, 'N'},
                                             {"version", required_argument, NULL, 'v'},
                                             {"sequence", required_argument, NULL, 's'},
                                             {"package", required_argument, NULL, 'k'},
                                             {"package-hash", required_argument, NULL, 'H'},
                                             {"policy", required_argument, NULL, 'p'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    struct peer_opts o = {0};
    const char *name = NULL, *version = NULL, *pkgfile = NULL, *hash = NULL, *policy = NULL;
    uint64_t seq = 0;
    int ch, rc;
    optind = 1;
    char prog[64];
    snprintf(prog, sizeof prog, PROG " %s", argv[0]);
    while ((ch = cli_getopt(prog, argc, argv, "h", longopts)) != -1) {
        switch (ch) {
        case 'N':
            name = optarg;
            break;
        case 'v':
            version = optarg;
            break;
        case 'k':
            pkgfile = optarg;
            break;
        case 'H':
            hash = optarg;
            break;
        case 'p':
            policy = optarg;
            break;
        case 's':
            if (!peer_client_number(optarg, UINT64_MAX, &seq) || seq == 0)
                return cli_usage(PROG, "--sequence takes a number from 1");
            break;
        case 'h':
            fputs(cc_usage, stdout);
            return CLI_EXIT_OK;
        default:
            if (!peer_client_option(&o, ch, optarg))
                return cli_bad_option(prog);
        }
    }
    if (!name || !version || !seq || !policy || (!pkgfile == !hash) || optind != argc)
        return cli_usage(PROG,
                         "%s needs --name, --version, --sequence, --policy and one of "
                         "--package or --package-hash",
                         function);
    uint8_t h[32];
    if (pkgfile) {
        struct buf pkg;
        buf_init(&pkg);
        if ((rc = read_all(pkgfile, &pkg)))
            return rc;
        /* not the .so itself, say: the definition would name a package no peer can install */
        char pkgname[65];
        if (!is_package(&pkg, pkgname)) {
            buf_release(&pkg);
            return cli_fail(PROG, STELE_ERR_MALFORMED,
                            "%s is not a chaincode package (`stele chaincode package` writes one)",
                            pkgfile);
        }
        /* another chaincode's package: its code would run as `name`, on `name`'s state */
        if (strcmp(pkgname, name) != 0) {
            buf_release(&pkg);
            return cli_fail(PROG, STELE_ERR_MALFORMED,
                            "%s is a package of chaincode '%s', not '%s' (check --package and "
                            "--name)",
                            pkgfile, pkgname, name);
        }
        rc = crypto_sha256(pkg.data, pkg.len, h);
        buf_release(&pkg);
        if (rc)
            return cli_fail(PROG, rc, "cannot hash %s", pkgfile);
    } else if (strlen(hash) != 64 || hex_decode(hash, h, 32) != STELE_OK) {
        return cli_usage(PROG, "--package-hash takes 64 hex digits");
    }
    Stele__ChaincodeDefinition d = STELE__CHAINCODE_DEFINITION__INIT;
    d.name = (char *)name;
    d.version = (char *)version;
    d.sequence = seq;
    d.package_hash = (ProtobufCBinaryData){32, h};
    d.endorsement_policy = (char *)policy;
    struct buf def;
    buf_init(&def);
    if (pb_pack_buf(&d.base, &def))
        return cli_fail(PROG, STELE_ERR_NOMEM, "out of memory");
    ProtobufCBinaryData arg = {def.len, def.data};
    bool readiness = strcmp(function, "readiness") == 0;
    struct gw_request r = {
        .chaincode = LIFECYCLE_NS, .function = function, .args = &arg, .n_args = 1, .wait = true};
    struct gw_outcome out = {0};
    if (!(rc = peer_client_finish(&o, PROG, true)))
        rc = readiness ? gw_evaluate(&o, PROG, &r, &out) : gw_submit(&o, PROG, &r, &out);
    if (rc == 0 && readiness) {
        rc = print_readiness(&o, name, version, seq, &out.payload);
    } else if (rc == 0) {
        if (o.json) {
            struct buf jb;
            struct json j;
            line_begin(&jb, &j);
            json_kv_string(&j, "function", function);
            json_kv_string(&j, "name", name);
            json_kv_uint(&j, "sequence", seq);
            json_kv_string(&j, "tx_id", out.tx_id);
            json_kv_uint(&j, "block", out.block);
            json_kv_string(&j, "validation_code", peer_code_name(out.code));
            line_end(&jb, &j);
        } else
            printf("%s of %s %s sequence %" PRIu64 " committed in block %" PRIu64 " (tx %s)\n",
                   strcmp(function, "approve") == 0 ? "approval" : "definition", name, version, seq,
                   out.block, out.tx_id);
    }
    gw_outcome_release(&out);
    buf_release(&def);
    peer_client_release(&o);
    return rc;
}

static int cc_list(int argc, char **argv)
{
    static const struct option longopts[] = {PEER_CLIENT_LONGOPTS,
                                             {"installed", no_argument, NULL, 'I'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    struct peer_opts o = {0};
    bool installed = false;
    int ch, rc;
    optind = 1;
    char prog[64];
    snprintf(prog, sizeof prog, PROG " %s", argv[0]);
    while ((ch = cli_getopt(prog, argc, argv, "h", longopts)) != -1) {
        if (ch == 'h') {
            fputs(cc_usage, stdout);
            return CLI_EXIT_OK;
        }
        if (ch == 'I')
            installed = true;
        else if (!peer_client_option(&o, ch, optarg))
            return cli_bad_option(prog);
    }
    if (optind != argc)
        return cli_usage(PROG, "list takes no argument");
    if ((rc = peer_client_finish(&o, PROG, true))) {
        peer_client_release(&o);
        return rc;
    }
    ProtobufCMessage *m = NULL;
    char hx[65];
    if (installed) {
        Stele__InstalledQuery q = STELE__INSTALLED_QUERY__INIT;
        if (!(rc = peer_client_call(&o, PROG, "/stele.Lifecycle/Installed", &q.base,
                                    &stele__installed_list__descriptor, &m, false))) {
            const Stele__InstalledList *l = (const Stele__InstalledList *)m;
            for (size_t i = 0; i < l->n_chaincodes; i++) {
                const Stele__InstalledChaincode *c = l->chaincodes[i];
                hex_encode(c->package_hash.data, c->package_hash.len == 32 ? 32 : 0, hx);
                if (!o.json) {
                    char nm[260], ver[260]; /* what the peer says it holds */
                    printf("%-20s %-12s %s\n", peer_client_printable(c->name, nm, sizeof nm),
                           peer_client_printable(c->version, ver, sizeof ver), hx);
                    continue;
                }
                struct buf jb;
                struct json j;
                line_begin(&jb, &j);
                json_kv_string(&j, "name", c->name);
                json_kv_string(&j, "version", c->version);
                json_kv_string(&j, "package_hash", hx);
                line_end(&jb, &j);
            }
        }
    } else {
        Stele__CommittedQuery q = STELE__COMMITTED_QUERY__INIT;
        if (!(rc = peer_client_call(&o, PROG, "/stele.Lifecycle/Committed", &q.base,
                                    &stele__committed_list__descriptor, &m, false))) {
            const Stele__CommittedList *l = (const Stele__CommittedList *)m;
            if (!o.json)
                printf("%-20s %-12s %8s  %-10s %s\n", "NAME", "VERSION", "SEQUENCE", "INSTALLED",
                       "POLICY");
            for (size_t i = 0; i < l->n_chaincodes; i++) {
                const Stele__ChaincodeDefinition *d = l->chaincodes[i]->definition;
                if (!d)
                    continue;
                hex_encode(d->package_hash.data, d->package_hash.len == 32 ? 32 : 0, hx);
                const char *holds =
                    l->chaincodes[i]->package_holds && l->chaincodes[i]->package_holds[0]
                        ? l->chaincodes[i]->package_holds
                        : NULL;
                if (o.json) {
                    struct buf jb;
                    struct json j;
                    line_begin(&jb, &j);
                    json_kv_string(&j, "name", d->name);
                    json_kv_string(&j, "version", d->version);
                    json_kv_uint(&j, "sequence", d->sequence);
                    json_kv_string(&j, "package_hash", hx);
                    json_kv_string(&j, "policy", d->endorsement_policy);
                    json_kv_bool(&j, "installed", l->chaincodes[i]->installed);
                    if (holds)
                        json_kv_string(&j, "package_holds", holds);
                    line_end(&jb, &j);
                } else {
                    char nm[260], ver[260]; /* what the peer says was committed */
                    printf("%-20s %-12s %8" PRIu64 "  %-10s ",
                           peer_client_printable(d->name, nm, sizeof nm),
                           peer_client_printable(d->version, ver, sizeof ver), d->sequence,
                           l->chaincodes[i]->installed ? "yes" : "no");
                    peer_client_fput_printable(d->endorsement_policy, stdout);
                    if (holds) {
                        fputs("  (the package installed is chaincode ", stdout);
                        peer_client_fput_printable(holds, stdout);
                        fputs(": not run)", stdout);
                    }
                    putchar('\n');
                }
            }
        }
    }
    pb_free(m);
    peer_client_release(&o);
    return rc;
}

int cmd_chaincode(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(cc_usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
    }
    /* each subcommand parses from its own name on (argv[0] for getopt) */
    if (strcmp(argv[1], "package") == 0)
        return cc_package(argc - 1, argv + 1);
    if (strcmp(argv[1], "install") == 0)
        return cc_install(argc - 1, argv + 1);
    if (strcmp(argv[1], "approve") == 0)
        return cc_define(argc - 1, argv + 1, "approve");
    if (strcmp(argv[1], "commit") == 0)
        return cc_define(argc - 1, argv + 1, "commit");
    if (strcmp(argv[1], "checkcommitreadiness") == 0)
        return cc_define(argc - 1, argv + 1, "readiness");
    if (strcmp(argv[1], "list") == 0)
        return cc_list(argc - 1, argv + 1);
    return cli_usage(PROG,
                     "unknown subcommand '%s' (package, install, approve, checkcommitreadiness, "
                     "commit, list)",
                     argv[1]);
}
