//! Tokenizers for local models, on the `tokenizers` crate: loaded from a Hugging Face
//! `tokenizer.json`, or rebuilt from a GGUF file's metadata (`tokenizer.ggml.*`).
//!
//! A GGUF `llama` tokenizer is SentencePiece BPE over `tokens` and `scores` (see
//! [`TextTokenizer::from_gguf`]). A GGUF `gpt2` tokenizer is byte-level BPE over `tokens` and
//! `merges`; the pre-tokenizer
//! depends on `tokenizer.ggml.pre` (llama.cpp's `llama-vocab.cpp` lists the regexes):
//! `smollm` splits digits one by one, then applies the GPT-2 byte-level regex without a
//! prefix space; `qwen2` and `llama-bpe` normalise (Qwen: NFC) and split with their own regex,
//! then map bytes without a second regex. Tokens whose `token_type` is 3 (control) or 4
//! (user-defined) are special: they match whole in the input and are skipped when decoding.

use std::collections::BTreeSet;
use std::path::Path;

use tokenizers::decoders::byte_fallback::ByteFallback;
use tokenizers::decoders::byte_level::ByteLevel as ByteLevelDecoder;
use tokenizers::decoders::fuse::Fuse;
use tokenizers::decoders::sequence::Sequence as DecoderSequence;
use tokenizers::decoders::strip::Strip;
use tokenizers::models::bpe::{BPE, Vocab};
use tokenizers::normalizers::unicode::NFC;
use tokenizers::normalizers::{Prepend, Replace, Sequence as NormalizerSequence};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::{
    AddedToken, DecoderWrapper, NormalizerWrapper, PreTokenizerWrapper, SplitDelimiterBehavior,
    Tokenizer,
};

use super::error::RunnerError;
use super::gguf::Gguf;

/// Qwen2's split regex (also used by llama.cpp for `qwen2`).
const QWEN2_PATTERN: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
/// Llama 3's split regex (`llama-bpe`): like Qwen2's but numbers in groups of up to three.
const LLAMA3_PATTERN: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// A tokenizer plus the special tokens generation needs.
#[derive(Debug, Clone)]
pub struct TextTokenizer {
    inner: Tokenizer,
    /// Prepended to raw-text prompts when the model expects it (chat templates write it).
    pub bos: Option<u32>,
    pub bos_text: Option<String>,
    pub eos_text: Option<String>,
    /// Token ids that end generation.
    pub stop_ids: BTreeSet<u32>,
    pub add_bos: bool,
}

