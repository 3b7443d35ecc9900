//! The push log: webhook pushes made durable before the platform hears "safe", with one
//! `fdatasync` for all the pushes that arrived while the previous one ran (group commit), in
//! plain append-only files beside the sled database (`{data_dir}/push-log/`). A push is safe
//! once it is here; its conversation's owner takes it in afterwards (dedupe, step, commit,
//! flush) and marks it applied. A segment whose pushes are all applied is deleted once the
//! store has flushed after them; at start the pushes of the segments still on disk are taken
//! in again, and their dedupe keys drop those the store already holds.
//!
//! Why not the store itself: sled's flush writes its page cache and takes milliseconds under
//! load; an `fdatasync` of a few kilobytes written into one file takes well under one. Each
//! segment is made at its full size, zeros written and synced, before its first record: writes
//! then land in blocks the file already has, so their `fdatasync` changes no file-system
//! metadata and does not wait for (or force out) the file system's journal and whatever else
//! the store has dirty.
//!
//! A segment is a run of records `len: u32 BE | crc32(body): u32 BE | body`, `len` ≥ 1, then
//! zeros. A zero length, a record cut short by a crash, or one whose checksum does not match
//! ends the segment's reading: what follows was never written, or belonged to a write that
//! never finished, so no platform heard "safe" for it.
//!
//! The writer answers appends in the order they were made, each through its `then` callback,
//! on the writer's task: callers that need an order (one conversation's pushes) get it.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, mpsc};
use tracing::{debug, warn};

use super::{Store, StoreError};

/// A segment's size as made; it is sealed (no more appends) once the next batch would not fit…
const SEGMENT_BYTES: u64 = 1 << 20;
/// …or once it is this old when the next batch comes.
const SEGMENT_AGE: Duration = Duration::from_secs(10);
/// Most appends written with one `fdatasync`.
const BATCH: usize = 4096;

/// What an append's caller is told once its push is durable (or could not be made so).
pub type Then = Box<dyn FnOnce(Result<Ticket, StoreError>) + Send>;

/// A push that is durable in the log; [`Ticket::applied`] once its owner has committed it.
/// Dropped without that (the owner failed), its segment is kept until the next start.
#[derive(Debug)]
pub struct Ticket {
    segment: u64,
    shared: Arc<Shared>,
    settled: bool,
}

impl Ticket {
    /// The push's effect is committed to the store (or it was a repeat): once the store has
    /// flushed, the log need not keep it.
    pub fn applied(mut self) {
        self.settled = true;
        self.shared.settle(self.segment, true);
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if !self.settled {
            self.shared.settle(self.segment, false);
        }
    }
}

#[derive(Debug, Default)]
struct Counts {
    entries: u64,
    applied: u64,
    /// A push of it was not taken in: it is read again at the next start.
    pinned: bool,
    sealed: bool,
}

impl Counts {
    fn done(&self) -> bool {
        self.sealed && !self.pinned && self.applied == self.entries
    }
}

#[derive(Debug)]
struct Shared {
    dir: PathBuf,
    segments: Mutex<BTreeMap<u64, Counts>>,
    /// A segment may be done.
    ready: Notify,
}

