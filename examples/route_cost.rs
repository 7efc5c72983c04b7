//! Routing's cost per row on the rows of a real file, at each SIMD level
//! this CPU has: what one worker spends on a chunk before any writing.
//! The file is read into memory first and cut into chunks of about the
//! size extraction's default makes (50,000 rows of 52 bytes), so the
//! figures leave the disk, the page cache and the writers out.
//!
//! ```text
//! cargo run --release --example route_cost -- orders|trades FILE [--once LEVEL]
//!   FILE    a CSV with its header (the first 400 MB is plenty)
//!   --once  route every chunk once at LEVEL (portable | avx2 | avx512)
//!           and print the line count, for an instruction count:
//!           valgrind --tool=callgrind target/release/examples/route_cost \
//!             orders FILE --once avx2
//!           then callgrind_annotate --inclusive=yes: the instructions of
//!           `route_bytes_avx2` (finish_groups included) over the lines.
//! ```
//!
//! Without `--once` it prints, per level, the median of five passes in
//! nanoseconds per line and MB/s. Timings on a shared machine drift; the
//! instruction count does not, which is why BENCHMARKS.md quotes both.
//!
//! `ROUTE_COST_HELD=N` keeps the last N routed chunks before one is
//! routed into again, as extraction's writers hold theirs (about 40 with
//! the default budget): the row copy then writes memory that has left the
//! caches, as it does in a real run. The N chunks are routed once before
//! the clock starts.

use std::collections::VecDeque;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use sweep_pipeline::extract::{RoutedChunk, RowRouter};
use sweep_pipeline::format::classify::Simd;
use sweep_pipeline::format::{FileKind, Layout, chunk_boundaries};

/// About the bytes of one chunk at the default chunk size.
const CHUNK_BYTES: usize = 2_600_000;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("route_cost: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &[String]) -> Result<(), String> {
    let (kind, path, once) = match args {
        [kind, path] => (kind, path, None),
        [kind, path, flag, level] if flag == "--once" => (kind, path, Some(level)),
        _ => return Err("usage: route_cost orders|trades FILE [--once LEVEL]".into()),
    };
    let kind = match kind.as_str() {
        "orders" => FileKind::Orders,
        "trades" => FileKind::Trades,
        other => return Err(format!("{other}: not orders or trades")),
    };
    let held = match std::env::var("ROUTE_COST_HELD") {
        Ok(value) => value
            .parse()
            .map_err(|_| format!("ROUTE_COST_HELD={value}: not a count"))?,
        Err(_) => 0,
    };
    let data = std::fs::read(path).map_err(|e| format!("{path}: {e}"))?;
    let header_end = memchr::memchr(b'\n', &data).ok_or(format!("{path}: no header line"))?;
    let layout = Layout::from_header(kind, &data[..header_end], Path::new(path))
        .map_err(|e| e.to_string())?;
    let chunks = whole_line_chunks(&data[header_end + 1..]);
    let bytes: usize = chunks.iter().map(|chunk| chunk.len()).sum();
    let lines: usize = chunks
        .iter()
        .map(|chunk| memchr::memchr_iter(b'\n', chunk).count())
        .sum();
    if let Some(level) = once {
        let simd = match level.as_str() {
            "portable" => Simd::Portable,
            "avx2" => Simd::Avx2,
            "avx512" => Simd::Avx512,
            other => return Err(format!("{other}: not portable, avx2 or avx512")),
        };
        if !Simd::available().contains(&simd) {
            return Err(format!("this CPU cannot run {level}"));
        }
        route_all(&layout, simd, &chunks, held);
        println!("{lines} lines routed at {simd:?}");
        return Ok(());
    }
    println!(
        "{} chunks, {bytes} bytes, {lines} lines, {:.1} bytes a line",
        chunks.len(),
        bytes as f64 / lines.max(1) as f64
    );
    for simd in Simd::available() {
        let mut seconds: Vec<f64> = (0..5)
            .map(|_| route_all(&layout, simd, &chunks, held).as_secs_f64())
            .collect();
        seconds.sort_by(f64::total_cmp);
        let median = seconds[seconds.len() / 2];
        println!(
            "{simd:?}: {:.1} ns a line, {:.0} MB/s",
            median * 1e9 / lines.max(1) as f64,
            bytes as f64 / median / 1e6
        );
    }
    Ok(())
}

/// Routes every chunk once with one router, as a worker would, each
/// routed chunk recycled once `held` newer ones are kept; returns the time
/// this took. With `held` > 0, that many chunks are routed first, untimed,
/// so that the pass recycles memory the whole time.
fn route_all(layout: &Layout, simd: Simd, chunks: &[&[u8]], held: usize) -> Duration {
    let mut router = RowRouter::new(layout).with_simd(simd);
    let mut kept: VecDeque<RoutedChunk> = (chunks.iter().cycle().take(held))
        .map(|chunk| router.route_bytes(0, chunk))
        .collect();
    let started = Instant::now();
    for (seq, chunk) in chunks.iter().enumerate() {
        kept.push_back(router.route_bytes(seq as u64, chunk));
        if kept.len() > held
            && let Some(oldest) = kept.pop_front()
        {
            router.recycle(oldest);
        }
    }
    started.elapsed()
}

/// `body` cut into chunks of whole lines of about `CHUNK_BYTES`, as the
/// extractor cuts its input.
fn whole_line_chunks(body: &[u8]) -> Vec<&[u8]> {
    let mut start = 0;
    chunk_boundaries(body, CHUNK_BYTES)
        .into_iter()
        .map(|end| {
            let chunk = &body[start..end];
            start = end;
            chunk
        })
        .collect()
}
