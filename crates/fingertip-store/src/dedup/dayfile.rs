//! Dedup day files: `<data>/dedup/<day>.keys`, a sequence of checksummed key records.
//!
//! A record is `[magic "FTDK"][n u32][crc32 u32][n × key u64]` (little-endian), the CRC
//! covering `n` and the keys. Files written before the magic existed hold `[n u32][crc32 u32]
//! [n × key u64]` records (CRC over the keys); both are read, in any mix.
//!
//! Reading never stops at a bad record. Damage followed by a valid record (found again by its
//! magic and checksum) is skipped and reported: the keys after it are still used. Bad bytes at
//! the end are a torn append (a crash or a full disk during [`append`]); the reader reports
//! how many, and [`repair`] cuts them off so that later appends start on a record boundary.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::ops::Range;
use std::path::Path;

pub const MAGIC: [u8; 4] = *b"FTDK";
/// No record holds more keys than this (a WAL segment holds far fewer events).
const MAX_KEYS: usize = 1 << 26;

/// What reading a day file found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct DayFile {
    pub keys: Vec<u64>,
    /// Damaged ranges followed by valid records.
    pub damaged: Vec<Range<usize>>,
    /// Where the valid records end: bytes after this are a torn append.
    pub valid_end: usize,
    pub len: usize,
}

impl DayFile {
    pub fn torn_bytes(&self) -> usize {
        self.len - self.valid_end
    }
}

/// One record: `[magic][n][crc][keys]`.
pub fn encode(keys: &[u64]) -> Vec<u8> {
    let mut out = Vec::with_capacity(12 + keys.len() * 8);
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&(keys.len() as u32).to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    keys.iter()
        .for_each(|k| out.extend_from_slice(&k.to_le_bytes()));
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&out[4..8]);
    hasher.update(&out[12..]);
    let crc = hasher.finalize();
    out[8..12].copy_from_slice(&crc.to_le_bytes());
    out
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

/// A current-format record at `pos`: `(keys range, end)`.
fn record_at(bytes: &[u8], pos: usize) -> Option<(Range<usize>, usize)> {
    if bytes.get(pos..pos + 4)? != MAGIC {
        return None;
    }
    let n = u32_at(bytes, pos + 4)? as usize;
    let crc = u32_at(bytes, pos + 8)?;
    let body = pos + 12..pos.checked_add(12 + n.checked_mul(8)?)?;
    let keys = bytes.get(body.clone())?;
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&bytes[pos + 4..pos + 8]);
    hasher.update(keys);
    (n <= MAX_KEYS && hasher.finalize() == crc).then(|| (body.clone(), body.end))
}

/// A record of the format before the magic at `pos` (never empty: empty ones were not written).
fn legacy_record_at(bytes: &[u8], pos: usize) -> Option<(Range<usize>, usize)> {
    let n = u32_at(bytes, pos)? as usize;
    let crc = u32_at(bytes, pos + 4)?;
    if n == 0 || n > MAX_KEYS {
        return None;
    }
    let body = pos + 8..pos.checked_add(8 + n * 8)?;
    let keys = bytes.get(body.clone())?;
    (crc32fast::hash(keys) == crc).then(|| (body.clone(), body.end))
}

fn any_record_at(bytes: &[u8], pos: usize) -> Option<(Range<usize>, usize)> {
    record_at(bytes, pos).or_else(|| legacy_record_at(bytes, pos))
}

/// Parses a whole day file.
pub fn parse(bytes: &[u8]) -> DayFile {
    let mut out = DayFile {
        len: bytes.len(),
        ..Default::default()
    };
    let mut pos = 0;
    while pos < bytes.len() {
        if let Some((keys, end)) = any_record_at(bytes, pos) {
            out.keys.extend(
                bytes[keys]
                    .chunks_exact(8)
                    .map(|c| u64::from_le_bytes(c.try_into().unwrap_or_default())),
            );
            pos = end;
            out.valid_end = end;
            continue;
        }
        match (pos + 1..bytes.len()).find(|p| any_record_at(bytes, *p).is_some()) {
            Some(next) => {
                out.damaged.push(pos..next);
                pos = next;
            }
            None => break,
        }
    }
    out
}

