//! The kiosk's small local outbox (SQLite, next to the print spool): what must reach the platform
//! server but may wait for it — feedback (意见反馈) and the kiosk's own events (printer out of
//! paper / back, a device failure, went offline / online).
//!
//! Each item gets its idempotency key when it is queued. [`Outbox::flush`] sends the queue in
//! order, each item with its own key every time, and deletes an item only after the server
//! answered; a crash or a lost answer sends it again with the same key, and the server's
//! idempotency ledger records it once: delivered exactly once. [`spawn_delivery`] flushes
//! periodically on its own thread, so the queue drains by itself when the link returns.
//!
//! Bounded: at most [`MAX_ITEMS`] items and [`MAX_BYTES`] bytes. When full, the oldest events are
//! dropped first (said in the log); feedback is never dropped: a feedback that does not fit is
//! refused ([`OutboxError::Full`]) and the person is told it was not saved.
//!
//! No ID number is kept at rest: a queued feedback is stored without the person's ID number.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

use crate::store::platform::{FeedbackRequest, KioskEventRequest, Platform};
use crate::store::{ErrorKind, StoreError};

/// The most items the outbox holds.
pub const MAX_ITEMS: u64 = 10_000;
/// The most bytes (of stored bodies) the outbox holds.
pub const MAX_BYTES: u64 = 10 * 1024 * 1024;

/// What waits in the outbox.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Item {
    /// 意见反馈, given at `now` (stored without the person's ID number).
    Feedback {
        request: FeedbackRequest,
        now: Timestamp,
    },
    /// One of the kiosk's own events, which happened `at`.
    Event {
        request: KioskEventRequest,
        at: Timestamp,
    },
}

impl Item {
    fn kind(&self) -> &'static str {
        match self {
            Item::Feedback { .. } => "feedback",
            Item::Event { .. } => "event",
        }
    }
}

/// Why the outbox could not take or keep an item.
#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error("outbox {path}: {source}")]
    Db {
        path: String,
        source: rusqlite::Error,
    },
    #[error(
        "本机待发送队列已满，未能保存 / the kiosk's outbox is full ({items} items, {bytes} bytes): not saved"
    )]
    Full { items: u64, bytes: u64 },
    #[error("outbox item: {0}")]
    Json(#[from] serde_json::Error),
}

/// Who carries an item to the platform: the server client (with the item's key), and the probe
/// of whether it can be reached.
pub trait Courier: Send + Sync {
    /// Deliver `item` under `key`. `Err` of kind `Unavailable`: not delivered, try again later.
    fn deliver(&self, item: &Item, key: &str) -> Result<(), StoreError>;
    /// Whether the platform can be reached now (cheap).
    fn reachable(&self) -> bool;
}

impl Courier for crate::remote::RemotePlatform {
    fn deliver(&self, item: &Item, key: &str) -> Result<(), StoreError> {
        match item {
            Item::Feedback { request, now } => self.feedback_with_key(request, *now, key),
            Item::Event { request, at } => self.kiosk_event_with_key(request, *at, key),
        }
        .map(|_| ())
    }

    fn reachable(&self) -> bool {
        crate::remote::RemotePlatform::reachable(self, Duration::from_secs(2))
    }
}

/// The outcome of one flush.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Flushed {
    pub delivered: usize,
    /// Items the server refused for good (logged, then removed: they would block the queue).
    pub refused: usize,
    /// The platform could not be reached: the rest waits.
    pub stopped: bool,
}

