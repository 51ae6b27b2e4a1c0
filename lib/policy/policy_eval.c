/* policy_eval.c — policy_evaluate() (policy.h): a backtracking search over the operands of each
 * operator, with a maximum matching of the chosen principals to distinct signers. */
#include "policy/policy.h"
#include "policy/policy_int.h"

#include "base/status.h"

#include <string.h>

#define MAX_UNDO (POLICY_MAX_PRINCIPALS * POLICY_MAX_SIGNERS) /* matching changes on one path */
#define NO_LEAF  (-1)                                         /* a signer not counted yet */

/* The state of one evaluation. The matching maps each signer to the principal it is counted
 * for; every change to it is logged so that backtracking can undo it. */
struct search {
    const struct policy *p;                     /* the policy */
    uint64_t signers_of[POLICY_MAX_PRINCIPALS]; /* per principal, the signers it names (bits) */
    bool possible[POLICY_MAX_NODES];            /* satisfiable if signers could count twice */
    uint8_t possible_from[POLICY_MAX_NODES];    /* possible operands from this one to the last */
    unsigned n_signers;                         /* signers some principal names */
    unsigned matched;                           /* signers counted for a principal */
    int8_t leaf_of[POLICY_MAX_SIGNERS]; /* principal each signer is counted for, or NO_LEAF */
    uint8_t undo_signer[MAX_UNDO];      /* changes to leaf_of, newest last */
    int8_t undo_old[MAX_UNDO];          /* the value each change overwrote */
    unsigned n_undo;                    /* changes logged */
    unsigned long steps;                /* steps taken; POLICY_MAX_STEPS ends the search */
};

/* What remains to be satisfied: `need` more operands of operator `node`, chosen from `cursor`
 * on (for a principal, just itself), then everything in `next`. */
struct goal {
    int16_t node;            /* an operator or a principal */
    uint16_t need;           /* operator: operands still to satisfy */
    int16_t cursor;          /* operator: the next operand to decide on, or NO_NODE */
    const struct goal *next; /* what comes after, or NULL */
};

static bool spent(struct search *s)
{
    return ++s->steps > POLICY_MAX_STEPS;
}

/* Kuhn's augmenting path: finds a signer for principal `leaf` among those not `*visited`,
 * moving principals already matched to other signers if need be. */
static bool augment(struct search *s, uint16_t leaf, uint64_t *visited)
{
    if (spent(s))
        return false;
    for (uint64_t cand = s->signers_of[leaf] & ~*visited; cand; cand &= cand - 1) {
        int sg = __builtin_ctzll(cand);
        *visited |= 1ull << sg;
        if (s->leaf_of[sg] == NO_LEAF || augment(s, (uint16_t)s->leaf_of[sg], visited)) {
            s->undo_signer[s->n_undo] = (uint8_t)sg;
            s->undo_old[s->n_undo++] = s->leaf_of[sg];
            s->leaf_of[sg] = (int8_t)leaf;
            return true;
        }
    }
    return false;
}

static void undo_to(struct search *s, unsigned mark)
{
    while (s->n_undo > mark) {
        s->n_undo--;
        s->leaf_of[s->undo_signer[s->n_undo]] = s->undo_old[s->n_undo];
    }
}

/* True when the signers not yet counted are too few for the principals `g` needs at the
 * least. */
static bool too_few(const struct search *s, const struct goal *g)
{
    unsigned least = 0;
    for (; g; g = g->next) {
        const struct node *nd = &s->p->nodes[g->node];
        least += nd->kind == NODE_PRINCIPAL ? 1u : (unsigned)g->need * nd->min_child;
    }
    return least > s->n_signers - s->matched;
}

/* True when every goal of `g` can be satisfied together with the principals already matched.
 * Each call matches a principal or decides one operand of an operator (take it, or skip it
 * with the same principals right after it), so the recursion is a few hundred calls deep at
 * most (every node is decided once on a path, every principal matched once); the branching
 * is bounded by POLICY_MAX_STEPS. */
