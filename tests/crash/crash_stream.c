/*
 * crash_stream.c -- the deterministic transaction stream and the small file
 * helpers shared by crash_writer and crash_check.  See crash_stream.h.
 */
#include "crash_stream.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *const cs_tree_names[CS_NTREES] = {"tracker", "reserve"};

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

int cs_mode_parse(cs_mode *out, const char *s)
{
    if (!strcmp(s, "sync")) *out = CS_MODE_SYNC;
    else if (!strcmp(s, "group")) *out = CS_MODE_GROUP;
    else if (!strcmp(s, "none")) *out = CS_MODE_NONE;
    else return -1;
    return 0;
}

const char *cs_mode_name(cs_mode m)
{
    return m == CS_MODE_SYNC ? "sync" : m == CS_MODE_GROUP ? "group" : "none";
}

void cs_tree_params(bt_params *out, unsigned t)
{
    bt_params p = BT_PARAMS_INIT;
    p.key_len = CS_KEY_LEN;
    p.value_len = t == 0 ? BT_VALUE_VARIABLE : CS_RESERVE_VALUE_LEN;
    *out = p;
}

void cs_db_options(bt_db_options *out, const cs_params *p)
{
    bt_db_options o = BT_DB_OPTIONS_INIT;
    o.durability = p->mode == CS_MODE_SYNC    ? BT_DURABILITY_SYNC
                   : p->mode == CS_MODE_GROUP ? BT_DURABILITY_GROUP
                                              : BT_DURABILITY_NONE;
    o.flush_ops = p->flush_ops;
    /* Small engine buffers: memtable flushes and compactions then happen
     * during the loop too, and get killed. */
    o.write_buffer_bytes = 1u << 20;
    o.cache_bytes = 8u << 20;
    o.block_cache_bytes = 4u << 20;
    o.min_free_bytes = 0;
    o.checkpoint_keep = CS_CKPT_KEEP;
    *out = o;
}

/* ---- DIR/params ----------------------------------------------------------- */

int cs_params_write(const char *dir, const cs_params *p)
{
    char path[CS_PATH_MAX], buf[512];
    snprintf(path, sizeof path, "%s/params", dir);
    int n = snprintf(buf, sizeof buf,
                     "seed %" PRIu64 "\nkeys %" PRIu32 "\nreset_every %" PRIu32
                     "\nflush_ops %" PRIu64 "\nmode %s\n",
                     p->seed, p->keys, p->reset_every, p->flush_ops, cs_mode_name(p->mode));
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || cs_write_all(fd, buf, (size_t)n, true) || close(fd) || cs_fsync_dir(dir)) {
        fprintf(stderr, "crash: cannot write %s: %s\n", path, strerror(errno));
        if (fd >= 0) close(fd);
        return -1;
    }
    return 0;
}

int cs_params_read(cs_params *out, const char *dir)
{
    char path[CS_PATH_MAX], name[32], val[64];
    snprintf(path, sizeof path, "%s/params", dir);
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "crash: cannot read %s: %s\n", path, strerror(errno));
        return -1;
    }
    cs_params p = CS_PARAMS_DEFAULT;
    int seen = 0, bad = 0;
    while (fscanf(f, "%31s %63s", name, val) == 2) {
        unsigned long long v = strtoull(val, NULL, 10);
        if (!strcmp(name, "seed")) p.seed = v, seen |= 1;
        else if (!strcmp(name, "keys")) p.keys = (uint32_t)v, seen |= 2;
        else if (!strcmp(name, "reset_every")) p.reset_every = (uint32_t)v, seen |= 4;
        else if (!strcmp(name, "flush_ops")) p.flush_ops = v, seen |= 8;
        else if (!strcmp(name, "mode")) bad |= cs_mode_parse(&p.mode, val), seen |= 16;
    }
    fclose(f);
    if (seen != 31 || bad || p.keys < 2 || p.keys > CS_KEYS_MAX || p.reset_every < 2) {
        fprintf(stderr, "crash: %s is incomplete or invalid\n", path);
        return -1;
    }
    *out = p;
    return 0;
}

/* ---- the stream ---------------------------------------------------------- */

int cs_stream_init(cs_stream *s, const cs_params *p)
{
    memset(s, 0, sizeof *s);
    s->p = *p;
    s->capops = 2u * p->keys + 1u > CS_TXN_OPS_MAX ? 2u * p->keys + 1u : CS_TXN_OPS_MAX;
    s->keys = malloc((size_t)CS_NTREES * p->keys * CS_KEY_LEN);
    s->ops = malloc(s->capops * sizeof *s->ops);
    if (!s->keys || !s->ops) {
        cs_stream_dispose(s);
        return -1;
    }
    for (unsigned t = 0; t < CS_NTREES; t++) {
        for (uint32_t i = 0; i < p->keys; i++) {
            uint64_t st = p->seed ^ ((uint64_t)(t + 1) << 40) ^ i;
            uint8_t *k = s->keys + ((size_t)t * p->keys + i) * CS_KEY_LEN;
            for (int j = 0; j < CS_KEY_LEN / 8; j++) {
                uint64_t x = splitmix64(&st);
                memcpy(k + 8 * j, &x, 8);
            }
            /* Never 0x00..00 (-inf) nor 0xFF..FF (+inf). */
            k[0] = (uint8_t)(1 + k[0] % 254);
        }
    }
    return 0;
}

