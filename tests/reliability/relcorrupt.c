/*
 * relcorrupt.c -- damages one file for the corruption tests (README.md,
 * "Corruption").
 *
 *   relcorrupt FILE flip|trunc|zero SEED
 *
 * flip   1..4 bit flips at offsets drawn from SEED (one time in four all of
 *        them in the last 64 bytes, where headers, footers and the newest
 *        records are);
 * trunc  cut the file to a length in [0, size) (one time in four to within
 *        64 bytes of its end: a torn tail);
 * zero   overwrite 1..4096 bytes at a random offset with zeros (a lost
 *        sector).
 * Prints one line: what was done where.  Exit 0; 1 if the file is empty
 * (nothing to damage); 2 on usage or I/O errors.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static uint64_t g_s;
static uint64_t rnd(void)
{
    g_s += 0x9e3779b97f4a7c15ull;
    uint64_t z = g_s;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: relcorrupt FILE flip|trunc|zero SEED\n");
        return 2;
    }
    g_s = strtoull(argv[3], NULL, 10);
    int fd = open(argv[1], O_RDWR);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        fprintf(stderr, "relcorrupt: %s: %s\n", argv[1], strerror(errno));
        return 2;
    }
    uint64_t size = (uint64_t)st.st_size;
    if (size == 0) {
        printf("relcorrupt: %s is empty\n", argv[1]);
        return 1;
    }
    int tail = rnd() % 4 == 0;
    uint64_t lo = tail && size > 64 ? size - 64 : 0;
    if (!strcmp(argv[2], "flip")) {
        int n = 1 + (int)(rnd() % 4);
        printf("relcorrupt: %s flip", argv[1]);
        for (int i = 0; i < n; i++) {
            uint64_t off = lo + rnd() % (size - lo);
            uint8_t b;
            if (pread(fd, &b, 1, (off_t)off) != 1) return 2;
            int bit = (int)(rnd() % 8);
            b ^= (uint8_t)(1u << bit);
            if (pwrite(fd, &b, 1, (off_t)off) != 1) return 2;
            printf(" @%llu.%d", (unsigned long long)off, bit);
        }
        printf(" (size %llu)\n", (unsigned long long)size);
    } else if (!strcmp(argv[2], "trunc")) {
        uint64_t len = lo + rnd() % (size - lo);
        if (ftruncate(fd, (off_t)len) != 0) return 2;
        printf("relcorrupt: %s trunc %llu -> %llu\n", argv[1], (unsigned long long)size,
               (unsigned long long)len);
    } else if (!strcmp(argv[2], "zero")) {
        uint64_t off = rnd() % size, n = 1 + rnd() % 4096;
        if (off + n > size) n = size - off;
        static uint8_t z[4096];
        if (pwrite(fd, z, (size_t)n, (off_t)off) != (ssize_t)n) return 2;
        printf("relcorrupt: %s zero %llu bytes @%llu (size %llu)\n", argv[1], (unsigned long long)n,
               (unsigned long long)off, (unsigned long long)size);
    } else {
        fprintf(stderr, "relcorrupt: unknown damage %s\n", argv[2]);
        return 2;
    }
    if (fsync(fd) != 0 || close(fd) != 0) return 2;
    return 0;
}
