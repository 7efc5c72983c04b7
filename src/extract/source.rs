//! Reading an input file as a sequence of numbered chunks of whole lines.
//!
//! Two strategies produce the same chunks' contents:
//!
//! - **Mapped windows** (regular files): the file is memory-mapped one window
//!   at a time. A window is cut back to its last newline; the partial line
//!   after it starts the next window. Chunks hold an `Arc` of their window,
//!   so a window is unmapped as soon as the last worker is done with it:
//!   together with the bounded queues downstream, this is what keeps peak
//!   RSS (mapped pages included) at a few windows, whatever the file size.
//!   Windows start on 2 MiB boundaries of the file and ask for huge pages
//!   ([`map_range`]), so that the kernel can map the input 2 MiB at a time.
//! - **Plain reads** (pipes, FIFOs, anything that cannot be mapped): blocks
//!   are read into owned buffers, carrying the partial last line over.
//!
//! Chunk boundaries differ between the two, and with the chunk size; the
//! extractor's output does not, because rows are routed in sequence order.

use std::fs::File;
use std::io::Read;
use std::ops::{Deref, Range};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use memmap2::{Advice, Mmap, MmapOptions};

use crate::error::{Error, ErrorKind, Result};
use crate::format::{UTF8_BOM, chunk_boundaries};

/// The bytes behind a chunk: a mapped window or an owned block.
pub enum Backing {
    /// A read-only mapping of part of the file.
    Mapped(Mmap),
    /// Bytes read with `read()`.
    Owned(Vec<u8>),
}

impl Deref for Backing {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            Backing::Mapped(map) => map,
            Backing::Owned(bytes) => bytes,
        }
    }
}

/// A unit of work: whole lines of the input, numbered in file order.
pub struct Chunk {
    /// Position of the chunk in the file; 0, 1, 2, ... without gaps.
    pub seq: u64,
    backing: Arc<Backing>,
    range: Range<usize>,
}

impl Chunk {
    /// The chunk's bytes: whole lines, each with its terminator except
    /// possibly the file's last.
    pub fn bytes(&self) -> &[u8] {
        &self.backing[self.range.clone()]
    }

    /// Chunk `seq` of `bytes`, whole lines (for tests).
    #[cfg(test)]
    pub(crate) fn from_bytes(seq: u64, bytes: Vec<u8>) -> Chunk {
        let range = 0..bytes.len();
        Chunk {
            seq,
            backing: Arc::new(Backing::Owned(bytes)),
            range,
        }
    }
}

/// How the extractor reads its input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadStrategy {
    /// Map regular files, read everything else.
    Auto,
    /// Always use `read()` (tests compare this with the mapped path).
    Read,
}

/// Bytes mapped or read at a time. A window holds many chunks; a few windows
/// are alive at once, which bounds resident memory.
pub const DEFAULT_WINDOW_BYTES: usize = 32 << 20;

/// The header line (with its terminator, BOM removed) and how to read the
/// rest.
pub struct OpenedInput {
    /// The file's path, for messages.
    pub path: PathBuf,
    /// The header line as written, BOM removed, terminator kept (or `\n`
    /// added when the file is only a header without one).
    pub header_line: Vec<u8>,
    /// Total size when known (regular files), for progress.
    pub size: Option<u64>,
    /// Bytes the header line takes in the file, BOM included.
    pub header_bytes_in_file: u64,
    /// Average length of the first rows (up to about 1 MiB of them), to turn
    /// a chunk size in rows into bytes.
    pub average_line_len: usize,
    body: Body,
}

enum Body {
    Mapped {
        file: File,
        /// Offset of the first byte after the header.
        start: u64,
        len: u64,
    },
    Read {
        reader: Box<dyn Read + Send>,
        /// Bytes already read past the header.
        carry: Vec<u8>,
        eof: bool,
    },
}

