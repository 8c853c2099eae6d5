//! One attention task of a SmolLM2-135M decode step (3 query heads sharing a key/value head,
//! head size 64, ~105 positions: 54 KB of keys and values) through `ops::attend_heads`:
//! with its keys and values in the CPU's caches, and as a batch-8 step meets them, each
//! layer's 24 tasks (8 sequences × 3 key/value heads) after that layer's share of 68 MB of
//! weights streamed through the caches.
//!
//! `CARGO_TARGET_DIR=… cargo bench -p llm-cooperation-kernels --bench attention`
#![allow(clippy::print_stdout)]

use std::hint::black_box;
use std::time::Instant;

use llm_cooperation_kernels::ops::attend_heads;

const D: usize = 64;
const LEN: usize = 105;
const HEADS: usize = 3;
const LAYERS: usize = 30;
const TASKS_PER_LAYER: usize = 24;

fn main() {
    let tasks = LAYERS * TASKS_PER_LAYER;
    let q: Vec<f32> = (0..HEADS * D).map(|i| (i as f32 * 0.37).cos()).collect();
    let k: Vec<f32> = (0..tasks * LEN * D)
        .map(|i| (i as f32 * 0.13).sin())
        .collect();
    let v: Vec<f32> = (0..tasks * LEN * D)
        .map(|i| (i as f32 * 0.05).cos())
        .collect();
    let weights: Vec<f32> = (0..17_000_000).map(|i| i as f32).collect();
    let per_layer = weights.len() / LAYERS;
    let (mut out, mut scores) = (vec![0f32; HEADS * D], Vec::new());
    let task = |s: usize, out: &mut Vec<f32>, scores: &mut Vec<f32>| {
        let span = s * LEN * D..(s + 1) * LEN * D;
        attend_heads(D, &q, &k[span.clone()], &v[span], scores, out);
    };

    // In cache: the same task again and again; the best of 5 rounds.
    let rounds = 20_000;
    let mut in_cache = f64::MAX;
    for _ in 0..5 {
        let start = Instant::now();
        for _ in 0..rounds {
            task(0, &mut out, &mut scores);
            black_box(&out);
        }
        in_cache = in_cache.min(start.elapsed().as_secs_f64() / rounds as f64);
    }

    // As in a step: every layer's weights read, then its tasks; the best of 5 steps.
    let (mut streamed, mut sink) = (f64::MAX, 0f32);
    for _ in 0..5 {
        let mut attending = 0.0;
        for layer in 0..LAYERS {
            let w = &weights[layer * per_layer..(layer + 1) * per_layer];
            sink += w.iter().step_by(16).sum::<f32>(); // one float per cache line
            let start = Instant::now();
            for s in layer * TASKS_PER_LAYER..(layer + 1) * TASKS_PER_LAYER {
                task(s, &mut out, &mut scores);
                black_box(&out);
            }
            attending += start.elapsed().as_secs_f64();
        }
        streamed = streamed.min(attending / tasks as f64);
    }
    black_box(sink);

    let bytes = (2 * LEN * D * 4) as f64;
    println!(
        "| one attention task ({HEADS} heads, d {D}, {LEN} positions) | µs | keys and values GB/s |"
    );
    println!("|---|---|---|");
    for (name, t) in [
        ("in cache", in_cache),
        ("weights streamed between layers", streamed),
    ] {
        println!("| {name} | {:.2} | {:.1} |", t * 1e6, bytes / t / 1e9);
    }
}
