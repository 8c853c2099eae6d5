//! A loaded checkpoint: the model's config, its tensors under Hugging Face names, and its
//! tokenizer and chat template, read from either a GGUF file or a Hugging Face directory
//! (`config.json`, `*.safetensors`, `tokenizer.json`).
//!
//! GGUF tensor names are mapped to the Hugging Face ones (`blk.3.attn_q.weight` →
//! `model.layers.3.self_attn.q_proj.weight`), and for Llama-architecture files the q/k rows
//! that llama.cpp's converter permuted for its RoPE layout are put back.
//!
//! A GGUF file may also be loaded keeping its quantized matrices as they are stored
//! ([`Checkpoint::load_native`]): each is then a [`QuantMatrix`] of raw ggml blocks, which the
//! tensor-parallel layers slice (rows are independent; columns split at block boundaries) and
//! the `kernels/` crate multiplies without dequantising.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tch::{Kind, Tensor};

use super::error::RunnerError;
use super::gguf::{GgmlType, Gguf};
use super::models::llama::LlamaConfig;
use super::tokenizer::{TextTokenizer, read_json_opt};

/// Everything needed to build a model and talk to it.
#[derive(Debug)]
pub struct Checkpoint {
    /// The file or directory it came from (named in errors).
    pub path: PathBuf,
    pub config: LlamaConfig,
    tensors: HashMap<String, Param>,
    /// GGUF `rope_freqs.weight`: Llama 3's per-frequency RoPE divisors.
    pub rope_freq_factors: Option<Tensor>,
    pub tokenizer: TextTokenizer,
    pub chat_template: Option<String>,
    /// A short name for responses (`general.name` or the directory name).
    pub name: String,
}

impl Checkpoint {
    /// Loads a `.gguf` file or a Hugging Face model directory; tensors are kept in `kind`
    /// (quantized GGUF tensors are dequantised).
    pub fn load(path: &Path, kind: Kind) -> Result<Self, RunnerError> {
        Self::load_with(path, kind, false)
    }

    /// Like [`Checkpoint::load`] in f32, except that a GGUF file's quantized matrices (Q4_0,
    /// Q4_1, Q8_0, Q4_K, Q5_K, Q6_K) are kept in their blocks, as [`Param::Quant`].
    pub fn load_native(path: &Path) -> Result<Self, RunnerError> {
        Self::load_with(path, Kind::Float, true)
    }

    fn load_with(path: &Path, kind: Kind, keep_blocks: bool) -> Result<Self, RunnerError> {
        let meta = std::fs::metadata(path).map_err(|source| RunnerError::Io {
            path: path.to_owned(),
            source,
        })?;
        if meta.is_dir() {
            super::safetensors::load_hf_dir(path, kind)
        } else {
            Self::from_gguf(&Gguf::open(path)?, kind, keep_blocks)
        }
    }

    /// A parsed GGUF file's model: float tensors in `kind`, and quantized matrices kept in
    /// their blocks when `keep_blocks` (else dequantised to `kind`).
    pub fn from_gguf(g: &Gguf, kind: Kind, keep_blocks: bool) -> Result<Self, RunnerError> {
        from_gguf(g, kind, keep_blocks)
    }

    /// Whether some matrix is kept in quantized blocks.
    pub fn has_blocks(&self) -> bool {
        self.tensors.values().any(|p| matches!(p, Param::Quant(_)))
    }

    pub(crate) fn new(
        path: &Path,
        config: LlamaConfig,
        tensors: HashMap<String, Param>,
        tokenizer: TextTokenizer,
        chat_template: Option<String>,
        name: String,
    ) -> Self {
        Checkpoint {
            path: path.to_owned(),
            config,
            tensors,
            rope_freq_factors: None,
            tokenizer,
            chat_template,
            name,
        }
    }

    /// The shape of tensor `name`, if the checkpoint has it.
    pub fn tensor_shape(&self, name: &str) -> Option<Vec<i64>> {
        self.tensors.get(name).map(Param::size)
    }

    /// The number of parameters (elements of every tensor the model uses).
    pub fn parameters(&self) -> usize {
        self.tensors.values().map(Param::numel).sum()
    }

    pub fn contains(&self, name: &str) -> bool {
        self.tensors.contains_key(name)
    }

