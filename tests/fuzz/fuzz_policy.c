/*
 * fuzz_policy.c — arbitrary bytes as an endorsement policy (policy_parse(), what a peer does
 * with the policy of a chaincode definition on the ledger). A refusal must say where; an
 * accepted policy must format to canonical text no longer than the input that parses back to
 * the same text, and its evaluation against a few fixed signers must agree with a brute-force
 * reference: signers counted once each, over every set of signers that could satisfy each
 * operand.
 */
#include "base/status.h"
#include "policy/policy.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define N_SIGNERS 6 /* distinct signers; families of signer sets are 64-bit masks */

static const uint8_t ids[N_SIGNERS + 1] = {0, 1, 2, 3, 4, 5, 0};
/* The last one repeats the first one's id: it must not count again. */
static const struct policy_signer signers[N_SIGNERS + 1] = {
    {"Org1", "peer", &ids[0], 1},   {"Org1", "peer", &ids[1], 1},
    {"Org1", "admin", &ids[2], 1},  {"Org2", "peer", &ids[3], 1},
    {"Org2", "member", &ids[4], 1}, {"example.com", "peer", &ids[5], 1},
    {"Org2", "admin", &ids[6], 1},
};

/* ---- the reference: for each expression, the family of signer sets that satisfy it with
 * each signer counted once (bit i of a family is the set whose members are the bits of i). */
typedef uint64_t family;

/* The sets made of one set from `a` and a disjoint one from `b`. */
static family combine(family a, family b)
{
    family out = 0;
    for (unsigned x = 0; x < 64; x++)
        if (a >> x & 1)
            for (unsigned y = 0; y < 64; y++)
                if ((b >> y & 1) && !(x & y))
                    out |= 1ull << (x | y);
    return out;
}

/* The family of the canonical expression at *s (which it moves past). */
static family ref_expr(const char **s)
{
    const char *t = *s;
    size_t k = 0, kw = 0;
    if (!strncmp(t, "AND(", 4) || !strncmp(t, "OR(", 3) || !strncmp(t, "OutOf(", 6)) {
        kw = t[1] == 'N' ? 4 : t[1] == 'R' ? 3 : 6;
        t += kw;
        while (kw == 6 && *t != ',')
            k = k * 10 + (size_t)(*t++ - '0');
        t += kw == 6;
        family f[N_SIGNERS + 1] = {1}; /* f[c]: c operands satisfied; f[0] = {{}} */
        size_t n = 0;
        for (;; n++) {
            family c = ref_expr(&t);
            for (size_t j = N_SIGNERS; j >= 1; j--)
                f[j] |= combine(f[j - 1], c);
            if (*t++ == ')')
                break;
        }
        *s = t;
        k = kw == 4 ? n + 1 : kw == 3 ? 1 : k;
        return k <= N_SIGNERS ? f[k] : 0;
    }
    char org[256], role[256];
    const char *end;
    if (*t == '\'') {
        end = strchr(t + 1, '\'');
        const char *dot = end;
        while (*dot != '.')
            dot--;
        memcpy(org, t + 1, (size_t)(dot - t - 1));
        org[dot - t - 1] = 0;
        memcpy(role, dot + 1, (size_t)(end - dot - 1));
        role[end - dot - 1] = 0;
        end++;
    } else {
        const char *dot = strchr(t, '.');
        end = dot + 1 + strcspn(dot + 1, ",)");
        memcpy(org, t, (size_t)(dot - t));
        org[dot - t] = 0;
        memcpy(role, dot + 1, (size_t)(end - dot - 1));
        role[end - dot - 1] = 0;
    }
    *s = end;
    family f = 0;
    for (unsigned i = 0; i < N_SIGNERS; i++)
        if (!strcmp(signers[i].org, org) &&
            (!strcmp(role, "member") || !strcmp(signers[i].role, role)))
            f |= 1ull << (1u << i);
    return f;
}

static void accepted(const struct policy *p, const char *canonical, size_t input_len)
{
    struct policy *again = NULL;
    char *err = NULL, *text2 = NULL;
    if (strlen(canonical) > input_len ||
        policy_parse(canonical, strlen(canonical), &again, &err) != STELE_OK ||
        policy_format(again, &text2) != STELE_OK || strcmp(text2, canonical) != 0)
        abort();
    const char *orgs[1];
    if (policy_orgs(p, orgs, 1) == 0)
        abort();

    /* Signer prefixes: a signer more never hurts, and a re-parsed policy answers the same.
     * The six distinct signers must get the reference's answer (the seventh may count when
     * no principal names the first, whose id it shares). */
    int prev = STELE_ERR_PERMISSION, distinct = 0;
    for (size_t n = 0; n <= N_SIGNERS + 1; n++) {
        int rc = policy_evaluate(p, signers, n);
        if (rc != policy_evaluate(again, signers, n))
            abort();
        if (rc != STELE_OK && rc != STELE_ERR_PERMISSION && rc != STELE_ERR_LIMIT)
            abort();
        if (prev == STELE_OK && rc == STELE_ERR_PERMISSION)
            abort();
        prev = rc;
        if (n == N_SIGNERS)
            distinct = rc;
    }
    const char *t = canonical;
    bool want = ref_expr(&t) != 0;
    if (*t || (distinct != STELE_ERR_LIMIT && (distinct == STELE_OK) != want))
        abort();
    free(err);
    free(text2);
    policy_destroy(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct policy *p = NULL;
    char *err = NULL, *text = NULL;
    int rc = policy_parse((const char *)data, size, &p, &err);
    if (rc == STELE_OK) {
        if (err || policy_format(p, &text) != STELE_OK)
            abort();
        accepted(p, text, size);
    } else if (rc != STELE_ERR_INVALID || p || !err || strncmp(err, "column ", 7) != 0) {
        abort();
    }
    free(text);
    free(err);
    policy_destroy(p);
    return 0;
}
