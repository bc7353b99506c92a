/*
 * metrics.c -- bt_db_metrics_text (the Prometheus text exposition format,
 * version 0.0.4) and the small HTTP endpoint bt_metrics_server.
 *
 * Every family is written with its # HELP and # TYPE lines; names carry
 * the prefix basistrees_ and base units (seconds, bytes).  Latencies are
 * summaries: the quantiles come from the log-linear histograms of
 * util/hist.h (bucket upper bounds, within ~12%), _sum and _count are
 * exact (commit latency has no exact sum: its histogram is kept by
 * commit.c without one, so it is exposed without _sum).
 *
 * The server: one thread, poll() on the listening socket and a stop pipe,
 * one connection at a time, a request read up to its blank line (8 KiB at
 * most, 2 s at most), answered and closed.  It reads the database only
 * through bt_db_metrics_text, which is safe next to the writer.
 */
#define _GNU_SOURCE 1 /* accept4, pipe2 */
#include "db/db_int.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

_Thread_local uint64_t bt_db__thread_loads;

uint64_t bt_db__mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void bt_db__metrics_init(bt_db_metrics *m)
{
    memset(m, 0, sizeof *m);
    pthread_mutex_init(&m->mu, NULL);
}

void bt_db__metrics_destroy(bt_db_metrics *m)
{
    pthread_mutex_destroy(&m->mu);
}

void bt_db__metrics_read(bt_db_metrics *m, int kind, uint64_t ns, uint64_t loads_before)
{
    if (bt_db__thread_loads == loads_before)
        atomic_fetch_add_explicit(&m->reads_cached, 1, memory_order_relaxed);
    else
        atomic_fetch_add_explicit(&m->reads_loading, 1, memory_order_relaxed);
    /* lock-free: readers on many threads must not meet on a mutex here */
    if (kind == 0) {
        bt_hist_add_atomic(&m->get_ns, ns);
        atomic_fetch_add_explicit(&m->get_sum_ns, ns, memory_order_relaxed);
    } else {
        bt_hist_add_atomic(&m->prove_ns, ns);
        atomic_fetch_add_explicit(&m->prove_sum_ns, ns, memory_order_relaxed);
    }
}

void bt_db__metrics_txn_ops(bt_db_metrics *m, const struct bt_op *ops,
                            const struct bt_result *results, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned t = (unsigned)ops[i].type;
        if (t >= BT_METRICS_OP_TYPES) continue;
        atomic_fetch_add_explicit(&m->txn_ops[t], 1, memory_order_relaxed);
        if (results[i].status)
            atomic_fetch_add_explicit(&m->txn_ops_failed[t], 1, memory_order_relaxed);
    }
}

/* ---- the text ---------------------------------------------------------------- */

typedef struct mout {
    bt_buf b;
    int err;
} mout;

static void emit(mout *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void emit(mout *o, const char *fmt, ...)
{
    if (o->err) return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0) n = 0;
    if ((size_t)n >= sizeof line) n = (int)sizeof line - 1; /* our lines are short */
    o->err = bt_buf_append(&o->b, line, (size_t)n);
}

static void family(mout *o, const char *name, const char *type, const char *help)
{
    emit(o, "# HELP basistrees_%s %s\n# TYPE basistrees_%s %s\n", name, help, name, type);
}

static void gauge(mout *o, const char *name, const char *help, double v)
{
    family(o, name, "gauge", help);
    emit(o, "basistrees_%s %.17g\n", name, v);
}

static void counter(mout *o, const char *name, const char *help, uint64_t v)
{
    family(o, name, "counter", help);
    emit(o, "basistrees_%s %llu\n", name, (unsigned long long)v);
}

/* A summary in seconds from a histogram of nanoseconds. */
static void summary(mout *o, const char *name, const char *help, const bt_hist *h, int has_sum,
                    uint64_t sum_ns)
{
    static const double qs[3] = {0.5, 0.95, 0.99};
    family(o, name, "summary", help);
    for (int i = 0; i < 3; i++)
        emit(o, "basistrees_%s{quantile=\"%g\"} %.9g\n", name, qs[i],
             (double)bt_hist_quantile(h, qs[i]) / 1e9);
    if (has_sum) emit(o, "basistrees_%s_sum %.9g\n", name, (double)sum_ns / 1e9);
    emit(o, "basistrees_%s_count %llu\n", name, (unsigned long long)h->count);
}

