//! The x86-64 intrinsics of the quantized products that pulp lacks: AVX-512 VNNI's
//! `vpdpbusd` (u8 × i8 → i32, four at a time) and AVX2's `vpmaddubsw` + `vpmaddwd`, over the
//! panels that [`crate::quant`] lays out, with int8 or wide (16-bit, two int8 halves)
//! activations; and attention's scores for 16 keys at once ([`Scores`]), the folds of their
//! lane sums shared by the keys.
//!
//! The kernel is written once (`kernel!`) and instantiated in `vnni` and `avx2` over vector
//! operations of the same names; those are `#[target_feature]` functions, so they are safe to
//! call from the kernel (compiled with the same features). The only `unsafe` is in the loads and
//! stores (raw pointers, bounds from fixed-size arrays) and in entering a module, which takes a
//! token ([`Vnni`], [`Avx2`]) that exists only once the features were detected at run time.
#![allow(unsafe_code)]

use core::arch::x86_64::*;

use crate::blocks::{BlockKind, Q4_0, Q4_1, Q4K, Q5K, Q6K, Q8_0};
use crate::quant::{self, ActBlock, group_bytes, header_bytes, nibble_input, tile_bytes, tiles};

/// Proof that the CPU has AVX-512 F/BW/VNNI (and FMA, F16C).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Vnni(());

/// Proof that the CPU has AVX2, FMA and F16C.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Avx2(());

impl Vnni {
    pub(crate) fn detect() -> Option<Self> {
        (is_x86_feature_detected!("avx512f")
            && is_x86_feature_detected!("avx512bw")
            && is_x86_feature_detected!("avx512vnni")
            && is_x86_feature_detected!("fma")
            && is_x86_feature_detected!("f16c"))
        .then_some(Vnni(()))
    }

    /// Panel times the `rows` (1 to 8) rows of one chunk of activations (`acts`, block-major;
    /// `wide` or int8 blocks) into `out` (`[rows][16]`).
    pub(crate) fn panel(
        self,
        kind: BlockKind,
        panel: &[u8],
        acts: &[ActBlock],
        rows: usize,
        wide: bool,
        out: &mut [f32],
    ) {
        // SAFETY: `self` exists only when `detect` found every feature `vnni::run` enables.
        unsafe { vnni::run(kind, panel, acts, rows, wide, out) }
    }
}

impl Avx2 {
    pub(crate) fn detect() -> Option<Self> {
        (is_x86_feature_detected!("avx2")
            && is_x86_feature_detected!("fma")
            && is_x86_feature_detected!("f16c"))
        .then_some(Avx2(()))
    }

    /// Panel times the `rows` (1 to 8) rows of one chunk of activations (`acts`, block-major;
    /// `wide` or int8 blocks) into `out` (`[rows][16]`).
    pub(crate) fn panel(
        self,
        kind: BlockKind,
        panel: &[u8],
        acts: &[ActBlock],
        rows: usize,
        wide: bool,
        out: &mut [f32],
    ) {
        // SAFETY: `self` exists only when `detect` found every feature `avx2::run` enables.
        unsafe { avx2::run(kind, panel, acts, rows, wide, out) }
    }

    /// [`quant::quantize_blocks`] with AVX2 (the same results: the same maximum, the same
    /// `127 / amax`, and `vcvtps2dq` rounds to nearest, ties to even).
    pub(crate) fn quantize(self, x: &[f32], out: &mut [ActBlock]) {
        // SAFETY: `self` exists only when `detect` found AVX2, FMA and F16C.
        unsafe { quantize_avx2::<false>(x, out) }
    }

    /// [`quant::quantize_blocks_wide`] with AVX2 (the same results, as for [`Self::quantize`];
    /// the residual `t − round(t)` is exact in f32, and so is its product by 256).
    pub(crate) fn quantize_wide(self, x: &[f32], out: &mut [ActBlock]) {
        // SAFETY: `self` exists only when `detect` found AVX2, FMA and F16C.
        unsafe { quantize_avx2::<true>(x, out) }
    }
}

