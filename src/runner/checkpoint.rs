//! A loaded checkpoint: the model's config, its tensors under Hugging Face names, and its
//! tokenizer and chat template, read from either a GGUF file or a Hugging Face directory
//! (`config.json`, `*.safetensors`, `tokenizer.json`).
//!
//! GGUF tensor names are mapped to the Hugging Face ones (`blk.3.attn_q.weight` →
//! `model.layers.3.self_attn.q_proj.weight`), and for Llama-architecture files the q/k rows
//! that llama.cpp's converter permuted for its RoPE layout are put back.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use tch::{Kind, Tensor};

use super::error::RunnerError;
use super::gguf::Gguf;
use super::models::llama::LlamaConfig;
use super::tokenizer::{TextTokenizer, read_json_opt};

/// Everything needed to build a model and talk to it.
#[derive(Debug)]
pub struct Checkpoint {
    /// The file or directory it came from (named in errors).
    pub path: PathBuf,
    pub config: LlamaConfig,
    tensors: HashMap<String, Tensor>,
    /// GGUF `rope_freqs.weight`: Llama 3's per-frequency RoPE divisors.
    pub rope_freq_factors: Option<Tensor>,
    pub tokenizer: TextTokenizer,
    pub chat_template: Option<String>,
    /// A short name for responses (`general.name` or the directory name).
    pub name: String,
}

impl Checkpoint {
    /// Loads a `.gguf` file or a Hugging Face model directory; tensors are kept in `kind`.
    pub fn load(path: &Path, kind: Kind) -> Result<Self, RunnerError> {
        let meta = std::fs::metadata(path).map_err(|source| RunnerError::Io {
            path: path.to_owned(),
            source,
        })?;
        if meta.is_dir() {
            super::safetensors::load_hf_dir(path, kind)
        } else {
            from_gguf(&Gguf::open(path)?, kind)
        }
    }

    pub(crate) fn new(
        path: &Path,
        config: LlamaConfig,
        tensors: HashMap<String, Tensor>,
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
        self.tensors.get(name).map(Tensor::size)
    }

    /// The number of parameters (elements of every tensor the model uses).
    pub fn parameters(&self) -> usize {
        self.tensors.values().map(Tensor::numel).sum()
    }

    pub fn contains(&self, name: &str) -> bool {
        self.tensors.contains_key(name)
    }

    /// The tensor `name`, which must have exactly `shape`.
    pub fn get(&self, name: &str, shape: &[i64]) -> Result<&Tensor, RunnerError> {
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

fn from_gguf(g: &Gguf, kind: Kind) -> Result<Checkpoint, RunnerError> {
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
        let mut t = g.load(info, kind)?;
        if permuted {
            let heads = if name.ends_with("q_proj.weight") || name.ends_with("q_proj.bias") {
                Some(heads as i64)
            } else if name.ends_with("k_proj.weight") || name.ends_with("k_proj.bias") {
                Some(kv_heads)
            } else {
                None
            };
            if let Some(n) = heads {
                if t.size()[0] % (2 * n) != 0 {
                    return Err(RunnerError::tensor(
                        &g.path,
                        &info.name,
                        format!("{} rows cannot hold {n} heads of even size", t.size()[0]),
                    ));
                }
                t = unpermute(&t, n)?;
            }
        }
        tensors.insert(name, t);
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
