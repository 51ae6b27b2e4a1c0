/* tls_cmds.c — stele-ca tls-ca and tls-issue: the X.509 CA and node certificates that protect
 * the TLS links between Stele's processes (lib/crypto/tlscert.h). Offline: files only. */
#include "ca.h"

#include "base/status.h"
#include "cli/cli.h"
#include "crypto/tlscert.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char tls_ca_help[] =
    "Usage: stele-ca tls-ca --cert FILE --key FILE [--name CN] [--days N] [--force]\n"
    "\n"
    "Creates a CA for the TLS links between Stele's processes: a new P-256 key, written to the\n"
    "--key FILE (PKCS#8 PEM, unencrypted, mode 0600), and a self-signed X.509 certificate that\n"
    "may sign node certificates, written to the --cert FILE (PEM, mode 0644). Refuses when\n"
    "either file exists, unless --force. This CA is for TLS only; identities and signatures\n"
    "use the ECQV CA (init).\n"
    "\n"
    "  --name CN   the CA's common name (default stele-tls-ca; 1 to 64 printable characters)\n"
    "  --days N    validity in days from now (default 825; 1 to 3650)\n"
    "  --force     replace existing files: the certificates the old CA issued no longer\n"
    "              verify against the new one\n"
    "\n"
    "Exit status: 0 written, 1 refused (bad name, a file exists), 2 usage, 3 cannot write or\n"
    "internal error.\n";

static const char tls_issue_help[] =
    "Usage: stele-ca tls-issue --ca-cert FILE --ca-key FILE --name CN --host H [--host H]...\n"
    "                          --cert FILE --key FILE [--days N]\n"
    "       stele-ca tls-issue --ca-cert FILE --ca-key FILE --name CN --client\n"
    "                          --cert FILE --key FILE [--days N]\n"
    "\n"
    "Issues a TLS certificate for a node from a CA made by tls-ca: a new P-256 key, written to\n"
    "the --key FILE (PKCS#8 PEM, unencrypted, mode 0600), and a certificate with CN as its\n"
    "common name, each --host as a subjectAltName and both serverAuth and clientAuth, written\n"
    "to the --cert FILE (PEM, mode 0644). The node serves with them and presents them to nodes\n"
    "that require client certificates. Existing files are replaced.\n"
    "With --client the certificate names no host and has clientAuth only: for clients of\n"
    "daemons that require client certificates (mutual TLS); it cannot serve as a node.\n"
    "\n"
    "  --host H    an IPv4 or IPv6 address (an IP entry) or a DNS name (a DNS entry) that\n"
    "              clients use to reach the node; 1 to 16 of them\n"
    "  --days N    validity in days from now (default 397; 1 to 3650), never beyond the CA's\n"
    "\n"
    "Exit status: 0 written, 1 refused (bad name or host; a CA file missing, not PEM, not\n"
    "matching the other or expired), 2 usage, 3 cannot read or write a file, or internal error.\n";

/* Parses --days: 1..TLSCERT_MAX_DAYS. Returns false on anything else. */
static bool parse_days(const char *s, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < 1 || v > TLSCERT_MAX_DAYS)
        return false;
    *out = (int)v;
    return true;
}

/* What both commands write: the certificate and key files, the common name, the validity. */
struct tls_out {
    const char *cert, *key, *name;
    int days;
};

/* Takes option `c` (with `arg`) into *o when it is one of --cert, --key, --name, --days:
 * returns CLI_EXIT_OK, or the usage exit status for a bad --days; -1 for another option. */
static int take_out_option(const char *prog, int c, const char *arg, struct tls_out *o)
{
    switch (c) {
    case 'c':
        o->cert = arg;
        return CLI_EXIT_OK;
    case 'k':
        o->key = arg;
        return CLI_EXIT_OK;
    case 'n':
        o->name = arg;
        return CLI_EXIT_OK;
    case 'd':
        return parse_days(arg, &o->days)
                   ? CLI_EXIT_OK
                   : cli_usage(prog, "--days expects a number of days, 1 to %d", TLSCERT_MAX_DAYS);
    default:
        return -1;
    }
}

/* Prints the library's error for `rc` and returns the exit status. */
static int fail(const char *prog, int rc, char *err)
{
    int code = cli_fail(prog, rc, "%s", err ? err : stele_strerror(rc));
    free(err);
    return code;
}

