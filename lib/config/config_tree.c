/* config_tree.c — libyaml events into a small node tree, refusing what a config never needs.
 *
 * The event API (not yaml_parser_load) is used so that anchors, aliases and tags are refused as
 * they appear, and so depth and node count are capped while parsing rather than after. */
#include "config/config_int.h"

#include "base/arena.h"
#include "base/status.h"

#include <yaml.h>

/* Parser state between events. */
struct builder {
    struct config_node *stack[CONFIG_MAX_DEPTH]; /* open maps and lists, innermost last */
    int depth;                                   /* entries in `stack` */
    struct config_node *root;                    /* the document's top node */
    int documents;                               /* documents started so far */
    bool done;                                   /* the stream ended */
};

/* Turns libyaml's error into our message: reader errors (bad encoding) carry a byte offset,
 * scanner and parser errors a mark. */
static int syntax_error(struct config_loader *ld, const yaml_parser_t *p)
{
    if (p->error == YAML_MEMORY_ERROR)
        return config_fail(ld, STELE_ERR_NOMEM, 0, 0, "out of memory");
    const char *problem = p->problem ? p->problem : "unknown error";
    if (p->error == YAML_READER_ERROR) {
        unsigned line = 1, col = 1;
        for (size_t i = 0; i < p->problem_offset && i < ld->len; i++) {
            if (ld->buf[i] == '\n') {
                line++;
                col = 1;
            } else {
                col++;
            }
        }
        return config_fail(ld, STELE_ERR_CONFIG, line, col, "invalid character encoding: %s",
                           problem);
    }
    unsigned line = (unsigned)p->problem_mark.line + 1, col = (unsigned)p->problem_mark.column + 1;
    if (p->context)
        return config_fail(ld, STELE_ERR_CONFIG, line, col,
                           "YAML syntax error: %s (%s started at line %u)", problem, p->context,
                           (unsigned)p->context_mark.line + 1);
    return config_fail(ld, STELE_ERR_CONFIG, line, col, "YAML syntax error: %s", problem);
}

/* Refuses anchors and tags on a node: anchors lead to aliases (and exponential expansion),
 * tags to types a config does not have. */
static int check_plain_node(struct config_loader *ld, const yaml_event_t *ev,
                            const yaml_char_t *anchor, const yaml_char_t *tag)
{
    unsigned line = (unsigned)ev->start_mark.line + 1, col = (unsigned)ev->start_mark.column + 1;
    if (anchor)
        return config_fail(ld, STELE_ERR_CONFIG, line, col,
                           "anchors and aliases are not allowed (&%s)", (const char *)anchor);
    if (tag)
        return config_fail(ld, STELE_ERR_CONFIG, line, col, "tags are not allowed (%s)",
                           (const char *)tag);
    return STELE_OK;
}

/* Creates a node at the event's position and hangs it under the innermost open container. */
static int add_node(struct config_loader *ld, struct builder *b, const yaml_event_t *ev,
                    enum config_node_kind kind, struct config_node **out)
{
    unsigned line = (unsigned)ev->start_mark.line + 1, col = (unsigned)ev->start_mark.column + 1;
    if (++ld->nodes > CONFIG_MAX_NODES)
        return config_fail(ld, STELE_ERR_CONFIG, line, col, "more than %d YAML nodes",
                           CONFIG_MAX_NODES);
    struct config_node *n = arena_calloc(ld->tmp, 1, sizeof *n);
    if (!n)
        return config_fail(ld, STELE_ERR_NOMEM, 0, 0, "out of memory");
    n->kind = kind;
    n->line = line;
    n->col = col;
    if (b->depth == 0) {
        b->root = n;
    } else {
        struct config_node *parent = b->stack[b->depth - 1];
        if (parent->last)
            parent->last->next = n;
        else
            parent->child = n;
        parent->last = n;
        parent->n++;
    }
    *out = n;
    return STELE_OK;
}

