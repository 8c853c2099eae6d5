//! Products `x Wᵀ` on ggml's quantized blocks (Q4_0, Q4_1, Q8_0, Q4_K, Q5_K, Q6_K), without
//! dequantising the weights to f32.
//!
//! As in llama.cpp, the activations are quantized once per product to int8 blocks of 32 with an
//! f32 scale (and the block's integer sum, which the formats' offsets and minimums need), and
//! the products are integer dot products (AVX-512 VNNI `vpdpbusd`, AVX2 `vpmaddubsw`, or plain
//! Rust) scaled per block. Unlike llama.cpp's Q8_K, K-quants also get one activation scale
//! per 32 (not per 256): one activation format serves every kind, so [`product_many`]
//! quantizes once, and the rounding error is smaller. [`product_many_wide`] quantizes them to
//! 16-bit values instead, as two int8 halves (`256·xq + xr`): the kernels take each half
//! through the same dot products and join the sums (`(Σ w·xq) << 8 + Σ w·xr`) before the one
//! scaling per block.
//!
//! At load, each matrix is repacked into panels of 16 output rows (`LANES`, zero-padded).
//! Within a panel, a *group* is one ggml block of each of the 16 rows: a header with the 16
//! f16 scales (and minimums), then *tiles* of 32 inputs × 16 rows laid out so that one
//! 64-byte load holds 4 consecutive inputs of each of the 16 rows — the i32 lanes of an
//! accumulator are then the 16 output rows, and no horizontal sums are needed:
//!
//! - 4-bit quants (Q4_0, Q4_1, Q4_K and the low bits of Q5_K and Q6_K): 4 vectors of 64 bytes;
//!   byte `4·r + j` of vector `v` holds input `4v + j` of row `r` in its low nibble and input
//!   `16 + 4v + j` in its high nibble (ggml's own order within a block of 32).
//! - Q8_0: 8 vectors, byte `4·r + j` of vector `u` is input `4u + j` plus 128 (unsigned).
//! - Q5_K's fifth bits: one more vector whose byte `4·r + j` has bit `u` set for the input that
//!   nibble vector `u` (`u = 2v` low, `2v + 1` high) decodes there; Q6_K's two high bits: two
//!   vectors, bits `2k, 2k + 1` of vector `p` for `u = 4p + k`.
//! - K-quants' per-32 (Q6_K: per-16) scales and minimums unpacked to bytes, 16 + 16 per tile.
//!
//! Every weight is stored unsigned (`q ≥ 0`); a signed format's offset (Q4_0's 8, Q8_0's 128,
//! Q6_K's 32) comes off through the activation block's sum: `Σ (q − c)·a = Σ q·a − c·Σ a`.
//! The panels take the GGUF size (Q4_K and Q5_K 2–3 % more, for their unpacked scales).

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use crate::blocks::{
    Block, BlockKind, Q4_0, Q4_1, Q4K, Q5K, Q6K, Q8_0, f16_to_f32, le16, parse, value,
};
use crate::packed::spread_parts;
use crate::x86::{Avx2, Vnni};

/// Output rows per panel.
const LANES: usize = 16;

/// Inputs per activation block (and per tile).
const QK: usize = 32;

/// Packed-layout sizes of kind `k` (a const-generic code), in bytes.
pub(crate) const fn header_bytes(k: u8) -> usize {
    match k {
        Q4_1 | Q4K | Q5K => 64, // d and m (or dmin) for 16 rows
        _ => 32,                // d
    }
}

/// Tiles (of 32 inputs) per group.
pub(crate) const fn tiles(k: u8) -> usize {
    match k {
        Q4K | Q5K | Q6K => 8,
        _ => 1,
    }
}

/// Bytes per tile: quants, high-bit planes, unpacked scales.
pub(crate) const fn tile_bytes(k: u8) -> usize {
    match k {
        Q4_0 | Q4_1 => 256,
        Q8_0 => 512,
        Q4K => 256 + 32,
        Q5K => 256 + 64 + 32,
        _ => 256 + 128 + 32,
    }
}

