/*
 * demo_day.c -- "basis-trees demo DIR": a tracker's day on a local data
 * directory, end to end (`make run`).
 *
 *   1. A few thousand participants (deterministic fake compressed public
 *      keys); each issuer owes up to DAY_SLOTS recipients.  100k+ signed-note
 *      updates over a simulated day: a note's key is Blake2b-256(issuer ||
 *      recipient) and its tracker value the new total debt (u64 BE), as the
 *      tracker computes them; the four largest issuers also keep a reserve
 *      tree (timestamp, redeemed) that redemptions update.
 *   2. Commits of `--batch` updates with the simulated time; a commitment
 *      checkpoint every `--checkpoint-every` updates (the root the tracker
 *      would publish on chain), the newest few retained.
 *   3. Meanwhile a redeemer thread asks for proofs of random notes against
 *      the last committed checkpoint and checks each one with the verifier
 *      (the value it proves must be the note's debt at that checkpoint).
 *   4. Close, reopen (timed), check every tree and validate the newest
 *      checkpoint, back up (verified) and restore into a new directory whose
 *      digests must be equal; then a summary table.
 *
 * Layout: DIR/db (the database), DIR/backups, DIR/restored.  --fresh removes
 * those three first; without it an existing DIR/db is refused.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <basistrees.h>

#include "cli.h"
#include "hex.h"
#include "jsonio.h"

#define DAY_SLOTS 40u          /* recipients per issuer                    */
#define DAY_RESERVE_ISSUERS 4u /* issuers with a reserve tree              */
#define DAY_START_MS 1795651200000ull /* 2026-11-25T00:00:00Z             */
#define DAY_MS 86400000ull
#define DAY_PROOF_SAMPLES 1000000u

static const char day_usage[] =
    "usage: " CLI_NAME " demo DIR [--participants N] [--updates N] [--batch N]\n"
    "                        [--checkpoint-every N] [--keep K] [--fresh] [--json]\n"
    "\n"
    "A Basis tracker's day on the data directory DIR (DIR/db, DIR/backups,\n"
    "DIR/restored): note updates with the keys and values the tracker computes,\n"
    "a commitment checkpoint every N updates, redemption proofs against the last\n"
    "checkpoint verified while updates continue, a reopen, a verified backup and\n"
    "a restore; then a summary (throughput, latencies, disk use, digests, the R5\n"
    "register to publish).\n"
    "\n"
    "  --participants N      (default 3000)\n"
    "  --updates N           note updates (default 120000)\n"
    "  --batch N             updates per commit (default 500)\n"
    "  --checkpoint-every N  updates between commitments (default 5000)\n"
    "  --keep K              commitments retained (default 6)\n"
    "  --fresh               remove DIR/db, DIR/backups, DIR/restored first\n"
    "  --json                one JSON object instead of the table\n"
    "\n"
    "Without DIR, `demo` runs the in-memory tree demo (see `demo --help`).\n";

typedef struct day {
    uint64_t participants, updates, batch, every, keep;
    int fresh, json;
    const char *dir;
    char dbdir[4096], bkdir[4096], rsdir[4096];
    uint8_t (*pk)[BT_PUBKEY_LEN];
    uint64_t *debt;          /* per (issuer, slot)                              */
    uint8_t (*notekey)[32];  /* per (issuer, slot), computed once               */
    uint64_t npairs;
    char reserve_name[DAY_RESERVE_ISSUERS][40];
    bt_db *db;
    /* the redeemer */
    _Atomic int stop;
    _Atomic uint64_t pairs_at_ckpt; /* pairs with a note at the newest checkpoint */
    uint64_t proofs, bad;
    uint64_t *lat;
    size_t nlat;
    char err[256];
    /* the day's notes as the redeemer must see them at each checkpoint */
    pthread_mutex_t mu;
    uint64_t *debt_at_ckpt;  /* copy of debt at the newest checkpoint            */
    uint64_t ckpt_id;
} day;

