//! Finds libbasistrees and checks that the crate's view of the C structs
//! matches the header it will be linked against.
//!
//! Where the library is looked for, first match wins:
//!   1. BASISTREES_LIB_DIR and BASISTREES_INCLUDE_DIR (explicit);
//!   2. BASISTREES_BUILD_DIR: a CMake build directory of this checkout (the
//!      header from `../../include`);
//!   3. `pkg-config basistrees` (an installed library; PKG_CONFIG_PATH works;
//!      BASISTREES_NO_PKG_CONFIG=1 skips it);
//!   4. `../../build` next to this crate.
//!
//! The library directory is also put in the test binaries' RPATH so that
//! `cargo test` runs without LD_LIBRARY_PATH.
//!
//! Layout check: a small C program (compiled with $CC or `cc` against the
//! header found above) prints the size and field offsets of every struct the
//! crate mirrors and the bytes of the *_INIT macros.  They are written to
//! $OUT_DIR/layout.rs, which src/ffi.rs includes as compile-time assertions
//! and default values, so a header change that the crate does not follow is
//! a build error rather than memory corruption.
use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// (C struct, fields the crate mirrors).  Keep in step with src/ffi.rs.
const STRUCTS: &[(&str, &[&str])] = &[
    ("bt_params", &["version", "key_len", "value_len", "value_max"]),
    ("bt_op", &["type", "key", "key_len", "value", "value_len"]),
    ("bt_result", &["status", "found", "old", "old_len"]),
    ("bt_verify_opts", &["version", "max_ops", "max_deletes"]),
    ("bt_db_options", &["version", "create_if_missing", "read_only", "durability", "group_ms",
        "group_ops", "cache_bytes", "flush_ops", "flush_bytes", "block_cache_bytes",
        "write_buffer_bytes", "compression", "zstd_level", "bloom_bits", "info_log_level",
        "info_log_dir", "min_free_bytes", "index_labels", "reserved", "checkpoint_keep",
        "reserved2", "checkpoint_keep_ms", "oplog_keep_ms"]),
    ("bt_commit_info", &["commit_seq", "last_op_seq", "ops_logged"]),
    ("bt_db_stats", &["trees", "commits", "ops", "nodes_written", "nodes_deleted",
        "nodes_loaded", "flushes", "syncs", "replayed_ops", "open_ms", "partition_bytes",
        "commit_ns_p50", "commit_ns_p95", "commit_ns_p99", "notes", "nodes", "cache_bytes",
        "cache_drops"]),
    ("bt_checkpoint_tree", &["name", "digest", "count"]),
    ("bt_checkpoint", &["id", "ts_ms", "commit_seq", "op_seq", "label", "ntrees", "trees"]),
    ("bt_oplog_entry", &["op_seq", "commit_seq", "ts_ms", "type", "tree", "key", "key_len",
        "value", "value_len", "has_prev", "prev", "prev_len", "digest"]),
    ("bt_avl_register", &["digest", "flags", "key_len", "has_value_len", "value_len"]),
];

/// Macros whose bytes become the Rust defaults: (macro, struct).
const INITS: &[(&str, &str)] = &[
    ("BT_PARAMS_INIT", "bt_params"),
    ("BT_VERIFY_OPTS_INIT", "bt_verify_opts"),
    ("BT_DB_OPTIONS_INIT", "bt_db_options"),
];

struct Found {
    lib_dir: PathBuf,
    include_dir: PathBuf,
    how: String,
}

