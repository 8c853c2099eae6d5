//! A request forwarded as the client wrote it, to an upstream of the client's own protocol.
//!
//! Decoding a request into the canonical types and encoding it again costs more than
//! everything else the gateway does: for a Claude-Code-sized request (a 40 KB system prompt,
//! 15 tool schemas, a history of tool results) about 3 M instructions, against 0.2 M for a
//! small one. When the target speaks the client's protocol and nothing in the request needs
//! the gateway's understanding (see [`Verbatim::parse`] and `Deployment::takes_verbatim`),
//! the body goes out as it came: its top-level members are located in one pass, each copied
//! byte for byte, with `model` replaced by the upstream id and only the members the
//! deployment adds (its default `max_tokens` or `temperature`, OpenAI's usage chunk) added.
//! Nothing is re-escaped, re-ordered or re-formatted: a `0.7` stays `0.7`.

use std::fmt::Write as _;
use std::ops::Range;

use bytes::Bytes;

use super::Protocol;

/// Top-level fields only the gateway reads (sessions and the response cache). A request that
/// carries one takes the decoding path, which serves them and removes them.
const GATEWAY_FIELDS: [&str; 2] = ["session_id", "cache"];

/// A request body located member by member, ready to be forwarded.
#[derive(Debug, Clone)]
pub struct Verbatim {
    pub protocol: Protocol,
    body: Bytes,
    /// Top-level members: the key (unescaped) and the byte range of its value in `body`.
    members: Vec<(String, Range<usize>)>,
    /// The model the client named.
    pub model: String,
    pub stream: bool,
    /// Protocol headers to forward as they came (`anthropic-beta`), names lowercased.
    pub headers: Vec<(String, String)>,
}

/// What a deployment adds to a verbatim body beside the upstream model id.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Additions {
    /// The model's configured `max_tokens`, for a request without one.
    pub max_tokens: Option<u32>,
    /// The model's configured `temperature`, for a request without one.
    pub temperature: Option<f32>,
}

impl Verbatim {
    /// Locates the members of `body`, a request in `protocol`; `None` when the request must
    /// be decoded instead: not a JSON object, a key named twice, `model` not a string,
    /// `stream` not a boolean, a gateway field, or (OpenAI) `stream_options` the gateway would
    /// have to change. The decoding path then serves it, or says what is wrong with it.
    pub fn parse(protocol: Protocol, body: Bytes) -> Option<Verbatim> {
        let members = locate(&body)?;
        let mut model = None;
        let mut stream = false;
        for (i, (key, range)) in members.iter().enumerate() {
            if members[..i].iter().any(|(k, _)| k == key) || GATEWAY_FIELDS.contains(&&**key) {
                return None;
            }
            let value = &body[range.clone()];
            match key.as_str() {
                "model" => model = Some(serde_json::from_slice::<String>(value).ok()?),
                "stream" => stream = serde_json::from_slice::<bool>(value).ok()?,
                // The commonest mistakes, cheap to see: left to the decoder's message.
                "messages" if !value.starts_with(b"[") || is_empty_array(value) => return None,
                // The gateway asks OpenAI upstreams for usage; options it would have to merge
                // that into are left to the decoder.
                "stream_options" if protocol == Protocol::OpenAiChat => return None,
                _ => {}
            }
        }
        if !members.iter().any(|(k, _)| k == "messages") {
            return None;
        }
        Some(Verbatim {
            protocol,
            members,
            model: model?,
            stream,
            headers: Vec::new(),
            body,
        })
    }

    /// The raw JSON text of a top-level member.
    pub fn get(&self, key: &str) -> Option<&[u8]> {
        self.members
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, range)| &self.body[range.clone()])
    }

    pub fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// The whole body as the client sent it.
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// The body for an upstream: every member as it came, in its order, with `model` set to
    /// `upstream`, then what `add` supplies for members the request lacks, and (OpenAI,
    /// streamed) the usage chunk the gateway accounts tokens with.
    pub fn body_for(&self, upstream: &str, add: &Additions) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.body.len() + upstream.len() + 64);
        out.push(b'{');
        let mut first = true;
        let mut member = |out: &mut Vec<u8>, key: &str, value: &[u8]| {
            if !std::mem::take(&mut first) {
                out.push(b',');
            }
            // Keys go out re-quoted: escaping a plain key is the identity.
            serde_json::to_writer(&mut *out, key).expect("a string serialises");
            out.push(b':');
            out.extend_from_slice(value);
        };
        let model = serde_json::to_vec(upstream).expect("a string serialises");
        for (key, range) in &self.members {
            let value = if key == "model" {
                &model[..]
            } else {
                &self.body[range.clone()]
            };
            member(&mut out, key, value);
        }
        let lacks_max = match self.protocol {
            Protocol::OpenAiChat => !self.has("max_tokens") && !self.has("max_completion_tokens"),
            Protocol::AnthropicMessages => !self.has("max_tokens"),
        };
        if let Some(max) = add.max_tokens.filter(|_| lacks_max) {
            member(&mut out, "max_tokens", max.to_string().as_bytes());
        }
        if let Some(t) = add.temperature.filter(|_| !self.has("temperature")) {
            // Through its shortest decimal text, so a configured `0.7` goes out as `0.7`.
            let mut text = String::new();
            let _ = write!(text, "{t}");
            member(&mut out, "temperature", text.as_bytes());
        }
        if self.stream && self.protocol == Protocol::OpenAiChat {
            member(&mut out, "stream_options", br#"{"include_usage":true}"#);
        }
        out.push(b'}');
        out
    }
}

