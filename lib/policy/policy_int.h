/*
 * policy_int.h — the parsed form of a policy, shared by the parser (policy.c) and the evaluator
 * (policy_eval.c); not part of the public API.
 */
#ifndef STELE_POLICY_POLICY_INT_H
#define STELE_POLICY_POLICY_INT_H

#include "policy/policy.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define POLICY_MAX_NODES (POLICY_MAX_PRINCIPALS + POLICY_MAX_OPERATORS) /* nodes of a tree */
#define NO_NODE          (-1)                                           /* no node */

enum node_kind { NODE_PRINCIPAL, NODE_AND, NODE_OR, NODE_OUTOF };

/* One node of the tree. Nodes are stored in preorder, so a node's operands come after it. */
struct node {
    uint8_t kind;       /* enum node_kind */
    bool member;        /* principal: the role is `member`, matching every role */
    bool same_next;     /* principal: the next operand is the same principal */
    uint16_t k;         /* operator: operands that must be satisfied (AND: n, OR: 1) */
    uint16_t n;         /* operator: operands */
    int16_t first;      /* operator: index of the first operand */
    int16_t next;       /* index of the next operand of the parent, or NO_NODE */
    uint16_t leaf;      /* principal: its number, 0..n_principals-1 */
    uint16_t org;       /* principal: offset of the organisation name in names */
    uint16_t role;      /* principal: offset of the role name in names */
    uint16_t least;     /* principals (so signers) it needs at the least: 1, or k * min_child */
    uint16_t min_child; /* operator: the smallest `least` among its operands */
};

/* A parsed policy: immutable once policy_parse() has returned it. */
struct policy {
    uint16_t n_nodes;                    /* nodes used; nodes[0] is the root */
    uint16_t n_principals;               /* principal nodes */
    struct node nodes[POLICY_MAX_NODES]; /* the tree */
    size_t names_len;                    /* octets used in names */
    char names[];                        /* NUL-terminated organisation and role names */
};

#endif
