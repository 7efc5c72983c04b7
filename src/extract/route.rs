//! The worker's job: validate every line of a chunk and group its rows by
//! partition.
//!
//! A [`RowRouter`] is owned by one worker thread and reused chunk after
//! chunk, so its scratch space (the field spans, the key→group maps, the
//! partitions' tallies, the line records) is allocated once. For each
//! chunk it produces a [`RoutedChunk`]: every partition that appears in
//! the chunk with a copy of its rows, in input order, plus the rejected
//! lines. The writers then hold each partition's rows where they are,
//! applying chunks in sequence order, which is what makes the output
//! independent of the number of workers and of chunk size, and write them
//! out of the routed chunks.
//!
//! Rows are copied here, by the core that has just read them, not by the
//! writer: a writer gathering each row from a chunk another core had
//! validated waited on a cache miss for nearly every row (a fifth of
//! extraction's cycles; 2.11 against 1.71 s for the 3 GB set, in
//! BENCHMARKS.md). Each row is copied once, when the whole chunk has been
//! checked: the router notes every line's length and partition as it
//! goes, so at the chunk's end each partition's place in the routed chunk
//! is known, and the rows are copied in input order straight to their
//! places. (Copying each row into a buffer of its partition as it was
//! checked, then joining the buffers, took a tenth longer end to end.)
//!
//! The hot path reads each byte of a valid row about once: one pass sorts
//! the line's bytes into classes ([`LineClasses`]), the columns other than
//! the key are checked by those masks ([`Layout::check_classified`]), and
//! the key is found by its raw bytes in tables of the keys the worker has
//! already seen ([`RawKeyTables`]), so a date and code are parsed and
//! validated once per worker, not once per row. Anything unusual (a quote,
//! a wrong field count, an invalid field, a line over 127 bytes) takes the
//! full check of [`Layout::parse_key`], which also names the reason.

use std::mem::MaybeUninit;
use std::ops::Range;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use rustc_hash::FxHashMap;

use crate::format::classify::{LineClasses, Mask, Simd};
use crate::format::{
    Column, FieldBuf, KeySpans, Layout, RejectReason, is_blank, strip_terminator, values,
};
use crate::partition::PartitionKey;

use super::source::Chunk;

/// The rows of one partition within one chunk, in input order: a view
/// into a [`RoutedChunk`].
pub struct PartitionRows<'a> {
    /// The partition.
    pub key: PartitionKey,
    /// The rows, verbatim, each ending in a line terminator: the input's
    /// last line may lack one, and the router adds it, because the next
    /// run's rows (or nothing) follow it in the partition file.
    pub bytes: &'a [u8],
    /// How many rows `bytes` holds.
    pub rows: u64,
}

/// One partition's rows of the chunk being routed: how many, and where
/// they go in the routed chunk.
#[derive(Default)]
struct PartitionTally {
    /// Bytes of its rows in the chunk, terminators included.
    bytes: usize,
    rows: u64,
    /// Which part of a routed chunk the partition's rows go to.
    part: usize,
    /// Where its next row goes in the routed chunk's bytes, while they
    /// are placed.
    cursor: usize,
    /// Where its rows end in the routed chunk's bytes.
    end: usize,
}

