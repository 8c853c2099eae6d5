//! The Llama decoder (Touvron et al., 2023, "LLaMA: Open and Efficient Foundation Language
//! Models"; Llama 2 and 3), following Hugging Face transformers' `modeling_llama.py`, and the
//! models that share its shape: SmolLM/SmolLM2, Mistral (with its sliding attention window)
//! and Qwen2 (biases on the q/k/v projections).
//!
//! Each block: `h += o(attn(rope(q), rope(k), v))` over an RMSNorm of `h`, then
//! `h += down(silu(gate(x)) · up(x))` over another RMSNorm; grouped-query attention (each key/
//! value head serves `heads / kv_heads` query heads); rotary embeddings in the rotate-half
//! layout with base `rope_theta` (and Llama 3's frequency scaling); a final RMSNorm and an
//! output head that may share the embedding matrix.
//!
//! Weights keep their checkpoint names (`model.layers.N.self_attn.q_proj.weight`, …); q/k/v and
//! gate/up are fused at load into one product each, and every projection is a tensor-parallel
//! linear ([`crate::runner::parallel`]). The KV cache is preallocated per sequence slot and
//! grows by doubling, so a decode step allocates no cache memory.

use std::ops::Range;
use std::sync::Arc;

use serde::Deserialize;
use tch::{Device, Kind, Tensor};

use llm_cooperation_kernels::ops;

use crate::runner::checkpoint::{Checkpoint, Param};
use crate::runner::error::RunnerError;
use crate::runner::parallel::{
    ColumnParallel, Comm, Placement, Rounding, RowParallel, VocabParallelHead, host_vec,
};

/// The checkpoint's own `config.json` (GGUF metadata is mapped onto the same fields).
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct LlamaConfig {
    #[serde(default = "default_model_type")]
    pub model_type: String,
    pub hidden_size: usize,
    pub intermediate_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    #[serde(default)]
    pub num_key_value_heads: Option<usize>,
    #[serde(default)]
    pub head_dim: Option<usize>,
    #[serde(default = "default_eps")]
    pub rms_norm_eps: f64,
    #[serde(default = "default_theta")]
    pub rope_theta: f64,
    #[serde(default)]
    pub rope_scaling: Option<RopeScaling>,
    pub vocab_size: usize,
    #[serde(default)]
    pub tie_word_embeddings: bool,
    #[serde(default = "default_max_positions")]
    pub max_position_embeddings: usize,
    /// Biases on q/k/v (Qwen2 has them without saying so).
    #[serde(default)]
    pub attention_bias: Option<bool>,
    #[serde(default)]
    pub torch_dtype: Option<String>,
    #[serde(default)]
    pub hidden_act: Option<String>,
    /// Mistral's attention window: a token sees the last `sliding_window` positions, itself
    /// included. Qwen2 configs carry one too but apply it only with `use_sliding_window`.
    #[serde(default)]
    pub sliding_window: Option<usize>,
    #[serde(default)]
    pub use_sliding_window: Option<bool>,
}

fn default_model_type() -> String {
    "llama".into()
}
fn default_eps() -> f64 {
    1e-6
}
fn default_theta() -> f64 {
    10_000.0
}
fn default_max_positions() -> usize {
    2048
}

/// `rope_scaling` from `config.json`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct RopeScaling {
    #[serde(alias = "type")]
    pub rope_type: String,
    #[serde(default)]
    pub factor: Option<f64>,
    #[serde(default)]
    pub low_freq_factor: Option<f64>,
    #[serde(default)]
    pub high_freq_factor: Option<f64>,
    #[serde(default)]
    pub original_max_position_embeddings: Option<usize>,
}

impl LlamaConfig {
    pub fn kv_heads(&self) -> usize {
        self.num_key_value_heads.unwrap_or(self.num_attention_heads)
    }

    pub fn head_dim(&self) -> usize {
        self.head_dim
            .unwrap_or(self.hidden_size / self.num_attention_heads)
    }

    pub fn qkv_bias(&self) -> bool {
        self.attention_bias.unwrap_or(self.model_type == "qwen2")
    }

    /// The attention window this model applies, if any.
    pub fn window(&self) -> Option<usize> {
        let applies = if self.model_type == "qwen2" {
            self.use_sliding_window == Some(true)
        } else {
            self.use_sliding_window != Some(false)
        };
        self.sliding_window.filter(|_| applies)
    }

    /// Whether this code implements the architecture the config names.
    pub fn check(&self) -> Result<(), String> {
        if !matches!(self.model_type.as_str(), "llama" | "mistral" | "qwen2") {
            return Err(format!(
                "model type `{}` is not supported (expected `llama`, `mistral` or `qwen2`)",
                self.model_type
            ));
        }
        if let Some(act) = &self.hidden_act
            && act != "silu"
        {
            return Err(format!(
                "activation `{act}` is not supported (expected `silu`)"
            ));
        }
        let heads = self.num_attention_heads;
        if heads == 0 || self.kv_heads() == 0 || !heads.is_multiple_of(self.kv_heads()) {
            return Err(format!(
                "{heads} attention heads cannot share {} key/value heads",
                self.kv_heads()
            ));
        }
        if self.model_type == "qwen2" && self.window().is_some() {
            return Err(
                "Qwen2 with `use_sliding_window` (a window on some layers only) is not supported"
                    .into(),
            );
        }
        if self.sliding_window == Some(0) {
            return Err("`sliding_window` is 0 (expected at least 1, or null for none)".into());
        }
        if !self.head_dim().is_multiple_of(2) {
            return Err(format!("head size {} is odd", self.head_dim()));
        }
        if let Some(s) = &self.rope_scaling
            && !matches!(s.rope_type.as_str(), "llama3" | "linear" | "default")
        {
            return Err(format!(
                "rope scaling `{}` is not supported (expected `llama3` or `linear`)",
                s.rope_type
            ));
        }
        Ok(())
    }
}

/// One forward pass: `batch` sequences of `len` new tokens each, living in the consecutive
/// cache slots from `first_slot`; sequence `b` starts at position `start[b]`.
#[derive(Debug, Clone)]
pub struct Batch {
    /// `batch × len` token ids, row-major.
    pub tokens: Vec<i64>,
    pub batch: i64,
    pub len: i64,
    pub first_slot: i64,
    pub start: Vec<i64>,
    /// Logits for every position (`[batch, len, vocab]`) instead of only the last.
    pub all_logits: bool,
}

