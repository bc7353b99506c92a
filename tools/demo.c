/*
 * demo.c -- "basis-trees demo": a Basis tracker tree, end to end.
 *
 * Basis (BetterMoneyLabs/basis-tracker) keeps the debts between pairs of
 * parties in an authenticated AVL+ tree whose digest lives in an Ergo box
 * register.  The demo plays the tracker:
 *   1. derives note keys Blake2b-256(issuer || recipient) from deterministic
 *      fake compressed public keys 0x02 || Blake2b-256("basis-demo:<role>" ||
 *      u64be(j)), and tracker values (total debt, u64 big-endian);
 *   2. inserts them in a few batches, proving each batch and checking every
 *      proof with the verifier, as an on-chain contract would;
 *   3. asks "what if" two notes were InsertOrUpdate'd (one existing debt
 *      raised, one new note) without touching the tree, and verifies that
 *      proof too;
 *   4. prints the SAvlTree register (R5) that would carry the final digest.
 */
#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <basistrees.h>

#include "cli.h"
#include "hex.h"
#include "jsonio.h"

#define DEMO_KEYS_DEFAULT 100000u
#define DEMO_KEYS_MAX 10000000u
#define DEMO_BATCHES_DEFAULT 4u
#define DEMO_WHATIF_OPS 2

static const char demo_usage[] =
    "usage: " CLI_NAME " demo [--keys N] [--batches B] [--json]\n"
    "       " CLI_NAME " demo DIR [...]   a tracker's day on a data directory (demo DIR --help)\n"
    "\n"
    "Builds a Basis tracker tree: derives N note keys from deterministic fake\n"
    "public keys, inserts their debts in B batches, proves every batch and checks\n"
    "each proof with the verifier, verifies a what-if InsertOrUpdate proof, and\n"
    "prints the digests, the SAvlTree R5 register and timings.\n"
    "\n"
    "  --keys N      number of notes (default 100000, at most 10000000)\n"
    "  --batches B   number of insert batches (default 4)\n"
    "  --json        print one JSON object instead of a table\n";

/* Note j of the demo: its key and the debt it records. */
typedef struct demo_note {
    uint8_t issuer[BT_PUBKEY_LEN], recipient[BT_PUBKEY_LEN];
    uint8_t key[BT_NOTE_KEY_LEN];
    uint8_t value[BT_TRACKER_VALUE_LEN];
    uint64_t debt;
} demo_note;

static void fake_pubkey(uint8_t out[BT_PUBKEY_LEN], const char *role, uint64_t j)
{
    uint8_t msg[64];
    size_t n = (size_t)snprintf((char *)msg, sizeof msg - 8, "basis-demo:%s", role);
    for (int i = 0; i < 8; i++)
        msg[n + (size_t)i] = (uint8_t)(j >> (56 - 8 * i));
    out[0] = 0x02;
    crypto_generichash(out + 1, BT_PUBKEY_LEN - 1, msg, n + 8, NULL, 0);
}

static int make_note(demo_note *note, uint64_t j, uint64_t debt)
{
    fake_pubkey(note->issuer, "issuer", j);
    fake_pubkey(note->recipient, "recipient", j);
    note->debt = debt;
    bt_basis_tracker_value(note->value, debt);
    return bt_basis_note_key(note->key, note->issuer, note->recipient);
}

static bt_op note_op(bt_op_type type, const demo_note *note)
{
    bt_op op = {type, note->key, sizeof note->key, note->value, sizeof note->value};
    return op;
}

/* Verifies proof from start with ops; returns 1 if every op succeeds and the
 * digest is want.  results (may be NULL) are compared with want_results. */
static int verify_batch(const uint8_t start[BT_DIGEST_LEN], const uint8_t *proof, size_t proof_len,
                        const bt_op *ops, size_t n, const bt_result *want_results,
                        const uint8_t want[BT_DIGEST_LEN])
{
    bt_verifier *v = NULL;
    uint8_t digest[BT_DIGEST_LEN];
    bt_params params = BT_PARAMS_INIT;
    if (bt_verifier_new(&v, &params, start, BT_DIGEST_LEN, proof, proof_len, NULL) != 0)
        return 0;
    int ok = 1;
    for (size_t i = 0; ok && i < n; i++) {
        bt_result res;
        ok = bt_verifier_apply(v, &ops[i], &res) == 0;
        if (ok && want_results != NULL)
            ok = res.found == want_results[i].found && res.old_len == want_results[i].old_len &&
                 (res.old_len == 0 || memcmp(res.old, want_results[i].old, res.old_len) == 0);
    }
    ok = ok && bt_verifier_digest(digest, v) == 0 && memcmp(digest, want, BT_DIGEST_LEN) == 0;
    bt_verifier_free(v);
    return ok;
}

