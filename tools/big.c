/*
 * big.c -- the large deterministic scenario (see big.h and the vectors
 * README, "big_reference.jsonl").
 *
 * Inputs, for seed S (tags are ASCII, no separator):
 *   key(i)      = H("avlvec:key" || u64be(S) || u64be(i))
 *   value(i, g) = first L bytes of H("avlvec:" g || u64be(S) || u64be(i)),
 *                 L = 8 (fixed8) or H("avlvec:vlen" || u64be(S) || u64be(i))[0] mod 33
 * Phases (each cut into batches of B operations, one proof per batch):
 *   insert            Insert(key(i), value(i,"val"))          i < N
 *   update            Update(key(i), value(i,"val2"))         i < N, i mod 3 = 0
 *   remove            Remove(key(i))                          i < N, i mod 2 = 0
 *   insert_or_update  InsertOrUpdate(key(i), value(i,"val3")) i < N, i mod 5 = 0,
 *                                                             then N <= i < N + N/4
 *   lookup            Lookup(key(i))                          i < N + N/4, i mod 7 = 0
 * The last four run only in "full" mode.  proof_chain: c0 = 32 zero bytes,
 * c_{j+1} = H(c_j || u32be(len(proof_j)) || proof_j).
 */
#include "big.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <basistrees.h>

#include "hex.h"

#define BIG_KEY_LEN 32
#define BIG_HASH_LEN 32
#define BIG_BATCH_MAX 10000000u

typedef struct big_state {
    const big_params *p;
    bt_tree *tree;     /* in memory, or ...                  */
    big_store *store;  /* ... through a database             */
    bt_op *ops;        /* the batch being filled             */
    uint8_t *keys;     /* BIG_HASH_LEN bytes per slot        */
    uint8_t *values;   /* BIG_HASH_LEN bytes per slot        */
    bt_result *results;
    size_t fill;
    uint8_t chain[BIG_HASH_LEN];
    uint64_t batches, phase_batches, proof_bytes, failed_ops;
    json_t *checkpoints, *phases;
    char *err;
    size_t errlen;
} big_state;

static int big_fail(big_state *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int big_fail(big_state *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->err, s->errlen, fmt, ap);
    va_end(ap);
    return -1;
}

static void put_be(uint8_t *out, uint64_t v, unsigned bytes)
{
    for (unsigned i = 0; i < bytes; i++)
        out[i] = (uint8_t)(v >> (8 * (bytes - 1 - i)));
}

/* out = Blake2b-256(tag || u64be(seed) || u64be(i)); tags are short literals. */
static void derive(uint8_t out[BIG_HASH_LEN], const char *tag, uint64_t seed, uint64_t i)
{
    uint8_t msg[48];
    size_t tag_len = strlen(tag);
    memcpy(msg, tag, tag_len);
    put_be(msg + tag_len, seed, 8);
    put_be(msg + tag_len + 8, i, 8);
    crypto_generichash(out, BIG_HASH_LEN, msg, tag_len + 16, NULL, 0);
}

/* The current (committed) digest. */
static int current_digest(uint8_t out[BT_DIGEST_LEN], big_state *s)
{
    if (s->store != NULL)
        return bt_db_digest(out, s->store->db, s->store->tree);
    return bt_tree_digest(out, s->tree);
}

/* The digest of the current state as a JSON string, or NULL. */
static json_t *digest_json(big_state *s)
{
    uint8_t digest[BT_DIGEST_LEN];
    if (current_digest(digest, s) != 0)
        return NULL;
    char *hex = hex_encode(digest, sizeof digest);
    json_t *str = hex ? json_string(hex) : NULL;
    free(hex);
    return str;
}

static json_t *chain_json(const big_state *s)
{
    char *hex = hex_encode(s->chain, sizeof s->chain);
    json_t *str = hex ? json_string(hex) : NULL;
    free(hex);
    return str;
}

/* The batch through the store: one transaction, proved before commit.
 * *proof is owned by the caller (bt_free). */
