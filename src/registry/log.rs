//! `partition_registry.log`: the append-only, checksummed record log, its
//! framing and its recovery. It knows bytes and sequence numbers, not events
//! (those are [`super::record`]).
//!
//! # Framing
//!
//! Modelled on LevelDB's log, without its 32 KiB blocks (records are written
//! whole, one `write` each, and the file is read whole on recovery):
//!
//! ```text
//! offset  size  field
//! 0       4     checksum: masked crc32c of bytes 8.. of the record, u32 LE
//! 4       4     payload length, u32 LE
//! 8       1     record type (see record.rs; also the payload version)
//! 9       8     sequence number, u64 LE, strictly increasing from 1
//! 17      len   payload
//! ```
//!
//! The checksum covers type, sequence number and payload, and is masked as
//! LevelDB masks it (rotate right 15, add a constant) so that a payload that
//! embeds checksums does not checksum to a fixed pattern.
//!
//! # Recovery
//!
//! Records are read from the start. A record that cannot be read (short
//! header, a length running past the end of the file, a checksum mismatch) is
//! the *end of the log* when no valid record follows it anywhere in the file:
//! that is what a torn append (power loss, `kill -9` mid-`write`) looks like.
//! It is dropped, and a writer truncates the file back to the last good record
//! before appending. When a valid record *does* follow, data in the middle of
//! the log is damaged and recovery refuses with [`ErrorKind::RegistryCorrupt`],
//! naming the byte offset and the record number: silently skipping a
//! completed partition's record would be worse than stopping.
//!
//! # Writing
//!
//! A writer holds an exclusive `flock` on the log for as long as it lives,
//! so two runs cannot interleave records in one folder. A write that fails
//! part-way is cut back off the file and the log refuses further appends; a
//! failed `fsync` is never retried (the kernel may have dropped the pages)
//! and likewise poisons the log.

use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

use crate::error::{Error, ErrorKind, Result};

/// Bytes before the payload: checksum, length, type, sequence number.
pub(crate) const HEADER_LEN: usize = 17;

/// Record types a reader accepts. Kept here (not only in `record.rs`) so the
/// corruption scan can reject impossible headers before computing a checksum.
const KNOWN_RECORD_TYPES: &[u8] = &[super::record::EVENT_JSON_V1];

const MASK_DELTA: u32 = 0xa282_ead8;

/// LevelDB's checksum mask.
fn mask(crc: u32) -> u32 {
    crc.rotate_right(15).wrapping_add(MASK_DELTA)
}

/// The masked checksum of a record.
fn record_checksum(record_type: u8, seq: u64, payload: &[u8]) -> u32 {
    let mut crc = crc32c::crc32c(&[record_type]);
    crc = crc32c::crc32c_append(crc, &seq.to_le_bytes());
    crc = crc32c::crc32c_append(crc, payload);
    mask(crc)
}

/// Appends the framed record to `out`.
pub(crate) fn encode_record(record_type: u8, seq: u64, payload: &[u8], out: &mut Vec<u8>) {
    let len = u32::try_from(payload.len())
        .unwrap_or_else(|_| unreachable!("a registry record payload is far below 4 GiB"));
    out.extend_from_slice(&record_checksum(record_type, seq, payload).to_le_bytes());
    out.extend_from_slice(&len.to_le_bytes());
    out.push(record_type);
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(payload);
}

/// One record read back from the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LogRecord {
    /// Byte offset of the record's header in the file.
    pub offset: u64,
    /// 1-based position of the record in the file.
    pub number: u64,
    pub record_type: u8,
    pub seq: u64,
    pub payload: Vec<u8>,
}

/// Why the bytes at an offset are not a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FrameProblem {
    ShortHeader { available: usize },
    LengthPastEnd { length: u32, available: usize },
    ChecksumMismatch,
}

impl std::fmt::Display for FrameProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FrameProblem::ShortHeader { available } => write!(
                f,
                "only {available} bytes left, less than a {HEADER_LEN}-byte header"
            ),
            FrameProblem::LengthPastEnd { length, available } => write!(
                f,
                "payload length {length} runs past the end of the file ({available} bytes left)"
            ),
            FrameProblem::ChecksumMismatch => f.write_str("checksum mismatch"),
        }
    }
}

/// A frame that parsed: (type, seq, payload range end).
struct Frame<'a> {
    record_type: u8,
    seq: u64,
    payload: &'a [u8],
    end: usize,
}

