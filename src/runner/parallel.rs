//! Tensor parallelism: the [`Comm`] collective and the three kinds of linear layer built on it
//! (Megatron-LM style).
//!
//! A [`ColumnParallel`] linear keeps a slice of the output features on each rank (no
//! communication); a [`RowParallel`] linear keeps a slice of the input features, computes a
//! partial product and sums it across ranks; a [`Replicated`] one keeps everything. With one
//! rank the same code runs and the collectives are no-ops ([`SingleRank`]).
//!
//! [`ThreadComm`] connects ranks that are OS threads of one process (CPU, or several GPUs of
//! one box): each rank publishes its partial tensor, one barrier, then every rank adds all
//! partials **in rank order**, so every rank ends with bit-identical activations.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tch::{Device, Kind, Tensor};

use super::checkpoint::Param;
#[cfg(target_arch = "x86_64")]
use super::checkpoint::QuantMatrix;
use super::error::RunnerError;
#[cfg(target_arch = "x86_64")]
use llm_cooperation_kernels::{PackedF32, PackedQuant};

/// The collective operations the model needs between ranks.
pub trait Comm: Send {
    fn rank(&self) -> usize;
    fn world_size(&self) -> usize;
    /// Replaces `x` by the element-wise sum of every rank's `x` (same shape on all ranks).
    fn all_reduce_sum(&mut self, x: Tensor) -> Result<Tensor, RunnerError>;
    /// Concatenates every rank's `x` along the last dimension, in rank order.
    fn all_gather_last(&mut self, x: Tensor) -> Result<Tensor, RunnerError>;
    /// Tells the other ranks that this one stopped, so their collectives fail instead of
    /// waiting for it forever.
    fn abort(&mut self) {}
    /// [`Comm::all_reduce_sum`] of f32 values held by the caller (the CPU steps that run
    /// without libtorch).
    fn all_reduce_sum_host(&mut self, x: Vec<f32>) -> Result<Vec<f32>, RunnerError> {
        let sum = self.all_reduce_sum(Tensor::from_slice(&x))?;
        host_vec(&sum)
    }
}

/// A tensor's values as f32, on the CPU.
pub(crate) fn host_vec(t: &Tensor) -> Result<Vec<f32>, RunnerError> {
    Ok(Vec::<f32>::try_from(
        &t.f_to_device(Device::Cpu)?
            .f_to_kind(Kind::Float)?
            .f_contiguous()?
            .f_view([-1])?,
    )?)
}

/// World size 1: every collective returns its input.
#[derive(Debug, Clone, Copy, Default)]
pub struct SingleRank;

impl Comm for SingleRank {
    fn rank(&self) -> usize {
        0
    }
    fn world_size(&self) -> usize {
        1
    }
    fn all_reduce_sum(&mut self, x: Tensor) -> Result<Tensor, RunnerError> {
        Ok(x)
    }
    fn all_gather_last(&mut self, x: Tensor) -> Result<Tensor, RunnerError> {
        Ok(x)
    }
    fn all_reduce_sum_host(&mut self, x: Vec<f32>) -> Result<Vec<f32>, RunnerError> {
        Ok(x)
    }
}

/// What the ranks of one [`ThreadComm`] group share.
struct Shared {
    world: usize,
    /// Two sets of per-rank mailboxes, used alternately: a rank can only start call k+2 after
    /// every rank passed the barrier of call k+1, which each reaches only after it finished
    /// reading the mailboxes of call k.
    slots: [Vec<Mutex<Option<Tensor>>>; 2],
    arrived: AtomicUsize,
    generation: AtomicUsize,
    /// Set by a rank that stopped; every waiting rank then fails.
    aborted: AtomicBool,
}

/// A [`Comm`] between threads of this process; create all ranks with [`ThreadComm::group`].
pub struct ThreadComm {
    rank: usize,
    shared: Arc<Shared>,
    calls: usize,
    /// Where summed results live (the device of this rank).
    device: Device,
}