static int store_batch(big_state *s, uint8_t **proof, size_t *proof_len)
{
    big_store *st = s->store;
    unsigned long long b = (unsigned long long)s->batches + 1;
    uint8_t digest[BT_DIGEST_LEN], committed[BT_DIGEST_LEN];
    bt_txn *txn = NULL;
    const char *what = "bt_txn_begin";
    int rc = bt_txn_begin(&txn, st->db);
    if (rc == 0 && (what = "bt_txn_apply",
                    rc = bt_txn_apply(txn, st->tree, s->ops, s->fill, s->results)) == 0 &&
        (what = "bt_txn_prove", rc = bt_txn_prove(proof, proof_len, digest, txn, st->tree)) == 0) {
        what = "bt_txn_commit";
        rc = bt_txn_commit(txn, NULL);
        txn = NULL;
    }
    bt_txn_abort(txn);
    if (rc == 0 && (what = "bt_db_digest", rc = bt_db_digest(committed, st->db, st->tree)) == 0 &&
        memcmp(digest, committed, sizeof digest) != 0)
        return big_fail(s, "batch %llu: bt_txn_prove digest differs from the committed one", b);
    if (rc != 0) {
        bt_free(*proof);
        *proof = NULL;
        return big_fail(s, "batch %llu: %s: %s (%s)", b, what, bt_strerror(rc),
                        bt_db_errmsg(st->db));
    }
    if (st->reopen_every == 0 || (s->batches + 1) % st->reopen_every != 0)
        return 0;
    char msg[300] = "";
    rc = bt_db_close(st->db);
    st->db = NULL;
    if (rc == 0)
        rc = bt_db_open(&st->db, st->dir, st->opts, msg, sizeof msg);
    if (rc == 0)
        rc = bt_db_digest(digest, st->db, st->tree);
    if (rc != 0)
        return big_fail(s, "batch %llu: reopen: %s (%s)", b, bt_strerror(rc), msg);
    if (memcmp(digest, committed, sizeof digest) != 0)
        return big_fail(s, "batch %llu: digest after reopen differs", b);
    return 0;
}

/* Applies the queued operations, proves them and extends the proof chain. */
static int flush(big_state *s)
{
    uint8_t *proof = NULL;
    size_t proof_len = 0;
    int rc;
    if (s->fill == 0)
        return 0;
    if (s->store != NULL) {
        if (store_batch(s, &proof, &proof_len) != 0) {
            bt_free(proof);
            return -1;
        }
    } else {
        rc = bt_tree_apply_batch(s->tree, s->ops, s->fill, s->results);
        if (rc != 0)
            return big_fail(s, "batch %llu: apply: %s (%s)", (unsigned long long)s->batches + 1,
                            bt_strerror(rc), bt_tree_errmsg(s->tree));
        rc = bt_tree_prove(&proof, &proof_len, s->tree);
        if (rc != 0)
            return big_fail(s, "batch %llu: prove: %s (%s)", (unsigned long long)s->batches + 1,
                            bt_strerror(rc), bt_tree_errmsg(s->tree));
    }
    for (size_t i = 0; i < s->fill; i++)
        s->failed_ops += s->results[i].status != 0;
    uint8_t len_be[4];
    crypto_generichash_state h;
    put_be(len_be, (uint64_t)proof_len, 4);
    crypto_generichash_init(&h, NULL, 0, BIG_HASH_LEN);
    crypto_generichash_update(&h, s->chain, sizeof s->chain);
    crypto_generichash_update(&h, len_be, sizeof len_be);
    crypto_generichash_update(&h, proof, proof_len);
    crypto_generichash_final(&h, s->chain, sizeof s->chain);
    bt_free(proof);

    s->proof_bytes += proof_len;
    s->batches++;
    s->phase_batches++;
    s->fill = 0;
    if (s->batches % s->p->checkpoint == 0) {
        json_t *cp = json_object();
        if (cp == NULL || json_array_append_new(s->checkpoints, cp) != 0 ||
            json_object_set_new(cp, "batch", json_integer((json_int_t)s->batches)) != 0 ||
            json_object_set_new(cp, "digest", digest_json(s)) != 0 ||
            json_object_set_new(cp, "proof_chain", chain_json(s)) != 0)
            return big_fail(s, "out of memory");
    }
    return 0;
}

/* Queues one operation on key(i); vtag names the value ("avlvec:val"...) or
 * is NULL for operations without a value.  Flushes a full batch. */
static int queue(big_state *s, bt_op_type type, uint64_t i, const char *vtag)
{
    uint8_t *key = s->keys + s->fill * BIG_HASH_LEN;
    uint8_t *value = s->values + s->fill * BIG_HASH_LEN;
    bt_op *op = &s->ops[s->fill];

    derive(key, "avlvec:key", s->p->seed, i);
    op->type = type;
    op->key = key;
    op->key_len = BIG_KEY_LEN;
    op->value = NULL;
    op->value_len = 0;
    if (vtag != NULL) {
        derive(value, vtag, s->p->seed, i);
        op->value = value;
        op->value_len = 8;
        if (!s->p->fixed8) {
            uint8_t vlen[BIG_HASH_LEN];
            derive(vlen, "avlvec:vlen", s->p->seed, i);
            op->value_len = vlen[0] % 33;
        }
    }
    if (++s->fill == s->p->batch)
        return flush(s);
    return 0;
}

