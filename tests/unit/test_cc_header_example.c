/* test_cc_header_example.c — the example chaincode at the top of stele/chaincode.h, the first
 * code a chaincode author copies, compiles as it stands there: it is cut out of the installed
 * header's comment and given to the C compiler (CC, else cc) with -Wall -Wextra -Werror and
 * nothing but the chaincode include directory. Skipped when no compiler can be run.
 */
#include "testutil.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

/* The example: the comment lines from "#include <stele/chaincode.h>" to the STELE_CHAINCODE
 * line, without their " *     " indent, as a malloc'd string. */
static char *header_example(const char *header)
{
    const char *start = strstr(header, " *     #include <stele/chaincode.h>");
    const char *last = start ? strstr(start, "STELE_CHAINCODE(\"kv\"") : NULL;
    if (!start || !last)
        return NULL;
    const char *end = strchr(last, '\n');
    char *out = malloc((size_t)(end - start) + 2);
    size_t n = 0;
    for (const char *p = start; p < end;) {
        const char *eol = strchr(p, '\n');
        if (strncmp(p, " *", 2) != 0)
            break; /* left the comment */
        p += 2;
        for (int i = 0; i < 5 && p < eol && *p == ' '; i++)
            p++;
        memcpy(out + n, p, (size_t)(eol - p));
        n += (size_t)(eol - p);
        out[n++] = '\n';
        p = eol + 1;
    }
    out[n] = 0;
    return out;
}

static void test_header_example_compiles(void **state)
{
    (void)state;
    char *path = test_source_path("chaincode/include/stele/chaincode.h");
    char *header = test_read_file(path, NULL);
    assert_non_null(header);
    char *example = header_example(header);
    assert_non_null(example);
    assert_non_null(strstr(example, "static int invoke(stele_cc_stub *stub)"));

    char *dir = test_tmpdir("cc_header_example");
    char file[512], log[512], cmd[2048];
    snprintf(file, sizeof file, "%s/kv.c", dir);
    snprintf(log, sizeof log, "%s/cc.log", dir);
    assert_int_equal(test_write_file(file, example, strlen(example)), 0);
    char *include = test_source_path("chaincode/include");
    const char *cc = getenv("CC") && getenv("CC")[0] ? getenv("CC") : "cc";
    snprintf(cmd, sizeof cmd,
             "%s -std=c11 -Wall -Wextra -Werror -fPIC -fsyntax-only -I'%s' '%s' >'%s' 2>&1", cc,
             include, file, log);
    int rc = system(cmd);
    char *out = test_read_file(log, NULL);
    bool no_compiler = WIFEXITED(rc) && WEXITSTATUS(rc) == 127;
    if (rc != 0 && !no_compiler)
        print_error("the example of stele/chaincode.h does not compile:\n%s\n%s", example,
                    out ? out : "");
    free(out);
    free(include);
    test_rmtree(dir);
    free(dir);
    free(example);
    free(header);
    free(path);
    if (no_compiler)
        skip();
    assert_int_equal(rc, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_example_compiles),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