/* Adds a hex string member; returns 0 or -1. */
static int set_hex(json_t *obj, const char *key, const uint8_t *buf, size_t len)
{
    char *hex = hex_encode(buf, len);
    int rc = hex ? json_object_set_new(obj, key, json_string(hex)) : -1;
    free(hex);
    return rc;
}

typedef struct demo {
    uint64_t keys, batches;
    int json;
    bt_tree *tree;
    demo_note *notes;
    bt_op *ops;
    bt_result *results;
    json_t *out;       /* the report, printed as a table or as JSON */
    double prove_s, verify_s;
} demo;

/* Inserts notes [from, to) as one batch, proves and verifies it. */
static int run_batch(demo *d, uint64_t b, uint64_t from, uint64_t to)
{
    uint8_t start[BT_DIGEST_LEN], end[BT_DIGEST_LEN], *proof = NULL;
    size_t proof_len = 0, n = (size_t)(to - from);
    for (size_t i = 0; i < n; i++)
        d->ops[i] = note_op(BT_OP_INSERT, &d->notes[from + i]);
    double t0 = cli_now();
    int rc = bt_tree_digest(start, d->tree);
    if (rc == 0)
        rc = bt_tree_apply_batch(d->tree, d->ops, n, d->results);
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = d->results[i].status;
    if (rc == 0)
        rc = bt_tree_prove(&proof, &proof_len, d->tree);
    if (rc == 0)
        rc = bt_tree_digest(end, d->tree);
    double t1 = cli_now();
    if (rc != 0) {
        cli_error("demo: batch %llu: %s (%s)", (unsigned long long)b, bt_strerror(rc),
                  bt_tree_errmsg(d->tree));
        bt_free(proof);
        return -1;
    }
    int verified = verify_batch(start, proof, proof_len, d->ops, n, NULL, end);
    double t2 = cli_now();
    bt_free(proof);
    d->prove_s += t1 - t0;
    d->verify_s += t2 - t1;

    json_t *row = json_pack("{s:I,s:I,s:I,s:f,s:f,s:b}", "batch", (json_int_t)b, "notes",
                            (json_int_t)n, "proof_bytes", (json_int_t)proof_len, "prove_ms",
                            (t1 - t0) * 1e3, "verify_ms", (t2 - t1) * 1e3, "verified", verified);
    if (row == NULL || set_hex(row, "digest", end, sizeof end) != 0 ||
        json_array_append_new(json_object_get(d->out, "batches"), row) != 0) {
        cli_error("demo: out of memory");
        return -1;
    }
    if (!verified) {
        cli_error("demo: batch %llu: proof rejected by the verifier", (unsigned long long)b);
        return -1;
    }
    return 0;
}

/* Proves two InsertOrUpdate operations without applying them. */
static int run_whatif(demo *d)
{
    demo_note extra[DEMO_WHATIF_OPS];
    bt_op ops[DEMO_WHATIF_OPS];
    bt_result res[DEMO_WHATIF_OPS];
    uint8_t before[BT_DIGEST_LEN], after[BT_DIGEST_LEN], what[BT_DIGEST_LEN], *proof = NULL;
    size_t proof_len = 0;

    extra[0] = d->notes[0]; /* the first note's debt grows by 0.25 ERG */
    extra[0].debt += 250000000u;
    bt_basis_tracker_value(extra[0].value, extra[0].debt);
    if (make_note(&extra[1], d->keys, 50000000u) != 0) /* a note not in the tree */
        return -1;
    for (int i = 0; i < DEMO_WHATIF_OPS; i++)
        ops[i] = note_op(BT_OP_INSERT_OR_UPDATE, &extra[i]);
    int rc = bt_tree_digest(before, d->tree);
    if (rc == 0)
        rc = bt_tree_whatif(&proof, &proof_len, what, res, d->tree, ops, DEMO_WHATIF_OPS);
    /* Read the old values now: they are borrowed until the next tree call. */
    uint64_t old_debt = 0;
    int old_ok = rc == 0 && res[0].status == 0 && res[0].found &&
                 bt_basis_tracker_value_decode(&old_debt, res[0].old, res[0].old_len) == 0 &&
                 old_debt == d->notes[0].debt && res[1].status == 0 && !res[1].found;
    if (rc == 0)
        rc = bt_tree_digest(after, d->tree);
    if (rc != 0) {
        cli_error("demo: what-if: %s (%s)", bt_strerror(rc), bt_tree_errmsg(d->tree));
        bt_free(proof);
        return -1;
    }
    bt_result want[DEMO_WHATIF_OPS] = {{0, 1, d->notes[0].value, BT_TRACKER_VALUE_LEN},
                                       {0, 0, NULL, 0}};
    int verified = old_ok && verify_batch(before, proof, proof_len, ops, DEMO_WHATIF_OPS, want,
                                          what);
    int unchanged = memcmp(before, after, sizeof before) == 0;
    bt_free(proof);
    json_t *w = json_pack("{s:I,s:I,s:I,s:b,s:b}", "updated", (json_int_t)1, "inserted",
                          (json_int_t)1, "proof_bytes", (json_int_t)proof_len, "verified",
                          verified, "tree_unchanged", unchanged);
    if (w == NULL || set_hex(w, "digest", what, sizeof what) != 0 ||
        json_object_set_new(d->out, "whatif", w) != 0)
        return -1;
    if (!verified || !unchanged)
        cli_error("demo: what-if proof %s", !verified ? "rejected" : "changed the tree");
    return verified && unchanged ? 0 : -1;
}