/// `[]`, with any whitespace inside.
fn is_empty_array(value: &[u8]) -> bool {
    value[1..].iter().find(|b| !b.is_ascii_whitespace()) == Some(&b']')
}

/// The top-level members of a JSON object: keys unescaped, values as byte ranges of `body`.
///
/// One structural pass: strings are skipped with `memchr` (most of an agent request is the
/// text of its prompts and tool results), brackets are matched with a stack (so nesting
/// depth costs no recursion), and nothing is built. Only the structure is checked: a value
/// that is not valid JSON inside (a bad number, a raw control character, bad UTF-8) goes to
/// the upstream, which refuses it — and the client then gets the decoder's message for it.
fn locate(body: &[u8]) -> Option<Vec<(String, Range<usize>)>> {
    let mut s = Scan { b: body, i: 0 };
    s.space();
    s.eat(b'{')?;
    s.space();
    let mut members = Vec::with_capacity(16);
    if s.peek()? == b'}' {
        s.i += 1;
    } else {
        loop {
            let key_start = s.i;
            s.string()?;
            let key = key_text(&body[key_start..s.i])?;
            s.space();
            s.eat(b':')?;
            s.space();
            let value_start = s.i;
            s.value()?;
            members.push((key, value_start..s.i));
            s.space();
            match s.next()? {
                b',' => s.space(),
                b'}' => break,
                _ => return None,
            }
        }
    }
    s.space();
    (s.i == body.len()).then_some(members)
}

/// A key's text: its bytes between the quotes when it has no escape, else JSON-decoded.
fn key_text(quoted: &[u8]) -> Option<String> {
    let inner = &quoted[1..quoted.len() - 1];
    if inner.contains(&b'\\') {
        return serde_json::from_slice(quoted).ok();
    }
    std::str::from_utf8(inner).ok().map(str::to_owned)
}

/// A cursor over a JSON text.
struct Scan<'a> {
    b: &'a [u8],
    i: usize,
}