#[target_feature(enable = "avx2,fma,f16c")]
fn quantize_avx2<const WIDE: bool>(x: &[f32], out: &mut [ActBlock]) {
    // i32 → i8 with saturation; the packs interleave 128-bit lanes, the permute undoes it.
    let bytes = |q: [__m256i; 4]| {
        let b = _mm256_packs_epi16(
            _mm256_packs_epi32(q[0], q[1]),
            _mm256_packs_epi32(q[2], q[3]),
        );
        _mm256_permutevar8x32_epi32(b, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7))
    };
    let hsum = |v: __m256i| {
        let v = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256::<1>(v));
        let v = _mm_add_epi32(v, _mm_shuffle_epi32::<0b01_00_11_10>(v));
        let v = _mm_add_epi32(v, _mm_shuffle_epi32::<0b10_11_00_01>(v));
        _mm_cvtsi128_si32(v)
    };
    for (x, out) in x.chunks_exact(32).zip(out) {
        let x: &[f32; 32] = x.try_into().expect("a block");
        // SAFETY: reads 4 × 8 floats of the 32 in `x`; `loadu` needs no alignment.
        let v: [__m256; 4] =
            std::array::from_fn(|i| unsafe { _mm256_loadu_ps(x[8 * i..].as_ptr()) });
        let sign = _mm256_set1_ps(-0.0);
        let abs = v.map(|v| _mm256_andnot_ps(sign, v));
        let m = _mm256_max_ps(_mm256_max_ps(abs[0], abs[1]), _mm256_max_ps(abs[2], abs[3]));
        let m = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps::<1>(m));
        let m = _mm_max_ps(m, _mm_movehl_ps(m, m));
        let m = _mm_max_ss(m, _mm_movehdup_ps(m));
        let amax = _mm_cvtss_f32(m);
        let id = quant::inverse_scale(amax);
        let t = v.map(|v| _mm256_mul_ps(v, _mm256_set1_ps(id)));
        let q = t.map(|t| _mm256_cvtps_epi32(t));
        // The block's integer values (`q`, or `256·q + r` with the residual `r`).
        let values = if WIDE {
            out.dx = amax / 127.0 / 256.0;
            let limit = _mm256_set1_epi32(127);
            let r: [__m256i; 4] = std::array::from_fn(|i| {
                let rest = _mm256_sub_ps(t[i], _mm256_cvtepi32_ps(q[i]));
                let r = _mm256_cvtps_epi32(_mm256_mul_ps(rest, _mm256_set1_ps(256.0)));
                _mm256_max_epi32(
                    _mm256_min_epi32(r, limit),
                    _mm256_sub_epi32(_mm256_setzero_si256(), limit),
                )
            });
            // SAFETY: writes the 32 bytes of `out.xr`; `storeu` needs no alignment.
            unsafe { _mm256_storeu_si256(out.xr.as_mut_ptr().cast(), bytes(r)) }
            std::array::from_fn(|i| _mm256_add_epi32(_mm256_slli_epi32::<8>(q[i]), r[i]))
        } else {
            out.dx = amax / 127.0;
            q
        };
        out.lo = hsum(_mm256_add_epi32(values[0], values[1]));
        out.sum = out.lo + hsum(_mm256_add_epi32(values[2], values[3]));
        out.dxs = out.dx * out.sum as f32;
        // SAFETY: writes the 32 bytes of `out.xq`; `storeu` needs no alignment.
        unsafe { _mm256_storeu_si256(out.xq.as_mut_ptr().cast(), bytes(q)) }
    }
}

/// Four consecutive int8 activations as one i32 (the operand `vpdpbusd` broadcasts).
#[inline(always)]
fn quad(x: &[i8; 32], at: usize) -> i32 {
    i32::from_le_bytes([
        x[at] as u8,
        x[at + 1] as u8,
        x[at + 2] as u8,
        x[at + 3] as u8,
    ])
}

/// Bytes ahead of the tile being read that the kernel asks the CPU to fetch: with the hardware
/// prefetcher alone, a third of a decode step's kernel samples waited on the first load of
/// each tile. 4 KiB measured best of 1, 2, 4 and 8 (1 KiB clearly worse).
const PREFETCH: usize = 4096;

/// Asks for the cache lines of `bytes` from `at` (a hint: addresses past the end are allowed
/// and never read).
#[inline(always)]
fn prefetch(bytes: &[u8], at: usize, len: usize) {
    let start = bytes.as_ptr().wrapping_add(at);
    for line in (0..len).step_by(64) {
        // SAFETY: a prefetch reads nothing into the program and never faults, whatever the
        // address.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(start.wrapping_add(line).cast()) }
    }
}

/// A fixed-size piece of a byte slice (the kernels' offsets are constants, so the compiler
/// drops most of these checks).
#[inline(always)]
fn piece<const N: usize>(bytes: &[u8], at: usize) -> &[u8; N] {
    bytes[at..at + N].try_into().expect("N bytes")
}

/// `$body` for `$r` = 0, 1, …, `$rows − 1` (at most 8), written out with `$r` a constant in
/// each copy: as a loop, once the body holds a wide row's four sums, the compiler keeps the
/// rows' sums in memory.
macro_rules! each_row {
    ($rows:expr, |$r:ident| $body:block) => {{
        {
            let $r = 0;
            $body
        }
        if $rows > 1 {
            let $r = 1;
            $body
        }
        if $rows > 2 {
            let $r = 2;
            $body
        }
        if $rows > 3 {
            let $r = 3;
            $body
        }
        if $rows > 4 {
            let $r = 4;
            $body
        }
        if $rows > 5 {
            let $r = 5;
            $body
        }
        if $rows > 6 {
            let $r = 6;
            $body
        }
        if $rows > 7 {
            let $r = 7;
            $body
        }
    }};
}

