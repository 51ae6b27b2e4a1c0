/* ops_text.c — the Prometheus text format and the HTTP request line (ops.h). */
#include "ops/ops.h"

#include "base/buf.h"
#include "base/status.h"

#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

/* Appends `s` with the characters `special` (and newline) escaped by a backslash, newline as
 * \n: HELP text escapes \ and newline, label values also ". */
static int append_escaped(struct buf *out, const char *s, const char *special)
{
    int rc = STELE_OK;
    for (; *s && rc == STELE_OK; s++) {
        if (*s == '\n')
            rc = buf_append(out, "\\n", 2);
        else if (strchr(special, *s))
            rc = buf_printf(out, "\\%c", *s);
        else
            rc = buf_append_byte(out, (uint8_t)*s);
    }
    return rc;
}

int ops_family(struct buf *out, const char *name, enum ops_type type, const char *help)
{
    int rc = buf_printf(out, "# HELP %s ", name);
    if (rc == STELE_OK)
        rc = append_escaped(out, help, "\\");
    if (rc == STELE_OK)
        rc = buf_printf(out, "\n# TYPE %s %s\n", name,
                        type == OPS_COUNTER ? "counter"
                        : type == OPS_GAUGE ? "gauge"
                                            : "histogram");
    return rc;
}

int ops_metric(struct buf *out, const char *name, enum ops_type type, const char *help, double v)
{
    int rc = ops_family(out, name, type, help);
    return rc ? rc : ops_sample(out, name, NULL, NULL, v);
}

int ops_sample(struct buf *out, const char *name, const char *label, const char *value, double v)
{
    int rc = buf_printf(out, "%s", name);
    if (rc == STELE_OK && label) {
        rc = buf_printf(out, "{%s=\"", label);
        if (rc == STELE_OK)
            rc = append_escaped(out, value ? value : "", "\\\"");
        if (rc == STELE_OK)
            rc = buf_append(out, "\"}", 2);
    }
    if (rc != STELE_OK)
        return rc;
    if (isnan(v))
        return buf_printf(out, " NaN\n");
    if (isinf(v))
        return buf_printf(out, " %s\n", v > 0 ? "+Inf" : "-Inf");
    /* integers (every counter) exactly up to 2^53, others with 17 significant digits */
    if (v == floor(v) && fabs(v) < 9007199254740992.0)
        return buf_printf(out, " %.0f\n", v);
    return buf_printf(out, " %.17g\n", v);
}

const double ops_latency_bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                     0.25,  0.5,    1,     2.5,  5,     10};
const size_t ops_latency_n = sizeof ops_latency_bounds / sizeof ops_latency_bounds[0];

void ops_hist_init(struct ops_hist *h, const double *bounds, size_t n)
{
    h->bounds = bounds;
    h->n = n < OPS_HIST_MAX ? n : OPS_HIST_MAX;
    for (size_t i = 0; i <= OPS_HIST_MAX; i++)
        atomic_store_explicit(&h->in[i], 0, memory_order_relaxed);
    atomic_store_explicit(&h->sum_us, 0, memory_order_relaxed);
}

