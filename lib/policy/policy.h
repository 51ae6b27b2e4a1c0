/*
 * policy.h — endorsement policies: which organisations' members must sign before a transaction
 * of a chaincode is valid (DESIGN §6). A policy is text in a chaincode definition on the
 * ledger; policy_parse() turns it into an immutable tree and policy_evaluate() decides whether
 * a set of already-verified signers satisfies it.
 *
 * Grammar (whitespace — space, tab, CR, LF — is allowed between any two tokens):
 *
 *   expr      := "AND" "(" expr { "," expr } ")"       every operand
 *              | "OR" "(" expr { "," expr } ")"        at least one operand
 *              | "OutOf" "(" k "," expr { "," expr } ")"  at least k operands
 *              | principal
 *   principal := org "." role                          Org1.peer
 *              | "'" qorg "." role "'"                 'example.com.peer'
 *   k         := decimal digits, 1 <= k <= the number of operands that follow
 *
 * Keywords are case-insensitive (AND, and, OutOf, OUTOF). `org` and `role` are 1..POLICY_MAX_NAME
 * octets of letters, digits, '_' and '-' (org1, sensors-co, sensor-owner). A quoted principal
 * splits at its last '.', so its organisation may be any name the CA accepts (text_is_name():
 * no control characters, no space at either end) except one holding a quote; its role follows
 * the unquoted rule. Names are compared exactly (case-sensitive) with the signers' org and
 * role. The role `member` matches every role of its organisation; any other role matches only
 * itself, so application roles (juror, booth, sensor) need no list here.
 *
 * Limits, so that a hostile definition cannot make a reader work hard: POLICY_MAX_LEN octets
 * of text, operators nested at most POLICY_MAX_DEPTH deep, at most POLICY_MAX_PRINCIPALS
 * principals and POLICY_MAX_OPERATORS operators. Every refusal is a sentence that starts with
 * the 1-based column (in octets) where the problem is: "column 9: AND( needs at least one
 * operand".
 *
 * Counting signatures: one signer satisfies at most one principal in the whole evaluation, as
 * in Fabric — AND(Org1.peer, Org1.peer) needs two different Org1 peers, and OutOf(2,
 * Org1.member, Org1.peer) is not satisfied by one Org1 peer alone. A first-fit evaluator gets
 * this wrong (it may spend a signer on a principal another signer could have covered), so the
 * evaluator searches: it backtracks over which operands of each operator to satisfy and keeps
 * a maximum matching of the chosen principals to distinct signers (Kuhn's augmenting path per
 * principal, at most POLICY_MAX_SIGNERS steps each), so it never has to try signers in every
 * order. The search skips at once operands that could not be satisfied even if signers
 * counted twice, stops as soon as the signers left are fewer than the principals still needed
 * at the least, and tries one of several identical principals in a row, not each; ordinary
 * policies take a few dozen steps. Choosing operands is still exponential in the worst case
 * (20 of 30 operands, each an OR over organisations, when only 19 signers can serve them and
 * others make the count look sufficient), so the search counts its steps and gives up beyond
 * POLICY_MAX_STEPS — about half a millisecond — failing closed with STELE_ERR_LIMIT.
 *
 * Canonical text: policy_format() writes keywords as AND, OR and OutOf, no spaces, and quotes
 * only principals whose organisation needs it. It is never longer than the text that was
 * parsed, so the canonical text of any accepted policy is accepted and formats to itself.
 *
 * A parsed policy is immutable: any number of threads may evaluate or format it at once.
 */
#ifndef STELE_POLICY_POLICY_H
#define STELE_POLICY_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define POLICY_MAX_LEN        4096   /* octets of policy text (GENESIS_MAX_POLICY) */
#define POLICY_MAX_NAME       128    /* octets of an organisation or role name */
#define POLICY_MAX_DEPTH      16     /* operators nested inside one another */
#define POLICY_MAX_PRINCIPALS 64     /* principals in one policy */
#define POLICY_MAX_OPERATORS  64     /* AND, OR and OutOf in one policy */
#define POLICY_MAX_SIGNERS    64     /* distinct signers a principal could use, per evaluation */
#define POLICY_MAX_STEPS      100000 /* search steps of one evaluation */

/* A parsed policy (opaque, immutable). */
struct policy;

/* One signer, whose identity the caller has verified (lib/identity) along with its signature.
 * Only read; the strings need to live only for the call. */
struct policy_signer {
    const char *org;   /* its organisation (NULL: matches no principal) */
    const char *role;  /* its role (NULL: matches no principal) */
    const uint8_t *id; /* what makes it one signer, e.g. its certhash; NULL when unknown */
    size_t id_len;     /* octets at id */
};

/* Parses the `len` untrusted octets at `text` (no NUL needed; a NUL octet is refused). On
 * success *out gets the policy (free with policy_destroy()); it does not point into `text`.
 * Returns STELE_OK; STELE_ERR_INVALID with *errmsg (malloc'd, the caller frees; `errmsg` may be
 * NULL) naming the problem and its column, for any text outside the grammar or the limits; or
 * STELE_ERR_NOMEM. *out is NULL on failure. This is the fuzzed entry point. */
int policy_parse(const char *text, size_t len, struct policy **out, char **errmsg);

/* Frees a policy. Accepts NULL. */
void policy_destroy(struct policy *p);

/* Sets *out to the canonical text of `p` (see above), malloc'd and NUL-terminated; the caller
 * frees it. Returns STELE_OK or STELE_ERR_NOMEM (*out NULL). Thread-safe. */
int policy_format(const struct policy *p, char **out);

/* Decides whether the `n` signers satisfy `p`, each signer counting for at most one principal.
 * Signers that no principal names are ignored; signers with the same `id` (same length and
 * octets) count as one, the first of them that a principal names; signers without an `id` are
 * taken as distinct, so a caller that cannot give ids must remove duplicates itself. Returns
 * STELE_OK (satisfied); STELE_ERR_PERMISSION (not satisfied); STELE_ERR_LIMIT, failing closed,
 * when more than POLICY_MAX_SIGNERS distinct signers are named by a principal or the search
 * would take more than POLICY_MAX_STEPS steps; STELE_ERR_INVALID when `p` is NULL or `signers`
 * is NULL with n > 0. Allocates nothing; the search recurses, using up to about 64 KB of
 * stack (more under sanitizers). Thread-safe. */
int policy_evaluate(const struct policy *p, const struct policy_signer *signers, size_t n);

/* policy_evaluate() == STELE_OK: true only when the signers are known to satisfy `p`. */
bool policy_satisfied(const struct policy *p, const struct policy_signer *signers, size_t n);

/* How many of the candidate signers `cand`, taken in order, would with the signers `have`
 * satisfy `p`: the smallest k such that have + cand[0..k) satisfies it, or n_cand + 1 when even
 * all of them would not (also when n_have + n_cand exceeds 64). A gateway uses it to choose
 * which peers to ask at once, one candidate per organisation it could ask. */
size_t policy_prefix_needed(const struct policy *p, const struct policy_signer *have, size_t n_have,
                            const struct policy_signer *cand, size_t n_cand);

/* The organisations `p` names, each once, in order of first appearance: up to `max` of them go
 * to `orgs` (pointers into `p`, valid until policy_destroy()). Returns how many there are,
 * which may exceed `max`. */
size_t policy_orgs(const struct policy *p, const char **orgs, size_t max);

#endif