/// A GGUF `gpt2` tokenizer: byte-level BPE over `tokens` and `merges`, with the pre-tokenizer
/// `tokenizer.ggml.pre` names.
fn byte_level_bpe(g: &Gguf, vocab: Vocab) -> Result<Tokenizer, RunnerError> {
    let merges = g.str_array("tokenizer.ggml.merges")?;
    let merges = merges
        .iter()
        .map(|m| {
            m.split_once(' ')
                .map(|(a, b)| (a.to_owned(), b.to_owned()))
                .ok_or_else(|| {
                    RunnerError::format(
                        &g.path,
                        format!("metadata `tokenizer.ggml.merges`: `{m}` is not a pair"),
                    )
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let bpe = BPE::builder()
        .vocab_and_merges(vocab, merges)
        .build()
        .map_err(tk_err)?;
    let mut inner = Tokenizer::new(bpe);

    let pre = g.opt_str("tokenizer.ggml.pre")?.unwrap_or("default");
    let byte_level = ByteLevel::new(false, false, true);
    match pre {
        "smollm" => {
            inner.with_pre_tokenizer(Some(Sequence::new(vec![
                PreTokenizerWrapper::Digits(Digits::new(true)),
                PreTokenizerWrapper::ByteLevel(byte_level),
            ])));
        }
        "default" | "gpt-2" | "gpt2" => {
            inner.with_pre_tokenizer(Some(byte_level));
        }
        "qwen2" | "llama-bpe" | "llama3" => {
            let pattern = if pre == "qwen2" {
                QWEN2_PATTERN
            } else {
                LLAMA3_PATTERN
            };
            let split = Split::new(
                SplitPattern::Regex(pattern.into()),
                SplitDelimiterBehavior::Isolated,
                false,
            )
            .map_err(tk_err)?;
            inner.with_pre_tokenizer(Some(Sequence::new(vec![
                PreTokenizerWrapper::Split(split),
                PreTokenizerWrapper::ByteLevel(ByteLevel::new(false, false, false)),
            ])));
            if pre == "qwen2" {
                inner.with_normalizer(Some(NFC));
            }
        }
        other => {
            return Err(RunnerError::config(
                &g.path,
                format!(
                    "pre-tokenizer `tokenizer.ggml.pre = {other}` is not supported (expected `smollm`, `qwen2`, `llama-bpe` or `gpt-2`)"
                ),
            ));
        }
    }
    inner.with_decoder(Some(ByteLevelDecoder::default()));

    Ok(inner)
}

/// A GGUF `llama` tokenizer (Llama 2, Mistral): SentencePiece BPE. SentencePiece merges the
/// adjacent pair whose joined piece has the highest score; as BPE, every piece that splits
/// into two vocabulary pieces is a merge ranked by its score (the conversion Hugging Face's
/// `LlamaConverter` makes). Unknown characters fall back to `<0xXX>` byte tokens; a `▁`
/// stands for each space, and one is prepended (`tokenizer.ggml.add_space_prefix`, default
/// on).
fn sentencepiece_bpe(
    g: &Gguf,
    tokens: &[&str],
    types: &[i64],
    vocab: Vocab,
) -> Result<Tokenizer, RunnerError> {
    const NORMAL: i64 = 1;
    const UNKNOWN: i64 = 2;
    let scores = g.opt_float_array("tokenizer.ggml.scores")?.ok_or_else(|| {
        RunnerError::format(
            &g.path,
            "a `llama` tokenizer needs `tokenizer.ggml.scores`, which is missing",
        )
    })?;
    if scores.len() != tokens.len() {
        return Err(RunnerError::format(
            &g.path,
            format!(
                "`tokenizer.ggml.scores` has {} entries for {} tokens",
                scores.len(),
                tokens.len()
            ),
        ));
    }
    let type_of = |i: usize| types.get(i).copied().unwrap_or(NORMAL);
    let mut merges: Vec<(f64, u32, u32, String, String)> = Vec::new();
    for (i, piece) in tokens.iter().enumerate() {
        if type_of(i) != NORMAL {
            continue;
        }
        for (at, _) in piece.char_indices().skip(1) {
            let (l, r) = piece.split_at(at);
            if let (Some(&a), Some(&b)) = (vocab.get(l), vocab.get(r)) {
                merges.push((scores[i], a, b, l.to_owned(), r.to_owned()));
            }
        }
    }
    merges.sort_by(|x, y| y.0.total_cmp(&x.0).then(x.1.cmp(&y.1)).then(x.2.cmp(&y.2)));
    let merges = merges.into_iter().map(|(_, _, _, l, r)| (l, r)).collect();
    let unk = (0..tokens.len())
        .find(|&i| type_of(i) == UNKNOWN)
        .map(|i| tokens[i].to_owned());
    let mut bpe = BPE::builder()
        .vocab_and_merges(vocab, merges)
        .byte_fallback(true)
        .fuse_unk(true);
    if let Some(unk) = unk {
        bpe = bpe.unk_token(unk);
    }
    let mut inner = Tokenizer::new(bpe.build().map_err(tk_err)?);
    let space_prefix = g
        .opt_bool("tokenizer.ggml.add_space_prefix")?
        .unwrap_or(true);
    let mut normalizers = Vec::new();
    if space_prefix {
        normalizers.push(NormalizerWrapper::Prepend(Prepend::new("▁".into())));
    }
    normalizers.push(NormalizerWrapper::Replace(
        Replace::new(" ", "▁").map_err(tk_err)?,
    ));
    inner.with_normalizer(Some(NormalizerSequence::new(normalizers)));
    inner.with_decoder(Some(DecoderSequence::new(vec![
        DecoderWrapper::Replace(Replace::new("▁", " ").map_err(tk_err)?),
        DecoderWrapper::ByteFallback(ByteFallback::default()),
        DecoderWrapper::Fuse(Fuse::default()),
        DecoderWrapper::Strip(Strip::new(' ', usize::from(space_prefix), 0)),
    ])));
    Ok(inner)
}

fn tk_err(e: impl std::fmt::Display) -> RunnerError {
    RunnerError::Tokenizer(e.to_string())
}

impl TextTokenizer {
    /// Rebuilds the tokenizer stored in a GGUF file's metadata.
    pub fn from_gguf(g: &Gguf) -> Result<Self, RunnerError> {
        let model = g.opt_str("tokenizer.ggml.model")?.unwrap_or("");
        let tokens = g.str_array("tokenizer.ggml.tokens")?;
        let types = g
            .opt_int_array("tokenizer.ggml.token_type")?
            .unwrap_or_default();
        let vocab: Vocab = tokens
            .iter()
            .enumerate()
            .map(|(i, t)| ((*t).to_owned(), i as u32))
            .collect();
        let mut inner = match model {
            "gpt2" => byte_level_bpe(g, vocab)?,
            "llama" => sentencepiece_bpe(g, &tokens, &types, vocab)?,
            other => {
                return Err(RunnerError::config(
                    &g.path,
                    format!(
                        "tokenizer model `{other}` is not supported (expected `gpt2`, byte-level BPE, or `llama`, SentencePiece BPE); use a Hugging Face directory with `tokenizer.json` instead"
                    ),
                ));
            }
        };

        let special: Vec<AddedToken> = tokens
            .iter()
            .zip(types.iter().copied().chain(std::iter::repeat(1)))
            .filter(|(_, ty)| *ty == 3 || *ty == 4)
            .map(|(t, _)| AddedToken::from((*t).to_owned(), true))
            .collect();
        inner.add_special_tokens(&special);

        let id = |key: &str| -> Result<Option<u32>, RunnerError> {
            let v = g.opt_u64(key)?;
            match v {
                Some(v) if (v as usize) < tokens.len() => Ok(Some(v as u32)),
                Some(v) => Err(RunnerError::format(
                    &g.path,
                    format!(
                        "metadata `{key}` is {v}, outside the vocabulary of {}",
                        tokens.len()
                    ),
                )),
                None => Ok(None),
            }
        };
        let bos = id("tokenizer.ggml.bos_token_id")?;
        let eos = id("tokenizer.ggml.eos_token_id")?;
        let eot = id("tokenizer.ggml.eot_token_id")?;
        let mut stop_ids: BTreeSet<u32> = eos.into_iter().chain(eot).collect();
        add_chat_end_tokens(&inner, &mut stop_ids);
        Ok(TextTokenizer {
            bos_text: bos.map(|b| tokens[b as usize].to_owned()),
            eos_text: eos.map(|e| tokens[e as usize].to_owned()),
            add_bos: g.opt_bool("tokenizer.ggml.add_bos_token")?.unwrap_or(false) && bos.is_some(),
            bos,
            stop_ids,
            inner,
        })
    }

    /// Loads `tokenizer.json` from a Hugging Face model directory, with the special tokens
    /// from `tokenizer_config.json` and `generation_config.json` when present.
    pub fn from_hf_dir(dir: &Path, eos_from_config: &[u32]) -> Result<Self, RunnerError> {
        let path = dir.join("tokenizer.json");
        let inner = Tokenizer::from_file(&path)
            .map_err(|e| RunnerError::Tokenizer(format!("`{}`: {e}", path.display())))?;
        let tok_cfg: serde_json::Value =
            read_json_opt(&dir.join("tokenizer_config.json"))?.unwrap_or(serde_json::Value::Null);
        let gen_cfg: serde_json::Value =
            read_json_opt(&dir.join("generation_config.json"))?.unwrap_or(serde_json::Value::Null);
        let token_text = |v: &serde_json::Value| -> Option<String> {
            match v {
                serde_json::Value::String(s) => Some(s.clone()),
                serde_json::Value::Object(o) => {
                    o.get("content").and_then(|c| c.as_str()).map(str::to_owned)
                }
                _ => None,
            }
        };
        let bos_text = token_text(&tok_cfg["bos_token"]);
        let eos_text = token_text(&tok_cfg["eos_token"]);
        let bos = bos_text.as_deref().and_then(|t| inner.token_to_id(t));
        let mut stop_ids: BTreeSet<u32> = eos_from_config.iter().copied().collect();
        stop_ids.extend(eos_text.as_deref().and_then(|t| inner.token_to_id(t)));
        stop_ids.extend(ids_of(&gen_cfg["eos_token_id"]));
        add_chat_end_tokens(&inner, &mut stop_ids);
        Ok(TextTokenizer {
            add_bos: tok_cfg["add_bos_token"].as_bool().unwrap_or(false) && bos.is_some(),
            bos,
            bos_text,
            eos_text,
            stop_ids,
            inner,
        })
    }

    /// Token ids of `text`; special-token text (`<|im_start|>`, …) becomes its single id.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, RunnerError> {
        let enc = self.inner.encode(text, false).map_err(tk_err)?;
        Ok(enc.get_ids().to_vec())
    }

    /// The text of `ids`, without special tokens.
    pub fn decode(&self, ids: &[u32]) -> Result<String, RunnerError> {
        self.inner.decode(ids, true).map_err(tk_err)
    }

    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    pub fn token_to_id(&self, token: &str) -> Option<u32> {
        self.inner.token_to_id(token)
    }

    /// The tokenizer as Hugging Face `tokenizer.json` text (e.g. to export a GGUF model).
    pub fn to_json(&self) -> Result<String, RunnerError> {
        self.inner.to_string(false).map_err(tk_err)
    }
}

/// Chat templates end a turn, and documents end, with one of these; whichever the vocabulary
/// has also ends generation (a file's `eos` is sometimes only one of them).
fn add_chat_end_tokens(tok: &Tokenizer, stop: &mut BTreeSet<u32>) {
    for t in [
        "<|im_end|>",
        "<|eot_id|>",
        "<|endoftext|>",
        "<|end_of_text|>",
        "<end_of_turn>",
    ] {
        if let Some(id) = tok.token_to_id(t) {
            stop.insert(id);
        }
    }
}

fn ids_of(v: &serde_json::Value) -> Vec<u32> {
    match v {
        serde_json::Value::Number(n) => n.as_u64().map(|n| n as u32).into_iter().collect(),
        serde_json::Value::Array(a) => a
            .iter()
            .filter_map(|n| n.as_u64().map(|n| n as u32))
            .collect(),
        _ => Vec::new(),
    }
}

/// A JSON file that may be absent (`Ok(None)`); present but unreadable is an error.
pub(crate) fn read_json_opt(path: &Path) -> Result<Option<serde_json::Value>, RunnerError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(RunnerError::Io {
                path: path.to_owned(),
                source,
            });
        }
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| RunnerError::format(path, format!("invalid JSON: {e}")))
}
