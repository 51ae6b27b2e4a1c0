/*
 * policy.h — endorsement policies: which organisations' members must sign before a transaction
 * of a chaincode is valid (DESIGN §6). A policy is text in a chaincode definition on the
 * ledger; policy_parse() turns it into an immutable tree.
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
 * Canonical text: policy_format() writes keywords as AND, OR and OutOf, no spaces, and quotes
 * only principals whose organisation needs it. It is never longer than the text that was
 * parsed, so the canonical text of any accepted policy is accepted and formats to itself.
 *
 * A parsed policy is immutable: any number of threads may use it at once.
 */
#ifndef STELE_POLICY_POLICY_H
#define STELE_POLICY_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define POLICY_MAX_LEN        4096 /* octets of policy text (GENESIS_MAX_POLICY) */
#define POLICY_MAX_NAME       128  /* octets of an organisation or role name */
#define POLICY_MAX_DEPTH      16   /* operators nested inside one another */
#define POLICY_MAX_PRINCIPALS 64   /* principals in one policy */
#define POLICY_MAX_OPERATORS  64   /* AND, OR and OutOf in one policy */

/* A parsed policy (opaque, immutable). */
struct policy;

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

/* The organisations `p` names, each once, in order of first appearance: up to `max` of them go
 * to `orgs` (pointers into `p`, valid until policy_destroy()). Returns how many there are,
 * which may exceed `max`. */
size_t policy_orgs(const struct policy *p, const char **orgs, size_t max);

#endif
