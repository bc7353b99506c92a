#include "testutil.h"
#include <stdlib.h>
#include <string.h>

static int nib(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

uint8_t *tu_unhex(const char *hex, size_t *out_len)
{
    size_t n = strlen(hex);
    if (n % 2) return NULL;
    uint8_t *b = malloc(n / 2 + 1);
    if (!b) return NULL;
    for (size_t i = 0; i < n / 2; i++) {
        int hi = nib(hex[2 * i]), lo = nib(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) { free(b); return NULL; }
        b[i] = (uint8_t)(hi << 4 | lo);
    }
    *out_len = n / 2;
    return b;
}

char *tu_hex(const uint8_t *buf, size_t len)
{
    static const char d[] = "0123456789abcdef";
    char *s = malloc(2 * len + 1);
    if (!s) return NULL;
    for (size_t i = 0; i < len; i++) {
        s[2 * i] = d[buf[i] >> 4];
        s[2 * i + 1] = d[buf[i] & 15];
    }
    s[2 * len] = 0;
    return s;
}

uint64_t tu_rand(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

const char *tu_vectors_dir(void)
{
    const char *d = getenv("BT_VECTORS_DIR");
    return d && *d ? d : "../shared/vectors";
}

/* ---- sorted-map model ---------------------------------------------------- */

static uint8_t *tu_dup(const uint8_t *p, size_t n)
{
    uint8_t *r = malloc(n ? n : 1);
    if (!r) abort();
    if (n) memcpy(r, p, n);
    return r;
}

void tu_model_init(tu_model *m, const bt_params *params)
{
    memset(m, 0, sizeof *m);
    m->key_len = params->key_len;
    m->value_len = params->value_len;
}

void tu_model_free(tu_model *m)
{
    for (size_t i = 0; i < m->n; i++) {
        free(m->e[i].key);
        free(m->e[i].val);
    }
    free(m->e);
    m->e = NULL;
    m->n = m->cap = 0;
}

void tu_model_copy(tu_model *dst, const tu_model *src)
{
    tu_model_free(dst);
    *dst = *src;
    dst->cap = src->n;
    dst->e = malloc((src->n ? src->n : 1) * sizeof *dst->e);
    if (!dst->e) abort();
    for (size_t i = 0; i < src->n; i++) {
        dst->e[i].key = tu_dup(src->e[i].key, src->key_len);
        dst->e[i].val = tu_dup(src->e[i].val, src->e[i].val_len);
        dst->e[i].val_len = src->e[i].val_len;
    }
}

static size_t tu_model_slot(const tu_model *m, const uint8_t *key, int *found)
{
    size_t lo = 0, hi = m->n;
    *found = 0;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = memcmp(m->e[mid].key, key, m->key_len);
        if (c == 0) {
            *found = 1;
            return mid;
        }
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

long tu_model_find(const tu_model *m, const uint8_t *key)
{
    int found;
    size_t i = tu_model_slot(m, key, &found);
    return found ? (long)i : -1;
}

static int tu_all(const uint8_t *p, size_t n, uint8_t b)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != b) return 0;
    return 1;
}

int tu_model_apply(tu_model *m, const bt_op *op, int *found, uint8_t **old, size_t *old_len)
{
    *found = 0;
    *old = NULL;
    *old_len = 0;
    size_t kl = m->key_len;
    /* Sentinel comparisons are memcmp order against KL-byte sentinels. */
    size_t cmp = op->key_len < kl ? op->key_len : kl;
    int low = tu_all(op->key, cmp, 0x00) && op->key_len <= kl;
    int high = tu_all(op->key, cmp, 0xFF) && op->key_len >= kl;
    if (low) return BT_EKEYLOW;
    if (high) return BT_EKEYHIGH;
    if (op->key_len != kl) return BT_EKEYLEN;
    int f;
    size_t i = tu_model_slot(m, op->key, &f);
    int writes = op->type == BT_OP_INSERT || op->type == BT_OP_UPDATE ||
                 op->type == BT_OP_INSERT_OR_UPDATE;
    if (op->type == BT_OP_INSERT && f) return BT_EEXISTS;
    if ((op->type == BT_OP_UPDATE || op->type == BT_OP_REMOVE) && !f) return BT_ENOTFOUND;
    if (writes && m->value_len != BT_VALUE_VARIABLE && op->value_len != m->value_len)
        return BT_EVALLEN;
    if (f) {
        *found = 1;
        *old = tu_dup(m->e[i].val, m->e[i].val_len);
        *old_len = m->e[i].val_len;
    }
    if (writes) {
        if (f) {
            free(m->e[i].val);
        } else {
            if (m->n == m->cap) {
                m->cap = m->cap ? 2 * m->cap : 16;
                m->e = realloc(m->e, m->cap * sizeof *m->e);
                if (!m->e) abort();
            }
            memmove(&m->e[i + 1], &m->e[i], (m->n - i) * sizeof *m->e);
            m->e[i].key = tu_dup(op->key, kl);
            m->n++;
        }
        m->e[i].val = tu_dup(op->value, op->value_len);
        m->e[i].val_len = op->value_len;
    } else if (f && (op->type == BT_OP_REMOVE || op->type == BT_OP_REMOVE_IF_EXISTS)) {
        free(m->e[i].key);
        free(m->e[i].val);
        memmove(&m->e[i], &m->e[i + 1], (m->n - i - 1) * sizeof *m->e);
        m->n--;
    }
    return 0;
}

void tu_make_key(uint8_t *out, size_t key_len, uint64_t i)
{
    if (key_len == 1) {
        out[0] = (uint8_t)(1 + i % 254);
        return;
    }
    uint64_t s = i * 0x2545F4914F6CDD1Dull + 17;
    for (size_t j = 0; j < key_len; j++) {
        if (j % 8 == 0) (void)tu_rand(&s);
        out[j] = (uint8_t)(tu_rand(&s) >> 24);
    }
    out[key_len - 1] = (uint8_t)(out[key_len - 1] | 1); /* never all-zero */
    if (tu_all(out, key_len, 0xFF)) out[0] = 0x7F;
}

int tu_verify(uint8_t out[BT_DIGEST_LEN], const bt_params *params,
              const uint8_t start[BT_DIGEST_LEN], const uint8_t *proof, size_t proof_len,
              const bt_op *ops, size_t n, const bt_verify_opts *opts)
{
    bt_verifier *v = NULL;
    int rc = bt_verifier_new(&v, params, start, BT_DIGEST_LEN, proof, proof_len, opts);
    if (rc) return rc;
    for (size_t i = 0; i < n && rc == 0; i++) {
        bt_result r;
        rc = bt_verifier_apply(v, &ops[i], &r);
    }
    if (rc == 0) rc = bt_verifier_digest(out, v);
    bt_verifier_free(v);
    return rc;
}
