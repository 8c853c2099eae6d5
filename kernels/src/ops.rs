//! The f32 work of a decoder step between its products: RMSNorm, rotary embedding, attention
//! over a KV cache and SwiGLU's gate, for the CPU.
//!
//! Run through libtorch, these were ~40 calls per layer, each a few microseconds of dispatch
//! for vectors of a few hundred floats: as much time per decoded token as all the quantized
//! products. Here they are plain loops written for the compiler to vectorise (sums kept in 16
//! independent lanes, `exp` as a polynomial without branches), compiled with AVX-512 or AVX2
//! where the CPU has them ([`vectorized`]); the same code runs everywhere else. Attention's
//! scores are the exception: 16 keys at a time in x86 intrinsics (`x86::Scores`), which the
//! compiler did not make of portable loops (it kept the 16 keys' sums in memory).
//! No fused multiply-add is used, so every instruction set gives the same results.

#[cfg(target_arch = "x86_64")]
use pulp::x86::{V3, V4};

/// Lanes of the partial sums: one AVX-512 vector, two AVX2 ones.
const LANES: usize = 16;

/// Runs `f` compiled for AVX-512 or AVX2 when the CPU has them (`f` and what it calls must be
/// `#[inline(always)]` for that), or as it is.
#[inline(always)]
fn vectorized<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        if let Some(simd) = V4::try_new() {
            return simd.vectorize(f);
        }
        if let Some(simd) = V3::try_new() {
            return simd.vectorize(f);
        }
    }
    f()
}