impl Batch {
    /// `tokens` of one sequence in cache slot `slot`, the first at position `start`; logits
    /// for the last one only.
    pub fn sequence(slot: i64, start: i64, tokens: Vec<i64>) -> Self {
        Batch {
            batch: 1,
            len: tokens.len() as i64,
            tokens,
            first_slot: slot,
            start: vec![start],
            all_logits: false,
        }
    }
}

/// `y = x / rms(x) · w`, computed by libtorch's fused kernel (in f32 for bf16 inputs).
#[derive(Debug)]
struct RmsNorm {
    weight: Tensor,
    /// The weight as f32 values, for the CPU steps without libtorch.
    weight_host: Vec<f32>,
    eps: f64,
    size: i64,
}

impl RmsNorm {
    fn new(
        ck: &Checkpoint,
        name: &str,
        cfg: &LlamaConfig,
        at: &Placement,
    ) -> Result<Self, RunnerError> {
        let size = cfg.hidden_size as i64;
        let weight = at.place(ck.get(name, &[size])?)?;
        Ok(RmsNorm {
            weight_host: if at.device == Device::Cpu {
                host_vec(&weight)?
            } else {
                Vec::new()
            },
            weight,
            eps: cfg.rms_norm_eps,
            size,
        })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor, RunnerError> {
        Ok(x.f_rms_norm([self.size], Some(&self.weight), self.eps)?)
    }

    /// `x` is `[rows, hidden]`.
    fn forward_host(&self, x: &[f32]) -> Vec<f32> {
        let mut out = vec![0f32; x.len()];
        ops::rms_norm(x, &self.weight_host, self.eps as f32, &mut out);
        out
    }
}

/// Rotary position embedding tables, rotate-half layout: `x·cos + rotate_half(x)·sin`.
#[derive(Debug)]
enum Rope {
    /// For libtorch: `[max_positions, head_dim]` (each half repeated), and `rotate` with
    /// `x @ rotate = rotate_half(x) = [-x₂, x₁]`: one product instead of four slicing ops.
    Torch {
        cos: Tensor,
        sin: Tensor,
        rotate: Tensor,
    },
    /// For the CPU steps without libtorch: `[max_positions, head_dim / 2]`.
    Host {
        cos: Vec<f32>,
        sin: Vec<f32>,
        half: usize,
    },
}

impl Rope {
    fn new(
        cfg: &LlamaConfig,
        max_positions: i64,
        freq_factors: Option<&Tensor>,
        at: &Placement,
        host: bool,
    ) -> Result<Self, RunnerError> {
        let d = cfg.head_dim() as i64;
        let half = d / 2;
        let mut inv_freq: Vec<f64> = (0..half)
            .map(|i| 1.0 / cfg.rope_theta.powf(2.0 * i as f64 / d as f64))
            .collect();
        let mut position_scale = 1.0;
        if let Some(s) = &cfg.rope_scaling {
            match s.rope_type.as_str() {
                "llama3" => llama3_scale(&mut inv_freq, s),
                "linear" => position_scale = 1.0 / s.factor.unwrap_or(1.0),
                _ => {}
            }
        }
        if let Some(f) = freq_factors {
            // GGUF files store Llama 3's scaling as a divisor per frequency (`rope_freqs`).
            let f: Vec<f64> = Vec::<f64>::try_from(f.f_to_kind(Kind::Double)?)?;
            for (x, f) in inv_freq.iter_mut().zip(f) {
                *x /= f;
            }
        }
        let inv = Tensor::from_slice(&inv_freq);
        let pos = Tensor::f_arange(max_positions, (Kind::Double, Device::Cpu))? * position_scale;
        let angles = pos.f_outer(&inv)?;
        if host {
            return Ok(Rope::Host {
                cos: host_vec(&angles.f_cos()?)?,
                sin: host_vec(&angles.f_sin()?)?,
                half: half as usize,
            });
        }
        let angles = Tensor::f_cat(&[&angles, &angles], 1)?;
        let rotate = Tensor::f_zeros([d, d], (Kind::Double, Device::Cpu))?;
        for j in 0..half {
            let _ = rotate.f_get(j + half)?.f_get(j)?.f_fill_(-1.0)?;
            let _ = rotate.f_get(j)?.f_get(j + half)?.f_fill_(1.0)?;
        }
        // Attention runs in f32 whatever the weights' dtype (see `Attention::forward`).
        let f32 = Placement {
            kind: Kind::Float,
            ..*at
        };
        Ok(Rope::Torch {
            cos: f32.place(&angles.f_cos()?)?,
            sin: f32.place(&angles.f_sin()?)?,
            rotate: f32.place(&rotate)?,
        })
    }
}

/// Llama 3.1's long-context frequency adjustment (`_compute_llama3_parameters`).
fn llama3_scale(inv_freq: &mut [f64], s: &RopeScaling) {
    let factor = s.factor.unwrap_or(8.0);
    let low = s.low_freq_factor.unwrap_or(1.0);
    let high = s.high_freq_factor.unwrap_or(4.0);
    let old = s.original_max_position_embeddings.unwrap_or(8192) as f64;
    let low_wavelen = old / low;
    let high_wavelen = old / high;
    for f in inv_freq {
        let wavelen = 2.0 * std::f64::consts::PI / *f;
        if wavelen > low_wavelen {
            *f /= factor;
        } else if wavelen >= high_wavelen {
            let smooth = (old / wavelen - low) / (high - low);
            *f = (1.0 - smooth) * *f / factor + smooth * *f;
        }
    }
}

/// Per-layer key and value cache: `[slots, kv_heads_local, capacity, head_dim]`, in f32.
#[derive(Debug)]
enum LayerCache {
    Torch(TorchCache),
    Host(HostCache),
}

#[derive(Debug)]
struct TorchCache {
    k: Tensor,
    v: Tensor,
}

/// The cache of the CPU steps without libtorch, with its shape. The vectors are shared with
/// the helper threads while a step attends (and only then).
#[derive(Debug)]
struct HostCache {
    k: Arc<Vec<f32>>,
    v: Arc<Vec<f32>>,
    shape: CacheShape,
}

/// Key/value heads, positions per slot and head size of a [`HostCache`].
#[derive(Debug, Clone, Copy)]
struct CacheShape {
    kv_heads: usize,
    capacity: usize,
    head_dim: usize,
}

impl CacheShape {
    /// Where position `pos` of key/value head `g` of slot `slot` starts.
    fn at(&self, slot: usize, g: usize, pos: usize) -> usize {
        ((slot * self.kv_heads + g) * self.capacity + pos) * self.head_dim
    }
}

impl HostCache {
    fn new(slots: usize, shape: CacheShape) -> Self {
        let len = slots * shape.kv_heads * shape.capacity * shape.head_dim;
        HostCache {
            k: Arc::new(vec![0.0; len]),
            v: Arc::new(vec![0.0; len]),
            shape,
        }
    }

