//! OpenAI's embeddings API (`POST /v1/embeddings`), both sides: the client's request decoded
//! into an [`EmbedRequest`] (validated), the upstream request encoded (always as floats: the
//! gateway encodes base64 itself when the client asks for it, so every upstream serves both),
//! the upstream's answer decoded, and the client's answer encoded.

use base64::Engine;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::DecodeError;
use crate::types::{EmbedInput, EmbedRequest, EmbedResponse, Usage};

/// Most inputs in one request (OpenAI's limit).
pub const MAX_INPUTS: usize = 2048;

#[derive(Debug, Deserialize)]
struct WireRequest {
    model: String,
    input: Value,
    #[serde(default)]
    encoding_format: Option<String>,
    #[serde(default)]
    dimensions: Option<u32>,
    #[serde(default)]
    user: Option<String>,
    #[serde(flatten)]
    extra: Map<String, Value>,
}

/// A client's request, and whether it wants base64 vectors.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedEmbeddings {
    pub request: EmbedRequest,
    pub base64: bool,
}

fn refuse(field: &str, why: &str) -> DecodeError {
    DecodeError::new(format!("`{field}` {why}"))
}

fn token(v: &Value, at: &str) -> Result<u32, DecodeError> {
    v.as_u64()
        .and_then(|t| u32::try_from(t).ok())
        .ok_or_else(|| refuse(at, &format!("is `{v}`; a token id is a whole number ≥ 0")))
}

/// Decodes and checks a `POST /v1/embeddings` body.
pub fn decode_request(body: &[u8]) -> Result<DecodedEmbeddings, DecodeError> {
    let w: WireRequest = serde_json::from_slice(body).map_err(|e| {
        DecodeError::new(format!(
            "The body is not an embeddings request ({e}); send `{{\"model\": …, \"input\": \"text\" or [\"text\", …]}}`"
        ))
    })?;
    if let Some((key, _)) = w.extra.iter().find(|(_, v)| !v.is_null()) {
        return Err(refuse(
            key,
            "is not an embeddings field the gateway can carry; remove it",
        ));
    }
    let input = match &w.input {
        Value::String(s) => EmbedInput::Texts(vec![s.clone()]),
        Value::Array(items) if items.is_empty() => {
            return Err(refuse("input", "is empty; send at least one text"));
        }
        Value::Array(items) => match &items[0] {
            Value::String(_) => EmbedInput::Texts(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| {
                        v.as_str().map(str::to_owned).ok_or_else(|| {
                            refuse(
                                &format!("input[{i}]"),
                                "is not a string; a list of texts holds only strings",
                            )
                        })
                    })
                    .collect::<Result<_, _>>()?,
            ),
            Value::Number(_) => EmbedInput::Tokens(vec![
                items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| token(v, &format!("input[{i}]")))
                    .collect::<Result<_, _>>()?,
            ]),
            Value::Array(_) => EmbedInput::Tokens(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, row)| {
                        let row = row.as_array().ok_or_else(|| {
                            refuse(&format!("input[{i}]"), "is not a list of token ids")
                        })?;
                        if row.is_empty() {
                            return Err(refuse(&format!("input[{i}]"), "is empty"));
                        }
                        row.iter()
                            .enumerate()
                            .map(|(j, v)| token(v, &format!("input[{i}][{j}]")))
                            .collect()
                    })
                    .collect::<Result<_, _>>()?,
            ),
            other => {
                return Err(refuse(
                    "input[0]",
                    &format!("is `{other}`; send texts, or token ids"),
                ));
            }
        },
        other => {
            return Err(refuse(
                "input",
                &format!("is `{other}`; send a string, a list of strings, or token ids"),
            ));
        }
    };
    if input.len() > MAX_INPUTS {
        return Err(refuse(
            "input",
            &format!(
                "has {} items; send at most {MAX_INPUTS} per request",
                input.len()
            ),
        ));
    }
    if let EmbedInput::Texts(texts) = &input
        && let Some(i) = texts.iter().position(String::is_empty)
    {
        return Err(refuse(
            &format!("input[{i}]"),
            "is an empty string, which has no embedding",
        ));
    }
    let base64 = match w.encoding_format.as_deref() {
        None | Some("float") => false,
        Some("base64") => true,
        Some(other) => {
            return Err(refuse(
                "encoding_format",
                &format!("is `{other}`; use `float` or `base64`"),
            ));
        }
    };
    if w.dimensions == Some(0) {
        return Err(refuse("dimensions", "must be at least 1"));
    }
    Ok(DecodedEmbeddings {
        request: EmbedRequest {
            model: w.model,
            input,
            dimensions: w.dimensions,
            user: w.user,
        },
        base64,
    })
}

/// The body for an OpenAI-compatible upstream (`req.model` is the upstream id).
pub fn encode_request(req: &EmbedRequest) -> Vec<u8> {
    let mut body = json!({ "model": req.model, "input": req.input, "encoding_format": "float" });
    if let Some(d) = req.dimensions {
        body["dimensions"] = json!(d);
    }
    if let Some(u) = &req.user {
        body["user"] = json!(u);
    }
    body.to_string().into_bytes()
}