impl OpenedInput {
    /// Opens `path` and reads its header line.
    pub fn open(path: &Path, strategy: ReadStrategy) -> Result<OpenedInput> {
        let file = File::open(path).map_err(|e| Error::io(path, "open", e))?;
        let metadata = file.metadata().map_err(|e| Error::io(path, "stat", e))?;
        if strategy == ReadStrategy::Auto && metadata.is_file() {
            // Some files cannot be mapped (empty ones, ENODEV on special
            // file systems); reading them works, so fall through to reads.
            if let Ok(first) = map_range(&file, 0, metadata.len().min(1 << 20) as usize) {
                let header_end = header_end(&first, metadata.len())
                    .ok_or_else(|| header_problem(path, &first, metadata.len()))?;
                let header_line = header_line(&first[..header_end]);
                return Ok(OpenedInput {
                    path: path.to_path_buf(),
                    header_line,
                    size: Some(metadata.len()),
                    header_bytes_in_file: header_end as u64,
                    average_line_len: average_line_len(&first[header_end..]),
                    body: Body::Mapped {
                        file,
                        start: header_end as u64,
                        len: metadata.len(),
                    },
                });
            }
        }
        let size = metadata.is_file().then_some(metadata.len());
        Self::from_reader(path, Box::new(file), size)
    }

    /// Reads from any reader (a pipe, a FIFO, a file opened elsewhere).
    pub fn from_reader(
        path: &Path,
        mut reader: Box<dyn Read + Send>,
        size: Option<u64>,
    ) -> Result<OpenedInput> {
        let mut carry = Vec::with_capacity(64 << 10);
        let mut eof = false;
        let mut scanned = 0;
        let header_end = loop {
            if let Some(at) = memchr::memchr(b'\n', &carry[scanned..]) {
                break scanned + at + 1;
            }
            scanned = carry.len();
            if eof {
                if carry.is_empty() {
                    return Err(ErrorKind::EmptyInput {
                        path: path.to_path_buf(),
                    }
                    .into());
                }
                break carry.len();
            }
            eof =
                fill(&mut reader, &mut carry, 64 << 10).map_err(|e| Error::io(path, "read", e))?;
        };
        let header_line = header_line(&carry[..header_end]);
        carry.drain(..header_end);
        Ok(OpenedInput {
            path: path.to_path_buf(),
            header_line,
            size,
            header_bytes_in_file: header_end as u64,
            average_line_len: average_line_len(&carry),
            body: Body::Read { reader, carry, eof },
        })
    }

    /// True when the body is memory-mapped.
    pub fn is_mapped(&self) -> bool {
        matches!(self.body, Body::Mapped { .. })
    }