/// `Σ a·b`, in 16 lanes (then summed in a fixed order).
#[inline(always)]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let (ac, bc) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let tail: f32 = ac
        .remainder()
        .iter()
        .zip(bc.remainder())
        .map(|(x, y)| x * y)
        .sum();
    let mut acc = [0f32; LANES];
    for (x, y) in ac.zip(bc) {
        for l in 0..LANES {
            acc[l] += x[l] * y[l];
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// An attention score `q · k`: 16 lane sums of products (`d` in chunks of 16, each lane from
/// zero), then the lanes folded in halves (lane `i` plus lane `i + 8`, then `+ 4`, `+ 2`,
/// `+ 1`), the remainder of a `d` that is not a multiple of 16 added last. The x86 kernels
/// (`Scores`) make the same additions for 16 keys at once, so both give the same scores.
#[inline(always)]
fn score(q: &[f32], k: &[f32]) -> f32 {
    let (qc, kc) = (q.chunks_exact(LANES), k.chunks_exact(LANES));
    let (qt, kt) = (qc.remainder(), kc.remainder());
    let mut l = [0f32; LANES];
    for (x, y) in qc.zip(kc) {
        for i in 0..LANES {
            l[i] += x[i] * y[i];
        }
    }
    let a: [f32; 8] = std::array::from_fn(|i| l[i] + l[i + 8]);
    let b: [f32; 4] = std::array::from_fn(|i| a[i] + a[i + 4]);
    let sum = (b[0] + b[2]) + (b[1] + b[3]);
    if qt.is_empty() {
        sum
    } else {
        sum + qt.iter().zip(kt).map(|(x, y)| x * y).sum::<f32>()
    }
}

/// Scores of one query against 16 keys at a time: the x86 kernels where the CPU has them,
/// [`score`] on each key elsewhere (the same scores).
#[derive(Clone, Copy)]
struct Scorer {
    #[cfg(target_arch = "x86_64")]
    sixteen: Option<crate::x86::Scores>,
}

impl Scorer {
    fn detect() -> Self {
        Scorer {
            #[cfg(target_arch = "x86_64")]
            sixteen: crate::x86::Scores::detect(),
        }
    }

    /// `q · kⱼ` for the 16 rows of `keys` (`[16][q.len()]`).
    #[inline(always)]
    fn sixteen(self, q: &[f32], keys: &[f32]) -> [f32; 16] {
        let d = q.len();
        #[cfg(target_arch = "x86_64")]
        if let Some(s) = self.sixteen
            && d.is_multiple_of(LANES)
        {
            return s.sixteen(q, keys);
        }
        std::array::from_fn(|j| score(q, &keys[j * d..(j + 1) * d]))
    }
}

/// `s ← e^(s − max s)`, returning `Σ s` (summed in 16 lanes, then in a fixed order). The
/// maximum and the sum run in 16 lanes: one running value, as a fold over `f32::max` and
/// `+=`, was a chain of dependent instructions per score that took most of a decode step's
/// attention. A NaN score is passed over by the maximum, as `f32::max` does.
#[inline(always)]
fn softmax_weights(s: &mut [f32]) -> f32 {
    let mut lanes = [f32::NEG_INFINITY; LANES];
    let chunks = s.chunks_exact(LANES);
    for &v in chunks.remainder() {
        lanes[0] = if v > lanes[0] { v } else { lanes[0] };
    }
    for c in chunks {
        for l in 0..LANES {
            lanes[l] = if c[l] > lanes[l] { c[l] } else { lanes[l] };
        }
    }
    let max = lanes
        .iter()
        .fold(f32::NEG_INFINITY, |m, &v| if v > m { v } else { m });
    let mut sums = [0f32; LANES];
    let mut chunks = s.chunks_exact_mut(LANES);
    for c in &mut chunks {
        for l in 0..LANES {
            c[l] = exp(c[l] - max);
            sums[l] += c[l];
        }
    }
    for v in chunks.into_remainder() {
        *v = exp(*v - max);
        sums[0] += *v;
    }
    sums.iter().sum()
}

/// `Σ x²`, as [`dot`].
#[inline(always)]
fn sum_squares(x: &[f32]) -> f32 {
    dot(x, x)
}

/// `e^x` to about 2 ulp for `x` in [-87, 88] (clamped there: the result stays a normal float),
/// Cephes' `expf`: `2^n · e^r` with `r = x − n·ln 2`, `|r| ≤ ln 2 / 2`, and `e^r` a polynomial.
/// Branch-free, so that loops over it vectorise.
#[inline(always)]
pub(crate) fn exp(x: f32) -> f32 {
    const SHIFT: f32 = 12_582_912.0; // 1.5 · 2²³: adding it rounds to an integer
    let x = x.clamp(-87.0, 88.0);
    // n = round(x / ln 2), read from the low bits of the shifted float.
    let t = x * std::f32::consts::LOG2_E + SHIFT;
    let n = t - SHIFT;
    let r = x - n * 0.693_359_4 - n * -2.121_944_4e-4;
    let mut p = 1.987_569_1e-4;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 0.166_666_65;
    p = p * r + 0.5;
    let e = p * r * r + r + 1.0;
    let n = t.to_bits() as i32 - SHIFT.to_bits() as i32;
    e * f32::from_bits(((n + 127) << 23) as u32)
}

/// `out = x / rms(x) · weight` for each row of `x` (rows of `weight.len()` floats), as
/// Llama's RMSNorm: `rms(x) = √(mean(x²) + eps)`.
pub fn rms_norm(x: &[f32], weight: &[f32], eps: f32, out: &mut [f32]) {
    let n = weight.len();
    assert_eq!(x.len(), out.len(), "x and out have the same shape");
    if n == 0 {
        return;
    }
    vectorized(
        #[inline(always)]
        || {
            for (x, out) in x.chunks_exact(n).zip(out.chunks_exact_mut(n)) {
                let scale = 1.0 / (sum_squares(x) / n as f32 + eps).sqrt();
                for ((o, &x), &w) in out.iter_mut().zip(x).zip(weight) {
                    *o = x * scale * w;
                }
            }
        },
    )
}

/// Rotary embedding in the rotate-half layout, in place, on each head of `x` (heads of
/// `2·cos.len()` floats): `(x₁, x₂) → (x₁·cos − x₂·sin, x₂·cos + x₁·sin)`, then `· scale`.
pub fn rotate_half(x: &mut [f32], cos: &[f32], sin: &[f32], scale: f32) {
    let half = cos.len();
    assert_eq!(half, sin.len(), "cos and sin have the same length");
    if half == 0 {
        return;
    }
    vectorized(
        #[inline(always)]
        || {
            for head in x.chunks_exact_mut(2 * half) {
                let (a, b) = head.split_at_mut(half);
                for (((a, b), &c), &s) in a.iter_mut().zip(b).zip(cos).zip(sin) {
                    let (x1, x2) = (*a, *b);
                    *a = (x1 * c - x2 * s) * scale;
                    *b = (x2 * c + x1 * s) * scale;
                }
            }
        },
    )
}

/// SwiGLU's gate: `out = silu(gate) · up`, `silu(g) = g / (1 + e^−g)`.
pub fn silu_mul(gate: &[f32], up: &[f32], out: &mut [f32]) {
    assert!(gate.len() == up.len() && up.len() == out.len());
    vectorized(
        #[inline(always)]
        || {
            for ((o, &g), &u) in out.iter_mut().zip(gate).zip(up) {
                *o = g / (1.0 + exp(-g)) * u;
            }
        },
    )
}

/// One query's attention over `keys` and `values` (`[len][d]` each, `d = q.len()`):
/// `out = softmax(q·kⱼ) · V`, with `scores` as scratch (`len` floats). The query carries the
/// `1/√d` scale already. `len = 0` gives zeros.
pub fn attend(q: &[f32], keys: &[f32], values: &[f32], scores: &mut Vec<f32>, out: &mut [f32]) {
    attend_heads(q.len(), q, keys, values, scores, out);
}

/// [`attend`] for the query heads that share one key/value head (grouped-query attention):
/// `q` and `out` are `[heads][d]`. Up to 4 heads go through the keys and values together, so
/// each position's key and value are loaded once for all of them (a decode step is mostly
/// these loads); every head's result is the one [`attend`] gives it alone, bit for bit (the
/// same sums in the same order).
pub fn attend_heads(
    d: usize,
    q: &[f32],
    keys: &[f32],
    values: &[f32],
    scores: &mut Vec<f32>,
    out: &mut [f32],
) {
    assert_eq!(out.len(), q.len(), "out has the queries' size");
    assert_eq!(keys.len(), values.len(), "one value per key");
    out.fill(0.0);
    if d == 0 || keys.is_empty() {
        return;
    }
    assert!(
        q.len().is_multiple_of(d) && keys.len().is_multiple_of(d),
        "queries and keys are whole rows of d"
    );
    let heads = q.len() / d;
    // Groups of at most 4, as even as they come (6 heads: 3 + 3).
    let groups = heads.div_ceil(4);
    let scorer = Scorer::detect();
    let mut first = 0;
    for g in 0..groups {
        let n = (heads - first) / (groups - g);
        let (q, out) = (
            &q[first * d..(first + n) * d],
            &mut out[first * d..(first + n) * d],
        );
        match n {
            1 => attend_group::<1>(scorer, d, q, keys, values, scores, out),
            2 => attend_group::<2>(scorer, d, q, keys, values, scores, out),
            3 => attend_group::<3>(scorer, d, q, keys, values, scores, out),
            _ => attend_group::<4>(scorer, d, q, keys, values, scores, out),
        }
        first += n;
    }
}

/// [`attend_heads`] for `N` heads (`q`, `out`: `[N][d]`; `d > 0`, at least one key).
fn attend_group<const N: usize>(
    scorer: Scorer,
    d: usize,
    q: &[f32],
    keys: &[f32],
    values: &[f32],
    scores: &mut Vec<f32>,
    out: &mut [f32],
) {
    let len = keys.len() / d;
    scores.clear();
    scores.resize(N * len, 0.0);
    vectorized(
        #[inline(always)]
        || {
            let q: [&[f32]; N] = std::array::from_fn(|h| &q[h * d..(h + 1) * d]);
            // 16 keys at a time (in cache for every head), then the rest one by one.
            let blocks = keys.chunks_exact(16 * d);
            let rest = blocks.remainder();
            for (b, k) in blocks.enumerate() {
                for (h, q) in q.iter().enumerate() {
                    let at = h * len + 16 * b;
                    scores[at..at + 16].copy_from_slice(&scorer.sixteen(q, k));
                }
            }
            for (j, k) in (len - rest.len() / d..).zip(rest.chunks_exact(d)) {
                for (h, q) in q.iter().enumerate() {
                    scores[h * len + j] = score(q, k);
                }
            }
            let mut totals = [0f32; N];
            for (s, total) in scores.chunks_exact_mut(len).zip(&mut totals) {
                *total = softmax_weights(s);
            }
            // The weighted sums of the values, `COLS` columns at a time in local arrays that
            // stay in registers (accumulated in `out`, each position's update waited on the
            // previous one's stores). The same sums in the same order either way.
            const COLS: usize = 64;
            for at in (0..d).step_by(COLS) {
                let width = COLS.min(d - at);
                let mut acc = [[0f32; COLS]; N];
                if width == COLS {
                    for (j, v) in values.chunks_exact(d).enumerate() {
                        let v: &[f32; COLS] = v[at..at + COLS].try_into().expect("COLS values");
                        for (h, acc) in acc.iter_mut().enumerate() {
                            let p = scores[h * len + j];
                            for l in 0..COLS {
                                acc[l] += p * v[l];
                            }
                        }
                    }
                } else {
                    for (j, v) in values.chunks_exact(d).enumerate() {
                        for (h, acc) in acc.iter_mut().enumerate() {
                            let p = scores[h * len + j];
                            for (a, &v) in acc.iter_mut().zip(&v[at..at + width]) {
                                *a += p * v;
                            }
                        }
                    }
                }
                for (h, acc) in acc.iter().enumerate() {
                    out[h * d + at..h * d + at + width].copy_from_slice(&acc[..width]);
                }
            }
            for (out, total) in out.chunks_exact_mut(d).zip(totals) {
                let inverse = 1.0 / total;
                for o in out.iter_mut() {
                    *o *= inverse;
                }
            }
        },
    )
}

/// The indices of the `k` largest values of `row`, in no particular order (NaN is never
/// preferred over a number): the first `k`, then every later value that beats the smallest
/// kept. Runs of 16 values of which none beats it are passed over with one vector comparison:
/// after the first few hundred, that is nearly all of a vocabulary's logits (one value at a
/// time, this search of 8 rows of 49152 logits took 4% of a batch-8 decode step).
pub fn largest(row: &[f32], k: usize) -> Vec<usize> {
    let k = k.min(row.len());
    if k == 0 {
        return Vec::new();
    }
    let key = |v: f32| if v.is_nan() { f32::NEG_INFINITY } else { v };
    let mut best: Vec<(f32, usize)> = row[..k].iter().map(|&v| key(v)).zip(0..).collect();
    /// Where the smallest kept value is.
    fn smallest(best: &[(f32, usize)]) -> usize {
        (0..best.len())
            .min_by(|&a, &b| best[a].0.total_cmp(&best[b].0))
            .unwrap_or(0)
    }
    /// Keeps `(v, i)` in place of the smallest if it is larger.
    #[inline(always)]
    fn offer(best: &mut [(f32, usize)], at: &mut usize, i: usize, v: f32) {
        if v > best[*at].0 {
            best[*at] = (v, i);
            *at = smallest(best);
        }
    }
    let mut at = smallest(&best);
    vectorized(
        #[inline(always)]
        || {
            let chunks = row[k..].chunks_exact(LANES);
            let rest = chunks.remainder();
            for (c, chunk) in chunks.enumerate() {
                let floor = best[at].0;
                if chunk.iter().fold(false, |any, &v| any | (v > floor)) {
                    for (l, &v) in chunk.iter().enumerate() {
                        offer(&mut best, &mut at, k + c * LANES + l, v);
                    }
                }
            }
            for (i, &v) in (row.len() - rest.len()..).zip(rest) {
                offer(&mut best, &mut at, i, v);
            }
        },
    );
    best.into_iter().map(|(_, i)| i).collect()
}

/// `y += x`, element by element.
pub fn add(y: &mut [f32], x: &[f32]) {
    assert_eq!(y.len(), x.len(), "y and x have the same shape");
    vectorized(
        #[inline(always)]
        || {
            for (y, &x) in y.iter_mut().zip(x) {
                *y += x;
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_is_within_a_few_ulp_of_the_library_one() {
        let mut x = -87.0f32;
        while x <= 88.0 {
            let (got, want) = (exp(x), f64::from(x).exp());
            let rel = (f64::from(got) - want).abs() / want;
            assert!(
                rel < 3e-7,
                "exp({x}) = {got}, want {want} (relative error {rel:e})"
            );
            x += 0.0137;
        }
        assert_eq!(exp(0.0), 1.0);
        // Clamped: no infinity, no denormal, NaN stays NaN.
        assert!(exp(1000.0).is_finite() && exp(-1000.0) > 0.0);
        assert!(exp(f32::NAN).is_nan());
    }

    #[test]
    fn rms_norm_matches_f64() {
        let n = 37;
        let x: Vec<f32> = (0..3 * n).map(|i| (i as f32 * 0.37).sin() * 3.0).collect();
        let w: Vec<f32> = (0..n).map(|i| 0.5 + i as f32 / 50.0).collect();
        let mut out = vec![0f32; x.len()];
        rms_norm(&x, &w, 1e-5, &mut out);
        for (row, got) in x.chunks(n).zip(out.chunks(n)) {
            let ms: f64 = row.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / n as f64;
            let scale = 1.0 / (ms + 1e-5).sqrt();
            for ((&x, &w), &g) in row.iter().zip(&w).zip(got) {
                let want = f64::from(x) * scale * f64::from(w);
                assert!((f64::from(g) - want).abs() < 1e-5 * (1.0 + want.abs()));
            }
        }
    }

    #[test]
    fn rotation_turns_each_pair_by_its_angle() {
        let half = 3;
        let angles = [0.1f32, 1.0, 2.5];
        let (cos, sin): (Vec<f32>, Vec<f32>) = angles.iter().map(|a| (a.cos(), a.sin())).unzip();
        let mut x = vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0, -1.0, 0.0, 1.0, 0.5, 0.5, 0.5];
        let before = x.clone();
        rotate_half(&mut x, &cos, &sin, 2.0);
        for (h, (got, was)) in x.chunks(2 * half).zip(before.chunks(2 * half)).enumerate() {
            for i in 0..half {
                let (x1, x2, a) = (was[i], was[half + i], angles[i]);
                let want = (
                    2.0 * (x1 * a.cos() - x2 * a.sin()),
                    2.0 * (x2 * a.cos() + x1 * a.sin()),
                );
                assert!((got[i] - want.0).abs() < 1e-5, "head {h} pair {i}");
                assert!((got[half + i] - want.1).abs() < 1e-5, "head {h} pair {i}");
            }
        }
    }

    #[test]
    fn silu_gate_matches_f64() {
        let g: Vec<f32> = (0..100).map(|i| (i as f32 - 50.0) * 0.4).collect();
        let u: Vec<f32> = (0..100).map(|i| 1.0 + i as f32 * 0.01).collect();
        let mut out = vec![0f32; 100];
        silu_mul(&g, &u, &mut out);
        for ((&g, &u), &o) in g.iter().zip(&u).zip(&out) {
            let (g, u) = (f64::from(g), f64::from(u));
            let want = g / (1.0 + (-g).exp()) * u;
            assert!(
                (f64::from(o) - want).abs() < 1e-5 * (1.0 + want.abs()),
                "{g}"
            );
        }
    }

    /// Each instruction set's kernel for 16 keys gives every key the score [`score`] gives
    /// it, bit for bit, in key order.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn sixteen_scores_are_each_keys_score_on_every_instruction_set() {
        use crate::x86::{Avx2, Scores, Vnni};
        let sets: Vec<Scores> = [
            Vnni::detect().map(Scores::Avx512),
            Avx2::detect().map(Scores::Avx2),
        ]
        .into_iter()
        .flatten()
        .collect();
        for d in [16, 64, 80, 128] {
            let q: Vec<f32> = (0..d).map(|i| (i as f32 * 0.37).cos() * 3.0).collect();
            // Keys of mixed magnitudes (so the order of the additions shows), one of zeros.
            let keys: Vec<f32> = (0..16 * d)
                .map(|i| {
                    let (j, c) = (i / d, i % d);
                    if j == 5 {
                        0.0
                    } else {
                        (i as f32 * 0.13).sin() * 10f32.powi((c % 7) as i32 - 3)
                    }
                })
                .collect();
            let want: Vec<u32> = keys
                .chunks_exact(d)
                .map(|k| score(&q, k).to_bits())
                .collect();
            for set in &sets {
                let got = set.sixteen(&q, &keys).map(f32::to_bits);
                assert_eq!(got.as_slice(), want.as_slice(), "{set:?}, d {d}");
            }
            // And the fallback, as `attend` runs it elsewhere.
            let portable = Scorer { sixteen: None }
                .sixteen(&q, &keys)
                .map(f32::to_bits);
            assert_eq!(portable.as_slice(), want.as_slice(), "portable, d {d}");
        }
    }

    #[test]
    fn largest_finds_the_largest_values() {
        for len in [1000, 1007, 40] {
            let row: Vec<f32> = (0..len).map(|i| ((i * 7919) % 1009) as f32).collect();
            let mut got: Vec<f32> = largest(&row, 16).iter().map(|&i| row[i]).collect();
            got.sort_by(|a, b| b.total_cmp(a));
            let mut want = row.clone();
            want.sort_by(|a, b| b.total_cmp(a));
            assert_eq!(got, want[..16], "{len} values");
        }
        // The largest last, in the remainder after whole runs of 16.
        let mut row = vec![0f32; 16 + 16 * 3 + 5];
        *row.last_mut().unwrap() = 9.0;
        row[20] = 8.0;
        let mut got = largest(&row, 16);
        got.sort();
        assert!(
            got.contains(&20) && got.contains(&(row.len() - 1)),
            "{got:?}"
        );
        assert_eq!(largest(&[1.0, f32::NAN, 3.0], 2).len(), 2);
        assert!(!largest(&[f32::NAN, 2.0, 3.0], 2).contains(&0));
        let nans = [vec![f32::NAN; 40], vec![1.0]].concat();
        assert!(largest(&nans, 1) == vec![40]);
        assert_eq!(largest(&[5.0], 16), vec![0]);
        assert!(largest(&[], 16).is_empty() && largest(&[1.0], 0).is_empty());
    }

    #[test]
    fn heads_attended_together_equal_each_attended_alone() {
        for (d, len, heads) in [20, 64, 148].into_iter().flat_map(|d| {
            [0, 1, 17, 41]
                .into_iter()
                .flat_map(move |len| (1..=9).map(move |h| (d, len, h)))
        }) {
            let q: Vec<f32> = (0..heads * d).map(|i| (i as f32 * 0.37).cos()).collect();
            let k: Vec<f32> = (0..len * d).map(|i| (i as f32 * 0.13).sin()).collect();
            let v: Vec<f32> = (0..len * d).map(|i| (i as f32 * 0.05).cos()).collect();
            let mut together = vec![f32::NAN; heads * d];
            attend_heads(d, &q, &k, &v, &mut Vec::new(), &mut together);
            for (h, got) in together.chunks_exact(d).enumerate() {
                let mut alone = vec![f32::NAN; d];
                attend(&q[h * d..(h + 1) * d], &k, &v, &mut Vec::new(), &mut alone);
                let same = got
                    .iter()
                    .zip(&alone)
                    .all(|(a, b)| a.to_bits() == b.to_bits());
                assert!(same, "d {d} len {len} heads {heads}: head {h} differs");
            }
        }
    }

    #[test]
    fn attention_is_a_softmax_weighted_sum_of_values() {
        // Not a multiple of the lanes; whole blocks of 64 columns; both.
        for (d, len) in [20, 64, 128, 148]
            .into_iter()
            .flat_map(|d| [0, 1, 2, 17, 41].map(|len| (d, len)))
        {
            let q: Vec<f32> = (0..d).map(|i| (i as f32 * 0.3).cos()).collect();
            let k: Vec<f32> = (0..len * d)
                .map(|i| (i as f32 * 0.11).sin() * 2.0)
                .collect();
            let v: Vec<f32> = (0..len * d).map(|i| (i as f32 * 0.07).cos()).collect();
            let mut out = vec![f32::NAN; d];
            attend(&q, &k, &v, &mut Vec::new(), &mut out);
            let s: Vec<f64> = k
                .chunks(d)
                .map(|k| {
                    q.iter()
                        .zip(k)
                        .map(|(&a, &b)| f64::from(a) * f64::from(b))
                        .sum()
                })
                .collect();
            let max = s.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let e: Vec<f64> = s.iter().map(|s| (s - max).exp()).collect();
            let total: f64 = e.iter().sum();
            for (c, &got) in out.iter().enumerate() {
                let want: f64 = e
                    .iter()
                    .zip(v.chunks(d))
                    .map(|(e, v)| e * f64::from(v[c]))
                    .sum::<f64>()
                    / if len == 0 { 1.0 } else { total };
                assert!(
                    (f64::from(got) - want).abs() < 1e-5,
                    "d {d} len {len} column {c}"
                );
            }
        }
    }
}