/// Asks for the cache line of `byte` ready to be written, when there is
/// one. The rows of a chunk are copied to as many places as it has
/// partitions, each a few hundred rows' copies apart, so each row's store
/// missed the cache on the line it spilled into; fetching the line the
/// partition's next row spills into took a tenth off extraction's user
/// CPU (BENCHMARKS.md).
#[inline(always)]
fn prefetch_for_writing(byte: Option<&MaybeUninit<u8>>) {
    #[cfg(target_arch = "x86_64")]
    if let Some(byte) = byte {
        use std::arch::x86_64::{_MM_HINT_ET0, _mm_prefetch};
        // SAFETY: a prefetch only hints; it reads nothing and never
        // faults, and SSE is part of x86_64.
        unsafe { _mm_prefetch::<_MM_HINT_ET0>(byte.as_ptr().cast()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = byte;
}

/// A line of the chunk being routed, in input order: its length and the
/// partition it goes to ([`PlacedLine::SKIPPED`] for a blank or rejected
/// line). Lines follow each other, so their lengths say where each starts.
#[derive(Clone, Copy)]
struct PlacedLine {
    partition: u32,
    len: u32,
}

impl PlacedLine {
    /// Not a partition number: the line is not copied.
    const SKIPPED: u32 = u32::MAX;
    /// The longest line one record holds.
    const MAX_LEN: usize = u32::MAX as usize;

    /// Appends the records of a line of `len` bytes, terminator included,
    /// going to `partition`: one, unless the line is longer than `max_len`
    /// (at most [`PlacedLine::MAX_LEN`]); then several, which are copied
    /// one after another to the same place.
    #[inline(always)]
    fn push(placed: &mut Vec<PlacedLine>, partition: u32, mut len: usize, max_len: usize) {
        debug_assert!(max_len <= PlacedLine::MAX_LEN);
        while len > max_len {
            placed.push(PlacedLine {
                partition,
                len: max_len as u32,
            });
            len -= max_len;
        }
        placed.push(PlacedLine {
            partition,
            len: len as u32,
        });
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

/// One chunk, routed: its rows copied out, partition by partition, so
/// the chunk itself can be released.
///
/// The partitions are split into parts (see [`RowRouter::with_parts`]),
/// one per writer: part `p`'s partitions come before part `p + 1`'s, each
/// part's in order of first appearance in the chunk.
///
/// The default is a chunk of no lines: memory for [`RowRouter::recycle`]
/// to hand out.
#[derive(Default)]
pub struct RoutedChunk {
    /// The chunk's sequence number.
    pub seq: u64,
    /// Lines in the chunk, blank and rejected included.
    pub lines: u64,
    /// Bytes of input the chunk covered.
    pub input_bytes: u64,
    /// The partitions of the chunk, part by part.
    groups: Vec<Group>,
    /// Where each part's groups start in `groups`, and where the last ends.
    part_starts: Vec<usize>,
    /// The rows, grouped by partition: group `g`'s are
    /// `bytes[groups[g].bytes.clone()]`.
    bytes: Vec<u8>,
    /// Rejected lines, in input order.
    pub rejected: Vec<RejectedLine>,
}

/// A partition of a routed chunk.
struct Group {
    key: PartitionKey,
    rows: u64,
    /// Its slice of [`RoutedChunk::bytes`].
    bytes: Range<usize>,
}

impl RoutedChunk {
    /// Every partition's rows, part by part.
    pub fn groups(&self) -> impl ExactSizeIterator<Item = PartitionRows<'_>> {
        self.groups_of(&self.groups)
    }

    /// The partitions of part `part`, each with its row count and where
    /// its rows are in [`RoutedChunk::bytes`].
    pub fn part_ranges(
        &self,
        part: usize,
    ) -> impl ExactSizeIterator<Item = (PartitionKey, u64, Range<usize>)> + '_ {
        let start = self.part_starts.get(part).copied().unwrap_or(0);
        let end = self.part_starts.get(part + 1).copied().unwrap_or(start);
        (self.groups[start..end].iter()).map(|group| (group.key, group.rows, group.bytes.clone()))
    }

    /// Every partition's rows, part by part, joined.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    fn groups_of<'a>(
        &'a self,
        groups: &'a [Group],
    ) -> impl ExactSizeIterator<Item = PartitionRows<'a>> {
        groups.iter().map(|group| PartitionRows {
            key: group.key,
            bytes: &self.bytes[group.bytes.clone()],
            rows: group.rows,
        })
    }
}

/// `KEEP_BYTES[n]` keeps the low `n` bytes of a `u128` (a table: a
/// variable 128-bit shift costs a dozen instructions).
const KEEP_BYTES: [u128; 16] = {
    let mut keep = [0u128; 16];
    let mut len = 1;
    while len < 16 {
        keep[len] = (1u128 << (8 * len)) - 1;
        len += 1;
    }
    keep
};

/// A field of at most 15 bytes as one `u128`: its bytes, zero past its
/// end, and its length in the top byte (so `a` and `a\0` differ, and no
/// packed field is 0). `None` when the field is longer. Reads the 16 bytes
/// from the field's start when the buffer has them, which saves a copy for
/// all but the last row of a chunk.
#[inline(always)]
fn packed_field(buf: &[u8], range: Range<usize>) -> Option<u128> {
    // A range that ends before it starts wraps to a huge length.
    let len = range.end.wrapping_sub(range.start);
    if len > 15 {
        return None;
    }
    let bytes = match buf.get(range.start..range.start + 16) {
        Some(window) => u128::from_le_bytes(window.try_into().ok()?),
        None => {
            let mut padded = [0u8; 16];
            padded[..len].copy_from_slice(buf.get(range)?);
            u128::from_le_bytes(padded)
        }
    };
    Some(bytes & KEEP_BYTES[len] | (len as u128) << 120)
}

/// The field bytes of a [`packed_field`], whose length is its top byte.
fn unpacked_field(packed: &[u8; 16]) -> &[u8] {
    &packed[..usize::from(packed[15]).min(15)]
}

/// Raw key → partition, kept for the router's life. A raw key is the date
/// and code fields exactly as written, each packed by [`packed_field`]:
/// two rows with equal raw keys have the same partition, and two raw keys
/// may name the same partition (a date written both ways).
///
/// Inputs come sorted by date, so the date is nearly always the previous
/// row's: each raw date has its own table of codes, and a row compares its
/// date with the last one's (a branch that is predicted) and probes that
/// date's table with its code alone. A table then holds the codes of one
/// day, not of every day, and stays in the L1 cache: the probe's latency
/// held up every row (a quarter of routing's time in a profile, when one
/// table held every key in 48-byte slots).
struct RawKeyTables {
    /// The raw date of the last lookup ([`CodeTable::FREE`] before the
    /// first).
    current_date: u128,
    /// Its codes, kept out of `others` so that a lookup finds them with no
    /// index to check.
    current: CodeTable,
    /// Every other raw date seen, with its codes: a file whose dates change
    /// on every row costs two map operations a row, not a scan of every
    /// date.
    others: FxHashMap<u128, CodeTable>,
}

impl Default for RawKeyTables {
    fn default() -> RawKeyTables {
        RawKeyTables {
            current_date: CodeTable::FREE,
            current: CodeTable::default(),
            others: FxHashMap::default(),
        }
    }
}

impl RawKeyTables {
    /// The partition of a raw key, if it was seen before.
    #[inline(always)]
    fn get(&mut self, date: u128, code: u128) -> Option<u32> {
        if self.current_date != date {
            self.switch_to(date);
        }
        self.current.get(code)
    }

    /// Makes `date`'s table the current one, added when new.
    #[cold]
    fn switch_to(&mut self, date: u128) {
        let table = self.others.remove(&date).unwrap_or_default();
        let previous = std::mem::replace(&mut self.current, table);
        let previous_date = std::mem::replace(&mut self.current_date, date);
        if previous_date != CodeTable::FREE {
            self.others.insert(previous_date, previous);
        }
    }

    fn insert(&mut self, date: u128, code: u128, partition: u32) {
        if self.current_date != date {
            self.switch_to(date);
        }
        self.current.insert(code, partition);
    }
}

/// Packed code → partition for one raw date: open addressing with linear
/// probing over a power-of-two table at most half full. A lookup is two
/// independent multiplies and (nearly always) one probe of one 32-byte
/// slot, where a general map cost several times that.
struct CodeTable {
    /// A slot whose code is [`CodeTable::FREE`] is free.
    slots: Vec<(u128, u32)>,
    used: usize,
    /// 64 minus log2 of the slot count: a hash's top bits, the best mixed
    /// ones of a multiply, pick the slot.
    shift: u32,
}

impl Default for CodeTable {
    fn default() -> CodeTable {
        CodeTable::with_slots(256)
    }
}

impl CodeTable {
    /// No packed field is 0, so no code is this one.
    const FREE: u128 = 0;

    fn with_slots(count: usize) -> CodeTable {
        debug_assert!(count.is_power_of_two());
        CodeTable {
            slots: vec![(CodeTable::FREE, 0); count],
            used: 0,
            shift: 64 - count.trailing_zeros(),
        }
    }

    /// The slot holding `code`, or the free slot where it belongs.
    #[inline(always)]
    fn slot_of(&self, code: u128) -> usize {
        // Codes differ mostly in a few bytes of the low word; each word
        // gets its own multiply, so neither waits for the other.
        const K_LOW: u64 = 0xf135_7aea_2e62_a9c5;
        const K_HIGH: u64 = 0x9e37_79b9_7f4a_7c15;
        let hash = (code as u64).wrapping_mul(K_LOW) ^ ((code >> 64) as u64).wrapping_mul(K_HIGH);
        let mask = self.slots.len() - 1;
        let mut at = (hash >> self.shift) as usize;
        loop {
            let other = self.slots[at].0;
            if other == code || other == CodeTable::FREE {
                return at;
            }
            at = (at + 1) & mask;
        }
    }

    #[inline(always)]
    fn get(&self, code: u128) -> Option<u32> {
        let (found, partition) = self.slots[self.slot_of(code)];
        (found != CodeTable::FREE).then_some(partition)
    }

    fn insert(&mut self, code: u128, partition: u32) {
        if 2 * (self.used + 1) > self.slots.len() {
            let old = std::mem::replace(self, CodeTable::with_slots(2 * self.slots.len()));
            for (code, partition) in old
                .slots
                .into_iter()
                .filter(|(code, _)| *code != CodeTable::FREE)
            {
                self.insert(code, partition);
            }
        }
        let at = self.slot_of(code);
        if self.slots[at].0 == CodeTable::FREE {
            self.used += 1;
        }
        self.slots[at] = (code, partition);
    }
}

/// Every partition the router has seen, numbered.
#[derive(Default)]
struct Groups {
    /// Partition number → key.
    partitions: Vec<PartitionKey>,
    /// Fx, not SipHash: keys come from the input, but a collision flood
    /// could only slow the grouping, never change its result.
    by_key: FxHashMap<PartitionKey, u32>,
    by_raw: RawKeyTables,
}

impl Groups {
    /// The number of a validated key, added when new.
    fn partition_of(&mut self, key: PartitionKey) -> u32 {
        *self.by_key.entry(key).or_insert_with(|| {
            self.partitions.push(key);
            (self.partitions.len() - 1) as u32
        })
    }

    /// The partition number of a row whose other columns passed, by the
    /// raw bytes of its key (spans relative to the line at
    /// `chunk[line_start]`); a key not seen before is validated first.
    /// `None` when the key is invalid or a field too long for
    /// [`packed_field`].
    #[inline(always)]
    fn of_raw(&mut self, (chunk, line_start): (&[u8], usize), spans: KeySpans) -> Option<u32> {
        let in_chunk = |span: &Range<usize>| line_start + span.start..line_start + span.end;
        let date = packed_field(chunk, in_chunk(&spans.date))?;
        let code = packed_field(chunk, in_chunk(&spans.security_code))?;
        match self.by_raw.get(date, code) {
            Some(partition) => Some(partition),
            None => self.add_raw(date, code),
        }
    }

    /// Validates a raw key seen for the first time and remembers it. The
    /// packed fields hold the bytes to check, so nothing else is kept for
    /// this rare call (keeping the spans cost four stores a row).
    #[cold]
    fn add_raw(&mut self, date: u128, code: u128) -> Option<u32> {
        let (date_bytes, code_bytes) = (date.to_le_bytes(), code.to_le_bytes());
        let parsed_date = values::parse_date(unpacked_field(&date_bytes))?;
        let key = PartitionKey::new(parsed_date, unpacked_field(&code_bytes))?;
        let partition = self.partition_of(key);
        self.by_raw.insert(date, code, partition);
        Some(partition)
    }
}

/// Chooses between AVX2 and AVX-512 classification by routing a worker's
/// first chunks with each in turn and timing them (every chunk is routed
/// once, so the trial costs nothing but the slower level's chunks). The
/// first trial to finish decides for the whole process ([`CHOSEN_SIMD`]).
///
/// Why measure: AVX-512 is not the faster level everywhere. The AMD EPYC
/// (Zen 4) machines our benchmarks run on execute a 512-bit operation as
/// two 256-bit halves, and there AVX2 routing took 11–19 % less user CPU
/// on the 3 GB set end to end; the route bench agrees for orders and
/// favours AVX-512 by 3 % for trades, whose lines are longer. Other CPUs
/// and other rows can go either way. Both levels route every line the
/// same (the tests compare them), so the choice changes the speed, never
/// the output.
///
/// A chunk's time includes the page faults of its first reading and
/// whatever the other threads were doing, so single chunks vary by more
/// than the levels differ: each level's median time per byte decides.
/// The first chunks are slower still while the router's buffers grow to
/// size, so they are not counted, and the levels take turns in the order
/// A B B A A B B A, so that a drift over the trial favours neither.
#[derive(Debug)]
struct SimdTrial {
    /// Chunks routed so far in the trial, the uncounted ones included.
    chunks: usize,
    /// Nanoseconds per byte of each level's chunks: [AVX2, AVX-512].
    per_byte: [[f64; SimdTrial::CHUNKS_PER_LEVEL]; 2],
}

impl SimdTrial {
    /// Chunks each level routes before the choice.
    const CHUNKS_PER_LEVEL: usize = 6;
    /// AVX-512 is chosen only when it takes less than this share of
    /// AVX2's time per byte. Chunks' times are noisy and one trial now
    /// decides for the whole process, so a close call goes to AVX2, the
    /// level that is never much slower: on our benchmark machine
    /// AVX-512's trial chunks took 1.3 to 3.2 times as long as AVX2's. Where
    /// AVX-512 is clearly faster, it still wins.
    const AVX512_MARGIN: f64 = 0.9;
    /// Chunks routed first, with AVX2, and not counted.
    const UNCOUNTED_CHUNKS: usize = 2;
    const LEVELS: [Simd; 2] = [Simd::Avx2, Simd::Avx512];

    /// A trial when this CPU has both levels.
    fn when_there_is_a_choice() -> Option<SimdTrial> {
        (Simd::detect() == Simd::Avx512).then(SimdTrial::new)
    }

    fn new() -> SimdTrial {
        SimdTrial {
            chunks: 0,
            per_byte: [[0.0; SimdTrial::CHUNKS_PER_LEVEL]; 2],
        }
    }

    /// The next chunk's place among the counted ones, if it is counted,
    /// and its level: 0 (AVX2) or 1 (AVX-512).
    fn next_turn(&self) -> (Option<usize>, usize) {
        match self.chunks.checked_sub(SimdTrial::UNCOUNTED_CHUNKS) {
            // Bit 0 of `counted ^ counted / 2`: 0 1 1 0 0 1 1 0 …
            Some(counted) => (Some(counted), (counted ^ counted >> 1) & 1),
            None => (None, 0),
        }
    }

    /// The level the next chunk is routed with.
    fn level_to_try(&self) -> Simd {
        SimdTrial::LEVELS[self.next_turn().1]
    }

    /// Records how long the chunk of `bytes` just routed took; returns the
    /// faster level (the lower median time per byte) once every level had
    /// its chunks.
    fn record(&mut self, elapsed: Duration, bytes: usize) -> Option<Simd> {
        let (counted, level) = self.next_turn();
        self.chunks += 1;
        let counted = counted?;
        // Each pair of counted chunks has one of each level.
        self.per_byte[level][counted / 2] = elapsed.as_nanos() as f64 / bytes.max(1) as f64;
        if counted + 1 < 2 * SimdTrial::CHUNKS_PER_LEVEL {
            return None;
        }
        // The median of an even count is the mean of the middle two: with
        // either one alone, A B B A would favour a level under a steady
        // drift.
        let [avx2, avx512] = self.per_byte.map(|mut times| {
            times.sort_by(f64::total_cmp);
            let middle = SimdTrial::CHUNKS_PER_LEVEL / 2;
            (times[middle - 1] + times[middle]) / 2.0
        });
        Some(if avx512 < SimdTrial::AVX512_MARGIN * avx2 {
            Simd::Avx512
        } else {
            Simd::Avx2
        })
    }
}

/// The level the first [`SimdTrial`] to finish chose, for every router of
/// the process: the trial's chunks of the slower level cost their time
/// again in every router that ran one (on our benchmark machine AVX-512
/// chunks took 1.3 to 3.2 times as long as AVX2's, and extractions that
/// ran four trials, one per worker and file, took 2.50–2.65 s of user CPU
/// for the 3 GB set, against 2.17–2.42 s with AVX2 alone).
static CHOSEN_SIMD: OnceLock<Simd> = OnceLock::new();

/// Values of `route_lines`'s `SIMD` parameter (const generics take no enums
/// on stable Rust).
const PORTABLE: u8 = 0;
const AVX2: u8 = 1;
const AVX512: u8 = 2;

/// Validates and groups the rows of chunks. One per worker thread.
pub struct RowRouter<'a> {
    layout: &'a Layout,
    fields: FieldBuf,
    groups: Groups,
    /// How short lines are classified (detected once, in `new`; then,
    /// when the CPU has both wide levels, the faster one of them).
    simd: Simd,
    /// The timing of the first chunks that chooses between AVX2 and
    /// AVX-512; `None` once chosen, or when there is no choice.
    trial: Option<SimdTrial>,
    /// The partitions with rows in the chunk, in order of first appearance.
    chunk_partitions: Vec<u32>,
    /// By partition number: the partition's rows in the chunk so far.
    tallies: Vec<PartitionTally>,
    /// Every line of the chunk so far, in input order.
    placed: Vec<PlacedLine>,
    /// The partition of the chunk's last line, when it was accepted and
    /// lacks a terminator (the input's last line): it gets a `\n`.
    unterminated: Option<u32>,
    /// How many parts a routed chunk is split into, and which part a
    /// partition's rows go to.
    parts: (usize, fn(&PartitionKey, usize) -> usize),
    /// A routed chunk already written, whose memory the next one reuses.
    spare: Option<RoutedChunk>,
}

