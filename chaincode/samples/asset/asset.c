/*
 * asset.c — the sample chaincode: assets that belong to an owner and pass between owners.
 *
 *   create ID COLOR SIZE VALUE  a new asset owned by the creator ("id@org"; refused for an
 *                               organisation holding '@'); refused when ID exists. ID is 1..64
 *                               of [A-Za-z0-9_.-]; COLOR 1..256 octets of UTF-8 without control
 *                               characters; SIZE and VALUE decimal integers
 *                               (0..999999999999999999, no leading zeros)
 *   read ID                     the asset as JSON
 *   transfer ID NEWOWNER        by the current owner only, to an owner ID@ORG (text, the last
 *                               '@' before a non-empty ORG); emits the event "transfer"
 *                               {"id":ID,"from":OLD,"to":NEWOWNER}
 *   delete ID                   by the current owner only
 *   list                        every asset, a JSON array in ID order
 *   by_owner OWNER              the assets of OWNER, a JSON array in ID order
 *   init                        does nothing and succeeds
 *
 * Statuses: 200 done; 400 bad arguments or an ID that exists; 403 not the owner; 404 no such
 * asset; 500 the state could not be read or written, or holds a damaged asset.
 *
 * State (the chaincode's own namespace):
 *   ID                             -> {"id":"..","color":"..","size":N,"owner":"..","value":N}
 *   owner~asset 0x1F OWNER 0x1F ID -> "" (a composite key: the index by owner)
 * The JSON is written and read by hand (no library): always these five fields in this order.
 *
 * Deterministic, as every chaincode must be: the result depends on the arguments, the creator
 * and the state only (no clock, no random numbers).
 */
#include <stele/chaincode.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INDEX      "owner~asset" /* composite key type: owner, id -> "" */
#define MAX_ID     64
#define MAX_TEXT   256
#define MAX_DIGITS 18

struct asset {
    char id[MAX_ID + 1];      /* its key */
    char color[MAX_TEXT + 1]; /* free text */
    uint64_t size;            /* a number */
    char owner[MAX_TEXT + 1]; /* "id@org" of its owner */
    uint64_t value;           /* a number */
};

/* ---- checking arguments ----------------------------------------------------------------- */

static bool id_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    return n > 0 && n <= MAX_ID &&
           strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == n;
}

/* 1..MAX_TEXT octets of well-formed UTF-8 (the JSON it goes into is UTF-8) without control
 * characters, C0, DEL or C1 (so no composite-key separators either). */
static bool text_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > MAX_TEXT || !stele_cc_utf8_valid(s, n))
        return false;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f || (p[0] == 0xc2 && p[1] < 0xa0)) /* C0, DEL, C1 */
            return false;
    return true;
}

/* An owner: text of the form ID@ORG, the last '@' splitting two non-empty parts (ids may hold
 * '@', organisations that can own assets may not: see creator_owner()). */
static bool owner_ok(const char *s)
{
    const char *at = text_ok(s) ? strrchr(s, '@') : NULL;
    return at && at != s && at[1];
}

/* Parses 1..MAX_DIGITS decimal digits without a leading zero (but "0"). */
static bool parse_number(const char *s, uint64_t *out)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > MAX_DIGITS || strspn(s, "0123456789") != n || (s[0] == '0' && n > 1))
        return false;
    uint64_t v = 0;
    for (; *s; s++)
        v = v * 10 + (uint64_t)(*s - '0');
    *out = v;
    return true;
}

/* ---- writing JSON ----------------------------------------------------------------------- */

/* A growing text; `failed` once memory ran out (later additions are ignored). */
struct text {
    char *p;     /* malloc'd, not NUL-terminated */
    size_t len;  /* octets used */
    size_t cap;  /* octets allocated */
    bool failed; /* memory ran out */
};

static void add(struct text *t, const char *s, size_t n)
{
    if (t->failed)
        return;
    if (t->len + n > t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 256;
        while (cap < t->len + n)
            cap *= 2;
        char *p = realloc(t->p, cap);
        if (!p) {
            t->failed = true;
            return;
        }
        t->p = p;
        t->cap = cap;
    }
    memcpy(t->p + t->len, s, n);
    t->len += n;
}

static void add_raw(struct text *t, const char *s)
{
    add(t, s, strlen(s));
}

/* A JSON string: quoted, with '"', '\' and control characters escaped. */
static void add_string(struct text *t, const char *s)
{
    add(t, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            add(t, esc, 2);
        } else if (c < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04x", c);
            add(t, esc, 6);
        } else {
            add(t, s, 1);
        }
    }
    add(t, "\"", 1);
}

