/*
 * embed_tracker.c -- a Basis tracker tree embedded in a program.
 *
 *   cc embed_tracker.c $(pkg-config --cflags --libs basistrees) -o embed_tracker
 *   ./embed_tracker DIR [NOTES]
 *
 * Opens (or creates) the database in DIR with a "tracker" tree (32-byte note
 * keys, 8-byte big-endian totals), adds NOTES debts (default 100) in one
 * transaction, shows the batch proof a tracker would publish, commits, and
 * then serves a lookup proof for one note against the committed digest --
 * checked here with the verifier, and printed as a command line for the
 * verify_proof example.  Running it again on the same DIR raises every
 * debt (InsertOrUpdate): the tree persists between runs.
 *
 * Only the public header is used.  Every call is checked; on failure the
 * program prints the library's message and exits 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <basistrees.h>

#define TREE "tracker"

static void print_hex(const char *label, const uint8_t *buf, size_t len)
{
    printf("%s", label);
    for (size_t i = 0; i < len; i++)
        printf("%02x", buf[i]);
    printf("\n");
}

static int fail(const char *what, int rc, bt_db *db)
{
    fprintf(stderr, "embed_tracker: %s: %s (%s)\n", what, bt_strerror(rc),
            db ? bt_db_errmsg(db) : "");
    return 1;
}

/* A deterministic stand-in for a compressed secp256k1 public key. */
static void fake_pubkey(uint8_t out[BT_PUBKEY_LEN], unsigned who)
{
    out[0] = 0x02;
    for (unsigned i = 1; i < BT_PUBKEY_LEN; i++)
        out[i] = (uint8_t)(who * 31u + i * 7u);
}

/* Note i: issuer i % 7 owes recipient 100 + i. */
static int note_key(uint8_t key[BT_NOTE_KEY_LEN], unsigned i)
{
    uint8_t issuer[BT_PUBKEY_LEN], recipient[BT_PUBKEY_LEN];
    fake_pubkey(issuer, i % 7);
    fake_pubkey(recipient, 100 + i);
    return bt_basis_note_key(key, issuer, recipient);
}

/* Adds (or raises) the debts of notes 0..n-1 in one transaction. */
static int add_debts(bt_db *db, unsigned n)
{
    uint8_t(*keys)[BT_NOTE_KEY_LEN] = calloc(n, sizeof *keys);
    uint8_t(*values)[BT_TRACKER_VALUE_LEN] = calloc(n, sizeof *values);
    bt_op *ops = calloc(n, sizeof *ops);
    bt_result *results = calloc(n, sizeof *results);
    uint64_t *totals = calloc(n, sizeof *totals);
    bt_txn *txn = NULL;
    uint8_t *proof = NULL, digest[BT_DIGEST_LEN];
    size_t proof_len = 0;
    bt_commit_info info;
    int rc = BT_ENOMEM, status = 1;

    if (!keys || !values || !ops || !results || !totals)
        goto out;
    for (unsigned i = 0; i < n; i++) {
        uint8_t *old = NULL;
        size_t old_len = 0;
        if ((rc = note_key(keys[i], i)) != 0)
            goto out;
        /* The new total is the stored total plus this note's increment. */
        rc = bt_db_get(&old, &old_len, db, TREE, keys[i], BT_NOTE_KEY_LEN);
        if (rc == 0) {
            rc = bt_basis_tracker_value_decode(&totals[i], old, old_len);
            bt_free(old);
            if (rc != 0)
                goto out;
        } else if (rc != BT_ENOTFOUND) {
            goto out;
        }
        totals[i] += 1000u + i;
        bt_basis_tracker_value(values[i], totals[i]);
        ops[i] = (bt_op){BT_OP_INSERT_OR_UPDATE, keys[i], BT_NOTE_KEY_LEN, values[i],
                         BT_TRACKER_VALUE_LEN};
    }
    if ((rc = bt_txn_begin(&txn, db)) != 0 ||
        (rc = bt_txn_apply(txn, TREE, ops, n, results)) != 0 ||
        (rc = bt_txn_prove(&proof, &proof_len, digest, txn, TREE)) != 0)
        goto out;
    for (unsigned i = 0; i < n; i++)
        if (results[i].status != 0) {
            rc = results[i].status;
            goto out;
        }
    rc = bt_txn_commit(txn, &info);
    txn = NULL; /* commit frees the transaction, even on failure */
    if (rc != 0)
        goto out;
    printf("committed %u notes as commit %llu: batch proof %zu bytes\n", n,
           (unsigned long long)info.commit_seq, proof_len);
    status = 0;
out:
    if (status != 0)
        fail("adding debts", rc, db);
    bt_txn_abort(txn);
    bt_free(proof);
    free(keys);
    free(values);
    free(ops);
    free(results);
    free(totals);
    return status;
}

