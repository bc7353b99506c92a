/*
 * hex.c -- lowercase hexadecimal for the CLI (see hex.h).
 */
#include "hex.h"

#include <stdlib.h>
#include <string.h>

static const char hex_digits[] = "0123456789abcdef";

/* The value of one hex digit, or -1. */
static int nibble(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes n bytes from the 2n characters at s.  Returns 0 or -1. */
static int decode_into(uint8_t *out, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int hi = nibble(s[2 * i]), lo = nibble(s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

int hex_decode(uint8_t **out, size_t *out_len, const char *s)
{
    size_t slen = strlen(s);
    *out = NULL;
    *out_len = 0;
    if (slen % 2 != 0)
        return -1;
    uint8_t *buf = malloc(slen / 2 + 1); /* +1: never malloc(0) */
    if (buf == NULL)
        return -2;
    if (decode_into(buf, s, slen / 2) != 0) {
        free(buf);
        return -1;
    }
    *out = buf;
    *out_len = slen / 2;
    return 0;
}

int hex_decode_exact(uint8_t *out, size_t len, const char *s)
{
    if (strlen(s) != 2 * len)
        return -1;
    return decode_into(out, s, len);
}

char *hex_encode(const uint8_t *buf, size_t len)
{
    char *s = malloc(2 * len + 1);
    if (s == NULL)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        s[2 * i] = hex_digits[buf[i] >> 4];
        s[2 * i + 1] = hex_digits[buf[i] & 0x0f];
    }
    s[2 * len] = '\0';
    return s;
}

void hex_fprint(FILE *f, const uint8_t *buf, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        putc(hex_digits[buf[i] >> 4], f);
        putc(hex_digits[buf[i] & 0x0f], f);
    }
}

int hex_equals(const uint8_t *buf, size_t len, const char *s)
{
    for (size_t i = 0; i < len; i++) {
        int hi = nibble(s[2 * i]);
        if (hi < 0)
            return 0; /* also stops at the terminating NUL */
        int lo = nibble(s[2 * i + 1]);
        if (lo < 0 || (uint8_t)(hi << 4 | lo) != buf[i])
            return 0;
    }
    return s[2 * len] == '\0';
}
