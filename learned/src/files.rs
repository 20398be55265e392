//! Files written whole or not at all: models and checkpoints are written
//! under a temporary name beside their place, then renamed into it, so an
//! interrupted save keeps the previous file.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::Serialize;
use tch::nn::VarStore;

use crate::error::LearnedError;

/// The file names of a saved model inside its directory.
const CONFIG_FILE: &str = "model.json";
const WEIGHTS_FILE: &str = "weights.safetensors";

/// Saves a model into directory `dir`: `model.json` (its `config`) and
/// `weights.safetensors` (`vs`), each whole or not at all.
pub(crate) fn save_model(
    dir: &Path,
    config: &impl Serialize,
    vs: &VarStore,
) -> Result<(), LearnedError> {
    std::fs::create_dir_all(dir).map_err(|error| LearnedError::Io {
        path: dir.to_path_buf(),
        error,
    })?;
    let text = serde_json::to_string_pretty(config).expect("a config serialises");
    write_then_rename(&dir.join(WEIGHTS_FILE), |tmp| Ok(vs.save(tmp)?))?;
    write_bytes(&dir.join(CONFIG_FILE), text.as_bytes())
}

/// The configuration of the model saved in `dir`; `what` names the kind of
/// model in the error of a file that is not one.
pub(crate) fn read_model_config<T: DeserializeOwned>(
    dir: &Path,
    what: &str,
) -> Result<T, LearnedError> {
    let path = dir.join(CONFIG_FILE);
    let text = std::fs::read_to_string(&path).map_err(|error| LearnedError::Io {
        path: path.clone(),
        error,
    })?;
    serde_json::from_str(&text).map_err(|e| LearnedError::Config {
        path,
        message: format!("not a {what}: {e}"),
    })
}

/// Loads the weights saved in `dir` into `vs`.
pub(crate) fn load_weights(vs: &mut VarStore, dir: &Path) -> Result<(), LearnedError> {
    let weights = dir.join(WEIGHTS_FILE);
    vs.load(&weights).map_err(|e| LearnedError::Config {
        path: weights,
        message: format!("cannot load the weights ({e}); do they belong to {CONFIG_FILE}?"),
    })
}

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
    std::fs::rename(&tmp, path).map_err(|error| LearnedError::Io { path: tmp, error })
}

/// Writes `bytes` to `path` whole or not at all.
pub(crate) fn write_bytes(path: &Path, bytes: &[u8]) -> Result<(), LearnedError> {
    write_then_rename(path, |tmp| {
        std::fs::write(tmp, bytes).map_err(|error| LearnedError::Io {
            path: tmp.to_path_buf(),
            error,
        })
    })
}