pub(crate) const fn group_bytes(k: u8) -> usize {
    header_bytes(k) + tiles(k) * tile_bytes(k)
}

/// The constant subtracted from a stored (unsigned) quant.
const fn offset(k: u8) -> i32 {
    match k {
        Q4_0 => 8,
        Q8_0 => 128,
        Q6K => 32,
        _ => 0,
    }
}

/// The instruction set a matrix's products use, chosen at pack time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum QuantIsa {
    Vnni(Vnni),
    Avx2(Avx2),
    Portable,
}

impl QuantIsa {
    pub(crate) fn detect() -> Self {
        if let Some(v) = Vnni::detect() {
            QuantIsa::Vnni(v)
        } else if let Some(v) = Avx2::detect() {
            QuantIsa::Avx2(v)
        } else {
            QuantIsa::Portable
        }
    }

    /// Activation rows that share one pass over a panel (their accumulators in registers):
    /// wide rows need two sums each, four for Q6_K's two halves, so fewer of them fit.
    fn chunk_rows(self, wide: bool, mut kinds: impl Iterator<Item = BlockKind>) -> usize {
        let rows = match self {
            QuantIsa::Vnni(_) | QuantIsa::Portable => 8,
            QuantIsa::Avx2(_) => 4,
        };
        match (self, wide) {
            (_, false) | (QuantIsa::Portable, _) => rows,
            (QuantIsa::Avx2(_), true) => 2,
            (QuantIsa::Vnni(_), true) if kinds.any(|k| k == BlockKind::Q6K) => 4,
            (QuantIsa::Vnni(_), true) => rows,
        }
    }
}

/// A weight matrix `W` (`[out, in]`) in ggml blocks, repacked for [`PackedQuant::product`].
#[derive(Clone)]
pub struct PackedQuant {
    kind: BlockKind,
    out: usize,
    inp: usize,
    /// Panels from `data[start..]` (`start` aligns them to 64 bytes), shared with the helpers.
    data: Arc<[u8]>,
    start: usize,
    isa: QuantIsa,
}

impl fmt::Debug for PackedQuant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PackedQuant")
            .field("kind", &self.kind)
            .field("out", &self.out)
            .field("inp", &self.inp)
            .field("bytes", &self.data.len())
            .field("isa", &self.isa)
            .finish()
    }
}

impl PackedQuant {
    /// Packs `raw`, the tensor's bytes exactly as a GGUF file stores them (row-major: `out`
    /// rows of `inp / block_elems` blocks each).
    pub fn pack(kind: BlockKind, raw: &[u8], out: usize, inp: usize) -> Result<Self, String> {
        Self::pack_for(kind, raw, out, inp, QuantIsa::detect())
    }

    pub(crate) fn pack_for(
        kind: BlockKind,
        raw: &[u8],
        out: usize,
        inp: usize,
        isa: QuantIsa,
    ) -> Result<Self, String> {
        let elems = kind.block_elems();
        if !inp.is_multiple_of(elems) {
            return Err(format!(
                "A {kind:?} matrix needs whole blocks of {elems} inputs per row, but rows have \
                 {inp}: keep this tensor in f32 (or another block type)"
            ));
        }
        let groups = inp / elems;
        let row_bytes = groups * kind.block_bytes();
        if raw.len() != out * row_bytes {
            return Err(format!(
                "A {kind:?} matrix of {out}×{inp} is {} bytes, but {} were given",
                out * row_bytes,
                raw.len()
            ));
        }
        let k = kind.code();
        let panel_bytes = groups * group_bytes(k);
        let len = out.div_ceil(LANES) * panel_bytes;
        let mut data: Arc<[u8]> = vec![0u8; len + 63].into();
        let start = data.as_ptr().align_offset(64).min(63);
        let buf = Arc::get_mut(&mut data).expect("a new Arc is unique");
        let buf = &mut buf[start..start + len];
        for (o, row) in raw.chunks_exact(row_bytes.max(1)).enumerate().take(out) {
            let (panel, r) = (o / LANES, o % LANES);
            for (g, raw) in row.chunks_exact(kind.block_bytes()).enumerate() {
                let at = panel * panel_bytes + g * group_bytes(k);
                write_group(
                    kind,
                    &parse(kind, raw),
                    r,
                    &mut buf[at..at + group_bytes(k)],
                );
            }
        }
        Ok(PackedQuant {
            kind,
            out,
            inp,
            data,
            start,
            isa,
        })
    }

