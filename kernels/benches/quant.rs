//! Weights streamed per second by `PackedQuant::product` for SmolLM2-135M's shapes
//! (576×1536, 1536×576 and the 49152×576 embedding/output matrix), Q4_1 and Q8_0, at 1, 8
//! and 41 activation rows, with 1 and 2 threads.
//!
//! `CARGO_TARGET_DIR=… cargo bench -p llm-cooperation-kernels --bench quant`
#![allow(clippy::print_stdout)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use llm_cooperation_kernels::{BlockKind, PackedQuant, set_threads};

/// Random blocks with sane f16 scales (about 2⁻⁸…2⁻²), from a fixed seed.
fn random_raw(kind: BlockKind, out: usize, inp: usize) -> Vec<u8> {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        (state >> 33) as u16
    };
    let blocks = out * inp / kind.block_elems();
    let mut raw: Vec<u8> = (0..blocks * kind.block_bytes())
        .map(|_| next() as u8)
        .collect();
    for block in raw.chunks_exact_mut(kind.block_bytes()) {
        let fields: &[usize] = if kind == BlockKind::Q4_1 {
            &[0, 2]
        } else {
            &[0]
        };
        for &at in fields {
            let h = ((7 + next() % 7) << 10) | (next() & 0x3ff);
            block[at..at + 2].copy_from_slice(&h.to_le_bytes());
        }
    }
    raw
}

/// Nanoseconds this thread has run on a CPU (Linux's schedstat), if readable: on a shared
/// machine, other processes' time slices otherwise count as the kernel's.
fn on_cpu() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    stat.split_whitespace().next()?.parse().ok()
}

/// Seconds per call, wall clock and on this thread's CPU: the best of a few timed runs of at
/// least 0.1 s each.
fn time(mut f: impl FnMut()) -> (f64, f64) {
    f();
    let (mut wall, mut cpu) = (f64::INFINITY, f64::INFINITY);
    for _ in 0..5 {
        let (start, cpu_start, mut calls) = (Instant::now(), on_cpu(), 0u32);
        while start.elapsed() < Duration::from_millis(100) {
            f();
            calls += 1;
        }
        let calls = f64::from(calls);
        wall = wall.min(start.elapsed().as_secs_f64() / calls);
        if let (Some(a), Some(b)) = (cpu_start, on_cpu()) {
            cpu = cpu.min((b - a) as f64 / 1e9 / calls);
        }
    }
    (wall, cpu)
}

fn main() {
    println!(
        "kind  out×in        MB  rows threads  µs/call   GB/s  µs/row | on-CPU µs/call   GB/s"
    );
    for kind in [BlockKind::Q4_1, BlockKind::Q8_0] {
        for (out, inp) in [(576, 1536), (1536, 576), (49152, 576)] {
            let raw = random_raw(kind, out, inp);
            let w = PackedQuant::pack(kind, &raw, out, inp).expect("whole blocks");
            for rows in [1, 8, 41] {
                let x: Vec<f32> = (0..rows * inp)
                    .map(|i| ((i * 7919) % 201) as f32 / 100.0 - 1.0)
                    .collect();
                for threads in [1, 2] {
                    set_threads(threads);
                    let (s, cpu) = time(|| {
                        black_box(w.product(black_box(&x), rows));
                    });
                    println!(
                        "{:<5} {:>5}×{:<5} {:>6.2} {:>4} {:>7} {:>8.1} {:>6.1} {:>7.1} | {:>14.1} {:>6.1}",
                        format!("{kind:?}"),
                        out,
                        inp,
                        w.bytes() as f64 / 1e6,
                        rows,
                        threads,
                        s * 1e6,
                        w.bytes() as f64 / s / 1e9,
                        s * 1e6 / rows as f64,
                        cpu * 1e6,
                        w.bytes() as f64 / cpu / 1e9,
                    );
                }
            }
        }
    }
    set_threads(1);
}
