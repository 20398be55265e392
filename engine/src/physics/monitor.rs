//! The observer seam of the time loop: monitors see the initial state,
//! every committed step and the end of a run. They sit with the step
//! protocol so that models can bring their own (forces, conservation).

use std::fs::{File, OpenOptions};
use std::io::{Seek as _, SeekFrom, Write as _};
use std::path::{Path, PathBuf};

use super::{Snapshot, StepError, StepReport};

/// A committed step, as monitors see it.
#[derive(Clone, Copy, Debug)]
pub struct StepInfo<'a> {
    /// Step number (1 for the first step).
    pub step: usize,
    /// Time reached.
    pub t: f64,
    /// The step size taken.
    pub dt: f64,
    /// What the step did.
    pub report: &'a StepReport,
}

/// Observes a run of a model of type `S` (often `dyn` something): the
/// initial state, every committed step, and the end, whether the run
/// finished or failed. Monitors write their records as the run goes, so a
/// failed or interrupted run keeps what it had.
pub trait Monitor<S: ?Sized> {
    /// The initial state at time `t`, before the first step.
    fn start(&mut self, _t: f64, _model: &S) -> Result<(), StepError> {
        Ok(())
    }
    /// A committed step.
    fn record(&mut self, step: &StepInfo, model: &S) -> Result<(), StepError>;
    /// The run ended (finished or failed): flush what is kept in memory.
    fn finish(&mut self, _model: &S) -> Result<(), StepError> {
        Ok(())
    }
    /// A short status for the progress display (e.g. `cD 3.1412`).
    fn status(&self) -> Option<String> {
        None
    }
    /// Adds what the monitor measured to the run's summary (an object).
    fn summarize(&self, _model: &S, _summary: &mut serde_json::Value) {}
    /// What a checkpoint keeps of the monitor: its records so far and how
    /// far its files go.
    fn checkpoint(&self) -> Snapshot {
        Snapshot::new()
    }
    /// Continues from a [`Monitor::checkpoint`] (instead of `start`): the
    /// files cut back to where they were then, the records restored.
    fn resume(&mut self, _checkpoint: &Snapshot) -> Result<(), StepError> {
        Ok(())
    }
}

/// A closure as a monitor: `OnStep(|info, model| ...)` is called after
/// every committed step.
pub struct OnStep<F>(pub F);

impl<S: ?Sized, F: FnMut(&StepInfo, &S) -> Result<(), StepError>> Monitor<S> for OnStep<F> {
    fn record(&mut self, step: &StepInfo, model: &S) -> Result<(), StepError> {
        (self.0)(step, model)
    }
}

/// A monitor's CSV file, written as the run goes: created (replacing an
/// earlier run's) with its header when the first row comes, then each row
/// appended by one write, so a run that is killed keeps its history to the
/// last step. Nothing is created for a run that records nothing until
/// [`CsvLog::finish`], which leaves the header alone.
#[derive(Debug)]
pub struct CsvLog {
    path: PathBuf,
    header: String,
    file: Option<File>,
    /// Bytes written (the header included).
    length: u64,
}

impl CsvLog {
    /// A log into `path` whose first line is `header` (without newline).
    pub fn new(path: PathBuf, header: impl Into<String>) -> Self {
        CsvLog {
            path,
            header: header.into(),
            file: None,
            length: 0,
        }
    }

    /// The file's length so far, for a checkpoint.
    pub fn length(&self) -> u64 {
        self.length
    }

    /// Continues the file of a run stopped after a checkpoint: cut back to
    /// the `length` it had then (the rows after it are written again).
    pub fn resume(&mut self, length: u64) -> Result<(), StepError> {
        if length == 0 {
            self.file = None;
            self.length = 0;
            return Ok(());
        }
        let failed =
            |e: std::io::Error| StepError::Restart(format!("{}: {e}", self.path.display()));
        let mut file = OpenOptions::new()
            .write(true)
            .open(&self.path)
            .map_err(failed)?;
        let on_disk = file.metadata().map_err(failed)?.len();
        if on_disk < length {
            return Err(StepError::Restart(format!(
                "{} has {on_disk} bytes, fewer than the {length} it had at the checkpoint",
                self.path.display()
            )));
        }
        file.set_len(length).map_err(failed)?;
        file.seek(SeekFrom::End(0)).map_err(failed)?;
        self.file = Some(file);
        self.length = length;
        Ok(())
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one row (without newline).
    pub fn row(&mut self, row: &str) -> Result<(), StepError> {
        self.write(&format!("{row}\n"))
    }

    /// Makes sure the file exists: the header alone when no row came.
    pub fn finish(&mut self) -> Result<(), StepError> {
        self.write("")
    }

    fn write(&mut self, text: &str) -> Result<(), StepError> {
        let failed = |e: std::io::Error| StepError::Output(format!("{}: {e}", self.path.display()));
        if self.file.is_none() {
            let mut file = File::create(&self.path).map_err(failed)?;
            let header = format!("{}\n", self.header);
            file.write_all(header.as_bytes()).map_err(failed)?;
            self.length = header.len() as u64;
            self.file = Some(file);
        }
        match self.file.as_mut() {
            Some(file) if !text.is_empty() => {
                file.write_all(text.as_bytes()).map_err(failed)?;
                self.length += text.len() as u64;
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

/// A monitor's records, kept for its plot and summary and written to its
/// CSV file as they come; checkpointed with the file's length.
#[derive(Debug)]
pub struct CsvRecords {
    /// The records so far, each of the same length.
    pub rows: Vec<Vec<f64>>,
    csv: CsvLog,
}

impl CsvRecords {
    /// No records yet; the file `path` starts with `header`.
    pub fn new(path: PathBuf, header: impl Into<String>) -> Self {
        CsvRecords {
            rows: Vec::new(),
            csv: CsvLog::new(path, header),
        }
    }

    /// Keeps `row` and appends `line`, its text in the file.
    pub fn push(&mut self, row: Vec<f64>, line: &str) -> Result<(), StepError> {
        self.rows.push(row);
        self.csv.row(line)
    }

    /// Makes sure the file exists ([`CsvLog::finish`]).
    pub fn finish(&mut self) -> Result<(), StepError> {
        self.csv.finish()
    }

    /// The records and the file's length, for a checkpoint.
    pub fn checkpoint(&self) -> Snapshot {
        let mut s = Snapshot::new();
        s.push_rows("rows", &self.rows);
        s.push("csv", vec![self.csv.length() as f64]);
        s
    }

    /// The records and the file as they were at the checkpoint.
    pub fn resume(&mut self, checkpoint: &Snapshot) -> Result<(), StepError> {
        self.rows = checkpoint.rows("rows")?;
        self.csv.resume(checkpoint.get_len("csv", 1)?[0] as u64)
    }
}