int cmd_tls_ca(int argc, char **argv)
{
    static const struct option opts[] = {{"cert", required_argument, NULL, 'c'},
                                         {"key", required_argument, NULL, 'k'},
                                         {"name", required_argument, NULL, 'n'},
                                         {"days", required_argument, NULL, 'd'},
                                         {"force", no_argument, NULL, 'f'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *prog = "stele-ca tls-ca";
    struct tls_out o = {.name = "stele-tls-ca", .days = 825};
    bool force = false;
    int c, code;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h') {
            fputs(tls_ca_help, stdout);
            return CLI_EXIT_OK;
        }
        if (c == 'f') {
            force = true;
            continue;
        }
        if ((code = take_out_option(prog, c, optarg, &o)) == -1)
            return cli_usage(prog, "unknown or incomplete option '%s'", argv[optind - 1]);
        if (code != CLI_EXIT_OK)
            return code;
    }
    if (optind != argc)
        return cli_usage(prog, "unexpected argument '%s'", argv[optind]);
    if (!o.cert || !o.key)
        return cli_usage(prog, "--cert FILE and --key FILE are required");
    struct stat st;
    for (const char *f = o.cert; f && !force; f = f == o.cert ? o.key : NULL)
        if (lstat(f, &st) == 0)
            return cli_fail(prog, STELE_ERR_EXISTS,
                            "%s exists: not replacing a TLS CA (the certificates it issued would "
                            "no longer verify); give --force to replace it",
                            f);
    char *err = NULL;
    int rc = tlscert_ca_create(o.cert, o.key, o.name, o.days, &err);
    if (rc != STELE_OK)
        return fail(prog, rc, err);
    printf("wrote TLS CA \"%s\" (valid %d days): certificate %s, key %s\n", o.name, o.days, o.cert,
           o.key);
    return CLI_EXIT_OK;
}

int cmd_tls_issue(int argc, char **argv)
{
    static const struct option opts[] = {
        {"ca-cert", required_argument, NULL, 'C'}, {"ca-key", required_argument, NULL, 'K'},
        {"name", required_argument, NULL, 'n'},    {"host", required_argument, NULL, 'H'},
        {"cert", required_argument, NULL, 'c'},    {"key", required_argument, NULL, 'k'},
        {"days", required_argument, NULL, 'd'},    {"client", no_argument, NULL, 'L'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0}};
    const char *prog = "stele-ca tls-issue";
    bool client = false;
    const char *ca_cert = NULL, *ca_key = NULL;
    struct tls_out o = {.days = 397};
    /* Every --host is kept; how many are allowed is tlscert_issue()'s to say. */
    const char **hosts = calloc((size_t)argc, sizeof *hosts);
    size_t n_hosts = 0;
    int c, code = CLI_EXIT_OK;
    if (!hosts)
        return cli_fail(prog, STELE_ERR_NOMEM, "out of memory");
    opterr = 0;
    while (code == CLI_EXIT_OK && (c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'C':
            ca_cert = optarg;
            break;
        case 'K':
            ca_key = optarg;
            break;
        case 'H':
            hosts[n_hosts++] = optarg;
            break;
        case 'L':
            client = true;
            break;
        case 'h':
            fputs(tls_issue_help, stdout);
            free(hosts);
            return CLI_EXIT_OK;
        default:
            if ((code = take_out_option(prog, c, optarg, &o)) == -1)
                code = cli_usage(prog, "unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (code == CLI_EXIT_OK && optind != argc)
        code = cli_usage(prog, "unexpected argument '%s'", argv[optind]);
    else if (code == CLI_EXIT_OK && client && n_hosts)
        code = cli_usage(prog, "--client names no host: give --host or --client, not both");
    else if (code == CLI_EXIT_OK &&
             (!ca_cert || !ca_key || !o.name || (!n_hosts && !client) || !o.cert || !o.key))
        code = cli_usage(prog, "--ca-cert, --ca-key, --name, --host (or --client), --cert and "
                               "--key are required");
    if (code == CLI_EXIT_OK) {
        char *err = NULL;
        int rc = client ? tlscert_issue_client(ca_cert, ca_key, o.name, o.days, o.cert, o.key, &err)
                        : tlscert_issue(ca_cert, ca_key, o.name, hosts, n_hosts, o.days, o.cert,
                                        o.key, &err);
        if (rc != STELE_OK)
            code = fail(prog, rc, err);
        else if (client)
            printf("wrote TLS client certificate for \"%s\" (up to %d days): certificate %s, key "
                   "%s\n",
                   o.name, o.days, o.cert, o.key);
        else
            printf("wrote TLS certificate for \"%s\" (%zu host%s, up to %d days): certificate "
                   "%s, key %s\n",
                   o.name, n_hosts, n_hosts == 1 ? "" : "s", o.days, o.cert, o.key);
    }
    free(hosts);
    return code;
}
