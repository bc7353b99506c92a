/*
 * relshim.c -- an LD_PRELOAD shim for the reliability tests (README.md).
 *
 * Two jobs, both limited to files under one directory (RELSHIM_ROOT):
 *
 * 1. Power-cut recording (RELSHIM_LOG=FILE).  Appends one line per event
 *    that decides what a machine crash would keep, each with one write() to
 *    an O_APPEND file (the page cache survives the kill -9 that ends the
 *    writer, so the log is complete up to the kill):
 *        S <path> <size>     fsync/fdatasync of a regular file succeeded;
 *                            <size> is its size then
 *        T <path>            opened with O_TRUNC (or created by creat)
 *        Z <path> <len>      ftruncate to len
 *        R <old> <new>       a rename is about to happen (intent)
 *        r <old> <new>       ... and happened
 *        L <old> <new>       hard link made
 *        U <path>            unlinked
 *    powercut.c replays the log and truncates every file to what was synced.
 *    RELSHIM_SKIPSYNC=SUBSTR turns fsync/fdatasync of paths containing SUBSTR
 *    into a successful no-op that is not logged: a build that "forgets" a
 *    sync, to prove that the power-cut test can fail.
 *
 * 2. Fault injection (RELSHIM_FAULT=CLASS:N:ERRNO[:sticky]).  Counts the
 *    calls of CLASS on files under the root (write: write/pwrite/writev/
 *    pwritev; sync: fsync/fdatasync; open: open/openat/creat
 *    that create or truncate or open for writing; rename: rename/renameat/
 *    link; any: all of these) and makes the N-th fail with ERRNO (EIO,
 *    ENOSPC, EDQUOT) without doing it; with ":sticky" every later call of the
 *    class fails too (a dead disk).  A failing write may also be short:
 *    RELSHIM_FAULT_SHORT=1 writes half of the bytes first, then fails the
 *    next call.  RELSHIM_FAULT_SKIP=SUBSTR: paths containing SUBSTR are
 *    never faulted nor counted (e.g. "/LOG": RocksDB's info log, whose
 *    write errors abort Debian's build -- docs/RELIABILITY.md).  When the
 *    fault fires, a line "F <class> <n> <path>" goes to
 *    RELSHIM_FAULT_LOG (if set), and at a normal exit "C <calls counted>"
 *    (run once with a huge N to learn how many calls a workload makes).
 *
 * Thread-safe: the counters are atomics, the log writes are single write()s.
 * Never used in the library itself.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <execinfo.h>
#include <signal.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

/* Exported interposers; the prototypes come from the system headers. */
#pragma GCC diagnostic ignored "-Wmissing-prototypes"

enum { FC_WRITE = 1, FC_SYNC = 2, FC_OPEN = 4, FC_RENAME = 8 };

static char g_root[PATH_MAX];
static size_t g_rootlen;
static int g_log = -1, g_faultlog = -1;
static char g_skip[256], g_fskip[256];
static int g_fclass, g_ferrno, g_fsticky, g_fshort;
static long g_fn;
static atomic_long g_count;
static atomic_int g_fired;
static atomic_int g_inited;

/* Real functions. */
static int (*r_open)(const char *, int, ...);
static int (*r_open64)(const char *, int, ...);
static int (*r_openat)(int, const char *, int, ...);
static int (*r_openat64)(int, const char *, int, ...);
static int (*r_creat)(const char *, mode_t);
static ssize_t (*r_write)(int, const void *, size_t);
static ssize_t (*r_pwrite)(int, const void *, size_t, off_t);
static ssize_t (*r_pwrite64)(int, const void *, size_t, off_t);
static ssize_t (*r_writev)(int, const struct iovec *, int);
static ssize_t (*r_pwritev)(int, const struct iovec *, int, off_t);
static int (*r_fsync)(int);
static int (*r_fdatasync)(int);
static int (*r_sync_file_range)(int, off_t, off_t, unsigned);
static int (*r_ftruncate)(int, off_t);
static int (*r_ftruncate64)(int, off_t);
static int (*r_rename)(const char *, const char *);
static int (*r_renameat)(int, const char *, int, const char *);
static int (*r_link)(const char *, const char *);
static int (*r_unlink)(const char *);
static int (*r_unlinkat)(int, const char *, int);

#define LOAD(name) r_##name = dlsym(RTLD_NEXT, #name)