static uint64_t mix(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

static void fake_pubkey(uint8_t out[BT_PUBKEY_LEN], uint64_t j)
{
    uint8_t msg[32];
    int n = snprintf((char *)msg, sizeof msg, "basis-day:%llu", (unsigned long long)j);
    out[0] = 0x02 | (uint8_t)(j & 1);
    crypto_generichash(out + 1, 32, msg, (size_t)n, NULL, 0);
}

/* The recipient of an issuer's slot: distinct for the DAY_SLOTS slots and
 * never the issuer (participants >= 100), so every (issuer, slot) is its own
 * note. */
static uint64_t recipient_of(const day *d, uint64_t issuer, uint64_t slot)
{
    uint64_t step = (d->participants - 1) / DAY_SLOTS; /* offsets 1 .. participants-1 */
    return (issuer + 1 + slot * step + mix(issuer) % step) % d->participants;
}

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static double pct(uint64_t *v, size_t n, double p)
{
    if (!n) return 0;
    size_t i = (size_t)(p * (double)(n - 1) + 0.5);
    return (double)v[i];
}

/* ---- the redeemer ---------------------------------------------------------------- */

static void *redeemer(void *arg)
{
    day *d = arg;
    bt_params p;
    if (bt_db_tree_params(&p, d->db, "tracker") != 0) return NULL;
    uint64_t i = 0;
    while (!atomic_load(&d->stop) && d->nlat < DAY_PROOF_SAMPLES) {
        pthread_mutex_lock(&d->mu);
        uint64_t id = d->ckpt_id, pairs = atomic_load(&d->pairs_at_ckpt);
        uint64_t pair = pairs ? mix(++i) % pairs : 0;
        uint64_t want = pairs ? d->debt_at_ckpt[pair] : 0;
        pthread_mutex_unlock(&d->mu);
        if (!id || !pairs) {
            usleep(1000);
            continue;
        }
        if (!want) continue; /* no note for that pair yet */
        bt_checkpoint *cp;
        if (bt_db_checkpoint_get(&cp, d->db, id) != 0) continue; /* retired meanwhile */
        uint8_t start[BT_DIGEST_LEN];
        for (size_t t = 0; t < cp->ntrees; t++)
            if (strcmp(cp->trees[t].name, "tracker") == 0) memcpy(start, cp->trees[t].digest, sizeof start);
        bt_free(cp);
        bt_op op = {BT_OP_LOOKUP, d->notekey[pair], 32, NULL, 0};
        uint8_t *proof = NULL, end[BT_DIGEST_LEN];
        size_t plen = 0;
        uint64_t t0 = mono_ns();
        int rc = bt_db_prove_at(&proof, &plen, end, NULL, d->db, "tracker", id, &op, 1);
        uint64_t dt = mono_ns() - t0;
        if (rc == BT_ENOTFOUND) continue; /* the checkpoint was retired meanwhile */
        if (rc) {
            snprintf(d->err, sizeof d->err, "prove at checkpoint %llu: %s: %s",
                     (unsigned long long)id, bt_strerror(rc), bt_db_errmsg(d->db));
            break;
        }
        /* the redeemer's side: only the proof and the published digest */
        bt_verifier *v = NULL;
        bt_result res;
        int ok = bt_verifier_new(&v, &p, start, sizeof start, proof, plen, NULL) == 0 &&
                 bt_verifier_apply(v, &op, &res) == 0 && res.status == 0 && res.found &&
                 res.old_len == BT_TRACKER_VALUE_LEN;
        uint64_t proved = 0;
        if (ok && bt_basis_tracker_value_decode(&proved, res.old, res.old_len) != 0) ok = 0;
        bt_verifier_free(v);
        bt_free(proof);
        if (!ok || proved != want) {
            if (!d->bad)
                snprintf(d->err, sizeof d->err, "checkpoint %llu pair %llu: verified %d, proved %llu, "
                         "want %llu", (unsigned long long)id, (unsigned long long)pair, ok,
                         (unsigned long long)proved, (unsigned long long)want);
            d->bad++;
        }
        d->lat[d->nlat++] = dt;
        d->proofs++;
    }
    return NULL;
}

/* ---- the day ---------------------------------------------------------------------- */

static int fail_db(day *d, const char *what, int rc)
{
    cli_error("demo: %s: %s: %s", what, bt_strerror(rc), d->db ? bt_db_errmsg(d->db) : "");
    return -1;
}

static int rm_rf(const char *path)
{
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    return system(cmd) == 0 ? 0 : -1;
}

static uint64_t du_bytes(const char *dir)
{
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "du -sb '%s' 2>/dev/null", dir);
    FILE *f = popen(cmd, "r");
    unsigned long long b = 0;
    if (f) {
        if (fscanf(f, "%llu", &b) != 1) b = 0;
        pclose(f);
    }
    return b;
}

