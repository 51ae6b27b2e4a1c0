/* report.c — common options and the human/JSON report of stele-bench. */
#include "bench.h"

#include "base/buf.h"
#include "base/json.h"
#include "cli/cli.h"
#include "rpc/rpc.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

int bench_parse_common(int argc, char **argv, struct bench_opts *o, const char *usage)
{
    static const struct option longopts[] = {
        {"duration", required_argument, NULL, 'd'},
        {"clients", required_argument, NULL, 'c'},
        {"json", no_argument, NULL, 'j'},
        {"target", required_argument, NULL, 't'},
        {"baseline", no_argument, NULL, 'b'},
        {"pool", no_argument, NULL, 'p'},
        {"network", required_argument, NULL, 'n'},
        {"consensus", required_argument, NULL, 'C'},
        {"rate", required_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    optind = 1;
    int ch;
    while ((ch = getopt_long(argc, argv, "d:c:jt:n:C:r:bph", longopts, NULL)) != -1) {
        switch (ch) {
        case 'd':
            o->duration_s = atof(optarg);
            if (o->duration_s <= 0 || o->duration_s > 3600)
                return cli_usage("stele-bench", "--duration takes seconds in (0, 3600]");
            break;
        case 'c':
            o->clients = atoi(optarg);
            if (o->clients < 1 || o->clients > 1024)
                return cli_usage("stele-bench", "--clients takes 1 to 1024");
            break;
        case 'j':
            o->json = true;
            break;
        case 'b':
            o->baseline = true;
            break;
        case 'p':
            o->pool = true;
            break;
        case 't':
            o->target = optarg;
            break;
        case 'n':
            o->network = optarg;
            break;
        case 'C':
            if (strcmp(optarg, "solo") != 0 && strcmp(optarg, "pbft") != 0)
                return cli_usage("stele-bench", "--consensus takes solo or pbft");
            o->consensus = optarg;
            break;
        case 'r':
            o->rate = atof(optarg);
            if (o->rate <= 0 || o->rate > 1e7)
                return cli_usage("stele-bench", "--rate takes envelopes per second (> 0)");
            break;
        case 'h':
            fputs(usage, stdout);
            exit(0);
        default:
            return cli_usage("stele-bench", "see '%s --help'", argv[0]);
        }
    }
    if (optind < argc)
        return cli_usage("stele-bench", "unexpected argument '%s'", argv[optind]);
    return 0;
}

static double rate(const struct bench_result *r)
{
    return r->seconds > 0 ? (double)r->ops / r->seconds : 0;
}

static void machine(char *out, size_t n)
{
    struct utsname u;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    char model[128] = "unknown cpu";
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f) {
        char line[256];
        while (fgets(line, sizeof line, f))
            if (strncmp(line, "model name", 10) == 0) {
                char *p = strchr(line, ':');
                if (p) {
                    snprintf(model, sizeof model, "%s", p + 2);
                    model[strcspn(model, "\n")] = 0;
                }
                break;
            }
        fclose(f);
    }
    uname(&u);
    snprintf(out, n, "%ld cores, %s, %s %s", cores, model, u.sysname, u.release);
}

static void json_result(struct json *j, const struct bench_result *r)
{
    json_kv_string(j, "name", r->name);
    json_kv_string(j, "unit", r->unit);
    json_kv_int(j, "clients", r->clients);
    json_kv_double(j, "seconds", r->seconds, 3);
    json_kv_uint(j, "ops", r->ops);
    json_kv_uint(j, "errors", r->errors);
    json_kv_double(j, "throughput_per_s", rate(r), 1);
    json_key(j, "latency_ms");
    json_object_begin(j);
    if (r->lat.count) {
        json_kv_double(j, "p50", hist_quantile_us(&r->lat, 0.50) / 1000.0, 4);
        json_kv_double(j, "p99", hist_quantile_us(&r->lat, 0.99) / 1000.0, 4);
        json_kv_double(j, "max", (double)r->lat.max_us / 1000.0, 3);
    }
    json_object_end(j);
}

void bench_report(const char *workload, const struct bench_opts *o,
                  const struct bench_result *results, int n, int headline, const char *extra)
{
    char mach[256];
    machine(mach, sizeof mach);
    if (!o->json) {
        printf("stele-bench %s — %s\n", workload, mach);
        printf("%-22s %8s %12s %12s %10s %10s %8s\n", "scenario", "clients", "ops", "per second",
               "p50 ms", "p99 ms", "errors");
        for (int i = 0; i < n; i++) {
            const struct bench_result *r = &results[i];
            char p50[16] = "-", p99[16] = "-";
            if (r->lat.count) {
                snprintf(p50, sizeof p50, "%.3f", hist_quantile_us(&r->lat, 0.5) / 1000.0);
                snprintf(p99, sizeof p99, "%.3f", hist_quantile_us(&r->lat, 0.99) / 1000.0);
            }
            printf("%-22s %8d %12llu %12.0f %10s %10s %8llu\n", r->name, r->clients,
                   (unsigned long long)r->ops, rate(r), p50, p99, (unsigned long long)r->errors);
        }
        if (extra) /* a JSON fragment: show it as `key: value` */
            printf("%s\n", extra);
        return;
    }
    struct buf b;
    buf_init(&b);
    struct json j;
    json_init(&j, &b);
    json_object_begin(&j);
    json_kv_string(&j, "workload", workload);
    json_key(&j, "parameters");
    json_object_begin(&j);
    json_kv_double(&j, "duration_s", o->duration_s, 2);
    json_kv_int(&j, "clients", o->clients);
    json_kv_string(&j, "target", o->target ? o->target : "in-process");
    json_kv_bool(&j, "baseline", o->baseline);
    json_kv_bool(&j, "echo_on_pool", o->pool);
    json_object_end(&j);
    json_kv_string(&j, "machine", mach);
    json_result(&j, &results[headline]);
    json_key(&j, "scenarios");
    json_array_begin(&j);
    for (int i = 0; i < n; i++) {
        json_object_begin(&j);
        json_result(&j, &results[i]);
        json_object_end(&j);
    }
    json_array_end(&j);
    json_object_end(&j);
    if (json_finish(&j) == 0) {
        if (extra && *extra && b.len > 0) { /* splice extra keys before the final brace */
            b.len--;
            buf_printf(&b, ",%s}", extra);
        }
        printf("%s\n", (char *)b.data);
    }
    buf_release(&b);
}

struct rpc_channel *bench_channel(const char *prog, const char *url,
                                  const struct rpc_channel_opts *o)
{
    char *err = NULL;
    struct rpc_channel *ch = rpc_channel_open(url, o, &err);
    if (!ch)
        fprintf(stderr, "%s: %s: %s\n", prog, url, err ? err : "cannot open a channel");
    free(err);
    return ch;
}