    pub fn kind(&self) -> BlockKind {
        self.kind
    }

    pub fn out_features(&self) -> usize {
        self.out
    }

    pub fn in_features(&self) -> usize {
        self.inp
    }

    /// Bytes held (for memory reports).
    pub fn bytes(&self) -> usize {
        self.data.len()
    }

    fn panel_bytes(&self) -> usize {
        self.inp / self.kind.block_elems() * group_bytes(self.kind.code())
    }

    fn panels(&self) -> usize {
        self.out.div_ceil(LANES)
    }

    fn panel(&self, p: usize) -> &[u8] {
        let len = self.panel_bytes();
        &self.data[self.start + p * len..self.start + (p + 1) * len]
    }

    /// Dequantised rows `index` (row-major `[index.len(), in]`), for embedding lookups; equal to
    /// [`crate::dequantize`] of the same rows. `None` if an index is out of range.
    pub fn rows(&self, index: &[i64]) -> Option<Vec<f32>> {
        let (kind, k) = (self.kind, self.kind.code());
        let mut rows = Vec::with_capacity(index.len() * self.inp);
        for &o in index {
            let o = usize::try_from(o).ok().filter(|&o| o < self.out)?;
            let (panel, r) = (self.panel(o / LANES), o % LANES);
            for group in panel.chunks_exact(group_bytes(k)) {
                let (header, tiles) = group.split_at(header_bytes(k));
                let d = f16_to_f32(le16(header, 2 * r));
                let m = if header.len() == 64 {
                    f16_to_f32(le16(header, 32 + 2 * r))
                } else {
                    0.0
                };
                for tile in tiles.chunks_exact(tile_bytes(k)) {
                    let q = decode_tile(k, tile, r);
                    let scales = &tile[tile.len() - 32..];
                    for (i, &q) in q.iter().enumerate() {
                        let (sc, mn) = match kind {
                            BlockKind::Q4K | BlockKind::Q5K => (scales[r], scales[16 + r]),
                            BlockKind::Q6K => (scales[16 * (i / 16) + r], 0),
                            _ => (0, 0),
                        };
                        rows.push(value(kind, d, m, sc, mn, q));
                    }
                }
            }
        }
        Some(rows)
    }

    /// `x Wᵀ` for `x` row-major `[rows, in]`: row-major `[rows, out]`, using this thread's
    /// helpers (see [`crate::set_threads`]).
    pub fn product(&self, x: &[f32], rows: usize) -> Vec<f32> {
        product_many(&[self], x, rows)
    }

    /// Panel `p` times every activation row into `out` (`[rows][LANES]`).
    fn panel_product(&self, p: usize, acts: &Acts, out: &mut [f32]) {
        let panel = self.panel(p);
        for (c, out) in out.chunks_mut(acts.chunk * LANES).enumerate() {
            let first = c * acts.chunk;
            let len = acts.chunk.min(acts.rows - first);
            let blocks = acts.chunk(first, len);
            let wide = acts.wide;
            match self.isa {
                QuantIsa::Vnni(isa) => isa.panel(self.kind, panel, blocks, len, wide, out),
                QuantIsa::Avx2(isa) => isa.panel(self.kind, panel, blocks, len, wide, out),
                QuantIsa::Portable => portable_panel(self.kind, panel, blocks, len, wide, out),
            }
        }
    }
}