/// The kernel over one instruction set's vector operations (`B`: 64 quant bytes, 4 per row;
/// `I`: 16 i32; `F`: 16 f32), with its `#[target_feature]` list.
macro_rules! kernel {
    ($features:literal) => {
        /// Dispatches on the kind and the number of rows (1 to 8), so that both are constants
        /// in the kernel.
        #[target_feature(enable = $features)]
        pub(super) fn run(
            kind: BlockKind,
            panel: &[u8],
            acts: &[ActBlock],
            rows: usize,
            wide: bool,
            out: &mut [f32],
        ) {
            macro_rules! by_rows {
                ($k:expr, $w:expr) => {
                    match rows {
                        1 => kernel::<{ $k }, 1, $w>(panel, acts, out),
                        2 => kernel::<{ $k }, 2, $w>(panel, acts, out),
                        3 => kernel::<{ $k }, 3, $w>(panel, acts, out),
                        4 => kernel::<{ $k }, 4, $w>(panel, acts, out),
                        5 => kernel::<{ $k }, 5, $w>(panel, acts, out),
                        6 => kernel::<{ $k }, 6, $w>(panel, acts, out),
                        7 => kernel::<{ $k }, 7, $w>(panel, acts, out),
                        8 => kernel::<{ $k }, 8, $w>(panel, acts, out),
                        n => unreachable!("chunks have 1 to 8 rows, not {n}"),
                    }
                };
            }
            macro_rules! by_width {
                ($k:expr) => {
                    if wide {
                        by_rows!($k, true)
                    } else {
                        by_rows!($k, false)
                    }
                };
            }
            match kind {
                BlockKind::Q4_0 => by_width!(Q4_0),
                BlockKind::Q4_1 => by_width!(Q4_1),
                BlockKind::Q8_0 => by_width!(Q8_0),
                BlockKind::Q4K => by_width!(Q4K),
                BlockKind::Q5K => by_width!(Q5K),
                BlockKind::Q6K => by_width!(Q6K),
            }
        }

        /// One panel of kind `K` times `R` activation rows (block-major: block `b` of row
        /// `r` at `acts[b·R + r]`), int8 or wide (`W`: each row's two halves through the
        /// same dot products, summed apart and joined as `(Σ w·xq) << 8 + Σ w·xr`).
        #[target_feature(enable = $features)]
        fn kernel<const K: u8, const R: usize, const W: bool>(
            panel: &[u8],
            acts: &[ActBlock],
            out: &mut [f32],
        ) {
            let (header, tile) = (header_bytes(K), tile_bytes(K));
            let mut blocks = acts.chunks_exact(R);
            let mut y = [zero_f(); R];
            for group in panel.chunks_exact(group_bytes(K)) {
                let d = load_h(piece::<32>(group, 0));
                // Q4_1's m, the K-quants' dmin.
                let m = if header == 64 {
                    load_h(piece::<32>(group, 32))
                } else {
                    d
                };
                for t in 0..tiles(K) {
                    let at = header + t * tile;
                    prefetch(
                        group,
                        PREFETCH + t * group_bytes(K) / tiles(K),
                        group_bytes(K) / tiles(K),
                    );
                    let tb = &group[at..at + tile];
                    // The multipliers of the (low half's) integer sum and of the minimums or
                    // the high half's sum, per output row.
                    let (s1, s2) = match K {
                        Q4K | Q5K => (
                            mul(d, load_u8f(piece::<16>(tb, tile - 32))),
                            mul(m, load_u8f(piece::<16>(tb, tile - 16))),
                        ),
                        Q6K => (
                            mul(d, load_i8f(piece::<16>(tb, tile - 32))),
                            mul(d, load_i8f(piece::<16>(tb, tile - 16))),
                        ),
                        _ => (d, m),
                    };
                    let a: &[ActBlock; R] = blocks
                        .next()
                        .and_then(|a| a.try_into().ok())
                        .expect("an activation block per tile and row");
                    let xb: [&[i8; 32]; R] = std::array::from_fn(|r| &a[r].xq);
                    let rb: [&[i8; 32]; R] = std::array::from_fn(|r| &a[r].xr);
                    // Independent sums (the low and high nibbles apart, and for one or two
                    // rows the even and odd vectors too, in `lo2`, `hi2`), so that
                    // `vpdpbusd`'s latency does not bound one chain; with more rows, `lo2`
                    // and `hi2` stay zero and drop out. Wide rows sum their residuals apart
                    // (`rlo`…), and from 5 rows on (not Q6_K, whose halves have their own
                    // scales) both nibbles in one sum each, so that the sums stay in
                    // registers.
                    let merge = W && R > 4 && K != Q6K;
                    let (mut lo, mut hi) = ([zero_i(); R], [zero_i(); R]);
                    let (mut lo2, mut hi2) = ([zero_i(); R], [zero_i(); R]);
                    let (mut rlo, mut rhi) = ([zero_i(); R], [zero_i(); R]);
                    let (mut rlo2, mut rhi2) = ([zero_i(); R], [zero_i(); R]);
                    if K == Q8_0 {
                        for u in 0..8 {
                            let w = load_b(piece::<64>(tb, 64 * u));
                            each_row!(R, |r| {
                                let x = quad(xb[r], 4 * u);
                                let xr = quad(rb[r], 4 * u);
                                match (R <= 2, u % 4) {
                                    (true, 1) => {
                                        hi[r] = dot8(hi[r], w, x);
                                        if W {
                                            rhi[r] = dot8(rhi[r], w, xr);
                                        }
                                    }
                                    (true, 2) => {
                                        lo2[r] = dot8(lo2[r], w, x);
                                        if W {
                                            rlo2[r] = dot8(rlo2[r], w, xr);
                                        }
                                    }
                                    (true, 3) => {
                                        hi2[r] = dot8(hi2[r], w, x);
                                        if W {
                                            rhi2[r] = dot8(rhi2[r], w, xr);
                                        }
                                    }
                                    (false, 1 | 3) if !merge => {
                                        hi[r] = dot8(hi[r], w, x);
                                        if W {
                                            rhi[r] = dot8(rhi[r], w, xr);
                                        }
                                    }
                                    _ => {
                                        lo[r] = dot8(lo[r], w, x);
                                        if W {
                                            rlo[r] = dot8(rlo[r], w, xr);
                                        }
                                    }
                                }
                            });
                        }
                    } else {
                        for v in 0..4 {
                            let raw = load_b(piece::<64>(tb, 64 * v));
                            let (mut wl, mut wh) = (low4(raw), high4(raw));
                            if K == Q5K {
                                let bits = load_b(piece::<64>(tb, 256));
                                wl = or(wl, fifth_bit(bits, 2 * v));
                                wh = or(wh, fifth_bit(bits, 2 * v + 1));
                            }
                            if K == Q6K {
                                let bits = load_b(piece::<64>(tb, 256 + 64 * (v / 2)));
                                wl = or(wl, high_two(bits, 2 * (v % 2)));
                                wh = or(wh, high_two(bits, 2 * (v % 2) + 1));
                            }
                            each_row!(R, |r| {
                                let xl = quad(xb[r], nibble_input(2 * v));
                                let xh = quad(xb[r], nibble_input(2 * v + 1));
                                let (rl, rh) = (
                                    quad(rb[r], nibble_input(2 * v)),
                                    quad(rb[r], nibble_input(2 * v + 1)),
                                );
                                if R <= 2 && v % 2 == 1 {
                                    lo2[r] = dot(lo2[r], wl, xl);
                                    hi2[r] = dot(hi2[r], wh, xh);
                                    if W {
                                        rlo2[r] = dot(rlo2[r], wl, rl);
                                        rhi2[r] = dot(rhi2[r], wh, rh);
                                    }
                                } else if merge {
                                    lo[r] = dot(dot(lo[r], wl, xl), wh, xh);
                                    rlo[r] = dot(dot(rlo[r], wl, rl), wh, rh);
                                } else {
                                    lo[r] = dot(lo[r], wl, xl);
                                    hi[r] = dot(hi[r], wh, xh);
                                    if W {
                                        rlo[r] = dot(rlo[r], wl, rl);
                                        rhi[r] = dot(rhi[r], wh, rh);
                                    }
                                }
                            });
                        }
                    }
                    each_row!(R, |r| {
                        let (dx, dxs) = (a[r].dx, a[r].dxs);
                        // The first 16 inputs' and the last 16's sums (Q6_K's two
                        // scales), and all 32.
                        let (low, high) = (add_i(lo[r], lo2[r]), add_i(hi[r], hi2[r]));
                        let (low, high) = if W {
                            (
                                add_i(shl8(low), add_i(rlo[r], rlo2[r])),
                                add_i(shl8(high), add_i(rhi[r], rhi2[r])),
                            )
                        } else {
                            (low, high)
                        };
                        let all = add_i(low, high);
                        y[r] = match K {
                            Q4_0 | Q8_0 => {
                                let c = if K == Q4_0 { 8 } else { Q8_OFFSET };
                                let all = sub_i(all, c * a[r].sum);
                                fma(to_f(all), mul(s1, splat(dx)), y[r])
                            }
                            Q4_1 => {
                                let y = fma(to_f(all), mul(s1, splat(dx)), y[r]);
                                fma(s2, splat(dxs), y)
                            }
                            Q4K | Q5K => {
                                let y = fma(to_f(all), mul(s1, splat(dx)), y[r]);
                                fnma(s2, splat(dxs), y)
                            }
                            _ => {
                                let (sum, l) = (a[r].sum, a[r].lo);
                                let low = to_f(sub_i(low, 32 * l));
                                let high = to_f(sub_i(high, 32 * (sum - l)));
                                fma(fma(low, s1, mul(high, s2)), splat(dx), y[r])
                            }
                        };
                    });
                }
            }
            for (o, y) in out.chunks_exact_mut(16).zip(y) {
                store(y, o.try_into().expect("16 lanes"));
            }
        }
    };
}

