//! The quantized products against f64 sums of the dequantised weights, on every instruction
//! set this CPU has, and the formats against blocks built by hand.

use super::*;
use crate::blocks::dequantize;
use crate::set_threads;

/// xorshift64*: reproducible data without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in [-1, 1).
    fn unit(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }

    /// A normal f16 between 2^(lo-15) and 2^(hi-15), either sign when `signed`.
    fn f16(&mut self, lo: u64, hi: u64, signed: bool) -> u16 {
        let exp = lo + self.next() % (hi - lo + 1);
        let sign = if signed { (self.next() & 1) << 15 } else { 0 };
        (sign | (exp << 10) | (self.next() & 0x3ff)) as u16
    }
}

/// Byte offsets of a block's f16 fields (`d`, then `m`/`dmin`).
fn f16_fields(kind: BlockKind) -> &'static [usize] {
    match kind {
        BlockKind::Q4_0 | BlockKind::Q8_0 => &[0],
        BlockKind::Q4_1 | BlockKind::Q4K | BlockKind::Q5K => &[0, 2],
        BlockKind::Q6K => &[208],
    }
}

/// Random blocks (every quant and sub-block scale bit random) with scales of about 2⁻⁸ to 2⁻².
fn random_raw(kind: BlockKind, rng: &mut Rng, out: usize, inp: usize) -> Vec<u8> {
    let blocks = out * inp / kind.block_elems();
    let mut raw = rng.bytes(blocks * kind.block_bytes());
    for block in raw.chunks_exact_mut(kind.block_bytes()) {
        for (i, &at) in f16_fields(kind).iter().enumerate() {
            // Q4_1's m is signed; d and dmin are positive, as ggml writes them.
            let h = rng.f16(7, 13, i == 1 && kind == BlockKind::Q4_1);
            block[at..at + 2].copy_from_slice(&h.to_le_bytes());
        }
    }
    raw
}

/// The magnitude of the part of each weight that the kernels compute apart from `d·q` (Q4_1's
/// `m`, the K-quants' `dmin·m`), row-major like the weights.
fn min_parts(kind: BlockKind, raw: &[u8]) -> Vec<f64> {
    let mut mins = Vec::new();
    for block in raw.chunks_exact(kind.block_bytes()) {
        let b = parse(kind, block);
        let m = f64::from(f16_to_f32(b.m)).abs();
        for i in 0..kind.block_elems() {
            mins.push(match kind {
                BlockKind::Q4_1 => m,
                BlockKind::Q4K | BlockKind::Q5K => m * f64::from(b.mn[i / 32]),
                _ => 0.0,
            });
        }
    }
    mins
}

/// How far the activation rounding may move an input of a block whose int8 step is
/// `step` (`amax/127`): half a step for int8 activations; for wide ones, to nearest on a grid
/// 256 times finer, or within one unit of it where the residual reaches its ±127 limit.
fn rounding_reach(step: f64, wide: bool) -> f64 {
    if wide { step / 256.0 } else { step / 2.0 }
}

