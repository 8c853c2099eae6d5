//! Server-sent events from a body stream, on top of the `eventsource-stream` parser (which
//! keeps UTF-8 characters and events whole across chunk boundaries).
//!
//! The parser re-reads its whole buffer on every chunk while a line is incomplete, so an
//! upstream that sends one endless line would cost quadratic CPU and unbounded memory. The
//! body is therefore handed over in whole lines only, and a line longer than
//! [`MAX_LINE_BYTES`] is a protocol error.

use bytes::{Bytes, BytesMut};
use eventsource_stream::{Event, EventStreamError, Eventsource};
use futures::StreamExt;
use futures::stream::BoxStream;

use super::ProviderError;

/// Longest SSE line accepted (a streamed chunk is one line of JSON, usually under a kilobyte).
pub const MAX_LINE_BYTES: usize = 8 * 1024 * 1024;

/// Parses `body` into SSE events; transport errors pass through, parse errors become
/// protocol errors for `provider`.
pub fn events(
    provider: String,
    body: BoxStream<'static, Result<Bytes, ProviderError>>,
) -> BoxStream<'static, Result<Event, ProviderError>> {
    whole_lines(provider.clone(), body)
        .eventsource()
        .map(move |item| {
            item.map_err(|e| match e {
                EventStreamError::Transport(e) => e,
                EventStreamError::Utf8(e) => ProviderError::Protocol {
                    provider: provider.clone(),
                    message: format!("the event stream is not UTF-8 ({e})"),
                },
                EventStreamError::Parser(e) => ProviderError::Protocol {
                    provider: provider.clone(),
                    message: format!("malformed event stream ({e:?})"),
                },
            })
        })
        .boxed()
}

/// Re-cuts `body` so that every chunk ends at a line break (`\n` or `\r`), keeping the
/// incomplete rest for the next chunk; the rest is passed on when the body ends.
fn whole_lines(
    provider: String,
    mut body: BoxStream<'static, Result<Bytes, ProviderError>>,
) -> BoxStream<'static, Result<Bytes, ProviderError>> {
    async_stream::stream! {
        let mut pending = BytesMut::new();
        while let Some(chunk) = body.next().await {
            let chunk = match chunk {
                Ok(chunk) => chunk,
                Err(e) => { yield Err(e); return; }
            };
            match chunk.iter().rposition(|&b| b == b'\n' || b == b'\r') {
                Some(end) => {
                    pending.extend_from_slice(&chunk[..=end]);
                    yield Ok(pending.split().freeze());
                    pending.extend_from_slice(&chunk[end + 1..]);
                }
                None => pending.extend_from_slice(&chunk),
            }
            if pending.len() > MAX_LINE_BYTES {
                yield Err(ProviderError::Protocol {
                    provider,
                    message: format!(
                        "an event stream line is longer than {} MiB",
                        MAX_LINE_BYTES / (1024 * 1024)
                    ),
                });
                return;
            }
        }
        if !pending.is_empty() {
            yield Ok(pending.freeze());
        }
    }
    .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn parse_split(input: &[u8], cuts: &[usize]) -> Vec<(String, String)> {
        let mut chunks = Vec::new();
        let mut last = 0;
        for &cut in cuts {
            chunks.push(Ok(Bytes::copy_from_slice(&input[last..cut])));
            last = cut;
        }
        chunks.push(Ok(Bytes::copy_from_slice(&input[last..])));
        let stream = futures::stream::iter(chunks).boxed();
        futures::executor::block_on(events("p".into(), stream).collect::<Vec<_>>())
            .into_iter()
            .map(|e| {
                let e = e.unwrap();
                (e.event, e.data)
            })
            .collect()
    }

    /// Any split of the input into chunks gives the same events, including splits inside a
    /// multi-byte character and between `\r` and `\n`.
    #[test]
    fn random_splits_give_the_same_events() {
        let input = "event: message_start\r\ndata: {\"a\":1}\r\n\r\n: comment\n\ndata: 你好，世界 🌍\ndata: second line\n\nevent: done\ndata: [DONE]\n\n".as_bytes();
        let whole = parse_split(input, &[]);
        assert_eq!(
            whole,
            vec![
                ("message_start".to_owned(), "{\"a\":1}".to_owned()),
                (
                    "message".to_owned(),
                    "你好，世界 🌍\nsecond line".to_owned()
                ),
                ("done".to_owned(), "[DONE]".to_owned()),
            ]
        );
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for _ in 0..500 {
            let n = rng.random_range(1..8);
            let mut cuts: Vec<usize> = (0..n).map(|_| rng.random_range(0..=input.len())).collect();
            cuts.sort_unstable();
            assert_eq!(parse_split(input, &cuts), whole, "cuts {cuts:?}");
        }
    }

    fn parse_chunks(chunks: Vec<Bytes>) -> Vec<Result<Event, ProviderError>> {
        let stream = futures::stream::iter(chunks.into_iter().map(Ok)).boxed();
        futures::executor::block_on(events("p".into(), stream).collect::<Vec<_>>())
    }

    /// A long line in small chunks used to cost the parser a rescan per chunk (quadratic:
    /// minutes of CPU for a few MiB); now each byte is looked at a bounded number of times.
    #[test]
    fn a_long_line_in_small_chunks_is_parsed_in_linear_time() {
        let data = "x".repeat(2 * 1024 * 1024);
        let input = format!("data: {data}\n\n");
        let chunks: Vec<Bytes> = input
            .as_bytes()
            .chunks(512)
            .map(Bytes::copy_from_slice)
            .collect();
        let started = std::time::Instant::now();
        let events = parse_chunks(chunks);
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].as_ref().unwrap().data, data);
    }

    /// An upstream that never ends its line is cut off at the limit, not buffered forever.
    #[test]
    fn an_endless_line_is_a_protocol_error() {
        let chunk = Bytes::from(vec![b'x'; 64 * 1024]);
        let mut chunks = vec![Bytes::from_static(b"data: {\"a\":1}\n\ndata: ")];
        chunks.extend(std::iter::repeat_n(chunk, MAX_LINE_BYTES / (64 * 1024) + 2));
        let events = parse_chunks(chunks);
        assert_eq!(events.len(), 2, "one good event, then the error");
        assert_eq!(events[0].as_ref().unwrap().data, "{\"a\":1}");
        let Err(ProviderError::Protocol { message, .. }) = &events[1] else {
            panic!("{:?}", events[1]);
        };
        assert!(message.contains("longer than 8 MiB"), "{message}");
    }

    /// The rest after the last line break is still handed to the parser at the end (which,
    /// as the spec says, drops an event without its blank line).
    #[test]
    fn a_body_ending_mid_event_gives_only_the_complete_events() {
        let events = parse_chunks(vec![Bytes::from_static(b"data: a\n\ndata: b")]);
        let data: Vec<_> = events.into_iter().map(|e| e.unwrap().data).collect();
        assert_eq!(data, ["a"]);
    }
}