/// AVX-512: a 64-byte vector holds 4 inputs of each of the panel's 16 rows.
mod vnni {
    use super::*;

    type B = __m512i;
    type I = __m512i;
    type F = __m512;

    /// Q8_0's weights stay offset by 128: `vpdpbusd` takes them unsigned.
    const Q8_OFFSET: i32 = 128;

    #[target_feature(enable = "avx512f,avx512bw,avx512vnni,fma,f16c")]
    #[inline]
    fn load_b(bytes: &[u8; 64]) -> B {
        // SAFETY: reads the 64 bytes of `bytes`; `loadu` needs no alignment.
        unsafe { _mm512_loadu_si512(bytes.as_ptr().cast()) }
    }

    /// 16 f16 to f32.
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni,fma,f16c")]
    #[inline]
    fn load_h(bytes: &[u8; 32]) -> F {
        // SAFETY: reads the 32 bytes of `bytes`; `loadu` needs no alignment.
        _mm512_cvtph_ps(unsafe { _mm256_loadu_si256(bytes.as_ptr().cast()) })
    }

    #[target_feature(enable = "avx512f,avx512bw,avx512vnni,fma,f16c")]
    #[inline]
    fn load_u8f(bytes: &[u8; 16]) -> F {
        // SAFETY: reads the 16 bytes of `bytes`; `loadu` needs no alignment.
        let v = unsafe { _mm_loadu_si128(bytes.as_ptr().cast()) };
        _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(v))
    }

    #[target_feature(enable = "avx512f,avx512bw,avx512vnni,fma,f16c")]
    #[inline]
    fn load_i8f(bytes: &[u8; 16]) -> F {
        // SAFETY: reads the 16 bytes of `bytes`; `loadu` needs no alignment.
        let v = unsafe { _mm_loadu_si128(bytes.as_ptr().cast()) };
        _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(v))
    }

    #[target_feature(enable = "avx512f,avx512bw,avx512vnni,fma,f16c")]
    #[inline]
    fn store(v: F, out: &mut [f32; 16]) {
        // SAFETY: writes the 16 floats of `out`; `storeu` needs no alignment.
        unsafe { _mm512_storeu_ps(out.as_mut_ptr(), v) }
    }

    #[target_feature(enable = "avx512f,avx512bw,avx512vnni,fma,f16c")]
    #[inline]
    fn zero_i() -> I {
        _mm512_setzero_si512()
    }

    #[target_feature(enable = "avx512f,avx512bw,avx512vnni,fma,f16c")]
    #[inline]
    fn zero_f() -> F {
        _mm512_setzero_ps()
    }

    #[target_feature(enable = "avx512f,avx512bw,avx512vnni,fma,f16c")]
    #[inline]
    fn low4(b: B) -> B {
        _mm512_and_si512(b, _mm512_set1_epi8(0x0F))
    }

    #[target_feature(enable = "avx512f,avx512bw,avx512vnni,fma,f16c")]
    #[inline]
    fn high4(b: B) -> B {
        _mm512_and_si512(_mm512_srli_epi16::<4>(b), _mm512_set1_epi8(0x0F))
    }

    #[target_feature(enable = "avx512f,avx512bw,avx512vnni,fma,f16c")]
    #[inline]
    fn or(a: B, b: B) -> B {
        _mm512_or_si512(a, b)
    }

    /// Bit `u` of each byte moved to bit 4 (the 16-bit shifts keep each byte's bit in its
    /// byte: the mask drops what crosses over).
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni,fma,f16c")]
    #[inline]
    fn fifth_bit(bits: B, u: usize) -> B {
        let moved = match u {
            0 => _mm512_slli_epi16::<4>(bits),
            1 => _mm512_slli_epi16::<3>(bits),
            2 => _mm512_slli_epi16::<2>(bits),
            3 => _mm512_slli_epi16::<1>(bits),
            4 => bits,
            5 => _mm512_srli_epi16::<1>(bits),
            6 => _mm512_srli_epi16::<2>(bits),
            _ => _mm512_srli_epi16::<3>(bits),
        };
        _mm512_and_si512(moved, _mm512_set1_epi8(0x10))
    }

    /// Bits `2k, 2k + 1` of each byte moved to bits 4, 5.
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni,fma,f16c")]
    #[inline]
    fn high_two(bits: B, k: usize) -> B {
        let moved = match k {
            0 => _mm512_slli_epi16::<4>(bits),
            1 => _mm512_slli_epi16::<2>(bits),
            2 => bits,
            _ => _mm512_srli_epi16::<2>(bits),
        };
        _mm512_and_si512(moved, _mm512_set1_epi8(0x30))
    }

    /// `acc` plus, per row, the 4 unsigned weights of `w` times the 4 activations of `x`.
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni,fma,f16c")]
    #[inline]
    fn dot(acc: I, w: B, x: i32) -> I {
        _mm512_dpbusd_epi32(acc, w, _mm512_set1_epi32(x))
    }

    #[target_feature(enable = "avx512f,avx512bw,avx512vnni,fma,f16c")]
    #[inline]
    fn dot8(acc: I, w: B, x: i32) -> I {
        dot(acc, w, x)
    }

    #[target_feature(enable = "avx512f,avx512bw,avx512vnni,fma,f16c")]
    #[inline]
    fn add_i(a: I, b: I) -> I {
        _mm512_add_epi32(a, b)
    }

    /// `a · 256`.
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni,fma,f16c")]
    #[inline]
    fn shl8(a: I) -> I {
        _mm512_slli_epi32::<8>(a)
    }

    #[target_feature(enable = "avx512f,avx512bw,avx512vnni,fma,f16c")]
    #[inline]
    fn sub_i(a: I, s: i32) -> I {
        _mm512_sub_epi32(a, _mm512_set1_epi32(s))
    }

    #[target_feature(enable = "avx512f,avx512bw,avx512vnni,fma,f16c")]
    #[inline]
    fn to_f(a: I) -> F {
        _mm512_cvtepi32_ps(a)
    }

    #[target_feature(enable = "avx512f,avx512bw,avx512vnni,fma,f16c")]
    #[inline]
    fn splat(v: f32) -> F {
        _mm512_set1_ps(v)
    }

    #[target_feature(enable = "avx512f,avx512bw,avx512vnni,fma,f16c")]
    #[inline]
    fn mul(a: F, b: F) -> F {
        _mm512_mul_ps(a, b)
    }

    /// `a·b + c`.
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni,fma,f16c")]
    #[inline]
    fn fma(a: F, b: F, c: F) -> F {
        _mm512_fmadd_ps(a, b, c)
    }

    /// `c − a·b`.
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni,fma,f16c")]
    #[inline]
    fn fnma(a: F, b: F, c: F) -> F {
        _mm512_fnmadd_ps(a, b, c)
    }

    kernel!("avx512f,avx512bw,avx512vnni,fma,f16c");
}