/// Checks `got` (`[rows, out]`) against the f64 product of the dequantised weights with the
/// exact activations; returns how many outputs break the bound.
///
/// The kernels compute `Σ w_i·x̂_i` where `x̂` is the activation rounded to its block's
/// grid (int8: `dx·xq`, `dx = amax/127` per 32 inputs; wide: 256 times finer): the integer
/// sums are exact, so the only other error is f32 rounding. The rounding moves each input by
/// at most `h` ([`rounding_reach`]), hence
///
///   |got − Σ w_i·x_i| ≤ Σ_blocks h_b·Σ_{i∈b} |w_i|  +  slack,
///
/// where the slack covers the f32 steps: per block, `d·dx` and the fused multiply-add each
/// round once (relative 2⁻²⁴), and the running sum over `nb` blocks adds at most `nb`
/// roundings, all relative to `Σ (|w_i| + 2·|min_i|)·|x̂_i|` (`|d·q| ≤ |w| + |min|`, so the
/// magnitude of every partial sum, minimums included, is below that).
/// A wrong nibble, bit or scale order moves outputs by about `|w|·|x|` per input, far outside.
fn violations(
    kind: BlockKind,
    raw: &[u8],
    out: usize,
    inp: usize,
    x: &[f32],
    wide: bool,
    got: &[f32],
) -> (usize, String) {
    let rows = x.len() / inp;
    let mut w = vec![0f32; out * inp];
    dequantize(kind, raw, &mut w).unwrap();
    let mins = min_parts(kind, raw);
    let nb = (inp / QK) as f64;
    let mut bad = (0, String::new());
    for r in 0..rows {
        let x = &x[r * inp..(r + 1) * inp];
        let dx: Vec<f64> = x
            .chunks_exact(QK)
            .map(|b| b.iter().fold(0f64, |a, &v| a.max(f64::from(v).abs())) / 127.0)
            .collect();
        for o in 0..out {
            let w = &w[o * inp..(o + 1) * inp];
            let mins = &mins[o * inp..(o + 1) * inp];
            let (mut want, mut bound, mut mag) = (0f64, 0f64, 0f64);
            for i in 0..inp {
                let (wi, xi) = (f64::from(w[i]), f64::from(x[i]));
                let h = rounding_reach(dx[i / QK], wide);
                want += wi * xi;
                bound += h * wi.abs();
                mag += (wi.abs() + 2.0 * mins[i]) * (xi.abs() + h);
            }
            let bound = bound * (1.0 + 1e-6) + (nb + 4.0) * 2f64.powi(-23) * mag + 1e-30;
            let g = f64::from(got[r * out + o]);
            // Written so that a NaN fails too.
            let within = (g - want).abs() <= bound;
            if !within {
                if bad.0 == 0 {
                    bad.1 = format!("row {r} out {o}: got {g}, want {want} ± {bound}");
                }
                bad.0 += 1;
            }
        }
    }
    bad
}

/// The instruction sets this CPU has, best first; the portable kernel always.
fn isas() -> Vec<QuantIsa> {
    let mut isas = Vec::new();
    isas.extend(Vnni::detect().map(QuantIsa::Vnni));
    isas.extend(Avx2::detect().map(QuantIsa::Avx2));
    isas.push(QuantIsa::Portable);
    isas
}

fn random_x(rng: &mut Rng, rows: usize, inp: usize) -> Vec<f32> {
    (0..rows * inp).map(|_| rng.unit()).collect()
}

/// Both products, int8 and wide, each within its bound.
fn check(kind: BlockKind, isa: QuantIsa, raw: &[u8], out: usize, inp: usize, x: &[f32]) {
    let rows = x.len() / inp;
    let packed = PackedQuant::pack_for(kind, raw, out, inp, isa).unwrap();
    for wide in [false, true] {
        let got = if wide {
            product_many_wide(&[&packed], x, rows)
        } else {
            packed.product(x, rows)
        };
        assert_eq!(got.len(), rows * out);
        let (bad, first) = violations(kind, raw, out, inp, x, wide, &got);
        assert_eq!(
            bad, 0,
            "{kind:?} {isa:?} {out}×{inp}, {rows} rows, wide {wide}: {first}"
        );
    }
}

#[test]
fn products_match_f64_within_the_activation_rounding_bound() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for kind in BlockKind::ALL {
        let e = kind.block_elems();
        for isa in isas() {
            for (out, inp) in [(1, e), (17, e), (33, 2 * e), (45, 576.max(e) / e * e)] {
                let raw = random_raw(kind, &mut rng, out, inp);
                for rows in [1, 2, 7, 16, 41] {
                    let x = random_x(&mut rng, rows, inp);
                    check(kind, isa, &raw, out, inp, &x);
                }
            }
        }
    }
}