    /// Copies the first `len` positions of `slots` slots from `old` (every head).
    fn copy_from(&mut self, old: &HostCache, slots: usize, len: usize) {
        let (shape, n) = (self.shape, len * self.shape.head_dim);
        let (k, v) = (Arc::make_mut(&mut self.k), Arc::make_mut(&mut self.v));
        for slot in 0..slots {
            for g in 0..shape.kv_heads {
                let (to, from) = (shape.at(slot, g, 0), old.shape.at(slot, g, 0));
                k[to..to + n].copy_from_slice(&old.k[from..from + n]);
                v[to..to + n].copy_from_slice(&old.v[from..from + n]);
            }
        }
    }

    /// Copies the first `len` positions of slot `from` into slot `to`.
    fn move_slot(&mut self, from: usize, to: usize, len: usize) {
        let (shape, n) = (self.shape, len * self.shape.head_dim);
        let (k, v) = (Arc::make_mut(&mut self.k), Arc::make_mut(&mut self.v));
        for g in 0..shape.kv_heads {
            let (src, dst) = (shape.at(from, g, 0), shape.at(to, g, 0));
            k.copy_within(src..src + n, dst);
            v.copy_within(src..src + n, dst);
        }
    }
}

/// The attention block of one layer, holding this rank's heads.
#[derive(Debug)]
struct Attention {
    qkv: ColumnParallel,
    o_proj: RowParallel,
    heads: i64,
    kv_heads: i64,
    head_dim: i64,
    /// For a rank whose query heads do not cover whole groups (e.g. 9 heads on 2 ranks), the
    /// local key/value head of each local query head; otherwise groups are contiguous.
    kv_for_head: Option<Tensor>,
    /// The local key/value head of each local query head (the CPU steps' form of the above).
    kv_of: Arc<[usize]>,
    /// The local query heads that read each local key/value head (runs of `kv_of`).
    groups: Vec<Range<usize>>,
    /// 1/√d, where it could not be folded into the query weights.
    q_scale: Option<f64>,
}

impl Attention {
    fn new(
        ck: &Checkpoint,
        p: &str,
        cfg: &LlamaConfig,
        at: &Placement,
    ) -> Result<Self, RunnerError> {
        let hidden = cfg.hidden_size as i64;
        let d = cfg.head_dim() as i64;
        let h = cfg.num_attention_heads as i64;
        let kv = cfg.kv_heads() as i64;
        let group = h / kv;
        let bias = |n: &str, rows: i64| -> Result<Option<&Tensor>, RunnerError> {
            if cfg.qkv_bias() {
                Ok(Some(ck.get(&format!("{p}.self_attn.{n}.bias"), &[rows])?))
            } else {
                Ok(None)
            }
        };
        let q = ck.param(&format!("{p}.self_attn.q_proj.weight"), &[h * d, hidden])?;
        let k = ck.param(&format!("{p}.self_attn.k_proj.weight"), &[kv * d, hidden])?;
        let v = ck.param(&format!("{p}.self_attn.v_proj.weight"), &[kv * d, hidden])?;
        let o = ck.param(&format!("{p}.self_attn.o_proj.weight"), &[hidden, h * d])?;
        let (qb, kb, vb) = (
            bias("q_proj", h * d)?,
            bias("k_proj", kv * d)?,
            bias("v_proj", kv * d)?,
        );

        // This rank's query heads, and the key/value heads they read.
        let (h0, hl) = at.range(h);
        let kv0 = h0 / group;
        let kv1 = (h0 + hl - 1) / group + 1;
        let kv_of: Arc<[usize]> = (h0..h0 + hl).map(|i| (i / group - kv0) as usize).collect();
        let aligned = h0 % group == 0 && hl % group == 0;
        let kv_for_head = (!aligned)
            .then(|| {
                let idx: Vec<i64> = kv_of.iter().map(|&g| g as i64).collect();
                Tensor::from_slice(&idx).f_to_device(at.device)
            })
            .transpose()?;

        // 1/√d folded into float query projections: one multiply fewer per layer and step
        // (rotary embeddings are linear, so the order does not matter). Quantized blocks
        // cannot be scaled exactly, so their queries are scaled after the product.
        let scale = 1.0 / (d as f64).sqrt();
        let (q_local, q_scale) = match q.narrow_rows(h0 * d, hl * d)? {
            Param::Float(q) => (Param::Float(q * scale), None),
            quant => (quant, Some(scale)),
        };
        let fold = if q_scale.is_none() { scale } else { 1.0 };
        let qb_local = qb
            .map(|b| b.f_narrow(0, h0 * d, hl * d).map(|b| b * fold))
            .transpose()?;
        let k_local = k.narrow_rows(kv0 * d, (kv1 - kv0) * d)?;
        let v_local = v.narrow_rows(kv0 * d, (kv1 - kv0) * d)?;
        let kb_local = kb
            .map(|b| b.f_narrow(0, kv0 * d, (kv1 - kv0) * d))
            .transpose()?;
        let vb_local = vb
            .map(|b| b.f_narrow(0, kv0 * d, (kv1 - kv0) * d))
            .transpose()?;
        // Already this rank's slices: fuse them as one "unit" each on a single-rank placement.
        let whole = Placement::single(at.device, at.kind);
        let qkv = ColumnParallel::fused(
            &[
                (&q_local, qb_local.as_ref(), 1),
                (&k_local, kb_local.as_ref(), 1),
                (&v_local, vb_local.as_ref(), 1),
            ],
            &whole,
        )?;
        // Its input, averages of values, has no outliers: int8 rounding does not reach the
        // answer (see `Rounding`).
        let o_proj = RowParallel::new(o, None, h, at)?.rounding(Rounding::Int8);
        Ok(Attention {
            qkv,
            o_proj,
            heads: hl,
            kv_heads: kv1 - kv0,
            head_dim: d,
            kv_for_head,
            groups: head_groups(&kv_of),
            kv_of,
            q_scale,
        })
    }

