//! Benchmarks of the per-partition analyses (SPEC §4), in rows per second
//! (order rows + trade rows of the partition):
//!
//! - `parse`: memory-mapped partition files into columns (reused from one
//!   iteration to the next, as a worker reuses them);
//! - `analyse`: linking, taker metrics and the four files' text, in memory;
//! - `analyse_partition`: the whole thing, files in and out (no fsync).
//!
//! Inputs: one generated partition (the crate's order book simulation, with
//! an aggressor column), and the real SSE fixture when `shared/fixtures` is
//! found beside the checkout.
//!
//! `cargo bench --bench analysis`

use std::hint::black_box;
use std::path::{Path, PathBuf};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sweep_pipeline::analysis::{
    AnalysisOptions, PartitionData, PartitionFiles, analyse, analyse_partition,
};
use sweep_pipeline::generate::{GenerateConfig, generate};

const GENERATED_ORDERS: u64 = 200_000;

struct BenchPartition {
    name: &'static str,
    dir: PathBuf,
    key: String,
    rows: u64,
}

fn generated_partition(root: &Path) -> BenchPartition {
    let config = GenerateConfig {
        output: root.join("generated"),
        dates: 1,
        securities: 1,
        orders_per_partition: Some(GENERATED_ORDERS),
        seed: 7,
        threads: 1,
        with_aggressor: true,
        ..GenerateConfig::default()
    };
    let summary = generate(&config).expect("generate a partition");
    BenchPartition {
        name: "generated",
        dir: config.output,
        key: "2024-01-02/600000".to_owned(),
        rows: summary.orders + summary.trades,
    }
}

fn sse_partition(root: &Path) -> Option<BenchPartition> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let fixture = [
        manifest.join("../shared/fixtures"),
        manifest.join("../../shared/fixtures"),
    ]
    .into_iter()
    .map(|dir| dir.join("sse-600519-2023-02-01"))
    .find(|dir| dir.join("orders.csv").is_file())?;
    let dir = root.join("sse");
    std::fs::create_dir_all(&dir).ok()?;
    std::fs::copy(fixture.join("orders.csv"), dir.join("orders.csv")).ok()?;
    std::fs::copy(
        fixture.join("trades_with_aggressor.csv"),
        dir.join("trades.csv"),
    )
    .ok()?;
    let files = PartitionFiles::open(&dir).ok()?;
    let data = files.parse("2023-02-01/600519.SH").ok()?;
    let rows = (data.orders.len() + data.trades.len()) as u64;
    Some(BenchPartition {
        name: "sse_600519",
        dir,
        key: "2023-02-01/600519.SH".to_owned(),
        rows,
    })
}

fn bench_analysis(c: &mut Criterion) {
    let root = tempfile::tempdir().expect("temporary folder");
    let mut partitions = vec![generated_partition(root.path())];
    partitions.extend(sse_partition(root.path()));

    let mut group = c.benchmark_group("analysis");
    group.sample_size(20);
    for partition in &partitions {
        group.throughput(Throughput::Elements(partition.rows));
        let files = PartitionFiles::open(&partition.dir).expect("open partition");
        // Into recycled columns, as a worker parses partition after partition.
        let mut columns = Some(PartitionData::default());
        group.bench_function(format!("parse/{}", partition.name), |b| {
            b.iter(|| {
                let data = files
                    .parse_into(&partition.key, columns.take().unwrap_or_default())
                    .expect("parse");
                columns = Some(black_box(data));
            })
        });
        let data = files.parse(&partition.key).expect("parse");
        group.bench_function(format!("analyse/{}", partition.name), |b| {
            b.iter(|| black_box(analyse(black_box(&data), 2)))
        });
        let options = AnalysisOptions {
            sweep_min_levels: 2,
            fsync: false,
        };
        group.bench_function(format!("analyse_partition/{}", partition.name), |b| {
            b.iter(|| analyse_partition(&partition.dir, &partition.key, &options).expect("analyse"))
        });
    }
    group.finish();
}

criterion_group!(benches, bench_analysis);
criterion_main!(benches);