#[test]
fn edge_cases_stay_within_the_bound() {
    let mut rng = Rng(7);
    for kind in BlockKind::ALL {
        let (out, inp) = (21, 2 * kind.block_elems());
        let random = random_raw(kind, &mut rng, out, inp);
        // Extreme scales: the largest f16 and the smallest subnormal, block by block.
        let mut extreme = random.clone();
        for (i, block) in extreme.chunks_exact_mut(kind.block_bytes()).enumerate() {
            let at = f16_fields(kind)[0];
            let d: u16 = if i % 2 == 0 { 0x7BFF } else { 0x0001 };
            block[at..at + 2].copy_from_slice(&d.to_le_bytes());
        }
        for isa in isas() {
            let zero_w = vec![0u8; random.len()];
            let x = random_x(&mut rng, 7, inp);
            let packed = PackedQuant::pack_for(kind, &zero_w, out, inp, isa).unwrap();
            assert!(
                packed.product(&x, 7).iter().all(|&v| v == 0.0),
                "{kind:?} {isa:?}"
            );

            let packed = PackedQuant::pack_for(kind, &random, out, inp, isa).unwrap();
            let zero_x = vec![0f32; 3 * inp];
            assert!(
                packed.product(&zero_x, 3).iter().all(|&v| v == 0.0),
                "{kind:?} {isa:?}"
            );

            // One huge activation per row: the others of its block round to (almost) 0.
            let mut huge = random_x(&mut rng, 5, inp);
            for (r, row) in huge.chunks_exact_mut(inp).enumerate() {
                row[(r * 37) % inp] = 1e6;
            }
            check(kind, isa, &random, out, inp, &huge);
            check(kind, isa, &extreme, out, inp, &random_x(&mut rng, 2, inp));
        }
    }
}

#[test]
fn identity_activations_give_back_every_weight_in_place() {
    // x = I: each activation block is one 1 (exact on the int8 grid) and zeros, so row r of
    // the product is column r of W — any misplaced nibble, bit or scale shows.
    let mut rng = Rng(11);
    for kind in BlockKind::ALL {
        let (out, inp) = (19, 256);
        let raw = random_raw(kind, &mut rng, out, inp);
        let mut w = vec![0f32; out * inp];
        dequantize(kind, &raw, &mut w).unwrap();
        let mins = min_parts(kind, &raw);
        let mut x = vec![0f32; inp * inp];
        for i in 0..inp {
            x[i * inp + i] = 1.0;
        }
        for isa in isas() {
            let packed = PackedQuant::pack_for(kind, &raw, out, inp, isa).unwrap();
            let got = packed.product(&x, inp);
            for i in 0..inp {
                for o in 0..out {
                    let (g, want) = (got[i * out + o], w[o * inp + i]);
                    // A few f32 roundings of `d·q` and the minimum.
                    let tol = 1e-6 * (f64::from(want).abs() + 2.0 * mins[o * inp + i]);
                    assert!(
                        (f64::from(g) - f64::from(want)).abs() <= tol,
                        "{kind:?} {isa:?}: weight ({o}, {i}) came out {g}, want {want}"
                    );
                }
            }
        }
    }
}

#[test]
fn the_bound_catches_a_wrong_input_order() {
    // Swapping the two halves of every activation block is what reading the nibbles the
    // wrong way round would do; the bound must reject it.
    let mut rng = Rng(5);
    for kind in BlockKind::ALL {
        let (out, inp) = (16, kind.block_elems());
        let raw = random_raw(kind, &mut rng, out, inp);
        let x = random_x(&mut rng, 2, inp);
        let mut swapped = x.clone();
        for block in swapped.chunks_exact_mut(QK) {
            let (a, b) = block.split_at_mut(16);
            a.swap_with_slice(b);
        }
        let packed = PackedQuant::pack(kind, &raw, out, inp).unwrap();
        let (bad, _) = violations(
            kind,
            &raw,
            out,
            inp,
            &x,
            false,
            &packed.product(&swapped, 2),
        );
        assert!(bad > out, "{kind:?}: only {bad} of {} outputs off", 2 * out);
    }
}

#[test]
fn wide_products_are_closer_than_int8_can_be() {
    // The wide bound is 128 times tighter than int8's: int8 products break it (so a wide
    // product that lost its residuals would fail `check`), wide ones stay within it.
    let mut rng = Rng(23);
    for kind in BlockKind::ALL {
        for isa in isas() {
            let (out, inp) = (33, 2 * kind.block_elems());
            let raw = random_raw(kind, &mut rng, out, inp);
            let x = random_x(&mut rng, 3, inp);
            let packed = PackedQuant::pack_for(kind, &raw, out, inp, isa).unwrap();
            let int8 = packed.product(&x, 3);
            let (bad, _) = violations(kind, &raw, out, inp, &x, true, &int8);
            assert!(
                bad > out,
                "{kind:?} {isa:?}: int8 broke the wide bound at only {bad}"
            );
            let wide = product_many_wide(&[&packed], &x, 3);
            let (bad, first) = violations(kind, &raw, out, inp, &x, true, &wide);
            assert_eq!(bad, 0, "{kind:?} {isa:?}: {first}");
        }
    }
}