/// Writes row `r` of one group (a ggml block of each of the panel's rows) into `group`.
fn write_group(kind: BlockKind, b: &Block, r: usize, group: &mut [u8]) {
    let k = kind.code();
    let (header, tiles) = group.split_at_mut(header_bytes(k));
    header[2 * r..2 * r + 2].copy_from_slice(&b.d.to_le_bytes());
    if header.len() == 64 {
        header[32 + 2 * r..34 + 2 * r].copy_from_slice(&b.m.to_le_bytes());
    }
    for (t, tile) in tiles.chunks_exact_mut(tile_bytes(k)).enumerate() {
        let q = &b.q[QK * t..QK * (t + 1)];
        if k == Q8_0 {
            for u in 0..8 {
                tile[64 * u + 4 * r..64 * u + 4 * r + 4].copy_from_slice(&q[4 * u..4 * u + 4]);
            }
            continue;
        }
        for v in 0..4 {
            for j in 0..4 {
                tile[64 * v + 4 * r + j] = (q[4 * v + j] & 0xF) | ((q[16 + 4 * v + j] & 0xF) << 4);
            }
        }
        for u in 0..8 {
            for j in 0..4 {
                let high = q[nibble_input(u) + j] >> 4;
                match k {
                    Q5K => tile[256 + 4 * r + j] |= (high & 1) << u,
                    Q6K => tile[256 + 64 * (u / 4) + 4 * r + j] |= (high & 3) << (2 * (u % 4)),
                    _ => {}
                }
            }
        }
        let scales = &mut tile[tile_bytes(k) - 32..];
        match k {
            Q4K | Q5K => (scales[r], scales[16 + r]) = (b.sc[t], b.mn[t]),
            Q6K => (scales[r], scales[16 + r]) = (b.sc[2 * t], b.sc[2 * t + 1]),
            _ => {}
        }
    }
}

/// The first of the 4 inputs (of a tile) that nibble vector `u` holds: vector `u / 2`, low
/// nibbles for even `u`, high for odd.
pub(crate) const fn nibble_input(u: usize) -> usize {
    (u % 2) * 16 + 4 * (u / 2)
}

/// Row `r`'s 32 stored quants of a packed tile.
fn decode_tile(k: u8, tile: &[u8], r: usize) -> [u8; QK] {
    let mut q = [0u8; QK];
    if k == Q8_0 {
        for u in 0..8 {
            q[4 * u..4 * u + 4].copy_from_slice(&tile[64 * u + 4 * r..64 * u + 4 * r + 4]);
        }
        return q;
    }
    for u in 0..8 {
        for j in 0..4 {
            let byte = tile[64 * (u / 2) + 4 * r + j];
            let low = if u % 2 == 0 { byte & 0xF } else { byte >> 4 };
            let high = match k {
                Q5K => (tile[256 + 4 * r + j] >> u) & 1,
                Q6K => (tile[256 + 64 * (u / 4) + 4 * r + j] >> (2 * (u % 4))) & 3,
                _ => 0,
            };
            q[nibble_input(u) + j] = low | (high << 4);
        }
    }
    q
}

/// One block of 32 quantized activations: int8, `x ≈ dx · xq`; or wide, `x ≈ dx · v` with
/// the 16-bit values `v = 256·xq + xr` (see [`quantize_blocks_wide`]).
#[derive(Clone, Copy, Debug, Default)]
#[repr(C)]
pub(crate) struct ActBlock {
    pub(crate) xq: [i8; QK],
    /// Wide blocks: the residual of `xq` in 256ths of its step; zeros in int8 blocks.
    pub(crate) xr: [i8; QK],
    /// The block scale: `max |x| / 127`, and a 256th of that for wide blocks.
    pub(crate) dx: f32,
    /// `dx · Σ v` (the minimums' multiplier).
    pub(crate) dxs: f32,
    /// `Σ v`, and `Σ v` over the first 16 (for Q6_K's per-16 scales), where `v` are the
    /// block's integer values (`xq`, or `256·xq + xr`).
    pub(crate) sum: i32,
    pub(crate) lo: i32,
}

impl ActBlock {
    /// The block's integer values: `xq`, or for a wide block `256·xq + xr`.
    pub(crate) fn values(&self, wide: bool) -> [i32; QK] {
        let scale = if wide { 256 } else { 1 };
        std::array::from_fn(|e| scale * i32::from(self.xq[e]) + i32::from(self.xr[e]))
    }
}