static const char *const op_names[BT_METRICS_OP_TYPES] = {
    "Lookup", "Insert", "Update", "InsertOrUpdate", "Remove", "RemoveIfExists"};

int bt_db_metrics_text(char **out_text, size_t *out_len, bt_db *db)
{
    *out_text = NULL;
    *out_len = 0;
    bt_db_stats st;
    int rc = bt_db_stats_get(&st, db);
    if (rc) return rc;
    /* writer-side numbers, read under the writer's lock as stats does */
    pthread_mutex_lock(&db->wlock);
    uint64_t unflushed = db->ops_since_flush;
    bt_hist *commit = bt_malloc(sizeof *commit);
    if (commit) *commit = db->commit_ns;
    pthread_mutex_unlock(&db->wlock);
    bt_db_metrics *m = &db->metrics;
    bt_hist *get = bt_malloc(sizeof *get), *prove = bt_malloc(sizeof *prove);
    if (!commit || !get || !prove) {
        bt_mem_free(commit);
        bt_mem_free(get);
        bt_mem_free(prove);
        return bt_db__set_msg(BT_ENOMEM, "out of memory");
    }
    bt_hist_snapshot(get, &m->get_ns);
    bt_hist_snapshot(prove, &m->prove_ns);
    uint64_t get_sum = atomic_load(&m->get_sum_ns), prove_sum = atomic_load(&m->prove_sum_ns);
    pthread_mutex_lock(&m->mu);
    uint64_t backups = m->backups, backup_failures = m->backup_failures;
    uint64_t last_backup = m->last_backup_unix, last_backup_id = m->last_backup_id;
    double backup_secs = m->last_backup_seconds;
    uint64_t compactions = m->compactions, compaction_failures = m->compaction_failures;
    uint64_t last_compaction = m->last_compaction_unix;
    double compaction_secs = m->last_compaction_seconds;
    pthread_mutex_unlock(&m->mu);

    mout o = {BT_BUF_INIT, 0};
    family(&o, "info", "gauge", "Library version and database state (always 1).");
    emit(&o, "basistrees_info{version=\"%s\",read_only=\"%d\"} 1\n", BT_VERSION_STRING,
         db->o.read_only ? 1 : 0);
    gauge(&o, "trees", "Number of trees in the database.", (double)st.trees);
    gauge(&o, "keys", "Keys over all trees (last committed versions).", (double)st.notes);
    counter(&o, "commits_total", "Commits since the database was created (last commit sequence).",
            st.commits);

    family(&o, "txn_operations_total", "counter",
           "Operations applied in transactions since open, by type and outcome.");
    for (int t = 0; t < BT_METRICS_OP_TYPES; t++) {
        uint64_t all = atomic_load_explicit(&m->txn_ops[t], memory_order_relaxed);
        uint64_t bad = atomic_load_explicit(&m->txn_ops_failed[t], memory_order_relaxed);
        emit(&o, "basistrees_txn_operations_total{type=\"%s\",outcome=\"ok\"} %llu\n", op_names[t],
             (unsigned long long)(all - bad));
        emit(&o, "basistrees_txn_operations_total{type=\"%s\",outcome=\"failed\"} %llu\n",
             op_names[t], (unsigned long long)bad);
    }
    family(&o, "proof_operations_total", "counter",
           "Operations proved by bt_db_prove (lookups and what-ifs) since open, by type.");
    for (int t = 0; t < BT_METRICS_OP_TYPES; t++)
        emit(&o, "basistrees_proof_operations_total{type=\"%s\"} %llu\n", op_names[t],
             (unsigned long long)atomic_load_explicit(&m->prove_ops[t], memory_order_relaxed));

    summary(&o, "commit_latency_seconds", "Commit latency since open (no _sum).", commit, 0, 0);
    summary(&o, "lookup_latency_seconds", "bt_db_get latency since open.", get, 1, get_sum);
    summary(&o, "proof_latency_seconds", "bt_db_prove latency since open.", prove, 1, prove_sum);

    uint64_t cached = atomic_load(&m->reads_cached), loading = atomic_load(&m->reads_loading);
    counter(&o, "reads_cached_total", "Reads served without loading a node from the store.",
            cached);
    counter(&o, "reads_loading_total", "Reads that loaded at least one node from the store.",
            loading);
    gauge(&o, "node_cache_hit_ratio",
          "Fraction of reads served from the node cache alone (1 when there were no reads).",
          cached + loading ? (double)cached / (double)(cached + loading) : 1.0);
    gauge(&o, "node_cache_bytes", "Bytes of stored nodes held in memory.", (double)st.cache_bytes);
    gauge(&o, "node_cache_budget_bytes", "The node cache budget (cache_bytes option).",
          (double)db->o.cache_bytes);
    counter(&o, "node_loads_total", "Nodes loaded from the store since open (cache misses).",
            st.nodes_loaded);
    counter(&o, "node_cache_drops_total", "Times the node cache was emptied to stay in budget.",
            st.cache_drops);
    counter(&o, "nodes_written_total", "Nodes written by node flushes since open.", st.nodes_written);
    counter(&o, "nodes_deleted_total", "Obsolete nodes deleted since open.", st.nodes_deleted);
    counter(&o, "node_flushes_total", "Node flushes since open.", st.flushes);
    counter(&o, "wal_syncs_total", "Write-ahead-log syncs since open.", st.syncs);

    family(&o, "partition_bytes", "gauge", "Approximate bytes on disk per partition.");
    for (int cf = 0; cf < BT_CF_COUNT; cf++)
        emit(&o, "basistrees_partition_bytes{partition=\"%s\"} %llu\n", bt_cf_names[cf],
             (unsigned long long)st.partition_bytes[cf]);
    family(&o, "partition_compression_ratio", "gauge",
           "Uncompressed over stored bytes of a partition's table files (1 if none).");
    for (int cf = 0; cf < BT_CF_COUNT; cf++) {
        uint64_t raw = 0, stored = 0;
        if (db->kv->v->cf_raw_bytes) db->kv->v->cf_raw_bytes(db->kv, cf, &raw, &stored);
        emit(&o, "basistrees_partition_compression_ratio{partition=\"%s\"} %.6g\n",
             bt_cf_names[cf], stored ? (double)raw / (double)stored : 1.0);
    }

    uint64_t first = 1, last = st.ops;
    if (bt_db_oplog_bounds(&first, &last, db) != 0) {
        first = 1;
        last = st.ops;
    }
    gauge(&o, "oplog_length", "Operations retained in the operation log (last - first + 1).",
          last >= first ? (double)(last - first + 1) : 0.0);
    gauge(&o, "oplog_first_seq", "First retained operation sequence number.", (double)first);
    gauge(&o, "oplog_last_seq", "Last operation sequence number.", (double)last);
    gauge(&o, "oplog_unflushed_ops",
          "Logged operations not yet covered by a node flush (what a reopen would replay).",
          (double)unflushed);
    gauge(&o, "last_replay_ops", "Operations replayed by the last open.", (double)st.replayed_ops);
    gauge(&o, "open_seconds", "Time the last open took.", st.open_ms / 1e3);
    gauge(&o, "open_wal_files_set_aside",
          "WAL files the last open moved into wal-gap-*/ to repair a gap after a power cut.",
          (double)db->wal_files_set_aside);

    bt_checkpoint *ck = NULL;
    if (bt_db_checkpoint_get(&ck, db, 0) == 0 && ck) {
        uint64_t now_ms = bt_db__now_ms();
        gauge(&o, "checkpoint_last_id", "Id of the newest checkpoint (absent: none).", (double)ck->id);
        gauge(&o, "checkpoint_age_seconds", "Age of the newest checkpoint (absent: none).",
              now_ms > ck->ts_ms ? (double)(now_ms - ck->ts_ms) / 1e3 : 0.0);
        bt_free(ck);
    }
    counter(&o, "backups_total", "Backups taken by this handle.", backups);
    counter(&o, "backup_failures_total", "Backups that failed.", backup_failures);
    gauge(&o, "last_backup_timestamp_seconds", "Unix time of the last backup attempt (0: none).",
          (double)last_backup);
    gauge(&o, "last_backup_id", "Id of the last successful backup (0: none).",
          (double)last_backup_id);
    gauge(&o, "last_backup_duration_seconds", "Duration of the last backup attempt.", backup_secs);
    counter(&o, "compactions_total", "Compactions run by this handle.", compactions);
    counter(&o, "compaction_failures_total", "Compactions that failed.", compaction_failures);
    gauge(&o, "last_compaction_timestamp_seconds",
          "Unix time of the last compaction attempt (0: none).", (double)last_compaction);
    gauge(&o, "last_compaction_duration_seconds", "Duration of the last compaction.",
          compaction_secs);

    bt_mem_free(commit);
    bt_mem_free(get);
    bt_mem_free(prove);
    if (!o.err) o.err = bt_buf_put(&o.b, 0);
    if (o.err) {
        bt_buf_free(&o.b);
        return bt_db__set_msg(BT_ENOMEM, "out of memory");
    }
    size_t len;
    *out_text = (char *)bt_buf_take(&o.b, &len);
    *out_len = len - 1;
    return 0;
}