    /// Produces every chunk of the body in order, calling `emit` for each;
    /// stops early when `emit` returns `false`. `chunk_target` is the chunk
    /// size in bytes; `window` the mapping or read size.
    pub fn for_each_chunk(
        self,
        chunk_target: usize,
        window: usize,
        mut emit: impl FnMut(Chunk) -> bool,
    ) -> Result<()> {
        let path = self.path;
        let mut seq = 0u64;
        // Chunks cover `backing[skip..usable]`.
        let mut emit_all = |backing: Backing, skip: usize, usable: usize| -> bool {
            let backing = Arc::new(backing);
            let mut start = skip;
            for end in chunk_boundaries(&backing[skip..usable], chunk_target) {
                let end = skip + end;
                let chunk = Chunk {
                    seq,
                    backing: Arc::clone(&backing),
                    range: start..end,
                };
                seq += 1;
                start = end;
                if !emit(chunk) {
                    return false;
                }
            }
            true
        };
        match self.body {
            Body::Mapped { file, start, len } => {
                let mut pos = start;
                let mut window = window.max(1);
                while pos < len {
                    // A window of at least the huge-page size starts on
                    // such a boundary, before `pos`: the bytes it skips,
                    // already routed, are mapped again but never read.
                    // (Smaller windows, which only the tests use, start at
                    // `pos`: they could not reach past the skipped bytes.)
                    let map_start = if window as u64 >= HUGE_PAGE_BYTES {
                        pos - pos % HUGE_PAGE_BYTES
                    } else {
                        pos
                    };
                    let skip = (pos - map_start) as usize;
                    let want = (len - map_start).min(window as u64) as usize;
                    let map = map_range(&file, map_start, want)
                        .map_err(|e| Error::io(&path, "mmap", e))?;
                    let at_eof = map_start + want as u64 == len;
                    let usable = if at_eof {
                        want
                    } else {
                        match memchr::memrchr(b'\n', &map[skip..]) {
                            Some(last) => skip + last + 1,
                            None => {
                                // A line longer than the window: widen it.
                                window = window.saturating_mul(2);
                                continue;
                            }
                        }
                    };
                    if !emit_all(Backing::Mapped(map), skip, usable) {
                        return Ok(());
                    }
                    pos = map_start + usable as u64;
                }
            }
            Body::Read {
                mut reader,
                mut carry,
                mut eof,
            } => loop {
                while !eof && carry.len() < window {
                    eof = fill(&mut reader, &mut carry, window)
                        .map_err(|e| Error::io(&path, "read", e))?;
                }
                if carry.is_empty() {
                    break;
                }
                let usable = if eof {
                    carry.len()
                } else {
                    match memchr::memrchr(b'\n', &carry) {
                        Some(last) => last + 1,
                        None => {
                            // A line longer than the window: read more.
                            let grow = carry.len().saturating_mul(2);
                            eof = fill(&mut reader, &mut carry, grow)
                                .map_err(|e| Error::io(&path, "read", e))?;
                            continue;
                        }
                    }
                };
                let rest = carry[usable..].to_vec();
                let mut block = std::mem::replace(&mut carry, rest);
                block.truncate(usable);
                if !emit_all(Backing::Owned(block), 0, usable) {
                    return Ok(());
                }
                if eof && carry.is_empty() {
                    break;
                }
            },
        }
        Ok(())
    }
}