/// AVX2: the same 16 rows as two 256-bit halves (rows 0–7, 8–15).
mod avx2 {
    use super::*;

    type B = [__m256i; 2];
    type I = [__m256i; 2];
    type F = [__m256; 2];

    /// Q8_0's weights are turned back to signed for `vpmaddubsw` (whose i16 pairs would
    /// overflow with 255 · 127 · 2), so no offset comes off.
    const Q8_OFFSET: i32 = 0;

    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    fn load_b(bytes: &[u8; 64]) -> B {
        // SAFETY: reads the 64 bytes of `bytes`, 32 at a time; `loadu` needs no alignment.
        unsafe {
            [
                _mm256_loadu_si256(bytes.as_ptr().cast()),
                _mm256_loadu_si256(bytes[32..].as_ptr().cast()),
            ]
        }
    }

    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    fn load_h(bytes: &[u8; 32]) -> F {
        // SAFETY: reads the 32 bytes of `bytes`, 16 at a time; `loadu` needs no alignment.
        unsafe {
            [
                _mm256_cvtph_ps(_mm_loadu_si128(bytes.as_ptr().cast())),
                _mm256_cvtph_ps(_mm_loadu_si128(bytes[16..].as_ptr().cast())),
            ]
        }
    }

    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    fn load_u8f(bytes: &[u8; 16]) -> F {
        // SAFETY: reads the 16 bytes of `bytes`, 8 at a time.
        unsafe {
            [
                _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadu_si64(bytes.as_ptr()))),
                _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadu_si64(bytes[8..].as_ptr()))),
            ]
        }
    }

    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    fn load_i8f(bytes: &[u8; 16]) -> F {
        // SAFETY: reads the 16 bytes of `bytes`, 8 at a time.
        unsafe {
            [
                _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadu_si64(bytes.as_ptr()))),
                _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadu_si64(bytes[8..].as_ptr()))),
            ]
        }
    }

    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    fn store(v: F, out: &mut [f32; 16]) {
        // SAFETY: writes the 16 floats of `out`, 8 at a time; `storeu` needs no alignment.
        unsafe {
            _mm256_storeu_ps(out.as_mut_ptr(), v[0]);
            _mm256_storeu_ps(out[8..].as_mut_ptr(), v[1]);
        }
    }

    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    fn zero_i() -> I {
        [_mm256_setzero_si256(); 2]
    }

    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    fn zero_f() -> F {
        [_mm256_setzero_ps(); 2]
    }

    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    fn low4(b: B) -> B {
        b.map(|b| _mm256_and_si256(b, _mm256_set1_epi8(0x0F)))
    }

    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    fn high4(b: B) -> B {
        b.map(|b| _mm256_and_si256(_mm256_srli_epi16::<4>(b), _mm256_set1_epi8(0x0F)))
    }

    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    fn or(a: B, b: B) -> B {
        [_mm256_or_si256(a[0], b[0]), _mm256_or_si256(a[1], b[1])]
    }

    /// Bit `u` of each byte moved to bit 4.
    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    fn fifth_bit(bits: B, u: usize) -> B {
        bits.map(|b| {
            let moved = match u {
                0 => _mm256_slli_epi16::<4>(b),
                1 => _mm256_slli_epi16::<3>(b),
                2 => _mm256_slli_epi16::<2>(b),
                3 => _mm256_slli_epi16::<1>(b),
                4 => b,
                5 => _mm256_srli_epi16::<1>(b),
                6 => _mm256_srli_epi16::<2>(b),
                _ => _mm256_srli_epi16::<3>(b),
            };
            _mm256_and_si256(moved, _mm256_set1_epi8(0x10))
        })
    }

    /// Bits `2k, 2k + 1` of each byte moved to bits 4, 5.
    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    fn high_two(bits: B, k: usize) -> B {
        bits.map(|b| {
            let moved = match k {
                0 => _mm256_slli_epi16::<4>(b),
                1 => _mm256_slli_epi16::<2>(b),
                2 => b,
                _ => _mm256_srli_epi16::<2>(b),
            };
            _mm256_and_si256(moved, _mm256_set1_epi8(0x30))
        })
    }

    /// `acc` plus, per row, 4 unsigned weights (at most 63, so the i16 pair sums of
    /// `vpmaddubsw` stay below 2 · 63 · 127) times 4 activations.
    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    fn dot(acc: I, w: B, x: i32) -> I {
        let x = _mm256_set1_epi32(x);
        let ones = _mm256_set1_epi16(1);
        [0, 1].map(|h| {
            let pairs = _mm256_maddubs_epi16(w[h], x);
            _mm256_add_epi32(acc[h], _mm256_madd_epi16(pairs, ones))
        })
    }

    /// Q8_0: `w` holds `q + 128`; `|q|` times `x` with `q`'s sign stays within i16 pairs
    /// (`|x| ≤ 127`, `|q| ≤ 128`).
    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    fn dot8(acc: I, w: B, x: i32) -> I {
        let x = _mm256_set1_epi32(x);
        let ones = _mm256_set1_epi16(1);
        [0, 1].map(|h| {
            let q = _mm256_xor_si256(w[h], _mm256_set1_epi8(-128));
            let pairs = _mm256_maddubs_epi16(_mm256_abs_epi8(q), _mm256_sign_epi8(x, q));
            _mm256_add_epi32(acc[h], _mm256_madd_epi16(pairs, ones))
        })
    }

    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    fn add_i(a: I, b: I) -> I {
        [_mm256_add_epi32(a[0], b[0]), _mm256_add_epi32(a[1], b[1])]
    }

    /// `a · 256`.
    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    fn shl8(a: I) -> I {
        a.map(|a| _mm256_slli_epi32::<8>(a))
    }

    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    fn sub_i(a: I, s: i32) -> I {
        a.map(|a| _mm256_sub_epi32(a, _mm256_set1_epi32(s)))
    }

    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    fn to_f(a: I) -> F {
        a.map(|a| _mm256_cvtepi32_ps(a))
    }

    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    fn splat(v: f32) -> F {
        [_mm256_set1_ps(v); 2]
    }

    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    fn mul(a: F, b: F) -> F {
        [_mm256_mul_ps(a[0], b[0]), _mm256_mul_ps(a[1], b[1])]
    }

    /// `a·b + c`.
    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    fn fma(a: F, b: F, c: F) -> F {
        [0, 1].map(|h| _mm256_fmadd_ps(a[h], b[h], c[h]))
    }

    /// `c − a·b`.
    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    fn fnma(a: F, b: F, c: F) -> F {
        [0, 1].map(|h| _mm256_fnmadd_ps(a[h], b[h], c[h]))
    }

    kernel!("avx2,fma,f16c");
}