fn parse_frame(bytes: &[u8], offset: usize) -> std::result::Result<Frame<'_>, FrameProblem> {
    let rest = &bytes[offset..];
    if rest.len() < HEADER_LEN {
        return Err(FrameProblem::ShortHeader {
            available: rest.len(),
        });
    }
    let field = |range: std::ops::Range<usize>| &rest[range];
    let stored_checksum = u32::from_le_bytes(le_array(field(0..4)));
    let length = u32::from_le_bytes(le_array(field(4..8)));
    let record_type = rest[8];
    let seq = u64::from_le_bytes(le_array(field(9..17)));
    let available = rest.len() - HEADER_LEN;
    let Some(payload) = usize::try_from(length)
        .ok()
        .filter(|&len| len <= available)
        .map(|len| &rest[HEADER_LEN..HEADER_LEN + len])
    else {
        return Err(FrameProblem::LengthPastEnd { length, available });
    };
    if record_checksum(record_type, seq, payload) != stored_checksum {
        return Err(FrameProblem::ChecksumMismatch);
    }
    Ok(Frame {
        record_type,
        seq,
        payload,
        end: offset + HEADER_LEN + payload.len(),
    })
}

fn le_array<const N: usize>(bytes: &[u8]) -> [u8; N] {
    let mut array = [0u8; N];
    array.copy_from_slice(bytes);
    array
}

/// The first offset after `from` where a valid record of a known type starts.
/// Only called once, when a record fails; cheap filters come before the CRC.
fn find_valid_record_after(bytes: &[u8], from: usize) -> Option<usize> {
    (from..bytes.len().saturating_sub(HEADER_LEN - 1)).find(|&offset| {
        KNOWN_RECORD_TYPES.contains(&bytes[offset + 8]) && parse_frame(bytes, offset).is_ok()
    })
}

/// What recovery found in a log file.
#[derive(Debug)]
pub(crate) struct Recovered {
    /// The good records, in file order.
    pub records: Vec<LogRecord>,
    /// Length of the file up to the end of the last good record.
    pub valid_len: u64,
    /// Bytes of torn tail after `valid_len` (0 when the log ended cleanly).
    pub torn_tail: u64,
}

/// Reads the records of a log image; see the module doc for the rules.
pub(crate) fn recover(path: &Path, bytes: &[u8]) -> Result<Recovered> {
    let mut records = Vec::new();
    let mut offset = 0usize;
    while offset < bytes.len() {
        let number = records.len() as u64 + 1;
        match parse_frame(bytes, offset) {
            Ok(frame) => {
                if !KNOWN_RECORD_TYPES.contains(&frame.record_type) {
                    // Intact but unreadable: a newer writer, not a torn tail.
                    return Err(corrupt(
                        path,
                        format!(
                            "record {number} at byte offset {offset}: unknown record type {} \
                             (written by a newer sweep-pipeline?)",
                            frame.record_type
                        ),
                    ));
                }
                records.push(LogRecord {
                    offset: offset as u64,
                    number,
                    record_type: frame.record_type,
                    seq: frame.seq,
                    payload: frame.payload.to_vec(),
                });
                offset = frame.end;
            }
            Err(problem) => {
                if let Some(next) = find_valid_record_after(bytes, offset + 1) {
                    return Err(corrupt(
                        path,
                        format!(
                            "record {number} at byte offset {offset} is damaged ({problem}) \
                             but a valid record follows at byte offset {next}"
                        ),
                    ));
                }
                break;
            }
        }
    }
    Ok(Recovered {
        records,
        valid_len: offset as u64,
        torn_tail: (bytes.len() - offset) as u64,
    })
}

pub(crate) fn corrupt(path: &Path, reason: String) -> Error {
    ErrorKind::RegistryCorrupt {
        path: path.to_path_buf(),
        reason,
    }
    .into()
}

/// Reads a log for inspection only: no lock, no truncation. A partial record
/// being appended by a live writer reads as a torn tail and is ignored.
pub(crate) fn read_log(path: &Path) -> Result<Recovered> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, "read", e))?;
    recover(path, &bytes)
}

/// The log open for appending.
#[derive(Debug)]
pub(crate) struct RegistryLog {
    path: PathBuf,
    /// Holds the exclusive `flock` for the life of the writer.
    file: File,
    /// End of the last good record: where the next one is written.
    len: u64,
    /// Sequence number of the last record in the file (0 when empty).
    last_seq: u64,
    /// Records appended since the last sync.
    unsynced: usize,
    fsync: bool,
    /// Set after a failed write or sync: nothing more may be appended.
    poisoned: bool,
    /// Reused frame buffer.
    frame: Vec<u8>,
}