/* Applies one commit: n updates starting at update number u. */
static int commit_updates(day *d, uint64_t u, uint64_t n, uint64_t *new_notes, uint64_t *redemptions)
{
    static bt_op ops[20000], rops[DAY_RESERVE_ISSUERS][2000];
    static bt_result res[20000];
    static uint8_t vals[20000][BT_TRACKER_VALUE_LEN];
    static uint8_t rvals[DAY_RESERVE_ISSUERS][2000][BT_RESERVE_VALUE_LEN];
    size_t nr[DAY_RESERVE_ISSUERS] = {0};
    uint64_t ts = DAY_START_MS + (u * DAY_MS) / d->updates;
    uint64_t issuers = d->participants / 3 ? d->participants / 3 : 1;
    for (uint64_t k = 0; k < n; k++) {
        uint64_t x = mix(u + k + 7);
        /* a skewed choice of issuer: small ids issue more */
        uint64_t issuer = (x % issuers) * ((x >> 20) % issuers) / issuers;
        uint64_t slot = (x >> 40) % DAY_SLOTS;
        uint64_t pair = issuer * DAY_SLOTS + slot;
        if (!d->debt[pair]) (*new_notes)++;
        d->debt[pair] += 1 + (x >> 50) % 1000; /* a new signed note: the total grows */
        bt_basis_tracker_value(vals[k], d->debt[pair]);
        ops[k] = (bt_op){BT_OP_INSERT_OR_UPDATE, d->notekey[pair], 32, vals[k], BT_TRACKER_VALUE_LEN};
        if (issuer < DAY_RESERVE_ISSUERS && x % 10 == 0 && nr[issuer] < 2000) {
            /* a redemption against the issuer's reserve */
            size_t j = nr[issuer]++;
            bt_basis_reserve_value(rvals[issuer][j], ts, d->debt[pair] / 2);
            rops[issuer][j] = (bt_op){BT_OP_INSERT_OR_UPDATE, d->notekey[pair], 32,
                                      rvals[issuer][j], BT_RESERVE_VALUE_LEN};
            (*redemptions)++;
        }
    }
    bt_txn *t;
    int rc = bt_txn_begin(&t, d->db);
    if (rc) return fail_db(d, "bt_txn_begin", rc);
    bt_txn_set_time(t, ts);
    rc = bt_txn_apply(t, "tracker", ops, n, res);
    for (unsigned i = 0; !rc && i < DAY_RESERVE_ISSUERS; i++)
        if (nr[i]) rc = bt_txn_apply(t, d->reserve_name[i], rops[i], nr[i], res);
    if (rc) {
        bt_txn_abort(t);
        return fail_db(d, "bt_txn_apply", rc);
    }
    if ((rc = bt_txn_commit(t, NULL))) return fail_db(d, "bt_txn_commit", rc);
    return 0;
}