/// Reads until `buf` holds `target` bytes or the reader ends; returns true
/// at end of input.
fn fill(reader: &mut dyn Read, buf: &mut Vec<u8>, target: usize) -> std::io::Result<bool> {
    let mut block = [0u8; 64 << 10];
    while buf.len() < target {
        match reader.read(&mut block) {
            Ok(0) => return Ok(true),
            Ok(n) => buf.extend_from_slice(&block[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(false)
}

/// Maps `len` bytes of `file` from `offset`. The offset need not be
/// page-aligned: memmap2 maps from the page below and hands back a view that
/// starts exactly at `offset`.
fn map_range(file: &File, offset: u64, len: usize) -> std::io::Result<Mmap> {
    if len == 0 {
        return Err(std::io::Error::other("nothing to map"));
    }
    // SAFETY: the mapping is read-only and private to this process. The
    // input must not be truncated or rewritten while the extractor runs; if
    // another process truncates it, touching the vanished pages raises
    // SIGBUS, the contract every mmap-based reader (ripgrep included)
    // documents. No reference outlives the mapping: the `Arc<Backing>` keeps
    // it alive for every chunk that borrows from it.
    let map = unsafe { MmapOptions::new().offset(offset).len(len).map(file)? };
    // Sequential access lets the kernel read ahead aggressively.
    let _ = map.advise(Advice::Sequential);
    // Huge pages: input not yet in the page cache is then read ahead in
    // 2 MiB folios, and a 2 MiB folio, read so or written so, is mapped by
    // one page-table entry on its first touch, where 4 KiB pages fault in
    // 64 KiB at a time and are unmapped one by one. Both are advice: where
    // the kernel or the file system cannot, nothing changes.
    //
    // Measured on the 3 GB set (BENCHMARKS.md, tenth session): read
    // cold, 3.40–3.49 s without the advice, 2.65–2.84 s with it (system
    // CPU 1.9 against 1.1 s); from a page cache in 2 MiB folios,
    // 1.76–1.85 s against 2.01–2.02 s from one in 512 KiB folios.
    #[cfg(target_os = "linux")]
    let _ = map.advise(Advice::HugePage);
    Ok(map)
}

/// The huge-page size that window starts are aligned to: a window that
/// started inside a 2 MiB stretch of the file could map that stretch
/// only 4 KiB at a time.
const HUGE_PAGE_BYTES: u64 = 2 << 20;

/// Bytes per line in a sample; a sample without a newline counts as one
/// line.
fn average_line_len(sample: &[u8]) -> usize {
    let lines = memchr::memchr_iter(b'\n', sample).count().max(1);
    (sample.len() / lines).max(1)
}

/// End of the header line (just past its `\n`) within the first bytes of a
/// file of `file_len` bytes, or the whole file when it is a single line
/// without a terminator.
fn header_end(first: &[u8], file_len: u64) -> Option<usize> {
    match memchr::memchr(b'\n', first) {
        Some(at) => Some(at + 1),
        None if !first.is_empty() && first.len() as u64 == file_len => Some(first.len()),
        None => None,
    }
}

fn header_problem(path: &Path, first: &[u8], len: u64) -> Error {
    if first.is_empty() || len == 0 {
        ErrorKind::EmptyInput {
            path: path.to_path_buf(),
        }
        .into()
    } else {
        ErrorKind::BadHeader {
            path: path.to_path_buf(),
            reason: "the header line is longer than 1 MiB".into(),
        }
        .into()
    }
}

/// The header as partition files start with it: BOM removed, terminator
/// kept, `\n` added if the file had none.
fn header_line(raw: &[u8]) -> Vec<u8> {
    let mut line = raw.strip_prefix(UTF8_BOM).unwrap_or(raw).to_vec();
    if line.last() != Some(&b'\n') {
        line.push(b'\n');
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every chunk's bytes, in order, checking their sequence numbers.
    fn chunks_of(input: OpenedInput, chunk_target: usize, window: usize) -> Vec<Vec<u8>> {
        let mut chunks = Vec::new();
        input
            .for_each_chunk(chunk_target, window, |chunk| {
                assert_eq!(chunk.seq, chunks.len() as u64, "sequence numbers");
                chunks.push(chunk.bytes().to_vec());
                true
            })
            .expect("chunks");
        chunks
    }

    #[test]
    fn windows_on_huge_page_boundaries_cover_the_body_exactly_once() {
        // About 7 MiB of lines of many lengths, one of them longer than a
        // 2 MiB window, so that windows start inside lines, past the
        // header, and must widen: every byte of the body must come out
        // once, in order, in chunks of whole lines, for the mapped path
        // with windows of the huge-page size and larger, and for reads.
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("input.csv");
        let mut body = Vec::new();
        let mut random = crate::test_support::xorshift(0x9e37_79b9_7f4a_7c15);
        let mut line = 0u64;
        while body.len() < 7 << 20 {
            let len = if line == 30_000 {
                (5 << 20) / 2
            } else {
                (random() % 120) as usize
            };
            body.extend(std::iter::repeat_n(b'a' + (line % 26) as u8, len));
            body.push(b'\n');
            line += 1;
        }
        body.extend_from_slice(b"last line without a newline");
        let header = b"date,security_code\n";
        std::fs::write(&path, [&header[..], &body].concat()).expect("write");

        for window in [2 << 20, 3 << 20, 32 << 20] {
            for chunk_target in [1, 4096, 1 << 20] {
                let input = OpenedInput::open(&path, ReadStrategy::Auto).expect("open");
                assert!(input.is_mapped());
                assert_eq!(input.header_line, header);
                let chunks = chunks_of(input, chunk_target, window);
                for chunk in &chunks[..chunks.len() - 1] {
                    assert_eq!(chunk.last(), Some(&b'\n'), "window {window}");
                }
                assert!(
                    chunks.concat() == body,
                    "window {window}, chunks of {chunk_target}: the body differs"
                );
            }
        }
        let read = OpenedInput::open(&path, ReadStrategy::Read).expect("open");
        assert!(chunks_of(read, 1 << 20, 2 << 20).concat() == body);
    }
}