/* Flushes the last, shorter batch of a phase and records the phase. */
static int end_phase(big_state *s, const char *name)
{
    if (flush(s) != 0)
        return -1;
    json_t *ph = json_object();
    if (ph == NULL || json_array_append_new(s->phases, ph) != 0 ||
        json_object_set_new(ph, "batches", json_integer((json_int_t)s->phase_batches)) != 0 ||
        json_object_set_new(ph, "digest", digest_json(s)) != 0 ||
        json_object_set_new(ph, "phase", json_string(name)) != 0 ||
        json_object_set_new(ph, "proof_chain", chain_json(s)) != 0)
        return big_fail(s, "out of memory");
    s->phase_batches = 0;
    return 0;
}

static int run_phases(big_state *s)
{
    const uint64_t n = s->p->n, extra = n / 4;
    uint64_t i;
    for (i = 0; i < n; i++)
        if (queue(s, BT_OP_INSERT, i, "avlvec:val") != 0)
            return -1;
    if (end_phase(s, "insert") != 0)
        return -1;
    if (!s->p->full)
        return 0;
    for (i = 0; i < n; i += 3)
        if (queue(s, BT_OP_UPDATE, i, "avlvec:val2") != 0)
            return -1;
    if (end_phase(s, "update") != 0)
        return -1;
    for (i = 0; i < n; i += 2)
        if (queue(s, BT_OP_REMOVE, i, NULL) != 0)
            return -1;
    if (end_phase(s, "remove") != 0)
        return -1;
    for (i = 0; i < n; i += 5)
        if (queue(s, BT_OP_INSERT_OR_UPDATE, i, "avlvec:val3") != 0)
            return -1;
    for (i = n; i < n + extra; i++)
        if (queue(s, BT_OP_INSERT_OR_UPDATE, i, "avlvec:val3") != 0)
            return -1;
    if (end_phase(s, "insert_or_update") != 0)
        return -1;
    for (i = 0; i < n + extra; i += 7)
        if (queue(s, BT_OP_LOOKUP, i, NULL) != 0)
            return -1;
    return end_phase(s, "lookup");
}

static json_int_t final_height(big_state *s)
{
    uint8_t digest[BT_DIGEST_LEN];
    if (s->store == NULL)
        return bt_tree_height(s->tree);
    return current_digest(digest, s) == 0 ? digest[BT_DIGEST_LEN - 1] : -1;
}

/* Assembles the output object (members in the reference's order). */
static json_t *result_json(big_state *s, const uint8_t initial[BT_DIGEST_LEN])
{
    const big_params *p = s->p;
    char *init_hex = hex_encode(initial, BT_DIGEST_LEN);
    json_t *out = json_object();
    int bad = init_hex == NULL || out == NULL;
    if (!bad)
        bad = json_object_set_new(out, "batch_size", json_integer((json_int_t)p->batch)) |
              json_object_set_new(out, "checkpoint_every", json_integer((json_int_t)p->checkpoint)) |
              json_object_set(out, "checkpoints", s->checkpoints) |
              json_object_set_new(out, "failed_ops", json_integer((json_int_t)s->failed_ops)) |
              json_object_set_new(out, "final_digest", digest_json(s)) |
              json_object_set_new(out, "final_height", json_integer(final_height(s))) |
              json_object_set_new(out, "initial_digest", json_string(init_hex)) |
              json_object_set_new(out, "key_length", json_integer(BIG_KEY_LEN)) |
              json_object_set_new(out, "mode", json_string(p->full ? "full" : "inserts")) |
              json_object_set_new(out, "n", json_integer((json_int_t)p->n)) |
              json_object_set(out, "phases", s->phases) |
              json_object_set_new(out, "seed", json_integer((json_int_t)p->seed)) |
              json_object_set_new(out, "total_batches", json_integer((json_int_t)s->batches)) |
              json_object_set_new(out, "total_proof_bytes",
                                  json_integer((json_int_t)s->proof_bytes)) |
              json_object_set_new(out, "type", json_string("big")) |
              json_object_set_new(out, "value_length", p->fixed8 ? json_integer(8) : json_null()) |
              json_object_set_new(out, "values", json_string(p->fixed8 ? "fixed8" : "var"));
    free(init_hex);
    if (bad) {
        json_decref(out);
        return NULL;
    }
    return out;
}