/// The outbox: one SQLite file.
pub struct Outbox {
    conn: Mutex<Connection>,
    path: PathBuf,
    courier: Arc<dyn Courier>,
    max_items: u64,
    max_bytes: u64,
    /// One flush at a time (the delivery thread and the flow's worker).
    flushing: Mutex<()>,
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbox")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl Outbox {
    /// Open (create) the outbox at `path`, delivering through `courier`.
    pub fn open(path: &Path, courier: Arc<dyn Courier>) -> Result<Self, OutboxError> {
        let db = |source| OutboxError::Db {
            path: path.display().to_string(),
            source,
        };
        let conn = Connection::open(path).map_err(db)?;
        conn.busy_timeout(Duration::from_secs(5)).map_err(db)?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = FULL;
             CREATE TABLE IF NOT EXISTS outbox (
                 seq        INTEGER PRIMARY KEY AUTOINCREMENT,
                 kind       TEXT    NOT NULL CHECK (kind IN ('feedback', 'event')),
                 key        TEXT    NOT NULL UNIQUE,
                 body       TEXT    NOT NULL,
                 bytes      INTEGER NOT NULL,
                 queued_at  INTEGER NOT NULL
             );",
        )
        .map_err(db)?;
        Ok(Outbox {
            conn: Mutex::new(conn),
            path: path.to_path_buf(),
            courier,
            max_items: MAX_ITEMS,
            max_bytes: MAX_BYTES,
            flushing: Mutex::new(()),
        })
    }

    /// Other bounds (tests).
    pub fn with_limits(mut self, items: u64, bytes: u64) -> Self {
        self.max_items = items;
        self.max_bytes = bytes;
        self
    }

    fn db(&self, source: rusqlite::Error) -> OutboxError {
        OutboxError::Db {
            path: self.path.display().to_string(),
            source,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether the platform can be reached now.
    pub fn reachable(&self) -> bool {
        self.courier.reachable()
    }

    /// Queue `item` under a fresh idempotency key; returns its sequence number. An event that
    /// does not fit is dropped (logged); feedback that does not fit is refused.
    pub fn push(&self, item: Item) -> Result<Option<i64>, OutboxError> {
        self.push_with_key(item, &crate::wire::random_hex(16))
    }

    /// Queue `item` under `key`, the idempotency key a first delivery already tried (the server
    /// records it once whichever of the two reaches it).
    pub fn push_with_key(&self, item: Item, key: &str) -> Result<Option<i64>, OutboxError> {
        let item = match item {
            Item::Feedback { mut request, now } => {
                // No ID number at rest on the kiosk.
                request.id_number = None;
                Item::Feedback { request, now }
            }
            e => e,
        };
        let body = serde_json::to_string(&item)?;
        let bytes = body.len() as u64;
        let conn = self.lock();
        let tx = conn.unchecked_transaction().map_err(|e| self.db(e))?;
        loop {
            let (items, used): (u64, u64) = tx
                .query_row(
                    "SELECT count(*), coalesce(sum(bytes), 0) FROM outbox",
                    [],
                    |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64)),
                )
                .map_err(|e| self.db(e))?;
            if items < self.max_items && used + bytes <= self.max_bytes {
                break;
            }
            // Full: the oldest event makes room; feedback is never dropped.
            let oldest: Option<i64> = tx
                .query_row(
                    "SELECT seq FROM outbox WHERE kind = 'event' ORDER BY seq LIMIT 1",
                    [],
                    |r| r.get(0),
                )
                .optional()
                .map_err(|e| self.db(e))?;
            match oldest {
                Some(seq) if bytes <= self.max_bytes => {
                    tracing::warn!(
                        items,
                        bytes = used,
                        "kiosk outbox full: the oldest kiosk event dropped"
                    );
                    tx.execute("DELETE FROM outbox WHERE seq = ?1", [seq])
                        .map_err(|e| self.db(e))?;
                }
                _ => {
                    tracing::error!(
                        items,
                        bytes = used,
                        kind = item.kind(),
                        "kiosk outbox full of feedback: the new item is not saved"
                    );
                    return match item {
                        Item::Event { .. } => Ok(None),
                        Item::Feedback { .. } => Err(OutboxError::Full { items, bytes: used }),
                    };
                }
            }
        }
        tx.execute(
            "INSERT INTO outbox (kind, key, body, bytes, queued_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                item.kind(),
                key,
                body,
                bytes as i64,
                Timestamp::now().as_second()
            ],
        )
        .map_err(|e| self.db(e))?;
        let seq = tx.last_insert_rowid();
        tx.commit().map_err(|e| self.db(e))?;
        Ok(Some(seq))
    }

    /// Items waiting.
    pub fn len(&self) -> Result<u64, OutboxError> {
        self.lock()
            .query_row("SELECT count(*) FROM outbox", [], |r| r.get::<_, i64>(0))
            .map(|n| n as u64)
            .map_err(|e| self.db(e))
    }

    pub fn is_empty(&self) -> Result<bool, OutboxError> {
        self.len().map(|n| n == 0)
    }

    /// Whether item `seq` still waits.
    pub fn waiting(&self, seq: i64) -> Result<bool, OutboxError> {
        self.lock()
            .query_row("SELECT 1 FROM outbox WHERE seq = ?1", [seq], |_| Ok(()))
            .optional()
            .map(|o| o.is_some())
            .map_err(|e| self.db(e))
    }

    /// The items waiting, oldest first, with their keys (tests, the operator).
    pub fn items(&self) -> Result<Vec<(i64, String, Item)>, OutboxError> {
        let conn = self.lock();
        let mut st = conn
            .prepare("SELECT seq, key, body FROM outbox ORDER BY seq")
            .map_err(|e| self.db(e))?;
        let rows = st
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })
            .map_err(|e| self.db(e))?;
        let mut out = Vec::new();
        for row in rows {
            let (seq, key, body) = row.map_err(|e| self.db(e))?;
            out.push((seq, key, serde_json::from_str(&body)?));
        }
        Ok(out)
    }

    fn head(&self) -> Result<Option<(i64, String, String)>, OutboxError> {
        self.lock()
            .query_row(
                "SELECT seq, key, body FROM outbox ORDER BY seq LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()
            .map_err(|e| self.db(e))
    }

    fn remove(&self, seq: i64) -> Result<(), OutboxError> {
        self.lock()
            .execute("DELETE FROM outbox WHERE seq = ?1", [seq])
            .map(|_| ())
            .map_err(|e| self.db(e))
    }

    /// Send the queue in order, each item under its key, deleting it once the server answered;
    /// stops at the first item the platform could not take now.
    pub fn flush(&self) -> Result<Flushed, OutboxError> {
        let _one = self.flushing.lock().unwrap_or_else(|p| p.into_inner());
        let mut done = Flushed::default();
        while let Some((seq, key, body)) = self.head()? {
            let item: Item = match serde_json::from_str(&body) {
                Ok(item) => item,
                Err(e) => {
                    tracing::error!(seq, error = %e, "unreadable outbox item removed");
                    self.remove(seq)?;
                    continue;
                }
            };
            match self.courier.deliver(&item, &key) {
                Ok(()) => {
                    self.remove(seq)?;
                    done.delivered += 1;
                }
                Err(e) if e.kind() == ErrorKind::Unavailable => {
                    tracing::debug!(error = %e, "outbox: the platform cannot take it now");
                    done.stopped = true;
                    break;
                }
                Err(e) => {
                    // Refused for good (it would block the queue forever): said in the log.
                    tracing::error!(seq, kind = item.kind(), error = %e, "outbox item refused by the platform; removed");
                    self.remove(seq)?;
                    done.refused += 1;
                }
            }
        }
        if done.delivered > 0 {
            tracing::info!(delivered = done.delivered, "outbox delivered");
        }
        Ok(done)
    }
}