#[test]
fn one_and_two_threads_agree_bitwise_and_product_many_matches_product() {
    let mut rng = Rng(3);
    let isa = QuantIsa::detect();
    for kind in BlockKind::ALL {
        let inp = 2 * kind.block_elems();
        let a = random_raw(kind, &mut rng, 70, inp);
        let b = random_raw(BlockKind::Q8_0, &mut rng, 33, inp);
        let a = PackedQuant::pack_for(kind, &a, 70, inp, isa).unwrap();
        let b = PackedQuant::pack_for(BlockKind::Q8_0, &b, 33, inp, isa).unwrap();
        for rows in [1, 9, 41] {
            let x = random_x(&mut rng, rows, inp);
            set_threads(1);
            let one = (a.product(&x, rows), b.product(&x, rows));
            set_threads(2);
            let two = (a.product(&x, rows), b.product(&x, rows));
            let many = product_many(&[&a, &b], &x, rows);
            let wide_two = product_many_wide(&[&a, &b], &x, rows);
            set_threads(1);
            let wide_one = product_many_wide(&[&a, &b], &x, rows);
            assert_eq!(one, two, "{kind:?} {rows} rows");
            assert_eq!(wide_one, wide_two, "{kind:?} {rows} rows, wide");
            // Each row: `a`'s 70 outputs, then `b`'s 33.
            let side_by_side: Vec<f32> = (0..rows)
                .flat_map(|r| {
                    let (a, b) = (&one.0[r * 70..(r + 1) * 70], &one.1[r * 33..(r + 1) * 33]);
                    a.iter().chain(b).copied()
                })
                .collect();
            assert_eq!(many, side_by_side, "{kind:?} {rows} rows");
        }
    }
}

#[test]
fn rows_are_the_dequantised_rows() {
    let mut rng = Rng(13);
    for kind in BlockKind::ALL {
        let (out, inp) = (37, 2 * kind.block_elems());
        let raw = random_raw(kind, &mut rng, out, inp);
        let mut w = vec![0f32; out * inp];
        dequantize(kind, &raw, &mut w).unwrap();
        let packed = PackedQuant::pack(kind, &raw, out, inp).unwrap();
        let index = [0i64, 36, 16, 5, 5];
        let want: Vec<f32> = index
            .iter()
            .flat_map(|&o| w[o as usize * inp..(o as usize + 1) * inp].to_vec())
            .collect();
        assert_eq!(packed.rows(&index).unwrap(), want, "{kind:?}");
        assert_eq!(packed.rows(&[37]), None);
        assert_eq!(packed.rows(&[-1]), None);
        // The panels keep the GGUF size, give or take the unpacked K scales and the padding.
        let gguf = raw.len() as f64;
        let padded = gguf * 48.0 / 37.0;
        assert!((packed.bytes() as f64) < padded * 1.03 + 64.0, "{kind:?}");
    }
}

#[test]
fn pack_rejects_partial_blocks_and_wrong_sizes() {
    let err = PackedQuant::pack(BlockKind::Q4K, &[0; 144], 1, 128).unwrap_err();
    assert!(err.contains("whole blocks of 256"), "{err}");
    let err = PackedQuant::pack(BlockKind::Q4_1, &[0; 39], 1, 64).unwrap_err();
    assert!(err.contains("40 bytes"), "{err}");
    assert!(dequantize(BlockKind::Q8_0, &[0; 34], &mut [0.0; 31]).is_err());
    let empty = PackedQuant::pack(BlockKind::Q8_0, &[], 0, 64).unwrap();
    assert_eq!(empty.product(&[0.0; 64], 1), Vec::<f32>::new());
}

// Blocks built by hand, with ggml's encoders written out, against values worked out by
// formula.

const HALF: u16 = 0x3800; // 0.5
const ONE: u16 = 0x3C00;
const MINUS_ONE: u16 = 0xBC00;
const QUARTER: u16 = 0x3400;

fn deq(kind: BlockKind, raw: &[u8]) -> Vec<f32> {
    let mut out = vec![0f32; kind.block_elems()];
    dequantize(kind, raw, &mut out).unwrap();
    out
}

