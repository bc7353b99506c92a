/*
 * db.c -- opening and closing a database, the tree table, the node source,
 * and the read API.  See db_int.h for the invariants D1-D5 and
 * docs/FORMAT.md section 4 for every record.
 */
#include "db/db_int.h"
#include "codec/endian.h"
#include "util/alloc.h"
#include "util/log.h"
#include "util/msg.h"
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

_Thread_local char bt_db__msg[BT_DB_MSG_CAP];

int bt_db__set_msg(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(bt_db__msg, sizeof bt_db__msg, fmt, ap);
    va_end(ap);
    return code;
}

const char *bt_db_errmsg(const bt_db *db)
{
    (void)db;
    return bt_db__msg;
}

uint64_t bt_db__now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static double mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* ---- options ------------------------------------------------------------ */

int bt_db_options_check(const bt_db_options *o, char *msg, size_t cap)
{
#define BAD(...) do { if (msg) snprintf(msg, cap, __VA_ARGS__); return BT_EINVAL; } while (0)
    if (!o || o->version != BT_DB_OPTIONS_VERSION) BAD("options: version must be BT_DB_OPTIONS_VERSION");
    if ((unsigned)o->durability > BT_DURABILITY_NONE) BAD("durability: must be sync, group or none");
    if (o->group_ms < 1 || o->group_ms > 10000) BAD("group_ms: must be 1..10000");
    if (o->group_ops < 1) BAD("group_ops: must be at least 1");
    if (o->cache_bytes < (1u << 20)) BAD("cache_bytes: must be at least 1 MiB");
    if (o->flush_ops < 1 || o->flush_ops > 100000000) BAD("flush_ops: must be 1..100000000");
    if (o->flush_bytes < (1u << 16)) BAD("flush_bytes: must be at least 64 KiB");
    if (o->block_cache_bytes < (1u << 20)) BAD("block_cache_bytes: must be at least 1 MiB");
    if (o->write_buffer_bytes < (1u << 20)) BAD("write_buffer_bytes: must be at least 1 MiB");
    for (int i = 0; i < 5; i++)
        if ((unsigned)o->compression[i] > BT_COMPRESS_ZSTD)
            BAD("compression[%s]: must be none, lz4 or zstd", bt_cf_names[i]);
    if (o->zstd_level < 1 || o->zstd_level > 19) BAD("zstd_level: must be 1..19");
    if (o->bloom_bits < 0 || o->bloom_bits > 32) BAD("bloom_bits: must be 0..32");
    if (o->info_log_level < 0 || o->info_log_level > 4) BAD("info_log_level: must be 0..4");
    return 0;
#undef BAD
}

/* ---- files beside the engine: lock and durability marker ------------------ */

static int take_lock(bt_db *db)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/LOCK-writer", db->path);
    int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return bt_db__set_msg(BT_EIO, "cannot open %s: %s", p, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        char pid[32] = "";
        ssize_t n = pread(fd, pid, sizeof pid - 1, 0);
        pid[n > 0 ? n : 0] = 0;
        pid[strcspn(pid, "\r\n")] = 0;
        close(fd);
        return bt_db__set_msg(BT_EBUSY, "database %s is open for writing elsewhere (pid %s)",
                              db->path, pid[0] ? pid : "?");
    }
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, buf, (size_t)n, 0) != n) { /* informative only */ }
    db->lock_fd = fd;
    return 0;
}

void bt_db__write_marker(bt_db *db, uint64_t commit_seq, uint64_t op_seq)
{
    if (db->marker_fd < 0) return;
    uint8_t m[32] = {'B', 'T', 'D', 'M', 1, 0, 0, 0};
    bt_store_u64be(m + 8, commit_seq);
    bt_store_u64be(m + 16, op_seq);
    bt_store_u32be(m + 24, db->epoch);
    bt_store_u32be(m + 28, bt_crc32(m, 28));
    /* A lower bound only; a torn or failed write is detected by its CRC. */
    if (pwrite(db->marker_fd, m, sizeof m, 0) != (ssize_t)sizeof m) { /* see above */ }
}

/* The marker's fields, or false if it is new or torn (no bound). */
static bool marker_decode(const uint8_t m[32], size_t got, uint64_t *cs, uint64_t *os, uint32_t *epoch)
{
    if (got != 32 || memcmp(m, "BTDM", 4) != 0 || m[4] != 1 || bt_load_u32be(m + 28) != bt_crc32(m, 28))
        return false;
    *cs = bt_load_u64be(m + 8);
    *os = bt_load_u64be(m + 16);
    *epoch = bt_load_u32be(m + 24);
    return true;
}

/* FORMAT.md 4.4: a store at (commit_seq, op_seq, epoch) against a marker
 * (cs, os, mepoch).  0, or BT_ECORRUPT with the message in msg. */
static int marker_verdict(uint64_t cs, uint64_t os, uint32_t mepoch, uint64_t commit_seq,
                          uint64_t op_seq, uint32_t epoch, char *msg, size_t msgcap)
{
    if (mepoch > epoch) {
        bt_msgf(msg, msgcap, "a rollback was lost: the durability marker has epoch %u, the store "
                             "%u (damaged write-ahead log?)",
                mepoch, epoch);
        return BT_ECORRUPT;
    }
    if (mepoch < epoch) return 0; /* written before the last rollback: stale */
    if (cs > commit_seq || os > op_seq) {
        bt_msgf(msg, msgcap, "acknowledged commits were lost: the store holds commit %llu but "
                             "commit %llu was durable (damaged write-ahead log?)",
                (unsigned long long)commit_seq, (unsigned long long)cs);
        return BT_ECORRUPT;
    }
    return 0;
}

static int check_marker(bt_db *db)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/DURABLE", db->path);
    db->marker_fd = open(p, (db->o.read_only ? O_RDONLY : O_RDWR | O_CREAT) | O_CLOEXEC, 0644);
    if (db->marker_fd < 0) {
        if (db->o.read_only) return 0;
        return bt_db__set_msg(BT_EIO, "cannot open %s: %s", p, strerror(errno));
    }
    uint8_t m[32];
    uint64_t cs, os;
    uint32_t epoch;
    ssize_t got = pread(db->marker_fd, m, sizeof m, 0);
    if (!marker_decode(m, got < 0 ? 0 : (size_t)got, &cs, &os, &epoch)) return 0;
    return marker_verdict(cs, os, epoch, db->meta.commit_seq, db->meta.op_seq, db->epoch, bt_db__msg,
                          sizeof bt_db__msg);
}

