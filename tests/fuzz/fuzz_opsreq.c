/*
 * fuzz_opsreq.c — arbitrary bytes as what a client sends a daemon's operations endpoint
 * (lib/ops/ops.h, ops_parse_request), fed whole and cut at every length a read could end at
 * (up to 64 cuts), as the endpoint sees them while they arrive.
 *
 * The parser must keep its promises: a status among those ops.h names; a complete request has
 * a method of the enum and a NUL-terminated path that starts with '/', holds no '?', '#', space
 * or control character; a prefix of bytes that parse as a complete request parses as not yet
 * complete or complete (never refused), since the endpoint stops reading at the first complete
 * one; and the same bytes give the same answer.
 */
#include "base/status.h"
#include "ops/ops.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void check(const uint8_t *data, size_t len, struct ops_request *r, int rc)
{
    if (rc != STELE_OK && rc != STELE_ERR_MALFORMED && rc != STELE_ERR_LIMIT &&
        rc != STELE_ERR_TOO_BIG)
        abort();
    if (rc != STELE_OK || !r->complete)
        return;
    if (r->method != OPS_GET && r->method != OPS_HEAD && r->method != OPS_OTHER_METHOD)
        abort();
    size_t n = strnlen(r->path, sizeof r->path);
    if (n == sizeof r->path || r->path[0] != '/')
        abort();
    for (size_t i = 0; i < n; i++)
        if (r->path[i] <= 0x20 || r->path[i] >= 0x7f || r->path[i] == '?' || r->path[i] == '#')
            abort();
    struct ops_request again;
    if (ops_parse_request(data, len, &again) != rc || memcmp(&again, r, sizeof again) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ops_request whole;
    int rc = ops_parse_request(data, size, &whole);
    check(data, size, &whole, rc);
    size_t step = size / 64 + 1;
    for (size_t cut = 0; cut < size; cut += step) {
        /* a copy of exactly `cut` octets, so that ASan sees any read past them */
        uint8_t *p = malloc(cut ? cut : 1);
        if (!p)
            return 0;
        memcpy(p, data, cut);
        struct ops_request r;
        int c = ops_parse_request(p, cut, &r);
        check(p, cut, &r, c);
        if (rc == STELE_OK && whole.complete && c != STELE_OK)
            abort(); /* a prefix of a complete request is not refused */
        free(p);
    }
    return 0;
}
