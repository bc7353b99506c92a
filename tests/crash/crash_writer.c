/*
 * crash_writer.c -- the writer of the kill -9 torture test (README.md).
 *
 *   crash_writer init DIR sync|group|none [--seed N] [--keys N]
 *                     [--reset-every N] [--flush-ops N]
 *       creates DIR, DIR/params, the database DIR/db with the trees
 *       "tracker" (32-byte keys, variable values) and "reserve" (32-byte
 *       keys, 16-byte values), and an empty DIR/acks; exits 0.
 *   crash_writer run DIR [--max-commits N]
 *       reopens DIR/db and commits the deterministic stream (crash_stream.h)
 *       from the next commit on, forever (or N commits), until killed.
 *
 * The acknowledgement protocol (what the checker may rely on):
 *   - "P k" is appended BEFORE bt_txn_commit of commit k is called: the
 *     database can never hold more commits than the last P line.  A plain
 *     write() is enough against kill -9 (the page cache survives); with
 *     CRASH_SYNC_PREACK=1 it is fdatasync'd too, as a power-cut harness
 *     needs.
 *   - "A k digests" is appended and fdatasync'd only AFTER the library said
 *     commit k is durable: sync mode, when bt_txn_commit returned; group
 *     mode, when bt_db_wait_durable(k) returned (for about one commit in
 *     four, chosen by the stream).  The database must hold at least commit k.
 *   - "W k digests" (plain write()) for every other commit: group commits
 *     not waited for, and every commit in mode none, where nothing is
 *     promised beyond "some committed prefix".
 * Exit status: killed by the loop; 2 if anything failed (message on stderr).
 */
#include "crash_stream.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DIE(...)                                                                         \
    do {                                                                                 \
        fprintf(stderr, "crash_writer: " __VA_ARGS__);                                   \
        fputc('\n', stderr);                                                             \
        exit(2);                                                                         \
    } while (0)

static void usage(void)
{
    fprintf(stderr, "usage: crash_writer init DIR sync|group|none [--seed N] [--keys N]\n"
                    "                         [--reset-every N] [--flush-ops N]\n"
                    "       crash_writer run DIR [--max-commits N]\n");
    exit(2);
}

static uint64_t num_arg(int argc, char **argv, int i)
{
    if (i + 1 >= argc) usage();
    char *end;
    unsigned long long v = strtoull(argv[i + 1], &end, 10);
    if (*end || end == argv[i + 1]) usage();
    return v;
}

static bt_db *open_db(const char *dir, const cs_params *p, int create)
{
    char path[CS_PATH_MAX], msg[512] = "";
    snprintf(path, sizeof path, "%s/db", dir);
    bt_db_options o;
    cs_db_options(&o, p);
    o.create_if_missing = create;
    bt_db *db = NULL;
    int rc = bt_db_open(&db, path, &o, msg, sizeof msg);
    if (rc) DIE("bt_db_open(%s): %s: %s", path, bt_strerror(rc), msg);
    return db;
}

/* Creates whichever of the two trees is missing. */
static void ensure_trees(bt_db *db)
{
    for (unsigned t = 0; t < CS_NTREES; t++) {
        bt_params tp, have;
        cs_tree_params(&tp, t);
        int rc = bt_db_tree_params(&have, db, cs_tree_names[t]);
        if (rc == BT_ENOTFOUND) rc = bt_db_tree_create(db, cs_tree_names[t], &tp);
        else if (!rc && (have.key_len != tp.key_len || have.value_len != tp.value_len))
            DIE("tree %s has other parameters", cs_tree_names[t]);
        if (rc) DIE("tree %s: %s: %s", cs_tree_names[t], bt_strerror(rc), bt_db_errmsg(db));
    }
}

static int cmd_init(int argc, char **argv)
{
    if (argc < 4) usage();
    const char *dir = argv[2];
    cs_params p = CS_PARAMS_DEFAULT;
    if (cs_mode_parse(&p.mode, argv[3])) usage();
    for (int i = 4; i < argc; i += 2) {
        if (!strcmp(argv[i], "--seed")) p.seed = num_arg(argc, argv, i);
        else if (!strcmp(argv[i], "--keys")) p.keys = (uint32_t)num_arg(argc, argv, i);
        else if (!strcmp(argv[i], "--reset-every")) p.reset_every = (uint32_t)num_arg(argc, argv, i);
        else if (!strcmp(argv[i], "--flush-ops")) p.flush_ops = num_arg(argc, argv, i);
        else usage();
    }
    if (p.keys < 2 || p.keys > CS_KEYS_MAX || p.reset_every < 2 || p.flush_ops < 1)
        DIE("parameter out of range");
    if (mkdir(dir, 0755) && errno != EEXIST) DIE("mkdir %s: %s", dir, strerror(errno));
    char path[CS_PATH_MAX];
    snprintf(path, sizeof path, "%s/params", dir);
    if (access(path, F_OK) == 0) DIE("%s already exists", path);
    if (cs_params_write(dir, &p)) exit(2);
    bt_db *db = open_db(dir, &p, 1);
    ensure_trees(db);
    int rc = bt_db_close(db);
    if (rc) DIE("bt_db_close: %s: %s", bt_strerror(rc), bt_db_errmsg(NULL));
    snprintf(path, sizeof path, "%s/acks", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || fdatasync(fd) || close(fd) || cs_fsync_dir(dir))
        DIE("cannot create %s: %s", path, strerror(errno));
    printf("crash_writer: initialised %s (mode %s, seed %" PRIu64 ", %" PRIu32
           " keys per tree, reset every %" PRIu32 ", flush_ops %" PRIu64 ")\n",
           dir, cs_mode_name(p.mode), p.seed, p.keys, p.reset_every, p.flush_ops);
    return 0;
}