impl std::fmt::Debug for ThreadComm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ThreadComm")
            .field("rank", &self.rank)
            .field("world", &self.shared.world)
            .finish()
    }
}

impl ThreadComm {
    /// One communicator per rank; rank `i` gets `devices[i]`.
    pub fn group(devices: &[Device]) -> Vec<ThreadComm> {
        let world = devices.len();
        let mailboxes = || (0..world).map(|_| Mutex::new(None)).collect::<Vec<_>>();
        let shared = Arc::new(Shared {
            world,
            slots: [mailboxes(), mailboxes()],
            arrived: AtomicUsize::new(0),
            generation: AtomicUsize::new(0),
            aborted: AtomicBool::new(false),
        });
        devices
            .iter()
            .enumerate()
            .map(|(rank, &device)| ThreadComm {
                rank,
                shared: shared.clone(),
                calls: 0,
                device,
            })
            .collect()
    }

    /// A sense-reversing barrier that spins briefly, then yields: the ranks arrive within
    /// microseconds of each other, so sleeping on a condition variable would cost more.
    fn barrier(&self) -> Result<(), RunnerError> {
        let s = &self.shared;
        let generation = s.generation.load(Ordering::Acquire);
        if s.arrived.fetch_add(1, Ordering::AcqRel) + 1 == s.world {
            s.arrived.store(0, Ordering::Relaxed);
            s.generation.fetch_add(1, Ordering::AcqRel);
            return Ok(());
        }
        let mut spins = 0u32;
        while s.generation.load(Ordering::Acquire) == generation {
            if s.aborted.load(Ordering::Relaxed) {
                return Err(RunnerError::Stopped {
                    reason: Some("another tensor-parallel rank stopped".into()),
                });
            }
            if spins < 2000 {
                std::hint::spin_loop();
                spins += 1;
            } else {
                std::thread::yield_now();
            }
        }
        Ok(())
    }

    /// Publishes `x`, waits for every rank, and returns every rank's tensor in rank order.
    fn exchange(&mut self, x: Tensor) -> Result<Vec<Tensor>, RunnerError> {
        let set = &self.shared.slots[self.calls % 2];
        self.calls += 1;
        *lock(&set[self.rank]) = Some(x);
        self.barrier()?;
        set.iter()
            .map(|slot| {
                let guard = lock(slot);
                let t = guard.as_ref().ok_or_else(|| RunnerError::Stopped {
                    reason: Some("a tensor-parallel rank published nothing".into()),
                })?;
                Ok(t.shallow_clone())
            })
            .collect()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Comm for ThreadComm {
    fn rank(&self) -> usize {
        self.rank
    }

    fn world_size(&self) -> usize {
        self.shared.world
    }

    fn all_reduce_sum(&mut self, x: Tensor) -> Result<Tensor, RunnerError> {
        let parts = self.exchange(x)?;
        // Never in place: the partials belong to every rank.
        let mut sum = parts[0].f_to_device(self.device)?;
        for p in &parts[1..] {
            sum = sum.f_add(&p.f_to_device(self.device)?)?;
        }
        Ok(sum)
    }

    fn all_gather_last(&mut self, x: Tensor) -> Result<Tensor, RunnerError> {
        let parts = self.exchange(x)?;
        let parts = parts
            .iter()
            .map(|p| p.f_to_device(self.device))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Tensor::f_cat(&parts, -1)?)
    }

    fn abort(&mut self) {
        self.shared.aborted.store(true, Ordering::Relaxed);
    }
}

/// Where one rank's shard of the weights goes, and in which dtype.
#[derive(Debug, Clone, Copy)]
pub struct Placement {
    pub rank: usize,
    pub world: usize,
    pub device: Device,
    pub kind: Kind,
    /// Whether f32 layers on the CPU may keep packed weights for the `kernels/` crate's
    /// products (see [`Placement::packed_f32_default`]) rather than libtorch's.
    pub packed_f32: bool,
}

impl Placement {
    pub fn single(device: Device, kind: Kind) -> Self {
        Placement {
            rank: 0,
            world: 1,
            device,
            kind,
            packed_f32: Self::packed_f32_default(),
        }
    }

