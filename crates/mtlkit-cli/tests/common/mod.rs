//! Helpers shared by the CLI's end-to-end tests.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

/// Run the `mtlkit` binary with `args`, one thread.
pub fn mtlkit(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mtlkit"))
        .args(args)
        .env("RAYON_NUM_THREADS", "1")
        .output()
        .expect("run mtlkit")
}

/// A path as `&str` (the tests' temporary paths are UTF-8).
pub fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// A failing command: non-zero exit, one `error:` line containing `needle`, no panic.
pub fn assert_user_error(out: &Output, needle: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "expected failure, got success: {err}"
    );
    assert!(!err.contains("panicked"), "panic: {err}");
    let lines: Vec<&str> = err.lines().filter(|l| !l.starts_with("[WARN")).collect();
    assert_eq!(lines.len(), 1, "expected one line, got: {err}");
    assert!(lines[0].starts_with("error: "), "{err}");
    assert!(lines[0].contains(needle), "'{needle}' not in: {err}");
}