/// Attention scores of one query against 16 keys at once, for [`crate::ops`]: each score is
/// 16 lane sums of products (the head dimension in chunks of 16, from zero), then the lanes
/// folded in halves (lane `i` plus lane `i + 8`, then `+ 4`, `+ 2`, `+ 1`), the additions
/// `ops::score` makes for one key, so every instruction set gives the same scores. One
/// score at a time, the lanes' sum was a chain of scalar additions per key that took most of
/// a decode step's attention; here the 16 keys' folds share each vector instruction (15
/// additions and 30 shuffles for 16 scores).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Scores {
    Avx512(Vnni),
    Avx2(Avx2),
}

/// The key each of the 16 sums takes, so that the folds leave key `j`'s score in lane `j`
/// (checked by the `ops` tests).
const SCORE_ORDER: [usize; 16] = [0, 8, 4, 12, 1, 9, 5, 13, 2, 10, 6, 14, 3, 11, 7, 15];

impl Scores {
    pub(crate) fn detect() -> Option<Self> {
        Vnni::detect()
            .map(Scores::Avx512)
            .or_else(|| Avx2::detect().map(Scores::Avx2))
    }

    /// `q · kⱼ` for the 16 rows `kⱼ` of `keys` (`[16][d]`, `d = q.len()` a multiple of 16).
    pub(crate) fn sixteen(self, q: &[f32], keys: &[f32]) -> [f32; 16] {
        let d = q.len();
        assert!(
            d > 0 && d.is_multiple_of(16) && keys.len() == 16 * d,
            "16 keys of a multiple of 16 floats"
        );
        match self {
            // SAFETY: a `Vnni` exists only when `detect` found AVX-512 F (with BW and VNNI).
            Scores::Avx512(_) => unsafe { scores_avx512(q, keys) },
            // SAFETY: an `Avx2` exists only when `detect` found AVX2.
            Scores::Avx2(_) => unsafe { scores_avx2(q, keys) },
        }
    }
}