    fn forward(
        &self,
        x: &Tensor,
        step: &Step,
        cache: &mut TorchCache,
        comm: &mut dyn Comm,
    ) -> Result<Tensor, RunnerError> {
        let (b, t) = (step.batch, step.len);
        let (hl, kvl, d) = (self.heads, self.kv_heads, self.head_dim);
        // The projections run in the weights' dtype; rotary embedding, the KV cache and
        // attention run in f32. For bf16 weights that is both more accurate and faster here:
        // libtorch's bf16 path for these small products (rotation, q·kᵀ, p·v) costs several
        // times its f32 one, more than the few conversions.
        let qkv = self.qkv.forward(x)?.f_to_kind(Kind::Float)?; // [b, t, (hl + 2·kvl)·d]
        // Rotary embedding on q and k together: [b, t, hl + kvl, d].
        let qk = qkv
            .f_narrow(-1, 0, (hl + kvl) * d)?
            .f_view([b, t, hl + kvl, d])?;
        let rotated = qk.f_matmul(step.rotate)?.f_mul_(&step.sin)?;
        let qk = qk.f_mul(&step.cos)?.f_add_(&rotated)?;
        let mut q = qk.f_narrow(2, 0, hl)?;
        if let Some(s) = self.q_scale {
            q = q.f_mul_scalar(s)?;
        }
        let k_new = qk.f_narrow(2, hl, kvl)?.f_reshape([b * t, kvl, d])?;
        let v_new = qkv
            .f_narrow(-1, (hl + kvl) * d, kvl * d)?
            .f_reshape([b * t, kvl, d])?;

        // Write the new keys/values at (slot, position), then attend over the slots' prefixes.
        let idx = [Some(&step.slot_index), None, Some(&step.position_index)];
        let _ = cache.k.f_index_put_(&idx, &k_new, false)?;
        let _ = cache.v.f_index_put_(&idx, &v_new, false)?;
        let keys = cache
            .k
            .f_narrow(0, step.first_slot, b)?
            .f_narrow(2, 0, step.kv_len)?;
        let values = cache
            .v
            .f_narrow(0, step.first_slot, b)?
            .f_narrow(2, 0, step.kv_len)?;

        let out = match &self.kv_for_head {
            None => {
                // Grouped: the `group` query heads of one kv head become extra query rows.
                let g = hl / kvl;
                let q = q
                    .f_reshape([b, t, kvl, g, d])?
                    .f_permute([0, 2, 1, 3, 4])?
                    .f_reshape([b, kvl, t * g, d])?;
                let scores = q
                    .f_matmul(&keys.f_transpose(-1, -2)?)?
                    .f_add_(&step.mask_grouped)?;
                let probs = scores.f_softmax(-1, Kind::Float)?;
                probs
                    .f_matmul(&values)?
                    .f_view([b, kvl, t, g, d])?
                    .f_permute([0, 2, 1, 3, 4])?
                    .f_reshape([b, t, hl * d])?
            }
            Some(map) => {
                let keys = keys.f_index_select(1, map)?;
                let values = values.f_index_select(1, map)?;
                let q = q.f_permute([0, 2, 1, 3])?; // [b, hl, t, d]
                let scores = q
                    .f_matmul(&keys.f_transpose(-1, -2)?)?
                    .f_add_(&step.mask_heads)?;
                let probs = scores.f_softmax(-1, Kind::Float)?;
                probs
                    .f_matmul(&values)?
                    .f_permute([0, 2, 1, 3])?
                    .f_reshape([b, t, hl * d])?
            }
        };
        self.o_proj.forward(&out.f_to_kind(x.kind())?, comm)
    }

    /// [`Attention::forward`] on the CPU without libtorch: `x` is `[rows, hidden]`, row `r`
    /// the token at `at[r]`.
    fn forward_host(
        &self,
        x: &[f32],
        at: &[Place],
        rope: &HostRope<'_>,
        window: Option<usize>,
        cache: &mut HostCache,
        comm: &mut dyn Comm,
    ) -> Result<Vec<f32>, RunnerError> {
        let (hl, kvl, d) = (
            self.heads as usize,
            self.kv_heads as usize,
            self.head_dim as usize,
        );
        let width = (hl + 2 * kvl) * d;
        let mut qkv = self.qkv.forward_host(x)?; // [rows, (hl + 2·kvl)·d]
        let q_scale = self.q_scale.unwrap_or(1.0) as f32;
        // Rotary embedding on q and k, then the new keys and values into the cache.
        let shape = cache.shape;
        let (keys, values) = (Arc::make_mut(&mut cache.k), Arc::make_mut(&mut cache.v));
        for (row, place) in qkv.chunks_exact_mut(width).zip(at) {
            let (cos, sin) = rope.at(place.pos);
            let (q, kv) = row.split_at_mut(hl * d);
            let (k, v) = kv.split_at_mut(kvl * d);
            ops::rotate_half(q, cos, sin, q_scale);
            ops::rotate_half(k, cos, sin, 1.0);
            for g in 0..kvl {
                let to = shape.at(place.slot, g, place.pos);
                keys[to..to + d].copy_from_slice(&k[g * d..(g + 1) * d]);
                values[to..to + d].copy_from_slice(&v[g * d..(g + 1) * d]);
            }
        }
        // Each query head over the positions its token sees (j ≤ p, and p − w < j). The heads
        // that read one key/value head go through its cache together (one task per token and
        // key/value head); with few tokens, one task per token and query head instead, so
        // the helper threads get a share. The tasks, shared with the helpers, cover the heads
        // in order: their outputs in order are `[rows, hl·d]`.
        let groups = &self.groups;
        let per_head = at.len() * groups.len() < 8;
        let tasks: Arc<[(usize, Range<usize>)]> = (0..at.len())
            .flat_map(|token| {
                groups.iter().flat_map(move |heads| {
                    let split = if per_head { 1 } else { heads.len() };
                    heads
                        .clone()
                        .step_by(split)
                        .map(move |h| (token, h..(h + split).min(heads.end)))
                })
            })
            .collect();
        let kv_of = self.kv_of.clone();
        let (qkv, keys, values) = (Arc::new(qkv), cache.k.clone(), cache.v.clone());
        let at: Arc<[Place]> = at.into();
        let out = llm_cooperation_kernels::spread(
            tasks.len(),
            Arc::new(move |range: Range<usize>| {
                let tasks = &tasks[range];
                let mut out = vec![0f32; tasks.iter().map(|(_, h)| h.len()).sum::<usize>() * d];
                let mut scores = Vec::new();
                let mut done = 0;
                for (token, heads) in tasks {
                    let place = at[*token];
                    let g = kv_of[heads.start];
                    let first = window.map_or(0, |w| (place.pos + 1).saturating_sub(w));
                    let span =
                        shape.at(place.slot, g, first)..shape.at(place.slot, g, place.pos + 1);
                    let q = &qkv[token * width + heads.start * d..][..heads.len() * d];
                    let out = &mut out[done..done + heads.len() * d];
                    ops::attend_heads(d, q, &keys[span.clone()], &values[span], &mut scores, out);
                    done += heads.len() * d;
                }
                out
            }),
        );
        self.o_proj.forward_host(&out, comm)
    }
}

/// The runs of equal values in `kv_of` (the query heads of one key/value head), as ranges.
fn head_groups(kv_of: &[usize]) -> Vec<Range<usize>> {
    let mut groups: Vec<Range<usize>> = Vec::new();
    for (h, &g) in kv_of.iter().enumerate() {
        match groups.last_mut() {
            Some(last) if kv_of[last.start] == g => last.end = h + 1,
            _ => groups.push(h..h + 1),
        }
    }
    groups
}

/// SwiGLU feed-forward: `down(silu(gate(x)) · up(x))`, gate and up fused.
#[derive(Debug)]
struct Mlp {
    gate_up: ColumnParallel,
    down: RowParallel,
}

impl Mlp {
    fn new(
        ck: &Checkpoint,
        p: &str,
        cfg: &LlamaConfig,
        at: &Placement,
    ) -> Result<Self, RunnerError> {
        let hidden = cfg.hidden_size as i64;
        let inter = cfg.intermediate_size as i64;
        let gate = ck.param(&format!("{p}.mlp.gate_proj.weight"), &[inter, hidden])?;
        let up = ck.param(&format!("{p}.mlp.up_proj.weight"), &[inter, hidden])?;
        let down = ck.param(&format!("{p}.mlp.down_proj.weight"), &[hidden, inter])?;
        Ok(Mlp {
            gate_up: ColumnParallel::fused(&[(gate, None, inter), (up, None, inter)], at)?,
            down: RowParallel::new(down, None, inter, at)?,
        })
    }