static void add_number(struct text *t, uint64_t v)
{
    char digits[24];
    snprintf(digits, sizeof digits, "%llu", (unsigned long long)v);
    add_raw(t, digits);
}

static void add_asset(struct text *t, const struct asset *a)
{
    add_raw(t, "{\"id\":");
    add_string(t, a->id);
    add_raw(t, ",\"color\":");
    add_string(t, a->color);
    add_raw(t, ",\"size\":");
    add_number(t, a->size);
    add_raw(t, ",\"owner\":");
    add_string(t, a->owner);
    add_raw(t, ",\"value\":");
    add_number(t, a->value);
    add_raw(t, "}");
}

/* ---- reading back what add_asset() wrote ------------------------------------------------- */

struct cursor {
    const char *p;   /* the next octet */
    const char *end; /* past the last */
};

static bool expect(struct cursor *c, const char *lit)
{
    size_t n = strlen(lit);
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, lit, n) != 0)
        return false;
    c->p += n;
    return true;
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* A JSON string as add_string() writes it, into out[max + 1]. */
static bool parse_string(struct cursor *c, char *out, size_t max)
{
    size_t n = 0;
    if (!expect(c, "\""))
        return false;
    while (c->p < c->end && *c->p != '"') {
        char ch = *c->p++;
        if (ch == '\\') {
            if (c->p < c->end && (*c->p == '"' || *c->p == '\\')) {
                ch = *c->p++;
            } else if (c->end - c->p >= 5 && expect(c, "u00")) {
                int hi = hex_digit(c->p[0]), lo = hex_digit(c->p[1]);
                if (hi < 0 || lo < 0)
                    return false;
                ch = (char)(hi * 16 + lo);
                c->p += 2;
            } else {
                return false;
            }
        }
        if (n == max || ch == 0)
            return false;
        out[n++] = ch;
    }
    out[n] = 0;
    return expect(c, "\"");
}

static bool parse_u64(struct cursor *c, uint64_t *v)
{
    char digits[MAX_DIGITS + 2];
    size_t n = 0;
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9' && n <= MAX_DIGITS)
        digits[n++] = *c->p++;
    digits[n] = 0;
    return parse_number(digits, v);
}

static bool parse_asset(const uint8_t *value, size_t len, struct asset *a)
{
    struct cursor c = {(const char *)value, (const char *)value + len};
    return expect(&c, "{\"id\":") && parse_string(&c, a->id, MAX_ID) && expect(&c, ",\"color\":") &&
           parse_string(&c, a->color, MAX_TEXT) && expect(&c, ",\"size\":") &&
           parse_u64(&c, &a->size) && expect(&c, ",\"owner\":") &&
           parse_string(&c, a->owner, MAX_TEXT) && expect(&c, ",\"value\":") &&
           parse_u64(&c, &a->value) && expect(&c, "}") && c.p == c.end;
}

/* ---- state ------------------------------------------------------------------------------ */

/* Reads asset `id`. Returns 0 with *a, or the status of the error response it set. */
static int load(stele_cc_stub *stub, const char *id, struct asset *a)
{
    const uint8_t *value;
    size_t len;
    int rc = stele_cc_get_state(stub, id, &value, &len);
    if (rc == STELE_CC_NOT_FOUND)
        return stele_cc_error(stub, 404, "no asset %s", id);
    if (rc != STELE_CC_OK)
        return stele_cc_error(stub, 500, "cannot read asset %s (%d)", id, rc);
    if (!parse_asset(value, len, a) || strcmp(a->id, id) != 0)
        return stele_cc_error(stub, 500, "asset %s is damaged", id);
    return 0;
}

/* Writes `a` under its id. Returns 0 or the status of the error response it set. */
static int store(stele_cc_stub *stub, const struct asset *a)
{
    struct text t = {0};
    add_asset(&t, a);
    int rc = t.failed ? STELE_CC_FAILED : stele_cc_put_state(stub, a->id, t.p, t.len);
    free(t.p);
    return rc == STELE_CC_OK ? 0 : stele_cc_error(stub, 500, "cannot write asset %s", a->id);
}

/* Adds (`add` true) or removes the index entry owner~asset(owner, id). Returns 0 or the status
 * of the error response it set. */
static int index_update(stele_cc_stub *stub, const char *owner, const char *id, bool add)
{
    const char *attrs[2] = {owner, id};
    const char *key;
    int rc = stele_cc_composite_key(stub, INDEX, attrs, 2, &key);
    if (rc == STELE_CC_OK)
        rc = add ? stele_cc_put_state(stub, key, NULL, 0) : stele_cc_del_state(stub, key);
    return rc == STELE_CC_OK ? 0 : stele_cc_error(stub, 500, "cannot index asset %s", id);
}