static void shim_init(void)
{
    if (atomic_load(&g_inited)) return;
    LOAD(open); LOAD(open64); LOAD(openat); LOAD(openat64); LOAD(creat);
    LOAD(write); LOAD(pwrite); LOAD(pwrite64); LOAD(writev); LOAD(pwritev);
    LOAD(fsync); LOAD(fdatasync); LOAD(sync_file_range); LOAD(ftruncate); LOAD(ftruncate64);
    LOAD(rename); LOAD(renameat); LOAD(link); LOAD(unlink); LOAD(unlinkat);
    const char *root = getenv("RELSHIM_ROOT");
    if (root && *root && realpath(root, g_root)) g_rootlen = strlen(g_root);
    const char *s = getenv("RELSHIM_SKIPSYNC");
    if (s) snprintf(g_skip, sizeof g_skip, "%s", s);
    s = getenv("RELSHIM_FAULT_SKIP");
    if (s) snprintf(g_fskip, sizeof g_fskip, "%s", s);
    const char *lp = getenv("RELSHIM_LOG");
    if (lp && *lp) g_log = r_open(lp, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    lp = getenv("RELSHIM_FAULT_LOG");
    if (lp && *lp) g_faultlog = r_open(lp, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    const char *f = getenv("RELSHIM_FAULT");
    if (f && *f) {
        char cls[16] = "", err[16] = "", st[16] = "";
        long n = 0;
        if (sscanf(f, "%15[a-z]:%ld:%15[A-Z]:%15s", cls, &n, err, st) >= 3 && n > 0) {
            g_fclass = !strcmp(cls, "write")    ? FC_WRITE
                       : !strcmp(cls, "sync")   ? FC_SYNC
                       : !strcmp(cls, "open")   ? FC_OPEN
                       : !strcmp(cls, "rename") ? FC_RENAME
                       : !strcmp(cls, "any")    ? (FC_WRITE | FC_SYNC | FC_OPEN | FC_RENAME)
                                                : 0;
            g_ferrno = !strcmp(err, "ENOSPC") ? ENOSPC : !strcmp(err, "EDQUOT") ? EDQUOT : EIO;
            g_fsticky = !strcmp(st, "sticky");
            g_fn = n;
        }
        const char *sh = getenv("RELSHIM_FAULT_SHORT");
        g_fshort = sh && *sh == '1';
    }
    atomic_store(&g_inited, 1);
}

/* RELSHIM_BACKTRACE=1: print a backtrace to stderr on SIGABRT/SIGSEGV
 * (where did an assertion inside the engine fire?). */
static void on_fatal(int sig)
{
    void *frames[64];
    int n = backtrace(frames, 64);
    backtrace_symbols_fd(frames, n, 2);
    signal(sig, SIG_DFL);
    raise(sig);
}

__attribute__((constructor)) static void shim_ctor(void)
{
    shim_init();
    const char *bt = getenv("RELSHIM_BACKTRACE");
    if (bt && *bt == '1') {
        signal(SIGABRT, on_fatal);
        signal(SIGSEGV, on_fatal);
    }
}

static void emit(int fd, const char *fmt, ...);

/* At a normal exit: how many calls of the class were seen (calibration). */
__attribute__((destructor)) static void shim_dtor(void)
{
    if (g_fclass) emit(g_faultlog, "C %ld\n", (long)atomic_load(&g_count));
}

static void emit(int fd, const char *fmt, ...)
{
    if (fd < 0) return;
    char line[3 * PATH_MAX];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n > 0 && (size_t)n < sizeof line) {
        int saved = errno;
        ssize_t w = r_write(fd, line, (size_t)n);
        (void)w;
        errno = saved;
    }
}

static int under_root(const char *abs)
{
    return g_rootlen && strncmp(abs, g_root, g_rootlen) == 0 &&
           (abs[g_rootlen] == '/' || abs[g_rootlen] == 0);
}

/* The absolute path of fd (empty if unknown). */
static void fd_path(int fd, char *out, size_t cap)
{
    char p[64];
    snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(p, out, cap - 1);
    out[n > 0 ? (size_t)n : 0] = 0;
}

/* Absolute form of a path given relative to dirfd (no symlink resolution). */
static void abs_path(int dirfd, const char *path, char *out, size_t cap)
{
    if (path[0] == '/') {
        snprintf(out, cap, "%s", path);
        return;
    }
    char base[PATH_MAX] = "";
    if (dirfd == AT_FDCWD) {
        if (!getcwd(base, sizeof base)) base[0] = 0;
    } else {
        fd_path(dirfd, base, sizeof base);
    }
    snprintf(out, cap, "%s/%s", base, path);
}

/* Should this call fail?  Counts calls of the configured class. */
static int fault(int cls, const char *path)
{
    if (!(g_fclass & cls)) return 0;
    if (g_fskip[0] && strstr(path, g_fskip)) return 0;
    long n = atomic_fetch_add(&g_count, 1) + 1;
    if (n == g_fn || (g_fsticky && n > g_fn)) {
        if (atomic_exchange(&g_fired, 1) == 0)
            emit(g_faultlog, "F %s %ld %s\n",
                 cls == FC_WRITE ? "write" : cls == FC_SYNC ? "sync" : cls == FC_OPEN ? "open" : "rename",
                 n, path);
        errno = g_ferrno;
        return 1;
    }
    return 0;
}

static int fd_tracked(int fd, char *path, size_t cap)
{
    if (!g_rootlen) return 0;
    fd_path(fd, path, cap);
    return under_root(path);
}

/* ---- open ------------------------------------------------------------------ */

static int open_common(int (*real)(const char *, int, ...), int dirfd, const char *path, int flags,
                       mode_t mode, int is_at,
                       int (*realat)(int, const char *, int, ...))
{
    shim_init();
    char abs[PATH_MAX];
    int tracked = 0;
    if (g_rootlen && path) {
        abs_path(is_at ? dirfd : AT_FDCWD, path, abs, sizeof abs);
        tracked = under_root(abs);
    }
    int writes = (flags & (O_WRONLY | O_RDWR | O_CREAT | O_TRUNC)) != 0;
    if (tracked && writes && fault(FC_OPEN, abs)) return -1;
    int fd = is_at ? realat(dirfd, path, flags, mode) : real(path, flags, mode);
    if (fd >= 0 && tracked && (flags & O_TRUNC)) emit(g_log, "T %s\n", abs);
    return fd;
}

int open(const char *path, int flags, ...)
{
    mode_t mode = 0;
    if (flags & (O_CREAT | O_TMPFILE)) {
        va_list ap;
        va_start(ap, flags);
        mode = (mode_t)va_arg(ap, int);
        va_end(ap);
    }
    shim_init();
    return open_common(r_open, AT_FDCWD, path, flags, mode, 0, NULL);
}

int open64(const char *path, int flags, ...)
{
    mode_t mode = 0;
    if (flags & (O_CREAT | O_TMPFILE)) {
        va_list ap;
        va_start(ap, flags);
        mode = (mode_t)va_arg(ap, int);
        va_end(ap);
    }
    shim_init();
    return open_common(r_open64 ? r_open64 : r_open, AT_FDCWD, path, flags, mode, 0, NULL);
}

int openat(int dirfd, const char *path, int flags, ...)
{
    mode_t mode = 0;
    if (flags & (O_CREAT | O_TMPFILE)) {
        va_list ap;
        va_start(ap, flags);
        mode = (mode_t)va_arg(ap, int);
        va_end(ap);
    }
    shim_init();
    return open_common(NULL, dirfd, path, flags, mode, 1, r_openat);
}

int openat64(int dirfd, const char *path, int flags, ...)
{
    mode_t mode = 0;
    if (flags & (O_CREAT | O_TMPFILE)) {
        va_list ap;
        va_start(ap, flags);
        mode = (mode_t)va_arg(ap, int);
        va_end(ap);
    }
    shim_init();
    return open_common(NULL, dirfd, path, flags, mode, 1, r_openat64 ? r_openat64 : r_openat);
}

int creat(const char *path, mode_t mode)
{
    shim_init();
    return open_common(r_open, AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, mode, 0, NULL);
}

/* ---- writes ------------------------------------------------------------------ */

/* 0: go on; -1: fail with errno; >0: write only that many bytes (short write). */
static long write_gate(int fd, size_t len)
{
    if (!(g_fclass & FC_WRITE)) return 0;
    char p[PATH_MAX];
    if (!fd_tracked(fd, p, sizeof p)) return 0;
    if (g_fshort && len > 1 && !atomic_load(&g_fired)) {
        long n = atomic_load(&g_count) + 1;
        if (n == g_fn) {
            atomic_fetch_add(&g_count, 1); /* the short write itself ... */
            g_fn = n + 1;                   /* ... and the next call fails */
            return (long)(len / 2);
        }
    }
    return fault(FC_WRITE, p) ? -1 : 0;
}

ssize_t write(int fd, const void *buf, size_t len)
{
    shim_init();
    long g = write_gate(fd, len);
    if (g < 0) return -1;
    return r_write(fd, buf, g > 0 ? (size_t)g : len);
}

ssize_t pwrite(int fd, const void *buf, size_t len, off_t off)
{
    shim_init();
    long g = write_gate(fd, len);
    if (g < 0) return -1;
    return r_pwrite(fd, buf, g > 0 ? (size_t)g : len, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t len, off_t off)
{
    shim_init();
    long g = write_gate(fd, len);
    if (g < 0) return -1;
    return (r_pwrite64 ? r_pwrite64 : r_pwrite)(fd, buf, g > 0 ? (size_t)g : len, off);
}

ssize_t writev(int fd, const struct iovec *iov, int n)
{
    shim_init();
    if (write_gate(fd, 0) < 0) return -1;
    return r_writev(fd, iov, n);
}

ssize_t pwritev(int fd, const struct iovec *iov, int n, off_t off)
{
    shim_init();
    if (write_gate(fd, 0) < 0) return -1;
    return r_pwritev(fd, iov, n, off);
}

/* ---- syncs ------------------------------------------------------------------- */

static int sync_common(int fd, int (*real)(int))
{
    shim_init();
    char p[PATH_MAX];
    if (!fd_tracked(fd, p, sizeof p)) return real(fd);
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return real(fd);
    if (g_skip[0] && strstr(p, g_skip)) return 0; /* the "forgotten" sync */
    if (fault(FC_SYNC, p)) return -1;
    int rc = real(fd);
    if (rc == 0 && fstat(fd, &st) == 0) emit(g_log, "S %s %lld\n", p, (long long)st.st_size);
    return rc;
}

int fsync(int fd) { shim_init(); return sync_common(fd, r_fsync); }
int fdatasync(int fd) { shim_init(); return sync_common(fd, r_fdatasync); }

int sync_file_range(int fd, off_t off, off_t n, unsigned flags)
{
    /* Starts write-back only: no durability, never logged, never faulted
     * (RocksDB probes it at open and asserts on any error but ENOSYS). */
    shim_init();
    return r_sync_file_range(fd, off, n, flags);
}

static int trunc_common(int fd, off_t len, int (*real)(int, off_t))
{
    shim_init();
    int rc = real(fd, len);
    char p[PATH_MAX];
    if (rc == 0 && g_log >= 0 && fd_tracked(fd, p, sizeof p))
        emit(g_log, "Z %s %lld\n", p, (long long)len);
    return rc;
}

int ftruncate(int fd, off_t len) { shim_init(); return trunc_common(fd, len, r_ftruncate); }
int ftruncate64(int fd, off_t len)
{
    shim_init();
    return trunc_common(fd, len, r_ftruncate64 ? r_ftruncate64 : r_ftruncate);
}

/* ---- names ------------------------------------------------------------------- */

static int rename_common(int odir, const char *o, int ndir, const char *n, int is_at)
{
    shim_init();
    char ao[PATH_MAX], an[PATH_MAX];
    int tracked = 0;
    if (g_rootlen) {
        abs_path(odir, o, ao, sizeof ao);
        abs_path(ndir, n, an, sizeof an);
        tracked = under_root(ao) || under_root(an);
    }
    if (tracked && fault(FC_RENAME, an)) return -1;
    if (tracked) emit(g_log, "R %s %s\n", ao, an);
    int rc = is_at ? r_renameat(odir, o, ndir, n) : r_rename(o, n);
    if (tracked && rc == 0) emit(g_log, "r %s %s\n", ao, an);
    return rc;
}

int rename(const char *o, const char *n) { return rename_common(AT_FDCWD, o, AT_FDCWD, n, 0); }
int renameat(int od, const char *o, int nd, const char *n) { return rename_common(od, o, nd, n, 1); }

int link(const char *o, const char *n)
{
    shim_init();
    char ao[PATH_MAX], an[PATH_MAX];
    int tracked = 0;
    if (g_rootlen) {
        abs_path(AT_FDCWD, o, ao, sizeof ao);
        abs_path(AT_FDCWD, n, an, sizeof an);
        tracked = under_root(an);
    }
    if (tracked && fault(FC_RENAME, an)) return -1;
    int rc = r_link(o, n);
    if (tracked && rc == 0) emit(g_log, "L %s %s\n", ao, an);
    return rc;
}

int unlink(const char *p)
{
    shim_init();
    int rc = r_unlink(p);
    if (rc == 0 && g_rootlen && g_log >= 0) {
        char a[PATH_MAX];
        abs_path(AT_FDCWD, p, a, sizeof a);
        if (under_root(a)) emit(g_log, "U %s\n", a);
    }
    return rc;
}

int unlinkat(int dirfd, const char *p, int flags)
{
    shim_init();
    int rc = r_unlinkat(dirfd, p, flags);
    if (rc == 0 && g_rootlen && g_log >= 0 && !(flags & AT_REMOVEDIR)) {
        char a[PATH_MAX];
        abs_path(dirfd, p, a, sizeof a);
        if (under_root(a)) emit(g_log, "U %s\n", a);
    }
    return rc;
}
