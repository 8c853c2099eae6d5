//! ggml's quantized blocks as GGUF files store them (Q4_0, Q4_1, Q8_0, Q4_K, Q5_K, Q6_K):
//! decoding and dequantisation, in plain Rust on every architecture. The products on these
//! blocks (`quant`, x86-64) repack them from the same decoded [`Block`]s.

/// ggml block types kept quantized.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BlockKind {
    Q4_0,
    Q4_1,
    Q8_0,
    Q4K,
    Q5K,
    Q6K,
}

/// The kinds as const-generic parameters of the kernels.
pub(crate) const Q4_0: u8 = 0;
pub(crate) const Q4_1: u8 = 1;
pub(crate) const Q8_0: u8 = 2;
pub(crate) const Q4K: u8 = 3;
pub(crate) const Q5K: u8 = 4;
pub(crate) const Q6K: u8 = 5;

impl BlockKind {
    /// Every kind, for tests and callers that map names.
    pub const ALL: [BlockKind; 6] = [
        BlockKind::Q4_0,
        BlockKind::Q4_1,
        BlockKind::Q8_0,
        BlockKind::Q4K,
        BlockKind::Q5K,
        BlockKind::Q6K,
    ];

    /// Inputs per block: 32, or 256 for the K-quants.
    pub fn block_elems(self) -> usize {
        match self {
            BlockKind::Q4_0 | BlockKind::Q4_1 | BlockKind::Q8_0 => 32,
            BlockKind::Q4K | BlockKind::Q5K | BlockKind::Q6K => 256,
        }
    }

    /// Bytes per block in a GGUF file.
    pub fn block_bytes(self) -> usize {
        match self {
            BlockKind::Q4_0 => 18,
            BlockKind::Q4_1 => 20,
            BlockKind::Q8_0 => 34,
            BlockKind::Q4K => 144,
            BlockKind::Q5K => 176,
            BlockKind::Q6K => 210,
        }
    }

    pub(crate) const fn code(self) -> u8 {
        match self {
            BlockKind::Q4_0 => Q4_0,
            BlockKind::Q4_1 => Q4_1,
            BlockKind::Q8_0 => Q8_0,
            BlockKind::Q4K => Q4K,
            BlockKind::Q5K => Q5K,
            BlockKind::Q6K => Q6K,
        }
    }
}

/// f16 (IEEE binary16) bits to f32, exactly.
pub(crate) fn f16_to_f32(h: u16) -> f32 {
    let sign = u32::from(h >> 15) << 31;
    let exp = u32::from((h >> 10) & 0x1f);
    let man = u32::from(h & 0x3ff);
    match (exp, man) {
        (0, 0) => f32::from_bits(sign),
        (0, _) => {
            let v = man as f32 * (1.0 / 16_777_216.0); // 2⁻²⁴
            if sign == 0 { v } else { -v }
        }
        (31, _) => f32::from_bits(sign | 0x7f80_0000 | (man << 13)),
        _ => f32::from_bits(sign | ((exp + 112) << 23) | (man << 13)),
    }
}

/// One ggml block, decoded: stored (unsigned) quants, scales as f16 bits and the K-quants'
/// sub-block scales and minimums.
pub(crate) struct Block {
    pub(crate) q: [u8; 256],
    /// `d`.
    pub(crate) d: u16,
    /// Q4_1's `m`, the K-quants' `dmin`.
    pub(crate) m: u16,
    /// Q4_K/Q5_K: 6-bit scale per 32; Q6_K: i8 scale per 16 (as bits).
    pub(crate) sc: [u8; 16],
    /// Q4_K/Q5_K: 6-bit minimum per 32.
    pub(crate) mn: [u8; 8],
}

pub(crate) fn le16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

/// ggml's `get_scale_min_k4`: the 6-bit scale and minimum of sub-block `j` of a Q4_K/Q5_K.
pub(crate) fn scale_min_k4(j: usize, s: &[u8]) -> (u8, u8) {
    if j < 4 {
        (s[j] & 63, s[j + 4] & 63)
    } else {
        (
            (s[j + 4] & 0xF) | ((s[j - 4] >> 6) << 4),
            (s[j + 4] >> 4) | ((s[j] >> 6) << 4),
        )
    }
}