/* ---- the HTTP endpoint --------------------------------------------------------- */

#define SRV_REQ_MAX 8192
#define SRV_TIMEOUT_MS 2000

struct bt_metrics_server {
    bt_db *db;
    int fd;
    int stop_pipe[2];
    unsigned port;
    pthread_t th;
};

static void srv_msg(char *errmsg, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void srv_msg(char *errmsg, size_t cap, const char *fmt, ...)
{
    if (!errmsg || !cap) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errmsg, cap, fmt, ap);
    va_end(ap);
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        struct pollfd pf = {fd, POLLOUT, 0};
        if (poll(&pf, 1, SRV_TIMEOUT_MS) <= 0) return -1;
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (w <= 0) return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static void respond(int fd, const char *status, const char *ctype, const char *body, size_t blen)
{
    char head[256];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n",
                     status, ctype, blen);
    if (write_all(fd, head, (size_t)n) == 0 && blen) write_all(fd, body, blen);
}

/* Reads the request head (to the blank line) within the limits. */
static int read_head(int fd, char *buf, size_t cap)
{
    size_t len = 0;
    uint64_t deadline = bt_db__mono_ns() + (uint64_t)SRV_TIMEOUT_MS * 1000000u;
    while (len + 1 < cap) {
        uint64_t now = bt_db__mono_ns();
        if (now >= deadline) return -1;
        struct pollfd pf = {fd, POLLIN, 0};
        if (poll(&pf, 1, (int)((deadline - now) / 1000000u) + 1) <= 0) return -1;
        ssize_t r = recv(fd, buf + len, cap - 1 - len, 0);
        if (r < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (r <= 0) return -1;
        len += (size_t)r;
        buf[len] = 0;
        if (strstr(buf, "\r\n\r\n") || strstr(buf, "\n\n")) return 0;
    }
    return -1;
}

static void serve_one(bt_metrics_server *s, int fd)
{
    char req[SRV_REQ_MAX];
    if (read_head(fd, req, sizeof req) != 0) {
        respond(fd, "400 Bad Request", "text/plain", "bad request\n", 12);
        return;
    }
    char method[8] = "", path[256] = "";
    if (sscanf(req, "%7s %255s", method, path) != 2) {
        respond(fd, "400 Bad Request", "text/plain", "bad request\n", 12);
        return;
    }
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        respond(fd, "405 Method Not Allowed", "text/plain", "GET only\n", 9);
        return;
    }
    char *q = strchr(path, '?');
    if (q) *q = 0;
    if (strcmp(path, "/metrics") != 0 && strcmp(path, "/") != 0) {
        respond(fd, "404 Not Found", "text/plain", "not found; try /metrics\n", 24);
        return;
    }
    char *text = NULL;
    size_t len = 0;
    int rc = bt_db_metrics_text(&text, &len, s->db);
    if (rc) {
        respond(fd, "500 Internal Server Error", "text/plain", "metrics unavailable\n", 20);
        return;
    }
    respond(fd, "200 OK", "text/plain; version=0.0.4; charset=utf-8",
            strcmp(method, "HEAD") == 0 ? NULL : text, strcmp(method, "HEAD") == 0 ? 0 : len);
    bt_mem_free(text);
}