    /// Packed f32 products unless `LLM_COOP_PACKED_F32` is false (`0`, `false`, `no`, `off`),
    /// to compare with libtorch's.
    pub fn packed_f32_default() -> bool {
        std::env::var(crate::env_vars::LLM_COOP_PACKED_F32)
            .map_or(true, |v| crate::env_vars::parse_bool(&v) != Ok(Some(false)))
    }

    /// This rank's `[start, len)` of `n` items split as evenly as possible (earlier ranks
    /// take the remainder).
    pub fn range(&self, n: i64) -> (i64, i64) {
        let world = self.world as i64;
        let rank = self.rank as i64;
        let base = n / world;
        let extra = n % world;
        let start = rank * base + rank.min(extra);
        let len = base + i64::from(rank < extra);
        (start, len)
    }

    /// Moves a (shard of a) checkpoint tensor to this rank, in its dtype, contiguous.
    pub fn place(&self, t: &Tensor) -> Result<Tensor, RunnerError> {
        Ok(t.f_to_kind(self.kind)?
            .f_to_device(self.device)?
            .f_contiguous()?)
    }
}

/// A linear layer `y = x Wᵀ + b` (`W` is `[out, in]` in checkpoints).
#[derive(Debug)]
struct Linear {
    weights: Weights,
    bias: Option<Tensor>,
    /// The bias as f32 values, for the products on f32 rows on the CPU.
    bias_host: Option<Vec<f32>>,
    /// How quantized weights' products round the activations.
    rounding: Rounding,
}

/// How a product on quantized blocks rounds its activations, per block of 32.
///
/// With int8 activations everywhere (as llama.cpp), SmolLM2's most likely next token
/// differed from the float64 reference's at 8 of 261 positions of a paragraph (logits 0.17
/// from the wide path's on average); with wide ones, at none. Int8 in one kind of product at
/// a time, wide elsewhere, on the same 261 positions: q/k/v 4 differed (logits 0.12 off),
/// `gate/up` 4 (0.12), `down` 5 (0.08); `gate/up` and `down` int8 in a third of the layers
/// (the first, middle or last ten) 1–4 (0.07–0.12); int8 on every product but only for the
/// blocks of a row with the larger maxima (those over half the row's largest: 13% of the
/// blocks wide) 1 (0.09), but over 0.3 of it (32% wide) 3 (0.08): the error falls slowly
/// with the share kept wide, and the count of differing positions is noisy; int8 blocks of 16
/// or 8 inputs instead of 32, 5 and 3 (0.12, 0.10). The attention output's product (its
/// input an average of values, without outliers) and the output head (whose best tokens are
/// scored again in f32) differ at none with int8, so they keep it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rounding {
    /// 16-bit values (int8 and its residual in 256ths of a step,
    /// [`llm_cooperation_kernels::product_many_wide`]): twice the integer multiplies.
    Wide,
    /// Int8 blocks once, as llama.cpp.
    Int8,
}

/// How a linear layer keeps its weights.
#[derive(Debug)]
enum Weights {
    /// `Wᵀ` for one libtorch `matmul` (`linear` took a much slower CPU path for bf16 here, up
    /// to 20× at batch 1). Its layout follows what libtorch's CPU kernels do best, as measured
    /// here: for f32 a contiguous `[in, out]` copy (a batch of 8 rows multiplies about 2×
    /// faster than against the transposed view, batch 1 the same); for bf16 the transposed
    /// view of `[out, in]`, which reaches the reduced-precision GEMV kernel (the output head
    /// about 1.5× faster at batch 1).
    Torch(Tensor),
    /// f32 on the CPU: packed for [`PackedF32::product`], which streams the weights once
    /// per call whatever the number of rows (8 concurrent decodes about 1.5× faster than
    /// libtorch here). `LLM_COOP_PACKED_F32=0` keeps libtorch's product instead.
    #[cfg(target_arch = "x86_64")]
    Packed(PackedF32),
    /// GGUF blocks (`dtype = native`, CPU), multiplied without dequantising: the output
    /// features of several matrices fused into one product, one packed matrix per run of
    /// parts that share a block type (their raw rows concatenate), all multiplied in one
    /// [`llm_cooperation_kernels::product_many`] call, which quantizes the activations once.
    #[cfg(target_arch = "x86_64")]
    Quant(Vec<PackedQuant>),
}

