//! Throughput of the synthetic data generator (SPEC §7), in bytes of CSV
//! written per second, single-threaded and with two workers.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sweep_pipeline::generate::{GenerateConfig, generate};

/// Bytes per run: large enough for many time slices, small enough for a
/// quick bench on a shared machine.
const TARGET_BYTES: u64 = 64 << 20;

fn bench_generate(criterion: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temporary folder");
    let mut group = criterion.benchmark_group("generate");
    group.sample_size(10);
    for threads in [1, 2] {
        let config = GenerateConfig {
            output: dir.path().to_path_buf(),
            dates: 2,
            securities: 50,
            size: Some(TARGET_BYTES),
            seed: 7,
            threads,
            ..GenerateConfig::default()
        };
        let summary = generate(&config).expect("generate");
        group.throughput(Throughput::Bytes(
            summary.orders_bytes + summary.trades_bytes,
        ));
        group.bench_function(format!("threads_{threads}"), |bench| {
            bench.iter(|| generate(&config).expect("generate"))
        });
    }
    group.finish();
}

criterion_group!(benches, bench_generate);
criterion_main!(benches);