static void *srv_main(void *arg)
{
    bt_metrics_server *s = arg;
    for (;;) {
        struct pollfd pf[2] = {{s->fd, POLLIN, 0}, {s->stop_pipe[0], POLLIN, 0}};
        int n = poll(pf, 2, -1);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 || (pf[1].revents & (POLLIN | POLLHUP))) break;
        if (!(pf[0].revents & POLLIN)) continue;
        int c = accept4(s->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (c < 0) continue; /* EAGAIN, ECONNABORTED, EMFILE: try again later */
        serve_one(s, c);
        close(c);
    }
    return NULL;
}

static int parse_listen(struct sockaddr_in *sa, const char *listen_addr)
{
    char host[64];
    const char *colon = listen_addr ? strrchr(listen_addr, ':') : NULL;
    if (!colon || (size_t)(colon - listen_addr) >= sizeof host || colon == listen_addr) return -1;
    memcpy(host, listen_addr, (size_t)(colon - listen_addr));
    host[colon - listen_addr] = 0;
    char *end = NULL;
    errno = 0;
    unsigned long port = strtoul(colon + 1, &end, 10);
    if (errno || end == colon + 1 || *end || port > 65535) return -1;
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    sa->sin_port = htons((uint16_t)port);
    if (strcmp(host, "localhost") == 0) strcpy(host, "127.0.0.1");
    if (inet_pton(AF_INET, host, &sa->sin_addr) != 1) return -1;
    return 0;
}

