/* policy.c — endorsement policies (policy.h): a recursive-descent parser into a flat tree and
 * the canonical printer. The evaluator is in policy_eval.c. */
#include "policy/policy.h"
#include "policy/policy_int.h"

#include "base/buf.h"
#include "base/status.h"
#include "base/text.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define QUOTED_MAX 40 /* octets of untrusted text shown in a message */

/* ---- parsing ---------------------------------------------------------------------------- */

struct parser {
    const char *s;    /* the text */
    size_t len;       /* its length */
    size_t pos;       /* next octet to read */
    unsigned depth;   /* operators open around pos */
    unsigned n_ops;   /* operators so far */
    struct policy *p; /* the policy being built */
    char **errmsg;    /* where refusals go */
};

static bool is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* A printable rendering of `n` untrusted octets, for messages. */
struct shown {
    char s[QUOTED_MAX * 4 + 8];
};

static const char *show(struct shown *q, const char *s, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n && i < QUOTED_MAX; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c >= 0x7f || c == '\\')
            o += (size_t)snprintf(q->s + o, 5, "\\x%02x", c);
        else
            q->s[o++] = (char)c;
    }
    if (n > QUOTED_MAX)
        o += (size_t)snprintf(q->s + o, 4, "...");
    q->s[o] = 0;
    return q->s;
}

/* What is at the read position, for "found ..." in messages. */
static const char *found(const struct parser *ps, struct shown *q)
{
    if (ps->pos >= ps->len)
        return "the end of the text";
    unsigned char c = (unsigned char)ps->s[ps->pos];
    if (c < 0x20 || c >= 0x7f)
        snprintf(q->s, sizeof q->s, "octet 0x%02x", c);
    else
        snprintf(q->s, sizeof q->s, "'%c'", c);
    return q->s;
}

/* Refuses the text with a message about the octet at offset `at`. */
__attribute__((format(printf, 3, 4))) static int refuse(struct parser *ps, size_t at,
                                                        const char *fmt, ...)
{
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return stele_errf(ps->errmsg, STELE_ERR_INVALID, "column %zu: %s", at + 1, what);
}

static void skip_space(struct parser *ps)
{
    while (ps->pos < ps->len && is_space(ps->s[ps->pos]))
        ps->pos++;
}

/* Reads a run of name characters; returns its length (0 if none). */
static size_t read_word(struct parser *ps)
{
    size_t start = ps->pos;
    while (ps->pos < ps->len && is_name_char(ps->s[ps->pos]))
        ps->pos++;
    return ps->pos - start;
}

/* Copies `n` octets into the policy's names and returns their offset. */
static uint16_t add_name(struct policy *p, const char *s, size_t n)
{
    size_t off = p->names_len;
    memcpy(p->names + off, s, n);
    p->names[off + n] = 0;
    p->names_len += n + 1;
    return (uint16_t)off;
}

/* Takes the next free node, or refuses at `at` when the limit of its kind is reached. */
static int new_node(struct parser *ps, size_t at, enum node_kind kind, int16_t *out)
{
    struct policy *p = ps->p;
    if (kind == NODE_PRINCIPAL && p->n_principals == POLICY_MAX_PRINCIPALS)
        return refuse(ps, at, "more than %d principals", POLICY_MAX_PRINCIPALS);
    if (kind != NODE_PRINCIPAL && ps->n_ops == POLICY_MAX_OPERATORS)
        return refuse(ps, at, "more than %d operators", POLICY_MAX_OPERATORS);
    *out = (int16_t)p->n_nodes;
    struct node *nd = &p->nodes[p->n_nodes++];
    memset(nd, 0, sizeof *nd);
    nd->kind = (uint8_t)kind;
    nd->first = nd->next = NO_NODE;
    nd->least = kind == NODE_PRINCIPAL; /* an operator's is set when its operands are known */
    if (kind == NODE_PRINCIPAL)
        nd->leaf = p->n_principals++;
    else
        ps->n_ops++;
    return STELE_OK;
}