impl<'a> RowRouter<'a> {
    /// A router for rows of `layout`.
    pub fn new(layout: &'a Layout) -> RowRouter<'a> {
        RowRouter {
            layout,
            fields: FieldBuf::default(),
            groups: Groups::default(),
            simd: CHOSEN_SIMD.get().copied().unwrap_or_else(Simd::detect),
            trial: match CHOSEN_SIMD.get() {
                Some(_) => None,
                None => SimdTrial::when_there_is_a_choice(),
            },
            chunk_partitions: Vec::new(),
            tallies: Vec::new(),
            placed: Vec::new(),
            unterminated: None,
            parts: (1, |_, _| 0),
            spare: None,
        }
    }

    /// The same router classifying with `simd` (at most what the CPU has;
    /// anything wider is narrowed to that): the tests and benches compare
    /// the levels.
    pub fn with_simd(mut self, simd: Simd) -> RowRouter<'a> {
        self.simd = simd.min(Simd::detect());
        self.trial = None;
        self
    }

    /// The classification level in use.
    pub fn simd(&self) -> Simd {
        self.simd
    }

    /// Routes every line of `chunk`. While the router is still trying
    /// its SIMD levels (`SimdTrial`), the chunk is routed, once, with
    /// the level whose turn it is, and timed.
    pub fn route(&mut self, chunk: &Chunk) -> RoutedChunk {
        let Some(mut trial) = self.trial.take() else {
            return self.route_bytes(chunk.seq, chunk.bytes());
        };
        if let Some(&chosen) = CHOSEN_SIMD.get() {
            // Another router finished its trial first.
            self.simd = chosen;
            return self.route_bytes(chunk.seq, chunk.bytes());
        }
        self.simd = trial.level_to_try();
        let started = Instant::now();
        let routed = self.route_bytes(chunk.seq, chunk.bytes());
        match trial.record(started.elapsed(), chunk.bytes().len()) {
            Some(chosen) => self.simd = *CHOSEN_SIMD.get_or_init(|| chosen),
            None => self.trial = Some(trial),
        }
        routed
    }

