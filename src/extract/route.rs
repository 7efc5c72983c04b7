//! The worker's job: validate every line of a chunk and group its rows by
//! partition.
//!
//! A [`RowRouter`] is owned by one worker thread and reused chunk after
//! chunk, so its scratch space (the field spans, the key→group maps) is
//! allocated once. For each chunk it produces a [`RoutedChunk`]: for every
//! partition that appears in the chunk, where that partition's rows lie in
//! the chunk, in input order, plus the rejected lines. Rows are not copied
//! here: the writer thread copies them once, from the chunk into the
//! partition's buffer, applying chunks in sequence order, which is what
//! makes the output independent of the number of workers and of chunk size.
//!
//! The hot path reads each byte of a valid row about once: one pass sorts
//! the line's bytes into classes ([`LineClasses`]), the columns other than
//! the key are checked by those masks ([`Layout::check_classified`]), and
//! the key is found by its raw bytes in a map of keys already seen in this
//! chunk, so a date and code are parsed and validated once per chunk, not
//! once per row. Anything unusual (a quote, a wrong field count, an invalid
//! field, a line over 127 bytes) takes the full check of
//! [`Layout::parse_key`], which also names the reason.

use std::ops::Range;

use rustc_hash::FxHashMap;

use crate::format::classify::LineClasses;
use crate::format::{
    Column, FieldBuf, KeySpans, Layout, RejectReason, is_blank, strip_terminator, values,
};
use crate::partition::PartitionKey;

use super::source::Chunk;

/// How many ranges ahead [`PartitionRows::append_to`] prefetches.
const PREFETCH_AHEAD: usize = 4;

/// The rows of one partition within one chunk, in input order.
pub struct PartitionRows {
    /// The partition.
    pub key: PartitionKey,
    /// Where the rows lie in the chunk, terminators included; consecutive
    /// rows of the partition share one range.
    pub ranges: Vec<Range<usize>>,
    /// How many rows the ranges hold.
    pub rows: u64,
}

impl PartitionRows {
    /// Appends the rows, verbatim, to `out`, each ending in a line
    /// terminator: the file's last line may lack one, and the next run's
    /// rows (or nothing) follow it in the partition file.
    pub fn append_to(&self, chunk: &[u8], out: &mut Vec<u8>) {
        // The rows of one partition are scattered over a chunk that another
        // core validated, so each copy would wait on a cache miss; asking
        // for the row a few ranges ahead overlaps those waits (a quarter
        // less time in the copies, measured with perf on 3 GB).
        for (i, range) in self.ranges.iter().enumerate() {
            if let Some(ahead) = self.ranges.get(i + PREFETCH_AHEAD) {
                #[cfg(target_arch = "x86_64")]
                // SAFETY: SSE is in the x86_64 baseline; a prefetch is a
                // hint that never faults, and the pointer is in `chunk`.
                unsafe {
                    std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                        chunk[ahead.start..].as_ptr().cast(),
                    )
                };
            }
            let rows = &chunk[range.clone()];
            out.extend_from_slice(rows);
            if rows.last() != Some(&b'\n') {
                out.push(b'\n');
            }
        }
    }

    /// How many bytes [`PartitionRows::append_to`] appends.
    pub fn byte_len(&self, chunk: &[u8]) -> usize {
        let bytes: usize = self.ranges.iter().map(Range::len).sum();
        let last_terminated = self
            .ranges
            .last()
            .is_none_or(|last| chunk[last.clone()].last() == Some(&b'\n'));
        bytes + usize::from(!last_terminated)
    }

    /// The rows as one slice of the chunk, when they are one run of whole
    /// lines: the writer can then write them without copying.
    pub fn as_one_slice<'c>(&self, chunk: &'c [u8]) -> Option<&'c [u8]> {
        match self.ranges.as_slice() {
            [range] => Some(&chunk[range.clone()]).filter(|rows| rows.last() == Some(&b'\n')),
            _ => None,
        }
    }
}