impl Linear {
    /// `parts`: matrices `[out_i, in]` whose output features are concatenated.
    fn fused(parts: &[Param], bias: Option<Tensor>, at: &Placement) -> Result<Self, RunnerError> {
        #[cfg(target_arch = "x86_64")]
        if at.device == Device::Cpu
            && let Some(quant) = parts
                .iter()
                .map(|p| match p {
                    Param::Quant(q) => Some(q),
                    Param::Float(_) => None,
                })
                .collect::<Option<Vec<&QuantMatrix>>>()
        {
            let mut packed = Vec::new();
            for run in quant.chunk_by(|a, b| a.ty == b.ty) {
                let Some(m) = QuantMatrix::cat_rows(run) else {
                    unreachable!("a run shares its block type, and fused parts their inputs");
                };
                let kind = m.ty.block_kind().ok_or_else(|| {
                    RunnerError::InvalidRequest(format!("{} is not a block type", m.ty))
                })?;
                packed.push(
                    PackedQuant::pack(kind, m.bytes(), m.rows, m.cols)
                        .map_err(RunnerError::InvalidRequest)?,
                );
            }
            return Linear::with(Weights::Quant(packed), bias);
        }
        // Float weights (or quantized ones where the products cannot run on their blocks, or
        // mixed with float parts): one dense matrix.
        let weight = match parts {
            [Param::Float(w)] => w.shallow_clone(),
            _ => Tensor::f_cat(
                &parts
                    .iter()
                    .map(|p| p.to_float(Kind::Float))
                    .collect::<Result<Vec<_>, _>>()?,
                0,
            )?,
        };
        Self::new(&weight, bias, at)
    }

    fn new(weight: &Tensor, bias: Option<Tensor>, at: &Placement) -> Result<Self, RunnerError> {
        #[cfg(target_arch = "x86_64")]
        if packs_f32(at) {
            let [out, inp] = [weight.size()[0], weight.size()[1]];
            let w = Vec::<f32>::try_from(
                &weight
                    .f_to_kind(Kind::Float)?
                    .f_contiguous()?
                    .f_view([-1])?,
            )?;
            if let Some(packed) = PackedF32::pack(&w, out as usize, inp as usize) {
                return Linear::with(Weights::Packed(packed), bias);
            }
        }
        let weight_t = if at.kind == Kind::Float {
            at.place(&weight.f_transpose(0, 1)?)?
        } else {
            at.place(weight)?.f_transpose(0, 1)?
        };
        Linear::with(Weights::Torch(weight_t), bias)
    }

    fn with(weights: Weights, bias: Option<Tensor>) -> Result<Self, RunnerError> {
        let bias_host = match &bias {
            Some(b) if b.device() == Device::Cpu => Some(host_vec(b)?),
            _ => None,
        };
        Ok(Linear {
            weights,
            bias,
            bias_host,
            rounding: Rounding::Wide,
        })
    }

    fn out_features(&self) -> i64 {
        match &self.weights {
            Weights::Torch(weight_t) => weight_t.size()[1],
            #[cfg(target_arch = "x86_64")]
            Weights::Packed(packed) => packed.out_features() as i64,
            #[cfg(target_arch = "x86_64")]
            Weights::Quant(parts) => parts.iter().map(|p| p.out_features() as i64).sum(),
        }
    }