    /// Routes every line of `bytes`, whole lines of an input's body, as
    /// chunk `seq`.
    pub fn route_bytes(&mut self, seq: u64, bytes: &[u8]) -> RoutedChunk {
        #[cfg(target_arch = "x86_64")]
        match self.simd {
            // SAFETY: `simd` is at most what `Simd::detect` found the CPU
            // to have.
            Simd::Avx512 => return unsafe { self.route_bytes_avx512(seq, bytes) },
            Simd::Avx2 => return unsafe { self.route_bytes_avx2(seq, bytes) },
            Simd::Portable => {}
        }
        self.route_lines::<PORTABLE>(seq, bytes)
    }

    /// [`RowRouter::route_bytes`] compiled for AVX-512, so that the
    /// classification inlined into it uses 64-byte registers (and the
    /// checks `popcnt` and BMI).
    ///
    /// # Safety
    /// The CPU must have AVX-512F, AVX-512BW, BMI1 and BMI2.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512bw,bmi1,bmi2,popcnt,lzcnt")]
    unsafe fn route_bytes_avx512(&mut self, seq: u64, bytes: &[u8]) -> RoutedChunk {
        self.route_lines::<AVX512>(seq, bytes)
    }

    /// [`RowRouter::route_bytes`] compiled for AVX2.
    ///
    /// # Safety
    /// The CPU must have AVX2, BMI1 and BMI2.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,bmi1,bmi2,popcnt,lzcnt")]
    unsafe fn route_bytes_avx2(&mut self, seq: u64, bytes: &[u8]) -> RoutedChunk {
        self.route_lines::<AVX2>(seq, bytes)
    }