    fn forward(&self, x: &Tensor, comm: &mut dyn Comm) -> Result<Tensor, RunnerError> {
        let gu = self.gate_up.forward(x)?;
        let half = self.gate_up.out_features() / 2;
        let h = gu
            .f_narrow(-1, 0, half)?
            .f_silu()?
            .f_mul_(&gu.f_narrow(-1, half, half)?)?;
        self.down.forward(&h, comm)
    }

    fn forward_host(&self, x: &[f32], comm: &mut dyn Comm) -> Result<Vec<f32>, RunnerError> {
        let gu = self.gate_up.forward_host(x)?;
        let half = self.gate_up.out_features() as usize / 2;
        let mut h = vec![0f32; gu.len() / 2];
        for (gu, h) in gu.chunks_exact(2 * half).zip(h.chunks_exact_mut(half)) {
            let (gate, up) = gu.split_at(half);
            ops::silu_mul(gate, up, h);
        }
        self.down.forward_host(&h, comm)
    }
}

/// One transformer block.
#[derive(Debug)]
struct DecoderLayer {
    input_layernorm: RmsNorm,
    self_attn: Attention,
    post_attention_layernorm: RmsNorm,
    mlp: Mlp,
}

impl DecoderLayer {
    fn new(
        ck: &Checkpoint,
        i: usize,
        cfg: &LlamaConfig,
        at: &Placement,
    ) -> Result<Self, RunnerError> {
        let p = format!("model.layers.{i}");
        Ok(DecoderLayer {
            input_layernorm: RmsNorm::new(ck, &format!("{p}.input_layernorm.weight"), cfg, at)?,
            self_attn: Attention::new(ck, &p, cfg, at)?,
            post_attention_layernorm: RmsNorm::new(
                ck,
                &format!("{p}.post_attention_layernorm.weight"),
                cfg,
                at,
            )?,
            mlp: Mlp::new(ck, &p, cfg, at)?,
        })
    }

    fn forward(
        &self,
        h: Tensor,
        step: &Step,
        cache: &mut TorchCache,
        comm: &mut dyn Comm,
    ) -> Result<Tensor, RunnerError> {
        let a = self
            .self_attn
            .forward(&self.input_layernorm.forward(&h)?, step, cache, comm)?;
        let mut h = h.f_add(&a)?;
        let m = self
            .mlp
            .forward(&self.post_attention_layernorm.forward(&h)?, comm)?;
        h = h.f_add_(&m)?;
        Ok(h)
    }

    /// [`DecoderLayer::forward`] on the CPU without libtorch, in place on `h`.
    fn forward_host(
        &self,
        h: &mut [f32],
        step: &HostStep<'_>,
        cache: &mut HostCache,
        comm: &mut dyn Comm,
    ) -> Result<(), RunnerError> {
        let x = self.input_layernorm.forward_host(h);
        let a = self
            .self_attn
            .forward_host(&x, step.at, &step.rope, step.window, cache, comm)?;
        ops::add(h, &a);
        let x = self.post_attention_layernorm.forward_host(h);
        ops::add(h, &self.mlp.forward_host(&x, comm)?);
        Ok(())
    }
}

/// Per-forward tensors shared by every layer.
struct Step<'a> {
    batch: i64,
    len: i64,
    first_slot: i64,
    kv_len: i64,
    /// The rotation matrix of [`Rope::Torch`].
    rotate: &'a Tensor,
    /// `[b, t, 1, d]`
    cos: Tensor,
    sin: Tensor,
    /// `[b·t]` cache coordinates of the new tokens.
    slot_index: Tensor,
    position_index: Tensor,
    /// Additive causal masks, for grouped (`[b, 1, t·g, kv_len]`) and per-head
    /// (`[b, 1, t, kv_len]`) attention.
    mask_grouped: Tensor,
    mask_heads: Tensor,
}

/// The cache coordinates of one token of a step.
#[derive(Debug, Clone, Copy)]
struct Place {
    slot: usize,
    pos: usize,
}

/// The rotary tables of [`Rope::Host`].
struct HostRope<'a> {
    cos: &'a [f32],
    sin: &'a [f32],
    half: usize,
}

impl HostRope<'_> {
    /// `cos` and `sin` of position `pos`'s angles.
    fn at(&self, pos: usize) -> (&[f32], &[f32]) {
        let at = pos * self.half..(pos + 1) * self.half;
        (&self.cos[at.clone()], &self.sin[at])
    }
}

/// What every layer of a CPU step without libtorch shares.
struct HostStep<'a> {
    /// Row `r` of the activations is the token at `at[r]`.
    at: &'a [Place],
    rope: HostRope<'a>,
    window: Option<usize>,
}