    /// The float tensor `name`, which must have exactly `shape` (norms and biases: a matrix
    /// that may be quantized is read with [`Checkpoint::param`]).
    pub fn get(&self, name: &str, shape: &[i64]) -> Result<&Tensor, RunnerError> {
        match self.param(name, shape)? {
            Param::Float(t) => Ok(t),
            Param::Quant(q) => Err(RunnerError::tensor(
                &self.path,
                name,
                format!(
                    "is kept in {} blocks, where a float tensor is needed: load the model \
                     with `dtype = \"f32\"`",
                    q.ty
                ),
            )),
        }
    }

    /// The tensor `name`, float or quantized, which must have exactly `shape`.
    pub fn param(&self, name: &str, shape: &[i64]) -> Result<&Param, RunnerError> {
        let t = self.tensors.get(name).ok_or_else(|| {
            RunnerError::tensor(
                &self.path,
                name,
                format!("missing (expected shape {shape:?})"),
            )
        })?;
        if t.size() != shape {
            return Err(RunnerError::tensor(
                &self.path,
                name,
                format!("has shape {:?}, expected {shape:?}", t.size()),
            ));
        }
        Ok(t)
    }
}

/// A checkpoint tensor: float, or a GGUF matrix kept in its quantized blocks.
#[derive(Debug)]
pub enum Param {
    Float(Tensor),
    Quant(QuantMatrix),
}

impl From<Tensor> for Param {
    fn from(t: Tensor) -> Self {
        Param::Float(t)
    }
}

impl Param {
    /// The shape, outermost first.
    pub fn size(&self) -> Vec<i64> {
        match self {
            Param::Float(t) => t.size(),
            Param::Quant(q) => vec![q.rows as i64, q.cols as i64],
        }
    }

    pub fn numel(&self) -> usize {
        match self {
            Param::Float(t) => t.numel(),
            Param::Quant(q) => q.rows * q.cols,
        }
    }

    /// A shallow copy (a quantized matrix shares its bytes).
    pub fn shallow_clone(&self) -> Param {
        match self {
            Param::Float(t) => Param::Float(t.shallow_clone()),
            Param::Quant(q) => Param::Quant(q.clone()),
        }
    }

    /// The values as a float tensor of `kind` (a quantized matrix is dequantised).
    pub fn to_float(&self, kind: Kind) -> Result<Tensor, RunnerError> {
        match self {
            Param::Float(t) => Ok(t.f_to_kind(kind)?),
            Param::Quant(q) => Ok(q.dequantize()?.f_to_kind(kind)?),
        }
    }

    /// Rows `start..start + len` (of a matrix or vector).
    pub fn narrow_rows(&self, start: i64, len: i64) -> Result<Param, RunnerError> {
        match self {
            Param::Float(t) => Ok(Param::Float(t.f_narrow(0, start, len)?)),
            Param::Quant(q) => Ok(Param::Quant(q.rows(start as usize, len as usize))),
        }
    }

    /// Columns `start..start + len` of a matrix. A quantized matrix is split at block
    /// boundaries; where the range cuts a block (say heads of 64 inputs in blocks of 256), the
    /// slice is dequantised to f32 instead: a block's values share one scale, so it cannot be
    /// split and stay quantized.
    pub fn narrow_cols(&self, start: i64, len: i64) -> Result<Param, RunnerError> {
        match self {
            Param::Float(t) => Ok(Param::Float(t.f_narrow(1, start, len)?)),
            Param::Quant(q) => match q.cols(start as usize, len as usize) {
                Some(q) => Ok(Param::Quant(q)),
                None => Ok(Param::Float(
                    q.dequantize()?.f_narrow(1, start, len)?.f_contiguous()?,
                )),
            },
        }
    }
}

/// A `[rows, cols]` matrix of ggml blocks exactly as a GGUF file stores it: row-major, each
/// row `cols / block_elems` blocks, rows independent of each other.
#[derive(Clone)]
pub struct QuantMatrix {
    pub ty: GgmlType,
    pub rows: usize,
    pub cols: usize,
    /// `data[range]` holds the blocks: a slice of the GGUF file as read (no copy; the file
    /// is freed with the last matrix that refers to it), or bytes of their own after a
    /// reordering, a column split or a concatenation.
    data: Arc<Vec<u8>>,
    range: std::ops::Range<usize>,
}