/// See [`Scores`]; `q.len()` is a positive multiple of 16 and `keys` holds 16 rows of it.
#[target_feature(enable = "avx512f")]
fn scores_avx512(q: &[f32], keys: &[f32]) -> [f32; 16] {
    let d = q.len();
    let sums = |j: usize| {
        let k = &keys[SCORE_ORDER[j] * d..][..d];
        let mut acc = _mm512_setzero_ps();
        for (q, k) in q.chunks_exact(16).zip(k.chunks_exact(16)) {
            // SAFETY: reads the 16 floats of each chunk; `loadu` needs no alignment.
            let (q, k) = unsafe { (_mm512_loadu_ps(q.as_ptr()), _mm512_loadu_ps(k.as_ptr())) };
            acc = _mm512_add_ps(acc, _mm512_mul_ps(q, k));
        }
        acc
    };
    // Each fold adds lane `i` to lane `i + h` of both inputs' keys, `u`'s sums placed before
    // `v`'s in every group of `2h` lanes (the 128-bit quarters `[u₀+u₁, v₀+v₁, u₂+u₃, v₂+v₃]`
    // for h = 4).
    let fold8 = |u, v| {
        _mm512_add_ps(
            _mm512_shuffle_f32x4::<0x44>(u, v),
            _mm512_shuffle_f32x4::<0xEE>(u, v),
        )
    };
    let fold4 = |u, v| {
        let low = _mm512_setr_epi32(0, 1, 2, 3, 16, 17, 18, 19, 8, 9, 10, 11, 24, 25, 26, 27);
        let high = _mm512_setr_epi32(4, 5, 6, 7, 20, 21, 22, 23, 12, 13, 14, 15, 28, 29, 30, 31);
        _mm512_add_ps(
            _mm512_permutex2var_ps(u, low, v),
            _mm512_permutex2var_ps(u, high, v),
        )
    };
    let fold2 = |u, v| {
        _mm512_add_ps(
            _mm512_shuffle_ps::<0x44>(u, v),
            _mm512_shuffle_ps::<0xEE>(u, v),
        )
    };
    let fold1 = |u, v| {
        _mm512_add_ps(
            _mm512_shuffle_ps::<0x88>(u, v),
            _mm512_shuffle_ps::<0xDD>(u, v),
        )
    };
    let two = |j| fold8(sums(j), sums(j + 1));
    let four = |j| fold4(two(j), two(j + 2));
    let eight = |j| fold2(four(j), four(j + 4));
    let all = fold1(eight(0), eight(8));
    let mut out = [0f32; 16];
    // SAFETY: writes the 16 floats of `out`; `storeu` needs no alignment.
    unsafe { _mm512_storeu_ps(out.as_mut_ptr(), all) };
    out
}

