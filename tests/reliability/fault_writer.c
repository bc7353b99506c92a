/*
 * fault_writer.c -- the writer of the I/O-error and disk-full tests
 * (README.md, "Faults").  It runs with relshim.so preloaded (RELSHIM_FAULT
 * injects EIO/ENOSPC) or on a small tmpfs, on a torture directory made by
 * tests/crash/crash_writer init, and writes the same acknowledgement file,
 * so that tests/crash/crash_check can check the database afterwards.
 *
 *   fault_writer DIR [--commits N] [--min-free BYTES] [--info-log-level 0..4]
 *                [--info-log-dir DIR]
 *
 * Opens DIR/db, commits the deterministic stream (crash_stream.h) from the
 * next commit on, N commits (default 30), acknowledging as crash_writer does.
 * When a call fails it checks what the library promises after an I/O error:
 *   F1 the error is a clean BT_E* code (EIO, ENOSPC, BADSTATE, CORRUPT, NOMEM)
 *      with a message -- never an abort (the loop sees the exit status);
 *   F2 the failed commit is not acknowledged, and bt_db_wait_durable on it
 *      does not return 0;
 *   F3 the handle is sticky: a further transaction commit fails too;
 *   F4 reads still answer (bt_db_digest of both trees);
 *   F5 bt_db_close returns (any code) without crashing.
 * Exit: 0 every commit succeeded; 3 a fault was met and F1-F5 held (prints
 * "FAULT ..." with what failed where); 1 a promise was broken (prints
 * "BROKEN ..."); 2 could not run.
 */
#include "crash_stream.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DIE(...)                                                                         \
    do {                                                                                 \
        fprintf(stderr, "fault_writer: " __VA_ARGS__);                                   \
        fputc('\n', stderr);                                                             \
        exit(2);                                                                         \
    } while (0)
#define BROKEN(...)                                                                      \
    do {                                                                                 \
        printf("BROKEN: " __VA_ARGS__);                                                  \
        putchar('\n');                                                                   \
        exit(1);                                                                         \
    } while (0)

static int clean_code(int rc)
{
    return rc == BT_EIO || rc == BT_ENOSPC || rc == BT_EBADSTATE || rc == BT_ECORRUPT ||
           rc == BT_ENOMEM;
}

static const char *name_of(int rc)
{
    switch (rc) {
    case BT_EIO: return "EIO";
    case BT_ENOSPC: return "ENOSPC";
    case BT_EBADSTATE: return "EBADSTATE";
    case BT_ECORRUPT: return "ECORRUPT";
    case BT_ENOMEM: return "ENOMEM";
    default: return "OTHER";
    }
}

static int g_acks = -1;
static cs_mode g_mode;

static void ack(char kind, uint64_t k, bt_db *db, bool sync)
{
    uint8_t d[CS_NTREES][BT_DIGEST_LEN];
    char hex[CS_NTREES][2 * BT_DIGEST_LEN + 1], line[CS_LINE_MAX];
    for (unsigned t = 0; t < CS_NTREES; t++) {
        int rc = bt_db_digest(d[t], db, cs_tree_names[t]);
        if (rc) BROKEN("bt_db_digest after a successful commit: %s", bt_strerror(rc));
        cs_hex(hex[t], d[t], BT_DIGEST_LEN);
    }
    int n = snprintf(line, sizeof line, "%c %" PRIu64 " %s %s\n", kind, k, hex[0], hex[1]);
    if (cs_write_all(g_acks, line, (size_t)n, sync)) DIE("ack file: %s", strerror(errno));
}

/* After the first failure (rc, in phase what, commit k): F1-F5. */
static void after_fault(bt_db *db, int rc, const char *what, uint64_t k, const cs_stream *s,
                        bt_op *ops, bt_result *res)
{
    const char *msg = bt_db_errmsg(db);
    if (!clean_code(rc)) BROKEN("%s of commit %" PRIu64 " returned %d (%s)", what, k, rc, bt_strerror(rc));
    if (!msg || !msg[0]) BROKEN("%s failed with %s and no message", what, name_of(rc));
    /* F2: the failed commit is not durable. */
    int wrc = bt_db_wait_durable(db, k);
    if (wrc == 0 && g_mode == CS_MODE_GROUP && strcmp(what, "commit") == 0) {
        /* (sync mode: wait_durable returns at once by definition) */
        BROKEN("bt_db_wait_durable(%" PRIu64 ") returned 0 after its commit failed", k);
    }
    /* F3: sticky. */
    bt_txn *txn = NULL;
    int rc2 = bt_txn_begin(&txn, db);
    if (rc2 == 0) {
        bt_op op;
        cs_stream_op(&op, s, 0);
        (void)ops;
        (void)res;
        bt_result r;
        rc2 = bt_txn_apply(txn, cs_tree_names[s->ops[0].tree], &op, 1, &r);
        if (rc2 == 0) {
            rc2 = bt_txn_commit(txn, NULL);
            if (rc2 == 0) BROKEN("a commit succeeded after %s failed (%s): not sticky", what, name_of(rc));
        } else {
            bt_txn_abort(txn);
        }
    }
    if (!clean_code(rc2) && rc2 != BT_EBADSTATE)
        BROKEN("second write after the fault returned %d (%s)", rc2, bt_strerror(rc2));
    /* F4: reads still answer. */
    uint8_t d[BT_DIGEST_LEN];
    int rrc = 0;
    for (unsigned t = 0; t < CS_NTREES && !rrc; t++) rrc = bt_db_digest(d, db, cs_tree_names[t]);
    if (rrc) BROKEN("bt_db_digest after the fault: %s", bt_strerror(rrc));
    /* F5 */
    int crc = bt_db_close(db);
    printf("FAULT %s commit=%" PRIu64 " rc=%s wait=%s second=%s close=%s msg=%.120s\n", what, k,
           name_of(rc), wrc ? name_of(wrc) : "0", name_of(rc2), crc ? name_of(crc) : "0",
           msg ? msg : "");
    exit(3);
}

