//! A short line's bytes sorted into classes, one bit mask per class:
//! extraction's hot path.
//!
//! The line is read 16 bytes at a time; each block yields a 16-bit mask per
//! class (bit `i` set when byte `i` is in the class), and the blocks' masks
//! are joined into one `u128` per class for the whole line. Once a line is
//! classified, checking a field is mask arithmetic over its bit range ("no
//! non-digit in here", "exactly one dot and nothing else") instead of a loop
//! over its bytes, and the commas that split it are the set bits of one
//! mask. That is why the line must fit in 128 bytes; a longer line (rare:
//! rows of the format are 40–100 bytes) takes the ordinary byte-by-byte
//! path.
//!
//! A line shorter than 64 bytes, most rows, is checked with its masks
//! narrowed to `u64` ([`LineClasses::narrow`]): the same code, generic over
//! [`Mask`], then does every step in one register instead of two.
//!
//! On x86_64 a block is classified with SSE2 (part of the architecture, so
//! always present): one compare and one `movemask` per class. Elsewhere the
//! same masks come from 8-byte words; the tests check that both agree.
//! Extraction asks first for the widest classification the CPU has
//! ([`Simd`]): one 64-byte step (AVX-512) or two 32-byte ones (AVX2) for a
//! short line, and for a line of 64–127 bytes, which real trade rows often
//! are, two 64-byte steps or four 32-byte ones.

use std::fmt::Debug;
use std::ops::{BitAnd, BitOr, BitOrAssign, BitXorAssign, Not, Range, Shl};

use super::values;

/// An integer holding one bit per byte of a line: `u64` or `u128`.
pub trait Mask:
    Copy
    + Default
    + Eq
    + Debug
    + BitAnd<Output = Self>
    + BitOr<Output = Self>
    + BitOrAssign
    + BitXorAssign
    + Not<Output = Self>
    + Shl<usize, Output = Self>
{
    /// The mask with bit 0 only.
    const ONE: Self;
    /// The bit count.
    const BITS: usize;
    /// The mask as a `u128`.
    fn widen(self) -> u128;
    /// The lowest set bit alone (0 for 0).
    fn lowest(self) -> Self;
    /// `self - 1`, wrapping: for a single bit, all the bits below it.
    fn below(self) -> Self;
    /// `self - other`, wrapping: for single bits, the bits from `other`
    /// up to (not including) `self`.
    fn wrapping_sub(self, other: Self) -> Self;
    /// Index of the lowest set bit.
    fn lowest_index(self) -> usize;
    /// The low bits of a `u128` mask.
    fn narrow(mask: u128) -> Self;
    /// How many bits are set.
    fn count(self) -> usize;
    /// Bits `start..end` (`start` ≤ `end` < the bit count).
    fn span(start: usize, end: usize) -> Self;
    /// The set bit of index `n` (counting from 0, lowest first) alone; 0
    /// when fewer bits are set. `n` must be below the bit count.
    ///
    /// # Safety
    /// On x86_64 the CPU must have BMI2 ([`Simd::detect`] checks it for
    /// every level but [`Simd::Portable`]).
    unsafe fn nth_set_bit(self, n: usize) -> Self;
}

macro_rules! impl_mask {
    ($($int:ty),*) => {$(
        impl Mask for $int {
            const ONE: Self = 1;
            const BITS: usize = <$int>::BITS as usize;
            fn widen(self) -> u128 {
                u128::from(self)
            }
            fn lowest(self) -> Self {
                self & self.wrapping_neg()
            }
            fn below(self) -> Self {
                self.wrapping_sub(1)
            }
            fn wrapping_sub(self, other: Self) -> Self {
                <$int>::wrapping_sub(self, other)
            }
            fn lowest_index(self) -> usize {
                self.trailing_zeros() as usize
            }
            fn narrow(mask: u128) -> Self {
                mask as $int
            }
            fn count(self) -> usize {
                self.count_ones() as usize
            }
            fn span(start: usize, end: usize) -> Self {
                ((1 << end) - 1) & !((1 << start) - 1)
            }
            #[inline(always)]
            unsafe fn nth_set_bit(self, n: usize) -> Self {
                // SAFETY: the caller vouches for BMI2.
                unsafe { self.nth_set_bit_of(n) }
            }
        }
    )*};
}

impl_mask!(u64, u128);

/// `pdep` places the bits of its first operand at the set bits of the
/// second, lowest first: a single bit `1 << n` lands on the `n`th set bit.
#[cfg(target_arch = "x86_64")]
impl NthSetBit for u64 {
    #[inline(always)]
    unsafe fn nth_set_bit_of(self, n: usize) -> u64 {
        // SAFETY: the caller vouches for BMI2.
        unsafe { std::arch::x86_64::_pdep_u64(1u64.wrapping_shl(n as u32), self) }
    }
}

#[cfg(target_arch = "x86_64")]
impl NthSetBit for u128 {
    #[inline(always)]
    unsafe fn nth_set_bit_of(self, n: usize) -> u128 {
        let low = self as u64;
        let below = low.count_ones() as usize;
        // SAFETY: the caller vouches for BMI2.
        unsafe {
            if n < below {
                u128::from(low.nth_set_bit_of(n))
            } else if n - below < 64 {
                u128::from(((self >> 64) as u64).nth_set_bit_of(n - below)) << 64
            } else {
                // Past the high word's bits, so past all that are set.
                0
            }
        }
    }
}

/// Without `pdep`: clear the lowest set bit `n` times.
#[cfg(not(target_arch = "x86_64"))]
macro_rules! impl_nth_set_bit_by_clearing {
    ($($int:ty),*) => {$(
        impl NthSetBit for $int {
            unsafe fn nth_set_bit_of(self, n: usize) -> $int {
                let mut rest = self;
                for _ in 0..n {
                    rest &= rest.wrapping_sub(1);
                }
                rest & rest.wrapping_neg()
            }
        }
    )*};
}

#[cfg(not(target_arch = "x86_64"))]
impl_nth_set_bit_by_clearing!(u64, u128);

/// [`Mask::nth_set_bit`], per width.
trait NthSetBit: Sized {
    /// # Safety
    /// As [`Mask::nth_set_bit`].
    unsafe fn nth_set_bit_of(self, n: usize) -> Self;
}

/// Longest line content (terminator excluded) that can be classified.
pub const MAX_CLASSIFIED_LEN: usize = 127;

/// The classes of one block of 16 bytes, bit `i` for byte `i`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct BlockMasks {
    newlines: u16,
    commas: u16,
    quotes: u16,
    non_digits: u16,
    zeros: u16,
    dots: u16,
}

/// A classified line. Bit `i` of each mask describes byte `i` of the line's
/// content (terminator excluded); bits at and past `len` are clear.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LineClasses<M = u128> {
    /// Length of the content.
    pub len: usize,
    /// Offset of the next line from this line's start (past the
    /// terminator, or to the end of the buffer for a last line without one).
    pub next: usize,
    /// `,`.
    pub commas: M,
    /// `"`.
    pub quotes: M,
    /// Anything but `0`–`9`.
    pub non_digits: M,
    /// `0`.
    pub zeros: M,
    /// `.`.
    pub dots: M,
}