int bt_metrics_server_start(bt_metrics_server **out, bt_db *db, const char *listen_addr,
                            char *errmsg, size_t errmsg_cap)
{
    *out = NULL;
    struct sockaddr_in sa;
    if (!db || parse_listen(&sa, listen_addr) != 0) {
        srv_msg(errmsg, errmsg_cap, "listen address must be IPV4:PORT, e.g. 127.0.0.1:9464");
        return BT_EINVAL;
    }
    bt_metrics_server *s = bt_calloc(1, sizeof *s);
    if (!s) {
        srv_msg(errmsg, errmsg_cap, "out of memory");
        return BT_ENOMEM;
    }
    s->db = db;
    s->stop_pipe[0] = s->stop_pipe[1] = -1;
    int rc = 0;
    s->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    int one = 1;
    if (s->fd < 0) rc = BT_EIO;
    else if (setsockopt(s->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0) rc = BT_EIO;
    else if (bind(s->fd, (struct sockaddr *)&sa, sizeof sa) != 0)
        rc = errno == EADDRINUSE ? BT_EBUSY : BT_EIO;
    else if (listen(s->fd, 16) != 0) rc = BT_EIO;
    if (rc) srv_msg(errmsg, errmsg_cap, "cannot listen on %s: %s", listen_addr, strerror(errno));
    if (!rc) {
        socklen_t sl = sizeof sa;
        if (getsockname(s->fd, (struct sockaddr *)&sa, &sl) == 0) s->port = ntohs(sa.sin_port);
        if (pipe2(s->stop_pipe, O_CLOEXEC) != 0) {
            rc = BT_EIO;
            srv_msg(errmsg, errmsg_cap, "pipe: %s", strerror(errno));
        }
    }
    if (!rc && pthread_create(&s->th, NULL, srv_main, s) != 0) {
        rc = BT_ENOMEM;
        srv_msg(errmsg, errmsg_cap, "cannot start the metrics server thread");
    }
    if (rc) {
        if (s->fd >= 0) close(s->fd);
        if (s->stop_pipe[0] >= 0) close(s->stop_pipe[0]);
        if (s->stop_pipe[1] >= 0) close(s->stop_pipe[1]);
        bt_mem_free(s);
        return rc;
    }
    bt_log(BT_LOG_INFO, "serving metrics on http://%s/metrics (port %u)", listen_addr, s->port);
    *out = s;
    return 0;
}

unsigned bt_metrics_server_port(const bt_metrics_server *s)
{
    return s ? s->port : 0;
}

void bt_metrics_server_stop(bt_metrics_server *s)
{
    if (!s) return;
    close(s->stop_pipe[1]); /* POLLHUP wakes the thread */
    pthread_join(s->th, NULL);
    close(s->stop_pipe[0]);
    close(s->fd);
    bt_mem_free(s);
}