/// The token embedding: a float matrix, or quantized blocks dequantised one looked-up row at
/// a time.
#[derive(Debug)]
enum Embedding {
    Float(Tensor),
    #[cfg(target_arch = "x86_64")]
    Quant(llm_cooperation_kernels::PackedQuant),
}

impl Embedding {
    /// `tied`: the output head built from the same matrix.
    fn new(
        w: &Param,
        tied: Option<&VocabParallelHead>,
        at: &Placement,
    ) -> Result<Self, RunnerError> {
        #[cfg(target_arch = "x86_64")]
        if let Param::Quant(q) = w
            && at.device == Device::Cpu
        {
            // A tied head kept whole already holds these blocks.
            if let Some(shared) = tied
                .and_then(VocabParallelHead::shared_blocks)
                .filter(|s| (s.out_features(), s.in_features()) == (q.rows, q.cols))
            {
                return Ok(Embedding::Quant(shared.clone()));
            }
            if let Some(kind) = q.ty.block_kind() {
                let packed =
                    llm_cooperation_kernels::PackedQuant::pack(kind, q.bytes(), q.rows, q.cols)
                        .map_err(RunnerError::InvalidRequest)?;
                return Ok(Embedding::Quant(packed));
            }
        }
        let _ = tied;
        Ok(Embedding::Float(at.place(&w.to_float(at.kind)?)?))
    }

    /// `[b·t, hidden]` rows for the token ids, as f32 values on the CPU.
    fn forward_host(&self, tokens: &[i64]) -> Result<Vec<f32>, RunnerError> {
        match self {
            Embedding::Float(_) => {
                host_vec(&self.forward(tokens, 1, tokens.len() as i64, Device::Cpu)?)
            }
            #[cfg(target_arch = "x86_64")]
            Embedding::Quant(w) => w.rows(tokens).ok_or_else(|| {
                RunnerError::InvalidRequest(format!(
                    "a token id is outside the vocabulary of {}",
                    w.out_features()
                ))
            }),
        }
    }

    /// `[b, t, hidden]` rows for the `[b, t]` token ids.
    fn forward(
        &self,
        tokens: &[i64],
        b: i64,
        t: i64,
        device: Device,
    ) -> Result<Tensor, RunnerError> {
        match self {
            Embedding::Float(w) => {
                let ids = Tensor::from_slice(tokens)
                    .f_to_device(device)?
                    .f_view([b, t])?;
                Ok(Tensor::f_embedding(w, &ids, -1, false, false)?)
            }
            #[cfg(target_arch = "x86_64")]
            Embedding::Quant(w) => {
                let rows = self.forward_host(tokens)?;
                Ok(Tensor::from_slice(&rows).f_view([b, t, w.in_features() as i64])?)
            }
        }
    }
}

/// This rank's share of a Llama model, with its KV cache.
#[derive(Debug)]
pub struct Llama {
    embed_tokens: Embedding,
    layers: Vec<DecoderLayer>,
    norm: RmsNorm,
    lm_head: VocabParallelHead,
    rope: Rope,
    caches: Vec<LayerCache>,
    /// Slots and positions per slot that `caches` hold.
    cache_slots: i64,
    cache_positions: i64,
    cfg: LlamaConfig,
    at: Placement,
    slots: i64,
    max_positions: i64,
}

impl Llama {
    /// Builds rank `at.rank`'s shard with `slots` cache slots of up to `max_positions` tokens.
    pub fn new(
        ck: &Checkpoint,
        at: &Placement,
        slots: usize,
        max_positions: usize,
    ) -> Result<Self, RunnerError> {
        let cfg = &ck.config;
        cfg.check().map_err(|m| RunnerError::config(&ck.path, m))?;
        let h = cfg.num_attention_heads;
        if at.world > h {
            return Err(RunnerError::Parallelism {
                tp: at.world,
                what: "the number of attention heads",
                count: h,
            });
        }
        let hidden = cfg.hidden_size as i64;
        let vocab = cfg.vocab_size as i64;
        let embed = ck.param("model.embed_tokens.weight", &[vocab, hidden])?;
        let tied = cfg.tie_word_embeddings || !ck.contains("lm_head.weight");
        let head = if tied {
            embed
        } else {
            ck.param("lm_head.weight", &[vocab, hidden])?
        };
        let lm_head = VocabParallelHead::new(head, at)?;
        let embed_tokens = Embedding::new(embed, tied.then_some(&lm_head), at)?;
        let layers = (0..cfg.num_hidden_layers)
            .map(|i| DecoderLayer::new(ck, i, cfg, at))
            .collect::<Result<Vec<_>, _>>()?;
        let max_positions = max_positions.min(cfg.max_position_embeddings).max(1) as i64;
        // f32 on the CPU: each step's work between the products runs without libtorch.
        let host = at.device == Device::Cpu && at.kind == Kind::Float;
        let rope = Rope::new(cfg, max_positions, ck.rope_freq_factors.as_ref(), at, host)?;
        let mut model = Llama {
            embed_tokens,
            lm_head,
            norm: RmsNorm::new(ck, "model.norm.weight", cfg, at)?,
            layers,
            rope,
            caches: Vec::new(),
            cache_slots: 0,
            cache_positions: 0,
            cfg: cfg.clone(),
            at: *at,
            slots: slots.max(1) as i64,
            max_positions,
        };
        // Empty until sequences need it, then grown by doubling, in slots and positions (a
        // slot of the demo model takes 46 KB per position): an idle engine keeps none.
        model.caches = model.new_caches(0, 0)?;
        Ok(model)
    }

    pub fn config(&self) -> &LlamaConfig {
        &self.cfg
    }

    /// The longest sequence (prompt and answer) the cache holds.
    pub fn max_positions(&self) -> usize {
        self.max_positions as usize
    }

    pub fn slots(&self) -> usize {
        self.slots as usize
    }

    fn new_caches(&self, slots: i64, capacity: i64) -> Result<Vec<LayerCache>, RunnerError> {
        self.layers
            .iter()
            .map(|l| {
                let (kv_heads, d) = (l.self_attn.kv_heads, l.self_attn.head_dim);
                if let Rope::Host { .. } = self.rope {
                    let shape = CacheShape {
                        kv_heads: kv_heads as usize,
                        capacity: capacity as usize,
                        head_dim: d as usize,
                    };
                    return Ok(LayerCache::Host(HostCache::new(slots as usize, shape)));
                }
                let shape = [slots, kv_heads, capacity, d];
                Ok(LayerCache::Torch(TorchCache {
                    k: Tensor::f_zeros(shape, (Kind::Float, self.at.device))?,
                    v: Tensor::f_zeros(shape, (Kind::Float, self.at.device))?,
                }))
            })
            .collect()
    }