/// A line the format rejected.
pub struct RejectedLine {
    /// 0-based index of the line within its chunk; the writer turns it into
    /// a file line number once the lines of earlier chunks are counted.
    pub line_in_chunk: u64,
    /// Why.
    pub reason: RejectReason,
    /// The line, without its terminator.
    pub raw: Vec<u8>,
}

/// One chunk, routed.
pub struct RoutedChunk {
    /// The chunk's sequence number.
    pub seq: u64,
    /// Lines in the chunk, blank and rejected included.
    pub lines: u64,
    /// Bytes of input the chunk covered.
    pub input_bytes: u64,
    /// Rows per partition, in order of first appearance.
    pub groups: Vec<PartitionRows>,
    /// Rejected lines, in input order.
    pub rejected: Vec<RejectedLine>,
}

/// A key as its raw bytes: the date and code fields exactly as written. Two
/// rows with equal raw keys have the same partition; two raw keys may name
/// the same partition (a date written both ways).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct RawKey {
    date: ShortField,
    security_code: ShortField,
}

/// A field of at most 16 bytes as two words, zero past its end: compared
/// and hashed in a few instructions, where a slice costs a `memcmp`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct ShortField {
    words: [u64; 2],
    len: u8,
}

impl ShortField {
    /// `buf[range]`, or `None` when it is longer than 16 bytes. Reads the
    /// 16 bytes from the field's start when the buffer has them and masks
    /// off the tail, which saves a copy for every field not at the end.
    fn load(buf: &[u8], range: Range<usize>) -> Option<ShortField> {
        let len = range.len();
        if len > 16 {
            return None;
        }
        let mut bytes = [0u8; 16];
        match buf.get(range.start..range.start + 16) {
            Some(window) => bytes.copy_from_slice(window),
            None => bytes[..len].copy_from_slice(buf.get(range)?),
        }
        let (lo, hi) = bytes.split_at(8);
        let word = |half: &[u8], lanes: usize| {
            let mut array = [0u8; 8];
            array.copy_from_slice(half);
            let keep = if lanes >= 8 {
                u64::MAX
            } else {
                (1u64 << (8 * lanes)) - 1
            };
            u64::from_le_bytes(array) & keep
        };
        Some(ShortField {
            words: [word(lo, len), word(hi, len.saturating_sub(8))],
            len: len as u8,
        })
    }
}

/// Partition → group index for the chunk being routed.
#[derive(Default)]
struct Groups {
    /// Fx, not SipHash: keys come from the input, but a collision flood
    /// could only slow one chunk's grouping, never change its result.
    by_raw: FxHashMap<RawKey, usize>,
    by_key: FxHashMap<PartitionKey, usize>,
    /// Exchange dumps often hold runs of one security; remembering the
    /// last raw key skips the lookup for those.
    last: Option<(RawKey, usize)>,
}

impl Groups {
    fn clear(&mut self) {
        self.by_raw.clear();
        self.by_key.clear();
        self.last = None;
    }

    /// The group of a validated key, created at the end of `groups` when new.
    fn of_key(&mut self, key: PartitionKey, groups: &mut Vec<PartitionRows>) -> usize {
        *self.by_key.entry(key).or_insert_with(|| {
            groups.push(PartitionRows {
                key,
                ranges: Vec::new(),
                rows: 0,
            });
            groups.len() - 1
        })
    }