/// All bits of `[start, end)` (`end - start` < 128, `end` ≤ 128).
#[cfg(test)]
fn bit_range(start: usize, end: usize) -> u128 {
    let width = end - start;
    let ones = if width >= 128 {
        u128::MAX
    } else {
        (1u128 << width) - 1
    };
    ones << start
}

impl LineClasses {
    /// The same masks in a narrower type, when the line fits in it (its
    /// length is below the type's bit count).
    pub fn narrow<M: Mask>(&self) -> Option<LineClasses<M>> {
        (self.len < 8 * size_of::<M>()).then(|| LineClasses {
            len: self.len,
            next: self.next,
            commas: M::narrow(self.commas),
            quotes: M::narrow(self.quotes),
            non_digits: M::narrow(self.non_digits),
            zeros: M::narrow(self.zeros),
            dots: M::narrow(self.dots),
        })
    }

    /// Classifies the line starting at `buf[start]`. `None` when its content
    /// is longer than [`MAX_CLASSIFIED_LEN`].
    // Always inlined: extraction's hot loop needs it inlined, and with a
    // second caller (processing's loader) the compiler stopped doing so on
    // its own, which cost extraction a fifth more instructions.
    #[inline(always)]
    pub fn of_line(buf: &[u8], start: usize) -> Option<LineClasses> {
        // Blocks 0–3 fill the low 64 bits, 4–7 the high ones; most lines
        // end in the first loop, with everything in one register per class.
        let mut low = Half::default();
        for block in 0..4 {
            let masks = block_at(buf, start + 16 * block);
            low.add(&masks, 16 * block);
            if masks.newlines != 0 {
                let end = 16 * block + masks.newlines.trailing_zeros() as usize;
                return Some(LineClasses::finish(buf, start, end, low, Half::default()));
            }
        }
        let mut high = Half::default();
        for block in 4..8 {
            let masks = block_at(buf, start + 16 * block);
            high.add(&masks, 16 * (block - 4));
            if masks.newlines != 0 {
                let end = 16 * block + masks.newlines.trailing_zeros() as usize;
                return (end <= MAX_CLASSIFIED_LEN)
                    .then(|| LineClasses::finish(buf, start, end, low, high));
            }
        }
        None
    }

    /// The classes of the line at `buf[start..]` whose newline (or end)
    /// is at `start + end`.
    fn finish(buf: &[u8], start: usize, end: usize, low: Half, high: Half) -> LineClasses {
        let len = if end > 0 && buf[start + end - 1] == b'\r' {
            end - 1
        } else {
            end
        };
        let keep = (1u128 << len) - 1;
        let join = |low: u64, high: u64| (u128::from(high) << 64 | u128::from(low)) & keep;
        LineClasses {
            len,
            next: (end + 1).min(buf.len() - start),
            commas: join(low.commas, high.commas),
            quotes: join(low.quotes, high.quotes),
            non_digits: join(low.non_digits, high.non_digits),
            zeros: join(low.zeros, high.zeros),
            dots: join(low.dots, high.dots),
        }
    }
}

/// The widest way of classifying a short line this CPU supports: asked
/// once per router, not per line (`std` caches the answer anyway). Ordered
/// narrowest first, as the variants are declared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Simd {
    /// 16-byte blocks ([`LineClasses::of_line`]): SSE2 on x86_64, 8-byte
    /// words elsewhere.
    Portable,
    /// Two 32-byte blocks ([`LineClasses::of_short_line_avx2`]), four for
    /// a longer line ([`LineClasses::of_long_line_avx2`]).
    Avx2,
    /// One 64-byte block ([`LineClasses::of_short_line_avx512`]), two for
    /// a longer line ([`LineClasses::of_long_line_avx512`]).
    Avx512,
}

impl Simd {
    /// What this CPU can run.
    pub fn detect() -> Simd {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::is_x86_feature_detected as has;
            if has!("avx512f") && has!("avx512bw") && has!("bmi1") && has!("bmi2") {
                return Simd::Avx512;
            }
            if has!("avx2") && has!("bmi1") && has!("bmi2") {
                return Simd::Avx2;
            }
        }
        Simd::Portable
    }

    /// Every level this CPU can run, narrowest first (for tests and
    /// benches that compare them).
    pub fn available() -> Vec<Simd> {
        let best = Simd::detect();
        [Simd::Portable, Simd::Avx2, Simd::Avx512]
            .into_iter()
            .filter(|level| *level <= best)
            .collect()
    }
}

#[cfg(target_arch = "x86_64")]
impl LineClasses<u64> {
    /// The line at `buf[start..]` classified in one 64-byte step, when it is
    /// shorter than 64 bytes (terminator included) and the buffer holds 64
    /// bytes from `start`; `None` otherwise, and [`LineClasses::of_line`]
    /// takes it. Most rows fit: this replaces four 16-byte blocks and the
    /// joining of their masks by one compare per class, each of which
    /// yields its mask directly.
    ///
    /// # Safety
    /// The CPU must have AVX-512F and AVX-512BW ([`Simd::detect`]).
    #[target_feature(enable = "avx512f,avx512bw")]
    #[inline]
    pub unsafe fn of_short_line_avx512(buf: &[u8], start: usize) -> Option<LineClasses<u64>> {
        use std::arch::x86_64::{
            __m512i, _mm512_cmpeq_epi8_mask, _mm512_cmple_epu8_mask, _mm512_loadu_si512,
            _mm512_set1_epi8, _mm512_sub_epi8,
        };
        let window = buf.get(start..start + 64)?;
        // SAFETY: `window` is 64 readable bytes and `loadu` has no
        // alignment requirement; the caller vouches for the features.
        let block = unsafe { _mm512_loadu_si512(window.as_ptr().cast::<__m512i>()) };
        let equal = |byte: u8| _mm512_cmpeq_epi8_mask(block, _mm512_set1_epi8(byte as i8));
        // `byte - '0'`, unsigned, is at most 9 exactly for a digit.
        let digits = || {
            _mm512_cmple_epu8_mask(
                _mm512_sub_epi8(block, _mm512_set1_epi8(b'0' as i8)),
                _mm512_set1_epi8(9),
            )
        };
        LineClasses::of_window_masks(window, equal, digits)
    }