/// Reads a day file; a missing file is empty.
pub fn read(path: &Path) -> io::Result<DayFile> {
    match fs::read(path) {
        Ok(bytes) => Ok(parse(&bytes)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(DayFile::default()),
        Err(e) => Err(e),
    }
}

/// Cuts a torn append off the end of `path` (so the next append starts cleanly) and fsyncs.
pub fn repair(path: &Path, file: &DayFile) -> io::Result<()> {
    if file.torn_bytes() == 0 {
        return Ok(());
    }
    let f = OpenOptions::new().write(true).open(path)?;
    f.set_len(file.valid_end as u64)?;
    f.sync_data()
}

/// Appends one record of `keys` and fsyncs; if that fails, tries to cut the file back to its
/// old length so no partial record is left behind for this process to append after.
pub fn append(path: &Path, keys: &[u64]) -> io::Result<()> {
    let record = encode(keys);
    let mut file = OpenOptions::new().create(true).append(true).open(path)?;
    let before = file.metadata()?.len();
    let written = file.write_all(&record).and_then(|_| file.sync_data());
    if written.is_err() {
        let _ = file.set_len(before).and_then(|_| file.sync_data());
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    fn legacy(keys: &[u64]) -> Vec<u8> {
        let body: Vec<u8> = keys.iter().flat_map(|k| k.to_le_bytes()).collect();
        let mut out = (keys.len() as u32).to_le_bytes().to_vec();
        out.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
        out.extend_from_slice(&body);
        out
    }

    #[test]
    fn reads_both_formats_in_any_mix() {
        let mut bytes = legacy(&[1, 2]);
        bytes.extend(encode(&[3]));
        bytes.extend(legacy(&[4]));
        let f = parse(&bytes);
        assert_eq!(f.keys, vec![1, 2, 3, 4]);
        assert_eq!((f.torn_bytes(), f.damaged.len()), (0, 0));
    }

    #[test]
    fn keys_after_a_torn_record_are_not_ignored() {
        // A torn append (disk full), then the same keys appended again after it.
        let mut bytes = encode(&[1, 2]);
        let torn = encode(&[7, 8, 9]);
        bytes.extend_from_slice(&torn[..torn.len() - 5]);
        bytes.extend(encode(&[7, 8, 9]));
        bytes.extend(encode(&[10]));
        let f = parse(&bytes);
        assert_eq!(f.keys, vec![1, 2, 7, 8, 9, 10]);
        assert_eq!(f.damaged.len(), 1);
        assert_eq!(f.torn_bytes(), 0);
    }

    #[test]
    fn every_truncation_is_a_torn_tail() {
        let mut bytes = encode(&[1, 2]);
        bytes.extend(encode(&[3, 4, 5]));
        for cut in 0..bytes.len() {
            let f = parse(&bytes[..cut]);
            assert!(f.damaged.is_empty(), "cut {cut}");
            assert_eq!(f.valid_end + f.torn_bytes(), cut);
            assert!(f.keys == [] as [u64; 0] || f.keys == [1, 2]);
        }
    }

    #[test]
    fn repair_cuts_the_torn_tail_and_appends_follow_cleanly() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("1.keys");
        append(&path, &[1]).unwrap();
        let mut bytes = fs::read(&path).unwrap();
        bytes.extend_from_slice(&encode(&[2, 3])[..10]);
        fs::write(&path, &bytes).unwrap();
        let f = read(&path).unwrap();
        assert_eq!((f.keys.clone(), f.torn_bytes()), (vec![1], 10));
        repair(&path, &f).unwrap();
        append(&path, &[4]).unwrap();
        assert_eq!(read(&path).unwrap().keys, vec![1, 4]);
    }
}
