//! Files written whole or not at all: models and checkpoints are written
//! under a temporary name beside their place, then renamed into it, so an
//! interrupted save keeps the previous file.

use std::path::{Path, PathBuf};

use crate::error::LearnedError;

/// Writes `path` by `write`ing a temporary file beside it (`tmp.` before
/// the name, so the extension, which libtorch reads the format from,
/// stays), then renaming it into place.
pub(crate) fn write_then_rename(
    path: &Path,
    write: impl FnOnce(&Path) -> Result<(), LearnedError>,
) -> Result<(), LearnedError> {
    let mut name = std::ffi::OsString::from("tmp.");
    name.push(path.file_name().unwrap_or_default());
    let tmp: PathBuf = path.with_file_name(name);
    if let Err(e) = write(&tmp) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, path).map_err(|source| LearnedError::Io { path: tmp, source })
}

/// Writes `bytes` to `path` whole or not at all.
pub(crate) fn write_bytes(path: &Path, bytes: &[u8]) -> Result<(), LearnedError> {
    write_then_rename(path, |tmp| {
        std::fs::write(tmp, bytes).map_err(|source| LearnedError::Io {
            path: tmp.to_path_buf(),
            source,
        })
    })
}
