//! The file backend: `<state dir>/runs/<run-id>/journal.json`, replaced atomically.
//!
//! Each write goes to `journal.json.tmp`, is fsynced, renamed over `journal.json`, and the
//! directory is fsynced so the rename itself survives a power cut. The blocking calls run on
//! tokio's blocking pool: an fsync can take long enough to stall a worker thread.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::{Document, JournalError, RunRecord, chain, decode, validate_run_id};

const DOCUMENT: &str = "journal.json";
const TEMPORARY: &str = "journal.json.tmp";

/// One run's directory.
pub(super) struct FileStore {
    run_id: String,
    dir: PathBuf,
}

impl FileStore {
    /// The store of `run_id` under the state directory `state_dir` (the run ID is validated).
    pub(super) fn new(state_dir: &Path, run_id: &str) -> Self {
        Self {
            run_id: run_id.to_owned(),
            dir: state_dir.join("runs").join(run_id),
        }
    }

    fn path(&self) -> PathBuf {
        self.dir.join(DOCUMENT)
    }

    pub(super) fn location(&self) -> String {
        self.path().display().to_string()
    }

    /// Create the run's directory and its first document; refuse a run that has one.
    pub(super) async fn create(&self, text: String) -> Result<(), JournalError> {
        let dir = self.dir.clone();
        let run_id = self.run_id.clone();
        let location = self.location();
        blocking(&location, move || {
            let write_err = |path: &Path, source| JournalError::Write {
                location: path.display().to_string(),
                source,
            };
            let runs = dir.parent().unwrap_or(&dir);
            fs::create_dir_all(runs).map_err(|e| write_err(runs, e))?;
            match fs::create_dir(&dir) {
                // Make the new directory entry itself durable.
                Ok(()) => sync_dir(runs).map_err(|e| write_err(runs, e))?,
                // Left over from a crash between mkdir and the first write: reuse it.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(write_err(&dir, e)),
            }
            let path = dir.join(DOCUMENT);
            if path.try_exists().map_err(|e| write_err(&path, e))? {
                return Err(JournalError::AlreadyExists {
                    run_id,
                    location: path.display().to_string(),
                });
            }
            replace(&dir, text.as_bytes()).map_err(|e| write_err(&path, e))
        })
        .await
    }

    /// Replace the document atomically and durably.
    pub(super) async fn write(&self, text: String) -> Result<(), JournalError> {
        let dir = self.dir.clone();
        let location = self.location();
        let err_location = location.clone();
        blocking(&location, move || {
            replace(&dir, text.as_bytes()).map_err(|source| JournalError::Write {
                location: err_location,
                source,
            })
        })
        .await
    }

    /// Read and decode the document.
    pub(super) async fn read(&self) -> Result<Document, JournalError> {
        let path = self.path();
        let run_id = self.run_id.clone();
        let location = self.location();
        blocking(&location, move || read_document(&path, &run_id)).await
    }
}

fn read_document(path: &Path, run_id: &str) -> Result<Document, JournalError> {
    let location = path.display().to_string();
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(JournalError::NotFound {
                run_id: run_id.to_owned(),
                location,
            });
        }
        Err(source) => return Err(JournalError::Read { location, source }),
    };
    decode(&bytes, &location, Some(run_id))
}

/// Write `bytes` to the temporary file, fsync it, rename it over the document, fsync the
/// directory. On failure the temporary file is removed (best effort); the document is either
/// the old one or the new one.
fn replace(dir: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = dir.join(TEMPORARY);
    let result = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, dir.join(DOCUMENT))?;
        sync_dir(dir)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// The records of every run under `state_dir/runs`: each subdirectory with a `journal.json`.
/// A directory without one is skipped silently (a crash before the first write, or not ours);
/// one whose journal cannot be read is skipped with a warning.
pub(super) async fn list(state_dir: &Path) -> Result<Vec<RunRecord>, JournalError> {
    let runs = state_dir.join("runs");
    let location = runs.display().to_string();
    blocking(&location, move || {
        let entries = match fs::read_dir(&runs) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => {
                return Err(JournalError::Read {
                    location: runs.display().to_string(),
                    source,
                });
            }
        };
        let mut records = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|source| JournalError::Read {
                location: runs.display().to_string(),
                source,
            })?;
            let dir = entry.path();
            let path = dir.join(DOCUMENT);
            if !dir.is_dir() || !path.is_file() {
                continue;
            }
            let name = entry.file_name().to_string_lossy().into_owned();
            let result = validate_run_id(&name).and_then(|()| read_document(&path, &name));
            match result {
                Ok(doc) => records.push(doc.run),
                Err(e) => tracing::warn!(
                    path = %path.display(),
                    "skipping a run journal that cannot be read: {}",
                    chain(&e)
                ),
            }
        }
        Ok(records)
    })
    .await
}

/// Run blocking file I/O on tokio's blocking pool. A panic in it is resumed here; a runtime
/// shutting down is reported as a failed write of `location` (its outcome is unknown).
async fn blocking<T: Send + 'static>(
    location: &str,
    f: impl FnOnce() -> Result<T, JournalError> + Send + 'static,
) -> Result<T, JournalError> {
    match tokio::task::spawn_blocking(f).await {
        Ok(result) => result,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => Err(JournalError::Write {
            location: location.to_owned(),
            source: io::Error::other(format!("the journal I/O task did not finish: {e}")),
        }),
    }
}