/* ---- the node source -------------------------------------------------------- */

int bt_db__load_node(void *ctx, const bt_node *stub, unsigned klen, bool fixed, uint32_t vlen,
                     bt_node **out, char *msg, size_t msgcap)
{
    bt_db *db = ctx;
    uint64_t id = stub->u.stub.ref;
    uint8_t key[8];
    bt_store_u64be(key, id);
    bt_buf v = BT_BUF_INIT;
    int rc = db->kv->v->get(db->kv, BT_CF_NODES, key, 8, &v, msg, msgcap);
    if (rc == BT_ENOTFOUND) {
        snprintf(msg, msgcap, "node %llu is missing from the nodes partition", (unsigned long long)id);
        return BT_ECORRUPT;
    }
    if (rc) {
        bt_buf_free(&v);
        return rc;
    }
    bt_rec_node r;
    if (bt_rec_node_decode(&r, v.data, v.len, klen, fixed ? vlen : BT_VALUE_VARIABLE)) {
        bt_buf_free(&v);
        snprintf(msg, msgcap, "node %llu: record is damaged (layout or checksum)", (unsigned long long)id);
        return BT_ECORRUPT;
    }
    uint64_t gen = BT_GEN_PERSISTED | id;
    bt_node *n = NULL;
    if (r.kind == 1) {
        n = bt_node_new_leaf(klen, r.key, r.value, r.vlen, r.next, gen);
    } else {
        bt_node *l = bt_node_new_label(r.left_label, r.left_id);
        bt_node *rt = bt_node_new_label(r.right_label, r.right_id);
        if (l && rt) n = bt_node_new_internal(klen, r.key, l, rt, r.balance, gen);
        if (l) bt_node_unref(l);
        if (rt) bt_node_unref(rt);
    }
    bt_buf_free(&v);
    if (!n) {
        snprintf(msg, msgcap, "out of memory loading node %llu", (unsigned long long)id);
        return BT_ENOMEM;
    }
    atomic_fetch_add_explicit(&db->nodes_loaded, 1, memory_order_relaxed);
    bt_db__thread_loads++;
    atomic_fetch_add_explicit(&db->cache_bytes,
                              (int64_t)(bt_node_mem(n) + (r.kind == 2 ? 2 * (sizeof *n + 32u) : 0)),
                              memory_order_relaxed); /* with its two child stubs */
    *out = n;
    return 0;
}

/* ---- tree table ------------------------------------------------------------------ */

dbtree *bt_db__find(bt_db *db, const char *name)
{
    for (size_t i = 0; i < db->ntrees; i++)
        if (strcmp(db->trees[i]->name, name) == 0) return db->trees[i];
    return NULL;
}

dbtree *bt_db__find_id(bt_db *db, uint32_t id)
{
    for (size_t i = 0; i < db->ntrees; i++)
        if (db->trees[i]->id == id) return db->trees[i];
    return NULL;
}

static bool name_ok(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n < 1 || n > BT_TREE_NAME_MAX) return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == ':' || c == '-'))
            return false;
    }
    return true;
}

static void dbtree_free(dbtree *dt)
{
    if (!dt) return;
    bt_tree_free(dt->t);
    if (dt->committed) bt_node_unref(dt->committed);
    if (dt->flushed) bt_node_unref(dt->flushed);
    bt_mem_free(dt);
}

/* Makes the working version of dt the committed one (D4). */
void bt_db__publish(bt_db *db, dbtree *dt, uint64_t commit_seq)
{
    bt_node *old;
    pthread_mutex_lock(&db->rlock);
    old = dt->committed;
    dt->committed = bt_node_ref(dt->t->s.root);
    dt->committed_height = dt->t->s.height;
    dt->committed_count = dt->t->count;
    memcpy(dt->committed_digest, bt_node_label(dt->t->s.root), 32);
    dt->committed_digest[32] = (uint8_t)dt->t->s.height;
    if (commit_seq) dt->head_commit_seq = commit_seq;
    pthread_mutex_unlock(&db->rlock);
    if (old) bt_node_unref(old);
}

/* Opens a tree handle on a stored root (D2), verifying the root's label. */
static int attach_tree(bt_db *db, const char *name, const bt_rec_tree *tr, const bt_rec_root *root)
{
    dbtree *dt = bt_calloc(1, sizeof *dt);
    if (!dt) return bt_db__set_msg(BT_ENOMEM, "out of memory");
    snprintf(dt->name, sizeof dt->name, "%s", name);
    dt->id = tr->id;
    dt->p = tr->params;
    bt_node *stub = bt_node_new_label(root->label, root->node_id);
    if (!stub) {
        bt_mem_free(dt);
        return bt_db__set_msg(BT_ENOMEM, "out of memory");
    }
    int rc = bt_tree_open_root(&dt->t, &dt->p, stub, root->height, root->count, &db->src);
    if (rc) bt_db__set_msg(rc, "tree %s: %s", name, bt_strerror(rc));
    if (!rc) {
        bt_node *real; /* load and verify the root now, not at the first read */
        rc = bt_resolve(stub, &db->src, false, dt->p.key_len, dt->p.value_len != BT_VALUE_VARIABLE,
                        dt->p.value_len, &real, bt_db__msg, sizeof bt_db__msg);
        if (rc == BT_ECORRUPT) {
            char m[BT_DB_MSG_CAP];
            snprintf(m, sizeof m, "%s", bt_db__msg);
            bt_db__set_msg(rc, "tree %s: root: %s", name, m);
        }
    }
    dt->flushed = stub;
    dt->flushed_op_seq = root->flushed_op_seq;
    if (rc) {
        dbtree_free(dt);
        return rc;
    }
    /* readers walk db->trees under rlock: grow it under rlock too */
    pthread_mutex_lock(&db->rlock);
    if (db->ntrees == db->captrees) {
        size_t c = db->captrees ? 2 * db->captrees : 8;
        dbtree **p = bt_realloc(db->trees, c * sizeof *p);
        if (!p) {
            pthread_mutex_unlock(&db->rlock);
            dbtree_free(dt);
            return bt_db__set_msg(BT_ENOMEM, "out of memory");
        }
        db->trees = p;
        db->captrees = c;
    }
    db->trees[db->ntrees++] = dt;
    pthread_mutex_unlock(&db->rlock);
    bt_db__publish(db, dt, 0);
    return 0;
}