/* Adds principal org.role; `at` is where it starts, `role_at` where its role starts. */
static int add_principal(struct parser *ps, size_t at, const char *org, size_t org_len,
                         size_t role_at, const char *role, size_t role_len, int16_t *out)
{
    struct shown q;
    if (org_len > POLICY_MAX_NAME)
        return refuse(ps, at, "organisation name %s is longer than %d octets",
                      show(&q, org, org_len), POLICY_MAX_NAME);
    if (role_len == 0)
        return refuse(ps, role_at, "expected a role after '%s.'", show(&q, org, org_len));
    if (role_len > POLICY_MAX_NAME)
        return refuse(ps, role_at, "role %s is longer than %d octets", show(&q, role, role_len),
                      POLICY_MAX_NAME);
    for (size_t i = 0; i < role_len; i++)
        if (!is_name_char(role[i]))
            return refuse(ps, role_at + i, "role '%s' may hold only letters, digits, _ and -",
                          show(&q, role, role_len));
    int rc = new_node(ps, at, NODE_PRINCIPAL, out);
    if (rc)
        return rc;
    struct node *nd = &ps->p->nodes[*out];
    nd->org = add_name(ps->p, org, org_len);
    if (!text_is_name(ps->p->names + nd->org, POLICY_MAX_NAME) || memchr(org, 0, org_len))
        return refuse(ps, at,
                      "organisation name '%s' has a control character or a space at either end",
                      show(&q, org, org_len));
    nd->role = add_name(ps->p, role, role_len);
    nd->member = !strcmp(ps->p->names + nd->role, "member");
    return STELE_OK;
}

/* 'org.role', with the read position on the opening quote. */
static int parse_quoted(struct parser *ps, int16_t *out)
{
    struct shown q;
    size_t open = ps->pos++;
    const char *body = ps->s + ps->pos;
    const char *close = memchr(body, '\'', ps->len - ps->pos);
    if (!close)
        return refuse(ps, open, "the quote opened here is not closed");
    size_t n = (size_t)(close - body);
    ps->pos += n + 1;
    const char *dot = NULL;
    for (size_t i = 0; i < n; i++)
        if (body[i] == '.')
            dot = body + i;
    if (!dot || dot == body)
        return refuse(ps, open, "'%s' is not a principal (Org.role)", show(&q, body, n));
    size_t org_len = (size_t)(dot - body);
    return add_principal(ps, open + 1, body, org_len, open + 2 + org_len, dot + 1, n - org_len - 1,
                         out);
}

static int parse_expr(struct parser *ps, int16_t *out);

/* Makes `b` the operand after `a`, noting when both are the same principal. */
static void set_next(struct policy *p, int16_t a, int16_t b)
{
    struct node *x = &p->nodes[a], *y = &p->nodes[b];
    x->next = b;
    x->same_next = x->kind == NODE_PRINCIPAL && y->kind == NODE_PRINCIPAL &&
                   !strcmp(p->names + x->org, p->names + y->org) &&
                   !strcmp(p->names + x->role, p->names + y->role);
}

/* The operands of an operator whose name starts at `at`, with the read position after its
 * '('. */