/// [`scores_avx512`] with each 16-lane vector as two AVX2 halves (the same lanes, the same
/// additions).
#[target_feature(enable = "avx2")]
fn scores_avx2(q: &[f32], keys: &[f32]) -> [f32; 16] {
    type V = [__m256; 2];
    let d = q.len();
    let sums = |j: usize| -> V {
        let k = &keys[SCORE_ORDER[j] * d..][..d];
        let mut acc = [_mm256_setzero_ps(); 2];
        for (q, k) in q.chunks_exact(16).zip(k.chunks_exact(16)) {
            for (h, acc) in acc.iter_mut().enumerate() {
                // SAFETY: reads 8 of the chunks' 16 floats; `loadu` needs no alignment.
                let (q, k) = unsafe {
                    (
                        _mm256_loadu_ps(q[8 * h..].as_ptr()),
                        _mm256_loadu_ps(k[8 * h..].as_ptr()),
                    )
                };
                *acc = _mm256_add_ps(*acc, _mm256_mul_ps(q, k));
            }
        }
        acc
    };
    let fold8 = |u: V, v: V| [_mm256_add_ps(u[0], u[1]), _mm256_add_ps(v[0], v[1])];
    let fold4 = |u: V, v: V| {
        [0, 1].map(|h| {
            _mm256_add_ps(
                _mm256_permute2f128_ps::<0x20>(u[h], v[h]),
                _mm256_permute2f128_ps::<0x31>(u[h], v[h]),
            )
        })
    };
    let fold2 = |u: V, v: V| {
        [0, 1].map(|h| {
            _mm256_add_ps(
                _mm256_shuffle_ps::<0x44>(u[h], v[h]),
                _mm256_shuffle_ps::<0xEE>(u[h], v[h]),
            )
        })
    };
    let fold1 = |u: V, v: V| {
        [0, 1].map(|h| {
            _mm256_add_ps(
                _mm256_shuffle_ps::<0x88>(u[h], v[h]),
                _mm256_shuffle_ps::<0xDD>(u[h], v[h]),
            )
        })
    };
    let two = |j| fold8(sums(j), sums(j + 1));
    let four = |j| fold4(two(j), two(j + 2));
    let eight = |j| fold2(four(j), four(j + 4));
    let all = fold1(eight(0), eight(8));
    let mut out = [0f32; 16];
    for (h, v) in all.iter().enumerate() {
        // SAFETY: writes 8 of the 16 floats of `out`; `storeu` needs no alignment.
        unsafe { _mm256_storeu_ps(out[8 * h..].as_mut_ptr(), *v) };
    }
    out
}