/* Opens DIR/acks for appending.  A last line without its newline was torn by
 * the kill (its write() never returned, so nothing relied on it): cut it off. */
static int open_acks(const char *dir)
{
    char path[CS_PATH_MAX], buf[CS_LINE_MAX];
    snprintf(path, sizeof path, "%s/acks", dir);
    int fd = open(path, O_RDWR | O_APPEND);
    if (fd < 0) DIE("open %s: %s", path, strerror(errno));
    off_t size = lseek(fd, 0, SEEK_END);
    off_t from = size > (off_t)sizeof buf ? size - (off_t)sizeof buf : 0;
    ssize_t got = pread(fd, buf, (size_t)(size - from), from);
    if (got != size - from) DIE("read %s: %s", path, strerror(errno));
    off_t keep = size;
    while (keep > from && buf[keep - 1 - from] != '\n') keep--;
    if (keep == from && from > 0) DIE("%s: last line longer than %d bytes", path, CS_LINE_MAX);
    if (keep != size && (ftruncate(fd, keep) || fdatasync(fd)))
        DIE("truncate %s: %s", path, strerror(errno));
    return fd;
}

static void ack_line(int fd, char kind, uint64_t k, bt_db *db, bool sync)
{
    uint8_t d[BT_DIGEST_LEN];
    char hex[CS_NTREES][2 * BT_DIGEST_LEN + 1], line[CS_LINE_MAX];
    for (unsigned t = 0; t < CS_NTREES; t++) {
        int rc = bt_db_digest(d, db, cs_tree_names[t]);
        if (rc) DIE("bt_db_digest(%s): %s: %s", cs_tree_names[t], bt_strerror(rc), bt_db_errmsg(db));
        cs_hex(hex[t], d, BT_DIGEST_LEN);
    }
    int n = snprintf(line, sizeof line, "%c %" PRIu64 " %s %s\n", kind, k, hex[0], hex[1]);
    if (cs_write_all(fd, line, (size_t)n, sync)) DIE("writing the ack file: %s", strerror(errno));
}

/* Tells crash_loop.sh that the open is over: DIR/ready holds our pid. */
static void mark_ready(const char *dir)
{
    char path[CS_PATH_MAX], pid[32];
    snprintf(path, sizeof path, "%s/ready", dir);
    int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || cs_write_all(fd, pid, (size_t)n, false) || close(fd))
        DIE("cannot write %s: %s", path, strerror(errno));
}

/* Applies the current transaction of s inside txn, one bt_txn_apply per run
 * of consecutive operations on the same tree (order within a tree is what
 * matters; the checker's mirror applies them one by one). */
static void apply_txn(bt_txn *txn, bt_db *db, const cs_stream *s, bt_op *ops, bt_result *res)
{
    size_t i = 0;
    while (i < s->nops) {
        size_t j = i;
        unsigned t = s->ops[i].tree;
        for (; j < s->nops && s->ops[j].tree == t; j++) cs_stream_op(&ops[j - i], s, j);
        int rc = bt_txn_apply(txn, cs_tree_names[t], ops, j - i, res);
        if (rc) DIE("bt_txn_apply(%s): %s: %s", cs_tree_names[t], bt_strerror(rc), bt_db_errmsg(db));
        i = j;
    }
}

/* Checkpoints, log pruning and rollbacks between commits (crash_stream.h).
 * Returns the commit the stream continues after (k, or the rollback's). */