/* The final digest, height, key count and R5 register. */
static int finish(demo *d)
{
    bt_avl_register reg = {{0}, BT_AVL_INSERT_ALLOWED | BT_AVL_UPDATE_ALLOWED, BT_NOTE_KEY_LEN, 0,
                           0};
    uint8_t r5[BT_AVL_REGISTER_MAX];
    size_t r5_len = 0;
    int rc = bt_tree_digest(reg.digest, d->tree);
    if (rc == 0)
        rc = bt_avl_register_encode(r5, sizeof r5, &r5_len, &reg);
    if (rc != 0) {
        cli_error("demo: %s", bt_strerror(rc));
        return -1;
    }
    json_t *o = d->out;
    if (set_hex(o, "final_digest", reg.digest, sizeof reg.digest) != 0 ||
        set_hex(o, "r5_register", r5, r5_len) != 0 ||
        json_object_set_new(o, "height", json_integer(bt_tree_height(d->tree))) != 0 ||
        json_object_set_new(o, "keys", json_integer((json_int_t)bt_tree_count(d->tree))) != 0 ||
        json_object_set_new(o, "insert_prove_ms", json_real(d->prove_s * 1e3)) != 0 ||
        json_object_set_new(o, "verify_ms", json_real(d->verify_s * 1e3)) != 0)
        return -1;
    return 0;
}

static void print_table(const json_t *o)
{
    const json_t *row, *w = json_object_get(o, "whatif");
    size_t i;
    double prove_ms = json_real_value(json_object_get(o, "insert_prove_ms"));
    long long keys = json_integer_value(json_object_get(o, "keys"));
    printf("Basis tracker tree: %lld notes (libbasistrees %s)\n", keys, bt_version());
    printf("note 0: issuer %s\n        recipient %s\n        key %s  debt %lld nanoERG\n\n",
           jsonio_str(o, "note0_issuer"), jsonio_str(o, "note0_recipient"),
           jsonio_str(o, "note0_key"), json_integer_value(json_object_get(o, "note0_debt")));
    printf("%5s %8s %12s %9s %9s  %s\n", "batch", "notes", "proof bytes", "prove ms", "verify ms",
           "digest after the batch");
    json_array_foreach(json_object_get(o, "batches"), i, row)
        printf("%5lld %8lld %12lld %9.1f %9.1f  %s\n",
               json_integer_value(json_object_get(row, "batch")),
               json_integer_value(json_object_get(row, "notes")),
               json_integer_value(json_object_get(row, "proof_bytes")),
               json_real_value(json_object_get(row, "prove_ms")),
               json_real_value(json_object_get(row, "verify_ms")), jsonio_str(row, "digest"));
    printf("\nwhat-if InsertOrUpdate (1 debt raised, 1 new note): proof %lld bytes, verified: %s,"
           " tree unchanged: %s\n  digest if applied: %s\n",
           json_integer_value(json_object_get(w, "proof_bytes")),
           json_is_true(json_object_get(w, "verified")) ? "yes" : "NO",
           json_is_true(json_object_get(w, "tree_unchanged")) ? "yes" : "NO",
           jsonio_str(w, "digest"));
    printf("\nfinal digest: %s (height %lld)\n", jsonio_str(o, "final_digest"),
           json_integer_value(json_object_get(o, "height")));
    printf("R5 register (SAvlTree: insert+update, key length 32, variable values):\n  %s\n",
           jsonio_str(o, "r5_register"));
    printf("\ntime: insert+prove %.1f ms (%.0f notes/s), verify %.1f ms\n", prove_ms,
           prove_ms > 0 ? (double)keys / (prove_ms / 1e3) : 0.0,
           json_real_value(json_object_get(o, "verify_ms")));
}