impl RegistryLog {
    /// Opens (creating if need be) and locks the log, recovers its records,
    /// and cuts a torn tail off so appends continue from the last good record.
    pub fn open(path: &Path, fsync: bool) -> Result<(RegistryLog, Vec<LogRecord>)> {
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| Error::io(path, "open", e))?;
        lock_exclusive(&file, path)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .map_err(|e| Error::io(path, "read", e))?;
        let recovered = recover(path, &bytes)?;
        // The largest, not the last: replay skips any seq at or below the
        // largest applied, so a new record must be above all of them.
        let last_seq = recovered.records.iter().map(|r| r.seq).max().unwrap_or(0);
        let mut log = RegistryLog {
            path: path.to_path_buf(),
            file,
            len: recovered.valid_len,
            last_seq,
            unsynced: 0,
            fsync,
            poisoned: false,
            frame: Vec::new(),
        };
        if recovered.torn_tail > 0 {
            log.file
                .set_len(recovered.valid_len)
                .map_err(|e| Error::io(path, "truncate the torn tail of", e))?;
            log.sync_now()?;
        }
        Ok((log, recovered.records))
    }

    /// Opens and locks the log for a new run. Without `replace`, a log that
    /// already holds bytes is refused with [`ErrorKind::OutputInUse`] (checked
    /// under the lock, so two runs starting together cannot both succeed).
    /// The old content is not touched yet: the caller removes the JSON first
    /// and then calls [`RegistryLog::clear`], so that no crash in between can
    /// bring the old registry back through its JSON.
    pub fn create(path: &Path, fsync: bool, replace: bool) -> Result<RegistryLog> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| Error::io(path, "create", e))?;
        lock_exclusive(&file, path)?;
        let existing = file
            .metadata()
            .map_err(|e| Error::io(path, "stat", e))?
            .len();
        if existing > 0 && !replace {
            return Err(ErrorKind::OutputInUse {
                path: path.parent().unwrap_or(path).to_path_buf(),
            }
            .into());
        }
        Ok(RegistryLog {
            path: path.to_path_buf(),
            file,
            len: existing,
            last_seq: 0,
            unsynced: 0,
            fsync,
            // Until `clear`: appending after unread old content would make
            // garbage in the middle.
            poisoned: existing > 0,
            frame: Vec::new(),
        })
    }

    /// Empties the log and makes that durable.
    pub fn clear(&mut self) -> Result<()> {
        self.file
            .set_len(0)
            .map_err(|e| Error::io(&self.path, "truncate", e))?;
        self.len = 0;
        self.last_seq = 0;
        self.poisoned = false;
        self.sync_now()
    }

    /// Sequence number of the last record (0 when the log is empty).
    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }

    /// Records appended and not yet synced.
    pub fn unsynced(&self) -> usize {
        self.unsynced
    }

    /// Appends one record with the next sequence number and returns that
    /// number. Not synced: see [`RegistryLog::sync`].
    pub fn append(&mut self, record_type: u8, payload: &[u8]) -> Result<u64> {
        self.check_usable()?;
        let seq = self.last_seq + 1;
        self.frame.clear();
        encode_record(record_type, seq, payload, &mut self.frame);
        if let Err(e) = self.file.write_all_at(&self.frame, self.len) {
            // Cut off whatever part was written, so a later reader does not
            // find garbage in the middle; and stop: the disk is in trouble.
            let _ = self.file.set_len(self.len);
            self.poisoned = true;
            return Err(Error::io(&self.path, "append to", e));
        }
        self.len += self.frame.len() as u64;
        self.last_seq = seq;
        self.unsynced += 1;
        Ok(seq)
    }

    /// Makes every appended record durable (no-op when fsync is off or
    /// nothing is pending). A failure poisons the log.
    pub fn sync(&mut self) -> Result<()> {
        if self.unsynced == 0 {
            return Ok(());
        }
        self.sync_now()
    }

    fn sync_now(&mut self) -> Result<()> {
        self.check_usable()?;
        if self.fsync
            && let Err(e) = self.file.sync_data()
        {
            self.poisoned = true;
            return Err(Error::sync(&self.path, e));
        }
        self.unsynced = 0;
        Ok(())
    }

    fn check_usable(&self) -> Result<()> {
        if self.poisoned {
            return Err(Error::io(
                &self.path,
                "append to",
                io::Error::other("an earlier write or sync of the registry log failed"),
            ));
        }
        Ok(())
    }
}

