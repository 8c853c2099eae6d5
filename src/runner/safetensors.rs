//! Hugging Face model directories: `config.json`, one or more `*.safetensors` files (F32,
//! F16 or BF16 tensors), `tokenizer.json`, and optionally `tokenizer_config.json` (special
//! tokens, chat template) and `generation_config.json` (end-of-sequence ids).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use safetensors::{Dtype, SafeTensors};
use tch::{Kind, Tensor};

use super::checkpoint::{Checkpoint, Param, file_stem, hf_chat_template};
use super::error::RunnerError;
use super::models::llama::LlamaConfig;
use super::tokenizer::{TextTokenizer, read_json_opt};

pub(crate) fn load_hf_dir(dir: &Path, kind: Kind) -> Result<Checkpoint, RunnerError> {
    let config_path = dir.join("config.json");
    let config_json = read_json_opt(&config_path)?.ok_or_else(|| {
        RunnerError::config(
            dir,
            "no `config.json`: a model directory needs `config.json`, `*.safetensors` and `tokenizer.json`",
        )
    })?;
    let config: LlamaConfig = serde_json::from_value(config_json.clone())
        .map_err(|e| RunnerError::config(&config_path, e.to_string()))?;
    config
        .check()
        .map_err(|m| RunnerError::config(&config_path, m))?;

    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|source| RunnerError::Io {
            path: dir.to_owned(),
            source,
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "safetensors"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(RunnerError::config(dir, "no `*.safetensors` files"));
    }
    let mut tensors = HashMap::new();
    for file in &files {
        read_safetensors(file, kind, &mut tensors)?;
    }

    let eos: Vec<u32> = match &config_json["eos_token_id"] {
        serde_json::Value::Number(n) => n.as_u64().map(|n| n as u32).into_iter().collect(),
        serde_json::Value::Array(a) => a
            .iter()
            .filter_map(|n| n.as_u64())
            .map(|n| n as u32)
            .collect(),
        _ => Vec::new(),
    };
    let tokenizer = TextTokenizer::from_hf_dir(dir, &eos)?;
    let template = hf_chat_template(dir)?;
    Ok(Checkpoint::new(
        dir,
        config,
        tensors
            .into_iter()
            .map(|(name, t)| (name, Param::Float(t)))
            .collect(),
        tokenizer,
        template,
        file_stem(dir),
    ))
}

/// Reads every tensor of one safetensors file into `out`, converted to `kind`.
fn read_safetensors(
    path: &Path,
    kind: Kind,
    out: &mut HashMap<String, Tensor>,
) -> Result<(), RunnerError> {
    let bytes = std::fs::read(path).map_err(|source| RunnerError::Io {
        path: path.to_owned(),
        source,
    })?;
    let st = SafeTensors::deserialize(&bytes).map_err(|e| {
        RunnerError::format(
            path,
            format!("not a valid safetensors file (truncated or corrupt header): {e}"),
        )
    })?;
    for (name, view) in st.tensors() {
        let source = match view.dtype() {
            Dtype::F32 => Kind::Float,
            Dtype::F16 => Kind::Half,
            Dtype::BF16 => Kind::BFloat16,
            other => {
                return Err(RunnerError::tensor(
                    path,
                    name,
                    format!("dtype {other:?} is not supported (expected F32, F16 or BF16)"),
                ));
            }
        };
        let shape: Vec<i64> = view.shape().iter().map(|&d| d as i64).collect();
        let t = Tensor::f_from_data_size(view.data(), &shape, source)?.f_to_kind(kind)?;
        out.insert(name, t);
    }
    Ok(())
}
