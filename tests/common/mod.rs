//! Helpers shared by the integration tests that run the `rlhf-claims` binary.

use std::io::Write;
use std::process::{Command, Output, Stdio};

/// Runs `rlhf-claims solve` with `input` on stdin and returns its output (status, stdout,
/// stderr). Panics only if the binary cannot be started, which is a broken test setup.
pub fn solve_output(input: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_rlhf-claims"))
        .arg("solve")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn rlhf-claims");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write problem");
    child.wait_with_output().expect("wait for rlhf-claims")
}

/// Runs `rlhf-claims solve` and parses stdout as JSON: `(exit code, value)`.
#[allow(dead_code)]
pub fn solve_json(input: &str) -> (Option<i32>, serde_json::Value) {
    let out = solve_output(input);
    let value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    (out.status.code(), value)
}