    /// [`LineClasses::of_short_line_avx512`] with two 32-byte blocks, for
    /// CPUs with AVX2 but not AVX-512: half the blocks of the portable path
    /// for a line under 64 bytes.
    ///
    /// # Safety
    /// The CPU must have AVX2 ([`Simd::detect`]).
    #[target_feature(enable = "avx2")]
    #[inline]
    pub unsafe fn of_short_line_avx2(buf: &[u8], start: usize) -> Option<LineClasses<u64>> {
        use std::arch::x86_64::{
            __m256i, _mm256_cmpeq_epi8, _mm256_loadu_si256, _mm256_max_epu8, _mm256_movemask_epi8,
            _mm256_set1_epi8, _mm256_sub_epi8,
        };
        let window = buf.get(start..start + 64)?;
        // SAFETY: `window` is 64 readable bytes, two unaligned 32-byte
        // loads; the caller vouches for AVX2.
        let (low, high) = unsafe {
            (
                _mm256_loadu_si256(window.as_ptr().cast::<__m256i>()),
                _mm256_loadu_si256(window[32..].as_ptr().cast::<__m256i>()),
            )
        };
        let mask = |block: __m256i| _mm256_movemask_epi8(block) as u32 as u64;
        let equal = |byte: u8| {
            let needle = _mm256_set1_epi8(byte as i8);
            mask(_mm256_cmpeq_epi8(low, needle)) | mask(_mm256_cmpeq_epi8(high, needle)) << 32
        };
        // `byte - '0'`, unsigned, is at most 9 exactly for a digit, that is
        // exactly when max(byte - '0', 9) is 9.
        let digit = |block: __m256i| {
            let shifted = _mm256_sub_epi8(block, _mm256_set1_epi8(b'0' as i8));
            let nine = _mm256_set1_epi8(9);
            mask(_mm256_cmpeq_epi8(_mm256_max_epu8(shifted, nine), nine))
        };
        LineClasses::of_window_masks(window, equal, || digit(low) | digit(high) << 32)
    }
}

#[cfg(target_arch = "x86_64")]
impl LineClasses<u128> {
    /// The line at `buf[start..]` classified in two 64-byte steps, when it
    /// is shorter than 128 bytes (terminator included) and the buffer
    /// holds 128 bytes from `start`; `None` otherwise. For the lines
    /// [`LineClasses::of_short_line_avx512`] leaves: real trade rows
    /// (the fixture's are 72 bytes on average) would otherwise take eight
    /// 16-byte blocks and the joining of their masks.
    ///
    /// # Safety
    /// The CPU must have AVX-512F and AVX-512BW ([`Simd::detect`]).
    #[target_feature(enable = "avx512f,avx512bw")]
    #[inline]
    pub unsafe fn of_long_line_avx512(buf: &[u8], start: usize) -> Option<LineClasses<u128>> {
        use std::arch::x86_64::{
            __m512i, _mm512_cmpeq_epi8_mask, _mm512_cmple_epu8_mask, _mm512_loadu_si512,
            _mm512_set1_epi8, _mm512_sub_epi8,
        };
        let window = buf.get(start..start + 128)?;
        // SAFETY: `window` is 128 readable bytes and `loadu` has no
        // alignment requirement; the caller vouches for the features.
        let (low, high) = unsafe {
            (
                _mm512_loadu_si512(window.as_ptr().cast::<__m512i>()),
                _mm512_loadu_si512(window[64..].as_ptr().cast::<__m512i>()),
            )
        };
        let join = |low: u64, high: u64| u128::from(high) << 64 | u128::from(low);
        let equal = |byte: u8| {
            let needle = _mm512_set1_epi8(byte as i8);
            join(
                _mm512_cmpeq_epi8_mask(low, needle),
                _mm512_cmpeq_epi8_mask(high, needle),
            )
        };
        // `byte - '0'`, unsigned, is at most 9 exactly for a digit.
        let digits = |block: __m512i| {
            _mm512_cmple_epu8_mask(
                _mm512_sub_epi8(block, _mm512_set1_epi8(b'0' as i8)),
                _mm512_set1_epi8(9),
            )
        };
        LineClasses::of_window_masks(window, equal, || join(digits(low), digits(high)))
    }

    /// [`LineClasses::of_long_line_avx512`] with four 32-byte blocks, for
    /// CPUs with AVX2 but not AVX-512.
    ///
    /// # Safety
    /// The CPU must have AVX2 ([`Simd::detect`]).
    #[target_feature(enable = "avx2")]
    #[inline]
    pub unsafe fn of_long_line_avx2(buf: &[u8], start: usize) -> Option<LineClasses<u128>> {
        use std::arch::x86_64::{
            __m256i, _mm256_cmpeq_epi8, _mm256_loadu_si256, _mm256_max_epu8, _mm256_movemask_epi8,
            _mm256_set1_epi8, _mm256_sub_epi8,
        };
        let window = buf.get(start..start + 128)?;
        // SAFETY: `window` is 128 readable bytes, four unaligned 32-byte
        // loads; the caller vouches for AVX2.
        let blocks: [__m256i; 4] = std::array::from_fn(|block| unsafe {
            _mm256_loadu_si256(window[32 * block..].as_ptr().cast::<__m256i>())
        });
        let join = |mask_of: &dyn Fn(__m256i) -> __m256i| {
            let mask = |block: __m256i| u128::from(_mm256_movemask_epi8(mask_of(block)) as u32);
            mask(blocks[0]) | mask(blocks[1]) << 32 | mask(blocks[2]) << 64 | mask(blocks[3]) << 96
        };
        let equal = |byte: u8| {
            let needle = _mm256_set1_epi8(byte as i8);
            join(&|block| _mm256_cmpeq_epi8(block, needle))
        };
        // As in `of_short_line_avx2`: a digit is exactly a byte whose
        // max(byte - '0', 9) is 9.
        let digits = || {
            let nine = _mm256_set1_epi8(9);
            join(&|block| {
                let shifted = _mm256_sub_epi8(block, _mm256_set1_epi8(b'0' as i8));
                _mm256_cmpeq_epi8(_mm256_max_epu8(shifted, nine), nine)
            })
        };
        LineClasses::of_window_masks(window, equal, digits)
    }
}

#[cfg(target_arch = "x86_64")]
impl<M: Mask> LineClasses<M> {
    /// The line at the start of a `window` of as many bytes as `M` has
    /// bits, from the masks of the window: `equal(byte)` marks where `byte`
    /// is, `digits()` where a digit is. `None` when the window holds no
    /// newline. Shared by the wide paths, each of which inlines it with its
    /// own instructions.
    #[inline(always)]
    fn of_window_masks(
        window: &[u8],
        equal: impl Fn(u8) -> M,
        digits: impl FnOnce() -> M,
    ) -> Option<LineClasses<M>> {
        let newlines = equal(b'\n');
        if newlines == M::default() {
            return None;
        }
        let end = newlines.lowest_index();
        let len = if end > 0 && window[end - 1] == b'\r' {
            end - 1
        } else {
            end
        };
        let keep = M::span(0, len);
        Some(LineClasses {
            len,
            next: end + 1,
            commas: equal(b',') & keep,
            quotes: equal(b'"') & keep,
            non_digits: !digits() & keep,
            zeros: equal(b'0') & keep,
            dots: equal(b'.') & keep,
        })
    }
}

/// The classes of 64 bytes of a line, filled one block at a time.
#[derive(Clone, Copy, Default)]
struct Half {
    commas: u64,
    quotes: u64,
    non_digits: u64,
    zeros: u64,
    dots: u64,
}

impl Half {
    #[inline]
    fn add(&mut self, masks: &BlockMasks, shift: usize) {
        self.commas |= u64::from(masks.commas) << shift;
        self.quotes |= u64::from(masks.quotes) << shift;
        self.non_digits |= u64::from(masks.non_digits) << shift;
        self.zeros |= u64::from(masks.zeros) << shift;
        self.dots |= u64::from(masks.dots) << shift;
    }
}