    /// The loop of [`RowRouter::route_bytes`]; `SIMD` says how short lines
    /// may be classified ([`PORTABLE`], [`AVX2`], [`AVX512`]; the caller
    /// checked the CPU).
    #[inline(always)]
    fn route_lines<const SIMD: u8>(&mut self, seq: u64, bytes: &[u8]) -> RoutedChunk {
        let mut routed = self.spare.take().unwrap_or_default();
        routed.seq = seq;
        routed.lines = 0;
        routed.input_bytes = bytes.len() as u64;
        routed.rejected.clear();
        self.chunk_partitions.clear();
        self.placed.clear();
        self.unterminated = None;
        let mut start = 0;
        while start < bytes.len() {
            let line_start = start;
            #[cfg(target_arch = "x86_64")]
            if SIMD != PORTABLE {
                // SAFETY: `SIMD` is `AVX512` only in `route_bytes_avx512` and
                // `AVX2` only in `route_bytes_avx2`, which the CPU was checked
                // to run.
                let short = unsafe {
                    if SIMD == AVX512 {
                        LineClasses::of_short_line_avx512(bytes, line_start)
                    } else {
                        LineClasses::of_short_line_avx2(bytes, line_start)
                    }
                };
                if let Some(short) = short {
                    start =
                        self.route_classified::<SIMD, _>(&mut routed, bytes, line_start, &short);
                    continue;
                }
                // SAFETY: as above.
                let long = unsafe {
                    if SIMD == AVX512 {
                        LineClasses::of_long_line_avx512(bytes, line_start)
                    } else {
                        LineClasses::of_long_line_avx2(bytes, line_start)
                    }
                };
                if let Some(long) = long {
                    start = self.route_classified::<SIMD, _>(&mut routed, bytes, line_start, &long);
                    continue;
                }
            }
            if let Some(classes) = LineClasses::of_line(bytes, line_start) {
                start = match classes.narrow::<u64>() {
                    Some(short) => {
                        self.route_classified::<SIMD, _>(&mut routed, bytes, line_start, &short)
                    }
                    None => {
                        self.route_classified::<SIMD, _>(&mut routed, bytes, line_start, &classes)
                    }
                };
                continue;
            }
            // Too long to classify: the full check decides.
            start = match memchr::memchr(b'\n', &bytes[line_start..]) {
                Some(at) => line_start + at + 1,
                None => bytes.len(),
            };
            let content = strip_terminator(&bytes[line_start..start]);
            let line_in_chunk = routed.lines;
            routed.lines += 1;
            if is_blank(content) {
                self.skip_line(start - line_start);
            } else {
                self.add_row(
                    &mut routed,
                    None,
                    content,
                    line_in_chunk,
                    &bytes[line_start..start],
                );
            }
        }
        self.finish_groups(&mut routed, bytes);
        routed
    }

    /// Routes the line at `bytes[line_start..]`, classified as `classes`,
    /// and returns where the next line starts.
    #[inline(always)]
    fn route_classified<const SIMD: u8, M: Mask>(
        &mut self,
        routed: &mut RoutedChunk,
        bytes: &[u8],
        line_start: usize,
        classes: &LineClasses<M>,
    ) -> usize {
        let next = line_start + classes.next;
        let line_in_chunk = routed.lines;
        routed.lines += 1;
        let content = &bytes[line_start..line_start + classes.len];
        if is_blank(content) {
            self.skip_line(classes.next);
            return next;
        }
        let checked = if SIMD == PORTABLE {
            self.layout.check_classified(content, classes)
        } else {
            // SAFETY: every level but the portable one runs only on CPUs
            // with BMI2 (`Simd::detect`).
            unsafe { self.layout.check_classified_bmi2(content, classes) }
        };
        let fast = checked.and_then(|spans| self.groups.of_raw((bytes, line_start), spans));
        self.add_row(
            routed,
            fast,
            content,
            line_in_chunk,
            &bytes[line_start..next],
        );
        next
    }