    /// `x Wᵀ` without the bias. For bf16 decode steps (a few rows) the product is taken as
    /// `W·x` (one row: `mv`; up to 16: `(W xᵀ)ᵀ`), which streams the weights about 1.5×
    /// faster than `x Wᵀ` on libtorch's CPU kernels (measured with weights larger than the
    /// caches); longer prefill batches keep `x Wᵀ`.
    fn product(&self, x: &Tensor) -> Result<Tensor, RunnerError> {
        const FEW_ROWS: i64 = 16;
        let weight_t = match &self.weights {
            Weights::Torch(weight_t) => weight_t,
            // The kernels' weights: through their product on f32 rows.
            #[cfg(target_arch = "x86_64")]
            Weights::Packed(_) | Weights::Quant(_) => {
                let mut shape = x.size();
                if let Some(last) = shape.last_mut() {
                    *last = self.out_features();
                }
                let y = self.product_host(&host_vec(x)?)?;
                return Ok(Tensor::from_slice(&y).f_view(shape.as_slice())?);
            }
        };
        let [inp, out] = [weight_t.size()[0], weight_t.size()[1]];
        let rows = x.numel() as i64 / inp.max(1);
        if x.kind() != Kind::BFloat16 || rows > FEW_ROWS {
            return Ok(x.f_matmul(weight_t)?);
        }
        let mut shape = x.size();
        if let Some(last) = shape.last_mut() {
            *last = out;
        }
        let w = weight_t.f_transpose(0, 1)?; // `[out, in]`, contiguous
        let y = if rows == 1 {
            w.f_mv(&x.f_reshape([inp])?)?
        } else {
            w.f_matmul(&x.f_reshape([rows, inp])?.f_transpose(0, 1)?)?
                .f_transpose(0, 1)?
                .f_contiguous()?
        };
        Ok(y.f_view(shape.as_slice())?)
    }

    /// Rows of `W` (`[n, in]`, in the weights' dtype) for the output features `index`.
    fn weight_rows(&self, index: &Tensor) -> Result<Tensor, RunnerError> {
        if let Weights::Torch(weight_t) = &self.weights {
            return Ok(weight_t.f_transpose(0, 1)?.f_index_select(0, index)?);
        }
        let index = Vec::<i64>::try_from(&index.f_to_kind(Kind::Int64)?.f_view([-1])?)?;
        let rows = self.weight_rows_host(&index)?;
        Ok(Tensor::from_slice(&rows).f_view([index.len() as i64, self.in_features() as i64])?)
    }

    /// Rows of `W` as f32 values (`[index.len(), in]`) for the output features `index`.
    fn weight_rows_host(&self, index: &[i64]) -> Result<Vec<f32>, RunnerError> {
        let outside = || {
            RunnerError::InvalidRequest(format!(
                "an output feature outside 0..{} was asked for",
                self.out_features()
            ))
        };
        match &self.weights {
            Weights::Torch(weight_t) => {
                let index = Tensor::from_slice(index).f_to_device(weight_t.device())?;
                host_vec(&weight_t.f_transpose(0, 1)?.f_index_select(0, &index)?)
            }
            #[cfg(target_arch = "x86_64")]
            Weights::Packed(packed) => packed.rows(index).ok_or_else(outside),
            #[cfg(target_arch = "x86_64")]
            Weights::Quant(parts) => {
                let mut rows = Vec::with_capacity(index.len() * self.in_features());
                for &i in index {
                    rows.extend(quant_row(parts, i).ok_or_else(outside)?);
                }
                Ok(rows)
            }
        }
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor, RunnerError> {
        let mut y = self.product(x)?;
        if let Some(b) = &self.bias {
            y = y.f_add_(b)?;
        }
        Ok(y)
    }

    fn in_features(&self) -> usize {
        match &self.weights {
            Weights::Torch(weight_t) => weight_t.size()[0] as usize,
            #[cfg(target_arch = "x86_64")]
            Weights::Packed(packed) => packed.in_features(),
            #[cfg(target_arch = "x86_64")]
            Weights::Quant(parts) => parts.first().map_or(0, |p| p.in_features()),
        }
    }

    /// `x Wᵀ` without the bias for f32 rows `x` (`[rows, in]`) on the CPU: the kernels'
    /// products take them as they are; libtorch's weights take a copy each way.
    fn product_host(&self, x: &[f32]) -> Result<Vec<f32>, RunnerError> {
        let rows = x.len() / self.in_features().max(1);
        match &self.weights {
            #[cfg(target_arch = "x86_64")]
            Weights::Packed(packed) => Ok(packed.product(x, rows)),
            #[cfg(target_arch = "x86_64")]
            Weights::Quant(parts) => Ok(quant_product_host(parts, x, rows, self.rounding)),
            Weights::Torch(_) => {
                let x = Tensor::from_slice(x).f_view([rows as i64, self.in_features() as i64])?;
                host_vec(&self.product(&x)?)
            }
        }
    }

    /// Adds the bias to every row of `y`.
    fn add_bias_host(&self, y: &mut [f32]) {
        if let Some(b) = &self.bias_host {
            for row in y.chunks_exact_mut(b.len().max(1)) {
                llm_cooperation_kernels::ops::add(row, b);
            }
        }
    }
}

/// Whether the linear layers of a rank placed at `at` keep packed f32 weights: f32 on the
/// CPU, with AVX2 or AVX-512, when the placement allows it.
pub(crate) fn packs_f32(at: &Placement) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        at.packed_f32
            && at.kind == Kind::Float
            && at.device == Device::Cpu
            && llm_cooperation_kernels::available()
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = at;
        false
    }
}

