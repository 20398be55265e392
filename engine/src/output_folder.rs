//! The output folder of a run: one run at a time (a lock file), an earlier
//! run's results replaced rather than mixed in, and a `summary.json` that
//! says how the run ended.

use std::fs::{self, OpenOptions};
use std::io::{ErrorKind, Write as _};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use pde_mesh::io::vtk;

use crate::driver::checkpoint;

/// The lock file a run keeps in its folder while it writes there.
pub const LOCK: &str = ".pde-engine.lock";

/// The results a run writes under fixed names (next to `<name>.pvd`,
/// `<name>.vtu` and `<name>_NNNNN.vtu`): an earlier run's are removed
/// when a run starts, so that nothing of it can pass for this run's.
const RESULTS: [&str; 8] = [
    "summary.json",
    "steps.csv",
    "probes.csv",
    "forces.csv",
    "forces_classical.csv",
    "forces.png",
    "conservation.csv",
    "conservation.png",
];

/// An output folder held by this run (released when dropped).
#[derive(Debug)]
pub struct OutputFolder {
    dir: PathBuf,
}

impl OutputFolder {
    /// Creates `dir` if need be, locks it against a second run (a lock left
    /// by a process that no longer exists is taken over), and removes the
    /// `*.partial` files of an interrupted write and, unless the run
    /// `name` continues there (`continues`), that run's earlier results.
    pub fn claim(dir: &Path, name: &str, continues: bool) -> Result<Self> {
        fs::create_dir_all(dir)
            .with_context(|| format!("{}: cannot create the output directory", dir.display()))?;
        let lock = dir.join(LOCK);
        let created = |lock: &Path| {
            OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(lock)
                .and_then(|mut f| write!(f, "{}", std::process::id()))
        };
        match created(&lock) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                let owner = fs::read_to_string(&lock).unwrap_or_default();
                let owner = owner.trim();
                if owner.parse::<u32>().is_ok_and(is_running) {
                    bail!(
                        "{}: another run (process {owner}) is writing into this folder; wait for \
                         it to end or choose another --output (if no run is, delete {})",
                        dir.display(),
                        lock.display()
                    );
                }
                // Left by a run that was killed.
                fs::remove_file(&lock)
                    .and_then(|()| created(&lock))
                    .with_context(|| {
                        format!("{}: cannot take over the stale lock", lock.display())
                    })?;
            }
            Err(e) => {
                return Err(e)
                    .with_context(|| format!("{}: cannot create the lock", lock.display()))
            }
        }
        let folder = OutputFolder {
            dir: dir.to_path_buf(),
        };
        folder.clear(name, continues)?;
        Ok(folder)
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Writes `summary.json` (atomically).
    pub fn write_summary(&self, summary: &serde_json::Value) -> Result<()> {
        let text = serde_json::to_string_pretty(summary)?;
        vtk::write_atomically(&self.dir.join("summary.json"), |w| {
            w.write_all(text.as_bytes())
        })?;
        Ok(())
    }

    /// Removes the partial files, and unless the run continues, the
    /// results and checkpoints an earlier run named `name` left here.
    fn clear(&self, name: &str, continues: bool) -> Result<()> {
        let checkpoints = self.dir.join(checkpoint::FOLDER);
        if !continues && checkpoints.is_dir() {
            fs::remove_dir_all(&checkpoints).with_context(|| {
                format!("{}: cannot remove the earlier run's", checkpoints.display())
            })?;
        }
        let entries = fs::read_dir(&self.dir)
            .with_context(|| format!("{}: cannot list the output directory", self.dir.display()))?;
        for entry in entries.flatten() {
            let file = entry.file_name();
            let Some(file) = file.to_str() else { continue };
            if file.ends_with(".partial") || (!continues && is_result(file, name)) {
                let path = entry.path();
                fs::remove_file(&path).with_context(|| {
                    format!("{}: cannot remove the earlier run's result", path.display())
                })?;
            }
        }
        Ok(())
    }
}

impl Drop for OutputFolder {
    fn drop(&mut self) {
        let _ = fs::remove_file(self.dir.join(LOCK));
    }
}

/// Whether `file` is a result of a run named `name`.
fn is_result(file: &str, name: &str) -> bool {
    let step_file = file
        .strip_prefix(name)
        .and_then(|rest| rest.strip_prefix('_'))
        .and_then(|rest| rest.strip_suffix(".vtu"))
        .is_some_and(|digits| digits.len() >= 5 && digits.bytes().all(|b| b.is_ascii_digit()));
    RESULTS.contains(&file)
        || step_file
        || file == format!("{name}.pvd")
        || file == format!("{name}.vtu")
}

/// Whether process `pid` exists (on systems without `/proc`, assumed).
fn is_running(pid: u32) -> bool {
    let proc = Path::new("/proc");
    !proc.is_dir() || proc.join(pid.to_string()).exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_are_the_runs_own_files_only() {
        for file in ["flow_00012.vtu", "flow.pvd", "flow.vtu", "probes.csv"] {
            assert!(is_result(file, "flow"), "{file}");
        }
        for file in [
            "flow_12.vtu",
            "flowx_00012.vtu",
            "other.pvd",
            "mesh.msh",
            "notes.csv",
        ] {
            assert!(!is_result(file, "flow"), "{file}");
        }
    }

    #[test]
    fn a_second_claim_is_refused_and_a_stale_lock_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let held = OutputFolder::claim(dir.path(), "r", false).unwrap();
        let err = OutputFolder::claim(dir.path(), "r", false).unwrap_err();
        assert!(
            format!("{err:#}").contains("another run (process"),
            "{err:#}"
        );
        drop(held);
        assert!(!dir.path().join(LOCK).exists());
        // No process has this id (above the kernel's pid limit).
        fs::write(dir.path().join(LOCK), "4294967295").unwrap();
        fs::write(dir.path().join("r_00003.vtu"), "old").unwrap();
        let _again = OutputFolder::claim(dir.path(), "r", false).unwrap();
        assert!(!dir.path().join("r_00003.vtu").exists());
    }
}
