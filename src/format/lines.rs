//! Lines, and cutting a buffer into chunks of whole lines.
//!
//! A line ends at `\n`; a `\r` just before it belongs to the terminator. The
//! last line may lack a terminator.
//!
//! Chunks are cut on a fixed grid: the boundary for grid point `k` is the
//! start of the first line that begins at or after byte `k·target`. Each
//! boundary therefore depends only on the bytes around its grid point, which
//! is what lets [`chunk_boundaries_parallel`] find them independently and
//! still agree exactly with the sequential [`chunk_boundaries`]; extraction
//! output never depends on where chunks fall, but the agreement is a cheap
//! property to check (and fuzz) that catches off-by-one errors at edges.

/// Removes a trailing `\n` or `\r\n`.
pub fn strip_terminator(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// True for a line to skip: empty, or a lone `\r`.
pub fn is_blank(line: &[u8]) -> bool {
    line.is_empty() || line == b"\r"
}

/// Iterates over the lines of a buffer, numbered from 1, each without its
/// terminator. A buffer ending in `\n` has no empty line after it.
pub fn lines(buf: &[u8]) -> Lines<'_> {
    Lines {
        rest: buf,
        next_number: 1,
    }
}

/// The iterator of [`lines`].
#[derive(Clone, Debug)]
pub struct Lines<'a> {
    rest: &'a [u8],
    next_number: u64,
}

impl<'a> Lines<'a> {
    /// Starts numbering at `first` instead of 1 (for a buffer that begins
    /// mid-file).
    pub fn numbered_from(mut self, first: u64) -> Lines<'a> {
        self.next_number = first;
        self
    }
}

impl<'a> Iterator for Lines<'a> {
    type Item = (u64, &'a [u8]);

    fn next(&mut self) -> Option<(u64, &'a [u8])> {
        if self.rest.is_empty() {
            return None;
        }
        let (line, rest) = match memchr::memchr(b'\n', self.rest) {
            Some(at) => (&self.rest[..at], &self.rest[at + 1..]),
            None => (self.rest, &self.rest[self.rest.len()..]),
        };
        self.rest = rest;
        let number = self.next_number;
        self.next_number += 1;
        Some((number, line.strip_suffix(b"\r").unwrap_or(line)))
    }
}

/// Where the line holding byte `at` ends: the index just past its `\n`, or
/// the end of the buffer.
fn end_of_line_at(buf: &[u8], at: usize) -> usize {
    match memchr::memchr(b'\n', &buf[at..]) {
        Some(offset) => at + offset + 1,
        None => buf.len(),
    }
}

/// The grid boundary for byte offset `grid`: the first line start at or
/// after it (a line starts at 0 or just after a `\n`).
fn boundary_for(buf: &[u8], grid: usize) -> usize {
    if grid == 0 || grid >= buf.len() {
        return grid.min(buf.len());
    }
    if buf[grid - 1] == b'\n' {
        grid
    } else {
        end_of_line_at(buf, grid)
    }
}

/// Cuts `buf` into chunks of whole lines, about `target` bytes each: returns
/// the chunk end offsets, strictly increasing, the last being `buf.len()`.
/// An empty buffer has no chunks. `target` 0 is taken as 1.
pub fn chunk_boundaries(buf: &[u8], target: usize) -> Vec<usize> {
    let target = target.max(1);
    let mut ends = Vec::new();
    let mut start = 0;
    while start < buf.len() {
        // The next grid point strictly after this chunk's start.
        let grid = (start / target + 1).saturating_mul(target);
        // A line start at or after a grid point past `start` lies past it.
        let end = boundary_for(buf, grid);
        ends.push(end);
        start = end;
    }
    ends
}

/// The same boundaries as [`chunk_boundaries`], each grid point resolved on
/// its own by `threads` threads. Exists to test (and fuzz) that the grid
/// really makes boundaries independent of one another.
pub fn chunk_boundaries_parallel(buf: &[u8], target: usize, threads: usize) -> Vec<usize> {
    let target = target.max(1);
    if buf.is_empty() {
        return Vec::new();
    }
    let grid_points = buf.len().div_ceil(target);
    let threads = threads.clamp(1, grid_points);
    let per_thread = grid_points.div_ceil(threads);
    let mut resolved: Vec<usize> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                scope.spawn(move || {
                    let first = 1 + t * per_thread;
                    let last = (first + per_thread).min(grid_points + 1);
                    (first..last)
                        .map(|k| boundary_for(buf, k * target))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|handle| handle.join().unwrap_or_default())
            .collect()
    });
    // Several grid points inside one long line resolve to the same boundary.
    resolved.dedup();
    resolved.retain(|&end| end > 0);
    if resolved.last() != Some(&buf.len()) {
        resolved.push(buf.len());
    }
    resolved
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_strip_terminators_and_number_from_one() {
        let buf = b"a\r\nb\n\nc";
        let got: Vec<_> = lines(buf).collect();
        assert_eq!(
            got,
            vec![
                (1, &b"a"[..]),
                (2, &b"b"[..]),
                (3, &b""[..]),
                (4, &b"c"[..])
            ]
        );
        assert_eq!(lines(b"x\n").count(), 1);
        assert_eq!(lines(b"").count(), 0);
        assert_eq!(lines(b"\n").collect::<Vec<_>>(), vec![(1, &b""[..])]);
    }

    #[test]
    fn chunks_are_whole_lines_and_cover_the_buffer() {
        let buf = b"aaaa\nbb\nccccccccc\nd\ne";
        for target in 0..30 {
            let ends = chunk_boundaries(buf, target);
            assert_eq!(*ends.last().unwrap(), buf.len());
            for &end in &ends[..ends.len() - 1] {
                assert_eq!(buf[end - 1], b'\n', "target {target}");
            }
            for threads in 1..5 {
                assert_eq!(
                    chunk_boundaries_parallel(buf, target, threads),
                    ends,
                    "target {target} threads {threads}"
                );
            }
        }
        assert!(chunk_boundaries(b"", 4).is_empty());
        assert_eq!(chunk_boundaries(b"abc", 1), vec![3]);
    }
}
