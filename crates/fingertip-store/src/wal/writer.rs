//! The WAL writer: one thread that owns the active segment and commits in groups.
//!
//! Requests hand their payload to the thread and wait. The thread takes everything queued,
//! writes it with one `write`, calls `fdatasync` once, and only then answers every waiter, so
//! concurrent requests share an fsync. If the write or the fsync fails, every waiter of that
//! group gets an error, the segment is abandoned (never written again, never retried), and the
//! next segment's header records how many bytes of the abandoned one are valid.
//!
//! The writer is also the only place that decides whether an event is a re-send: it checks
//! each record's dedup keys before writing, remembers them when the group is durable and
//! forgets them when it is not. So a re-send racing its original can never be reported as a
//! duplicate of something that then failed to be stored.

use std::borrow::Cow;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Instant;

use tokio::sync::{mpsc, oneshot};

use super::segment::{self, ALL_VALID};
use crate::record::{self, RecordBuilder};
use crate::{DedupIndex, StoreError, StoreStats, sync_dir};

/// One request's events: the encoded payload and the dedup key of each event, in order.
pub(crate) struct Append {
    pub payload: Vec<u8>,
    pub keys: Vec<u64>,
    pub day: i64,
    pub done: oneshot::Sender<Result<Vec<u32>, StoreError>>,
}

pub(crate) enum Command {
    Append(Append),
    /// Close the active segment if it holds records, so it can be compacted.
    Seal(oneshot::Sender<()>),
    /// Can the WAL take a write? After a failure with no fresh segment, try to open one now:
    /// readiness must not wait for a request that a load balancer will never send.
    Probe(oneshot::Sender<bool>),
    /// Graceful stop after everything was compacted: remove the empty active segment when it
    /// is the only one left, and take no more writes.
    Close(oneshot::Sender<()>),
}

struct Active {
    id: u64,
    file: File,
    len: u64,
    next_seq: u64,
    opened_ms: i64,
}

pub(crate) struct Writer {
    dir: PathBuf,
    max_segment_bytes: u64,
    max_group_bytes: usize,
    active: Option<Active>,
    /// The id the next segment gets.
    next_id: u64,
    /// Valid length of the segment before `next_id`, when it was abandoned after an error.
    pending_prev_valid: u64,
    /// Segments with a smaller id are sealed and may be compacted.
    pub(crate) sealed_below: Arc<AtomicU64>,
    stats: Arc<StoreStats>,
    dedup: Arc<DedupIndex>,
    buf: Vec<u8>,
    closed: bool,
}