    /// Grows every layer's cache (each dimension by doubling) to hold `slots` slots of
    /// `needed` positions. Only the slots in use are held: one answer on the demo model
    /// keeps 12 MB of cache, not the 95 MB that all 8 slots of its length take.
    fn reserve(&mut self, slots: i64, needed: i64) -> Result<(), RunnerError> {
        let (old_slots, old) = (self.cache_slots, self.cache_positions);
        if slots <= old_slots && needed <= old {
            return Ok(());
        }
        let grown = |old: i64, needed: i64, most: i64| {
            if needed <= old {
                return old;
            }
            let mut cap = old.max(1);
            while cap < needed {
                cap *= 2;
            }
            cap.min(most).max(needed)
        };
        let new_slots = grown(old_slots, slots, self.slots);
        let cap = grown(old, needed, self.max_positions);
        let mut fresh = self.new_caches(new_slots, cap)?;
        for (new, old_cache) in fresh.iter_mut().zip(&self.caches) {
            match (new, old_cache) {
                (LayerCache::Torch(new), LayerCache::Torch(old_cache)) => {
                    for (new, old_cache) in [(&new.k, &old_cache.k), (&new.v, &old_cache.v)] {
                        new.f_narrow(0, 0, old_slots)?
                            .f_narrow(2, 0, old)?
                            .f_copy_(old_cache)?;
                    }
                }
                (LayerCache::Host(new), LayerCache::Host(old_cache)) => {
                    new.copy_from(old_cache, old_slots as usize, old as usize);
                }
                _ => unreachable!("every layer's cache is of the model's one kind"),
            }
        }
        self.caches = fresh;
        (self.cache_slots, self.cache_positions) = (new_slots, cap);
        Ok(())
    }

    /// Drops the KV cache (the engine's slots are all free); the next batch grows it again.
    pub fn release_cache(&mut self) -> Result<(), RunnerError> {
        self.caches = self.new_caches(0, 0)?;
        (self.cache_slots, self.cache_positions) = (0, 0);
        Ok(())
    }

    /// Copies the first `len` cached positions of slot `from` into slot `to` (the engine keeps
    /// running sequences in the lowest slots so a decode step reads one contiguous range).
    pub fn move_slot(&mut self, from: usize, to: usize, len: usize) -> Result<(), RunnerError> {
        if from == to || len == 0 || from as i64 >= self.cache_slots {
            return Ok(()); // nothing was ever cached in `from`
        }
        self.reserve(to as i64 + 1, self.cache_positions)?;
        let len = (len as i64).min(self.cache_positions);
        for c in &mut self.caches {
            match c {
                LayerCache::Torch(c) => {
                    for t in [&mut c.k, &mut c.v] {
                        let src = t.f_get(from as i64)?.f_narrow(1, 0, len)?;
                        t.f_get(to as i64)?.f_narrow(1, 0, len)?.f_copy_(&src)?;
                    }
                }
                LayerCache::Host(c) => c.move_slot(from, to, len as usize),
            }
        }
        Ok(())
    }

    /// Runs the batch and returns float logits `[batch, vocab]` (or `[batch, len, vocab]`).
    pub fn forward(&mut self, batch: &Batch, comm: &mut dyn Comm) -> Result<Tensor, RunnerError> {
        let _guard = tch::no_grad_guard();
        let (b, t) = (batch.batch, batch.len);
        if batch.tokens.len() as i64 != b * t || batch.start.len() as i64 != b {
            return Err(RunnerError::InvalidRequest(format!(
                "batch of {b}×{t} tokens has {} ids and {} start positions",
                batch.tokens.len(),
                batch.start.len()
            )));
        }
        if batch.first_slot < 0 || batch.first_slot + b > self.slots {
            return Err(RunnerError::InvalidRequest(format!(
                "cache slots {}..{} do not exist (the engine has {})",
                batch.first_slot,
                batch.first_slot + b,
                self.slots
            )));
        }
        let kv_len = batch.start.iter().copied().max().unwrap_or(0) + t;
        if kv_len > self.max_positions {
            return Err(RunnerError::ContextOverflow {
                prompt: kv_len as usize,
                max_tokens: 0,
                context: self.max_positions as usize,
            });
        }
        self.reserve(batch.first_slot + b, kv_len)?;
        if matches!(self.rope, Rope::Host { .. }) {
            self.forward_host(batch, comm)
        } else {
            self.forward_torch(batch, kv_len, comm)
        }
    }

    /// The CPU step without libtorch: everything but the output head's refinement of the
    /// best tokens runs on f32 vectors, in the `kernels` crate's products and ops.
    fn forward_host(&mut self, batch: &Batch, comm: &mut dyn Comm) -> Result<Tensor, RunnerError> {
        let Rope::Host { cos, sin, half } = &self.rope else {
            unreachable!("called for host tables only");
        };
        let (b, t) = (batch.batch as usize, batch.len as usize);
        let hidden = self.cfg.hidden_size;
        let at: Vec<Place> = batch
            .start
            .iter()
            .enumerate()
            .flat_map(|(i, &start)| {
                (0..t).map(move |j| Place {
                    slot: batch.first_slot as usize + i,
                    pos: start as usize + j,
                })
            })
            .collect();
        let step = HostStep {
            at: &at,
            rope: HostRope {
                cos,
                sin,
                half: *half,
            },
            window: self.cfg.window(),
        };
        let mut h = self.embed_tokens.forward_host(&batch.tokens)?; // [b·t, hidden]
        for (layer, cache) in self.layers.iter().zip(self.caches.iter_mut()) {
            let LayerCache::Host(cache) = cache else {
                unreachable!("host tables go with host caches");
            };
            layer.forward_host(&mut h, &step, cache, comm)?;
        }
        let (h, shape) = if batch.all_logits {
            (h, vec![b as i64, t as i64, -1])
        } else {
            let last: Vec<f32> = h
                .chunks_exact(t * hidden)
                .flat_map(|s| &s[(t - 1) * hidden..])
                .copied()
                .collect();
            (last, vec![b as i64, -1])
        };
        let logits = self
            .lm_head
            .forward_host(&self.norm.forward_host(&h), comm)?;
        Ok(logits.f_view(shape.as_slice())?)
    }

