//! Formatting throughput per format (goal, README "Performance": at least 300,000 events/s per format on one core).
//! `cargo bench --bench formatters -- --warm-up-time 1 --measurement-time 3`
//!
//! Times are the benchmark thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`), not wall time, so the figures mean
//! "on one core" even when the machine is busy with other work (preemption no longer counts; cache and
//! memory-bandwidth contention still do).

use std::time::Duration;

use common::{context, edit, log};
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use rcemit::format::Format;

mod common;

/// CPU time the calling thread has used.
fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the clock id is a constant the kernel knows.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn formatters(c: &mut Criterion) {
    let ctx = context();
    let mut group = c.benchmark_group("format");
    group.throughput(Throughput::Elements(1));
    for (kind, event) in [("edit", edit()), ("log", log())] {
        for format in Format::ALL {
            group.bench_function(format!("{}/{kind}", format.name()), |b| {
                b.iter_custom(|iters| {
                    let start = thread_cpu_time();
                    for _ in 0..iters {
                        black_box(format.render(black_box(&event), black_box(&ctx)));
                    }
                    thread_cpu_time() - start
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, formatters);
criterion_main!(benches);
