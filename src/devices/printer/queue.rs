//! The print queue: every receipt is kept (in memory and, with a spool directory, on disk) until
//! the printer confirms it, so a receipt that could not be printed can be printed again. A
//! failed print never rolls back the transaction the receipt belongs to — it only stays queued.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::ReceiptPrinter;

/// Where a job stands.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "state", content = "reason")]
pub enum JobState {
    /// Waiting for the printer.
    Pending,
    /// The printer confirmed it (its status was good after the job).
    Printed,
    /// Not printed (or maybe not completely), with the reason; kept for reprint.
    Failed(String),
}

#[derive(Debug, Clone)]
pub struct PrintJob {
    pub id: u64,
    /// What the receipt is, e.g. `处理凭证 5001061100123456` (no personal data).
    pub title: String,
    pub bytes: Vec<u8>,
    pub state: JobState,
    pub attempts: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("no print job {0}")]
    NoSuchJob(u64),
    #[error("spool {path}: {source}")]
    Spool {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// Printed jobs kept for reprint (oldest dropped first).
pub const KEEP_PRINTED: usize = 50;

#[derive(Debug, Default)]
pub struct PrintQueue {
    spool: Option<PathBuf>,
    next_id: u64,
    jobs: BTreeMap<u64, PrintJob>,
}

impl PrintQueue {
    pub fn in_memory() -> Self {
        PrintQueue {
            next_id: 1,
            ..Self::default()
        }
    }

    /// A queue spooled to `dir`: jobs left there by an earlier run (power cut, crash) come back
    /// as pending.
    pub fn open(dir: &Path) -> Result<Self, QueueError> {
        let spool_err = |source| QueueError::Spool {
            path: dir.display().to_string(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(spool_err)?;
        let mut q = PrintQueue {
            spool: Some(dir.to_path_buf()),
            next_id: 1,
            jobs: BTreeMap::new(),
        };
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .map_err(spool_err)?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "escpos"))
            .collect();
        entries.sort();
        for path in entries {
            let Some(stem) = path.file_stem().and_then(|s| s.to_str()) else {
                continue;
            };
            let Some((id, title)) = stem.split_once('-') else {
                continue;
            };
            let Ok(id) = id.parse::<u64>() else { continue };
            let bytes = std::fs::read(&path).map_err(spool_err)?;
            q.jobs.insert(
                id,
                PrintJob {
                    id,
                    title: title.to_string(),
                    bytes,
                    state: JobState::Pending,
                    attempts: 0,
                },
            );
            q.next_id = q.next_id.max(id + 1);
        }
        Ok(q)
    }

    fn spool_path(&self, job: &PrintJob) -> Option<PathBuf> {
        let safe: String = job
            .title
            .chars()
            .map(|c| if c.is_alphanumeric() { c } else { '_' })
            .collect();
        self.spool
            .as_ref()
            .map(|d| d.join(format!("{:010}-{safe}.escpos", job.id)))
    }

    fn spool_write(&self, job: &PrintJob) -> Result<(), QueueError> {
        if let Some(path) = self.spool_path(job) {
            let tmp = path.with_extension("tmp");
            let r = std::fs::write(&tmp, &job.bytes).and_then(|()| std::fs::rename(&tmp, &path));
            if let Err(source) = r {
                let _ = std::fs::remove_file(&tmp);
                return Err(QueueError::Spool {
                    path: path.display().to_string(),
                    source,
                });
            }
        }
        Ok(())
    }

    fn spool_remove(&self, job: &PrintJob) {
        if let Some(path) = self.spool_path(job) {
            let _ = std::fs::remove_file(path);
        }
    }

    /// Queue a receipt. The job is kept in memory even when the spool cannot be written (the
    /// error says so: a full disk must not lose the receipt of a paid transaction).
    pub fn submit(&mut self, title: &str, bytes: Vec<u8>) -> (u64, Result<(), QueueError>) {
        let id = self.next_id;
        self.next_id += 1;
        let job = PrintJob {
            id,
            title: title.to_string(),
            bytes,
            state: JobState::Pending,
            attempts: 0,
        };
        let spooled = self.spool_write(&job);
        self.jobs.insert(id, job);
        (id, spooled)
    }

    pub fn get(&self, id: u64) -> Option<&PrintJob> {
        self.jobs.get(&id)
    }

    /// Jobs not (yet) confirmed, oldest first.
    pub fn unprinted(&self) -> impl Iterator<Item = &PrintJob> {
        self.jobs.values().filter(|j| j.state != JobState::Printed)
    }

    /// Put a job (printed or failed) back in line.
    pub fn reprint(&mut self, id: u64) -> Result<(), QueueError> {
        let job = self.jobs.get_mut(&id).ok_or(QueueError::NoSuchJob(id))?;
        job.state = JobState::Pending;
        let job = job.clone();
        self.spool_write(&job)
    }

    /// Send every pending or failed job to the printer, oldest first, and confirm each by the
    /// printer's status afterwards. Stops at the first job that fails (the printer is not ready
    /// for the next one either). Returns the ids printed.
    pub fn print_pending<P: ReceiptPrinter>(&mut self, printer: &mut P) -> Vec<u64> {
        let ids: Vec<u64> = self.unprinted().map(|j| j.id).collect();
        let mut printed = Vec::new();
        for id in ids {
            let outcome = self.print_one(printer, id);
            let job = self.jobs.get_mut(&id).expect("listed");
            job.attempts += 1;
            match outcome {
                Ok(()) => {
                    job.state = JobState::Printed;
                    let job = job.clone();
                    self.spool_remove(&job);
                    printed.push(id);
                }
                Err(reason) => {
                    tracing::warn!(job = id, %reason, "receipt not printed; kept for reprint");
                    job.state = JobState::Failed(reason);
                    break;
                }
            }
        }
        self.trim_printed();
        printed
    }

    fn print_one<P: ReceiptPrinter>(&mut self, printer: &mut P, id: u64) -> Result<(), String> {
        let bytes = &self.jobs[&id].bytes;
        if let Some(s) = printer.status().map_err(|e| e.to_string())?
            && !s.can_print()
        {
            return Err(s.message().to_string());
        }
        printer.print(bytes).map_err(|e| e.to_string())?;
        match printer
            .status()
            .map_err(|e| format!("sent, but not confirmed: {e}"))?
        {
            Some(s) if !s.can_print() => Err(format!("sent, but {}", s.message())),
            _ => Ok(()),
        }
    }

    fn trim_printed(&mut self) {
        let printed: Vec<u64> = self
            .jobs
            .values()
            .filter(|j| j.state == JobState::Printed)
            .map(|j| j.id)
            .collect();
        if printed.len() > KEEP_PRINTED {
            for id in &printed[..printed.len() - KEEP_PRINTED] {
                self.jobs.remove(id);
            }
        }
    }
}
