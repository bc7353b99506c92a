/*
 * test_metrics.c -- bt_db_metrics_text counts what happened: operations by
 * type and outcome, lookups and proofs (latency summaries' _count), a
 * compaction; and bt_metrics_server refuses bad addresses, serves /metrics
 * and 404 elsewhere.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "basistrees.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static char dir[256];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/bt-test-metrics-XXXXXX");
    assert_non_null(mkdtemp(dir));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
    return 0;
}

/* The value of the sample line starting with name (exact, then a space). */
static double sample(const char *text, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        if (strncmp(p, name, n) == 0 && p[n] == ' ') return strtod(p + n + 1, NULL);
    }
    fail_msg("no sample %s", name);
    return -1;
}

static void test_counts(void **state)
{
    (void)state;
    bt_db_options o = BT_DB_OPTIONS_INIT;
    o.durability = BT_DURABILITY_NONE;
    o.min_free_bytes = 0;
    bt_db *db = NULL;
    assert_int_equal(bt_db_open(&db, dir, &o, NULL, 0), 0);
    bt_params p = BT_PARAMS_INIT;
    assert_int_equal(bt_db_tree_create(db, "t", &p), 0);
    uint8_t keys[10][32], v[8] = {1};
    bt_op ops[11];
    bt_result res[11];
    for (int i = 0; i < 10; i++) {
        memset(keys[i], 0, 32);
        keys[i][0] = 1;
        keys[i][31] = (uint8_t)i;
        ops[i] = (bt_op){BT_OP_INSERT, keys[i], 32, v, 8};
    }
    ops[10] = (bt_op){BT_OP_INSERT, keys[3], 32, v, 8}; /* fails: exists */
    bt_txn *t;
    assert_int_equal(bt_txn_begin(&t, db), 0);
    assert_int_equal(bt_txn_apply(t, "t", ops, 11, res), 0);
    assert_int_equal(bt_txn_commit(t, NULL), 0);
    for (int i = 0; i < 7; i++) {
        uint8_t *val;
        size_t len;
        assert_int_equal(bt_db_get(&val, &len, db, "t", keys[i], 32), 0);
        bt_free(val);
    }
    bt_op look[2] = {{BT_OP_LOOKUP, keys[1], 32, NULL, 0}, {BT_OP_UPDATE, keys[2], 32, v, 8}};
    uint8_t *proof, d[BT_DIGEST_LEN];
    size_t plen;
    assert_int_equal(bt_db_prove(&proof, &plen, d, NULL, db, "t", look, 2), 0);
    bt_free(proof);
    assert_int_equal(bt_db_compact(db), 0);

    char *text = NULL;
    size_t len = 0;
    assert_int_equal(bt_db_metrics_text(&text, &len, db), 0);
    assert_int_equal(strlen(text), len);
    assert_true(sample(text, "basistrees_txn_operations_total{type=\"Insert\",outcome=\"ok\"}") == 10);
    assert_true(sample(text, "basistrees_txn_operations_total{type=\"Insert\",outcome=\"failed\"}") == 1);
    assert_true(sample(text, "basistrees_lookup_latency_seconds_count") == 7);
    assert_true(sample(text, "basistrees_proof_latency_seconds_count") == 1);
    assert_true(sample(text, "basistrees_proof_operations_total{type=\"Update\"}") == 1);
    assert_true(sample(text, "basistrees_commit_latency_seconds_count") == 1);
    assert_true(sample(text, "basistrees_compactions_total") == 1);
    assert_true(sample(text, "basistrees_keys") == 10);
    assert_true(sample(text, "basistrees_oplog_length") == 10);
    double hit = sample(text, "basistrees_node_cache_hit_ratio");
    assert_true(hit >= 0 && hit <= 1);
    assert_true(sample(text, "basistrees_lookup_latency_seconds{quantile=\"0.5\"}") >= 0);
    assert_null(strstr(text, "basistrees_checkpoint_age_seconds"));
    bt_free(text);
    uint64_t ck = 0;
    assert_int_equal(bt_db_checkpoint_create(&ck, db, NULL), 0);
    assert_int_equal(bt_db_metrics_text(&text, &len, db), 0);
    assert_true(sample(text, "basistrees_checkpoint_last_id") == (double)ck);
    assert_true(sample(text, "basistrees_checkpoint_age_seconds") >= 0);
    bt_free(text);

    /* the HTTP endpoint */
    bt_metrics_server *s = NULL;
    char msg[200];
    assert_int_equal(bt_metrics_server_start(&s, db, "localhost", msg, sizeof msg), BT_EINVAL);
    assert_int_equal(bt_metrics_server_start(&s, db, "1.2.3:80", msg, sizeof msg), BT_EINVAL);
    assert_int_equal(bt_metrics_server_start(&s, db, "127.0.0.1:0", msg, sizeof msg), 0);
    unsigned port = bt_metrics_server_port(s);
    assert_true(port > 0);
    const char *paths[2] = {"/metrics", "/other"};
    for (int i = 0; i < 2; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in sa = {0};
        sa.sin_family = AF_INET;
        sa.sin_port = htons((uint16_t)port);
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
        char req[100];
        int n = snprintf(req, sizeof req, "GET %s HTTP/1.0\r\n\r\n", paths[i]);
        assert_int_equal(write(fd, req, (size_t)n), n);
        static char buf[1 << 16];
        size_t got = 0;
        ssize_t r;
        while ((r = read(fd, buf + got, sizeof buf - 1 - got)) > 0) got += (size_t)r;
        buf[got] = 0;
        close(fd);
        if (i == 0) {
            assert_non_null(strstr(buf, "HTTP/1.1 200 OK"));
            assert_non_null(strstr(buf, "\r\n\r\n# HELP basistrees_"));
            assert_true(sample(strstr(buf, "\r\n\r\n") + 4, "basistrees_keys") == 10);
        } else {
            assert_non_null(strstr(buf, "HTTP/1.1 404"));
        }
    }
    bt_metrics_server *s2 = NULL;
    char addr[32];
    snprintf(addr, sizeof addr, "127.0.0.1:%u", port);
    assert_int_equal(bt_metrics_server_start(&s2, db, addr, msg, sizeof msg), BT_EBUSY);
    bt_metrics_server_stop(s);
    bt_metrics_server_stop(NULL);
    assert_int_equal(bt_db_close(db), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_counts, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