    /// Copies each partition's rows into the routed chunk, part by part,
    /// and empties the partitions' tallies for the next chunk.
    // Each partition's place in the routed chunk is known from its tally,
    // so every row is copied once, in input order, straight to its place:
    // the chunk is read front to back again, soon after it was checked,
    // and the routed chunk is written at one cursor per partition.
    fn finish_groups(&mut self, routed: &mut RoutedChunk, chunk: &[u8]) {
        routed.groups.clear();
        routed.part_starts.clear();
        let mut total = 0;
        for part in 0..self.parts.0 {
            routed.part_starts.push(routed.groups.len());
            for &partition in &self.chunk_partitions {
                let tally = &mut self.tallies[partition as usize];
                if tally.part != part {
                    continue;
                }
                tally.cursor = total;
                total += tally.bytes;
                tally.end = total;
                routed.groups.push(Group {
                    key: self.groups.partitions[partition as usize],
                    rows: tally.rows,
                    bytes: tally.cursor..total,
                });
                tally.bytes = 0;
                tally.rows = 0;
            }
        }
        routed.part_starts.push(routed.groups.len());
        // Every byte below `total` is written once below, so the bytes are
        // not cleared or filled first.
        routed.bytes.clear();
        routed.bytes.reserve_exact(total);
        let place = &mut routed.bytes.spare_capacity_mut()[..total];
        let mut at = 0;
        for line in &self.placed {
            let len = line.len as usize;
            if line.partition != PlacedLine::SKIPPED {
                let cursor = &mut self.tallies[line.partition as usize].cursor;
                place[*cursor..*cursor + len].write_copy_of_slice(&chunk[at..at + len]);
                *cursor += len;
                prefetch_for_writing(place.get(*cursor + 64));
            }
            at += len;
        }
        if let Some(partition) = self.unterminated {
            let cursor = &mut self.tallies[partition as usize].cursor;
            place[*cursor].write(b'\n');
            *cursor += 1;
        }
        debug_assert_eq!(at, chunk.len());
        // Each group's range was written front to back from its start, so
        // a cursor that ended at its group's end wrote all of it; and the
        // groups tile `0..total`.
        let every_byte_written = (self.chunk_partitions.iter())
            .map(|&partition| &self.tallies[partition as usize])
            .all(|tally| tally.cursor == tally.end);
        assert!(every_byte_written, "a routed chunk's rows did not fill it");
        // SAFETY: the first `total` bytes were all written, as just checked.
        unsafe { routed.bytes.set_len(total) };
    }

    /// Records a line of `len` bytes, terminator included, that is not
    /// copied: blank, or rejected.
    #[inline(always)]
    fn skip_line(&mut self, len: usize) {
        self.place_line(PlacedLine::SKIPPED, len);
    }

    /// Records a line of `len` bytes, terminator included, going to
    /// `partition` (or [`PlacedLine::SKIPPED`]).
    #[inline(always)]
    fn place_line(&mut self, partition: u32, len: usize) {
        PlacedLine::push(&mut self.placed, partition, len, PlacedLine::MAX_LEN);
    }

