//! Helpers the integration tests share: running the `pde-engine` binary.

use std::process::Command;

/// Runs `pde-engine` with `args`: whether it succeeded, its stdout and its
/// stderr.
pub fn run(args: &[&str]) -> (bool, String, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_pde-engine"))
        .args(args)
        .output()
        .unwrap();
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Runs `pde-engine` with `args`, which must succeed; its stdout.
pub fn succeed(args: &[&str]) -> String {
    let (ok, out, err) = run(args);
    assert!(ok, "{args:?}: {err}");
    out
}