static uint64_t history_steps(int fd, bt_db *db, uint64_t k)
{
    int rc;
    if (k % CS_CKPT_EVERY == 0) {
        char label[32];
        snprintf(label, sizeof label, "k=%" PRIu64, k);
        if ((rc = bt_db_checkpoint_create(NULL, db, label)))
            DIE("bt_db_checkpoint_create %" PRIu64 ": %s: %s", k, bt_strerror(rc), bt_db_errmsg(db));
    }
    if (k % CS_PRUNE_EVERY == 0 && (rc = bt_db_oplog_prune(NULL, db, UINT64_MAX)))
        DIE("bt_db_oplog_prune: %s: %s", bt_strerror(rc), bt_db_errmsg(db));
    if (k % CS_ROLLBACK_EVERY != 0 || (rand() & 1)) return k;
    bt_checkpoint *c = NULL;
    rc = bt_db_checkpoint_get(&c, db, 0);
    if (rc == BT_ENOTFOUND) return k;
    if (rc) DIE("bt_db_checkpoint_get: %s: %s", bt_strerror(rc), bt_db_errmsg(db));
    uint64_t id = c->id, to = c->commit_seq;
    bt_free(c);
    if (to >= k) return k;
    char line[CS_LINE_MAX];
    int n = snprintf(line, sizeof line, "Q %" PRIu64 "\n", to);
    if (cs_write_all(fd, line, (size_t)n, true)) DIE("writing the ack file: %s", strerror(errno));
    if ((rc = bt_db_rollback(db, id)))
        DIE("bt_db_rollback %" PRIu64 ": %s: %s", id, bt_strerror(rc), bt_db_errmsg(db));
    ack_line(fd, 'R', to, db, true);
    return to;
}

static int cmd_run(int argc, char **argv)
{
    if (argc < 3) usage();
    const char *dir = argv[2];
    uint64_t max_commits = UINT64_MAX;
    for (int i = 3; i < argc; i += 2) {
        if (!strcmp(argv[i], "--max-commits")) max_commits = num_arg(argc, argv, i);
        else usage();
    }
    cs_params p;
    cs_stream s;
    if (cs_params_read(&p, dir)) exit(2);
    if (cs_stream_init(&s, &p)) DIE("out of memory");
    bt_op *ops = malloc(s.capops * sizeof *ops);
    bt_result *res = malloc(s.capops * sizeof *res);
    if (!ops || !res) DIE("out of memory");
    int fd = open_acks(dir);
    bt_db *db = open_db(dir, &p, 0);
    ensure_trees(db);
    bt_db_stats st;
    int rc = bt_db_stats_get(&st, db);
    if (rc) DIE("bt_db_stats_get: %s", bt_strerror(rc));
    char line[CS_LINE_MAX];
    int n = snprintf(line, sizeof line, "S %ld %" PRIu64 "\n", (long)getpid(), st.commits);
    if (cs_write_all(fd, line, (size_t)n, true)) DIE("writing the ack file: %s", strerror(errno));
    mark_ready(dir);
    bool sync_p = getenv("CRASH_SYNC_PREACK") && !strcmp(getenv("CRASH_SYNC_PREACK"), "1");
    srand((unsigned)getpid());

    for (uint64_t k = st.commits + 1, done = 0; done < max_commits; k++, done++) {
        cs_stream_txn(&s, k);
        n = snprintf(line, sizeof line, "P %" PRIu64 "\n", k);
        if (cs_write_all(fd, line, (size_t)n, sync_p)) DIE("writing the ack file: %s", strerror(errno));
        bt_txn *txn = NULL;
        if ((rc = bt_txn_begin(&txn, db))) DIE("bt_txn_begin: %s: %s", bt_strerror(rc), bt_db_errmsg(db));
        apply_txn(txn, db, &s, ops, res);
        bt_commit_info info;
        if ((rc = bt_txn_commit(txn, &info)))
            DIE("bt_txn_commit %" PRIu64 ": %s: %s", k, bt_strerror(rc), bt_db_errmsg(db));
        if (info.commit_seq != k)
            DIE("commit %" PRIu64 " got commit_seq %" PRIu64, k, info.commit_seq);
        bool durable = p.mode == CS_MODE_SYNC;
        if (p.mode == CS_MODE_GROUP && s.wait_durable) {
            if ((rc = bt_db_wait_durable(db, k)))
                DIE("bt_db_wait_durable %" PRIu64 ": %s: %s", k, bt_strerror(rc), bt_db_errmsg(db));
            durable = true;
        }
        ack_line(fd, durable ? 'A' : 'W', k, db, durable);
        k = history_steps(fd, db, k);
    }
    rc = bt_db_close(db);
    if (rc) DIE("bt_db_close: %s: %s", bt_strerror(rc), bt_db_errmsg(NULL));
    close(fd);
    cs_stream_dispose(&s);
    free(ops);
    free(res);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) usage();
    if (!strcmp(argv[1], "init")) return cmd_init(argc, argv);
    if (!strcmp(argv[1], "run")) return cmd_run(argc, argv);
    usage();
    return 2;
}