impl Shared {
    fn counts(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Counts>> {
        self.segments
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn settle(&self, segment: u64, applied: bool) {
        let mut segments = self.counts();
        let Some(counts) = segments.get_mut(&segment) else {
            return;
        };
        if applied {
            counts.applied += 1;
        } else {
            counts.pinned = true;
        }
        if counts.done() {
            self.ready.notify_one();
        }
    }

    fn seal(&self, segment: u64) {
        let mut segments = self.counts();
        let counts = segments.entry(segment).or_default();
        counts.sealed = true;
        if counts.done() {
            self.ready.notify_one();
        }
    }

    fn path(&self, segment: u64) -> PathBuf {
        self.dir.join(format!("{segment:020}.log"))
    }
}

struct Append {
    body: Vec<u8>,
    then: Then,
}

enum Request {
    Append(Append),
    /// Seal the active segment and stop taking appends.
    Close(tokio::sync::oneshot::Sender<()>),
}

/// Handle to the log's writer. Cheap to clone.
#[derive(Debug, Clone)]
pub struct PushLog {
    appends: mpsc::UnboundedSender<Request>,
    shared: Arc<Shared>,
}

/// A push read back at start: its body, and the ticket to mark it applied.
#[derive(Debug)]
pub struct Recovered {
    /// The record's body as appended.
    pub body: Vec<u8>,
    /// Marks it taken in.
    pub ticket: Ticket,
}

impl PushLog {
    /// Opens (creating) the log in `dir` and starts its writer on the current runtime. Returns
    /// the pushes still on disk, oldest first, for the caller to take in again.
    pub fn open(dir: &Path) -> Result<(PushLog, Vec<Recovered>), StoreError> {
        fs::create_dir_all(dir).map_err(|e| io("create", dir, e))?;
        let mut found: Vec<u64> = Vec::new();
        for entry in fs::read_dir(dir).map_err(|e| io("read", dir, e))? {
            let entry = entry.map_err(|e| io("read", dir, e))?;
            let name = entry.file_name();
            if !entry.file_type().is_ok_and(|t| t.is_file()) {
                warn!(name = ?name, "push log: not a regular file; left alone");
                continue;
            }
            if let Some(id) = name
                .to_str()
                .and_then(|n| n.strip_suffix(".log"))
                .and_then(|n| n.parse::<u64>().ok())
            {
                found.push(id);
            }
        }
        found.sort_unstable();
        let shared = Arc::new(Shared {
            dir: dir.to_path_buf(),
            segments: Mutex::new(BTreeMap::new()),
            ready: Notify::new(),
        });
        let mut recovered = Vec::new();
        for &segment in &found {
            let path = shared.path(segment);
            let bytes = fs::read(&path).map_err(|e| io("read", &path, e))?;
            let (bodies, rest) = records(&bytes);
            if rest > 0 {
                warn!(path = %path.display(), bytes = rest, "push log: an unfinished write at the end of a segment was left out");
            }
            shared.counts().insert(
                segment,
                Counts {
                    entries: bodies.len() as u64,
                    ..Counts::default()
                },
            );
            for body in bodies {
                recovered.push(Recovered {
                    body: body.to_vec(),
                    ticket: Ticket {
                        segment,
                        shared: shared.clone(),
                        settled: false,
                    },
                });
            }
            shared.seal(segment);
        }
        let next = found.last().map_or(1, |last| last + 1);
        let (appends, requests) = mpsc::unbounded_channel();
        tokio::spawn(write(shared.clone(), next, requests));
        Ok((PushLog { appends, shared }, recovered))
    }

    /// Appends `body`; `then` hears, in append order, once it is durable (with its ticket) or
    /// could not be written.
    pub fn append(&self, body: Vec<u8>, then: Then) {
        if let Err(mpsc::error::SendError(Request::Append(append))) =
            self.appends.send(Request::Append(Append { body, then }))
        {
            (append.then)(Err(stopped()));
        }
    }

    /// Seals the active segment and stops the writer (later appends fail); returns once done.
    pub async fn close(&self) {
        let (done, closed) = tokio::sync::oneshot::channel();
        if self.appends.send(Request::Close(done)).is_ok() {
            let _ = closed.await;
        }
    }

    /// Returns once a segment may have become done (see [`PushLog::prune_done`]).
    pub async fn ready(&self) {
        self.shared.ready.notified().await;
    }

    /// Deletes the segments that are done now (after one flush of `store`).
    pub async fn prune_done(&self, store: &dyn Store) -> Result<usize, StoreError> {
        let done: Vec<u64> = self
            .shared
            .counts()
            .iter()
            .filter(|(_, counts)| counts.done())
            .map(|(id, _)| *id)
            .collect();
        if done.is_empty() {
            return Ok(0);
        }
        store.flush().await?;
        for segment in &done {
            let path = self.shared.path(*segment);
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io("remove", &path, e)),
            }
            self.shared.counts().remove(segment);
        }
        debug!(segments = done.len(), "push log: applied segments removed");
        Ok(done.len())
    }