/* Derives the notes and records note 0 in the report. */
static int derive_notes(demo *d)
{
    for (uint64_t j = 0; j < d->keys; j++)
        if (make_note(&d->notes[j], j, 1000000u * (1 + (j * 7919u) % 1000u)) != 0)
            return -1;
    const demo_note *n0 = &d->notes[0];
    if (set_hex(d->out, "note0_issuer", n0->issuer, sizeof n0->issuer) != 0 ||
        set_hex(d->out, "note0_recipient", n0->recipient, sizeof n0->recipient) != 0 ||
        set_hex(d->out, "note0_key", n0->key, sizeof n0->key) != 0 ||
        json_object_set_new(d->out, "note0_debt", json_integer((json_int_t)n0->debt)) != 0)
        return -1;
    return 0;
}

static int run_demo(demo *d)
{
    bt_params params = BT_PARAMS_INIT;
    size_t per = (size_t)((d->keys + d->batches - 1) / d->batches);
    d->notes = malloc((size_t)d->keys * sizeof *d->notes);
    d->ops = malloc(per * sizeof *d->ops);
    d->results = malloc(per * sizeof *d->results);
    d->out = json_pack("{s:I,s:[]}", "notes", (json_int_t)d->keys, "batches");
    if (d->notes == NULL || d->ops == NULL || d->results == NULL || d->out == NULL) {
        cli_error("demo: out of memory");
        return -1;
    }
    int rc = bt_tree_new(&d->tree, &params);
    if (rc != 0) {
        cli_error("demo: bt_tree_new: %s", bt_strerror(rc));
        return -1;
    }
    if (derive_notes(d) != 0) {
        cli_error("demo: deriving note keys failed");
        return -1;
    }
    for (uint64_t b = 0, from = 0; from < d->keys; b++, from += per)
        if (run_batch(d, b, from, from + per < d->keys ? from + per : d->keys) != 0)
            return -1;
    if (run_whatif(d) != 0 || finish(d) != 0)
        return -1;
    return 0;
}

int cmd_demo(int argc, char **argv)
{
    /* demo DIR: the tracker's day on a data directory (demo_day.c); the
     * in-memory demo takes no positional argument (values of its own
     * options --keys N / --batches B are skipped) */
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--keys") || !strcmp(argv[i], "--batches")) {
            i++;
            continue;
        }
        if (argv[i][0] != '-') return cmd_demo_day(argc, argv);
    }
    static const struct option longopts[] = {
        {"keys", required_argument, NULL, 'k'}, {"batches", required_argument, NULL, 'b'},
        {"json", no_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    demo d = {.keys = DEMO_KEYS_DEFAULT, .batches = DEMO_BATCHES_DEFAULT};
    int opt;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        if (opt == 'h') {
            fputs(demo_usage, stdout);
            return CLI_OK;
        } else if (opt == 'j') {
            d.json = 1;
        } else if (opt == 'k' || opt == 'b') {
            uint64_t *num = opt == 'k' ? &d.keys : &d.batches;
            if (cli_parse_u64(num, optarg) != 0)
                return cli_usage_error("demo", "bad number '%s'", optarg);
        } else if (opt == ':') {
            return cli_usage_error("demo", "option '%s' needs a value", argv[optind - 1]);
        } else {
            return cli_usage_error("demo", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return cli_usage_error("demo", "unexpected argument '%s'", argv[optind]);
    if (d.keys == 0 || d.keys > DEMO_KEYS_MAX || d.batches == 0 || d.batches > d.keys)
        return cli_usage_error("demo", "--keys must be 1..%u and --batches 1..keys",
                               DEMO_KEYS_MAX);
    if (sodium_init() < 0) {
        cli_error("demo: libsodium failed to initialise");
        return CLI_FAIL;
    }
    double t0 = cli_now();
    int rc = run_demo(&d);
    if (rc == 0) {
        json_object_set_new(d.out, "total_ms", json_real((cli_now() - t0) * 1e3));
        if (d.json) {
            char *s = json_dumps(d.out, JSON_COMPACT | JSON_REAL_PRECISION(6));
            printf("%s\n", s ? s : "{}");
            free(s);
        } else {
            print_table(d.out);
        }
    }
    bt_tree_free(d.tree);
    free(d.notes);
    free(d.ops);
    free(d.results);
    json_decref(d.out);
    return rc == 0 ? CLI_OK : CLI_FAIL;
}
