//! The worker's job: validate every line of a chunk and group the raw rows by
//! partition.
//!
//! A [`RowRouter`] is owned by one worker thread and reused chunk after
//! chunk, so its scratch space (the field spans, the key→group map) is
//! allocated once. For each chunk it produces a [`RoutedChunk`]: for every
//! partition that appears in the chunk, the chunk's rows of that partition
//! concatenated in input order, plus the rejected lines. The writer thread
//! only has to append those buffers in chunk sequence order, which is what
//! makes the output independent of the number of workers and of chunk size.

use rustc_hash::FxHashMap;

use crate::format::{Column, FieldBuf, Layout, RejectReason, is_blank};
use crate::partition::PartitionKey;

use super::source::Chunk;

/// The rows of one partition within one chunk, in input order, each with a
/// line terminator.
pub struct PartitionRows {
    /// The partition.
    pub key: PartitionKey,
    /// The rows, verbatim.
    pub bytes: Vec<u8>,
    /// How many rows `bytes` holds.
    pub rows: u64,
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

/// Validates and groups the rows of chunks. One per worker thread.
pub struct RowRouter<'a> {
    layout: &'a Layout,
    fields: FieldBuf,
    /// Fx, not SipHash: keys come from the input, but a collision flood
    /// could only slow one chunk's grouping, never change its result.
    group_of: FxHashMap<PartitionKey, usize>,
}

impl<'a> RowRouter<'a> {
    /// A router for rows of `layout`.
    pub fn new(layout: &'a Layout) -> RowRouter<'a> {
        RowRouter {
            layout,
            fields: FieldBuf::default(),
            group_of: FxHashMap::default(),
        }
    }

    /// Routes every line of `chunk`.
    pub fn route(&mut self, chunk: &Chunk) -> RoutedChunk {
        self.route_bytes(chunk.seq, chunk.bytes())
    }

    /// Routes every line of `bytes`, whole lines of an input's body, as
    /// chunk `seq`.
    pub fn route_bytes(&mut self, seq: u64, bytes: &[u8]) -> RoutedChunk {
        let mut routed = RoutedChunk {
            seq,
            lines: 0,
            input_bytes: bytes.len() as u64,
            groups: Vec::new(),
            rejected: Vec::new(),
        };
        self.group_of.clear();
        // Exchange dumps often hold runs of one security; remembering the
        // last group skips the hash lookup for those.
        let mut last: Option<(PartitionKey, usize)> = None;
        let mut start = 0;
        while start < bytes.len() {
            let end = match memchr::memchr(b'\n', &bytes[start..]) {
                Some(at) => start + at + 1,
                None => bytes.len(),
            };
            let with_terminator = &bytes[start..end];
            start = end;
            let line_in_chunk = routed.lines;
            routed.lines += 1;
            let line = crate::format::strip_terminator(with_terminator);
            if is_blank(line) {
                continue;
            }
            // The layout validated the code, so `PartitionKey::new` accepts
            // it; were they ever to disagree, the row is rejected, not lost.
            let key = self
                .layout
                .parse_key(line, &mut self.fields)
                .and_then(|row| {
                    PartitionKey::new(row.date, row.security_code)
                        .ok_or(RejectReason::Invalid(Column::SecurityCode))
                });
            let key = match key {
                Ok(key) => key,
                Err(reason) => {
                    routed.rejected.push(RejectedLine {
                        line_in_chunk,
                        reason,
                        raw: line.to_vec(),
                    });
                    continue;
                }
            };
            let group = match last {
                Some((last_key, group)) if last_key == key => group,
                _ => {
                    let next = routed.groups.len();
                    let group = *self.group_of.entry(key).or_insert(next);
                    if group == next {
                        routed.groups.push(PartitionRows {
                            key,
                            bytes: Vec::new(),
                            rows: 0,
                        });
                    }
                    last = Some((key, group));
                    group
                }
            };
            let rows = &mut routed.groups[group];
            rows.bytes.extend_from_slice(with_terminator);
            if with_terminator.last() != Some(&b'\n') {
                // The file's last line has no terminator; the next run's
                // rows (or nothing) follow it in the partition file.
                rows.bytes.push(b'\n');
            }
            rows.rows += 1;
        }
        routed
    }
}
