/*
 * replay_main.c — runs a fuzz target over its seed corpus without libFuzzer.
 *
 * Each tests/fuzz/fuzz_X.c defines LLVMFuzzerTestOneInput(). `make check` links it with this
 * driver and feeds it every file of tests/fuzz/corpus/X/ under ASan and UBSan, plus a few
 * thousand deterministic mutations of each, so decoders are exercised on every test run;
 * `make fuzz` links the same target with libFuzzer for open-ended fuzzing.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* A target may define this to check, after the replay, that its inputs reached what it
 * fuzzes (a harness that stops every input at its first octet passes every input); non-zero
 * fails the replay. */
int fuzz_replay_check(void) __attribute__((weak));

static uint64_t rng_state = 0x5eed5eed12345678ull;

static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void mutate_and_run(const uint8_t *data, size_t size, int rounds)
{
    uint8_t *m = malloc(size + 16);
    for (int r = 0; r < rounds; r++) {
        size_t n = size;
        memcpy(m, data, size);
        int edits = 1 + (int)(rng() % 4);
        for (int e = 0; e < edits; e++) {
            switch (rng() % 4) {
            case 0: /* flip a byte */
                if (n)
                    m[rng() % n] ^= (uint8_t)(1 + rng() % 255);
                break;
            case 1: /* truncate */
                if (n)
                    n = rng() % n;
                break;
            case 2: /* insert a byte */
                if (n < size + 16) {
                    size_t at = n ? rng() % n : 0;
                    memmove(m + at + 1, m + at, n - at);
                    m[at] = (uint8_t)rng();
                    n++;
                }
                break;
            default: /* set a byte to an interesting value */
                if (n) {
                    static const uint8_t vals[] = {0, 0x7f, 0x80, 0xff, ':', '\n', '{', '"'};
                    m[rng() % n] = vals[rng() % sizeof vals];
                }
            }
        }
        LLVMFuzzerTestOneInput(m, n);
    }
    free(m);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
        return 2;
    }
    DIR *d = opendir(argv[1]);
    if (!d) {
        fprintf(stderr, "%s: no corpus directory %s\n", argv[0], argv[1]);
        return 1;
    }
    int files = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", argv[1], de->d_name);
        FILE *f = fopen(path, "rb");
        if (!f)
            continue;
        uint8_t *buf = malloc(1 << 20);
        size_t n = fread(buf, 1, 1 << 20, f);
        fclose(f);
        LLVMFuzzerTestOneInput(buf, n);
        mutate_and_run(buf, n, 2000);
        free(buf);
        files++;
    }
    closedir(d);
    LLVMFuzzerTestOneInput((const uint8_t *)"", 0);
    printf("replayed %d corpus files with 2000 mutations each\n", files);
    if (fuzz_replay_check && fuzz_replay_check() != 0)
        return 1;
    return files > 0 ? 0 : 1;
}