/// Flush `outbox` every `every` on its own thread until `stop` is set.
pub fn spawn_delivery(outbox: Arc<Outbox>, every: Duration, stop: Arc<AtomicBool>) {
    let spawned = std::thread::Builder::new()
        .name("outbox-delivery".into())
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                if let Err(e) = outbox.flush() {
                    tracing::error!(error = %e, "outbox delivery");
                }
                let mut waited = Duration::ZERO;
                while waited < every && !stop.load(Ordering::Relaxed) {
                    let step = Duration::from_millis(50).min(every - waited);
                    std::thread::sleep(step);
                    waited += step;
                }
            }
        });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "cannot start the outbox delivery thread");
    }
}

/// Where the kiosk's own events go: the outbox (a server's terminal) or the local store.
#[derive(Clone)]
pub struct KioskEvents {
    kiosk_id: String,
    sink: Sink,
}

#[derive(Clone)]
enum Sink {
    Outbox(Arc<Outbox>),
    Local(Arc<dyn Platform>),
}

impl KioskEvents {
    pub fn outbox(kiosk_id: String, outbox: Arc<Outbox>) -> Self {
        KioskEvents {
            kiosk_id,
            sink: Sink::Outbox(outbox),
        }
    }

    pub fn local(kiosk_id: String, platform: Arc<dyn Platform>) -> Self {
        KioskEvents {
            kiosk_id,
            sink: Sink::Local(platform),
        }
    }