impl std::fmt::Debug for QuantMatrix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QuantMatrix")
            .field("ty", &self.ty)
            .field("rows", &self.rows)
            .field("cols", &self.cols)
            .finish_non_exhaustive()
    }
}

impl QuantMatrix {
    /// `None` unless `ty` is a block type and `data` holds exactly `rows` rows of `cols`.
    pub fn new(ty: GgmlType, rows: usize, cols: usize, data: Vec<u8>) -> Option<Self> {
        let len = data.len();
        Self::shared(ty, rows, cols, Arc::new(data), 0..len)
    }

    /// The matrix in `data[range]` (e.g. a GGUF file's bytes), kept without a copy; `None`
    /// unless `ty` is a block type and the range holds exactly `rows` rows of `cols`.
    pub fn shared(
        ty: GgmlType,
        rows: usize,
        cols: usize,
        data: Arc<Vec<u8>>,
        range: std::ops::Range<usize>,
    ) -> Option<Self> {
        let kind = ty.block_kind()?;
        let row_bytes = cols / kind.block_elems() * kind.block_bytes();
        (cols.is_multiple_of(kind.block_elems())
            && range.len() == rows * row_bytes
            && data.get(range.clone()).is_some())
        .then_some(QuantMatrix {
            ty,
            rows,
            cols,
            data,
            range,
        })
    }

    fn owned(&self, rows: usize, cols: usize, data: Vec<u8>) -> QuantMatrix {
        let len = data.len();
        QuantMatrix {
            ty: self.ty,
            rows,
            cols,
            data: Arc::new(data),
            range: 0..len,
        }
    }

    fn kind(&self) -> llm_cooperation_kernels::BlockKind {
        // `new` accepts block types only.
        self.ty
            .block_kind()
            .unwrap_or(llm_cooperation_kernels::BlockKind::Q8_0)
    }

    fn row_bytes(&self) -> usize {
        let kind = self.kind();
        self.cols / kind.block_elems() * kind.block_bytes()
    }

    /// The raw bytes, row-major.
    pub fn bytes(&self) -> &[u8] {
        &self.data[self.range.clone()]
    }

    /// Rows `start..start + len` (a shallow copy when that is every row).
    pub fn rows(&self, start: usize, len: usize) -> QuantMatrix {
        if start == 0 && len == self.rows {
            return self.clone();
        }
        let rb = self.row_bytes();
        let from = self.range.start + start * rb;
        QuantMatrix {
            rows: len,
            data: self.data.clone(),
            range: from..from + len * rb,
            ..*self
        }
    }

    /// The rows in the order `order` (indices of this matrix's rows).
    pub fn select_rows(&self, order: &[usize]) -> QuantMatrix {
        let (rb, bytes) = (self.row_bytes(), self.bytes());
        let mut data = Vec::with_capacity(order.len() * rb);
        for &r in order {
            data.extend_from_slice(&bytes[r * rb..(r + 1) * rb]);
        }
        self.owned(order.len(), self.cols, data)
    }

    /// Columns `start..start + len`, if both ends fall on block boundaries.
    pub fn cols(&self, start: usize, len: usize) -> Option<QuantMatrix> {
        if start == 0 && len == self.cols {
            return Some(self.clone());
        }
        let kind = self.kind();
        let elems = kind.block_elems();
        if !start.is_multiple_of(elems) || !len.is_multiple_of(elems) {
            return None;
        }
        let (rb, from, n) = (
            self.row_bytes(),
            start / elems * kind.block_bytes(),
            len / elems * kind.block_bytes(),
        );
        let mut data = Vec::with_capacity(self.rows * n);
        for row in self.bytes().chunks_exact(rb.max(1)) {
            data.extend_from_slice(&row[from..from + n]);
        }
        Some(self.owned(self.rows, len, data))
    }