/// Row `i` of the fused parts' output features, dequantised.
#[cfg(target_arch = "x86_64")]
fn quant_row(parts: &[PackedQuant], mut i: i64) -> Option<Vec<f32>> {
    for p in parts {
        let out = p.out_features() as i64;
        if (0..out).contains(&i) {
            return p.rows(&[i]);
        }
        i -= out;
    }
    None
}

/// `x Wᵀ` on quantized blocks for f32 rows `x` (`[rows, in]`), the parts' outputs side by
/// side: `[rows, Σ out]`.
#[cfg(target_arch = "x86_64")]
fn quant_product_host(
    parts: &[PackedQuant],
    data: &[f32],
    rows: usize,
    rounding: Rounding,
) -> Vec<f32> {
    let refs: Vec<&PackedQuant> = parts.iter().collect();
    match rounding {
        Rounding::Int8 => llm_cooperation_kernels::product_many(&refs, data, rows),
        Rounding::Wide => llm_cooperation_kernels::product_many_wide(&refs, data, rows),
    }
}

/// Output features split across ranks; several checkpoint matrices may be fused into one
/// product (q/k/v, or gate/up), each split on its own so every rank gets matching slices.
#[derive(Debug)]
pub struct ColumnParallel(Linear);

impl ColumnParallel {
    /// `parts`: for each fused matrix `[out_i, in]`, the number of shards units in `out_i`
    /// (heads for attention projections, rows otherwise); the rank's share of units is kept.
    /// Quantized matrices keep their blocks: their rows are independent.
    pub fn fused(
        parts: &[(&Param, Option<&Tensor>, i64)],
        at: &Placement,
    ) -> Result<Self, RunnerError> {
        let mut weights = Vec::with_capacity(parts.len());
        let mut biases = Vec::with_capacity(parts.len());
        for &(w, b, units) in parts {
            let rows = w.size()[0];
            let per_unit = rows / units;
            let (start, len) = at.range(units);
            weights.push(w.narrow_rows(start * per_unit, len * per_unit)?);
            if let Some(b) = b {
                biases.push(b.f_narrow(0, start * per_unit, len * per_unit)?);
            }
        }
        let bias = if biases.is_empty() {
            None
        } else {
            Some(at.place(&Tensor::f_cat(&biases, 0)?)?)
        };
        Ok(ColumnParallel(Linear::fused(&weights, bias, at)?))
    }

