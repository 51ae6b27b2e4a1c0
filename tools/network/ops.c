/* ops.c — `stele-network status`, `down` and `check`: what runs, stopping it, the description. */
#include "cmds.h"
#include "netconfig.h"
#include "procs.h"

#include "base/text.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/json.h"
#include "base/log.h"
#include "base/status.h"
#include "cli/cli.h"
#include "netfile/netfile.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Parses --dir, --json (when `json` is non-NULL), --timeout (when `timeout` is non-NULL),
 * --help and one NAME (when `name` is non-NULL, required). */
static int parse(int argc, char **argv, const char *prog, const char *usage, const char **dir,
                 bool *json, long *timeout, const char **name)
{
    static const struct option longopts[] = {
        {"dir", required_argument, NULL, 'd'},
        {"json", no_argument, NULL, 'j'},
        {"timeout", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int ch;
    optind = 1;
    while ((ch = cli_getopt(prog, argc, argv, "d:jt:h", longopts)) != -1) {
        if (ch == 'h') {
            fputs(usage, stdout);
            exit(CLI_EXIT_OK);
        } else if (ch == 'd') {
            *dir = optarg;
        } else if (ch == 'j' && json) {
            *json = true;
        } else if (ch == 'j') {
            return cli_usage(prog, "--json: this command prints lines of text only");
        } else if (ch == 't' && timeout) {
            uint64_t t;
            if (!text_parse_u64(optarg, strlen(optarg), &t) || t < 1 || t > 600)
                return cli_usage(prog, "--timeout takes 1 to 600 seconds");
            *timeout = (long)t;
        } else if (ch == 't') {
            return cli_usage(prog, "--timeout is for down and restart");
        } else {
            return cli_bad_option(prog); /* getopt said which option */
        }
    }
    if (name && optind < argc)
        *name = argv[optind++];
    if (optind < argc)
        return cli_usage(prog, "unexpected argument '%s'", argv[optind]);
    if (!*dir)
        return cli_usage(prog, "--dir DIR is required");
    if (name && !*name)
        return cli_usage(prog, "which process? Give its NAME (see 'stele-network status')");
    return 0;
}

/* The command that serves process `p` of the network in `dir`, as `up` started it: argv in
 * `argv` (strings in `bin` and `conf`). */
static bool serve_argv(const char *dir, const struct netfile_process *p, char *bin, size_t nbin,
                       char *conf, size_t nconf, char *argv[5])
{
    if (strcmp(p->kind, "ca") == 0) {
        procs_sibling("stele-ca", bin, nbin);
        snprintf(conf, nconf, "%s/ca.yaml", dir);
    } else if (strcmp(p->kind, "orderer") == 0 || strcmp(p->kind, "peer") == 0) {
        bool orderer = p->kind[0] == 'o';
        procs_sibling(orderer ? "stele-orderer" : "stele-peer", bin, nbin);
        snprintf(conf, nconf, "%s/%s/%s.yaml", dir, p->name, orderer ? "orderer" : "peer");
    } else {
        return false;
    }
    argv[0] = bin;
    argv[1] = "serve";
    argv[2] = "--config";
    argv[3] = conf;
    argv[4] = NULL;
    return true;
}

bool net_process_runs(const char *dir, const struct netfile_process *p)
{
    char bin[PATH_MAX + 32], conf[PATH_MAX], *argv[5];
    if (!serve_argv(dir, p, bin, sizeof bin, conf, sizeof conf, argv))
        return false;
    const char *prog = strrchr(bin, '/');
    return procs_is_daemon(p->pid, prog ? prog + 1 : bin, conf);
}

/* Loads DIR/network.json for status, down and restart, which need every process's files:
 * one without them (written by hand, or cut short) is refused, not followed into NULL. */
static int load(const char *prog, const char *dir, struct netfile *nf, struct config **cc)
{
    char *err = NULL;
    int rc = netfile_load(dir, nf, cc, &err);
    if (rc)
        rc = cli_fail(prog, rc, "%s", err ? err : stele_strerror(rc));
    free(err);
    for (size_t i = 0; rc == 0 && i < nf->n_processes; i++) {
        const struct netfile_process *p = &nf->processes[i];
        const char *missing = !p->log         ? "log"
                              : !p->pid_file  ? "pid_file"
                              : !p->exit_file ? "exit_file"
                                              : NULL;
        if (missing) {
            rc = cli_fail(prog, STELE_ERR_MALFORMED,
                          "%s/%s: process %zu (%s) has no %s: it is not as 'stele-network up' "
                          "wrote it",
                          dir, NETFILE_NAME, i, p->name, missing);
            config_destroy(*cc);
            *cc = NULL;
        }
    }
    return rc;
}

int cmd_status(int argc, char **argv)
{
    const char *prog = "stele-network status", *dir = NULL;
    bool json = false;
    int rc = parse(argc, argv, prog,
                   "Usage: stele-network status --dir DIR [--json]\n\n"
                   "Prints each process of the network in DIR: pid, alive or not, health\n"
                   "(grpc.health.v1). Exits 0 when every one is alive and SERVING, 1 otherwise.\n",
                   &dir, &json, NULL, NULL);
    struct netfile nf;
    struct config *cc = NULL;
    if (rc || (rc = load(prog, dir, &nf, &cc)))
        return rc;
    if (getenv("STELE_LOG") == NULL)
        log_set_level(LOG_WARN);
    struct buf b;
    struct json j;
    buf_init(&b);
    json_init(&j, &b);
    json_object_begin(&j);
    const char *tls_mode = !nf.tls_ca ? "none" : nf.tls_cert ? "mutual" : "server";
    json_kv_string(&j, "network", nf.network);
    json_kv_string(&j, "tls", tls_mode);
    json_key(&j, "processes");
    json_array_begin(&j);
    if (!json)
        printf("network %s (channel %s, tls %s) in %s\n", nf.network,
               nf.channel_id ? nf.channel_id : "?", tls_mode, dir);
    bool all = true;
    struct rpc_tls tls = netfile_client_tls(&nf);
    for (size_t i = 0; i < nf.n_processes; i++) {
        const struct netfile_process *p = &nf.processes[i];
        bool alive = net_process_runs(dir, p);
        const char *state = "-";
        char ended[64] = "";
        struct rpc_result res = {0};
        if (alive && procs_health(p->url, &tls, 0, NULL, &state, &res) != STELE_OK &&
            res.code == RPC_INVALID_ARGUMENT) /* not even dialled: say why */
            fprintf(stderr, "%s: %s: %s\n", prog, p->name, res.detail);
        else if (!alive)
            procs_exit_status(p->exit_file, ended, sizeof ended);
        all = all && alive && strcmp(state, "SERVING") == 0;
        if (!json) {
            printf("  %-10s %-8s %-22s pid %-8lld %-6s %s%s%s\n", p->name, p->kind, p->url,
                   (long long)p->pid, alive ? "alive" : "dead", state, ended[0] ? " " : "", ended);
            if (p->ops_url)
                printf("  %-10s %-8s http://%s/metrics\n", "", "", p->ops_url);
            continue;
        }
        json_object_begin(&j);
        json_kv_string(&j, "name", p->name);
        json_kv_string(&j, "kind", p->kind);
        json_kv_string(&j, "url", p->url);
        if (p->ops_url)
            json_kv_string(&j, "operations", p->ops_url);
        json_kv_int(&j, "pid", p->pid);
        json_kv_bool(&j, "alive", alive);
        json_kv_string(&j, "health", state);
        json_kv_string(&j, "log", p->log);
        if (ended[0])
            json_kv_string(&j, "exit", ended);
        json_object_end(&j);
    }
    json_array_end(&j);
    json_kv_bool(&j, "healthy", all);
    json_object_end(&j);
    if (json)
        printf("%s\n", (char *)b.data);
    buf_release(&b);
    config_destroy(cc);
    return all ? CLI_EXIT_OK : CLI_EXIT_REFUSED;
}

/* Waits until every process in `nf` (of the network in `dir`) whose `pending` flag is set has
 * ended or `until_ms`. */
static void wait_all(const char *dir, const struct netfile *nf, bool *pending, uint64_t until_ms)
{
    for (;;) {
        bool any = false;
        for (size_t i = 0; i < nf->n_processes; i++) {
            char st[64];
            /* Ended: gone, and its keeper has recorded how (or it had no keeper left). */
            if (pending[i] && !net_process_runs(dir, &nf->processes[i]) &&
                (procs_exit_status(nf->processes[i].exit_file, st, sizeof st) ||
                 clock_mono_ms() >= until_ms))
                pending[i] = false;
            any = any || pending[i];
        }
        if (!any || clock_mono_ms() >= until_ms)
            return;
        clock_sleep_ms(20);
    }
}

/* Waits up to `timeout` seconds for the processes marked in `pending` (sent SIGTERM) to end,
 * then sends SIGKILL, with a warning, to those still running and waits for them a little. */
static void finish_stop(const char *prog, const char *dir, const struct netfile *nf, bool *pending,
                        long timeout)
{
    wait_all(dir, nf, pending, clock_mono_ms() + (uint64_t)timeout * 1000);
    int killed = 0;
    for (size_t i = 0; i < nf->n_processes; i++)
        if (pending[i] && net_process_runs(dir, &nf->processes[i])) {
            fprintf(stderr, "%s: warning: %s (pid %lld) did not stop within %lds: SIGKILL\n", prog,
                    nf->processes[i].name, (long long)nf->processes[i].pid, timeout);
            kill((pid_t)nf->processes[i].pid, SIGKILL);
            killed++;
        }
    if (killed)
        wait_all(dir, nf, pending, clock_mono_ms() + 5000);
}

int cmd_down(int argc, char **argv)
{
    const char *prog = "stele-network down", *dir = NULL;
    bool json = false;
    long timeout = 10;
    int rc = parse(argc, argv, prog,
                   "Usage: stele-network down --dir DIR [--timeout S] [--json]\n\n"
                   "Sends SIGTERM to every process of the network in DIR (orderers before the\n"
                   "CA), waits up to S seconds (default 10) and reports how each ended; what\n"
                   "still runs then gets SIGKILL, with a warning. --json prints one object:\n"
                   "{\"processes\":[{\"name\",\"pid\",\"was_running\",\"ended\" (as the keeper\n"
                   "recorded it, or null),\"still_running\"}]}. Exits 3 when one still runs.\n",
                   &dir, &json, &timeout, NULL);
    struct netfile nf;
    struct config *cc = NULL;
    if (rc || (rc = load(prog, dir, &nf, &cc)))
        return rc;
    /* pending: still awaited (finish_stop() clears what ended); signalled: sent SIGTERM */
    bool *pending = calloc(2 * (nf.n_processes + 1), sizeof *pending);
    bool *signalled = pending ? pending + nf.n_processes + 1 : NULL;
    if (!pending) {
        config_destroy(cc);
        return cli_fail(prog, STELE_ERR_NOMEM, "out of memory");
    }
    for (size_t k = nf.n_processes; k-- > 0;) {
        const struct netfile_process *p = &nf.processes[k];
        if (net_process_runs(dir, p) && kill((pid_t)p->pid, SIGTERM) == 0)
            pending[k] = signalled[k] = true;
    }
    finish_stop(prog, dir, &nf, pending, timeout);
    /* One line (or object) per process: how the ones signalled ended; the others were not
     * running (with how they ended before, when that was recorded). */
    struct buf b;
    struct json j;
    buf_init(&b);
    json_init(&j, &b);
    json_object_begin(&j);
    json_key(&j, "processes");
    json_array_begin(&j);
    for (size_t k = nf.n_processes; k-- > 0;) {
        const struct netfile_process *p = &nf.processes[k];
        char st[64], line[96];
        bool still = signalled[k] && pending[k] && net_process_runs(dir, p);
        bool ended = !still && procs_exit_status(p->exit_file, st, sizeof st);
        if (still)
            rc = CLI_EXIT_INTERNAL;
        if (json) {
            json_object_begin(&j);
            json_kv_string(&j, "name", p->name);
            json_kv_int(&j, "pid", p->pid);
            json_kv_bool(&j, "was_running", signalled[k]);
            json_kv_string(&j, "ended", ended ? st : NULL);
            json_kv_bool(&j, "still_running", still);
            json_object_end(&j);
            continue;
        }
        if (!signalled[k])
            snprintf(line, sizeof line, "was not running%s%s%s", ended ? " (" : "", ended ? st : "",
                     ended ? ")" : "");
        else
            snprintf(line, sizeof line, "%s",
                     still   ? "STILL RUNNING"
                     : ended ? st
                             : "stopped (exit status not recorded)");
        printf("  %-10s pid %-8lld %s\n", p->name, (long long)p->pid, line);
    }
    json_array_end(&j);
    json_object_end(&j);
    if (json)
        printf("%s\n", (char *)b.data);
    buf_release(&b);
    free(pending);
    config_destroy(cc);
    return rc;
}

int cmd_check(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *prog = "stele-network check", *config = "configs/network.yaml";
    int ch;
    optind = 1;
    while ((ch = cli_getopt(prog, argc, argv, "c:h", longopts)) != -1) {
        if (ch == 'c') {
            config = optarg;
        } else if (ch == 'h') {
            fputs("Usage: stele-network check [--config FILE]\n\nLoads and checks the network "
                  "description FILE (default configs/network.yaml)\nand prints its summary.\n\n"
                  "Keys:\n",
                  stdout);
            config_print_help(&netconfig_schema, stdout);
            return CLI_EXIT_OK;
        } else {
            return cli_bad_option(prog);
        }
    }
    if (optind < argc)
        return cli_usage(prog, "unexpected argument '%s'", argv[optind]);
    struct netconfig nc;
    struct config *cc = NULL;
    char *err = NULL;
    int rc = netconfig_load(config, &nc, &cc, &err);
    if (rc) {
        rc = cli_fail(prog, rc, "%s", err ? err : stele_strerror(rc));
        free(err);
        return rc;
    }
    config_print(&netconfig_schema, &nc, stdout);
    config_destroy(cc);
    return CLI_EXIT_OK;
}

int cmd_restart(int argc, char **argv)
{
    const char *prog = "stele-network restart", *dir = NULL, *name = NULL;
    long timeout = 10;
    int rc = parse(argc, argv, prog,
                   "Usage: stele-network restart --dir DIR NAME [--timeout S]\n\n"
                   "Stops process NAME of the network in DIR if it runs (SIGTERM, then SIGKILL\n"
                   "after S seconds, default 10), starts it again with the configuration it was\n"
                   "started with (DIR/ca.yaml, DIR/NAME/orderer.yaml or DIR/NAME/peer.yaml: edit\n"
                   "it first to change a setting), records its new pid for status and down, and\n"
                   "waits until it serves.\n",
                   &dir, NULL, &timeout, &name);
    struct netfile nf;
    struct config *cc = NULL;
    if (rc || (rc = load(prog, dir, &nf, &cc)))
        return rc;
    size_t i = 0;
    while (i < nf.n_processes && strcmp(nf.processes[i].name, name) != 0)
        i++;
    if (i == nf.n_processes) {
        config_destroy(cc);
        return cli_fail(prog, STELE_ERR_NOT_FOUND,
                        "the network in %s has no process %s (see 'stele-network status')", dir,
                        name);
    }
    const struct netfile_process *p = &nf.processes[i];
    bool *pending = calloc(nf.n_processes, sizeof *pending);
    if (!pending) {
        config_destroy(cc);
        return cli_fail(prog, STELE_ERR_NOMEM, "out of memory");
    }
    char bin[PATH_MAX + 32], conf[PATH_MAX], st[96];
    char *serve[5];
    char *err = NULL;
    pid_t pid = 0;
    if (!serve_argv(dir, p, bin, sizeof bin, conf, sizeof conf, serve)) {
        rc = cli_fail(prog, STELE_ERR_INVALID, "%s is a %s: only ca, orderer and peer restart",
                      name, p->kind);
        goto out;
    }
    /* The health check after the start dials with the network's TLS files: check they can be
     * used before stopping anything. */
    struct rpc_tls tls = netfile_client_tls(&nf);
    struct rpc_channel_opts co = {.tls = tls};
    struct rpc_channel *probe = rpc_channel_open(p->url, &co, &err);
    if (!probe) {
        rc = cli_fail(prog, STELE_ERR_CONFIG, "cannot dial %s: %s; %s left running", p->url,
                      err ? err : "bad address", name);
        goto out;
    }
    rpc_channel_close(probe);
    if (net_process_runs(dir, p) && kill((pid_t)p->pid, SIGTERM) == 0) {
        pending[i] = true;
        finish_stop(prog, dir, &nf, pending, timeout);
        if (net_process_runs(dir, p)) {
            rc = cli_fail(prog, STELE_ERR_STATE, "%s (pid %lld) is still running", name,
                          (long long)p->pid);
            goto out;
        }
        if (!procs_exit_status(p->exit_file, st, sizeof st))
            snprintf(st, sizeof st, "stopped (exit status not recorded)");
    } else {
        char ended[64];
        if (procs_exit_status(p->exit_file, ended, sizeof ended))
            snprintf(st, sizeof st, "was not running (%s)", ended);
        else
            snprintf(st, sizeof st, "was not running");
    }
    printf("  %-10s pid %-8lld %s\n", name, (long long)p->pid, st);
    if (procs_addr_in_use(p->url)) { /* its health check could reach the other process */
        rc = cli_fail(prog, STELE_ERR_STATE,
                      "another process listens on %s: %s not started; stop that process first",
                      p->url, name);
        goto out;
    }
    if ((rc = procs_start(serve, p->log, p->pid_file, p->exit_file, &pid))) {
        rc = cli_fail(prog, rc, "cannot start %s: %s (see %s)", name, stele_strerror(rc), p->log);
        goto out;
    }
    if ((rc = netfile_set_pid(dir, name, pid, &err))) {
        rc = cli_fail(prog, rc, "%s started as pid %d, but %s", name, (int)pid,
                      err ? err : stele_strerror(rc));
        goto out;
    }
    const char *state;
    struct rpc_result res = {0};
    if (procs_health(p->url, &tls, 30000, p->exit_file, &state, &res) != STELE_OK) {
        rc = cli_fail(prog, STELE_ERR_UNAVAILABLE, "%s (pid %d) is %s at %s (%s); see %s", name,
                      (int)pid, state, p->url, res.detail[0] ? res.detail : "no answer", p->log);
        goto out;
    }
    printf("  %-10s pid %-8d serving at %s\n", name, (int)pid, p->url);
out:
    free(err);
    free(pending);
    config_destroy(cc);
    return rc;
}