    /// The matrices' rows one after the other, if they share the block type and columns.
    pub fn cat_rows(parts: &[&QuantMatrix]) -> Option<QuantMatrix> {
        let first = parts.first()?;
        if parts
            .iter()
            .any(|p| p.ty != first.ty || p.cols != first.cols)
        {
            return None;
        }
        if let [only] = parts {
            return Some((*only).clone());
        }
        let data: Vec<u8> = parts
            .iter()
            .flat_map(|p| p.bytes().iter().copied())
            .collect();
        Some(first.owned(parts.iter().map(|p| p.rows).sum(), first.cols, data))
    }

    /// The values, `[rows, cols]` in f32.
    pub fn dequantize(&self) -> Result<Tensor, tch::TchError> {
        super::gguf::dequantize(self.ty, self.bytes())?.f_view([self.rows as i64, self.cols as i64])
    }
}

/// The Hugging Face name of a GGUF tensor, if the model uses it.
fn hf_name(gguf: &str) -> Option<String> {
    Some(match gguf {
        "token_embd.weight" => "model.embed_tokens.weight".into(),
        "output_norm.weight" => "model.norm.weight".into(),
        "output.weight" => "lm_head.weight".into(),
        _ => {
            let rest = gguf.strip_prefix("blk.")?;
            let (layer, rest) = rest.split_once('.')?;
            let layer: usize = layer.parse().ok()?;
            let (part, kind) = rest.rsplit_once('.')?;
            let module = match part {
                "attn_norm" => "input_layernorm",
                "ffn_norm" => "post_attention_layernorm",
                "attn_q" => "self_attn.q_proj",
                "attn_k" => "self_attn.k_proj",
                "attn_v" => "self_attn.v_proj",
                "attn_output" => "self_attn.o_proj",
                "ffn_gate" => "mlp.gate_proj",
                "ffn_up" => "mlp.up_proj",
                "ffn_down" => "mlp.down_proj",
                _ => return None,
            };
            format!("model.layers.{layer}.{module}.{kind}")
        }
    })
}

/// Undoes llama.cpp's q/k permutation: view `[rows, …]` as `[heads, rows/heads/2, 2, …]`,
/// swap axes 1 and 2, and flatten back.
pub fn unpermute(t: &Tensor, heads: i64) -> Result<Tensor, tch::TchError> {
    let size = t.size();
    let rows = size[0];
    let mut view = vec![heads, rows / heads / 2, 2];
    view.extend_from_slice(&size[1..]);
    t.f_reshape(&view)?.f_transpose(1, 2)?.f_reshape(&size)
}