    pub fn forward(&self, x: &Tensor) -> Result<Tensor, RunnerError> {
        self.0.forward(x)
    }

    /// [`ColumnParallel::forward`] on f32 rows held by the caller (`[rows, in]`, CPU).
    pub fn forward_host(&self, x: &[f32]) -> Result<Vec<f32>, RunnerError> {
        let mut y = self.0.product_host(x)?;
        self.0.add_bias_host(&mut y);
        Ok(y)
    }

    /// This rank's number of output features.
    pub fn out_features(&self) -> i64 {
        self.0.out_features()
    }
}

/// Input features split across ranks; the partial products are summed with the [`Comm`].
#[derive(Debug)]
pub struct RowParallel(Linear);

impl RowParallel {
    /// `units`: how many shard units the input features form (heads for `o_proj`). A
    /// quantized matrix is split at block boundaries, or dequantised where a rank's share
    /// cuts a block (see [`Param::narrow_cols`]).
    pub fn new(
        w: &Param,
        b: Option<&Tensor>,
        units: i64,
        at: &Placement,
    ) -> Result<Self, RunnerError> {
        let cols = w.size()[1];
        let per_unit = cols / units;
        let (start, len) = at.range(units);
        // The bias is added once, after the sum.
        let bias = b.map(|b| at.place(b)).transpose()?;
        Ok(RowParallel(Linear::fused(
            &[w.narrow_cols(start * per_unit, len * per_unit)?],
            bias,
            at,
        )?))
    }

    /// [`RowParallel::forward`] on f32 rows held by the caller (`[rows, in]`, CPU).
    pub fn forward_host(&self, x: &[f32], comm: &mut dyn Comm) -> Result<Vec<f32>, RunnerError> {
        let partial = self.0.product_host(x)?;
        let mut sum = comm.all_reduce_sum_host(partial)?;
        self.0.add_bias_host(&mut sum);
        Ok(sum)
    }

    /// Sets how products on quantized blocks round the activations (wide by default).
    pub fn rounding(mut self, rounding: Rounding) -> Self {
        self.0.rounding = rounding;
        self
    }

    pub fn forward(&self, x: &Tensor, comm: &mut dyn Comm) -> Result<Tensor, RunnerError> {
        let partial = self.0.product(x)?;
        let sum = comm.all_reduce_sum(partial)?;
        match &self.0.bias {
            Some(b) => Ok(sum.f_add(b)?),
            None => Ok(sum),
        }
    }
}

/// The whole matrix on every rank.
#[derive(Debug)]
pub struct Replicated(Linear);

impl Replicated {
    pub fn new(w: &Param, b: Option<&Tensor>, at: &Placement) -> Result<Self, RunnerError> {
        let bias = b.map(|b| at.place(b)).transpose()?;
        Ok(Replicated(Linear::fused(&[w.shallow_clone()], bias, at)?))
    }

    pub fn forward(&self, x: &Tensor) -> Result<Tensor, RunnerError> {
        self.0.forward(x)
    }
}

/// A vocabulary-parallel output head: each rank scores its slice of the vocabulary, then the
/// slices are gathered, so the largest matrix of a small model is split too.
#[derive(Debug)]
pub struct VocabParallelHead(Linear);

impl VocabParallelHead {
    pub fn new(w: &Param, at: &Placement) -> Result<Self, RunnerError> {
        let (start, len) = at.range(w.size()[0]);
        let mut head = Linear::fused(&[w.narrow_rows(start, len)?], None, at)?;
        // Its best tokens are scored again in f32 (`rescores`).
        head.rounding = Rounding::Int8;
        Ok(VocabParallelHead(head))
    }

    /// Whether [`VocabParallelHead::forward`] should be given f32 activations to rescore the
    /// best tokens with, even for an f32 model: a quantized head's product rounds them to int8.
    pub fn rescores(&self) -> bool {
        #[cfg(target_arch = "x86_64")]
        if matches!(self.0.weights, Weights::Quant(_)) {
            return true;
        }
        false
    }