/// Activations quantized to blocks of 32 (int8 or wide), for the kernels: rows in chunks of
/// `chunk` (the rows that share one pass over a panel), and within a chunk block-major
/// (`[block][row]`), so that one pointer walks every row's data of a pass in order.
pub(crate) struct Acts {
    blocks_per_row: usize,
    rows: usize,
    chunk: usize,
    wide: bool,
    /// Chunk `c` (rows `c·chunk..`, `len` of them) is `blocks[c·chunk·blocks_per_row..]`,
    /// block `b` of its row `r` at `b·len + r`.
    blocks: Vec<ActBlock>,
}

impl Acts {
    /// The records of rows `first..first + len`, a whole chunk.
    #[inline]
    pub(crate) fn chunk(&self, first: usize, len: usize) -> &[ActBlock] {
        debug_assert!(first.is_multiple_of(self.chunk) && len <= self.chunk);
        let at = first * self.blocks_per_row;
        &self.blocks[at..at + len * self.blocks_per_row]
    }

    fn quantize(x: &[f32], inp: usize, chunk: usize, wide: bool) -> Self {
        debug_assert_eq!(inp % QK, 0);
        let (blocks_per_row, rows) = (inp / QK, x.len() / inp.max(1));
        let mut row = vec![ActBlock::default(); blocks_per_row];
        let mut blocks = vec![ActBlock::default(); rows * blocks_per_row];
        // The same arithmetic either way; AVX2 only lets the compiler vectorise it.
        let avx2 = Avx2::detect();
        for (c, out) in blocks.chunks_mut(chunk * blocks_per_row).enumerate() {
            let len = out.len() / blocks_per_row.max(1);
            for r in 0..len {
                let x = &x[(c * chunk + r) * inp..(c * chunk + r + 1) * inp];
                match (avx2, wide) {
                    (Some(isa), false) => isa.quantize(x, &mut row),
                    (Some(isa), true) => isa.quantize_wide(x, &mut row),
                    (None, false) => quantize_blocks(x, &mut row),
                    (None, true) => quantize_blocks_wide(x, &mut row),
                }
                for (b, block) in row.iter().enumerate() {
                    out[b * len + r] = *block;
                }
            }
        }
        Acts {
            blocks_per_row,
            rows,
            chunk,
            wide,
            blocks,
        }
    }
}

/// `127 / amax`, or 0 for an all-zero block (or one so small that the inverse overflows: its
/// values then quantize to 0).
#[inline(always)]
pub(crate) fn inverse_scale(amax: f32) -> f32 {
    let id = 127.0 / amax;
    if amax > 0.0 && id.is_finite() {
        id
    } else {
        0.0
    }
}

/// Quantizes `x` by blocks of 32 (round to nearest, ties to even; |xq| ≤ 127) into `out`.
#[inline(always)]
pub(crate) fn quantize_blocks(x: &[f32], out: &mut [ActBlock]) {
    for (x, out) in x.chunks_exact(QK).zip(out) {
        let amax = x.iter().fold(0f32, |a, &v| a.max(v.abs()));
        let id = inverse_scale(amax);
        out.dx = amax / 127.0;
        for (q, &v) in out.xq.iter_mut().zip(x) {
            *q = (v * id).round_ties_even().clamp(-127.0, 127.0) as i8;
        }
        out.lo = out.xq[..16].iter().map(|&q| i32::from(q)).sum();
        out.sum = out.lo + out.xq[16..].iter().map(|&q| i32::from(q)).sum::<i32>();
        out.dxs = out.dx * out.sum as f32;
    }
}