fn from_gguf(g: &Gguf, kind: Kind, keep_blocks: bool) -> Result<Checkpoint, RunnerError> {
    let arch = g
        .opt_str("general.architecture")?
        .ok_or_else(|| RunnerError::format(&g.path, "metadata `general.architecture` is missing"))?
        .to_owned();
    if !matches!(arch.as_str(), "llama" | "qwen2" | "mistral") {
        return Err(RunnerError::config(
            &g.path,
            format!(
                "architecture `{arch}` is not supported (expected `llama`, `mistral` or `qwen2`)"
            ),
        ));
    }
    let key = |k: &str| format!("{arch}.{k}");
    let tokenizer = TextTokenizer::from_gguf(g)?;
    let heads = g.u64(&key("attention.head_count"))? as usize;
    let hidden = g.u64(&key("embedding_length"))? as usize;
    let head_dim = match g.opt_u64(&key("attention.key_length"))? {
        Some(d) => d as usize,
        None => hidden / heads.max(1),
    };
    let vocab = match g.opt_u64(&key("vocab_size"))? {
        Some(v) => v as usize,
        None => g.str_array("tokenizer.ggml.tokens")?.len(),
    };
    let config = LlamaConfig {
        model_type: arch.clone(),
        hidden_size: hidden,
        intermediate_size: g.u64(&key("feed_forward_length"))? as usize,
        num_hidden_layers: g.u64(&key("block_count"))? as usize,
        num_attention_heads: heads,
        num_key_value_heads: g
            .opt_u64(&key("attention.head_count_kv"))?
            .map(|v| v as usize),
        head_dim: Some(head_dim),
        rms_norm_eps: g
            .opt_f64(&key("attention.layer_norm_rms_epsilon"))?
            .unwrap_or(1e-5),
        rope_theta: g.opt_f64(&key("rope.freq_base"))?.unwrap_or(10_000.0),
        rope_scaling: None,
        vocab_size: vocab,
        tie_word_embeddings: g.tensor_info("output.weight").is_none(),
        max_position_embeddings: g.opt_u64(&key("context_length"))?.unwrap_or(2048) as usize,
        attention_bias: Some(g.tensor_info("blk.0.attn_q.bias").is_some()),
        torch_dtype: None,
        hidden_act: None,
        sliding_window: g
            .opt_u64(&key("attention.sliding_window"))?
            .map(|v| v as usize),
        use_sliding_window: None,
    };
    config
        .check()
        .map_err(|m| RunnerError::config(&g.path, m))?;
    let kv_heads = config.kv_heads() as i64;
    let permuted = arch != "qwen2";

    let mut tensors = HashMap::new();
    let mut rope_freq_factors = None;
    for info in &g.tensors {
        if info.name == "rope_freqs.weight" {
            rope_freq_factors = Some(g.load(info, Kind::Float)?);
            continue;
        }
        let Some(name) = hf_name(&info.name) else {
            continue;
        };
        let heads = if !permuted {
            None
        } else if name.ends_with("q_proj.weight") || name.ends_with("q_proj.bias") {
            Some(heads as i64)
        } else if name.ends_with("k_proj.weight") || name.ends_with("k_proj.bias") {
            Some(kv_heads)
        } else {
            None
        };
        let rows = info.shape().first().copied().unwrap_or(0);
        if let Some(n) = heads
            && rows % (2 * n) != 0
        {
            return Err(RunnerError::tensor(
                &g.path,
                &info.name,
                format!("{rows} rows cannot hold {n} heads of even size"),
            ));
        }
        let blocks = (keep_blocks && info.dims.len() == 2)
            .then(|| {
                let [cols, rows] = [info.dims[0] as usize, info.dims[1] as usize];
                let (data, range) = g.shared_bytes(info).ok()?;
                QuantMatrix::shared(info.ty, rows, cols, data.clone(), range)
            })
            .flatten();
        let param = match blocks {
            // Rows are independent, so the permutation moves whole rows of blocks.
            Some(q) => Param::Quant(match heads {
                Some(n) => {
                    let order =
                        unpermute(&Tensor::f_arange(rows, (Kind::Int64, tch::Device::Cpu))?, n)?;
                    let order: Vec<usize> = Vec::<i64>::try_from(&order)?
                        .into_iter()
                        .map(|r| r as usize)
                        .collect();
                    q.select_rows(&order)
                }
                None => q,
            }),
            None => {
                let t = g.load(info, kind)?;
                Param::Float(match heads {
                    Some(n) => unpermute(&t, n)?,
                    None => t,
                })
            }
        };
        tensors.insert(name, param);
    }
    let name = g
        .opt_str("general.name")?
        .map(str::to_owned)
        .unwrap_or_else(|| file_stem(&g.path));
    let template = g.opt_str("tokenizer.chat_template")?.map(str::to_owned);
    let mut ck = Checkpoint::new(&g.path, config, tensors, tokenizer, template, name);
    ck.rope_freq_factors = rope_freq_factors;
    Ok(ck)
}

pub(crate) fn file_stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "local".into())
}

/// `tokenizer_config.json`'s `chat_template`: a string, or a list of named templates of which
/// `default` is used.
pub(crate) fn hf_chat_template(dir: &Path) -> Result<Option<String>, RunnerError> {
    let Some(cfg) = read_json_opt(&dir.join("tokenizer_config.json"))? else {
        return Ok(None);
    };
    Ok(match &cfg["chat_template"] {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Array(items) => items
            .iter()
            .find(|i| i["name"] == "default")
            .and_then(|i| i["template"].as_str())
            .map(str::to_owned),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gguf_names_map_to_hugging_face_names() {
        assert_eq!(
            hf_name("blk.12.attn_q.weight").as_deref(),
            Some("model.layers.12.self_attn.q_proj.weight")
        );
        assert_eq!(
            hf_name("blk.0.ffn_down.weight").as_deref(),
            Some("model.layers.0.mlp.down_proj.weight")
        );
        assert_eq!(
            hf_name("token_embd.weight").as_deref(),
            Some("model.embed_tokens.weight")
        );
        assert_eq!(hf_name("blk.0.something_else.weight"), None);
    }
}