#[test]
fn q4_0_q4_1_and_q8_0_blocks_decode_to_known_values() {
    // Input j < 16 is the low nibble of byte j, input j + 16 its high nibble.
    let qs: Vec<u8> = (0..16u8).map(|j| j | ((15 - j) << 4)).collect();
    let raw = [&HALF.to_le_bytes()[..], &qs].concat();
    let want: Vec<f32> = (0..16)
        .map(|j| 0.5 * (j as f32 - 8.0))
        .chain((0..16).map(|j| 0.5 * (7.0 - j as f32)))
        .collect();
    assert_eq!(deq(BlockKind::Q4_0, &raw), want);

    let raw = [&HALF.to_le_bytes()[..], &MINUS_ONE.to_le_bytes(), &qs].concat();
    let want: Vec<f32> = (0..16)
        .map(|j| 0.5 * j as f32 - 1.0)
        .chain((0..16).map(|j| 0.5 * (15 - j) as f32 - 1.0))
        .collect();
    assert_eq!(deq(BlockKind::Q4_1, &raw), want);

    let qs: Vec<u8> = (0..32).map(|j| (j as i8 - 16) as u8).collect();
    let raw = [&QUARTER.to_le_bytes()[..], &qs].concat();
    let want: Vec<f32> = (0..32).map(|j| 0.25 * (j as f32 - 16.0)).collect();
    assert_eq!(deq(BlockKind::Q8_0, &raw), want);
}

/// ggml's packing of eight 6-bit scales and minimums (`quantize_row_q4_K_ref`).
fn k4_scales(sc: [u8; 8], mn: [u8; 8]) -> [u8; 12] {
    let mut s = [0u8; 12];
    for j in 0..8 {
        if j < 4 {
            s[j] = sc[j];
            s[j + 4] = mn[j];
        } else {
            s[j + 4] = (sc[j] & 0xF) | ((mn[j] & 0xF) << 4);
            s[j - 4] |= (sc[j] >> 4) << 6;
            s[j] |= (mn[j] >> 4) << 6;
        }
    }
    s
}

#[test]
fn q4_k_and_q5_k_blocks_decode_to_known_values() {
    let sc = [1, 2, 3, 63, 17, 40, 5, 33];
    let mn = [0, 7, 63, 1, 20, 9, 48, 2];
    let q4 = |e: usize| ((e * 7) % 16) as u8;
    let q5 = |e: usize| ((e * 11) % 32) as u8;
    // Groups of 64: byte 32·g + l holds input 64·g + l (low) and 64·g + 32 + l (high).
    let mut qs4 = [0u8; 128];
    let mut qs5 = [0u8; 128];
    let mut qh = [0u8; 32];
    for e in 0..256 {
        let (g, half, l) = (e / 64, (e / 32) % 2, e % 32);
        qs4[32 * g + l] |= q4(e) << (4 * half);
        qs5[32 * g + l] |= (q5(e) & 0xF) << (4 * half);
        qh[l] |= (q5(e) >> 4) << (2 * g + half);
    }
    let head = [
        &ONE.to_le_bytes()[..],
        &HALF.to_le_bytes(),
        &k4_scales(sc, mn),
    ]
    .concat();
    let want = |q: &dyn Fn(usize) -> u8| -> Vec<f32> {
        (0..256)
            .map(|e| sc[e / 32] as f32 * q(e) as f32 - 0.5 * mn[e / 32] as f32)
            .collect()
    };
    assert_eq!(deq(BlockKind::Q4K, &[&head[..], &qs4].concat()), want(&q4));
    assert_eq!(
        deq(BlockKind::Q5K, &[&head[..], &qh, &qs5].concat()),
        want(&q5)
    );
}

#[test]
fn q6_k_blocks_decode_to_known_values() {
    let q = |e: usize| ((e * 13) % 64) as u8;
    let scales: Vec<i8> = (0..16).map(|i| (i as i8 - 8) * 3).collect();
    // Halves of 128; within one, quarter k of 32 takes the low (k < 2) or high nibbles of
    // ql[l + 32·(k % 2)] and bits 2k, 2k + 1 of qh[l].
    let (mut ql, mut qh) = ([0u8; 128], [0u8; 64]);
    for e in 0..256 {
        let (h, k, l) = (e / 128, (e % 128) / 32, e % 32);
        ql[64 * h + 32 * (k % 2) + l] |= (q(e) & 0xF) << (4 * (k / 2));
        qh[32 * h + l] |= (q(e) >> 4) << (2 * k);
    }
    let sc: Vec<u8> = scales.iter().map(|&s| s as u8).collect();
    let raw = [&ql[..], &qh, &sc, &HALF.to_le_bytes()].concat();
    let want: Vec<f32> = (0..256)
        .map(|e| 0.5 * f32::from(scales[e / 16]) * (i32::from(q(e)) - 32) as f32)
        .collect();
    assert_eq!(deq(BlockKind::Q6K, &raw), want);
}