    /// Segments on disk and pushes in them not yet applied.
    #[cfg(test)]
    fn backlog(&self) -> (usize, u64) {
        let segments = self.shared.counts();
        let pending = segments.values().map(|c| c.entries - c.applied).sum();
        (segments.len(), pending)
    }
}

/// The records of one segment, and how many bytes after the last whole one were left out
/// (not counting the zeros the segment was made with).
fn records(mut bytes: &[u8]) -> (Vec<&[u8]>, usize) {
    let mut out = Vec::new();
    loop {
        let Some((header, rest)) = bytes.split_first_chunk::<8>() else {
            return (out, bytes.len());
        };
        let len = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let sum = u32::from_be_bytes([header[4], header[5], header[6], header[7]]);
        match rest.get(..len) {
            Some(body) if len > 0 && crc32fast::hash(body) == sum => {
                out.push(body);
                bytes = &rest[len..];
            }
            _ => {
                let unwritten = bytes.iter().rposition(|b| *b != 0).map_or(0, |at| at + 1);
                return (out, unwritten);
            }
        }
    }
}

fn frame(out: &mut Vec<u8>, body: &[u8]) {
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(&crc32fast::hash(body).to_be_bytes());
    out.extend_from_slice(body);
}

/// The active segment.
struct Active {
    id: u64,
    file: Arc<File>,
    len: u64,
    opened: Instant,
}

/// Makes segment `id` at its full size (blocking: run off the async threads).
fn create(dir: &Path, path: &Path, id: u64) -> std::io::Result<Active> {
    // Its number is past every segment read at open, so nothing is there to keep.
    let file = OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(path)?;
    file.write_all_at(&vec![0; SEGMENT_BYTES as usize], 0)?;
    file.sync_all()?;
    // The new name must survive a crash too.
    File::open(dir)?.sync_all()?;
    Ok(Active {
        id,
        file: Arc::new(file),
        len: 0,
        opened: Instant::now(),
    })
}

/// The writer: batches what is waiting, writes it with one `fdatasync`, answers in order.
async fn write(shared: Arc<Shared>, mut next: u64, mut requests: mpsc::UnboundedReceiver<Request>) {
    let mut active: Option<Active> = None;
    let mut batch = Vec::new();
    let mut closed = None;
    while let Some(first) = requests.recv().await {
        match first {
            Request::Append(append) => batch.push(append),
            Request::Close(done) => closed = Some(done),
        }
        while batch.len() < BATCH && closed.is_none() {
            match requests.try_recv() {
                Ok(Request::Append(more)) => batch.push(more),
                Ok(Request::Close(done)) => closed = Some(done),
                Err(_) => break,
            }
        }
        if batch.is_empty() {
            break;
        }
        let mut bytes = Vec::with_capacity(batch.iter().map(|a| a.body.len() + 8).sum());
        for append in &batch {
            frame(&mut bytes, &append.body);
        }
        let written = bytes.len() as u64;
        if let Some(current) = &active
            && (current.len + written > SEGMENT_BYTES || current.opened.elapsed() >= SEGMENT_AGE)
            && current.len > 0
        {
            shared.seal(current.id);
            active = None;
        }
        let id = active.as_ref().map_or(next, |current| current.id);
        if active.is_none() {
            next += 1;
            shared.counts().insert(id, Counts::default());
        }
        let (dir, path) = (shared.dir.clone(), shared.path(id));
        let result = tokio::task::spawn_blocking(move || {
            let current = match active {
                Some(current) => current,
                None => create(&dir, &path, id).map_err(|e| io("create", &path, e))?,
            };
            let write = current
                .file
                .write_all_at(&bytes, current.len)
                .and_then(|()| current.file.sync_data());
            match write {
                Ok(()) => Ok(current),
                Err(e) => Err(io("write", &path, e)),
            }
        })
        .await
        .unwrap_or_else(|e| Err(StoreError::Io(format!("push log writer failed: {e}"))));
        match result {
            Ok(mut current) => {
                current.len += written;
                if let Some(counts) = shared.counts().get_mut(&current.id) {
                    counts.entries += batch.len() as u64;
                }
                for append in batch.drain(..) {
                    let ticket = Ticket {
                        segment: current.id,
                        shared: shared.clone(),
                        settled: false,
                    };
                    (append.then)(Ok(ticket));
                }
                active = Some(current);
            }
            Err(e) => {
                // What the failed write left is never read past: the next batch goes to a
                // new segment (this one, made or not, holds nothing more to wait for).
                warn!(error = %e, "push log: write failed; the platform is asked to retry");
                shared.seal(id);
                active = None;
                for append in batch.drain(..) {
                    (append.then)(Err(e.clone()));
                }
            }
        }
        if closed.is_some() {
            break;
        }
    }
    if let Some(current) = active {
        shared.seal(current.id);
    }
    requests.close();
    while let Ok(request) = requests.try_recv() {
        match request {
            Request::Append(append) => (append.then)(Err(stopped())),
            Request::Close(done) => drop(done.send(())),
        }
    }
    if let Some(done) = closed {
        let _ = done.send(());
    }
}

