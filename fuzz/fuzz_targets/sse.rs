//! The SSE parser under upstream streams: any input, cut into chunks at any points, gives
//! the same events as the whole input (when it is UTF-8), and never panics.
#![no_main]

use bytes::Bytes;
use futures::StreamExt;
use libfuzzer_sys::fuzz_target;
use llm_cooperation::providers::sse;

type Parsed = Vec<Result<(String, String, String, Option<u128>), String>>;

fn parse(body: &[u8], cuts: &[usize]) -> Parsed {
    let mut chunks = Vec::new();
    let mut last = 0;
    for &cut in cuts {
        chunks.push(Ok(Bytes::copy_from_slice(&body[last..cut])));
        last = cut;
    }
    chunks.push(Ok(Bytes::copy_from_slice(&body[last..])));
    let events = sse::events("fuzz".into(), futures::stream::iter(chunks).boxed());
    futures::executor::block_on(events.collect::<Vec<_>>())
        .into_iter()
        .map(|e| {
            e.map(|e| (e.event, e.data, e.id, e.retry.map(|r| r.as_millis())))
                .map_err(|e| e.to_string())
        })
        .collect()
}

fuzz_target!(|data: &[u8]| {
    // The first bytes place up to four cuts; the rest is the body.
    let (control, body) = data.split_at(data.len().min(4));
    let mut cuts: Vec<usize> = control
        .iter()
        .map(|&b| usize::from(b) * body.len() / 255)
        .collect();
    cuts.sort_unstable();
    let whole = parse(body, &[]);
    let split = parse(body, &cuts);
    if std::str::from_utf8(body).is_ok() {
        assert!(whole.iter().all(Result::is_ok), "{whole:?}");
        assert_eq!(whole, split, "cuts {cuts:?}");
    }
});