/// The masks of the 16 bytes at `buf[at..]`. Past the buffer's end the
/// block is padded, and a newline marks where the buffer (so the line)
/// ends.
#[inline]
fn block_at(buf: &[u8], at: usize) -> BlockMasks {
    match buf.get(at..at + 16) {
        Some(bytes) => classify_block(bytes),
        None => {
            let mut padded = [0u8; 16];
            let tail = &buf[at.min(buf.len())..];
            padded[..tail.len()].copy_from_slice(tail);
            let mut masks = classify_block(&padded);
            masks.newlines |= 1 << tail.len();
            masks
        }
    }
}

/// One field of a classified line: its bits and where it lies.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FieldBits<M = u128> {
    /// The bits of the field's bytes (no bit for an empty field).
    pub mask: M,
    /// Where the field starts in the line.
    pub start: usize,
    /// Where it ends (its comma, or the end of the content).
    pub end: usize,
}

/// Most fields a line may have for the mask check; a file with more
/// columns takes the byte path (it would need a row of 32 fields in under
/// 128 bytes to miss this one).
const MAX_SPLIT_FIELDS: usize = 32;

/// A classified line split at its commas: field `i` is
/// `edges[i]..edges[i + 1] - 1`. Finding every comma costs two
/// instructions a field; a field's bits are then made only for the
/// columns a check reads.
pub struct SplitLine {
    edges: [u8; MAX_SPLIT_FIELDS + 1],
}

impl SplitLine {
    /// An empty split, to be filled by [`SplitLine::split`].
    #[allow(clippy::new_without_default)]
    pub fn new() -> SplitLine {
        SplitLine {
            edges: [0; MAX_SPLIT_FIELDS + 1],
        }
    }

    /// Splits a line that has exactly `count` fields and no quote (the
    /// byte path strips quotes); false for any other.
    // Filled in place, never returned: moving the array after its bytes
    // were stored one by one made the processor wait for every store
    // (a store-forwarding stall, a third of the check's time).
    #[inline(always)]
    pub fn split<M: Mask>(&mut self, classes: &LineClasses<M>, count: usize) -> bool {
        let Some(separators) = classes.separators(count) else {
            return false;
        };
        if count > MAX_SPLIT_FIELDS {
            return false;
        }
        let mut rest = separators;
        for edge in &mut self.edges[1..=count] {
            *edge = rest.lowest_index() as u8 + 1;
            rest = rest & rest.below();
        }
        true
    }

    /// Where field `index` (below the count the line was split for) lies.
    #[inline(always)]
    pub fn span(&self, index: u8) -> Range<usize> {
        // Every index is below the field count, so at most 31: the
        // remainder only lets the compiler drop the bounds checks.
        let index = usize::from(index) % MAX_SPLIT_FIELDS;
        usize::from(self.edges[index])..usize::from(self.edges[index + 1]) - 1
    }

    /// Field `index`, with its bits.
    #[inline(always)]
    pub fn field<M: Mask>(&self, index: u8) -> FieldBits<M> {
        let Range { start, end } = self.span(index);
        FieldBits {
            mask: M::span(start, end),
            start,
            end,
        }
    }
}

/// Where the fields of a classified line are: [`SplitLine`], or
/// [`SeparatorBits`] on CPUs with BMI2.
pub trait FieldLocator<M: Mask> {
    /// Where field `index` (below the line's field count) lies.
    fn span(&self, index: u8) -> Range<usize>;
    /// Field `index`, with its bits.
    fn field(&self, index: u8) -> FieldBits<M>;
}

impl<M: Mask> FieldLocator<M> for SplitLine {
    #[inline(always)]
    fn span(&self, index: u8) -> Range<usize> {
        SplitLine::span(self, index)
    }
    #[inline(always)]
    fn field(&self, index: u8) -> FieldBits<M> {
        SplitLine::field(self, index)
    }
}

/// A line's fields found from the bits of its separators alone, field by
/// field, with BMI2's `pdep`: the end of field `i` is the `i`th separator
/// ([`Mask::nth_set_bit`]), its start the `i`th of the bits one past each
/// comma and bit 0.
/// Nothing is stored, so a check pays only for the fields it reads, where
/// [`SplitLine`] finds every comma and stores it first, and each field's
/// bounds are then loaded back. Routing an order row took 531
/// instructions this way against 578 (callgrind), and extraction 5 %
/// less time (BENCHMARKS.md).
#[derive(Clone, Copy)]
pub struct SeparatorBits<M> {
    /// The line's commas and the bit just past its content: where each
    /// field ends.
    ends: M,
    /// Bit 0 and the bit after each comma: where each field starts.
    starts: M,
}

impl<M: Mask> SeparatorBits<M> {
    /// The separators of a line with exactly `count` fields and no quote
    /// (the byte path strips quotes); `None` for any other.
    ///
    /// # Safety
    /// On x86_64 the CPU must have BMI2, which every level of [`Simd`] but
    /// [`Simd::Portable`] has.
    #[inline(always)]
    pub unsafe fn new(classes: &LineClasses<M>, count: usize) -> Option<SeparatorBits<M>> {
        let ends = classes.separators(count)?;
        // A comma is before the content's end, so the shift keeps it.
        let starts = classes.commas << 1 | M::ONE;
        Some(SeparatorBits { ends, starts })
    }
}

impl<M: Mask> FieldLocator<M> for SeparatorBits<M> {
    #[inline(always)]
    fn span(&self, index: u8) -> Range<usize> {
        let field = self.field(index);
        field.start..field.end
    }

    #[inline(always)]
    fn field(&self, index: u8) -> FieldBits<M> {
        let index = usize::from(index);
        // SAFETY: `new`'s caller vouched for BMI2.
        let (start_bit, end_bit) =
            unsafe { (self.starts.nth_set_bit(index), self.ends.nth_set_bit(index)) };
        // Every index is below the field count, so both bits are set:
        // the bits from one up to the other are the field's.
        FieldBits {
            mask: end_bit.below() & !start_bit.below(),
            start: start_bit.lowest_index(),
            end: end_bit.lowest_index(),
        }
    }
}

/// A line's fields taken in the order they come, each ending at the lowest
/// separator not yet taken: a handful of bit operations a field, and no
/// `pdep`, no stores. For checks that read every field front to back,
/// which a header in the spec's column order allows ([`Layout`]'s fast
/// case); [`SeparatorBits`] serves any other order.
///
/// [`Layout`]: super::Layout
pub struct FieldWalk<M> {
    /// The separators of the fields not yet taken.
    rest: M,
    /// The bit where the next field starts.
    start_bit: M,
    /// Where the next field starts.
    start: usize,
}

impl<M: Mask> FieldWalk<M> {
    /// A walk over the fields of a line with exactly `count` fields and no
    /// quote (the byte path strips quotes); `None` for any other.
    #[inline(always)]
    pub fn new(classes: &LineClasses<M>, count: usize) -> Option<FieldWalk<M>> {
        Some(FieldWalk {
            rest: classes.separators(count)?,
            start_bit: M::ONE,
            start: 0,
        })
    }