    /// The group of a row whose other columns passed, by the raw bytes of
    /// its key (spans relative to the line at `chunk[line_start]`); a key
    /// not seen before in this chunk is validated first.
    /// `None` when the key is invalid or too long for a [`RawKey`].
    fn of_raw(
        &mut self,
        (chunk, line_start): (&[u8], usize),
        spans: KeySpans,
        groups: &mut Vec<PartitionRows>,
    ) -> Option<usize> {
        let in_chunk = |span: &Range<usize>| line_start + span.start..line_start + span.end;
        let raw = RawKey {
            date: ShortField::load(chunk, in_chunk(&spans.date))?,
            security_code: ShortField::load(chunk, in_chunk(&spans.security_code))?,
        };
        let line = &chunk[line_start..];
        if let Some((last, group)) = self.last
            && last == raw
        {
            return Some(group);
        }
        let group = match self.by_raw.get(&raw) {
            Some(&group) => group,
            None => {
                let date = values::parse_date(&line[spans.date])?;
                let key = PartitionKey::new(date, &line[spans.security_code])?;
                let group = self.of_key(key, groups);
                self.by_raw.insert(raw, group);
                group
            }
        };
        self.last = Some((raw, group));
        Some(group)
    }
}

/// Validates and groups the rows of chunks. One per worker thread.
pub struct RowRouter<'a> {
    layout: &'a Layout,
    fields: FieldBuf,
    groups: Groups,
}

impl<'a> RowRouter<'a> {
    /// A router for rows of `layout`.
    pub fn new(layout: &'a Layout) -> RowRouter<'a> {
        RowRouter {
            layout,
            fields: FieldBuf::default(),
            groups: Groups::default(),
        }
    }

    /// Routes every line of `chunk`.
    pub fn route(&mut self, chunk: &Chunk) -> RoutedChunk {
        self.route_bytes(chunk.seq, chunk.bytes())
    }

    /// Routes every line of `bytes`, whole lines of an input's body, as
    /// chunk `seq`. The ranges of the result index into `bytes`.
    pub fn route_bytes(&mut self, seq: u64, bytes: &[u8]) -> RoutedChunk {
        let mut routed = RoutedChunk {
            seq,
            lines: 0,
            input_bytes: bytes.len() as u64,
            groups: Vec::new(),
            rejected: Vec::new(),
        };
        self.groups.clear();
        let mut start = 0;
        while start < bytes.len() {
            let line_start = start;
            let classes = LineClasses::of_line(bytes, line_start);
            let content = match &classes {
                Some(classes) => {
                    start = line_start + classes.next;
                    &bytes[line_start..line_start + classes.len]
                }
                None => {
                    start = match memchr::memchr(b'\n', &bytes[line_start..]) {
                        Some(at) => line_start + at + 1,
                        None => bytes.len(),
                    };
                    strip_terminator(&bytes[line_start..start])
                }
            };
            let line_in_chunk = routed.lines;
            routed.lines += 1;
            if is_blank(content) {
                continue;
            }
            let fast = classes
                .as_ref()
                .and_then(|classes| match classes.narrow::<u64>() {
                    Some(short) => self.layout.check_classified(content, &short),
                    None => self.layout.check_classified(content, classes),
                })
                .and_then(|spans| {
                    self.groups
                        .of_raw((bytes, line_start), spans, &mut routed.groups)
                });
            let group = match fast {
                Some(group) => group,
                None => match self.full_check(content) {
                    Ok(key) => self.groups.of_key(key, &mut routed.groups),
                    Err(reason) => {
                        routed.rejected.push(RejectedLine {
                            line_in_chunk,
                            reason,
                            raw: content.to_vec(),
                        });
                        continue;
                    }
                },
            };
            let rows = &mut routed.groups[group];
            match rows.ranges.last_mut() {
                Some(previous) if previous.end == line_start => previous.end = start,
                _ => rows.ranges.push(line_start..start),
            }
            rows.rows += 1;
        }
        routed
    }

    /// The key of a line by the full check, or why it is rejected.
    fn full_check(&mut self, line: &[u8]) -> Result<PartitionKey, RejectReason> {
        // The layout validated the code, so `PartitionKey::new` accepts it;
        // were they ever to disagree, the row is rejected, not lost.
        self.layout
            .parse_key(line, &mut self.fields)
            .and_then(|row| {
                PartitionKey::new(row.date, row.security_code)
                    .ok_or(RejectReason::Invalid(Column::SecurityCode))
            })
    }
}
