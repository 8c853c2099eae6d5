//! Server-sent events from a body stream, on top of the `eventsource-stream` parser (which
//! keeps UTF-8 characters and events whole across chunk boundaries).

use bytes::Bytes;
use eventsource_stream::{Event, EventStreamError, Eventsource};
use futures::StreamExt;
use futures::stream::BoxStream;

use super::ProviderError;

/// Parses `body` into SSE events; transport errors pass through, parse errors become
/// protocol errors for `provider`.
pub fn events(
    provider: String,
    body: BoxStream<'static, Result<Bytes, ProviderError>>,
) -> BoxStream<'static, Result<Event, ProviderError>> {
    body.eventsource()
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
}