    /// The step in libtorch's operations (any device and dtype).
    fn forward_torch(
        &mut self,
        batch: &Batch,
        kv_len: i64,
        comm: &mut dyn Comm,
    ) -> Result<Tensor, RunnerError> {
        let Rope::Torch { cos, sin, rotate } = &self.rope else {
            unreachable!("called for libtorch tables only");
        };
        let (b, t) = (batch.batch, batch.len);
        let device = self.at.device;
        let positions: Vec<i64> = batch.start.iter().flat_map(|&s| s..s + t).collect();
        let slots: Vec<i64> = (0..b)
            .flat_map(|i| std::iter::repeat_n(batch.first_slot + i, t as usize))
            .collect();
        let position_index = Tensor::from_slice(&positions).f_to_device(device)?;
        let slot_index = Tensor::from_slice(&slots).f_to_device(device)?;
        let d = self.cfg.head_dim() as i64;
        let cos = cos
            .f_index_select(0, &position_index)?
            .f_view([b, t, 1, d])?;
        let sin = sin
            .f_index_select(0, &position_index)?
            .f_view([b, t, 1, d])?;

        // Key j is visible to the token at position p when j ≤ p (and, with a sliding window
        // of w positions, p - w < j).
        let keys = Tensor::f_arange(kv_len, (Kind::Int64, device))?.f_view([1, 1, kv_len])?;
        let at = position_index.f_view([b, t, 1])?;
        let mut hidden = keys.f_gt_tensor(&at)?; // [b, t, kv_len]
        if let Some(w) = self.cfg.window() {
            let before = keys.f_le_tensor(&(&at - w as i64))?;
            hidden = hidden.f_logical_or(&before)?;
        }
        let mask = Tensor::f_zeros([b, t, kv_len], (Kind::Float, device))?
            .f_masked_fill(&hidden, f64::NEG_INFINITY)?;
        let mask_heads = mask.f_unsqueeze(1)?; // [b, 1, t, kv_len]
        let group = self
            .layers
            .first()
            .map_or(1, |l| (l.self_attn.heads / l.self_attn.kv_heads).max(1));
        let mask_grouped = mask
            .f_view([b, 1, t, 1, kv_len])?
            .f_expand([b, 1, t, group, kv_len], false)?
            .f_reshape([b, 1, t * group, kv_len])?;
        let step = Step {
            batch: b,
            len: t,
            first_slot: batch.first_slot,
            kv_len,
            rotate,
            cos,
            sin,
            slot_index,
            position_index,
            mask_grouped,
            mask_heads,
        };

        let mut h = self.embed_tokens.forward(&batch.tokens, b, t, device)?;
        for (layer, cache) in self.layers.iter().zip(self.caches.iter_mut()) {
            let LayerCache::Torch(cache) = cache else {
                unreachable!("libtorch tables go with libtorch caches");
            };
            h = layer.forward(h, &step, cache, comm)?;
        }
        if !batch.all_logits {
            h = h.f_select(1, t - 1)?;
        }
        let normed = self.norm.forward(&h)?;
        // Low-precision models: the final norm again in f32, to rescore the best tokens; a
        // quantized head rescores them with the same f32 activations (its product quantized
        // them to int8).
        let exact = if self.at.kind == Kind::Float {
            self.lm_head.rescores().then(|| normed.shallow_clone())
        } else {
            let w = self.norm.weight.f_to_kind(Kind::Float)?;
            Some(
                h.f_to_kind(Kind::Float)?
                    .f_rms_norm([self.norm.size], Some(&w), self.norm.eps)?,
            )
        };
        self.lm_head.forward(&normed, exact.as_ref(), comm)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_reads_a_hugging_face_config() {
        let cfg: LlamaConfig = serde_json::from_str(
            r#"{"model_type":"qwen2","hidden_size":64,"intermediate_size":128,
                "num_hidden_layers":2,"num_attention_heads":4,"num_key_value_heads":2,
                "rms_norm_eps":1e-6,"rope_theta":1000000.0,"vocab_size":100,
                "tie_word_embeddings":true,"hidden_act":"silu","sliding_window":4096}"#,
        )
        .unwrap();
        assert!(cfg.qkv_bias());
        assert_eq!(cfg.head_dim(), 16);
        assert_eq!(cfg.kv_heads(), 2);
        cfg.check().unwrap();
    }

    #[test]
    fn sliding_windows_follow_each_architecture() {
        let cfg = |extra: &str| -> LlamaConfig {
            serde_json::from_str(&format!(
                r#"{{"hidden_size":64,"intermediate_size":128,"num_hidden_layers":2,
                    "num_attention_heads":4,"vocab_size":100{extra}}}"#
            ))
            .unwrap()
        };
        let mistral = cfg(r#","model_type":"mistral","sliding_window":4096"#);
        assert_eq!(mistral.window(), Some(4096));
        mistral.check().unwrap();
        assert_eq!(
            cfg(r#","model_type":"mistral","sliding_window":null"#).window(),
            None
        );
        let qwen = cfg(r#","model_type":"qwen2","sliding_window":4096"#);
        assert_eq!(qwen.window(), None);
        qwen.check().unwrap();
        let qwen = cfg(r#","model_type":"qwen2","sliding_window":4096,"use_sliding_window":true"#);
        assert!(qwen.check().unwrap_err().contains("use_sliding_window"));
        let zero = cfg(r#","model_type":"mistral","sliding_window":0"#);
        assert!(zero.check().unwrap_err().contains("sliding_window"));
    }

    #[test]
    fn unsupported_architectures_are_named() {
        let cfg: LlamaConfig = serde_json::from_str(
            r#"{"model_type":"gpt2","hidden_size":64,"intermediate_size":128,
                "num_hidden_layers":2,"num_attention_heads":4,"vocab_size":100}"#,
        )
        .unwrap();
        assert!(cfg.check().unwrap_err().contains("`gpt2`"));
    }

    /// Llama 3.1's published scaling keeps high frequencies and divides low ones by `factor`.
    #[test]
    fn llama3_rope_scaling_matches_the_reference_rule() {
        let s = RopeScaling {
            rope_type: "llama3".into(),
            factor: Some(8.0),
            low_freq_factor: Some(1.0),
            high_freq_factor: Some(4.0),
            original_max_position_embeddings: Some(8192),
        };
        let mut f = vec![1.0, 1e-4];
        llama3_scale(&mut f, &s);
        assert_eq!(f[0], 1.0);
        assert!((f[1] - 1e-4 / 8.0).abs() < 1e-12);
    }
}