void ops_hist_observe_us(struct ops_hist *h, uint64_t us)
{
    double s = (double)us / 1e6;
    size_t i = 0;
    while (i < h->n && s > h->bounds[i])
        i++;
    atomic_fetch_add_explicit(&h->in[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum_us, us, memory_order_relaxed);
}

int ops_histogram(struct buf *out, const char *name, const char *help, struct ops_hist *h)
{
    int rc = ops_family(out, name, OPS_HISTOGRAM, help);
    char bucket[160], le[32];
    snprintf(bucket, sizeof bucket, "%s_bucket", name);
    uint64_t cumulative = 0;
    for (size_t i = 0; i <= h->n && rc == STELE_OK; i++) {
        cumulative += atomic_load_explicit(&h->in[i], memory_order_relaxed);
        if (i < h->n)
            snprintf(le, sizeof le, "%g", h->bounds[i]);
        else
            snprintf(le, sizeof le, "+Inf");
        rc = ops_sample(out, bucket, "le", le, (double)cumulative);
    }
    if (rc == STELE_OK)
        rc = buf_printf(out, "%s_sum %.6f\n%s_count %llu\n", name,
                        (double)atomic_load_explicit(&h->sum_us, memory_order_relaxed) / 1e6, name,
                        (unsigned long long)cumulative);
    return rc;
}

/* The line at `p` (up to `end`) without its CRLF or LF: its length, or SIZE_MAX when no line
 * end is there yet. *next gets the start of the following line. */
static size_t line_at(const uint8_t *p, const uint8_t *end, const uint8_t **next)
{
    const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
    if (!nl)
        return SIZE_MAX;
    *next = nl + 1;
    return (size_t)(nl - p) - (nl > p && nl[-1] == '\r');
}

/* The request line "METHOD SP target SP HTTP/1.x" (n octets at l) into *out. */
static int request_line(const uint8_t *l, size_t n, struct ops_request *out)
{
    const uint8_t *end = l + n, *sp1 = memchr(l, ' ', n);
    if (!sp1 || sp1 == l)
        return STELE_ERR_MALFORMED;
    for (const uint8_t *c = l; c < sp1; c++) /* a token of visible ASCII */
        if (*c <= 0x20 || *c >= 0x7f)
            return STELE_ERR_MALFORMED;
    size_t ml = (size_t)(sp1 - l);
    out->method = ml == 3 && memcmp(l, "GET", 3) == 0    ? OPS_GET
                  : ml == 4 && memcmp(l, "HEAD", 4) == 0 ? OPS_HEAD
                                                         : OPS_OTHER_METHOD;
    const uint8_t *t = sp1 + 1, *sp2 = memchr(t, ' ', (size_t)(end - t));
    if (!sp2 || sp2 == t || *t != '/')
        return STELE_ERR_MALFORMED;
    size_t vl = (size_t)(end - sp2 - 1);
    if (vl != 8 || memcmp(sp2 + 1, "HTTP/1.", 7) != 0 || (sp2[8] != '0' && sp2[8] != '1'))
        return STELE_ERR_MALFORMED;
    size_t pl = 0;
    while (t + pl < sp2 && t[pl] != '?' && t[pl] != '#')
        pl++;
    for (size_t i = 0; i < (size_t)(sp2 - t); i++)
        if (t[i] <= 0x20 || t[i] >= 0x7f)
            return STELE_ERR_MALFORMED;
    if (pl >= sizeof out->path)
        return STELE_ERR_TOO_BIG;
    memcpy(out->path, t, pl);
    out->path[pl] = 0;
    return STELE_OK;
}

int ops_parse_request(const uint8_t *data, size_t len, struct ops_request *out)
{
    memset(out, 0, sizeof *out);
    if (!data || len == 0)
        return STELE_OK; /* nothing yet */
    const uint8_t *end = data + (len < OPS_MAX_REQUEST ? len : OPS_MAX_REQUEST), *p = data, *next;
    size_t n = line_at(p, end, &next);
    if (n == SIZE_MAX) { /* no request line yet: it may still become one */
        for (const uint8_t *c = data; c < end; c++)
            if (*c != ' ' && *c != '\r' && (*c < 0x21 || *c > 0x7e))
                return STELE_ERR_MALFORMED;
        return len >= OPS_MAX_REQUEST ? STELE_ERR_LIMIT : STELE_OK;
    }
    int rc = request_line(p, n, out);
    if (rc)
        return rc;
    /* header lines, until an empty one; their content is not used, but they must be lines of
     * text without NUL */
    for (p = next; (n = line_at(p, end, &next)) != SIZE_MAX; p = next) {
        if (memchr(p, 0, n))
            return STELE_ERR_MALFORMED;
        if (n == 0) {
            out->complete = true;
            return STELE_OK;
        }
    }
    return len >= OPS_MAX_REQUEST ? STELE_ERR_LIMIT : STELE_OK;
}