/// Quantizes `x` by blocks of 32 to 16-bit values `v = 256·xq + xr` with `dx` a 256th of
/// [`quantize_blocks`]'s step: `xq` is that function's int8 value and `xr` the rounded
/// residual, `round(256·(x/step − xq))` (ties to even), at most 127 in magnitude. Each input
/// is then within `dx/2` of `dx·v` (within `dx` where the residual reached the ±127 limit),
/// about 1/65000 of the block's maximum instead of int8's 1/254. The kernels take the two
/// int8 halves through their int8 dot products, so a wide product costs twice the integer
/// multiplies of an int8 one but the same per-block scaling.
#[inline(always)]
pub(crate) fn quantize_blocks_wide(x: &[f32], out: &mut [ActBlock]) {
    for (x, out) in x.chunks_exact(QK).zip(out) {
        let amax = x.iter().fold(0f32, |a, &v| a.max(v.abs()));
        let id = inverse_scale(amax);
        out.dx = amax / 127.0 / 256.0;
        for ((q, r), &x) in out.xq.iter_mut().zip(&mut out.xr).zip(x) {
            let t = x * id;
            let h = t.round_ties_even().clamp(-127.0, 127.0);
            *q = h as i8;
            *r = ((t - h) * 256.0).round_ties_even().clamp(-127.0, 127.0) as i8;
        }
        let v = out.values(true);
        out.lo = v[..16].iter().sum();
        out.sum = out.lo + v[16..].iter().sum::<i32>();
        out.dxs = out.dx * out.sum as f32;
    }
}

/// The portable kernel: panel times the `rows` rows of one chunk of activations (`acts`,
/// block-major, `wide` or int8) into `out` (`[rows][LANES]`), with the same integer sums and
/// the same per-block f32 steps as the SIMD kernels.
fn portable_panel(
    kind: BlockKind,
    panel: &[u8],
    acts: &[ActBlock],
    rows: usize,
    wide: bool,
    out: &mut [f32],
) {
    let k = kind.code();
    let c = offset(k);
    out[..rows * LANES].fill(0.0);
    for (g, group) in panel.chunks_exact(group_bytes(k)).enumerate() {
        let (header, body) = group.split_at(header_bytes(k));
        let d: [f32; LANES] = std::array::from_fn(|r| f16_to_f32(le16(header, 2 * r)));
        let m: [f32; LANES] = std::array::from_fn(|r| {
            if header.len() == 64 {
                f16_to_f32(le16(header, 32 + 2 * r))
            } else {
                0.0
            }
        });
        for (t, tile) in body.chunks_exact(tile_bytes(k)).enumerate() {
            let b = g * tiles(k) + t;
            let q: [[u8; QK]; LANES] = std::array::from_fn(|r| decode_tile(k, tile, r));
            let scales = &tile[tile.len() - 32..];
            // Per-row multipliers of the low (or whole) and high halves' sums, as the kernels
            // compute them.
            let (s1, s2): ([f32; LANES], [f32; LANES]) = match k {
                Q4K | Q5K => (
                    std::array::from_fn(|r| d[r] * f32::from(scales[r])),
                    std::array::from_fn(|r| m[r] * f32::from(scales[16 + r])),
                ),
                Q6K => (
                    std::array::from_fn(|r| d[r] * f32::from(scales[r] as i8)),
                    std::array::from_fn(|r| d[r] * f32::from(scales[16 + r] as i8)),
                ),
                _ => (d, m),
            };
            let blocks = &acts[b * rows..(b + 1) * rows];
            for (a, y) in blocks
                .iter()
                .zip(out[..rows * LANES].chunks_exact_mut(LANES))
            {
                let v = a.values(wide);
                let (dx, sum, lo, dxs) = (a.dx, a.sum, a.lo, a.dxs);
                for (r, y) in y.iter_mut().enumerate() {
                    let dot = |range: Range<usize>| -> i32 {
                        range.map(|e| i32::from(q[r][e]) * v[e]).sum()
                    };
                    *y += match k {
                        Q4_0 | Q8_0 => (dot(0..QK) - c * sum) as f32 * (s1[r] * dx),
                        Q4_1 => dot(0..QK) as f32 * (s1[r] * dx) + s2[r] * dxs,
                        Q4K | Q5K => dot(0..QK) as f32 * (s1[r] * dx) - s2[r] * dxs,
                        _ => {
                            let low = (dot(0..16) - c * lo) as f32;
                            let high = (dot(16..QK) - c * (sum - lo)) as f32;
                            (low * s1[r] + high * s2[r]) * dx
                        }
                    };
                }
            }
        }
    }
}