int big_run(json_t **out, const big_params *p, char *err, size_t errlen)
{
    return big_run_db(out, p, NULL, err, errlen);
}

int big_run_db(json_t **out, const big_params *p, big_store *store, char *err, size_t errlen)
{
    big_state s = {.p = p, .store = store, .err = err, .errlen = errlen};
    bt_params params = BT_PARAMS_INIT;
    uint8_t initial[BT_DIGEST_LEN];
    int rc = -1;

    *out = NULL;
    if (p->batch == 0 || p->batch > BIG_BATCH_MAX || p->checkpoint == 0 ||
        p->n > (uint64_t)INT64_MAX / 2 || p->seed > (uint64_t)INT64_MAX)
        return big_fail(&s, "parameters out of range (batch 1..%u, checkpoint >= 1)",
                        BIG_BATCH_MAX);
    if (sodium_init() < 0)
        return big_fail(&s, "libsodium failed to initialise");
    params.key_len = BIG_KEY_LEN;
    params.value_len = p->fixed8 ? 8 : BT_VALUE_VARIABLE;
    s.ops = malloc(p->batch * sizeof *s.ops);
    s.results = malloc(p->batch * sizeof *s.results);
    s.keys = malloc(p->batch * BIG_HASH_LEN);
    s.values = malloc(p->batch * BIG_HASH_LEN);
    s.checkpoints = json_array();
    s.phases = json_array();
    if (!s.ops || !s.results || !s.keys || !s.values || !s.checkpoints || !s.phases) {
        big_fail(&s, "out of memory");
        goto done;
    }
    int trc = store ? bt_db_tree_create(store->db, store->tree, &params)
                    : bt_tree_new(&s.tree, &params);
    if (trc != 0) {
        big_fail(&s, "%s: %s (%s)", store ? "bt_db_tree_create" : "bt_tree_new",
                 bt_strerror(trc), store ? bt_db_errmsg(store->db) : "");
        goto done;
    }
    trc = current_digest(initial, &s);
    if (trc != 0) {
        big_fail(&s, "bt_tree_digest: %s", bt_strerror(trc));
        goto done;
    }
    if (run_phases(&s) != 0)
        goto done;
    *out = result_json(&s, initial);
    if (*out == NULL) {
        big_fail(&s, "out of memory");
        goto done;
    }
    rc = 0;
done:
    bt_tree_free(s.tree);
    json_decref(s.checkpoints);
    json_decref(s.phases);
    free(s.ops);
    free(s.results);
    free(s.keys);
    free(s.values);
    return rc;
}

static int get_u64(uint64_t *out, const json_t *obj, const char *key, char *err, size_t errlen)
{
    const json_t *v = json_object_get(obj, key);
    if (!json_is_integer(v) || json_integer_value(v) < 0) {
        snprintf(err, errlen, "missing or negative \"%s\"", key);
        return -1;
    }
    *out = (uint64_t)json_integer_value(v);
    return 0;
}

int big_params_from_json(big_params *out, const json_t *line, char *err, size_t errlen)
{
    big_params p = BIG_PARAMS_INIT;
    const char *values = json_string_value(json_object_get(line, "values"));
    const char *mode = json_string_value(json_object_get(line, "mode"));
    if (get_u64(&p.seed, line, "seed", err, errlen) != 0 ||
        get_u64(&p.n, line, "n", err, errlen) != 0 ||
        get_u64(&p.batch, line, "batch_size", err, errlen) != 0 ||
        get_u64(&p.checkpoint, line, "checkpoint_every", err, errlen) != 0)
        return -1;
    if (values == NULL || (strcmp(values, "var") != 0 && strcmp(values, "fixed8") != 0)) {
        snprintf(err, errlen, "\"values\" must be \"var\" or \"fixed8\"");
        return -1;
    }
    if (mode == NULL || (strcmp(mode, "inserts") != 0 && strcmp(mode, "full") != 0)) {
        snprintf(err, errlen, "\"mode\" must be \"inserts\" or \"full\"");
        return -1;
    }
    p.fixed8 = strcmp(values, "fixed8") == 0;
    p.full = strcmp(mode, "full") == 0;
    *out = p;
    return 0;
}