static int meta_get(bt_db *db, const char *key, size_t klen, bt_buf *out)
{
    out->len = 0;
    return db->kv->v->get(db->kv, BT_CF_META, key, klen, out, bt_db__msg, sizeof bt_db__msg);
}

static int corrupt_meta(const char *what)
{
    return bt_db__set_msg(BT_ECORRUPT, "metadata record '%s' is damaged", what);
}

/* Creates the format and commit records of a new, empty database. */
static int init_store(bt_db *db)
{
    bt_kv_batch *b = db->kv->v->batch_new(db->kv);
    if (!b) return bt_db__set_msg(BT_ENOMEM, "out of memory");
    bt_buf v = BT_BUF_INIT;
    bt_rec_format f = {BT_FORMAT_VERSION, bt_db__now_ms()};
    db->format = BT_FORMAT_VERSION;
    memset(&db->meta, 0, sizeof db->meta);
    db->meta.next_node_id = 1;
    db->meta.next_tree_id = 1;
    atomic_store(&db->next_node_id, 1);
    int rc = bt_rec_format_encode(&v, &f);
    if (!rc) db->kv->v->batch_put(b, BT_CF_META, "format", 6, v.data, v.len);
    v.len = 0;
    if (!rc) rc = bt_rec_commit_meta_encode(&v, &db->meta);
    if (!rc) db->kv->v->batch_put(b, BT_CF_META, "commit", 6, v.data, v.len);
    v.len = 0;
    db->features = BT_FEATURE_OPLOG_INDEX | (db->o.index_labels ? BT_FEATURE_LABEL_INDEX : 0);
    if (!rc) rc = bt_rec_features_encode(&v, db->features);
    if (!rc) db->kv->v->batch_put(b, BT_CF_META, "features", 8, v.data, v.len);
    if (!rc) rc = bt_db__write(db, b, BT_KV_SYNC);
    bt_buf_free(&v);
    db->kv->v->batch_free(b);
    return rc;
}

static int load_trees(bt_db *db)
{
    bt_kv_iter *it = db->kv->v->iter_new(db->kv, BT_CF_META);
    if (!it) return bt_db__set_msg(BT_ENOMEM, "out of memory");
    int rc = 0;
    bt_buf v = BT_BUF_INIT;
    for (db->kv->v->iter_seek(it, "tree/", 5); db->kv->v->iter_valid(it); db->kv->v->iter_next(it)) {
        size_t kl, vl;
        const uint8_t *k = db->kv->v->iter_key(it, &kl);
        const uint8_t *val = db->kv->v->iter_value(it, &vl);
        if (kl < 5 || memcmp(k, "tree/", 5) != 0) break;
        char name[BT_TREE_NAME_MAX + 1];
        if (kl - 5 > BT_TREE_NAME_MAX) { rc = corrupt_meta("tree/..."); break; }
        memcpy(name, k + 5, kl - 5);
        name[kl - 5] = 0;
        bt_rec_tree tr;
        if (bt_rec_tree_decode(&tr, val, vl) || !name_ok(name)) {
            rc = bt_db__set_msg(BT_ECORRUPT, "metadata record 'tree/%s' is damaged", name);
            break;
        }
        uint8_t rk[9] = {'r', 'o', 'o', 't', '/'};
        bt_store_u32be(rk + 5, tr.id);
        bt_rec_root root;
        rc = meta_get(db, (const char *)rk, 9, &v);
        if (rc == BT_ENOTFOUND) rc = bt_db__set_msg(BT_ECORRUPT, "tree %s has no root record", name);
        if (rc) break;
        if (bt_rec_root_decode(&root, v.data, v.len)) {
            rc = bt_db__set_msg(BT_ECORRUPT, "root record of tree %s is damaged", name);
            break;
        }
        if ((rc = attach_tree(db, name, &tr, &root))) break;
    }
    if (!rc) rc = db->kv->v->iter_status(it, bt_db__msg, sizeof bt_db__msg);
    db->kv->v->iter_free(it);
    bt_buf_free(&v);
    return rc;
}

/* kv.h gap_check on the engine's read-only view: the write chain
 * (walchain.c), and -- so that a repair never goes below a durable commit,
 * which the engine could not undo after the read-write open -- the
 * durability marker against the view's last commit (as check_marker). */
static int gap_check(bt_kv *kv, void *arg, char *msg, size_t msgcap)
{
    bt_db *db = arg;
    uint64_t next;
    int rc = bt_db__chain_scan(kv, &next, msg, msgcap);
    if (rc) return rc;
    char p[4096];
    snprintf(p, sizeof p, "%s/DURABLE", db->path);
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    uint8_t m[32];
    uint64_t cs, os;
    uint32_t mepoch, epoch = 0;
    ssize_t got = pread(fd, m, sizeof m, 0);
    close(fd);
    if (!marker_decode(m, got < 0 ? 0 : (size_t)got, &cs, &os, &mepoch)) return 0;
    bt_buf v = BT_BUF_INIT;
    bt_rec_commit_meta cm;
    rc = kv->v->get(kv, BT_CF_META, "commit", 6, &v, msg, msgcap);
    if (rc == BT_ENOTFOUND) rc = 0, cm.commit_seq = cm.op_seq = 0;
    else if (!rc && bt_rec_commit_meta_decode(&cm, v.data, v.len)) rc = BT_ECORRUPT;
    if (!rc) {
        v.len = 0;
        int r2 = kv->v->get(kv, BT_CF_META, "epoch", 5, &v, msg, msgcap);
        if (r2 == 0 && bt_rec_u32_decode(&epoch, v.data, v.len)) rc = BT_ECORRUPT;
        else if (r2 && r2 != BT_ENOTFOUND) rc = r2;
    }
    bt_buf_free(&v);
    if (rc == BT_ECORRUPT) bt_msgf(msg, msgcap, "metadata record 'commit' or 'epoch' is damaged");
    if (rc) return rc;
    return marker_verdict(cs, os, mepoch, cm.commit_seq, cm.op_seq, epoch, msg, msgcap);
}