/* Opens a map or a list: one more level of nesting. */
static int open_container(struct config_loader *ld, struct builder *b, const yaml_event_t *ev,
                          enum config_node_kind kind)
{
    struct config_node *n;
    if (b->depth == CONFIG_MAX_DEPTH)
        return config_fail(ld, STELE_ERR_CONFIG, (unsigned)ev->start_mark.line + 1,
                           (unsigned)ev->start_mark.column + 1, "nesting deeper than %d levels",
                           CONFIG_MAX_DEPTH);
    int rc = add_node(ld, b, ev, kind, &n);
    if (rc == STELE_OK)
        b->stack[b->depth++] = n;
    return rc;
}

static int add_scalar(struct config_loader *ld, struct builder *b, const yaml_event_t *ev)
{
    struct config_node *n;
    int rc = add_node(ld, b, ev, CONFIG_NODE_SCALAR, &n);
    if (rc != STELE_OK)
        return rc;
    n->len = ev->data.scalar.length;
    n->text = arena_strndup(ld->tmp, (const char *)ev->data.scalar.value, n->len);
    if (!n->text)
        return config_fail(ld, STELE_ERR_NOMEM, 0, 0, "out of memory");
    n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
    return STELE_OK;
}

static int handle_event(struct config_loader *ld, struct builder *b, const yaml_event_t *ev)
{
    int rc;
    switch (ev->type) {
    case YAML_DOCUMENT_START_EVENT:
        if (++b->documents > 1)
            return config_fail(ld, STELE_ERR_CONFIG, (unsigned)ev->start_mark.line + 1,
                               (unsigned)ev->start_mark.column + 1,
                               "only one YAML document is allowed");
        return STELE_OK;
    case YAML_ALIAS_EVENT:
        return config_fail(ld, STELE_ERR_CONFIG, (unsigned)ev->start_mark.line + 1,
                           (unsigned)ev->start_mark.column + 1,
                           "anchors and aliases are not allowed (*%s)",
                           (const char *)ev->data.alias.anchor);
    case YAML_SCALAR_EVENT:
        rc = check_plain_node(ld, ev, ev->data.scalar.anchor, ev->data.scalar.tag);
        return rc != STELE_OK ? rc : add_scalar(ld, b, ev);
    case YAML_SEQUENCE_START_EVENT:
        rc = check_plain_node(ld, ev, ev->data.sequence_start.anchor, ev->data.sequence_start.tag);
        return rc != STELE_OK ? rc : open_container(ld, b, ev, CONFIG_NODE_LIST);
    case YAML_MAPPING_START_EVENT:
        rc = check_plain_node(ld, ev, ev->data.mapping_start.anchor, ev->data.mapping_start.tag);
        return rc != STELE_OK ? rc : open_container(ld, b, ev, CONFIG_NODE_MAP);
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
        if (b->depth > 0)
            b->depth--;
        return STELE_OK;
    case YAML_STREAM_END_EVENT:
        b->done = true;
        return STELE_OK;
    default:
        return STELE_OK;
    }
}

int config_tree_build(struct config_loader *ld, struct config_node **root)
{
    yaml_parser_t parser;
    yaml_event_t ev;
    struct builder b = {.depth = 0};
    int rc = STELE_OK;

    *root = NULL;
    if (!yaml_parser_initialize(&parser))
        return config_fail(ld, STELE_ERR_NOMEM, 0, 0, "out of memory");
    yaml_parser_set_input_string(&parser, (const unsigned char *)(ld->len ? ld->buf : ""), ld->len);
    while (!b.done) {
        if (!yaml_parser_parse(&parser, &ev)) {
            rc = syntax_error(ld, &parser);
            goto out;
        }
        rc = handle_event(ld, &b, &ev);
        yaml_event_delete(&ev);
        if (rc != STELE_OK)
            goto out;
    }
    *root = b.root;
out:
    yaml_parser_delete(&parser);
    return rc;
}