static bool solve(struct search *s, const struct goal *g)
{
    if (spent(s))
        return false;
    if (!g)
        return true;
    if (too_few(s, g))
        return false;
    const struct node *nodes = s->p->nodes, *nd = &nodes[g->node];
    if (nd->kind == NODE_PRINCIPAL) {
        unsigned mark = s->n_undo;
        uint64_t visited = 0;
        if (!augment(s, nd->leaf, &visited))
            return false;
        s->matched++;
        if (solve(s, g->next))
            return true;
        s->matched--;
        undo_to(s, mark);
        return false;
    }
    if (g->need == 0)
        return solve(s, g->next);
    if (g->cursor == NO_NODE || s->possible_from[g->cursor] < g->need)
        return false;
    int16_t c = g->cursor;
    if (s->possible[c]) {
        struct goal rest = {g->node, (uint16_t)(g->need - 1), nodes[c].next, g->next};
        struct goal take = {c, nodes[c].k, nodes[c].first, &rest};
        if (solve(s, &take))
            return true;
    }
    /* Taking a later copy of the same principal instead would be the same choice. */
    while (nodes[c].same_next)
        c = nodes[c].next;
    struct goal skip = {g->node, g->need, nodes[c].next, g->next};
    return solve(s, &skip);
}

static bool same_id(const struct policy_signer *a, const struct policy_signer *b)
{
    return a->id && b->id && a->id_len == b->id_len && !memcmp(a->id, b->id, a->id_len);
}

/* The principals signer `sg` could be counted for, as bits. */
static uint64_t principals_of(const struct policy *p, const struct policy_signer *sg)
{
    uint64_t m = 0;
    if (!sg->org || !sg->role)
        return 0;
    for (uint16_t i = 0; i < p->n_nodes; i++) {
        const struct node *nd = &p->nodes[i];
        if (nd->kind == NODE_PRINCIPAL && !strcmp(p->names + nd->org, sg->org) &&
            (nd->member || !strcmp(p->names + nd->role, sg->role)))
            m |= 1ull << nd->leaf;
    }
    return m;
}

int policy_evaluate(const struct policy *p, const struct policy_signer *signers, size_t n)
{
    struct search s;
    const struct policy_signer *kept[POLICY_MAX_SIGNERS];
    size_t n_kept = 0;

    if (!p || (!signers && n > 0))
        return STELE_ERR_INVALID;
    memset(&s, 0, sizeof s);
    s.p = p;
    for (size_t i = 0; i < n; i++) {
        uint64_t m = principals_of(p, &signers[i]);
        bool dup = false;
        for (size_t j = 0; j < n_kept && !dup; j++)
            dup = same_id(kept[j], &signers[i]);
        if (!m || dup)
            continue;
        if (n_kept == POLICY_MAX_SIGNERS)
            return STELE_ERR_LIMIT;
        for (; m; m &= m - 1)
            s.signers_of[__builtin_ctzll(m)] |= 1ull << n_kept;
        kept[n_kept++] = &signers[i];
    }
    s.n_signers = (unsigned)n_kept;
    memset(s.leaf_of, NO_LEAF, sizeof s.leaf_of);
    /* Operands come after their operator and before their next sibling, so one backward pass
     * settles `possible` and `possible_from`. */
    for (int i = p->n_nodes - 1; i >= 0; i--) {
        const struct node *nd = &p->nodes[i];
        unsigned ok = 0;
        if (nd->kind == NODE_PRINCIPAL) {
            s.possible[i] = s.signers_of[nd->leaf] != 0;
        } else {
            for (int16_t c = nd->first; c != NO_NODE; c = p->nodes[c].next)
                ok += s.possible[c];
            s.possible[i] = ok >= nd->k;
        }
        s.possible_from[i] =
            (uint8_t)(s.possible[i] + (nd->next == NO_NODE ? 0 : s.possible_from[nd->next]));
    }
    if (!s.possible[0])
        return STELE_ERR_PERMISSION;
    struct goal root = {0, p->nodes[0].k, p->nodes[0].first, NULL};
    if (solve(&s, &root))
        return STELE_OK;
    return s.steps > POLICY_MAX_STEPS ? STELE_ERR_LIMIT : STELE_ERR_PERMISSION;
}

bool policy_satisfied(const struct policy *p, const struct policy_signer *signers, size_t n)
{
    return policy_evaluate(p, signers, n) == STELE_OK;
}