#[test]
fn f16_conversion_is_exact() {
    assert_eq!(f16_to_f32(0x3C00), 1.0);
    assert_eq!(f16_to_f32(0xC000), -2.0);
    assert_eq!(f16_to_f32(0x7BFF), 65504.0);
    assert_eq!(f16_to_f32(0x0001), 2f32.powi(-24));
    assert_eq!(f16_to_f32(0x83FF), -1023.0 * 2f32.powi(-24));
    assert_eq!(f16_to_f32(0x7C00), f32::INFINITY);
    assert!(f16_to_f32(0x7E00).is_nan());
    assert_eq!(f16_to_f32(0x8000).to_bits(), (-0.0f32).to_bits());
}

#[test]
fn the_avx2_quantizer_equals_the_portable_one() {
    let Some(isa) = Avx2::detect() else { return };
    let mut rng = Rng(17);
    let mut x = random_x(&mut rng, 1, 32 * 40);
    x[..32].fill(0.0); // an all-zero block
    x[32..64].iter_mut().for_each(|v| *v *= 1e-44); // subnormal: the inverse overflows
    x[64..96].iter_mut().for_each(|v| *v *= 3e38);
    x[100] = 0.5 / 127.0 * 1.5; // ties and near-ties of the rounding
    x[101] = -2.5;
    let blocks = x.len() / QK;
    x[102] = 3.5 / 127.0 * 2.0 + 0.5 / 127.0 / 128.0; // a residual of exactly half a step
    let run = |avx2: bool, wide: bool| {
        let mut out = vec![ActBlock::default(); blocks];
        match (avx2, wide) {
            (true, false) => isa.quantize(&x, &mut out),
            (true, true) => isa.quantize_wide(&x, &mut out),
            (false, false) => quantize_blocks(&x, &mut out),
            (false, true) => quantize_blocks_wide(&x, &mut out),
        }
        out.iter()
            .map(|b| (b.xq, b.xr, b.dx.to_bits(), b.dxs.to_bits(), b.sum, b.lo))
            .collect::<Vec<_>>()
    };
    for wide in [false, true] {
        let (want, got) = (run(false, wide), run(true, wide));
        assert_eq!(got, want, "wide {wide}");
        assert!(want[..2].iter().all(|b| b.0.iter().all(|&q| q == 0)));
        let halves = want.iter().flat_map(|b| b.0.iter().chain(&b.1));
        assert!(halves.clone().all(|&q| q != -128), "wide {wide}");
        // Int8 blocks leave the residuals zero; wide ones fill them.
        let residuals = want.iter().filter(|b| b.1.iter().any(|&r| r != 0)).count();
        assert_eq!(residuals > 0, wide, "{residuals} blocks with residuals");
    }
}

#[test]
fn wide_blocks_hold_each_input_to_a_256th_of_its_step() {
    let mut rng = Rng(29);
    let mut x = random_x(&mut rng, 1, 32 * 64);
    x[5] = 1e6; // one huge value: the rest of its block is small next to it
    let mut blocks = vec![ActBlock::default(); x.len() / QK];
    quantize_blocks_wide(&x, &mut blocks);
    for (x, b) in x.chunks_exact(QK).zip(&blocks) {
        let amax = x.iter().fold(0f32, |a, &v| a.max(v.abs()));
        assert_eq!(b.dx, amax / 127.0 / 256.0);
        let step = f64::from(amax) / 127.0;
        let mut sum = 0;
        for ((&x, &q), &r) in x.iter().zip(&b.xq).zip(&b.xr) {
            let v = 256 * i32::from(q) + i32::from(r);
            sum += v;
            let err = (f64::from(x) - f64::from(b.dx) * f64::from(v)).abs();
            assert!(err <= step / 256.0 * 1.000_01, "{x} vs {v}: {err}");
        }
        assert_eq!(b.sum, sum);
    }
}