static int open_store(bt_db *db)
{
    bt_kv_config c;
    memset(&c, 0, sizeof c);
    c.block_cache_bytes = db->o.block_cache_bytes;
    for (int i = 0; i < BT_CF_COUNT; i++) {
        c.compression[i] = (int)db->o.compression[i];
        c.bloom_bits[i] = (i == BT_CF_NODES || i == BT_CF_META) ? db->o.bloom_bits : 0;
    }
    c.zstd_level = db->o.zstd_level;
    c.write_buffer_bytes = db->o.write_buffer_bytes;
    c.background_jobs = 2;
    c.info_log_level = db->o.info_log_level;
    c.info_log_dir = db->o.info_log_dir;
    c.create_if_missing = db->o.create_if_missing != 0;
    c.read_only = db->o.read_only != 0;
    bt_kv_open_report rep;
    memset(&rep, 0, sizeof rep);
    c.gap_check = gap_check;
    c.gap_check_arg = db;
    c.report = &rep;
    int rc = bt_kv_open_rocksdb(&db->kv, db->path, &c, bt_db__msg, sizeof bt_db__msg);
    if (rep.wal_files_set_aside) { /* also when the open then failed: the files stay moved */
        db->wal_files_set_aside = rep.wal_files_set_aside;
        bt_log(BT_LOG_WARN,
               "%s: the write-ahead log had a gap (writes lost out of order, e.g. unsynced "
               "writes at a power cut): moved %u WAL file(s) holding the writes after it to %s; "
               "the database reopens at the last write before the gap",
               db->path, rep.wal_files_set_aside, rep.aside_dir);
    }
    return rc;
}

static int open_db(bt_db *db)
{
    int rc;
    struct stat st;
    if (stat(db->path, &st) != 0) {
        if (!db->o.create_if_missing || db->o.read_only)
            return bt_db__set_msg(BT_ENOTFOUND, "database %s does not exist", db->path);
        if (mkdir(db->path, 0755) != 0 && errno != EEXIST)
            return bt_db__set_msg(BT_EIO, "cannot create %s: %s", db->path, strerror(errno));
    } else if (!S_ISDIR(st.st_mode)) {
        return bt_db__set_msg(BT_EINVAL, "%s is not a directory", db->path);
    }
    if (!db->o.read_only && (rc = take_lock(db))) return rc;
    if ((rc = open_store(db))) return rc;
    bt_buf v = BT_BUF_INIT;
    rc = meta_get(db, "format", 6, &v);
    if (rc == BT_ENOTFOUND) {
        bt_kv_iter *it = db->kv->v->iter_new(db->kv, BT_CF_META);
        bool empty = it;
        if (it) {
            db->kv->v->iter_seek(it, "", 0);
            empty = !db->kv->v->iter_valid(it);
            db->kv->v->iter_free(it);
        }
        if (!empty || db->o.read_only)
            rc = bt_db__set_msg(BT_EINVAL, "%s is not a basis-trees database", db->path);
        else
            rc = init_store(db);
    } else if (!rc) {
        bt_rec_format f;
        if (bt_rec_format_decode(&f, v.data, v.len)) rc = corrupt_meta("format");
        else if (f.format < BT_FORMAT_OLDEST || f.format > BT_FORMAT_VERSION)
            rc = bt_db__set_msg(BT_EINVAL,
                                "database format %u is not supported by this version (%u)%s",
                                f.format, BT_FORMAT_VERSION,
                                f.format > BT_FORMAT_VERSION ? "; upgrade basis-trees" : "");
        else if (f.format != BT_FORMAT_VERSION && !db->allow_old_format)
            rc = bt_db__set_msg(BT_EINVAL,
                                "database format %u is older than this version's (%u); run "
                                "`basis-trees migrate %s` (it upgrades a copy, validates it, "
                                "then swaps)",
                                f.format, BT_FORMAT_VERSION, db->path);
        if (!rc) db->format = f.format;
        if (!rc) {
            rc = meta_get(db, "commit", 6, &v);
            if (rc == BT_ENOTFOUND || (!rc && bt_rec_commit_meta_decode(&db->meta, v.data, v.len)))
                rc = corrupt_meta("commit");
        }
        if (!rc) {
            /* features are fixed at creation: the label index covers every
             * node or none */
            uint32_t feat = 0;
            int r2 = meta_get(db, "features", 8, &v);
            if (r2 == 0 && bt_rec_features_decode(&feat, v.data, v.len)) rc = corrupt_meta("features");
            else if (r2 && r2 != BT_ENOTFOUND) rc = r2;
            db->features = feat;
            if (!rc && (feat & ~(uint32_t)(BT_FEATURE_LABEL_INDEX | BT_FEATURE_OPLOG_INDEX)))
                rc = bt_db__set_msg(BT_EINVAL, "the database uses features (0x%x) that this "
                                               "version does not know; upgrade basis-trees",
                                    (unsigned)feat);
            if (!rc && (feat & BT_FEATURE_LABEL_INDEX)) db->o.index_labels = 1;
            else if (!rc && db->o.index_labels)
                rc = bt_db__set_msg(BT_EINVAL, "index_labels can only be enabled when the "
                                               "database is created");
        }
        if (!rc) {
            /* node ids: the larger of what commits and flushes recorded */
            uint64_t next = db->meta.next_node_id;
            int r2 = meta_get(db, "nodeid", 6, &v);
            if (r2 == 0 && v.len == 8 && bt_load_u64be(v.data) > next) next = bt_load_u64be(v.data);
            else if (r2 && r2 != BT_ENOTFOUND) rc = r2;
            atomic_store(&db->next_node_id, next);
        }
    }
    bt_buf_free(&v);
    if (!rc) {
        rc = bt_db__chain_scan(db->kv, &db->chain_next, bt_db__msg, sizeof bt_db__msg);
        if (rc == BT_KV_GAP) /* read-only, or the pre-open could not look */
            rc = bt_db__set_msg(BT_ECORRUPT, "%.200s", bt_db__msg);
    }
    if (!rc) rc = load_trees(db);
    if (!rc) rc = bt_db__ckpt_load(db);
    if (!rc) rc = check_marker(db);
    if (!rc) rc = bt_db__recover(db);
    if (!rc) rc = bt_db__ckpt_retention(db);
    if (!rc && !db->o.read_only && db->o.durability == BT_DURABILITY_GROUP)
        rc = bt_db__syncer_start(db);
    if (!rc && !db->o.read_only) rc = bt_db__flusher_start(db);
    return rc;
}