    /// The next field. Called at most once per field of the line (past
    /// the last there is no separator left, and the bounds are meaningless).
    #[inline(always)]
    pub fn next_field(&mut self) -> FieldBits<M> {
        let end_bit = self.rest.lowest();
        let end = self.rest.lowest_index();
        self.rest = self.rest & self.rest.below();
        // Both are single bits, `start_bit` not above `end_bit`: their
        // difference is the bits from one up to the other.
        let field = FieldBits {
            mask: end_bit.wrapping_sub(self.start_bit),
            start: self.start,
            end,
        };
        self.start_bit = end_bit << 1;
        self.start = end + 1;
        field
    }
}

impl<M: Mask> LineClasses<M> {
    /// The classes of the line's bytes from `base` on (at most the line's
    /// length), in 64 bits, when fewer than 64 of them are left: a long
    /// line's fields after its first few, checked one register at a time.
    #[inline(always)]
    pub fn narrowed_from(&self, base: usize) -> Option<LineClasses<u64>> {
        let len = self.len.checked_sub(base)?;
        // `base` is at most the length, so below 128.
        let cut = |mask: M| (mask.widen() >> base) as u64;
        (len < 64).then(|| LineClasses {
            len,
            next: self.next - base,
            commas: cut(self.commas),
            quotes: cut(self.quotes),
            non_digits: cut(self.non_digits),
            zeros: cut(self.zeros),
            dots: cut(self.dots),
        })
    }
}

/// Checks of one field by its bits. Each answers exactly what its
/// byte-by-byte counterpart in [`values`] answers for the same field (the
/// tests compare them).
impl<M: Mask> LineClasses<M> {
    /// The line's commas and the bit just past its content, when it has
    /// exactly `count` fields and no quote (the byte path strips quotes).
    #[inline(always)]
    fn separators(&self, count: usize) -> Option<M> {
        let separators = self.commas | M::ONE << self.len;
        (self.quotes == M::default() && separators.count() == count).then_some(separators)
    }

    /// [`values::is_u64`].
    #[inline(always)]
    pub fn is_u64(&self, line: &[u8], field: FieldBits<M>) -> bool {
        match field.end - field.start {
            0 => false,
            // Nineteen digits always fit in 64 bits.
            1..=19 => self.non_digits & field.mask == M::default(),
            _ => values::is_u64(&line[field.start..field.end]),
        }
    }

    /// [`values::is_u64`] and not all zeros (an `order_id`).
    #[inline(always)]
    pub fn is_positive_u64(&self, line: &[u8], field: FieldBits<M>) -> bool {
        self.is_u64(line, field) && self.nonzero_digits() & field.mask != M::default()
    }

    /// [`values::decimal_is_positive`]: digits with at most one dot, at
    /// least one digit; `Some(true)` when a digit is not zero.
    #[inline(always)]
    pub fn decimal_is_positive(&self, field: FieldBits<M>) -> Option<bool> {
        let none = M::default();
        let non_digits = self.non_digits & field.mask;
        // At most one bit set: it is its own lowest (one `blsi`, where
        // clearing the lowest bit took three instructions).
        let single_dot_at_most = non_digits == non_digits.lowest();
        let has_digit = field.mask & !non_digits != none;
        (non_digits == self.dots & field.mask && single_dot_at_most && has_digit)
            .then_some(self.nonzero_digits() & field.mask != none)
    }

    /// [`values::is_valid_time`]: `HH:MM:SS` (at most 23:59:59) with an
    /// optional `.` and 1–9 digits.
    #[inline(always)]
    pub fn is_valid_time(&self, line: &[u8], field: FieldBits<M>) -> bool {
        let len = field.end - field.start;
        if len != 8 && !(10..=18).contains(&len) {
            return false;
        }
        let first = field.mask.lowest();
        let dot = if len > 8 { first << 8 } else { M::default() };
        let Some(head) = line[field.start..].first_chunk::<8>() else {
            return false;
        };
        // Its first eight bytes as one word, the first byte lowest: the
        // colons, and the tens of the minutes and seconds, are tested at
        // once there, not one byte at a time.
        let head = u64::from_le_bytes(*head);
        const COLONS: u64 = u64::from_le_bytes(*b"\0\0:\0\0:\0\0");
        const COLON_BYTES: u64 = u64::from_le_bytes([0, 0, 0xff, 0, 0, 0xff, 0, 0]);
        const TENS: u64 = u64::from_le_bytes([0, 0, 0, 0xff, 0, 0, 0xff, 0]);
        // Added to a digit, this sets its top bit exactly when it is above
        // `5` (and carries nothing into the next byte).
        const ABOVE_FIVE: u64 = u64::from_le_bytes([0, 0, 0, 0x80 - b'6', 0, 0, 0x80 - b'6', 0]);
        const TOP_BITS: u64 = 0x8080_8080_8080_8080;
        // `&`, not `&&`: every test is cheap, and one well-predicted branch
        // at the end beats a branch for each. Bytes 2 and 5 are colons and
        // byte 8, when there is a fraction, a dot; every other byte of the
        // field is a digit (so a colon or dot elsewhere fails too).
        let shape = (self.non_digits & field.mask == first << 2 | first << 5 | dot)
            & (head & COLON_BYTES == COLONS)
            & (self.dots & dot == dot);
        // The shape says these are digits, so comparing the characters
        // compares the numbers: hours up to 23, minutes and seconds up to 59.
        let hours = (head as u16).swap_bytes();
        let tens_above_five = ((head & TENS) + ABOVE_FIVE) & TOP_BITS;
        shape & (hours <= u16::from_be_bytes(*b"23")) & (tens_above_five == 0)
    }

    /// Bits of the digits `1`–`9`.
    fn nonzero_digits(&self) -> M {
        !(self.non_digits | self.zeros)
    }
}