fn pkg_config(args: &[&str]) -> Option<String> {
    let out = Command::new("pkg-config").args(args).arg("basistrees").output().ok()?;
    if !out.status.success() {
        return None;
    }
    Some(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn first_flag(s: &str, flag: &str) -> Option<PathBuf> {
    s.split_whitespace().find_map(|w| w.strip_prefix(flag)).map(PathBuf::from)
}

fn find_library(manifest: &Path) -> Result<Found, String> {
    if let Ok(lib) = env::var("BASISTREES_LIB_DIR") {
        let inc = env::var("BASISTREES_INCLUDE_DIR")
            .map_err(|_| "BASISTREES_LIB_DIR is set but BASISTREES_INCLUDE_DIR is not".to_string())?;
        return Ok(Found { lib_dir: lib.into(), include_dir: inc.into(), how: "environment".into() });
    }
    if let Ok(build) = env::var("BASISTREES_BUILD_DIR") {
        let build = PathBuf::from(build);
        if !build.join("libbasistrees.so").exists() {
            return Err(format!("BASISTREES_BUILD_DIR={}: no libbasistrees.so there", build.display()));
        }
        return Ok(Found {
            lib_dir: build.canonicalize().unwrap_or(build),
            include_dir: manifest.join("../../include"),
            how: "BASISTREES_BUILD_DIR".into(),
        });
    }
    if env::var_os("BASISTREES_NO_PKG_CONFIG").is_none() {
        if let (Some(libs), Some(cflags)) =
            (pkg_config(&["--libs-only-L"]), pkg_config(&["--cflags-only-I"]))
        {
            // pkg-config hides system directories; the loader knows them.
            let lib_dir = first_flag(&libs, "-L").unwrap_or_else(|| "/usr/lib".into());
            let include_dir = first_flag(&cflags, "-I").unwrap_or_else(|| "/usr/include".into());
            return Ok(Found { lib_dir, include_dir, how: "pkg-config".into() });
        }
    }
    let build = manifest.join("../../build");
    if build.join("libbasistrees.so").exists() {
        return Ok(Found {
            lib_dir: build.canonicalize().unwrap_or(build),
            include_dir: manifest.join("../../include"),
            how: "build tree".into(),
        });
    }
    Err(format!(
        "libbasistrees not found: install it (cmake --install) so that `pkg-config basistrees` \
         works, or set BASISTREES_BUILD_DIR to a CMake build directory (default {} has none), \
         or set BASISTREES_LIB_DIR and BASISTREES_INCLUDE_DIR",
        build.display()
    ))
}

fn probe_source() -> String {
    let mut s = String::from(
        "#include <stddef.h>\n#include <stdio.h>\n#include <basistrees.h>\n\
         static void dump(const char *name, const void *p, size_t n) {\n\
           const unsigned char *b = p;\n\
           printf(\"pub(crate) const %s: [u8; %zu] = [\", name, n);\n\
           for (size_t i = 0; i < n; i++) printf(\"%u,\", b[i]);\n\
           printf(\"];\\n\");\n}\n\
         int main(void) {\n",
    );
    for (st, fields) in STRUCTS {
        s += &format!(
            "  printf(\"const _: () = assert!(core::mem::size_of::<{st}>() == %zu, \\\"size of {st} differs from the C header\\\");\\n\", sizeof({st}));\n"
        );
        for f in *fields {
            let rf = if *f == "type" { "type_" } else { f };
            s += &format!(
                "  printf(\"const _: () = assert!(core::mem::offset_of!({st}, {rf}) == %zu, \\\"offset of {st}.{f} differs from the C header\\\");\\n\", offsetof({st}, {f}));\n"
            );
        }
    }
    for (mac, st) in INITS {
        s += &format!("  {{ {st} v = {mac}; dump(\"{mac}\", &v, sizeof v); }}\n");
    }
    s += "  return 0;\n}\n";
    s
}

fn main() {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let out_dir = PathBuf::from(env::var("OUT_DIR").unwrap());
    for v in ["BASISTREES_LIB_DIR", "BASISTREES_INCLUDE_DIR", "BASISTREES_BUILD_DIR",
              "BASISTREES_NO_PKG_CONFIG", "PKG_CONFIG_PATH", "CC"] {
        println!("cargo:rerun-if-env-changed={v}");
    }
    println!("cargo:rerun-if-changed=build.rs");

    let found = match find_library(&manifest) {
        Ok(f) => f,
        Err(e) => panic!("{e}"),
    };
    let header = found.include_dir.join("basistrees.h");
    println!("cargo:rerun-if-changed={}", header.display());
    println!("cargo:rerun-if-changed={}", found.lib_dir.join("libbasistrees.so").display());
    println!("cargo:rustc-link-search=native={}", found.lib_dir.display());
    println!("cargo:rustc-link-lib=dylib=basistrees");
    // Test binaries and examples find the library without LD_LIBRARY_PATH.
    println!("cargo:rustc-link-arg=-Wl,-rpath,{}", found.lib_dir.display());
    println!("cargo:include={}", found.include_dir.display());
    println!("cargo:warning=basistrees: using {} ({}, {})", found.how,
             found.lib_dir.display(), found.include_dir.display());

    // The layout probe.
    let src = out_dir.join("layout_probe.c");
    let exe = out_dir.join("layout_probe");
    fs::write(&src, probe_source()).unwrap();
    let cc = env::var("CC").unwrap_or_else(|_| "cc".into());
    let status = Command::new(&cc)
        .arg("-std=c11")
        .arg(format!("-I{}", found.include_dir.display()))
        .arg("-o").arg(&exe).arg(&src)
        .status()
        .unwrap_or_else(|e| panic!("cannot run the C compiler '{cc}' for the layout probe: {e}"));
    assert!(status.success(),
            "the layout probe does not compile against {}: the header changed a struct the \
             crate mirrors (see STRUCTS in build.rs and src/ffi.rs)", header.display());
    let out = Command::new(&exe).output().expect("cannot run the layout probe");
    assert!(out.status.success(), "the layout probe failed");
    fs::write(out_dir.join("layout.rs"), out.stdout).unwrap();
}