static void free_db(bt_db *db)
{
    bt_db__flusher_stop(db);
    bt_db__syncer_stop(db);
    bt_db__ckpt_free_all(db);
    for (size_t i = 0; i < db->ntrees; i++) dbtree_free(db->trees[i]);
    bt_mem_free(db->trees);
    if (db->kv) db->kv->v->close(db->kv);
    if (db->marker_fd >= 0) close(db->marker_fd);
    if (db->lock_fd >= 0) close(db->lock_fd);
    pthread_mutex_destroy(&db->rlock);
    pthread_mutex_destroy(&db->wlock);
    pthread_mutex_destroy(&db->smu);
    pthread_cond_destroy(&db->scv);
    pthread_cond_destroy(&db->sdone);
    pthread_mutex_destroy(&db->fmu);
    pthread_mutex_destroy(&db->fqmu);
    pthread_mutex_destroy(&db->chainmu);
    pthread_cond_destroy(&db->fcv);
    pthread_cond_destroy(&db->fdone);
    bt_db__metrics_destroy(&db->metrics);
    bt_mem_free(db->path);
    bt_mem_free(db);
}

int bt_db_open(bt_db **out, const char *path, const bt_db_options *opts, char *errmsg,
               size_t errmsg_cap)
{
    return bt_db__open(out, path, opts, false, errmsg, errmsg_cap);
}

int bt_db__open(bt_db **out, const char *path, const bt_db_options *opts, bool allow_old_format,
                char *errmsg, size_t errmsg_cap)
{
    double t0 = mono_ms();
    bt_db_options defaults = BT_DB_OPTIONS_INIT;
    *out = NULL;
    bt_crypto_init();
    if (!opts) opts = &defaults;
    int rc = bt_db_options_check(opts, bt_db__msg, sizeof bt_db__msg);
    if (!rc && (!path || !*path)) rc = bt_db__set_msg(BT_EINVAL, "no database path");
    bt_db *db = NULL;
    if (!rc) {
        db = bt_calloc(1, sizeof *db);
        if (!db) rc = bt_db__set_msg(BT_ENOMEM, "out of memory");
    }
    if (!rc) {
        db->o = *opts;
        db->allow_old_format = allow_old_format;
        db->lock_fd = db->marker_fd = -1;
        db->path = bt_malloc(strlen(path) + 1);
        pthread_mutex_init(&db->rlock, NULL);
        pthread_mutex_init(&db->wlock, NULL);
        pthread_mutex_init(&db->smu, NULL);
        pthread_cond_init(&db->scv, NULL);
        pthread_cond_init(&db->sdone, NULL);
        pthread_mutex_init(&db->fmu, NULL);
        pthread_mutex_init(&db->fqmu, NULL);
        pthread_mutex_init(&db->chainmu, NULL);
        db->chain_next = 1;
        pthread_cond_init(&db->fcv, NULL);
        pthread_cond_init(&db->fdone, NULL);
        bt_db__metrics_init(&db->metrics);
        db->src.load = bt_db__load_node;
        db->src.ctx = db;
        if (!db->path) rc = bt_db__set_msg(BT_ENOMEM, "out of memory");
        else strcpy(db->path, path);
    }
    if (!rc) rc = open_db(db);
    if (rc) {
        if (errmsg && errmsg_cap) snprintf(errmsg, errmsg_cap, "%s", bt_db__msg);
        bt_log(BT_LOG_INFO, "open %s failed: %s: %s", path ? path : "(null)", bt_strerror(rc),
               bt_db__msg);
        if (db) free_db(db);
        return rc;
    }
    db->open_ms = mono_ms() - t0;
    bt_log(BT_LOG_INFO, "opened %s%s: %zu trees, commit %llu, replayed %llu ops, %.1f ms", path,
           db->o.read_only ? " read-only" : "", db->ntrees,
           (unsigned long long)db->meta.commit_seq, (unsigned long long)db->replayed_ops,
           db->open_ms);
    *out = db;
    return 0;
}

int bt_db_close(bt_db *db)
{
    if (!db) return 0;
    int rc = 0;
    bt_db__flusher_stop(db);
    if (!db->o.read_only && !db->failed) {
        rc = bt_db__flush(db);
        pthread_mutex_lock(&db->wlock);
        if (!rc && db->o.durability != BT_DURABILITY_NONE)
            rc = db->kv->v->sync_wal(db->kv, bt_db__msg, sizeof bt_db__msg);
        /* Memtables to files, so that the next open has no engine log to
         * replay either. */
        if (!rc) rc = db->kv->v->flush(db->kv, bt_db__msg, sizeof bt_db__msg);
        if (!rc) bt_db__write_marker(db, db->meta.commit_seq, db->meta.op_seq);
        pthread_mutex_unlock(&db->wlock);
    }
    free_db(db);
    return rc;
}

/* ---- trees ------------------------------------------------------------------------ */