/* A lookup proof for note 0 against the committed digest, checked with the
 * verifier as a light client would. */
static int serve_lookup(bt_db *db)
{
    uint8_t key[BT_NOTE_KEY_LEN], digest[BT_DIGEST_LEN], end[BT_DIGEST_LEN];
    uint8_t *proof = NULL;
    size_t proof_len = 0;
    bt_result res;
    bt_params params;
    bt_verifier *v = NULL;
    uint64_t total = 0;
    int rc;

    if ((rc = note_key(key, 0)) != 0)
        return fail("note key", rc, NULL);
    bt_op lookup = {BT_OP_LOOKUP, key, sizeof key, NULL, 0};
    if ((rc = bt_db_digest(digest, db, TREE)) != 0 ||
        (rc = bt_db_tree_params(&params, db, TREE)) != 0 ||
        (rc = bt_db_prove(&proof, &proof_len, end, &res, db, TREE, &lookup, 1)) != 0)
        return fail("lookup proof", rc, db);

    /* The verifier needs only the digest, the proof and the operation. */
    rc = bt_verifier_new(&v, &params, digest, sizeof digest, proof, proof_len, NULL);
    if (rc == 0)
        rc = bt_verifier_apply(v, &lookup, &res);
    if (rc == 0 && res.found)
        rc = bt_basis_tracker_value_decode(&total, res.old, res.old_len);
    if (rc != 0 || !res.found) {
        fprintf(stderr, "embed_tracker: own proof rejected: %s (%s)\n", bt_strerror(rc),
                v ? bt_verifier_errmsg(v) : "");
        bt_verifier_free(v);
        bt_free(proof);
        return 1;
    }
    bt_verifier_free(v);

    printf("note 0 total debt: %llu (lookup proof %zu bytes, verified)\n",
           (unsigned long long)total, proof_len);
    print_hex("digest: ", digest, sizeof digest);
    printf("check: verify_proof ");
    for (size_t i = 0; i < sizeof digest; i++)
        printf("%02x", digest[i]);
    printf(" ");
    for (size_t i = 0; i < proof_len; i++)
        printf("%02x", proof[i]);
    printf(" Lookup:");
    for (size_t i = 0; i < sizeof key; i++)
        printf("%02x", key[i]);
    printf("\n");
    bt_free(proof);
    return 0;
}

int main(int argc, char **argv)
{
    bt_db *db = NULL;
    char msg[256];
    unsigned n = 100;
    int rc, status;

    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: embed_tracker DIR [NOTES]\n");
        return 2;
    }
    if (argc == 3) {
        char *end;
        unsigned long v = strtoul(argv[2], &end, 10);
        if (*end != '\0' || v == 0 || v > 1000000) {
            fprintf(stderr, "embed_tracker: NOTES must be 1..1000000\n");
            return 2;
        }
        n = (unsigned)v;
    }
    printf("libbasistrees %s\n", bt_version());

    bt_db_options opts = BT_DB_OPTIONS_INIT;
    opts.durability = BT_DURABILITY_SYNC; /* each commit is on disk when it returns */
    if ((rc = bt_db_open(&db, argv[1], &opts, msg, sizeof msg)) != 0) {
        fprintf(stderr, "embed_tracker: open %s: %s (%s)\n", argv[1], bt_strerror(rc), msg);
        return 1;
    }
    /* Basis tracker tree: 32-byte note keys, values of any length (8 used). */
    bt_params params = BT_PARAMS_INIT;
    rc = bt_db_tree_create(db, TREE, &params);
    if (rc != 0 && rc != BT_EEXISTS) {
        fail("create tree", rc, db);
        bt_db_close(db);
        return 1;
    }
    status = add_debts(db, n);
    if (status == 0)
        status = serve_lookup(db);
    if ((rc = bt_db_close(db)) != 0 && status == 0)
        status = fail("close", rc, NULL);
    return status;
}