static int run_day(day *d, json_t *out)
{
    int rc;
    char msg[512];
    bt_db_options o = BT_DB_OPTIONS_INIT;
    o.checkpoint_keep = (unsigned)d->keep;
    o.min_free_bytes = 16u << 20;
    if ((rc = bt_db_open(&d->db, d->dbdir, &o, msg, sizeof msg))) {
        cli_error("demo: cannot open %s: %s", d->dbdir, msg);
        return -1;
    }
    bt_params tracker = {BT_PARAMS_VERSION, 32, BT_TRACKER_VALUE_LEN, 0};
    bt_params reserve = {BT_PARAMS_VERSION, 32, BT_RESERVE_VALUE_LEN, 0};
    if ((rc = bt_db_tree_create(d->db, "tracker", &tracker))) return fail_db(d, "tree create", rc);
    for (unsigned i = 0; i < DAY_RESERVE_ISSUERS; i++) {
        char h[9];
        for (int b = 0; b < 4; b++) sprintf(h + 2 * b, "%02x", d->pk[i][1 + b]);
        snprintf(d->reserve_name[i], sizeof d->reserve_name[i], "reserve:%s", h);
        if ((rc = bt_db_tree_create(d->db, d->reserve_name[i], &reserve)))
            return fail_db(d, "tree create", rc);
    }
    pthread_t th;
    d->lat = malloc(DAY_PROOF_SAMPLES * sizeof *d->lat);
    d->debt_at_ckpt = calloc(d->npairs, sizeof *d->debt_at_ckpt);
    if (!d->lat || !d->debt_at_ckpt) return -1;
    pthread_create(&th, NULL, redeemer, d);

    uint64_t t0 = mono_ns(), new_notes = 0, redemptions = 0, commits = 0, ckpts = 0;
    uint64_t ckpt_ns = 0, since_ckpt = 0;
    for (uint64_t u = 0; u < d->updates && !rc;) {
        uint64_t n = d->updates - u < d->batch ? d->updates - u : d->batch;
        if (commit_updates(d, u, n, &new_notes, &redemptions)) {
            rc = -1;
            break;
        }
        commits++;
        u += n;
        since_ckpt += n;
        if (since_ckpt >= d->every || u == d->updates) {
            since_ckpt = 0;
            char label[64];
            uint64_t sim = ((u * DAY_MS) / d->updates) / 1000;
            snprintf(label, sizeof label, "commitment %llu at %02llu:%02llu",
                     (unsigned long long)ckpts + 1, (unsigned long long)(sim / 3600),
                     (unsigned long long)(sim / 60 % 60));
            uint64_t c0 = mono_ns(), id;
            if ((rc = bt_db_checkpoint_create(&id, d->db, label))) {
                fail_db(d, "checkpoint", rc);
                rc = -1;
                break;
            }
            ckpt_ns += mono_ns() - c0;
            ckpts++;
            pthread_mutex_lock(&d->mu);
            memcpy(d->debt_at_ckpt, d->debt, d->npairs * sizeof *d->debt);
            d->ckpt_id = id;
            atomic_store(&d->pairs_at_ckpt, d->npairs);
            pthread_mutex_unlock(&d->mu);
        }
    }
    double secs = (double)(mono_ns() - t0) / 1e9;
    atomic_store(&d->stop, 1);
    pthread_join(th, NULL);
    if (rc) return -1;
    if (d->bad) {
        cli_error("demo: %llu redemption proofs did not verify; first: %s", (unsigned long long)d->bad,
                  d->err);
        return -1;
    }
    if (d->err[0]) {
        cli_error("demo: redeemer: %s", d->err);
        return -1;
    }
    bt_db_stats st;
    if ((rc = bt_db_stats_get(&st, d->db))) return fail_db(d, "stats", rc);
    uint8_t final[1 + DAY_RESERVE_ISSUERS][BT_DIGEST_LEN];
    if ((rc = bt_db_digest(final[0], d->db, "tracker"))) return fail_db(d, "digest", rc);
    for (unsigned i = 0; i < DAY_RESERVE_ISSUERS; i++)
        if ((rc = bt_db_digest(final[1 + i], d->db, d->reserve_name[i]))) return fail_db(d, "digest", rc);
    uint64_t notes = 0;
    bt_db_count(&notes, d->db, "tracker");
    bt_checkpoint *last = NULL;
    if ((rc = bt_db_checkpoint_get(&last, d->db, 0))) return fail_db(d, "checkpoint", rc);
    uint64_t last_id = last->id;
    json_object_set_new(out, "last_commitment", json_pack("{s:I,s:s,s:I}", "id", (json_int_t)last->id,
                                                           "label", last->label, "commit",
                                                           (json_int_t)last->commit_seq));
    bt_free(last);
    uint64_t t1 = mono_ns();
    if ((rc = bt_db_close(d->db))) {
        d->db = NULL;
        return fail_db(d, "close", rc);
    }
    double close_ms = (double)(mono_ns() - t1) / 1e6;

    /* reopen (clean), check everything */
    t1 = mono_ns();
    if ((rc = bt_db_open(&d->db, d->dbdir, &o, msg, sizeof msg))) {
        d->db = NULL;
        cli_error("demo: reopen: %s", msg);
        return -1;
    }
    double reopen_ms = (double)(mono_ns() - t1) / 1e6;
    uint8_t again[BT_DIGEST_LEN];
    if ((rc = bt_db_digest(again, d->db, "tracker")) || memcmp(again, final[0], sizeof again)) {
        cli_error("demo: the reopened tracker digest differs");
        return -1;
    }
    t1 = mono_ns();
    if ((rc = bt_db_check(d->db, "tracker"))) return fail_db(d, "check", rc);
    for (unsigned i = 0; i < DAY_RESERVE_ISSUERS; i++)
        if ((rc = bt_db_check(d->db, d->reserve_name[i]))) return fail_db(d, "check", rc);
    if ((rc = bt_db_checkpoint_validate(d->db, last_id))) return fail_db(d, "validate", rc);
    double check_ms = (double)(mono_ns() - t1) / 1e6;
    if ((rc = bt_db_compact(d->db))) return fail_db(d, "compact", rc);
    uint64_t disk = du_bytes(d->dbdir);

    /* back up (verified) and restore into a new directory */
    bt_backup_info bi, ri;
    t1 = mono_ns();
    if ((rc = bt_db_backup(&bi, d->db, d->bkdir, 1))) return fail_db(d, "backup", rc);
    double backup_ms = (double)(mono_ns() - t1) / 1e6;
    if ((rc = bt_db_close(d->db))) {
        d->db = NULL;
        return fail_db(d, "close", rc);
    }
    d->db = NULL;
    t1 = mono_ns();
    if ((rc = bt_backup_restore(&ri, d->bkdir, 0, d->rsdir, msg, sizeof msg))) {
        cli_error("demo: restore: %s: %s", bt_strerror(rc), msg);
        return -1;
    }
    double restore_ms = (double)(mono_ns() - t1) / 1e6;
    bt_db_options ro = BT_DB_OPTIONS_INIT;
    ro.read_only = 1;
    ro.create_if_missing = 0;
    bt_db *rdb;
    if ((rc = bt_db_open(&rdb, d->rsdir, &ro, msg, sizeof msg))) {
        cli_error("demo: opening the restored copy: %s", msg);
        return -1;
    }
    int same = bt_db_digest(again, rdb, "tracker") == 0 && memcmp(again, final[0], sizeof again) == 0;
    int checked = bt_db_check(rdb, "tracker") == 0;
    bt_db_close(rdb);
    if (!same || !checked) {
        cli_error("demo: the restored copy differs or fails its check");
        return -1;
    }

    /* the R5 register that would carry the tracker digest on chain */
    bt_avl_register reg = {{0}, BT_AVL_INSERT_ALLOWED | BT_AVL_UPDATE_ALLOWED, 32, 1,
                           BT_TRACKER_VALUE_LEN};
    memcpy(reg.digest, final[0], BT_DIGEST_LEN);
    uint8_t r5[BT_AVL_REGISTER_MAX];
    size_t r5_len = 0;
    if ((rc = bt_avl_register_encode(r5, sizeof r5, &r5_len, &reg))) return -1;

    qsort(d->lat, d->nlat, sizeof *d->lat, cmp_u64);
    json_object_set_new(out, "participants", json_integer((json_int_t)d->participants));
    json_object_set_new(out, "updates", json_integer((json_int_t)d->updates));
    json_object_set_new(out, "notes", json_integer((json_int_t)notes));
    json_object_set_new(out, "new_notes", json_integer((json_int_t)new_notes));
    json_object_set_new(out, "reserve_redemptions", json_integer((json_int_t)redemptions));
    json_object_set_new(out, "commits", json_integer((json_int_t)commits));
    json_object_set_new(out, "commitments", json_integer((json_int_t)ckpts));
    json_object_set_new(out, "updates_per_s", json_real((double)d->updates / secs));
    json_object_set_new(out, "commit_p50_ms", json_real((double)st.commit_ns_p50 / 1e6));
    json_object_set_new(out, "commit_p99_ms", json_real((double)st.commit_ns_p99 / 1e6));
    json_object_set_new(out, "commitment_avg_ms", json_real(ckpts ? (double)ckpt_ns / 1e6 / (double)ckpts : 0));
    json_object_set_new(out, "redemption_proofs", json_integer((json_int_t)d->proofs));
    json_object_set_new(out, "redemption_proof_p50_us", json_real(pct(d->lat, d->nlat, 0.5) / 1e3));
    json_object_set_new(out, "redemption_proof_p99_us", json_real(pct(d->lat, d->nlat, 0.99) / 1e3));
    json_object_set_new(out, "close_ms", json_real(close_ms));
    json_object_set_new(out, "reopen_ms", json_real(reopen_ms));
    json_object_set_new(out, "check_ms", json_real(check_ms));
    json_object_set_new(out, "disk_bytes", json_integer((json_int_t)disk));
    json_object_set_new(out, "disk_bytes_per_note", json_real(notes ? (double)disk / (double)notes : 0));
    json_object_set_new(out, "backup_ms", json_real(backup_ms));
    json_object_set_new(out, "backup_bytes", json_integer((json_int_t)bi.size_bytes));
    json_object_set_new(out, "restore_ms", json_real(restore_ms));
    json_object_set_new(out, "restored_digest_equal", json_true());
    json_object_set_new(out, "tracker_digest", jsonio_hexstr(final[0], BT_DIGEST_LEN));
    json_t *rs = json_object();
    for (unsigned i = 0; i < DAY_RESERVE_ISSUERS; i++)
        json_object_set_new(rs, d->reserve_name[i], jsonio_hexstr(final[1 + i], BT_DIGEST_LEN));
    json_object_set_new(out, "reserve_digests", rs);
    json_object_set_new(out, "r5_register", jsonio_hexstr(r5, r5_len));
    json_object_set_new(out, "seconds", json_real(secs));
    return 0;
}