/* The creator as an owner, "id@org", into out[MAX_TEXT + 1]. An organisation holding '@' is
 * refused: "a@b" of "c" and "a" of "b@c" would be the same owner. Returns 0 or the status of
 * the error response it set. */
static int creator_owner(stele_cc_stub *stub, char *out)
{
    const char *org = stele_cc_creator_org(stub);
    int n = snprintf(out, MAX_TEXT + 1, "%s@%s", stele_cc_creator_id(stub), org);
    if (n < 0 || n > MAX_TEXT || strchr(org, '@') || !owner_ok(out))
        return stele_cc_error(stub, 400, "this identity cannot own assets");
    return 0;
}

/* Ends the invocation with `t` as the payload. Frees t. */
static int reply(stele_cc_stub *stub, struct text *t)
{
    int status = t->failed ? stele_cc_error(stub, 500, "out of memory")
                           : stele_cc_success(stub, t->p, t->len);
    free(t->p);
    return status;
}

static int reply_asset(stele_cc_stub *stub, const struct asset *a)
{
    struct text t = {0};
    add_asset(&t, a);
    return reply(stub, &t);
}

/* ---- the functions ---------------------------------------------------------------------- */

static int cmd_create(stele_cc_stub *stub)
{
    struct asset a = {0};
    const char *id = stele_cc_arg_string(stub, 0);
    const char *color = stele_cc_arg_string(stub, 1);
    if (!id_ok(id))
        return stele_cc_error(stub, 400, "ID must be 1..%d of [A-Za-z0-9_.-]", MAX_ID);
    if (!text_ok(color))
        return stele_cc_error(stub, 400, "COLOR must be 1..%d octets of text", MAX_TEXT);
    if (!parse_number(stele_cc_arg_string(stub, 2), &a.size) ||
        !parse_number(stele_cc_arg_string(stub, 3), &a.value))
        return stele_cc_error(stub, 400, "SIZE and VALUE must be decimal integers");
    const uint8_t *value;
    size_t len;
    int rc = stele_cc_get_state(stub, id, &value, &len);
    if (rc == STELE_CC_OK)
        return stele_cc_error(stub, 400, "asset %s already exists", id);
    if (rc != STELE_CC_NOT_FOUND)
        return stele_cc_error(stub, 500, "cannot read asset %s (%d)", id, rc);
    strcpy(a.id, id);
    strcpy(a.color, color);
    int status = creator_owner(stub, a.owner);
    if (!status)
        status = store(stub, &a);
    if (!status)
        status = index_update(stub, a.owner, a.id, true);
    return status ? status : reply_asset(stub, &a);
}

static int cmd_read(stele_cc_stub *stub)
{
    struct asset a;
    const char *id = stele_cc_arg_string(stub, 0);
    if (!id_ok(id))
        return stele_cc_error(stub, 400, "ID must be 1..%d of [A-Za-z0-9_.-]", MAX_ID);
    int status = load(stub, id, &a);
    return status ? status : reply_asset(stub, &a);
}

/* Loads asset ID (argument 0) for a change by its owner. Returns 0 with *a, or the status of
 * the error response it set. */
static int load_owned(stele_cc_stub *stub, struct asset *a)
{
    const char *id = stele_cc_arg_string(stub, 0);
    char me[MAX_TEXT + 1];
    if (!id_ok(id))
        return stele_cc_error(stub, 400, "ID must be 1..%d of [A-Za-z0-9_.-]", MAX_ID);
    int status = load(stub, id, a);
    if (!status)
        status = creator_owner(stub, me);
    if (!status && strcmp(me, a->owner) != 0)
        status = stele_cc_error(stub, 403, "asset %s belongs to %s, not to %s", id, a->owner, me);
    return status;
}

static int cmd_transfer(stele_cc_stub *stub)
{
    struct asset a;
    const char *to = stele_cc_arg_string(stub, 1);
    if (!owner_ok(to))
        return stele_cc_error(stub, 400, "NEWOWNER must be ID@ORG, 1..%d octets of text", MAX_TEXT);
    int status = load_owned(stub, &a);
    if (status)
        return status;
    char from[MAX_TEXT + 1];
    strcpy(from, a.owner);
    strcpy(a.owner, to);
    status = index_update(stub, from, a.id, false);
    if (!status)
        status = index_update(stub, a.owner, a.id, true);
    if (!status)
        status = store(stub, &a);
    if (status)
        return status;

    struct text ev = {0};
    add_raw(&ev, "{\"id\":");
    add_string(&ev, a.id);
    add_raw(&ev, ",\"from\":");
    add_string(&ev, from);
    add_raw(&ev, ",\"to\":");
    add_string(&ev, a.owner);
    add_raw(&ev, "}");
    int rc = ev.failed ? STELE_CC_FAILED : stele_cc_set_event(stub, "transfer", ev.p, ev.len);
    free(ev.p);
    if (rc != STELE_CC_OK)
        return stele_cc_error(stub, 500, "cannot set the transfer event");
    return reply_asset(stub, &a);
}