int bt_db_tree_create(bt_db *db, const char *name, const bt_params *params)
{
    if (!name_ok(name))
        return bt_db__set_msg(BT_EINVAL, "tree name must be 1..%d characters of [A-Za-z0-9_.:-]",
                              BT_TREE_NAME_MAX);
    if (bt_params_check(params)) return bt_db__set_msg(BT_EINVAL, "invalid tree parameters");
    if (db->o.read_only) return bt_db__set_msg(BT_EBADSTATE, "database is open read-only");
    pthread_mutex_lock(&db->wlock);
    int rc = 0;
    if (db->failed) rc = bt_db__set_msg(BT_EBADSTATE, "an earlier write failed; reopen the database");
    else if (db->txn_open) rc = bt_db__set_msg(BT_EBUSY, "a transaction is open");
    else if (bt_db__find(db, name)) rc = bt_db__set_msg(BT_EEXISTS, "tree %s already exists", name);
    bt_node *root = NULL;
    bt_kv_batch *b = NULL;
    bt_buf v = BT_BUF_INIT;
    bt_rec_tree tr = {db->meta.next_tree_id, *params, db->meta.commit_seq};
    bt_rec_root rr;
    memset(&rr, 0, sizeof rr);
    if (!rc) {
        root = bt_empty_root(params);
        b = db->kv->v->batch_new(db->kv);
        if (!root || !b) rc = bt_db__set_msg(BT_ENOMEM, "out of memory");
    }
    if (!rc) {
        uint8_t nk[8], k[64];
        uint64_t id = atomic_fetch_add(&db->next_node_id, 1);
        bt_store_u64be(nk, id);
        rc = bt_rec_node_leaf_encode(&v, bt_node_key(root), bt_leaf_next(root), params->key_len,
                                     bt_leaf_value(root), root->u.leaf.vlen);
        if (!rc) db->kv->v->batch_put(b, BT_CF_NODES, nk, 8, v.data, v.len);
        if (!rc && db->o.index_labels) {
            uint8_t ik[BT_LABEL_INDEX_KEY];
            bt_db__label_key(ik, bt_node_label(root), tr.id, id);
            db->kv->v->batch_put(b, BT_CF_INDEXES, ik, sizeof ik, "", 0);
        }
        rr.node_id = id;
        memcpy(rr.label, bt_node_label(root), 32);
        rr.flushed_op_seq = db->meta.op_seq;
        v.len = 0;
        memcpy(k, "root/", 5);
        bt_store_u32be(k + 5, tr.id);
        if (!rc) rc = bt_rec_root_encode(&v, &rr);
        if (!rc) db->kv->v->batch_put(b, BT_CF_META, k, 9, v.data, v.len);
        bt_rec_head h = {db->meta.commit_seq, {0}, 0};
        memcpy(h.digest, rr.label, 32);
        memcpy(k, "head/", 5);
        v.len = 0;
        if (!rc) rc = bt_rec_head_encode(&v, &h);
        if (!rc) db->kv->v->batch_put(b, BT_CF_META, k, 9, v.data, v.len);
        size_t nl = strlen(name);
        memcpy(k, "tree/", 5);
        memcpy(k + 5, name, nl);
        v.len = 0;
        if (!rc) rc = bt_rec_tree_encode(&v, &tr);
        if (!rc) db->kv->v->batch_put(b, BT_CF_META, k, 5 + nl, v.data, v.len);
        bt_rec_commit_meta m = db->meta;
        m.next_node_id = atomic_load(&db->next_node_id);
        m.next_tree_id++;
        v.len = 0;
        if (!rc) rc = bt_rec_commit_meta_encode(&v, &m);
        if (!rc) db->kv->v->batch_put(b, BT_CF_META, "commit", 6, v.data, v.len);
        if (!rc) rc = bt_db__write(db, b, db->o.durability != BT_DURABILITY_NONE ? BT_KV_SYNC : 0);
        if (!rc) {
            db->meta = m;
            __atomic_store_n(&root->gen, BT_GEN_PERSISTED | id, __ATOMIC_RELAXED);
            rc = attach_tree(db, name, &tr, &rr);
        } else {
            db->failed = rc;
        }
    }
    bt_buf_free(&v);
    if (b) db->kv->v->batch_free(b);
    if (root) bt_node_unref(root);
    pthread_mutex_unlock(&db->wlock);
    return rc;
}