static int parse_operands(struct parser *ps, size_t at, const char *name, int16_t self)
{
    struct shown q;
    struct node *nd = &ps->p->nodes[self];
    size_t k_at = 0, k_len = 0;
    unsigned long k = 0;
    int16_t last = NO_NODE, child;
    int rc;

    skip_space(ps);
    if (nd->kind == NODE_OUTOF) {
        k_at = ps->pos;
        while (ps->pos < ps->len && ps->s[ps->pos] >= '0' && ps->s[ps->pos] <= '9') {
            if (k <= POLICY_MAX_NODES)
                k = k * 10 + (unsigned long)(ps->s[ps->pos] - '0');
            ps->pos++;
        }
        k_len = ps->pos - k_at;
        if (k_len == 0)
            return refuse(ps, k_at, "expected the number k after OutOf(, found %s", found(ps, &q));
        skip_space(ps);
        if (ps->pos >= ps->len || ps->s[ps->pos] != ',')
            return refuse(ps, ps->pos, "expected ',' after k of OutOf(, found %s", found(ps, &q));
        ps->pos++;
    } else if (ps->pos < ps->len && ps->s[ps->pos] == ')') {
        return refuse(ps, at, "%s( needs at least one operand", name);
    }
    for (;;) {
        if ((rc = parse_expr(ps, &child)))
            return rc;
        nd = &ps->p->nodes[self];
        if (last == NO_NODE)
            nd->first = child;
        else
            set_next(ps->p, last, child);
        last = child;
        nd->n++;
        skip_space(ps);
        if (ps->pos < ps->len && ps->s[ps->pos] == ',') {
            ps->pos++;
            continue;
        }
        if (ps->pos < ps->len && ps->s[ps->pos] == ')')
            break;
        return refuse(ps, ps->pos, "expected ',' or ')' in %s( opened at column %zu, found %s",
                      name, at + 1, found(ps, &q));
    }
    ps->pos++;
    if (nd->kind == NODE_OUTOF && (k == 0 || k > nd->n))
        return refuse(ps, k_at, "k must be 1..%u, the number of operands of OutOf(; it is %s",
                      nd->n, show(&q, ps->s + k_at, k_len));
    nd->k = nd->kind == NODE_AND ? nd->n : nd->kind == NODE_OR ? 1 : (uint16_t)k;
    nd->min_child = UINT16_MAX;
    for (int16_t c = nd->first; c != NO_NODE; c = ps->p->nodes[c].next)
        if (ps->p->nodes[c].least < nd->min_child)
            nd->min_child = ps->p->nodes[c].least;
    nd->least = (uint16_t)(nd->k * nd->min_child);
    return STELE_OK;
}

/* An operator whose name is the `n` octets at `at`, with the read position on its '('. */
static int parse_operator(struct parser *ps, size_t at, size_t n, int16_t *out)
{
    static const struct {
        const char *name;
        enum node_kind kind;
    } ops[] = {{"AND", NODE_AND}, {"OR", NODE_OR}, {"OutOf", NODE_OUTOF}};
    struct shown q;
    size_t i = 0;
    while (i < 3 && (strlen(ops[i].name) != n || strncasecmp(ps->s + at, ops[i].name, n)))
        i++;
    if (i == 3)
        return refuse(ps, at, "unknown operator '%s'; expected AND, OR or OutOf",
                      show(&q, ps->s + at, n));
    if (ps->depth == POLICY_MAX_DEPTH)
        return refuse(ps, at, "operators nested more than %d deep", POLICY_MAX_DEPTH);
    int rc = new_node(ps, at, ops[i].kind, out);
    if (rc)
        return rc;
    ps->pos++;
    ps->depth++;
    rc = parse_operands(ps, at, ops[i].name, *out);
    ps->depth--;
    return rc;
}

/* expr: an operator or a principal. */
static int parse_expr(struct parser *ps, int16_t *out)
{
    struct shown q;
    skip_space(ps);
    size_t at = ps->pos;
    if (at < ps->len && ps->s[at] == '\'')
        return parse_quoted(ps, out);
    size_t n = read_word(ps);
    if (n == 0)
        return refuse(ps, at, "expected a principal (Org.role) or AND, OR, OutOf, found %s",
                      found(ps, &q));
    if (ps->pos < ps->len && ps->s[ps->pos] == '.') {
        size_t role_at = ++ps->pos;
        size_t role_len = read_word(ps);
        return add_principal(ps, at, ps->s + at, n, role_at, ps->s + role_at, role_len, out);
    }
    if (n > POLICY_MAX_NAME)
        return refuse(ps, at, "name %s is longer than %d octets", show(&q, ps->s + at, n),
                      POLICY_MAX_NAME);
    char c = ps->pos < ps->len ? ps->s[ps->pos] : ' ';
    if (!is_space(c) && c != '(' && c != ',' && c != ')') {
        struct shown w;
        return refuse(ps, ps->pos, "unexpected %s after '%s'; names hold letters, digits, _ and -",
                      found(ps, &q), show(&w, ps->s + at, n));
    }
    skip_space(ps);
    if (ps->pos < ps->len && ps->s[ps->pos] == '(')
        return parse_operator(ps, at, n, out);
    return refuse(ps, at, "'%s' is neither a principal (Org.role) nor an operator",
                  show(&q, ps->s + at, n));
}