impl Writer {
    /// A writer whose first segment gets id `next_id`; `prev_valid_len` is the valid length of
    /// the newest existing segment (`ALL_VALID` when there is none).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        dir: &Path,
        next_id: u64,
        prev_valid_len: u64,
        max_segment_bytes: u64,
        max_group_bytes: usize,
        stats: Arc<StoreStats>,
        dedup: Arc<DedupIndex>,
    ) -> Self {
        Self {
            dir: dir.to_path_buf(),
            max_segment_bytes,
            max_group_bytes,
            active: None,
            next_id,
            pending_prev_valid: prev_valid_len,
            sealed_below: Arc::new(AtomicU64::new(next_id)),
            stats,
            dedup,
            buf: Vec::with_capacity(1 << 20),
            closed: false,
        }
    }

    /// Opens the first segment right away: from now on the newest segment of the last run is
    /// sealed (its successor records its valid length).
    pub(crate) fn start(&mut self) {
        if let Err(error) = self.open_segment() {
            self.stats.wal_healthy.store(false, Relaxed);
            tracing::error!(%error, "Could not open a WAL segment; ingest answers 503 until one can be opened.");
        }
    }

    /// Runs until every sender is gone.
    pub(crate) fn run(mut self, mut rx: mpsc::Receiver<Command>) {
        while let Some(first) = rx.blocking_recv() {
            let mut appends = Vec::new();
            let mut seals = Vec::new();
            let mut bytes = 0;
            let mut next = Some(first);
            while let Some(cmd) = next.take() {
                match cmd {
                    Command::Append(a) => {
                        bytes += a.payload.len();
                        appends.push(a);
                    }
                    Command::Seal(done) => seals.push(done),
                    Command::Probe(done) => {
                        let _ = done.send(self.probe());
                    }
                    Command::Close(done) => {
                        self.close();
                        let _ = done.send(());
                    }
                }
                if bytes < self.max_group_bytes {
                    next = rx.try_recv().ok();
                }
            }
            if !appends.is_empty() {
                self.commit(appends);
            }
            if !seals.is_empty() {
                self.seal();
                seals.into_iter().for_each(|s| {
                    let _ = s.send(());
                });
            }
        }
    }

    fn commit(&mut self, group: Vec<Append>) {
        if self.closed {
            for a in group {
                let _ = a.done.send(Err(StoreError::Closed));
            }
            return;
        }
        let mut checked = Vec::with_capacity(group.len());
        let mut payloads = Vec::with_capacity(group.len());
        for a in &group {
            let (payload, outcome) = self.check(a);
            payloads.push(payload);
            checked.push(outcome);
        }
        let result = self.write_group(payloads.iter().filter_map(|p| p.as_deref()));
        match &result {
            Ok(()) => {
                self.stats.wal_healthy.store(true, Relaxed);
                let events: u64 = checked.iter().flatten().map(|c| c.kept.len() as u64).sum();
                self.stats
                    .records_appended
                    .fetch_add(group.len() as u64, Relaxed);
                self.stats.events_appended.fetch_add(events, Relaxed);
            }
            Err(error) => {
                self.stats.write_errors.fetch_add(1, Relaxed);
                // Healthy again only if a fresh segment could be opened after the failure.
                self.stats.wal_healthy.store(self.active.is_some(), Relaxed);
                tracing::error!(%error, "WAL write failed; the group is refused and the segment abandoned.");
                checked
                    .iter()
                    .flatten()
                    .for_each(|c| self.dedup.forget(c.day, &c.kept));
            }
        }
        for (a, c) in group.into_iter().zip(checked) {
            let answer = match (c, &result) {
                (None, _) => Err(StoreError::Encoding),
                (Some(c), Ok(())) => Ok(c.dups),
                (Some(_), Err(_)) => Err(StoreError::Unavailable),
            };
            let _ = a.done.send(answer);
        }
        if self
            .active
            .as_ref()
            .is_some_and(|a| a.len >= self.max_segment_bytes)
        {
            self.seal();
        }
    }

    /// Marks an append's re-sent events and drops them from its payload. `None` when the
    /// payload cannot be re-encoded: then nothing of it is written and the caller is refused
    /// (never acknowledged and then lost).
    fn check<'p>(&self, a: &'p Append) -> (Option<Cow<'p, [u8]>>, Option<Checked>) {
        let fresh = self.dedup.check_and_insert(a.day, &a.keys);
        let dups: Vec<u32> = (0..fresh.len() as u32)
            .filter(|i| !fresh[*i as usize])
            .collect();
        let kept: Vec<u64> = a
            .keys
            .iter()
            .zip(&fresh)
            .filter(|(_, f)| **f)
            .map(|(k, _)| *k)
            .collect();
        match drop_events(&a.payload, &dups) {
            Ok(payload) => (
                payload,
                Some(Checked {
                    day: a.day,
                    kept,
                    dups,
                }),
            ),
            Err(error) => {
                self.dedup.forget(a.day, &kept);
                self.stats.write_errors.fetch_add(1, Relaxed);
                tracing::error!(%error, "A WAL payload did not decode for re-encoding; the request is refused.");
                (None, None)
            }
        }
    }

    fn write_group<'a>(&mut self, payloads: impl Iterator<Item = &'a [u8]>) -> io::Result<()> {
        if self.active.is_none() {
            self.open_segment()?;
        }
        // Unwrap safety: opened just above.
        let active = self.active.as_mut().expect("active segment");
        self.buf.clear();
        for p in payloads {
            segment::frame(active.next_seq, p, &mut self.buf);
            active.next_seq += 1;
        }
        let started = Instant::now();
        let written = active
            .file
            .write_all(&self.buf)
            .and_then(|_| active.file.sync_data());
        self.stats.fsync_seconds.observe(started.elapsed());
        self.stats.fsyncs.fetch_add(1, Relaxed);
        match written {
            Ok(()) => {
                active.len += self.buf.len() as u64;
                self.stats
                    .wal_bytes
                    .fetch_add(self.buf.len() as u64, Relaxed);
                Ok(())
            }
            Err(e) => {
                self.abandon();
                Err(e)
            }
        }
    }

    /// Whether the next write can go to a segment, opening one if the last attempt failed.
    fn probe(&mut self) -> bool {
        if self.active.is_none()
            && !self.stats.wal_healthy.load(Relaxed)
            && let Err(error) = self.open_segment()
        {
            tracing::debug!(%error, "The WAL still cannot open a segment.");
        }
        self.stats.wal_healthy.load(Relaxed)
    }

    /// Gives up the active segment after an error; its valid prefix is remembered.
    fn abandon(&mut self) {
        if let Some(active) = self.active.take() {
            self.pending_prev_valid = active.len;
            // Seal it only once the next header (holding the valid length) is durable.
            if self.open_segment().is_err() {
                tracing::error!("Could not open a fresh WAL segment; ingest answers 503.");
            }
        }
    }

    fn open_segment(&mut self) -> io::Result<()> {
        let id = self.next_id;
        let path = segment::segment_path(&self.dir, id);
        let mut file = self.create_segment_file(&path)?;
        let header = segment::encode_header(segment::Header {
            id,
            prev_valid_len: self.pending_prev_valid,
            nonce: segment::new_nonce(),
        });
        let created = file
            .write_all(&header)
            .and_then(|_| file.sync_all())
            .and_then(|_| sync_dir(&self.dir));
        if let Err(e) = created {
            drop(file);
            let _ = std::fs::remove_file(&path);
            return Err(e);
        }
        self.pending_prev_valid = ALL_VALID;
        self.next_id = id + 1;
        self.stats.wal_healthy.store(true, Relaxed);
        self.stats.wal_bytes.fetch_add(header.len() as u64, Relaxed);
        self.active = Some(Active {
            id,
            file,
            len: header.len() as u64,
            next_seq: 0,
            opened_ms: crate::now_ms(),
        });
        self.sealed_below.store(id, Relaxed);
        Ok(())
    }

    /// Creates the file of a new segment. A file already at that name is not ours (this
    /// process holds the data directory's lock and never reuses an id): it is moved to
    /// `wal/quarantine/` and reported, so it cannot block every write.
    fn create_segment_file(&self, path: &Path) -> io::Result<File> {
        let create = || OpenOptions::new().write(true).create_new(true).open(path);
        match create() {
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                self.move_stray_aside(path)?;
                create()
            }
            other => other,
        }
    }

    fn move_stray_aside(&self, path: &Path) -> io::Result<()> {
        let quarantine = self.dir.join("quarantine");
        std::fs::create_dir_all(&quarantine)?;
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let target = quarantine.join(format!("{name}.stray-{}", crate::now_ms()));
        std::fs::rename(path, &target)?;
        sync_dir(&quarantine)?;
        sync_dir(&self.dir)?;
        self.stats.stray_segments_moved.fetch_add(1, Relaxed);
        tracing::error!(path = %path.display(), moved_to = %target.display(), "A file that this server did not write sat at the next WAL segment's name; moved it to the quarantine.");
        Ok(())
    }

    /// Leaves the active segment if it holds records (everything in it is already durable)
    /// and opens its successor at once, whose header records the sealed segment's length.
    fn seal(&mut self) {
        let Some(active) = self.active.take_if(|a| a.next_seq > 0) else {
            return;
        };
        self.pending_prev_valid = active.len;
        self.sealed_below.store(active.id + 1, Relaxed);
        tracing::debug!(
            segment = active.id,
            bytes = active.len,
            age_ms = crate::now_ms() - active.opened_ms,
            "Sealed a WAL segment."
        );
        drop(active);
        if let Err(error) = self.open_segment() {
            tracing::error!(%error, "Could not open the next WAL segment; retried on the next write.");
        }
    }

    /// Removes the active segment if it is empty and the only one left (a clean stop leaves
    /// an empty WAL), and refuses writes from now on.
    fn close(&mut self) {
        self.closed = true;
        let Some(active) = self.active.take_if(|a| a.next_seq == 0) else {
            return;
        };
        let only = super::segment::list_segments(&self.dir).is_ok_and(|ids| ids == [active.id]);
        let path = segment::segment_path(&self.dir, active.id);
        if only && std::fs::remove_file(&path).is_ok() {
            let _ = sync_dir(&self.dir);
        }
    }
}