/// Several products of the same activations `x` (row-major `[rows, in]`; every weight has
/// `in` inputs): the activations are quantized once, to int8 blocks as llama.cpp does, and
/// all the panels are split over this thread and its helpers in one pass. Returns row-major
/// `[rows, Σ out]`: each row holds the weights' outputs side by side, in order.
pub fn product_many(weights: &[&PackedQuant], x: &[f32], rows: usize) -> Vec<f32> {
    products(weights, x, rows, false)
}

/// [`product_many`] with the activations quantized to 16-bit values (see
/// [`quantize_blocks_wide`]): about 1/65000 of each block's maximum instead of 1/254, for
/// twice the integer multiplies.
pub fn product_many_wide(weights: &[&PackedQuant], x: &[f32], rows: usize) -> Vec<f32> {
    products(weights, x, rows, true)
}

fn products(weights: &[&PackedQuant], x: &[f32], rows: usize, wide: bool) -> Vec<f32> {
    let Some(first) = weights.first() else {
        return Vec::new();
    };
    let inp = first.inp;
    assert!(
        weights.iter().all(|w| w.inp == inp),
        "products of one activation need weights with the same number of inputs"
    );
    assert_eq!(x.len(), rows * inp, "x is [rows, in]");
    let width: usize = weights.iter().map(|w| w.out).sum();
    if rows == 0 || inp == 0 {
        return vec![0f32; rows * width]; // empty sums
    }
    assert!(
        weights.iter().all(|w| w.isa == first.isa),
        "products of one activation need weights packed for one instruction set"
    );
    let chunk = first.isa.chunk_rows(wide, weights.iter().map(|w| w.kind));
    let acts = Arc::new(Acts::quantize(x, inp, chunk, wide));
    let weights: Arc<[PackedQuant]> = weights.iter().map(|&w| w.clone()).collect();
    let total: usize = weights.iter().map(PackedQuant::panels).sum();
    let parts = spread_parts(
        total,
        Arc::new(move |range| share(&weights, &acts, rows, range)),
    );
    // Each thread's share is row-major over its outputs: row by row, the shares side by side.
    if parts.len() == 1 {
        return parts.into_iter().next().unwrap_or_default();
    }
    let mut y = Vec::with_capacity(rows * width);
    for r in 0..rows {
        for part in &parts {
            let cols = part.len() / rows;
            y.extend_from_slice(&part[r * cols..(r + 1) * cols]);
        }
    }
    y
}

/// Panels `range` of the concatenated panels of `weights`, row-major: `[rows][cols]`, `cols`
/// the outputs of those panels (a weight's last panel may hold fewer than 16). Each panel's
/// `[rows][LANES]` block is copied to its columns here, in the threads' shares: gathered by
/// the caller 16 floats at a time, the blocks took 6% of a batch-8 decode step on one thread.
fn share(weights: &[PackedQuant], acts: &Acts, rows: usize, range: Range<usize>) -> Vec<f32> {
    let mut panels = Vec::with_capacity(range.len());
    let mut base = 0;
    for w in weights {
        let all = base..base + w.panels();
        for p in range.start.max(all.start)..range.end.min(all.end) {
            let p = p - base;
            panels.push((w, p, LANES.min(w.out - p * LANES)));
        }
        base = all.end;
    }
    let cols: usize = panels.iter().map(|&(_, _, n)| n).sum();
    let mut out = vec![0f32; rows * cols];
    let mut block = vec![0f32; rows * LANES];
    let mut at = 0;
    for (w, p, n) in panels {
        w.panel_product(p, acts, &mut block);
        for (row, lanes) in out.chunks_exact_mut(cols).zip(block.chunks_exact(LANES)) {
            row[at..at + n].copy_from_slice(&lanes[..n]);
        }
        at += n;
    }
    out
}

#[cfg(test)]
mod tests;