int policy_parse(const char *text, size_t len, struct policy **out, char **errmsg)
{
    struct parser ps = {.s = text, .len = len, .errmsg = errmsg};
    struct shown q;
    int16_t root;
    int rc;

    *out = NULL;
    if (errmsg)
        *errmsg = NULL;
    if (len > POLICY_MAX_LEN)
        return stele_errf(errmsg, STELE_ERR_INVALID,
                          "column %d: the policy is %zu octets long; at most %d are allowed",
                          POLICY_MAX_LEN + 1, len, POLICY_MAX_LEN);
    /* Names are copied with a NUL each: two per principal on top of the text. */
    ps.p = calloc(1, sizeof *ps.p + len + 2 * POLICY_MAX_PRINCIPALS);
    if (!ps.p)
        return STELE_ERR_NOMEM;
    skip_space(&ps);
    if (ps.pos == len) {
        rc = refuse(&ps, ps.pos, "the policy is empty");
        goto err;
    }
    if ((rc = parse_expr(&ps, &root)))
        goto err;
    skip_space(&ps);
    if (ps.pos < len) {
        rc = refuse(&ps, ps.pos, "unexpected %s after the end of the policy", found(&ps, &q));
        goto err;
    }
    *out = ps.p;
    return STELE_OK;
err:
    free(ps.p);
    return rc;
}

void policy_destroy(struct policy *p)
{
    free(p);
}

/* ---- the canonical text ----------------------------------------------------------------- */

static int format_node(const struct policy *p, int16_t i, struct buf *b)
{
    static const char *const names[] = {"", "AND(", "OR(", "OutOf("};
    const struct node *nd = &p->nodes[i];
    int rc;
    if (nd->kind == NODE_PRINCIPAL) {
        const char *org = p->names + nd->org;
        bool quote = false;
        for (const char *c = org; *c; c++)
            quote |= !is_name_char(*c);
        return buf_printf(b, quote ? "'%s.%s'" : "%s.%s", org, p->names + nd->role);
    }
    if ((rc = buf_printf(b, "%s", names[nd->kind])))
        return rc;
    if (nd->kind == NODE_OUTOF && (rc = buf_printf(b, "%u,", nd->k)))
        return rc;
    for (int16_t c = nd->first; c != NO_NODE; c = p->nodes[c].next) {
        if (c != nd->first && (rc = buf_append_byte(b, ',')))
            return rc;
        if ((rc = format_node(p, c, b)))
            return rc;
    }
    return buf_append_byte(b, ')');
}

int policy_format(const struct policy *p, char **out)
{
    struct buf b;
    buf_init(&b);
    *out = NULL;
    int rc = format_node(p, 0, &b);
    if (rc) {
        buf_release(&b);
        return rc;
    }
    *out = (char *)buf_steal(&b, NULL);
    return STELE_OK;
}

size_t policy_orgs(const struct policy *p, const char **orgs, size_t max)
{
    size_t n = 0;
    for (uint16_t i = 0; i < p->n_nodes; i++) {
        const struct node *nd = &p->nodes[i];
        if (nd->kind != NODE_PRINCIPAL)
            continue;
        const char *org = p->names + nd->org;
        bool seen = false;
        for (uint16_t j = 0; j < i && !seen; j++)
            seen = p->nodes[j].kind == NODE_PRINCIPAL && !strcmp(p->names + p->nodes[j].org, org);
        if (!seen && n++ < max)
            orgs[n - 1] = org;
    }
    return n;
}

size_t policy_prefix_needed(const struct policy *p, const struct policy_signer *have, size_t n_have,
                            const struct policy_signer *cand, size_t n_cand)
{
    struct policy_signer all[64];
    if (n_have + n_cand > sizeof all / sizeof all[0])
        return n_cand + 1;
    if (n_have)
        memcpy(all, have, n_have * sizeof *all);
    for (size_t k = 0;; k++) {
        if (policy_satisfied(p, all, n_have + k))
            return k;
        if (k == n_cand)
            return n_cand + 1;
        all[n_have + k] = cand[k];
    }
}