/// What one append turned out to be: its new keys (remembered under `day`) and the indexes of
/// its re-sent events.
struct Checked {
    day: i64,
    kept: Vec<u64>,
    dups: Vec<u32>,
}

/// The payload without the events at `drop` (sorted indexes); `None` when nothing is left.
/// Re-sends are rare, so re-encoding here is cheap overall.
fn drop_events<'p>(
    payload: &'p [u8],
    drop: &[u32],
) -> Result<Option<Cow<'p, [u8]>>, record::DecodeError> {
    if drop.is_empty() {
        return Ok(Some(Cow::Borrowed(payload)));
    }
    let batch = record::decode(payload)?;
    let mut builder = RecordBuilder::new(&batch.app_id, batch.received_at_ms, batch.events.len());
    for (i, e) in batch.events.iter().enumerate() {
        if drop.binary_search(&(i as u32)).is_err() {
            let elements: Vec<&str> = e.data_elements.iter().map(String::as_str).collect();
            builder.push(&e.as_ref(&elements));
        }
    }
    Ok((!builder.is_empty()).then(|| Cow::Owned(builder.finish())))
}

#[cfg(test)]
mod tests {
    use fingertip_model::Trigger;

    use crate::record::{EventRef, RecordBuilder};
    use crate::{Store, StoreConfig, StoreError};

    fn payload(ids: &[u128]) -> Vec<u8> {
        let mut b = RecordBuilder::new("app", 0, ids.len());
        for id in ids {
            b.push(&EventRef {
                event_id: *id,
                person: [1; 16],
                key_epoch: "2026Q4",
                org_unit: "u",
                event_type: "login",
                trigger: Trigger::Unknown,
                started_at_ms: 0,
                duration_s: 0.0,
                data_elements: &[],
            });
        }
        b.finish()
    }

    #[test]
    fn a_payload_that_cannot_be_reencoded_is_refused_not_acknowledged() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _) = Store::open(dir.path(), StoreConfig::default()).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            assert_eq!(
                store.append(payload(&[1]), vec![1]).await.unwrap(),
                vec![0u32; 0]
            );
            // Event 0 is a re-send, so the payload must be re-encoded without it; it does not
            // decode, so nothing of it may be acknowledged.
            let err = store.append(b"not a payload".to_vec(), vec![1, 2]).await;
            assert!(matches!(err, Err(StoreError::Encoding)), "{err:?}");
            // Key 2 was not remembered: its event is new when sent properly.
            let dups = store.append(payload(&[2]), vec![2]).await.unwrap();
            assert!(dups.is_empty());
        });
    }
}