impl Scan<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let c = self.peek()?;
        self.i += 1;
        Some(c)
    }

    fn eat(&mut self, c: u8) -> Option<()> {
        (self.next()? == c).then_some(())
    }

    fn space(&mut self) {
        while self
            .peek()
            .is_some_and(|c| matches!(c, b' ' | b'\t' | b'\n' | b'\r'))
        {
            self.i += 1;
        }
    }

    /// A string, from its opening quote to past its closing one.
    fn string(&mut self) -> Option<()> {
        self.eat(b'"')?;
        // Most strings of a request are short (keys, roles, types, names): a plain look at
        // their first bytes costs less than setting up a vector search.
        let near = &self.b[self.i..self.b.len().min(self.i + 16)];
        if let Some(at) = near.iter().position(|&c| c == b'"' || c == b'\\')
            && near[at] == b'"'
        {
            self.i += at + 1;
            return Some(());
        }
        loop {
            let at = memchr::memchr2(b'"', b'\\', &self.b[self.i..])?;
            self.i += at + 1;
            if self.b[self.i - 1] == b'"' {
                return Some(());
            }
            // An escape: the next byte is escaped, whatever it is.
            self.next()?;
        }
    }

    /// One value: a string, an object or array (to its matching bracket), or a scalar (to
    /// the next delimiter).
    fn value(&mut self) -> Option<()> {
        match self.peek()? {
            b'"' => self.string(),
            b'{' | b'[' => {
                let mut open = Vec::with_capacity(8);
                loop {
                    match self.next()? {
                        c @ (b'{' | b'[') => open.push(c),
                        b'}' => (open.pop()? == b'{').then_some(())?,
                        b']' => (open.pop()? == b'[').then_some(())?,
                        b'"' => {
                            self.i -= 1;
                            self.string()?;
                        }
                        _ => {}
                    }
                    if open.is_empty() {
                        return Some(());
                    }
                }
            }
            _ => {
                let start = self.i;
                while self.peek().is_some_and(|c| {
                    !matches!(c, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r')
                }) {
                    self.i += 1;
                }
                (self.i > start).then_some(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn parse(body: &str) -> Option<Verbatim> {
        Verbatim::parse(Protocol::OpenAiChat, Bytes::from(body.to_owned()))
    }

    #[test]
    fn members_go_out_byte_for_byte_with_the_model_replaced() {
        let body = r#"{ "model" : "alias", "temperature": 0.70, "messages": [{"role":"user","content":"caf\u00e9 \"q\""}], "x_unknown": {"a": [1, 2.50]} }"#;
        let v = parse(body).expect("forwardable");
        assert_eq!(v.model, "alias");
        let out = String::from_utf8(v.body_for("up-1", &Additions::default())).unwrap();
        assert_eq!(
            out,
            r#"{"model":"up-1","temperature":0.70,"messages":[{"role":"user","content":"caf\u00e9 \"q\""}],"x_unknown":{"a": [1, 2.50]}}"#
        );
    }

    #[test]
    fn additions_only_fill_what_the_request_lacks() {
        let add = Additions {
            max_tokens: Some(64),
            temperature: Some(0.7),
        };
        let v = parse(r#"{"model":"m","messages":[{}],"stream":true}"#).unwrap();
        let out: Value = serde_json::from_slice(&v.body_for("u", &add)).unwrap();
        assert_eq!(
            out,
            json!({"model": "u", "messages": [{}], "stream": true, "max_tokens": 64,
                   "temperature": 0.7, "stream_options": {"include_usage": true}})
        );
        let v = parse(r#"{"model":"m","messages":[{}],"max_completion_tokens":9,"temperature":1}"#)
            .unwrap();
        let out: Value = serde_json::from_slice(&v.body_for("u", &add)).unwrap();
        assert_eq!(
            out,
            json!({"model": "u", "messages": [{}], "max_completion_tokens": 9, "temperature": 1})
        );
        let v = Verbatim::parse(
            Protocol::AnthropicMessages,
            Bytes::from_static(br#"{"model":"m","messages":[{}],"stream":true}"#),
        )
        .unwrap();
        let out: Value = serde_json::from_slice(&v.body_for("u", &Additions::default())).unwrap();
        assert_eq!(out, json!({"model": "u", "messages": [{}], "stream": true}));
    }

    #[test]
    fn what_needs_the_decoder_is_not_forwarded_verbatim() {
        for body in [
            "[]",
            "{",
            r#"{"model":"m","messages":[{}]} trailing"#,
            r#"{"model":"m","messages":[{}],}"#,
            r#"{"model":"m","messages":[{}]"#,
            r#"{"model":"m","messages":[{"a":"x}]}"#,
            r#"{"model":"m","messages":[{"a":[}]}"#,
            r#"{"model":"m","messages":[{}] "x":1}"#,
            r#"{"messages":[]}"#,
            r#"{"model":7,"messages":[]}"#,
            r#"{"model":"m","messages":[{}],"stream":"yes"}"#,
            r#"{"model":"m","messages":[{}],"model":"n"}"#,
            r#"{"model":"m","messages":[{}],"session_id":"s"}"#,
            r#"{"model":"m","messages":[{}],"cache":true}"#,
            r#"{"model":"m","messages":[],"stream":true,"stream_options":{"include_usage":false}}"#,
            r#"{"model":"m"}"#,
            r#"{"model":"m","messages":[ ]}"#,
            r#"{"model":"m","messages":"hi"}"#,
        ] {
            assert!(parse(body).is_none(), "{body}");
        }
        // Inside values only the structure is checked: the upstream judges the rest (and the
        // client gets the decoder's message when it refuses).
        let bad_utf8 = [
            &br#"{"model":"m","messages":[{"c":"caf"#[..],
            b"\xe9\xff\"}]}",
        ]
        .concat();
        assert!(Verbatim::parse(Protocol::OpenAiChat, Bytes::from(bad_utf8)).is_some());
        assert!(parse(r#"{"model":"m","messages":[{"a":01}]}"#).is_some());
        // But a key must be text.
        let bad_key = [&br#"{"model":"m","messages":[{}],""#[..], b"\xff\":1}"].concat();
        assert!(Verbatim::parse(Protocol::OpenAiChat, Bytes::from(bad_key)).is_none());
        // Deep nesting is skipped without recursion: valid JSON, located, not a crash.
        let deep = "[".repeat(100_000) + &"]".repeat(100_000);
        let v = parse(&format!(r#"{{"model":"m","x":{deep},"messages":[{{}}]}}"#)).unwrap();
        assert_eq!(v.get("x").map(<[u8]>::len), Some(200_000));
        // An escaped key is the same key.
        assert!(parse(r#"{"model":"m","messages":[{}],"mod\u0065l":"n"}"#).is_none());
        assert!(parse(r#"{"model":"m","messages":[{}]}"#).is_some());
    }
}