static int cmd_delete(stele_cc_stub *stub)
{
    struct asset a;
    int status = load_owned(stub, &a);
    if (status)
        return status;
    if (stele_cc_del_state(stub, a.id) != STELE_CC_OK)
        return stele_cc_error(stub, 500, "cannot delete asset %s", a.id);
    status = index_update(stub, a.owner, a.id, false);
    return status ? status : stele_cc_success(stub, NULL, 0);
}

/* Appends asset `id` to the JSON array being built in `t` (`first`: no comma before it).
 * Returns 0 or the status of the error response it set. */
static int list_add(stele_cc_stub *stub, struct text *t, const char *id, bool first)
{
    struct asset a;
    int status = load(stub, id, &a);
    if (status)
        return status;
    if (!first)
        add_raw(t, ",");
    add_asset(t, &a);
    return 0;
}

static int cmd_list(stele_cc_stub *stub)
{
    stele_cc_iter *it;
    if (stele_cc_range(stub, "", "", &it) != STELE_CC_OK)
        return stele_cc_error(stub, 500, "cannot list the assets");
    struct text t = {0};
    const char *key;
    const uint8_t *value;
    size_t len;
    int rc = 0, status = 0;
    add_raw(&t, "[");
    for (size_t n = 0; !status && (rc = stele_cc_iter_next(it, &key, &value, &len)) == 1; n++)
        status = list_add(stub, &t, key, n == 0);
    if (!status && rc < 0)
        status = stele_cc_error(stub, 500, "cannot list the assets");
    add_raw(&t, "]");
    if (status) {
        free(t.p);
        return status;
    }
    return reply(stub, &t);
}

static int cmd_by_owner(stele_cc_stub *stub)
{
    const char *owner = stele_cc_arg_string(stub, 0);
    if (!text_ok(owner))
        return stele_cc_error(stub, 400, "OWNER must be 1..%d octets of text", MAX_TEXT);
    stele_cc_iter *it;
    if (stele_cc_composite_range(stub, INDEX, &owner, 1, &it) != STELE_CC_OK)
        return stele_cc_error(stub, 500, "cannot read the index");
    struct text t = {0};
    const char *key, *type, *attrs[2];
    const uint8_t *value;
    size_t len, n_attrs;
    int rc = 0, status = 0;
    add_raw(&t, "[");
    for (size_t n = 0; !status && (rc = stele_cc_iter_next(it, &key, &value, &len)) == 1; n++) {
        if (stele_cc_split_composite_key(stub, key, &type, attrs, 2, &n_attrs) != STELE_CC_OK ||
            n_attrs != 2)
            status = stele_cc_error(stub, 500, "a damaged index entry");
        else
            status = list_add(stub, &t, attrs[1], n == 0);
    }
    if (!status && rc < 0)
        status = stele_cc_error(stub, 500, "cannot read the index");
    add_raw(&t, "]");
    if (status) {
        free(t.p);
        return status;
    }
    return reply(stub, &t);
}

/* ---- entry points ----------------------------------------------------------------------- */

static const struct command {
    const char *name;               /* the function name */
    size_t argc;                    /* arguments it takes */
    const char *usage;              /* told when the count is wrong */
    int (*fn)(stele_cc_stub *stub); /* runs it */
} commands[] = {
    {"create", 4, "create ID COLOR SIZE VALUE", cmd_create},
    {"read", 1, "read ID", cmd_read},
    {"transfer", 2, "transfer ID NEWOWNER", cmd_transfer},
    {"delete", 1, "delete ID", cmd_delete},
    {"list", 0, "list", cmd_list},
    {"by_owner", 1, "by_owner OWNER", cmd_by_owner},
};

static int invoke(stele_cc_stub *stub)
{
    const char *fn = stele_cc_function(stub);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        const struct command *c = &commands[i];
        if (strcmp(fn, c->name) != 0)
            continue;
        if (stele_cc_arg_count(stub) != c->argc)
            return stele_cc_error(stub, 400, "usage: %s", c->usage);
        return c->fn(stub);
    }
    return stele_cc_error(stub, 400, "unknown function \"%s\"", fn);
}

static int init(stele_cc_stub *stub)
{
    return stele_cc_success(stub, NULL, 0);
}

STELE_CHAINCODE("asset", "1.0", init, invoke);