fn stopped() -> StoreError {
    StoreError::Io("the push log has stopped".into())
}

fn io(what: &str, path: &Path, e: std::io::Error) -> StoreError {
    StoreError::Io(format!("push log: {what} {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_torn_or_damaged_tail_ends_the_reading_and_whole_records_survive() {
        let mut bytes = Vec::new();
        frame(&mut bytes, b"first");
        frame(&mut bytes, b"second");
        let whole = bytes.len();
        frame(&mut bytes, b"third");
        let (bodies, rest) = records(&bytes[..bytes.len() - 2]);
        assert_eq!(bodies, vec![&b"first"[..], b"second"]);
        assert_eq!(rest, bytes.len() - 2 - whole);
        let mut damaged = bytes.clone();
        damaged[whole + 9] ^= 1;
        assert_eq!(records(&damaged).0.len(), 2);
        assert_eq!(records(&bytes).0.len(), 3);
        assert_eq!(records(&[]), (vec![], 0));
        let mut made = bytes.clone();
        made.resize(bytes.len() + 64, 0);
        assert_eq!(
            records(&made),
            (records(&bytes).0, 0),
            "zeros were never written"
        );
    }

    async fn append(log: &PushLog, body: &[u8]) -> Result<Ticket, StoreError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        log.append(body.to_vec(), Box::new(move |r| drop(tx.send(r))));
        rx.await.expect("answered")
    }

    fn bodies(recovered: &[Recovered]) -> Vec<&[u8]> {
        recovered.iter().map(|r| r.body.as_slice()).collect()
    }

    #[tokio::test]
    async fn pushes_not_applied_are_read_again_and_applied_ones_go_after_a_flush() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::MemoryStore::new();
        let (log, recovered) = PushLog::open(dir.path()).unwrap();
        assert!(recovered.is_empty());
        let first = append(&log, b"one").await.unwrap();
        let second = append(&log, b"two").await.unwrap();
        first.applied();
        // Still the active segment: kept.
        assert_eq!(log.prune_done(&store).await.unwrap(), 0);
        drop(second); // not taken in: pinned
        log.close().await;
        assert!(append(&log, b"late").await.is_err(), "closed logs refuse");
        assert_eq!(log.prune_done(&store).await.unwrap(), 0, "pinned stays");

        let (log, recovered) = PushLog::open(dir.path()).unwrap();
        assert_eq!(bodies(&recovered), vec![&b"one"[..], b"two"]);
        assert_eq!(log.backlog(), (1, 2));
        let third = append(&log, b"three").await.unwrap();
        for r in recovered {
            r.ticket.applied();
        }
        assert_eq!(log.prune_done(&store).await.unwrap(), 1);
        third.applied();
        log.close().await;
        assert_eq!(log.prune_done(&store).await.unwrap(), 1);
        let (_log, recovered) = PushLog::open(dir.path()).unwrap();
        assert!(recovered.is_empty(), "everything applied is gone");
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            0,
            "a segment is made by its first write"
        );
    }
}