    /// Splits every routed chunk into `parts` parts (at least one); a
    /// partition's rows go to part `part_of(key, parts)` (below `parts`).
    pub fn with_parts(
        mut self,
        parts: usize,
        part_of: fn(&PartitionKey, usize) -> usize,
    ) -> RowRouter<'a> {
        self.parts = (parts.max(1), part_of);
        self
    }

    /// Takes a routed chunk already written (any router's): the next
    /// chunk routed reuses its memory.
    pub fn recycle(&mut self, written: RoutedChunk) {
        // One is all the next chunk needs; more would only hold memory.
        self.spare.get_or_insert(written);
    }

    /// Records the non-blank line `line` (terminator included) of the
    /// chunk: counted in its partition's tally, to be copied at the
    /// chunk's end, the partition found by the fast path (`fast`) or else
    /// by the full check; or as rejected.
    #[inline(always)]
    fn add_row(
        &mut self,
        routed: &mut RoutedChunk,
        fast: Option<u32>,
        content: &[u8],
        line_in_chunk: u64,
        line: &[u8],
    ) {
        let partition = match fast {
            Some(partition) => partition,
            None => match self.full_check(content) {
                Ok(key) => self.groups.partition_of(key),
                Err(reason) => {
                    routed.rejected.push(RejectedLine {
                        line_in_chunk,
                        reason,
                        raw: content.to_vec(),
                    });
                    self.skip_line(line.len());
                    return;
                }
            },
        };
        if partition as usize >= self.tallies.len() {
            self.add_partition_tallies(partition);
        }
        let tally = &mut self.tallies[partition as usize];
        if tally.rows == 0 {
            // Its first row in the chunk (`finish_groups` empties the
            // tallies of every partition it groups).
            self.chunk_partitions.push(partition);
        }
        tally.bytes += line.len();
        tally.rows += 1;
        if line.last() != Some(&b'\n') {
            tally.bytes += 1;
            self.unterminated = Some(partition);
        }
        self.place_line(partition, line.len());
    }

    /// Tallies for every partition up to number `partition`.
    #[cold]
    fn add_partition_tallies(&mut self, partition: u32) {
        let (parts, part_of) = self.parts;
        while self.tallies.len() <= partition as usize {
            let key = &self.groups.partitions[self.tallies.len()];
            self.tallies.push(PartitionTally {
                part: part_of(key, parts).min(parts - 1),
                ..PartitionTally::default()
            });
        }
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

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::format::{FileKind, lines, one_byte_edits};

    /// What routing a chunk gave: the rejected lines (numbered from 0,
    /// blank lines included) with their reasons, and every partition, in
    /// order of first appearance, with its rows' bytes and count.
    type Outcome = (Vec<(u64, RejectReason)>, Vec<(String, Vec<u8>, u64)>);

    fn outcome(routed: &RoutedChunk) -> Outcome {
        let rejected = (routed.rejected.iter())
            .map(|line| (line.line_in_chunk, line.reason))
            .collect();
        let partitions = (routed.groups())
            .map(|group| (group.key.to_string(), group.bytes.to_vec(), group.rows))
            .collect();
        (rejected, partitions)
    }

    /// What the full check says of every non-blank line: the outcome
    /// routing must give, each accepted line copied verbatim with its
    /// terminator (`\n` added to a last line without one).
    fn expected(layout: &Layout, chunk: &[u8]) -> Outcome {
        let mut fields = FieldBuf::default();
        let (mut rejected, mut partitions) = (Vec::new(), Vec::<(String, Vec<u8>, u64)>::new());
        let mut start = 0;
        for number in 0.. {
            if start >= chunk.len() {
                break;
            }
            let end =
                memchr::memchr(b'\n', &chunk[start..]).map_or(chunk.len(), |at| start + at + 1);
            let line = &chunk[start..end];
            start = end;
            let content = strip_terminator(line);
            if is_blank(content) {
                continue;
            }
            let key = match layout.parse_key(content, &mut fields) {
                Ok(key) => PartitionKey::new(key.date, key.security_code)
                    .expect("a valid code")
                    .to_string(),
                Err(reason) => {
                    rejected.push((number, reason));
                    continue;
                }
            };
            let at = match partitions.iter().position(|(known, _, _)| *known == key) {
                Some(at) => at,
                None => {
                    partitions.push((key, Vec::new(), 0));
                    partitions.len() - 1
                }
            };
            let (_, bytes, rows) = &mut partitions[at];
            bytes.extend_from_slice(line);
            if line.last() != Some(&b'\n') {
                bytes.push(b'\n');
            }
            *rows += 1;
        }
        (rejected, partitions)
    }

    /// Rows and their one-byte edits, each ending in `\n` or `\r\n`, and
    /// lines of every length around the 64 bytes one AVX-512 step covers.
    fn chunk_of(rows: &[&str]) -> Vec<u8> {
        let mut chunk = Vec::new();
        for (i, row) in rows.iter().enumerate() {
            for (j, line) in one_byte_edits(row.as_bytes(), b"0,.:\"\r\nB9-")
                .iter()
                .enumerate()
            {
                chunk.extend_from_slice(line);
                chunk.extend_from_slice(if (i + j) % 7 == 0 { b"\r\n" } else { b"\n" });
            }
            for pad in 0..24 {
                let mut long = row.as_bytes().to_vec();
                // Widens the quantity, which stays valid.
                let cut = long.iter().rposition(|&b| b == b',').unwrap_or(0);
                let at = long[..cut].iter().rposition(|&b| b == b',').unwrap_or(0) + 1;
                long.splice(
                    at..at,
                    std::iter::repeat_n(b'1', pad + 40 - row.len().min(40)),
                );
                chunk.extend_from_slice(&long);
                chunk.push(b'\n');
            }
        }
        chunk.extend_from_slice(b"\n\r\n\r\r\n");
        // The last line, without a terminator and near the end.
        chunk.extend_from_slice(rows[0].as_bytes());
        chunk
    }

    #[test]
    fn a_line_longer_than_one_record_holds_takes_several_that_add_up_to_it() {
        let mut placed = Vec::new();
        PlacedLine::push(&mut placed, 7, 12, 5);
        PlacedLine::push(&mut placed, PlacedLine::SKIPPED, 5, 5);
        PlacedLine::push(&mut placed, 3, 4, 5);
        let records: Vec<(u32, u32)> = (placed.iter())
            .map(|line| (line.partition, line.len))
            .collect();
        assert_eq!(
            records,
            [(7, 5), (7, 5), (7, 2), (PlacedLine::SKIPPED, 5), (3, 4)]
        );
    }

    #[test]
    fn every_line_is_routed_as_the_full_check_says_at_every_simd_level() {
        let cases: [(FileKind, &str, &[&str]); 4] = [
            (
                FileKind::Orders,
                "date,security_code,order_id,time,side,price,quantity,order_type",
                &[
                    "2024-01-02,600089,1,09:30:00.002826,S,12.24,400,L",
                    "20240102,600034,17,09:30:00,B,,200,M",
                ],
            ),
            (
                FileKind::Orders,
                "price,side,extra,quantity,time,order_id,security_code,date",
                &["12.5,B,x,100,10:00:00.5,3,SH600000,2024-02-29"],
            ),
            (
                FileKind::Trades,
                "date,security_code,trade_id,time,price,quantity,buy_order_id,sell_order_id,aggressor_side",
                &[
                    "2024-01-02,600180,1,09:30:00.056385,11.78,300,2,1,B",
                    "2024-01-02,600180,2,09:30:00.1,11.78,300,,0,",
                ],
            ),
            (
                FileKind::Trades,
                "date,security_code,trade_id,time,price,quantity,buy_order_id,sell_order_id",
                &["2023-02-01,600519,123456,14:56:59.999999999,1834.00,1,100,200"],
            ),
        ];
        for (kind, header, rows) in cases {
            let layout = Layout::from_header(kind, header.as_bytes(), Path::new("t.csv"))
                .expect("a valid header");
            let chunk = chunk_of(rows);
            let expected = expected(&layout, &chunk);
            let accepted: u64 = expected.1.iter().map(|(_, _, rows)| rows).sum();
            assert!(accepted > 50 && expected.0.len() > 50);
            // Every level this CPU has, twice each: the second time the keys
            // are already known.
            for simd in Simd::available() {
                let router = &mut RowRouter::new(&layout).with_simd(simd);
                for seq in 0..2 {
                    let routed = router.route_bytes(seq, &chunk);
                    assert!(outcome(&routed) == expected, "{header}");
                    assert_eq!(routed.lines, lines(&chunk).count() as u64);
                }
            }
        }
    }

    /// Runs a trial to its end; `time(level, counted)` gives each chunk's
    /// time and bytes (`counted` is `None` for an uncounted chunk).
    fn run_trial(time: impl Fn(Simd, Option<usize>) -> (Duration, usize)) -> (Vec<Simd>, Simd) {
        let mut trial = SimdTrial::new();
        let mut tried = Vec::new();
        loop {
            let level = trial.level_to_try();
            let counted = tried.len().checked_sub(SimdTrial::UNCOUNTED_CHUNKS);
            tried.push(level);
            let (elapsed, bytes) = time(level, counted);
            if let Some(chosen) = trial.record(elapsed, bytes) {
                return (tried, chosen);
            }
        }
    }

    #[test]
    fn the_simd_trial_takes_turns_then_keeps_the_lower_median_per_byte() {
        // The uncounted chunks are far slower. AVX2's chunks are twice the
        // size and take 1.5 times as long (less time per byte), but for
        // its first two counted ones, far slower, that a sum would count.
        let (tried, chosen) = run_trial(|level, counted| match (level, counted) {
            (_, None) => (Duration::from_secs(1), 1_000),
            (Simd::Avx2, Some(0..=3)) => (Duration::from_millis(50), 2_000),
            (Simd::Avx2, _) => (Duration::from_micros(300), 2_000),
            _ => (Duration::from_micros(200), 1_000),
        });
        let uncounted = SimdTrial::UNCOUNTED_CHUNKS;
        assert_eq!(tried.len(), uncounted + 2 * SimdTrial::CHUNKS_PER_LEVEL);
        assert!(tried[..uncounted].iter().all(|&level| level == Simd::Avx2));
        let (a, b) = (Simd::Avx2, Simd::Avx512);
        assert!(
            tried[uncounted..]
                .chunks(4)
                .all(|turns| turns == [a, b, b, a])
        );
        assert_eq!(chosen, Simd::Avx2);
        // The other way round.
        let (_, chosen) = run_trial(|level, _| match level {
            Simd::Avx512 => (Duration::from_micros(200), 1_000),
            _ => (Duration::from_micros(300), 1_000),
        });
        assert_eq!(chosen, Simd::Avx512);
        // But AVX-512 must win by a margin.
        let (_, chosen) = run_trial(|level, _| match level {
            Simd::Avx512 => (Duration::from_micros(290), 1_000),
            _ => (Duration::from_micros(300), 1_000),
        });
        assert_eq!(chosen, Simd::Avx2);
    }

    #[test]
    fn a_steady_fall_in_the_chunks_times_does_not_favour_avx512() {
        // Equal levels whose chunks get faster as the buffers warm up: with
        // AVX-512 always second, as in strict alternation, it would look
        // faster. Taking turns A B B A gives both levels early and late
        // chunks alike, and AVX-512 does not win.
        let (_, chosen) = run_trial(|_, counted| {
            let counted = counted.unwrap_or(0) as u64;
            (Duration::from_micros(1_000 - 10 * counted), 1_000)
        });
        assert_eq!(chosen, Simd::Avx2);
    }

    #[test]
    fn chunks_route_the_same_during_and_after_the_simd_trial() {
        let layout = Layout::from_header(
            FileKind::Orders,
            b"date,security_code,order_id,time,side,price,quantity,order_type",
            Path::new("t.csv"),
        )
        .expect("a valid header");
        let bytes = chunk_of(&["2024-01-02,600089,1,09:30:00.002826,S,12.24,400,L"]);
        let expected = expected(&layout, &bytes);
        let router = &mut RowRouter::new(&layout);
        for seq in 0..3 * SimdTrial::CHUNKS_PER_LEVEL as u64 {
            let chunk = Chunk::from_bytes(seq, bytes.clone());
            let routed = router.route(&chunk);
            assert!(outcome(&routed) == expected, "chunk {seq}");
        }
        assert!(router.trial.is_none(), "the trial is over after its chunks");
        assert!(Simd::available().contains(&router.simd()));
        // A router made later takes the choice made, without a trial.
        let later = RowRouter::new(&layout);
        assert!(later.trial.is_none());
        assert_eq!(later.simd(), router.simd());
    }

    #[test]
    fn rows_of_interleaved_dates_and_many_codes_find_their_partitions() {
        // Dates change on every row and are written both ways, and each
        // date has 700 codes, so every date's table grows past its first
        // size and the "last date" shortcut misses on nearly every row.
        let layout = Layout::from_header(
            FileKind::Orders,
            b"date,security_code,order_id,time,side,price,quantity",
            Path::new("t.csv"),
        )
        .expect("a valid header");
        let dates = [
            "2024-01-02",
            "20240103",
            "20240102",
            "2024-01-03",
            "2023-12-29",
        ];
        let mut chunk = Vec::new();
        for row in 0..7_000usize {
            let date = dates[row % dates.len()];
            let code = format!("C{:05}", (row / dates.len()) % 700);
            chunk.extend_from_slice(
                format!("{date},{code},{},09:30:00,B,1.5,100\n", row + 1).as_bytes(),
            );
        }
        let expected = expected(&layout, &chunk);
        assert!(expected.0.is_empty());
        let router = &mut RowRouter::new(&layout);
        for seq in 0..2 {
            let routed = router.route_bytes(seq, &chunk);
            assert!(outcome(&routed) == expected);
            // Three distinct days, each written one or two ways.
            assert_eq!(routed.groups().len(), 3 * 700);
        }
    }

    #[test]
    fn a_packed_field_unpacks_to_its_bytes_wherever_it_lies() {
        let buf = b"0123456789abcdefghij";
        for start in 0..=buf.len() {
            for end in start..=buf.len() {
                let packed = packed_field(buf, start..end);
                if end - start > 15 {
                    assert_eq!(packed, None);
                    continue;
                }
                let packed = packed.expect("a short field").to_le_bytes();
                assert_eq!(unpacked_field(&packed), &buf[start..end]);
            }
        }
        // A field and the same bytes followed by a NUL pack differently.
        assert_ne!(packed_field(b"a\0", 0..1), packed_field(b"a\0", 0..2));
        // A range that ends before it starts is not a field.
        let (start, end) = (3, 2);
        assert_eq!(packed_field(buf, start..end), None);
    }
}
