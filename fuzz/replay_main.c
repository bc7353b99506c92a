/*
 * replay_main.c -- runs a fuzz target over saved inputs, without libFuzzer.
 *
 * Every fuzz/fuzz_*.c is linked with this file and registered as the test
 * fuzz-replay/NAME, so each corpus file (seeds and past crashes alike) is a
 * regression test.  Arguments are files or directories; directories are
 * walked recursively (dot files are skipped).  An argument that names an
 * empty or missing directory is an error: a replay over nothing must not
 * pass.  A target reports a failure by aborting, so reaching the end means
 * every input passed.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include <dirent.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Hard cap on one input: libFuzzer never produces anything this large, and a
 * stray multi-gigabyte file should fail loudly rather than exhaust memory. */
#define REPLAY_FILE_MAX (64u * 1024u * 1024u)

static unsigned long n_passed;

static int replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "replay: cannot open %s: %s\n", path, strerror(errno));
        return -1;
    }
    uint8_t *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len == cap) {
            size_t ncap = cap ? 2 * cap : 4096;
            if (ncap > REPLAY_FILE_MAX) {
                fprintf(stderr, "replay: %s is larger than %u bytes\n", path, REPLAY_FILE_MAX);
                free(buf);
                fclose(f);
                return -1;
            }
            uint8_t *nb = realloc(buf, ncap);
            if (!nb) {
                free(buf);
                fclose(f);
                return -1;
            }
            buf = nb;
            cap = ncap;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        fprintf(stderr, "replay: read error on %s\n", path);
        free(buf);
        return -1;
    }
    /* Hand the target an exactly-sized copy so that ASan catches reads one
     * past the end, as it would under libFuzzer. */
    uint8_t *exact = malloc(len ? len : 1);
    if (!exact) {
        free(buf);
        return -1;
    }
    if (len) memcpy(exact, buf, len);
    free(buf);
    LLVMFuzzerTestOneInput(exact, len);
    free(exact);
    n_passed++;
    return 0;
}

/* Returns the number of files replayed under path, or -1 on error. */
static long replay_path(const char *path, int depth)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) return replay_file(path) == 0 ? 1 : -1;
    if (depth > 32) {
        fprintf(stderr, "replay: %s: directories nested too deeply\n", path);
        return -1;
    }
    DIR *d = opendir(path);
    if (!d) {
        fprintf(stderr, "replay: cannot open directory %s: %s\n", path, strerror(errno));
        return -1;
    }
    /* Collect and sort the names so runs are reproducible. */
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            char **nn = realloc(names, cap * sizeof *nn);
            if (!nn) break;
            names = nn;
        }
        names[n] = strdup(e->d_name);
        if (!names[n]) break;
        n++;
    }
    closedir(d);
    long total = 0;
    for (size_t i = 0; i < n; i++) {
        for (size_t j = i + 1; j < n; j++) {
            if (strcmp(names[j], names[i]) < 0) {
                char *t = names[i];
                names[i] = names[j];
                names[j] = t;
            }
        }
    }
    for (size_t i = 0; i < n; i++) {
        size_t plen = strlen(path) + strlen(names[i]) + 2;
        char *child = malloc(plen);
        long r = -1;
        if (child) {
            snprintf(child, plen, "%s/%s", path, names[i]);
            r = replay_path(child, depth + 1);
            free(child);
        }
        if (r < 0) total = -1;
        else if (total >= 0) total += r;
        free(names[i]);
    }
    free(names);
    return total;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE_OR_DIR...\n", argv[0]);
        return 2;
    }
    int failed = 0;
    for (int i = 1; i < argc; i++) {
        long r = replay_path(argv[i], 0);
        if (r < 0) {
            failed = 1;
        } else if (r == 0) {
            fprintf(stderr, "replay: %s holds no inputs\n", argv[i]);
            failed = 1;
        }
    }
    if (failed) {
        printf("%lu passed, 1 failed\n", n_passed);
        return 1;
    }
    printf("%lu passed, 0 failed\n", n_passed);
    return 0;
}