int bt_db_tree_params(bt_params *out, bt_db *db, const char *name)
{
    pthread_mutex_lock(&db->rlock);
    dbtree *dt = name ? bt_db__find(db, name) : NULL;
    if (dt) *out = dt->p;
    pthread_mutex_unlock(&db->rlock);
    return dt ? 0 : bt_db__set_msg(BT_ENOTFOUND, "no tree named %s", name ? name : "(null)");
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int bt_db_tree_list(char ***out_names, size_t *out_count, bt_db *db)
{
    pthread_mutex_lock(&db->rlock);
    size_t n = db->ntrees, bytes = (n + 1) * sizeof(char *);
    for (size_t i = 0; i < n; i++) bytes += strlen(db->trees[i]->name) + 1;
    char **arr = bt_malloc(bytes);
    if (arr) {
        char *p = (char *)(arr + n + 1);
        for (size_t i = 0; i < n; i++) {
            arr[i] = p;
            strcpy(p, db->trees[i]->name);
            p += strlen(p) + 1;
        }
        arr[n] = NULL;
    }
    pthread_mutex_unlock(&db->rlock);
    if (!arr) return bt_db__set_msg(BT_ENOMEM, "out of memory");
    qsort(arr, n, sizeof *arr, cmp_names);
    *out_names = arr;
    *out_count = n;
    return 0;
}

/* ---- reads --------------------------------------------------------------------------- */

typedef struct snap {
    bt_node *root;
    int height;
    uint64_t count;
    bt_params p;
    uint8_t digest[BT_DIGEST_LEN];
} snap;

/* The committed head of tree (ckpt 0) or its version at checkpoint ckpt. */
static int take_snap_at(snap *s, bt_db *db, const char *tree, uint64_t ckpt)
{
    if (!tree) return bt_db__set_msg(BT_EINVAL, "no tree name");
    int rc = 0;
    pthread_mutex_lock(&db->rlock);
    dbtree *dt = bt_db__find(db, tree);
    if (!dt) {
        rc = bt_db__set_msg(BT_ENOTFOUND, "no tree named %s", tree);
    } else if (ckpt == 0) {
        s->root = bt_node_ref(dt->committed);
        s->height = dt->committed_height;
        s->count = dt->committed_count;
        s->p = dt->p;
        memcpy(s->digest, dt->committed_digest, BT_DIGEST_LEN);
    } else {
        dbckpt *c = bt_db__ckpt_find(db, ckpt);
        dbckpt_tree *ct = NULL;
        for (size_t i = 0; c && i < c->ntrees; i++)
            if (c->trees[i].tree_id == dt->id) ct = &c->trees[i];
        if (!c) {
            rc = bt_db__set_msg(BT_ENOTFOUND, "no checkpoint %llu", (unsigned long long)ckpt);
        } else if (!ct) {
            rc = bt_db__set_msg(BT_ENOTFOUND, "tree %s is not in checkpoint %llu", tree,
                                (unsigned long long)ckpt);
        } else {
            s->root = bt_node_ref(ct->root);
            s->height = ct->digest[32];
            s->count = ct->count;
            s->p = dt->p;
            memcpy(s->digest, ct->digest, BT_DIGEST_LEN);
        }
    }
    pthread_mutex_unlock(&db->rlock);
    return rc;
}

static int take_snap(snap *s, bt_db *db, const char *tree) { return take_snap_at(s, db, tree, 0); }

/* A read at a checkpoint that a writer deleted meanwhile may find its nodes
 * reclaimed: that is "no such checkpoint", not corruption. */
static int ckpt_gone(bt_db *db, uint64_t ckpt, int rc)
{
    if (rc != BT_ECORRUPT || ckpt == 0) return rc;
    pthread_mutex_lock(&db->rlock);
    bool gone = bt_db__ckpt_find(db, ckpt) == NULL;
    pthread_mutex_unlock(&db->rlock);
    return gone ? bt_db__set_msg(BT_ENOTFOUND, "checkpoint %llu was deleted during the read",
                                 (unsigned long long)ckpt)
                : rc;
}

int bt_db_digest(uint8_t out[BT_DIGEST_LEN], bt_db *db, const char *tree)
{
    return bt_db_digest_at(out, db, tree, 0);
}

int bt_db_digest_at(uint8_t out[BT_DIGEST_LEN], bt_db *db, const char *tree, uint64_t ckpt)
{
    snap s;
    int rc = take_snap_at(&s, db, tree, ckpt);
    if (rc) return rc;
    memcpy(out, s.digest, BT_DIGEST_LEN);
    bt_node_unref(s.root);
    return 0;
}

int bt_db_count(uint64_t *out, bt_db *db, const char *tree)
{
    return bt_db_count_at(out, db, tree, 0);
}

int bt_db_count_at(uint64_t *out, bt_db *db, const char *tree, uint64_t ckpt)
{
    snap s;
    int rc = take_snap_at(&s, db, tree, ckpt);
    if (rc) return rc;
    *out = s.count;
    bt_node_unref(s.root);
    return 0;
}

int bt_db_get(uint8_t **out_value, size_t *out_len, bt_db *db, const char *tree,
              const uint8_t *key, size_t key_len)
{
    return bt_db_get_at(out_value, out_len, db, tree, 0, key, key_len);
}

int bt_db_get_at(uint8_t **out_value, size_t *out_len, bt_db *db, const char *tree, uint64_t ckpt,
                 const uint8_t *key, size_t key_len)
{
    *out_value = NULL;
    *out_len = 0;
    if (!key) return bt_db__set_msg(BT_EINVAL, "no key");
    uint64_t t0 = bt_db__mono_ns(), loads0 = bt_db__thread_loads;
    snap s;
    int rc = take_snap_at(&s, db, tree, ckpt);
    if (rc) return rc;
    rc = bt_key_check(key, key_len, s.p.key_len);
    bt_buf v = BT_BUF_INIT;
    bool found = false;
    bool fixed = s.p.value_len != BT_VALUE_VARIABLE;
    if (!rc)
        rc = bt_root_get(&v, &found, s.root, s.p.key_len, fixed, s.p.value_len, &db->src, key,
                         bt_db__msg, sizeof bt_db__msg);
    rc = ckpt_gone(db, ckpt, rc);
    bt_node_unref(s.root);
    bt_db__reader_trim(db);
    bt_db__metrics_read(&db->metrics, 0, bt_db__mono_ns() - t0, loads0);
    if (!rc && !found) rc = BT_ENOTFOUND;
    if (rc) {
        bt_buf_free(&v);
        if (rc == BT_ENOTFOUND) bt_db__set_msg(rc, "key not found");
        return rc;
    }
    *out_value = bt_buf_take(&v, out_len);
    return *out_value ? 0 : bt_db__set_msg(BT_ENOMEM, "out of memory");
}

int bt_db_prove(uint8_t **out_proof, size_t *out_len, uint8_t out_digest[BT_DIGEST_LEN],
                bt_result *results, bt_db *db, const char *tree, const bt_op *ops, size_t n)
{
    return bt_db_prove_at(out_proof, out_len, out_digest, results, db, tree, 0, ops, n);
}

int bt_db_prove_at(uint8_t **out_proof, size_t *out_len, uint8_t out_digest[BT_DIGEST_LEN],
                   bt_result *results, bt_db *db, const char *tree, uint64_t ckpt, const bt_op *ops,
                   size_t n)
{
    *out_proof = NULL;
    *out_len = 0;
    if (!ops && n) return bt_db__set_msg(BT_EINVAL, "no operations");
    uint64_t t0 = bt_db__mono_ns(), loads0 = bt_db__thread_loads;
    snap s;
    int rc = take_snap_at(&s, db, tree, ckpt);
    if (rc) return rc;
    bt_tree *t;
    rc = bt_tree_open_root(&t, &s.p, s.root, s.height, s.count, &db->src);
    bt_node_unref(s.root);
    if (rc) return bt_db__set_msg(rc, "out of memory");
    uint8_t *proof = NULL;
    size_t plen = 0;
    rc = bt_tree_whatif(&proof, &plen, out_digest, results, t, ops, n);
    if (rc == BT_ECORRUPT && ckpt && ckpt_gone(db, ckpt, rc) == BT_ENOTFOUND) {
        bt_tree_free(t);
        return BT_ENOTFOUND; /* message set by ckpt_gone */
    }
    bt_db__reader_trim(db);
    bt_db__metrics_read(&db->metrics, 1, bt_db__mono_ns() - t0, loads0);
    for (size_t i = 0; !rc && i < n; i++)
        if ((unsigned)ops[i].type < BT_METRICS_OP_TYPES)
            atomic_fetch_add_explicit(&db->metrics.prove_ops[ops[i].type], 1, memory_order_relaxed);
    if (rc) {
        bt_db__set_msg(rc, "%s", bt_tree_errmsg(t));
        bt_tree_free(t);
        return rc;
    }
    /* Keep the returned old values alive with the proof: one allocation. */
    size_t vlen = t->vals.len;
    uint8_t *all = bt_realloc(proof, plen + vlen + 1);
    if (!all) {
        bt_mem_free(proof);
        bt_tree_free(t);
        return bt_db__set_msg(BT_ENOMEM, "out of memory");
    }
    if (vlen) memcpy(all + plen, t->vals.data, vlen);
    if (results) {
        for (size_t i = 0; i < n; i++)
            if (results[i].found) results[i].old = all + plen + (size_t)(results[i].old - t->vals.data);
    }
    bt_tree_free(t);
    *out_proof = all;
    *out_len = plen;
    return 0;
}

int bt_db_check(bt_db *db, const char *tree)
{
    snap s;
    uint64_t next;
    int rc = bt_db__chain_scan(db->kv, &next, bt_db__msg, sizeof bt_db__msg);
    if (rc == BT_KV_GAP) return bt_db__set_msg(BT_ECORRUPT, "%.200s", bt_db__msg);
    if (rc) return rc;
    rc = take_snap(&s, db, tree);
    if (rc) return rc;
    bt_tree *t;
    rc = bt_tree_open_root(&t, &s.p, s.root, s.height, s.count, &db->src);
    bt_node_unref(s.root);
    if (rc) return bt_db__set_msg(rc, "out of memory");
    rc = bt_tree_check(t);
    if (!rc) {
        uint8_t d[BT_DIGEST_LEN];
        rc = bt_tree_digest(d, t);
        if (!rc && memcmp(d, s.digest, BT_DIGEST_LEN) != 0)
            rc = bt_db__set_msg(BT_ECORRUPT, "tree %s: digest differs from the committed one", tree);
    } else {
        bt_db__set_msg(rc, "tree %s: %s", tree, bt_tree_errmsg(t));
    }
    bt_tree_free(t);
    return rc;
}

int bt_db_compact(bt_db *db)
{
    if (db->o.read_only) return bt_db__set_msg(BT_EBADSTATE, "database is open read-only");
    uint64_t t0 = bt_db__mono_ns();
    int rc = 0;
    for (int cf = 0; cf < BT_CF_COUNT && !rc; cf++)
        rc = db->kv->v->compact(db->kv, cf, bt_db__msg, sizeof bt_db__msg);
    double secs = (double)(bt_db__mono_ns() - t0) / 1e9;
    pthread_mutex_lock(&db->metrics.mu);
    if (rc) db->metrics.compaction_failures++;
    else db->metrics.compactions++;
    db->metrics.last_compaction_unix = bt_db__now_ms() / 1000u;
    db->metrics.last_compaction_seconds = secs;
    pthread_mutex_unlock(&db->metrics.mu);
    if (rc) bt_log(BT_LOG_ERROR, "compaction of %s failed: %s", db->path, bt_db__msg);
    else bt_log(BT_LOG_INFO, "compacted %s in %.2f s", db->path, secs);
    return rc;
}

int bt_db_stats_get(bt_db_stats *out, bt_db *db)
{
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&db->wlock);
    pthread_mutex_lock(&db->rlock);
    for (size_t i = 0; i < db->ntrees; i++) {
        out->notes += db->trees[i]->committed_count;
        out->nodes += 2 * db->trees[i]->committed_count + 1;
    }
    pthread_mutex_unlock(&db->rlock);
    out->trees = db->ntrees;
    out->commits = db->meta.commit_seq;
    out->ops = db->meta.op_seq;
    out->nodes_written = db->nodes_written;
    out->nodes_deleted = db->nodes_deleted;
    out->flushes = db->flushes;
    out->replayed_ops = db->replayed_ops;
    out->open_ms = db->open_ms;
    out->commit_ns_p50 = bt_hist_quantile(&db->commit_ns, 0.50);
    out->commit_ns_p95 = bt_hist_quantile(&db->commit_ns, 0.95);
    out->commit_ns_p99 = bt_hist_quantile(&db->commit_ns, 0.99);
    pthread_mutex_unlock(&db->wlock);
    pthread_mutex_lock(&db->smu);
    out->syncs = db->syncs;
    pthread_mutex_unlock(&db->smu);
    out->nodes_loaded = atomic_load(&db->nodes_loaded);
    int64_t cb = atomic_load(&db->cache_bytes);
    out->cache_bytes = cb > 0 ? (uint64_t)cb : 0;
    out->cache_drops = db->cache_drops;
    for (int cf = 0; cf < BT_CF_COUNT; cf++) out->partition_bytes[cf] = db->kv->v->cf_bytes(db->kv, cf);
    return 0;
}

/* Free space check before writing (measured-facts: a full disk can abort
 * RocksDB); returns 0 or BT_ENOSPC. */
int bt_db__space_ok(bt_db *db);
int bt_db__space_ok(bt_db *db)
{
    struct statvfs sv;
    if (!db->o.min_free_bytes || statvfs(db->path, &sv) != 0) return 0;
    uint64_t avail = (uint64_t)sv.f_bavail * (uint64_t)sv.f_frsize;
    if (avail < db->o.min_free_bytes)
        return bt_db__set_msg(BT_ENOSPC, "only %llu bytes free on the database's file system "
                                         "(min_free_bytes is %llu); nothing was written",
                              (unsigned long long)avail, (unsigned long long)db->o.min_free_bytes);
    return 0;
}