void cs_stream_dispose(cs_stream *s)
{
    free(s->keys);
    free(s->ops);
    s->keys = NULL;
    s->ops = NULL;
}

const uint8_t *cs_key(const cs_stream *s, unsigned t, uint32_t idx)
{
    return s->keys + ((size_t)t * s->p.keys + idx) * CS_KEY_LEN;
}

static void random_value(cs_op *op, uint64_t *st, bool nonempty)
{
    if (op->tree == 1) op->vlen = CS_RESERVE_VALUE_LEN;
    else op->vlen = (uint8_t)(splitmix64(st) % (CS_TRACKER_VALUE_MAX + 1));
    if (nonempty && op->vlen == 0) op->vlen = 8;
    for (unsigned j = 0; j < op->vlen; j += 8) {
        uint64_t x = splitmix64(st);
        memcpy(op->val + j, &x, op->vlen - j < 8 ? op->vlen - j : 8);
    }
}

/* Empties both trees (RemoveIfExists of the whole keyspace) and inserts one key. */
static void reset_txn(cs_stream *s, uint64_t k, uint64_t *st)
{
    size_t n = 0;
    for (unsigned t = 0; t < CS_NTREES; t++)
        for (uint32_t i = 0; i < s->p.keys; i++) {
            cs_op *op = &s->ops[n++];
            memset(op, 0, sizeof *op);
            op->tree = (uint8_t)t;
            op->type = BT_OP_REMOVE_IF_EXISTS;
            op->key = i;
        }
    cs_op *op = &s->ops[n++];
    memset(op, 0, sizeof *op);
    op->type = BT_OP_INSERT_OR_UPDATE;
    op->key = (uint32_t)(k % s->p.keys);
    random_value(op, st, true);
    s->nops = n;
}

void cs_stream_txn(cs_stream *s, uint64_t k)
{
    uint64_t st = s->p.seed ^ (k * 0xD1B54A32D192ED03ull);
    (void)splitmix64(&st);
    s->wait_durable = splitmix64(&st) % 4 == 0;
    if (k % s->p.reset_every == 0) {
        s->wait_durable = true;
        reset_txn(s, k, &st);
        return;
    }
    size_t n = 1 + (size_t)(splitmix64(&st) % CS_TXN_OPS_MAX);
    for (size_t i = 0; i < n; i++) {
        cs_op *op = &s->ops[i];
        memset(op, 0, sizeof *op);
        uint64_t r = splitmix64(&st);
        op->tree = (uint8_t)(r % 100 < 55 ? 0 : 1);
        op->key = (uint32_t)((r >> 8) % s->p.keys);
        unsigned w = (unsigned)((r >> 40) % 100);
        /* The first op always logs something: commit k is commit_seq k. */
        if (i == 0) w = 0;
        op->type = w < 30   ? BT_OP_INSERT_OR_UPDATE
                   : w < 50 ? BT_OP_INSERT
                   : w < 65 ? BT_OP_UPDATE
                   : w < 78 ? BT_OP_REMOVE
                   : w < 93 ? BT_OP_REMOVE_IF_EXISTS
                            : BT_OP_LOOKUP;
        if (op->type == BT_OP_INSERT_OR_UPDATE || op->type == BT_OP_INSERT ||
            op->type == BT_OP_UPDATE)
            random_value(op, &st, i == 0);
    }
    s->nops = n;
}

void cs_stream_op(bt_op *out, const cs_stream *s, size_t i)
{
    const cs_op *op = &s->ops[i];
    out->type = (bt_op_type)op->type;
    out->key = cs_key(s, op->tree, op->key);
    out->key_len = CS_KEY_LEN;
    out->value = op->val;
    out->value_len = op->vlen;
}

/* ---- small helpers --------------------------------------------------------- */

void cs_hex(char *out, const uint8_t *in, size_t n)
{
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = d[in[i] >> 4];
        out[2 * i + 1] = d[in[i] & 15];
    }
    out[2 * n] = 0;
}

static int nibble(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

int cs_unhex(uint8_t *out, size_t n, const char *in, size_t inlen)
{
    if (inlen != 2 * n) return -1;
    for (size_t i = 0; i < n; i++) {
        int hi = nibble(in[2 * i]), lo = nibble(in[2 * i + 1]);
        if (hi < 0 || lo < 0) return -1;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

int cs_write_all(int fd, const char *buf, size_t len, bool sync)
{
    while (len) {
        ssize_t w = write(fd, buf, len);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        buf += w;
        len -= (size_t)w;
    }
    return sync ? fdatasync(fd) : 0;
}

int cs_fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}
