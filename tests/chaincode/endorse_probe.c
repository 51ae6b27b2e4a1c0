/*
 * endorse_probe.c — a chaincode for the endorser's tests (tests/faults/test_endorser.c):
 *
 *   pair A FLAG B MS      reads A, then reads FLAG until it exists (at most MS ms), then
 *                         reads B; payload "A=value;B=value" ("!" for an absent key). With
 *                         FLAG written by the same transaction as A and B, a test can commit
 *                         that transaction while the chaincode waits between its reads.
 *   say STATUS TEXT       answers STATUS with TEXT (any octets) as its message
 *   long                  answers 400 with a message of 1201 octets ('x' and 600 'é'), which
 *                         the shim truncates at 1024 octets, in the middle of an 'é'
 *   hold MS               sleeps MS ms without spinning (a futex wait nothing wakes: futex is
 *                         one of the calls the sandbox allows), then answers "held"
 */
#include <stele/chaincode.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

static unsigned long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (unsigned long long)ts.tv_sec * 1000 + (unsigned long long)ts.tv_nsec / 1000000;
}

/* Appends "KEY=VALUE" or "KEY!" to `out` (`cap` octets). Returns the state call's result. */
static int show(stele_cc_stub *stub, const char *key, char *out, size_t cap)
{
    const uint8_t *v;
    size_t len;
    int rc = stele_cc_get_state(stub, key, &v, &len);
    size_t at = strlen(out);
    if (rc == STELE_CC_OK)
        snprintf(out + at, cap - at, "%s=%.*s", key, (int)len, (const char *)v);
    else if (rc == STELE_CC_NOT_FOUND)
        snprintf(out + at, cap - at, "%s!", key);
    return rc == STELE_CC_NOT_FOUND ? STELE_CC_OK : rc;
}

static int pair(stele_cc_stub *stub)
{
    const char *a = stele_cc_arg_string(stub, 0), *flag = stele_cc_arg_string(stub, 1);
    const char *b = stele_cc_arg_string(stub, 2), *ms = stele_cc_arg_string(stub, 3);
    if (!a || !flag || !b || !ms)
        return stele_cc_error(stub, 400, "pair A FLAG B MS");
    char out[512] = "";
    if (show(stub, a, out, sizeof out) != STELE_CC_OK)
        return stele_cc_error(stub, 500, "cannot read %s", a);
    unsigned long long until = now_ms() + strtoull(ms, NULL, 10);
    for (;;) {
        const uint8_t *v;
        size_t len;
        int rc = stele_cc_get_state(stub, flag, &v, &len);
        if (rc == STELE_CC_OK || now_ms() >= until)
            break;
        if (rc != STELE_CC_NOT_FOUND)
            return stele_cc_error(stub, 500, "cannot read %s", flag);
        for (unsigned long long t = now_ms() + 2; now_ms() < t;)
            ;
    }
    strcat(out, ";");
    if (show(stub, b, out, sizeof out) != STELE_CC_OK)
        return stele_cc_error(stub, 500, "cannot read %s", b);
    return stele_cc_success(stub, out, strlen(out));
}

static int hold(stele_cc_stub *stub)
{
    const char *ms = stele_cc_arg_string(stub, 0);
    if (!ms)
        return stele_cc_error(stub, 400, "hold MS");
    static int word; /* stays 0: nobody wakes the wait */
    unsigned long long until = now_ms() + strtoull(ms, NULL, 10);
    for (unsigned long long now; (now = now_ms()) < until;) {
        struct timespec ts = {(time_t)((until - now) / 1000),
                              (long)((until - now) % 1000) * 1000000};
        syscall(SYS_futex, &word, FUTEX_WAIT_PRIVATE, 0, &ts, NULL, 0);
    }
    return stele_cc_success(stub, "held", 4);
}

static int invoke(stele_cc_stub *stub)
{
    const char *fn = stele_cc_function(stub);
    if (strcmp(fn, "pair") == 0)
        return pair(stub);
    if (strcmp(fn, "hold") == 0)
        return hold(stub);
    if (strcmp(fn, "say") == 0 && stele_cc_arg_count(stub) == 2) {
        const char *status = stele_cc_arg_string(stub, 0), *text = stele_cc_arg_string(stub, 1);
        if (status && text)
            return stele_cc_error(stub, atoi(status), "%s", text);
    }
    if (strcmp(fn, "long") == 0) {
        char m[1202] = "x";
        for (int i = 0; i < 600; i++)
            strcat(m, "\xc3\xa9");
        return stele_cc_error(stub, 400, "%s", m);
    }
    return stele_cc_error(stub, 400, "unknown function %s", fn);
}

#ifndef TESTCC_NAME
#define TESTCC_NAME "probe" /* chaincodes.cmake builds it as "cc" too */
#endif
STELE_CHAINCODE(TESTCC_NAME, "1.0", NULL, invoke);