/// Takes an exclusive, non-blocking `flock` on the log, held until the file
/// is closed.
fn lock_exclusive(file: &File, path: &Path) -> Result<()> {
    // SAFETY: `flock` only reads its integer arguments; the descriptor is
    // valid for the duration of the call because `file` is borrowed.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc == 0 {
        return Ok(());
    }
    let error = io::Error::last_os_error();
    if error.kind() == io::ErrorKind::WouldBlock {
        return Err(Error::io(
            path,
            "lock (another sweep-pipeline process is using this output folder)",
            error,
        ));
    }
    Err(Error::io(path, "lock", error))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log_image(payloads: &[&[u8]]) -> (Vec<u8>, Vec<usize>) {
        let mut bytes = Vec::new();
        let mut offsets = Vec::new();
        for (i, payload) in payloads.iter().enumerate() {
            offsets.push(bytes.len());
            encode_record(1, i as u64 + 1, payload, &mut bytes);
        }
        (bytes, offsets)
    }

    #[test]
    fn mask_matches_leveldb() {
        // LevelDB: Mask(crc) = ((crc >> 15) | (crc << 17)) + kMaskDelta,
        // worked out by hand for this value.
        assert_eq!(mask(0x1234_5678), 0x4f73_0f40);
        // The CRC is Castagnoli's (the standard check value).
        assert_eq!(crc32c::crc32c(b"123456789"), 0xe306_9283);
    }

    #[test]
    fn records_round_trip() {
        let (bytes, offsets) = log_image(&[b"one", b"", b"three"]);
        let recovered = recover(Path::new("log"), &bytes).unwrap();
        assert_eq!(recovered.valid_len, bytes.len() as u64);
        assert_eq!(recovered.torn_tail, 0);
        let seen: Vec<_> = recovered
            .records
            .iter()
            .map(|r| (r.offset as usize, r.seq, r.payload.as_slice()))
            .collect();
        assert_eq!(
            seen,
            vec![
                (offsets[0], 1, &b"one"[..]),
                (offsets[1], 2, &b""[..]),
                (offsets[2], 3, &b"three"[..])
            ]
        );
    }

    #[test]
    fn every_cut_inside_the_last_record_is_a_torn_tail() {
        let (bytes, offsets) = log_image(&[b"first", b"second", b"third record"]);
        for cut in offsets[2]..bytes.len() {
            let recovered = recover(Path::new("log"), &bytes[..cut]).unwrap();
            assert_eq!(recovered.records.len(), 2, "cut at {cut}");
            assert_eq!(recovered.valid_len, offsets[2] as u64);
            assert_eq!(recovered.torn_tail, (cut - offsets[2]) as u64);
        }
    }

    #[test]
    fn a_damaged_last_record_is_a_torn_tail() {
        let (mut bytes, offsets) = log_image(&[b"first", b"second"]);
        let last = bytes.len() - 1;
        bytes[last] ^= 0x40;
        let recovered = recover(Path::new("log"), &bytes).unwrap();
        assert_eq!(recovered.records.len(), 1);
        assert_eq!(recovered.valid_len, offsets[1] as u64);
    }

    #[test]
    fn any_flipped_byte_in_a_middle_record_is_corruption() {
        let (bytes, offsets) = log_image(&[b"first", b"second", b"third"]);
        for position in offsets[1]..offsets[2] {
            let mut damaged = bytes.clone();
            damaged[position] ^= 0x01;
            let error = recover(Path::new("log"), &damaged).unwrap_err();
            let message = error.to_string();
            assert!(
                matches!(error.kind(), ErrorKind::RegistryCorrupt { .. }),
                "byte {position}: {message}"
            );
            assert!(
                message.contains(&format!("record 2 at byte offset {}", offsets[1])),
                "byte {position}: {message}"
            );
        }
    }

    #[test]
    fn an_unknown_record_type_with_a_good_checksum_is_refused() {
        let mut bytes = Vec::new();
        encode_record(7, 1, b"future", &mut bytes);
        let error = recover(Path::new("log"), &bytes).unwrap_err().to_string();
        assert!(error.contains("unknown record type 7"), "{error}");
    }

    #[test]
    fn zero_filled_tail_is_a_torn_tail() {
        // What a file extended by a crash without its data can look like.
        let (mut bytes, _) = log_image(&[b"first"]);
        let good = bytes.len();
        bytes.extend_from_slice(&[0u8; 100]);
        let recovered = recover(Path::new("log"), &bytes).unwrap();
        assert_eq!(recovered.valid_len, good as u64);
        assert_eq!(recovered.torn_tail, 100);
    }
}
