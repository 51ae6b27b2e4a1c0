/* ops_process.c — the process_* metrics of the running process, from /proc/self (ops.h). */
#include "ops/ops.h"

#include "base/buf.h"
#include "base/status.h"

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

/* Fields 14 (utime), 15 (stime), 20 (num_threads), 22 (starttime), 23 (vsize), 24 (rss) of
 * /proc/self/stat: after the command's closing parenthesis, which may itself hold spaces. */
static bool read_stat(double *cpu_s, double *threads, double *start_ticks, double *vsize,
                      double *rss_pages)
{
    char line[1024];
    FILE *f = fopen("/proc/self/stat", "re");
    if (!f)
        return false;
    size_t n = fread(line, 1, sizeof line - 1, f);
    fclose(f);
    line[n] = 0;
    const char *p = strrchr(line, ')');
    if (!p)
        return false;
    unsigned long utime, stime, vs;
    long nthreads, rss;
    unsigned long long start;
    /* from field 3 (state) on */
    if (sscanf(p + 2,
               "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu %*d %*d %*d %*d %ld %*d "
               "%llu %lu %ld",
               &utime, &stime, &nthreads, &start, &vs, &rss) != 6)
        return false;
    double hz = (double)sysconf(_SC_CLK_TCK);
    *cpu_s = (double)(utime + stime) / hz;
    *threads = (double)nthreads;
    *start_ticks = (double)start / hz;
    *vsize = (double)vs;
    *rss_pages = (double)rss;
    return true;
}

/* Seconds since the epoch at which the system booted (btime of /proc/stat), or -1. */
static double boot_time(void)
{
    FILE *f = fopen("/proc/stat", "re");
    if (!f)
        return -1;
    char line[256];
    double bt = -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "btime ", 6) == 0) {
            unsigned long long v;
            if (sscanf(line + 6, "%llu", &v) == 1)
                bt = (double)v;
            break;
        }
    fclose(f);
    return bt;
}

int ops_process_metrics(struct buf *out)
{
    int rc = STELE_OK;
    double cpu, threads, start, vsize, rss;
    if (read_stat(&cpu, &threads, &start, &vsize, &rss)) {
        rc = ops_metric(out, "process_cpu_seconds_total", OPS_COUNTER,
                        "Total user and system CPU time spent in seconds.", cpu);
        if (!rc)
            rc = ops_metric(out, "process_resident_memory_bytes", OPS_GAUGE,
                            "Resident memory size in bytes.", rss * (double)sysconf(_SC_PAGESIZE));
        if (!rc)
            rc = ops_metric(out, "process_virtual_memory_bytes", OPS_GAUGE,
                            "Virtual memory size in bytes.", vsize);
        if (!rc)
            rc = ops_metric(out, "process_threads", OPS_GAUGE,
                            "Number of OS threads in the process.", threads);
        double bt = boot_time();
        if (!rc && bt >= 0)
            rc = ops_metric(out, "process_start_time_seconds", OPS_GAUGE,
                            "Start time of the process since unix epoch in seconds.", bt + start);
    }
    DIR *d = opendir("/proc/self/fd");
    if (d && !rc) {
        double fds = 0;
        for (struct dirent *e; (e = readdir(d));)
            if (e->d_name[0] != '.')
                fds++;
        rc = ops_metric(out, "process_open_fds", OPS_GAUGE, "Number of open file descriptors.",
                        fds - 1); /* less the one reading the directory */
    }
    if (d)
        closedir(d);
    struct rlimit rl;
    if (!rc && getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
        rc = ops_metric(out, "process_max_fds", OPS_GAUGE,
                        "Maximum number of open file descriptors.", (double)rl.rlim_cur);
    return rc;
}