#[derive(Debug, Deserialize)]
struct WireResponse {
    data: Vec<WireEmbedding>,
    #[serde(default)]
    usage: Option<WireUsage>,
}

#[derive(Debug, Deserialize)]
struct WireEmbedding {
    #[serde(default)]
    index: Option<usize>,
    embedding: Value,
}

#[derive(Debug, Deserialize)]
struct WireUsage {
    #[serde(default)]
    prompt_tokens: u32,
}

/// A vector given as floats or as base64 little-endian f32s.
fn vector(v: &Value) -> Result<Vec<f32>, String> {
    match v {
        Value::Array(xs) => xs
            .iter()
            .map(|x| {
                x.as_f64()
                    .map(|f| f as f32)
                    .ok_or_else(|| format!("a vector holds `{x}`, not a number"))
            })
            .collect(),
        Value::String(b64) => {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map_err(|e| format!("a base64 vector does not decode ({e})"))?;
            if bytes.len() % 4 != 0 {
                return Err("a base64 vector is not whole f32s".into());
            }
            Ok(bytes
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect())
        }
        other => Err(format!("an embedding is `{other}`, not a vector")),
    }
}

/// The upstream's answer; `expected` vectors, in input order.
pub fn decode_response(body: &[u8], expected: usize) -> Result<EmbedResponse, String> {
    let w: WireResponse = serde_json::from_slice(body)
        .map_err(|e| format!("the embeddings answer is not the expected JSON ({e})"))?;
    if w.data.len() != expected {
        return Err(format!(
            "the upstream returned {} vectors for {expected} inputs",
            w.data.len()
        ));
    }
    let mut vectors: Vec<Option<Vec<f32>>> = vec![None; expected];
    for (pos, item) in w.data.iter().enumerate() {
        let i = item.index.unwrap_or(pos);
        let slot = vectors
            .get_mut(i)
            .ok_or_else(|| format!("the upstream returned a vector for input {i}"))?;
        *slot = Some(vector(&item.embedding)?);
    }
    let vectors = vectors
        .into_iter()
        .enumerate()
        .map(|(i, v)| v.ok_or_else(|| format!("the upstream returned no vector for input {i}")))
        .collect::<Result<_, _>>()?;
    Ok(EmbedResponse {
        vectors,
        model: String::new(),
        provider: String::new(),
        usage: Usage {
            input_tokens: w.usage.map_or(0, |u| u.prompt_tokens),
            ..Usage::default()
        },
        latency: std::time::Duration::ZERO,
    })
}

/// The client's answer, in OpenAI's shape.
pub fn encode_response(resp: &EmbedResponse, base64: bool) -> Value {
    let data: Vec<Value> = resp
        .vectors
        .iter()
        .enumerate()
        .map(|(index, v)| {
            let embedding = if base64 {
                let bytes: Vec<u8> = v.iter().flat_map(|f| f.to_le_bytes()).collect();
                Value::String(base64::engine::general_purpose::STANDARD.encode(bytes))
            } else {
                json!(v)
            };
            json!({ "object": "embedding", "index": index, "embedding": embedding })
        })
        .collect();
    json!({
        "object": "list",
        "data": data,
        "model": resp.model,
        "usage": { "prompt_tokens": resp.usage.input_tokens, "total_tokens": resp.usage.input_tokens },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_of_every_shape() {
        let d = |v: Value| decode_request(v.to_string().as_bytes());
        assert_eq!(
            d(json!({ "model": "e", "input": "hi" }))
                .unwrap()
                .request
                .input,
            EmbedInput::Texts(vec!["hi".into()])
        );
        assert_eq!(
            d(json!({ "model": "e", "input": [1, 2, 3] }))
                .unwrap()
                .request
                .input,
            EmbedInput::Tokens(vec![vec![1, 2, 3]])
        );
        assert_eq!(
            d(json!({ "model": "e", "input": [[1], [2, 3]] }))
                .unwrap()
                .request
                .input
                .len(),
            2
        );
        for (body, field) in [
            (json!({ "model": "e", "input": [] }), "`input`"),
            (json!({ "model": "e", "input": ["a", 1] }), "`input[1]`"),
            (json!({ "model": "e", "input": [-1] }), "`input[0]`"),
            (json!({ "model": "e", "input": [""] }), "`input[0]`"),
            (
                json!({ "model": "e", "input": "a", "encoding_format": "hex" }),
                "`encoding_format`",
            ),
            (json!({ "model": "e", "input": "a", "extra": 1 }), "`extra`"),
        ] {
            let e = d(body.clone()).unwrap_err();
            assert!(e.0.contains(field), "{body}: {e}");
        }
    }

    #[test]
    fn base64_round_trips_the_floats() {
        let resp = EmbedResponse {
            vectors: vec![vec![0.5, -1.25, 3.0]],
            model: "e".into(),
            provider: "p".into(),
            usage: Usage::default(),
            latency: std::time::Duration::ZERO,
        };
        let body = encode_response(&resp, true);
        let again = vector(&body["data"][0]["embedding"]).unwrap();
        assert_eq!(again, vec![0.5, -1.25, 3.0]);
    }
}