#[cfg(target_arch = "x86_64")]
#[inline]
fn classify_block(bytes: &[u8]) -> BlockMasks {
    use std::arch::x86_64::{
        __m128i, _mm_and_si128, _mm_cmpeq_epi8, _mm_cmpgt_epi8, _mm_cmplt_epi8, _mm_loadu_si128,
        _mm_movemask_epi8, _mm_set1_epi8,
    };
    assert!(bytes.len() >= 16);
    // SAFETY: SSE2 is part of the x86_64 baseline, so every x86_64 CPU has
    // these instructions; the assertion guarantees the 16 readable bytes the
    // load reads, and `loadu` has no alignment requirement.
    unsafe {
        let block = _mm_loadu_si128(bytes.as_ptr().cast::<__m128i>());
        let equal =
            |byte: u8| _mm_movemask_epi8(_mm_cmpeq_epi8(block, _mm_set1_epi8(byte as i8))) as u16;
        // Signed compares: bytes ≥ 0x80 are negative, so never digits.
        let digits = _mm_and_si128(
            _mm_cmpgt_epi8(block, _mm_set1_epi8((b'0' - 1) as i8)),
            _mm_cmplt_epi8(block, _mm_set1_epi8((b'9' + 1) as i8)),
        );
        BlockMasks {
            newlines: equal(b'\n'),
            commas: equal(b','),
            quotes: equal(b'"'),
            non_digits: !(_mm_movemask_epi8(digits) as u16),
            zeros: equal(b'0'),
            dots: equal(b'.'),
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn classify_block(bytes: &[u8]) -> BlockMasks {
    classify_block_portable(bytes)
}

/// The same masks from two 8-byte words: each class test leaves the high
/// bit of every matching byte set, and a multiply gathers those eight bits
/// into one byte.
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
fn classify_block_portable(bytes: &[u8]) -> BlockMasks {
    const HIGH: u64 = 0x8080_8080_8080_8080;
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    const ONES: u64 = 0x0101_0101_0101_0101;
    let equal = |word: u64, needle: u8| {
        let diff = word ^ (ONES * u64::from(needle));
        !(((diff & LOW7) + LOW7) | diff | LOW7)
    };
    // `t = byte ^ '0'` is below 10 exactly for a digit; adding 0x76 to its
    // low seven bits carries into the high bit exactly when it is not.
    let non_digit = |word: u64| {
        let t = word ^ (ONES * u64::from(b'0'));
        (((t & LOW7) + ONES * 0x76) | t) & HIGH
    };
    let gather =
        |high_bits: u64| ((high_bits >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56) as u16;
    let mut masks = BlockMasks::default();
    for (half, word) in bytes[..16].chunks_exact(8).enumerate() {
        let mut array = [0u8; 8];
        array.copy_from_slice(word);
        let word = u64::from_le_bytes(array);
        let shift = 8 * half;
        masks.newlines |= gather(equal(word, b'\n')) << shift;
        masks.commas |= gather(equal(word, b',')) << shift;
        masks.quotes |= gather(equal(word, b'"')) << shift;
        masks.non_digits |= gather(non_digit(word)) << shift;
        masks.zeros |= gather(equal(word, b'0')) << shift;
        masks.dots |= gather(equal(word, b'.')) << shift;
    }
    masks
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference_block(bytes: &[u8]) -> BlockMasks {
        let mask = |test: &dyn Fn(u8) -> bool| {
            bytes[..16]
                .iter()
                .enumerate()
                .filter(|(_, b)| test(**b))
                .map(|(i, _)| 1u16 << i)
                .sum::<u16>()
        };
        BlockMasks {
            newlines: mask(&|b| b == b'\n'),
            commas: mask(&|b| b == b','),
            quotes: mask(&|b| b == b'"'),
            non_digits: mask(&|b| !b.is_ascii_digit()),
            zeros: mask(&|b| b == b'0'),
            dots: mask(&|b| b == b'.'),
        }
    }

    #[test]
    fn blocks_are_classified_exactly_by_both_methods() {
        // Every byte value in every lane, among varied neighbours.
        let fillers = [b'0', b'9', b',', 0x80, b'\n'];
        for lane in 0..16 {
            for byte in 0..=255u8 {
                for filler in fillers {
                    let mut block = [filler; 16];
                    block[lane] = byte;
                    let expected = reference_block(&block);
                    assert_eq!(classify_block(&block), expected, "{block:?}");
                    assert_eq!(classify_block_portable(&block), expected, "{block:?}");
                }
            }
        }
    }

    #[test]
    fn lines_end_where_they_should() {
        let buf = b"12,a.b:\"0\r\nxy\n\nlast";
        let first = LineClasses::of_line(buf, 0).unwrap();
        assert_eq!((first.len, first.next), (9, 11));
        assert_eq!(first.commas, 1 << 2);
        assert_eq!(first.quotes, 1 << 7);
        assert_eq!(first.zeros, 1 << 8);
        assert_eq!(first.dots, 1 << 4);
        assert_eq!(first.non_digits, bit_range(2, 8));
        let second = LineClasses::of_line(buf, 11).unwrap();
        assert_eq!((second.len, second.next), (2, 3));
        let blank = LineClasses::of_line(buf, 14).unwrap();
        assert_eq!((blank.len, blank.next), (0, 1));
        let last = LineClasses::of_line(buf, 15).unwrap();
        assert_eq!((last.len, last.next), (4, 4));
        assert_eq!(last.non_digits, bit_range(0, 4));
    }

    /// Every field of a classified line without quotes, in order.
    fn fields_of<M: Mask>(classes: &LineClasses<M>) -> Vec<FieldBits<M>> {
        let count = (classes.commas | M::ONE << classes.len).count();
        let mut split = SplitLine::new();
        assert!(split.split(classes, count), "splits into {count} fields");
        (0..count as u8).map(|index| split.field(index)).collect()
    }

    /// The field of `classes` that spans `start..end`, found by the split
    /// (which the splitting test checks on its own).
    fn field_bits(classes: &LineClasses, start: usize, end: usize) -> FieldBits {
        let field = fields_of(classes)
            .into_iter()
            .find(|field| field.start == start)
            .expect("a field starts there");
        assert_eq!(field.end, end);
        assert_eq!(field.mask, bit_range(start, end));
        field
    }

    /// Lines with empty fields at either end and in the middle, and many.
    const SPLIT_CASES: [&str; 6] = [
        "",
        ",",
        "a",
        "a,bc,,d",
        ",x,",
        "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17",
    ];

    #[test]
    fn fields_are_split_at_every_comma() {
        for line in SPLIT_CASES {
            let classes = LineClasses::of_line(line.as_bytes(), 0).unwrap();
            let got: Vec<(usize, usize, u128)> = fields_of(&classes)
                .into_iter()
                .map(|f| (f.start, f.end, f.mask))
                .collect();
            let mut expected = Vec::new();
            let mut start = 0;
            for piece in line.split(',') {
                let end = start + piece.len();
                expected.push((start, end, bit_range(start, end)));
                start = end + 1;
            }
            assert_eq!(got, expected, "{line:?}");
        }
    }

    /// Every string over `alphabet` of length 0..=`max_len`, as a field
    /// somewhere in a line.
    fn for_each_field(
        alphabet: &[u8],
        max_len: u32,
        mut check: impl FnMut(&[u8], &LineClasses, FieldBits),
    ) {
        let mut field = Vec::new();
        for len in 0..=max_len {
            for code in 0..alphabet.len().pow(len) {
                field.clear();
                let mut c = code;
                for _ in 0..len {
                    field.push(alphabet[c % alphabet.len()]);
                    c /= alphabet.len();
                }
                for (before, after) in [(&b""[..], &b""[..]), (b"9,0.,", b",1:0.\r\n")] {
                    let mut line = before.to_vec();
                    line.extend_from_slice(&field);
                    line.extend_from_slice(after);
                    let classes = LineClasses::of_line(&line, 0).expect("short line");
                    let (start, end) = (before.len(), before.len() + field.len());
                    check(&line, &classes, field_bits(&classes, start, end));
                }
            }
        }
    }

    #[test]
    fn narrow_masks_answer_like_wide_ones() {
        let narrow = |field: FieldBits| FieldBits {
            mask: field.mask as u64,
            start: field.start,
            end: field.end,
        };
        for_each_field(b"0.:5a", 6, |line, wide, bits| {
            let short = wide.narrow::<u64>().expect("short line");
            let fields: Vec<_> = fields_of(wide).into_iter().map(narrow).collect();
            assert_eq!(fields_of(&short), fields);
            assert_eq!(short.is_u64(line, narrow(bits)), wide.is_u64(line, bits));
            assert_eq!(
                short.is_positive_u64(line, narrow(bits)),
                wide.is_positive_u64(line, bits)
            );
            assert_eq!(
                short.decimal_is_positive(narrow(bits)),
                wide.decimal_is_positive(bits)
            );
        });
        let line = b"x,09:30:00.123456,y";
        let wide = LineClasses::of_line(line, 0).unwrap();
        let short = wide.narrow::<u64>().unwrap();
        let time = field_bits(&wide, 2, 17);
        assert!(wide.is_valid_time(line, time));
        assert!(short.is_valid_time(line, narrow(time)));
        // 64 bytes and more do not fit.
        assert!(
            LineClasses::of_line(&[b'1'; 63], 0)
                .unwrap()
                .narrow::<u64>()
                .is_some()
        );
        assert!(
            LineClasses::of_line(&[b'1'; 64], 0)
                .unwrap()
                .narrow::<u64>()
                .is_none()
        );
    }

    #[test]
    fn integers_agree_with_the_byte_checks() {
        for_each_field(b"0x1", 9, |line, classes, bits| {
            let field = &line[bits.start..bits.end];
            assert_eq!(
                classes.is_u64(line, bits),
                values::is_u64(field),
                "{field:?}"
            );
            assert_eq!(
                classes.is_positive_u64(line, bits),
                values::is_u64(field) && field.iter().any(|&b| b != b'0'),
                "{field:?}"
            );
        });
        for text in [
            "18446744073709551615",
            "18446744073709551616",
            "00000000000000000001",
            "1844674407370955161",
        ] {
            let line = text.as_bytes();
            let classes = LineClasses::of_line(line, 0).unwrap();
            assert_eq!(
                classes.is_u64(line, field_bits(&classes, 0, line.len())),
                values::is_u64(line),
                "{text}"
            );
        }
    }

    #[test]
    fn decimals_agree_with_the_byte_checks() {
        for_each_field(b"0.5/", 8, |line, classes, bits| {
            let field = &line[bits.start..bits.end];
            assert_eq!(
                classes.decimal_is_positive(bits),
                values::decimal_is_positive(field),
                "{field:?}"
            );
        });
    }

    #[test]
    fn times_agree_with_the_byte_checks() {
        let mut checked = 0;
        // Every byte of a time replaced by digits, separators and a
        // stranger, around valid and boundary values, cut at every length.
        for base in [
            "09:30:00",
            "23:59:59",
            "24:00:00",
            "19:60:00",
            "00:00:60",
            "09:30:00.1",
            "09:30:00.123456",
            "09:30:00.123456789",
            "09:30:00.1234567890",
        ] {
            let base = base.as_bytes();
            for at in 0..base.len() {
                for replacement in [b'0', b'5', b'9', b':', b'.', b'a', b'/', 0xff] {
                    let mut field = base.to_vec();
                    field[at] = replacement;
                    for cut in 0..=field.len() {
                        let mut line = b"x,".to_vec();
                        line.extend_from_slice(&field[..cut]);
                        line.extend_from_slice(b",9");
                        let classes = LineClasses::of_line(&line, 0).unwrap();
                        assert_eq!(
                            classes.is_valid_time(&line, field_bits(&classes, 2, 2 + cut)),
                            values::is_valid_time(&field[..cut]),
                            "{:?}",
                            String::from_utf8_lossy(&field[..cut])
                        );
                        checked += 1;
                    }
                }
            }
        }
        assert!(checked > 5_000);
    }

    /// Checks a wide classification, `wide(start)`, against the block
    /// path, `blocks(start)`, at every start position of `buf`: equal where
    /// it answers, and declining only where fewer than `window` bytes are
    /// left or they hold no newline. Returns how many lines it answered.
    #[cfg(target_arch = "x86_64")]
    fn agrees_with_blocks<M: Mask>(
        buf: &[u8],
        window: usize,
        wide: impl Fn(usize) -> Option<LineClasses<M>>,
        blocks: impl Fn(usize) -> Option<LineClasses<M>>,
        simd: Simd,
    ) -> usize {
        let mut checked = 0;
        for start in 0..buf.len() {
            match wide(start) {
                Some(classes) => {
                    assert_eq!(Some(classes), blocks(start), "{simd:?} at {start}");
                    checked += 1;
                }
                None => assert!(
                    buf.len() - start < window || !buf[start..start + window].contains(&b'\n'),
                    "{simd:?} declined at {start}"
                ),
            }
        }
        checked
    }

    /// The levels wider than the portable one this CPU has.
    #[cfg(target_arch = "x86_64")]
    fn wide_levels() -> impl Iterator<Item = Simd> {
        Simd::available()
            .into_iter()
            .filter(|simd| *simd != Simd::Portable)
    }

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn wide_classification_equals_the_portable_one() {
        // Lines of every length around 64 bytes, of bytes from every class,
        // at every start position in a buffer.
        let alphabet = b"0123456789,.:\"\r\nAz-\xff";
        let mut next = crate::test_support::xorshift(0x2545_f491_4f6c_dd1d);
        let mut buf = Vec::new();
        for _ in 0..4_000 {
            let state = next();
            // Newlines rarer than other bytes, so that long lines occur.
            let byte = alphabet[(state >> 33) as usize % alphabet.len()];
            buf.push(if byte == b'\n' && !state.is_multiple_of(5) {
                b'7'
            } else {
                byte
            });
        }
        let mut checked = 0;
        for simd in wide_levels() {
            // SAFETY: `Simd::available` lists only what the CPU has.
            let wide = |start| unsafe {
                match simd {
                    Simd::Portable => unreachable!("not a wide level"),
                    Simd::Avx2 => LineClasses::of_short_line_avx2(&buf, start),
                    Simd::Avx512 => LineClasses::of_short_line_avx512(&buf, start),
                }
            };
            let blocks = |start| LineClasses::of_line(&buf, start).and_then(|c| c.narrow::<u64>());
            checked += agrees_with_blocks(&buf, 64, wide, blocks, simd);
        }
        if Simd::detect() != Simd::Portable {
            assert!(checked > 1_000);
        }
    }

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn long_line_classification_equals_the_portable_one() {
        if Simd::detect() == Simd::Portable {
            return;
        }
        // Lines of every length up to past 128 bytes, of bytes from every
        // class, at every start position in a buffer.
        let alphabet = b"0123456789,.:\"\rAz-\xff";
        let mut next = crate::test_support::xorshift(0x9e37_79b9_7f4a_7c15);
        let mut buf = Vec::new();
        while buf.len() < 8_000 {
            let len = (next() % 140) as usize;
            buf.extend((0..len).map(|_| alphabet[(next() >> 33) as usize % alphabet.len()]));
            buf.push(b'\n');
        }
        for simd in wide_levels() {
            // SAFETY: `Simd::available` lists only what the CPU has.
            let wide = |start| unsafe {
                match simd {
                    Simd::Portable => unreachable!("not a wide level"),
                    Simd::Avx2 => LineClasses::of_long_line_avx2(&buf, start),
                    Simd::Avx512 => LineClasses::of_long_line_avx512(&buf, start),
                }
            };
            let blocks = |start| LineClasses::of_line(&buf, start);
            let checked = agrees_with_blocks(&buf, 128, wide, blocks, simd);
            assert!(checked > 4_000, "{simd:?}");
        }
    }

    #[test]
    fn long_lines_are_left_to_the_byte_path() {
        for len in 120..140 {
            let mut buf = vec![b'7'; len];
            buf.push(b'\n');
            let classes = LineClasses::of_line(&buf, 0);
            assert_eq!(classes.is_some(), len <= MAX_CLASSIFIED_LEN, "{len}");
            if let Some(classes) = classes {
                assert_eq!((classes.len, classes.next), (len, len + 1));
                assert_eq!(classes.non_digits, 0);
            }
            // Without a terminator, at the end of the buffer.
            buf.pop();
            assert_eq!(
                LineClasses::of_line(&buf, 0).map(|c| (c.len, c.next)),
                (len <= MAX_CLASSIFIED_LEN).then_some((len, len)),
                "{len}"
            );
        }
    }

    /// True when [`Mask::nth_set_bit`] may run here (BMI2 on x86_64).
    fn has_bmi2() -> bool {
        #[cfg(target_arch = "x86_64")]
        return std::arch::is_x86_feature_detected!("bmi2");
        #[cfg(not(target_arch = "x86_64"))]
        return true;
    }

    #[test]
    fn the_nth_set_bit_is_found_in_both_widths() {
        if !has_bmi2() {
            return;
        }
        let reference = |mask: u128, n: usize| {
            (0..128)
                .map(|bit| 1u128 << bit)
                .filter(|bit| mask & bit != 0)
                .nth(n)
                .unwrap_or(0)
        };
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut masks = vec![0u128, 1, u128::MAX, 1 << 127, 1 << 64 | 1 << 63];
        for _ in 0..200 {
            // xorshift: masks dense and sparse in either half.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let low = state & state.rotate_left(7);
            masks.push(u128::from(low) << (state % 65) | u128::from(state >> 40));
        }
        for mask in masks {
            for n in 0..128 {
                // SAFETY: BMI2 was detected above.
                let wide = unsafe { mask.nth_set_bit(n) };
                assert_eq!(wide, reference(mask, n), "{mask:#x} {n}");
                if n < 64 {
                    let narrow = mask as u64;
                    // SAFETY: as above.
                    let got = unsafe { narrow.nth_set_bit(n) };
                    assert_eq!(u128::from(got), reference(u128::from(narrow), n));
                }
            }
        }
    }

    #[test]
    fn separator_bits_locate_every_field_as_the_split_does() {
        if !has_bmi2() {
            return;
        }
        let long = "1,22,333,4444,55555,666666,7777777,88888888,999999999,,x,".repeat(3);
        let row = "2024-01-02,600089,1,09:30:00.002826,S,12.24,400,L";
        // A row, and lines that take 128-bit masks.
        for line in SPLIT_CASES
            .into_iter()
            .chain([row, &long[..100], &long[..126]])
        {
            let classes = LineClasses::of_line(line.as_bytes(), 0).unwrap();
            let count = (classes.commas | 1 << classes.len).count();
            let mut split = SplitLine::new();
            assert!(split.split(&classes, count));
            // SAFETY: BMI2 was detected above.
            let wide = unsafe { SeparatorBits::new(&classes, count) }.unwrap();
            // SAFETY: as above.
            assert!(unsafe { SeparatorBits::new(&classes, count + 1) }.is_none());
            let short = classes.narrow::<u64>();
            for index in 0..count as u8 {
                let expected: FieldBits = split.field(index);
                assert_eq!(wide.field(index), expected, "{line:?} {index}");
                assert_eq!(FieldLocator::span(&wide, index), split.span(index));
                if let Some(short) = &short {
                    // SAFETY: as above.
                    let bits = unsafe { SeparatorBits::new(short, count) }.unwrap();
                    let field = bits.field(index);
                    assert_eq!(
                        (u128::from(field.mask), field.start, field.end),
                        (expected.mask, expected.start, expected.end)
                    );
                }
            }
        }
        let quoted = LineClasses::of_line(b"a,\"b\",c", 0).unwrap();
        // SAFETY: as above.
        assert!(unsafe { SeparatorBits::new(&quoted, 3) }.is_none());
    }

    #[test]
    fn a_long_line_narrowed_from_a_byte_is_its_rest_classified() {
        let line = "2023-02-01,600519.SH,8502,09:25:00.940000,1854.98,100,113304,38420,S\"x:.0";
        let line = format!("{line}{line}");
        for len in [64, 70, 100, 125] {
            let buf = format!("{}\r\n", &line[..len]);
            let classes = LineClasses::of_line(buf.as_bytes(), 0).unwrap();
            for base in 0..=len + 1 {
                let narrowed = classes.narrowed_from(base);
                if base > len || len - base >= 64 {
                    assert_eq!(narrowed, None, "{len} {base}");
                    continue;
                }
                let rest = LineClasses::of_line(&buf.as_bytes()[base..], 0).unwrap();
                assert_eq!(narrowed, rest.narrow::<u64>(), "{len} {base}");
            }
        }
    }

    #[test]
    fn a_field_walk_takes_every_field_in_turn_as_the_split_finds_it() {
        let long = "1,22,333,4444,55555,666666,7777777,88888888,999999999,,x,".repeat(3);
        let row = "2024-01-02,600089,1,09:30:00.002826,S,12.24,400,L";
        for line in SPLIT_CASES.into_iter().chain([
            row,
            &long[..63],
            &long[..64],
            &long[..100],
            &long[..126],
        ]) {
            let classes = LineClasses::of_line(line.as_bytes(), 0).unwrap();
            let count = (classes.commas | 1 << classes.len).count();
            let mut split = SplitLine::new();
            assert!(split.split(&classes, count));
            assert!(FieldWalk::new(&classes, count + 1).is_none());
            assert!(FieldWalk::new(&classes, count - 1).is_none());
            let mut wide = FieldWalk::new(&classes, count).unwrap();
            let short = classes.narrow::<u64>();
            let mut narrow = short
                .as_ref()
                .map(|short| FieldWalk::new(short, count).unwrap());
            for index in 0..count as u8 {
                let expected: FieldBits = split.field(index);
                assert_eq!(wide.next_field(), expected, "{line:?} {index}");
                if let Some(narrow) = &mut narrow {
                    let field = narrow.next_field();
                    assert_eq!(
                        (u128::from(field.mask), field.start, field.end),
                        (expected.mask, expected.start, expected.end),
                        "{line:?} {index}"
                    );
                }
            }
        }
        let quoted = LineClasses::of_line(b"a,\"b\",c", 0).unwrap();
        assert!(FieldWalk::new(&quoted, 3).is_none());
    }
}