/// Decodes one raw block (`kind.block_bytes()` bytes), following ggml's `dequantize_row_*`.
pub(crate) fn parse(kind: BlockKind, raw: &[u8]) -> Block {
    let mut b = Block {
        q: [0; 256],
        d: le16(raw, 0),
        m: 0,
        sc: [0; 16],
        mn: [0; 8],
    };
    match kind {
        BlockKind::Q4_0 | BlockKind::Q4_1 => {
            let qs = if kind == BlockKind::Q4_1 {
                b.m = le16(raw, 2);
                &raw[4..20]
            } else {
                &raw[2..18]
            };
            for (j, &v) in qs.iter().enumerate() {
                b.q[j] = v & 0xF;
                b.q[j + 16] = v >> 4;
            }
        }
        BlockKind::Q8_0 => {
            for (q, &v) in b.q.iter_mut().zip(&raw[2..34]) {
                *q = v ^ 0x80; // i8 + 128
            }
        }
        BlockKind::Q4K | BlockKind::Q5K => {
            b.m = le16(raw, 2);
            let scales = &raw[4..16];
            for j in 0..8 {
                (b.sc[j], b.mn[j]) = scale_min_k4(j, scales);
            }
            let (qh, qs) = if kind == BlockKind::Q5K {
                (Some(&raw[16..48]), &raw[48..176])
            } else {
                (None, &raw[16..144])
            };
            for g in 0..4 {
                for l in 0..32 {
                    let v = qs[32 * g + l];
                    let (hi_lo, hi_hi) = qh.map_or((0, 0), |qh| {
                        ((qh[l] >> (2 * g)) & 1, (qh[l] >> (2 * g + 1)) & 1)
                    });
                    b.q[64 * g + l] = (v & 0xF) | (hi_lo << 4);
                    b.q[64 * g + 32 + l] = (v >> 4) | (hi_hi << 4);
                }
            }
        }
        BlockKind::Q6K => {
            let (ql, qh) = (&raw[0..128], &raw[128..192]);
            b.sc.copy_from_slice(&raw[192..208]);
            b.d = le16(raw, 208);
            for half in 0..2 {
                let (ql, qh, q) = (&ql[64 * half..], &qh[32 * half..], 128 * half);
                for l in 0..32 {
                    let h = qh[l];
                    b.q[q + l] = (ql[l] & 0xF) | ((h & 3) << 4);
                    b.q[q + l + 32] = (ql[l + 32] & 0xF) | (((h >> 2) & 3) << 4);
                    b.q[q + l + 64] = (ql[l] >> 4) | (((h >> 4) & 3) << 4);
                    b.q[q + l + 96] = (ql[l + 32] >> 4) | (((h >> 6) & 3) << 4);
                }
            }
        }
    }
    b
}

/// The value of stored quant `q` at input `i` of a block with scales `d`, `m` (f32) and
/// sub-block scales `sc`, `mn` — in ggml's order of f32 operations, so results are bit-equal
/// to its `dequantize_row_*`.
pub(crate) fn value(kind: BlockKind, d: f32, m: f32, sc: u8, mn: u8, q: u8) -> f32 {
    match kind {
        BlockKind::Q4_0 => (i32::from(q) - 8) as f32 * d,
        BlockKind::Q4_1 => d * f32::from(q) + m,
        BlockKind::Q8_0 => (i32::from(q) - 128) as f32 * d,
        BlockKind::Q4K | BlockKind::Q5K => d * f32::from(sc) * f32::from(q) - m * f32::from(mn),
        BlockKind::Q6K => d * f32::from(sc as i8) * (i32::from(q) - 32) as f32,
    }
}

/// Dequantises raw GGUF blocks of `kind` (a whole number of blocks) into `out`, which holds
/// `block_elems` values per block.
pub fn dequantize(kind: BlockKind, raw: &[u8], out: &mut [f32]) -> Result<(), String> {
    let (bytes, elems) = (kind.block_bytes(), kind.block_elems());
    if !raw.len().is_multiple_of(bytes) || out.len() != raw.len() / bytes * elems {
        return Err(format!(
            "{kind:?} data of {} bytes does not hold {} values: a {kind:?} block is {bytes} \
             bytes for {elems} values",
            raw.len(),
            out.len()
        ));
    }
    for (raw, out) in raw.chunks_exact(bytes).zip(out.chunks_exact_mut(elems)) {
        let b = parse(kind, raw);
        let (d, m) = (f16_to_f32(b.d), f16_to_f32(b.m));
        for (i, o) in out.iter_mut().enumerate() {
            let (sc, mn) = sub_scales(kind, &b, i);
            *o = value(kind, d, m, sc, mn, b.q[i]);
        }
    }
    Ok(())
}

/// The sub-block scale and minimum that input `i` of a block uses.
pub(crate) fn sub_scales(kind: BlockKind, b: &Block, i: usize) -> (u8, u8) {
    match kind {
        BlockKind::Q4K | BlockKind::Q5K => (b.sc[i / 32], b.mn[i / 32]),
        BlockKind::Q6K => (b.sc[i / 16], 0),
        _ => (0, 0),
    }
}
