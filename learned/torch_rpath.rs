// Shared by the build scripts of pde-learned and pde-engine (included, not
// a module): with the `torch` feature, binaries and tests get libtorch's
// library directory as their rpath, so that they run without
// LD_LIBRARY_PATH. The directory is found the way torch-sys finds libtorch:
// `$LIBTORCH/lib`, or, with LIBTORCH_USE_PYTORCH=1, the `lib` folder of the
// `torch` package of the `python3` on PATH. Nothing is downloaded.

/// One line that says how to get libtorch.
const HOW_TO_GET_LIBTORCH: &str = "the `torch` feature needs libtorch 2.13.0: run \
     `eval \"$(scripts/torch.sh)\"` (installs the PyPI wheel torch==2.13.0 into ~/.cache once \
     and sets LIBTORCH_USE_PYTORCH=1), or set LIBTORCH to a libtorch 2.13.0 directory";

fn libtorch_lib_dir() -> Result<std::path::PathBuf, String> {
    if let Some(dir) = std::env::var_os("LIBTORCH") {
        return Ok(std::path::PathBuf::from(dir).join("lib"));
    }
    if std::env::var_os("LIBTORCH_USE_PYTORCH").is_none() {
        return Err(HOW_TO_GET_LIBTORCH.into());
    }
    let script = "import os, torch; print(os.path.join(os.path.dirname(torch.__file__), 'lib'))";
    let out = std::process::Command::new("python3")
        .args(["-c", script])
        .output()
        .map_err(|e| format!("python3: {e}; {HOW_TO_GET_LIBTORCH}"))?;
    if !out.status.success() {
        return Err(format!("python3 cannot import torch; {HOW_TO_GET_LIBTORCH}"));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().into())
}

fn emit_torch_rpath() {
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    println!("cargo:rerun-if-env-changed=LIBTORCH_USE_PYTORCH");
    println!("cargo:rerun-if-env-changed=PATH");
    if std::env::var_os("CARGO_FEATURE_TORCH").is_none() {
        return;
    }
    match libtorch_lib_dir() {
        Ok(dir) => println!("cargo:rustc-link-arg=-Wl,-rpath,{}", dir.display()),
        Err(message) => {
            eprintln!("error: {message}");
            std::process::exit(1);
        }
    }
}