int main(int argc, char **argv)
{
    if (argc < 2) DIE("usage: fault_writer DIR [--commits N] [--min-free BYTES]");
    const char *dir = argv[1];
    uint64_t commits = 30, min_free = 0;
    long info_level = -1;
    const char *info_dir = NULL;
    for (int i = 2; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--commits")) commits = strtoull(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--min-free")) min_free = strtoull(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--info-log-level")) info_level = strtol(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--info-log-dir")) info_dir = argv[i + 1];
        else DIE("unknown option %s", argv[i]);
    }
    /* static: still reachable when exit() is called deep inside (LSan) */
    static cs_params p;
    static cs_stream s;
    static bt_op *ops;
    static bt_result *res;
    if (cs_params_read(&p, dir)) exit(2);
    if (cs_stream_init(&s, &p)) DIE("out of memory");
    g_mode = p.mode;
    ops = malloc(s.capops * sizeof *ops);
    res = malloc(s.capops * sizeof *res);
    if (!ops || !res) DIE("out of memory");
    char path[CS_PATH_MAX], msg[512] = "", line[CS_LINE_MAX];
    snprintf(path, sizeof path, "%s/acks", dir);
    g_acks = open(path, O_WRONLY | O_APPEND);
    if (g_acks < 0) DIE("open %s: %s", path, strerror(errno));

    bt_db_options o;
    cs_db_options(&o, &p);
    o.create_if_missing = 0;
    o.min_free_bytes = min_free;
    if (info_level >= 0) o.info_log_level = (int)info_level;
    if (info_dir) o.info_log_dir = info_dir;
    snprintf(path, sizeof path, "%s/db", dir);
    bt_db *db = NULL;
    int rc = bt_db_open(&db, path, &o, msg, sizeof msg);
    if (rc) {
        if (!clean_code(rc)) BROKEN("bt_db_open returned %d (%s): %s", rc, bt_strerror(rc), msg);
        if (!msg[0]) BROKEN("bt_db_open failed with %s and no message", name_of(rc));
        printf("FAULT open rc=%s msg=%.120s\n", name_of(rc), msg);
        exit(3);
    }
    bt_db_stats st;
    if ((rc = bt_db_stats_get(&st, db))) DIE("bt_db_stats_get: %s", bt_strerror(rc));
    int n = snprintf(line, sizeof line, "S %ld %" PRIu64 "\n", (long)getpid(), st.commits);
    if (cs_write_all(g_acks, line, (size_t)n, true)) DIE("ack file: %s", strerror(errno));

    for (uint64_t k = st.commits + 1, done = 0; done < commits; k++, done++) {
        cs_stream_txn(&s, k);
        n = snprintf(line, sizeof line, "P %" PRIu64 "\n", k);
        if (cs_write_all(g_acks, line, (size_t)n, true)) DIE("ack file: %s", strerror(errno));
        bt_txn *txn = NULL;
        if ((rc = bt_txn_begin(&txn, db))) after_fault(db, rc, "begin", k, &s, ops, res);
        size_t i = 0;
        while (i < s.nops) {
            size_t j = i;
            unsigned t = s.ops[i].tree;
            for (; j < s.nops && s.ops[j].tree == t; j++) cs_stream_op(&ops[j - i], &s, j);
            rc = bt_txn_apply(txn, cs_tree_names[t], ops, j - i, res);
            if (rc) {
                bt_txn_abort(txn);
                after_fault(db, rc, "apply", k, &s, ops, res);
            }
            i = j;
        }
        bt_commit_info info;
        if ((rc = bt_txn_commit(txn, &info))) after_fault(db, rc, "commit", k, &s, ops, res);
        if (info.commit_seq != k) BROKEN("commit %" PRIu64 " got commit_seq %" PRIu64, k, info.commit_seq);
        bool durable = p.mode == CS_MODE_SYNC;
        if (p.mode == CS_MODE_GROUP && s.wait_durable) {
            if ((rc = bt_db_wait_durable(db, k))) after_fault(db, rc, "wait_durable", k, &s, ops, res);
            durable = true;
        }
        ack(durable ? 'A' : 'W', k, db, durable);
    }
    rc = bt_db_close(db);
    if (rc) {
        if (!clean_code(rc)) BROKEN("bt_db_close returned %d", rc);
        printf("FAULT close rc=%s\n", name_of(rc));
        exit(3);
    }
    printf("OK %" PRIu64 " commits\n", commits);
    cs_stream_dispose(&s);
    free(ops);
    free(res);
    close(g_acks);
    return 0;
}