    /// Record that `kind` happened `at` (`detail`: words for the operator, never personal data).
    pub fn record(&self, kind: &str, detail: &str, at: Timestamp) {
        tracing::info!(kind, detail, "kiosk event");
        let request = KioskEventRequest {
            kiosk_id: self.kiosk_id.clone(),
            kind: kind.to_string(),
            detail: detail.chars().take(500).collect(),
        };
        let r = match &self.sink {
            Sink::Outbox(o) => o
                .push(Item::Event { request, at })
                .map(|_| ())
                .map_err(|e| e.to_string()),
            Sink::Local(p) => p
                .record_kiosk_event(&request, at)
                .map(|_| ())
                .map_err(|e| e.to_string()),
        };
        if let Err(e) = r {
            tracing::error!(kind, error = %e, "kiosk event not recorded");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    /// A courier that is up or down at will and counts what it delivered, by key.
    #[derive(Default)]
    struct Fake {
        down: AtomicBool,
        delivered: Mutex<Vec<String>>,
        attempts: AtomicUsize,
    }

    impl Courier for Fake {
        fn deliver(&self, _: &Item, key: &str) -> Result<(), StoreError> {
            self.attempts.fetch_add(1, Ordering::SeqCst);
            if self.down.load(Ordering::SeqCst) {
                return Err(StoreError::Unavailable("down".into()));
            }
            self.delivered.lock().unwrap().push(key.to_string());
            Ok(())
        }
        fn reachable(&self) -> bool {
            !self.down.load(Ordering::SeqCst)
        }
    }

    fn event(n: usize) -> Item {
        Item::Event {
            request: KioskEventRequest {
                kiosk_id: "K1".into(),
                kind: "printer_out_of_paper".into(),
                detail: format!("event {n}"),
            },
            at: Timestamp::from_second(1_800_000_000).unwrap(),
        }
    }

    fn feedback() -> Item {
        Item::Feedback {
            request: FeedbackRequest {
                id_number: Some(crate::domain::IdNumber::parse("11010519491231002X").unwrap()),
                kiosk_id: "K1".into(),
                category: "satisfied".into(),
                text: "满意 / satisfied".into(),
            },
            now: Timestamp::from_second(1_800_000_000).unwrap(),
        }
    }

    #[test]
    fn the_queue_waits_while_down_and_is_sent_in_order_with_its_keys_when_up() {
        let dir = tempfile::tempdir().unwrap();
        let fake = Arc::new(Fake::default());
        fake.down.store(true, Ordering::SeqCst);
        let o = Outbox::open(&dir.path().join("outbox.sqlite3"), fake.clone()).unwrap();
        for n in 0..3 {
            o.push(event(n)).unwrap();
        }
        o.push(feedback()).unwrap();
        let keys: Vec<String> = o.items().unwrap().into_iter().map(|(_, k, _)| k).collect();
        assert!(o.flush().unwrap().stopped);
        assert!(o.flush().unwrap().stopped);
        assert_eq!(o.len().unwrap(), 4);
        fake.down.store(false, Ordering::SeqCst);
        assert_eq!(o.flush().unwrap().delivered, 4);
        assert_eq!(*fake.delivered.lock().unwrap(), keys);
        assert!(o.is_empty().unwrap());
    }

    #[test]
    fn a_queued_feedback_keeps_no_id_number_and_survives_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("outbox.sqlite3");
        let fake = Arc::new(Fake::default());
        let o = Outbox::open(&path, fake.clone()).unwrap();
        o.push(feedback()).unwrap();
        let before = o.items().unwrap();
        drop(o);
        let raw = std::fs::read(&path).unwrap();
        assert!(
            !raw.windows(18).any(|w| w == b"11010519491231002X"),
            "no ID number at rest"
        );
        let o = Outbox::open(&path, fake).unwrap();
        let text = |v: &[(i64, String, Item)]| {
            serde_json::to_string(&v.iter().map(|(s, k, i)| (s, k, i)).collect::<Vec<_>>()).unwrap()
        };
        assert_eq!(text(&o.items().unwrap()), text(&before));
        let Item::Feedback { request, .. } = &before[0].2 else {
            panic!("feedback expected")
        };
        assert!(request.id_number.is_none());
    }

    #[test]
    fn when_full_the_oldest_events_go_first_and_feedback_is_refused_never_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let fake = Arc::new(Fake::default());
        let o = Outbox::open(&dir.path().join("o.sqlite3"), fake)
            .unwrap()
            .with_limits(3, 1 << 20);
        o.push(event(0)).unwrap();
        o.push(feedback()).unwrap();
        o.push(event(1)).unwrap();
        o.push(event(2)).unwrap(); // drops event 0
        let kinds = |o: &Outbox| -> Vec<String> {
            o.items()
                .unwrap()
                .into_iter()
                .map(|(_, _, i)| match i {
                    Item::Event { request, .. } => request.detail,
                    Item::Feedback { .. } => "feedback".into(),
                })
                .collect()
        };
        assert_eq!(kinds(&o), ["feedback", "event 1", "event 2"]);
        o.push(feedback()).unwrap(); // drops event 1
        o.push(feedback()).unwrap(); // drops event 2
        assert_eq!(kinds(&o), ["feedback", "feedback", "feedback"]);
        assert!(matches!(
            o.push(feedback()),
            Err(OutboxError::Full { items: 3, .. })
        ));
        assert_eq!(
            o.push(event(3)).unwrap(),
            None,
            "an event that does not fit is dropped"
        );
        assert_eq!(o.len().unwrap(), 3);
    }
}