static void print_summary(const day *d, json_t *o)
{
#define I(k) ((unsigned long long)json_integer_value(json_object_get(o, k)))
#define R(k) (json_real_value(json_object_get(o, k)))
#define S(k) (json_string_value(json_object_get(o, k)))
    printf("Basis tracker day on %s\n", d->dir);
    printf("  participants %-10llu updates %-10llu notes %-10llu new notes %llu\n", I("participants"),
           I("updates"), I("notes"), I("new_notes"));
    printf("  commits %-15llu reserve redemptions %llu\n", I("commits"), I("reserve_redemptions"));
    printf("\n  %-34s %12.0f /s   (%.1f s)\n", "note updates, durable (group)", R("updates_per_s"),
           R("seconds"));
    printf("  %-34s %12.2f ms   p99 %.2f ms\n", "commit latency p50", R("commit_p50_ms"),
           R("commit_p99_ms"));
    printf("  %-34s %12llu      (%.1f ms each, every %llu updates)\n", "commitments (checkpoints)",
           I("commitments"), R("commitment_avg_ms"), (unsigned long long)d->every);
    printf("  %-34s %12llu      verified, 0 rejected\n", "redemption proofs vs last commitment",
           I("redemption_proofs"));
    printf("  %-34s %12.1f us   p99 %.1f us\n", "redemption proof latency p50",
           R("redemption_proof_p50_us"), R("redemption_proof_p99_us"));
    printf("  %-34s %12.1f ms   close %.1f ms, full check %.0f ms\n", "reopen (clean)", R("reopen_ms"),
           R("close_ms"), R("check_ms"));
    printf("  %-34s %12llu B    (%.0f B per note, compacted: nodes, every update's log\n"
           "  %-34s %12s      record, the retained commitments, 5 trees)\n", "disk use",
           I("disk_bytes"), R("disk_bytes_per_note"), "", "");
    printf("  %-34s %12.0f ms   (%llu B), restore %.0f ms: same digest, check ok\n",
           "backup (verified)", R("backup_ms"), I("backup_bytes"), R("restore_ms"));
    json_t *lc = json_object_get(o, "last_commitment");
    printf("\n  last commitment: #%llu \"%s\"\n", (unsigned long long)json_integer_value(json_object_get(lc, "id")),
           json_string_value(json_object_get(lc, "label")));
    printf("  tracker digest:  %s\n", S("tracker_digest"));
    const char *name;
    json_t *v;
    json_object_foreach(json_object_get(o, "reserve_digests"), name, v)
        printf("  %-16s %s\n", name, json_string_value(v));
    printf("  R5 register to publish (SAvlTree, insert+update, 32-byte keys, 8-byte values):\n    %s\n",
           S("r5_register"));
    printf("\nTry: basis-trees checkpoint list %s/db   |   basis-trees log %s/db --from 1 --to 3\n",
           d->dir, d->dir);
#undef I
#undef R
#undef S
}