    /// The packed blocks of a quantized head kept whole (one rank), to share with a tied
    /// embedding.
    #[cfg(target_arch = "x86_64")]
    pub fn shared_blocks(&self) -> Option<&PackedQuant> {
        match &self.0.weights {
            Weights::Quant(parts) => match parts.as_slice() {
                [only] => Some(only),
                _ => None,
            },
            _ => None,
        }
    }

    /// Float logits for every token of the vocabulary.
    ///
    /// For a low-precision model, `exact` is `x` in f32: the product runs in the model's dtype
    /// (half the bytes to read), then the `REFINE` best tokens of every row are scored again
    /// in f32 (for a quantized head, against its dequantised rows: the product had rounded the
    /// activations to int8). Rounding logits near 25 to bf16 leaves steps of 0.125, which ties or swaps
    /// tokens that differ by less; the refinement keeps greedy decoding and the head of the
    /// sampling distribution at f32 resolution for the cost of a few small ops.
    pub fn forward(
        &self,
        x: &Tensor,
        exact: Option<&Tensor>,
        comm: &mut dyn Comm,
    ) -> Result<Tensor, RunnerError> {
        const REFINE: i64 = 16;
        let rough = self.0.forward(x)?.f_to_kind(Kind::Float)?;
        let local = match exact {
            None => rough,
            Some(exact) => {
                let shape = rough.size();
                let (hidden, vocab) = (exact.size()[exact.dim() - 1], shape[shape.len() - 1]);
                let k = REFINE.min(vocab);
                let rows = rough.f_reshape([-1, vocab])?;
                let n = rows.size()[0];
                let (_, best) = rows.f_topk(k, -1, true, false)?; // [n, k]
                // Rows of W (contiguous for low-precision weights) for those tokens:
                // [n·k, hidden] → [n, hidden, k].
                let cols = self
                    .0
                    .weight_rows(&best.f_reshape([-1])?)?
                    .f_to_kind(Kind::Float)?
                    .f_view([n, k, hidden])?
                    .f_transpose(1, 2)?;
                let exact = exact.f_reshape([n, 1, hidden])?;
                let refined = exact.f_matmul(&cols)?.f_view([n, k])?;
                rows.f_scatter(1, &best, &refined)?
                    .f_view(shape.as_slice())?
            }
        };
        comm.all_gather_last(local)
    }

    /// [`VocabParallelHead::forward`] on f32 rows `x` (`[rows, hidden]`) held by the caller on
    /// the CPU, which are also the exact activations: `[rows, vocab]` float logits.
    pub fn forward_host(&self, x: &[f32], comm: &mut dyn Comm) -> Result<Tensor, RunnerError> {
        const REFINE: usize = 16;
        let mut logits = self.0.product_host(x)?;
        let (hidden, vocab) = (self.0.in_features(), self.0.out_features() as usize);
        if self.rescores() {
            for (row, x) in logits
                .chunks_exact_mut(vocab.max(1))
                .zip(x.chunks_exact(hidden.max(1)))
            {
                let best: Vec<i64> = llm_cooperation_kernels::ops::largest(row, REFINE)
                    .into_iter()
                    .map(|i| i as i64)
                    .collect();
                let w = self.0.weight_rows_host(&best)?;
                for (&i, w) in best.iter().zip(w.chunks_exact(hidden.max(1))) {
                    row[i as usize] = w.iter().zip(x).map(|(w, x)| w * x).sum();
                }
            }
        }
        let rows = logits.len() / vocab.max(1);
        comm.all_gather_last(Tensor::from_slice(&logits).f_view([rows as i64, vocab as i64])?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_cover_everything_once() {
        for world in 1..5 {
            let mut next = 0;
            for rank in 0..world {
                let p = Placement {
                    rank,
                    world,
                    ..Placement::single(Device::Cpu, Kind::Float)
                };
                let (start, len) = p.range(10);
                assert_eq!(start, next);
                next += len;
            }
            assert_eq!(next, 10);
        }
    }
}