int cmd_demo_day(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"participants", required_argument, NULL, 'p'}, {"updates", required_argument, NULL, 'u'},
        {"batch", required_argument, NULL, 'b'},        {"checkpoint-every", required_argument, NULL, 'c'},
        {"keep", required_argument, NULL, 'k'},         {"fresh", no_argument, NULL, 'f'},
        {"json", no_argument, NULL, 'j'},               {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    day d;
    memset(&d, 0, sizeof d);
    d.participants = 3000;
    d.updates = 120000;
    d.batch = 500;
    d.every = 5000;
    d.keep = 6;
    opterr = 0;
    optind = 1;
    int opt;
    while ((opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        uint64_t *num = NULL;
        switch (opt) {
        case 'h': fputs(day_usage, stdout); return CLI_OK;
        case 'p': num = &d.participants; break;
        case 'u': num = &d.updates; break;
        case 'b': num = &d.batch; break;
        case 'c': num = &d.every; break;
        case 'k': num = &d.keep; break;
        case 'f': d.fresh = 1; break;
        case 'j': d.json = 1; break;
        case ':': return cli_usage_error("demo", "option '%s' needs a value", argv[optind - 1]);
        default: return cli_usage_error("demo", "unknown option '%s'", argv[optind - 1]);
        }
        if (num && cli_parse_u64(num, optarg) != 0)
            return cli_usage_error("demo", "bad number '%s'", optarg);
    }
    if (optind + 1 != argc) return cli_usage_error("demo", "needs one DIR");
    if (d.participants < 100 || d.participants > 1000000 || d.updates < 1 || d.updates > 100000000 ||
        d.batch < 1 || d.batch > 20000 || d.every < 1 || d.keep < 1 || d.keep > 100000)
        return cli_usage_error("demo", "--participants 100..1000000, --updates 1..1e8, --batch "
                                       "1..20000, --checkpoint-every >= 1, --keep 1..100000");
    d.dir = argv[optind];
    snprintf(d.dbdir, sizeof d.dbdir, "%s/db", d.dir);
    snprintf(d.bkdir, sizeof d.bkdir, "%s/backups", d.dir);
    snprintf(d.rsdir, sizeof d.rsdir, "%s/restored", d.dir);
    if (sodium_init() < 0) return CLI_FAIL;
    if (d.fresh && (rm_rf(d.dbdir) || rm_rf(d.bkdir) || rm_rf(d.rsdir))) {
        cli_error("demo: cannot clear %s", d.dir);
        return CLI_FAIL;
    }
    struct stat st;
    if (stat(d.dbdir, &st) == 0) {
        cli_error("demo: %s exists; use --fresh to start the day again", d.dbdir);
        return CLI_FAIL;
    }
    if (stat(d.rsdir, &st) == 0 && rm_rf(d.rsdir)) return CLI_FAIL;
    if (mkdir(d.dir, 0755) != 0 && errno != EEXIST) {
        cli_error("demo: cannot create %s: %s", d.dir, strerror(errno));
        return CLI_FAIL;
    }
    uint64_t issuers = d.participants / 3 ? d.participants / 3 : 1;
    d.npairs = issuers * DAY_SLOTS;
    d.pk = malloc(d.participants * sizeof *d.pk);
    d.debt = calloc(d.npairs, sizeof *d.debt);
    d.notekey = malloc(d.npairs * sizeof *d.notekey);
    if (!d.pk || !d.debt || !d.notekey) {
        cli_error("demo: out of memory");
        return CLI_FAIL;
    }
    for (uint64_t j = 0; j < d.participants; j++) fake_pubkey(d.pk[j], j);
    for (uint64_t i = 0; i < issuers; i++)
        for (uint64_t s = 0; s < DAY_SLOTS; s++)
            if (bt_basis_note_key(d.notekey[i * DAY_SLOTS + s], d.pk[i], d.pk[recipient_of(&d, i, s)])) {
                cli_error("demo: bad fake public key");
                return CLI_FAIL;
            }
    pthread_mutex_init(&d.mu, NULL);
    json_t *out = json_object();
    int rc = run_day(&d, out);
    if (d.db) bt_db_close(d.db);
    if (!rc) {
        if (d.json) {
            char *s = json_dumps(out, JSON_COMPACT | JSON_REAL_PRECISION(6));
            if (s) puts(s);
            free(s);
        } else {
            print_summary(&d, out);
        }
    }
    json_decref(out);
    pthread_mutex_destroy(&d.mu);
    free(d.pk);
    free(d.debt);
    free(d.notekey);
    free(d.lat);
    free(d.debt_at_ckpt);
    return rc ? CLI_FAIL : CLI_OK;
}
