//! The engine: one OS thread per tensor-parallel rank, never a tokio worker. Rank 0 (the
//! leader) owns the scheduler; the other ranks replay the leader's operations on their shards
//! and meet it in the collectives.
//!
//! Continuous batching: the running sequences sit in cache slots `0..n`, and one decode step
//! feeds each its last token in a single forward pass. Between steps the leader admits
//! waiting requests (prefilling each into the next free slot), and drops finished or
//! cancelled ones, moving the last sequence into the freed slot so the batch stays one
//! contiguous range. Requests wait in a bounded channel; when it is full, `submit` fails at
//! once with [`RunnerError::Overloaded`] instead of queueing without bound.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};

use tch::Tensor;
use tokio::sync::mpsc::UnboundedSender;

use super::error::RunnerError;
use super::models::llama::{Batch, Llama};
use super::parallel::Comm;
use super::sampling::{Sampler, SamplingParams};
use super::tokenizer::TextTokenizer;
use crate::types::{FinishReason, StreamEvent, Usage};

/// One accepted request, as the leader receives it.
pub(crate) struct Job {
    pub prompt: Vec<u32>,
    pub max_tokens: usize,
    pub sampling: SamplingParams,
    pub stop: Vec<String>,
    pub events: UnboundedSender<Result<StreamEvent, RunnerError>>,
    pub cancel: Arc<AtomicBool>,
}

impl Job {
    fn cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed) || self.events.is_closed()
    }
}

/// What every rank does, in the same order.
#[derive(Clone)]
enum RankOp {
    Forward(Arc<Batch>),
    MoveSlot {
        from: usize,
        to: usize,
        len: usize,
    },
    /// Nothing runs: drop the KV cache and hand freed memory back to the system.
    Release,
}

/// One rank: its model shard and its end of the collectives.
pub(crate) struct Rank {
    pub model: Llama,
    pub comm: Box<dyn Comm>,
    /// Intra-op threads for this rank's libtorch calls.
    pub torch_threads: usize,
    /// Threads (this rank's own included) that share its packed f32 products.
    pub product_threads: usize,
}

impl Rank {
    /// Sets up the calling (rank) thread's libtorch threads and product helpers.
    fn start_threads(&self) {
        tch::set_num_threads(self.torch_threads as i32);
        #[cfg(target_arch = "x86_64")]
        llm_cooperation_kernels::set_threads(self.product_threads);
    }

    fn run(&mut self, op: &RankOp) -> Result<Option<Tensor>, RunnerError> {
        match op {
            RankOp::Forward(batch) => self.model.forward(batch, self.comm.as_mut()).map(Some),
            RankOp::MoveSlot { from, to, len } => {
                self.model.move_slot(*from, *to, *len)?;
                Ok(None)
            }
            RankOp::Release => {
                self.model.release_cache()?;
                return_free_memory();
                Ok(None)
            }
        }
    }
}

/// Returns the allocator's free pages to the system. glibc keeps what is freed below the top
/// of each heap (here the KV cache's per-layer buffers, and what loading left behind), so an
/// idle server would otherwise stay at the peak of its last burst: on the demo model 262 MB
/// after one answer, 235 MB with this and the cache dropped (232 MB after load).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
pub(crate) fn return_free_memory() {
    // SAFETY: `malloc_trim` only releases free memory; glibc locks each arena while it does, so
    // other threads may allocate meanwhile.
    let _ = unsafe { libc::malloc_trim(0) };
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub(crate) fn return_free_memory() {}

/// Limits the scheduler enforces.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub max_batch: usize,
    pub prefill_chunk: usize,
    pub max_positions: usize,
}

/// Why the engine stopped, for requests that arrive afterwards.
pub(crate) type StopReason = Arc<Mutex<Option<String>>>;

/// Starts the rank threads; the leader reads jobs from `jobs`.
pub(crate) fn spawn(
    ranks: Vec<Rank>,
    jobs: mpsc::Receiver<Job>,
    tokenizer: Arc<TextTokenizer>,
    limits: Limits,
    stopped: StopReason,
) -> Result<(), RunnerError> {
    let mut ranks = ranks.into_iter();
    let leader = ranks
        .next()
        .ok_or_else(|| RunnerError::InvalidRequest("no ranks".into()))?;
    let mut workers = Vec::new();
    for (i, mut rank) in ranks.enumerate() {
        let (tx, rx) = mpsc::channel::<RankOp>();
        workers.push(tx);
        std::thread::Builder::new()
            .name(format!("llm-runner-rank{}", i + 1))
            .spawn(move || {
                rank.start_threads();
                let _guard = tch::no_grad_guard();
                while let Ok(op) = rx.recv() {
                    if let Err(e) = rank.run(&op) {
                        tracing::error!(rank = i + 1, error = %e, "tensor-parallel rank failed");
                        rank.comm.abort();
                        break;
                    }
                }
            })
            .map_err(|e| RunnerError::Stopped {
                reason: Some(format!("cannot start a rank thread: {e}")),
            })?;
    }
    std::thread::Builder::new()
        .name("llm-runner-rank0".into())
        .spawn(move || {
            leader.start_threads();
            let _guard = tch::no_grad_guard();
            let mut scheduler = Scheduler {
                rank: leader,
                workers,
                tokenizer,
                limits,
                active: Vec::new(),
            };
            if let Err(e) = scheduler.run(&jobs) {
                tracing::error!(error = %e, "local engine stopped");
                scheduler.rank.comm.abort();
                *stopped.lock().unwrap_or_else(|p| p.into_inner()) = Some(e.to_string());
                for seq in scheduler.active.drain(..) {
                    let _ = seq.job.events.send(Err(RunnerError::Stopped {
                        reason: Some(e.to_string()),
                    }));
                }
            }
        })
        .map_err(|e| RunnerError::Stopped {
            reason: Some(format!("cannot start the engine thread: {e}")),
        })?;
    Ok(())
}

/// A running request.
struct Sequence {
    job: Job,
    sampler: Sampler,
    generated: Vec<u32>,
    /// Tokens in the cache.
    pos: usize,
    /// The token to feed next.
    last: u32,
    text: TextStream,
}

struct Scheduler {
    rank: Rank,
    workers: Vec<mpsc::Sender<RankOp>>,
    tokenizer: Arc<TextTokenizer>,
    limits: Limits,
    active: Vec<Sequence>,
}

impl Scheduler {
    fn run(&mut self, jobs: &mpsc::Receiver<Job>) -> Result<(), RunnerError> {
        loop {
            // Admit waiting requests while there are free slots; block only when idle.
            while self.active.len() < self.limits.max_batch {
                let job = if self.active.is_empty() {
                    match jobs.recv() {
                        Ok(job) => job,
                        Err(_) => return Ok(()), // every handle dropped: shut down
                    }
                } else {
                    match jobs.try_recv() {
                        Ok(job) => job,
                        Err(_) => break,
                    }
                };
                if !job.cancelled() {
                    self.prefill(job)?;
                }
            }
            self.drop_cancelled()?;
            if !self.active.is_empty() {
                self.decode_step()?;
            }
        }
    }

    /// Runs `op` on every rank; returns the leader's result.
    fn broadcast(&mut self, op: RankOp) -> Result<Option<Tensor>, RunnerError> {
        for w in &self.workers {
            w.send(op.clone()).map_err(|_| RunnerError::Stopped {
                reason: Some("a tensor-parallel rank stopped".into()),
            })?;
        }
        self.rank.run(&op)
    }

    fn forward(&mut self, batch: Batch) -> Result<Vec<f32>, RunnerError> {
        let logits = self
            .broadcast(RankOp::Forward(Arc::new(batch)))?
            .ok_or_else(|| RunnerError::InvalidRequest("forward returned nothing".into()))?;
        let logits = logits.f_view([-1])?.f_to_device(tch::Device::Cpu)?;
        Ok(Vec::<f32>::try_from(logits)?)
    }

    /// Fills the next free slot with `job`'s prompt and samples its first token.
    fn prefill(&mut self, job: Job) -> Result<(), RunnerError> {
        let slot = self.active.len();
        let tokens: Vec<i64> = job.prompt.iter().map(|&t| i64::from(t)).collect();
        let mut logits = Vec::new();
        for (i, chunk) in tokens.chunks(self.limits.prefill_chunk.max(1)).enumerate() {
            let start = (i * self.limits.prefill_chunk.max(1)) as i64;
            logits = self.forward(Batch::sequence(slot as i64, start, chunk.to_vec()))?;
        }
        let text = TextStream::new(job.stop.clone());
        let mut seq = Sequence {
            sampler: Sampler::new(job.sampling.clone()),
            generated: Vec::new(),
            pos: job.prompt.len(),
            last: 0,
            text,
            job,
        };
        let token = seq.sampler.sample(&logits);
        match self.accept(&mut seq, token) {
            None => self.active.push(seq),
            Some(ending) => {
                let released = self.release_if_idle();
                ending.send_to(&seq.job.events);
                released?;
            }
        }
        Ok(())
    }

    /// One token for every running sequence.
    fn decode_step(&mut self) -> Result<(), RunnerError> {
        let batch = Batch {
            tokens: self.active.iter().map(|s| i64::from(s.last)).collect(),
            batch: self.active.len() as i64,
            len: 1,
            first_slot: 0,
            start: self.active.iter().map(|s| s.pos as i64).collect(),
            all_logits: false,
        };
        let logits = self.forward(batch)?;
        let vocab = logits.len() / self.active.len();
        let (mut finished, mut endings) = (Vec::new(), Vec::new());
        let mut active = std::mem::take(&mut self.active);
        for (i, seq) in active.iter_mut().enumerate() {
            seq.pos += 1;
            let token = seq.sampler.sample(&logits[i * vocab..(i + 1) * vocab]);
            if let Some(ending) = self.accept(seq, token) {
                finished.push(i);
                endings.push((seq.job.events.clone(), ending));
            }
        }
        self.active = active;
        // The ends are reported once the sequences' memory is released, so a client that saw
        // its answer end sees the server's memory as it stays.
        let released = self.remove(&finished).and_then(|()| self.release_if_idle());
        for (events, ending) in endings {
            ending.send_to(&events);
        }
        released
    }

    /// Drops the KV cache and returns free memory to the system when nothing runs.
    fn release_if_idle(&mut self) -> Result<(), RunnerError> {
        if self.active.is_empty() {
            self.broadcast(RankOp::Release)?;
        }
        Ok(())
    }

    fn drop_cancelled(&mut self) -> Result<(), RunnerError> {
        let cancelled: Vec<usize> = (0..self.active.len())
            .filter(|&i| self.active[i].job.cancelled())
            .collect();
        if cancelled.is_empty() {
            return Ok(());
        }
        self.remove(&cancelled)?;
        self.release_if_idle()
    }

    /// Removes the sequences at `indices` (ascending), keeping the rest in slots `0..n`.
    fn remove(&mut self, indices: &[usize]) -> Result<(), RunnerError> {
        for &i in indices.iter().rev() {
            let last = self.active.len() - 1;
            self.active.swap_remove(i);
            if i != last {
                let len = self.active[i].pos;
                self.broadcast(RankOp::MoveSlot {
                    from: last,
                    to: i,
                    len,
                })?;
            }
        }
        Ok(())
    }

    /// Records `token` for `seq` and streams its text; once `seq` is finished, returns what
    /// is left to tell its client (sent by the caller after the sequence's memory is freed).
    fn accept(&self, seq: &mut Sequence, token: u32) -> Option<Ending> {
        seq.generated.push(token);
        seq.last = token;
        let end_token = self.tokenizer.stop_ids.contains(&token);
        let out_of_room = seq.pos + 1 > self.limits.max_positions;
        let at_limit = seq.generated.len() >= seq.job.max_tokens;
        let done = end_token || at_limit || out_of_room;
        let text = match self.tokenizer.decode(&seq.generated) {
            Ok(t) => t,
            Err(e) => return Some(Ending(vec![Err(e)])),
        };
        let (delta, stopped) = seq.text.advance(&text, done);
        if !delta.is_empty()
            && seq
                .job
                .events
                .send(Ok(StreamEvent::text(0, delta)))
                .is_err()
        {
            return Some(Ending(Vec::new())); // the caller went away
        }
        if !(done || stopped) {
            return None;
        }
        let reason = if stopped {
            FinishReason::StopSequence
        } else if end_token {
            FinishReason::Stop
        } else {
            FinishReason::Length
        };
        let usage = Usage {
            input_tokens: seq.job.prompt.len() as u32,
            output_tokens: seq.generated.len() as u32,
            ..Usage::default()
        };
        Some(Ending(vec![
            Ok(StreamEvent::Usage(usage)),
            Ok(StreamEvent::Done(reason.into())),
        ]))
    }
}

/// The last events of a finished sequence.
struct Ending(Vec<Result<StreamEvent, RunnerError>>);

impl Ending {
    fn send_to(self, events: &UnboundedSender<Result<StreamEvent, RunnerError>>) {
        for event in self.0 {
            let _ = events.send(event); // a client that went away needs nothing more
        }
    }
}

/// Turns the growing decoded text into deltas that never split a UTF-8 character and never
/// show the beginning of a stop sequence that may still complete.
#[derive(Debug)]
pub(crate) struct TextStream {
    stops: Vec<String>,
    /// Bytes of the decoded text already sent.
    emitted: usize,
}

impl TextStream {
    pub fn new(stops: Vec<String>) -> Self {
        let stops: BTreeSet<String> = stops.into_iter().filter(|s| !s.is_empty()).collect();
        TextStream {
            stops: stops.into_iter().collect(),
            emitted: 0,
        }
    }

    /// Given the whole text decoded so far, returns what may be sent now and whether a stop
    /// sequence ended the answer (the stop sequence itself is not sent). With `done`, the
    /// rest is flushed.
    pub fn advance(&mut self, text: &str, done: bool) -> (String, bool) {
        let longest = self.stops.iter().map(String::len).max().unwrap_or(0);
        let from = floor_boundary(text, self.emitted.saturating_sub(longest));
        let hit = self
            .stops
            .iter()
            .filter_map(|s| text[from..].find(s.as_str()).map(|i| from + i))
            .min();
        if let Some(at) = hit {
            let delta = text.get(self.emitted..at).unwrap_or_default().to_owned();
            self.emitted = self.emitted.max(at);
            return (delta, true);
        }
        let mut end = text.len();
        if !done {
            // An incomplete UTF-8 sequence decodes as U+FFFD until its last byte arrives.
            end = text.trim_end_matches('\u{FFFD}').len();
            let held = self
                .stops
                .iter()
                .flat_map(|s| s.char_indices().skip(1).map(move |(k, _)| &s[..k]))
                .filter(|prefix| text[..end].ends_with(prefix))
                .map(str::len)
                .max()
                .unwrap_or(0);
            end -= held;
        }
        if end <= self.emitted {
            return (String::new(), false);
        }
        let delta = text[self.emitted..end].to_owned();
        self.emitted = end;
        (delta, false)
    }
}

fn floor_boundary(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `texts` (the decoded text after each token) and returns the deltas.
    fn run(stops: &[&str], texts: &[&str]) -> (Vec<String>, bool) {
        let mut s = TextStream::new(stops.iter().map(|s| s.to_string()).collect());
        let mut out = Vec::new();
        for (i, t) in texts.iter().enumerate() {
            let (d, stopped) = s.advance(t, i + 1 == texts.len());
            out.push(d);
            if stopped {
                return (out, true);
            }
        }
        (out, false)
    }

    #[test]
    fn incomplete_characters_wait_for_their_last_byte() {
        let (d, _) = run(&[], &["caf", "caf\u{FFFD}", "café", "café!"]);
        assert_eq!(d, ["caf", "", "é", "!"]);
    }

    #[test]
    fn stop_sequences_split_across_tokens_are_held_back_then_cut() {
        let (d, stopped) = run(&["END"], &["Hi E", "Hi EN", "Hi END", "Hi END more"]);
        assert!(stopped);
        assert_eq!(d.concat(), "Hi ");
        assert_eq!(d, ["Hi ", "", ""]);
    }

    #[test]
    fn held_back_text_is_released_when_it_does_not_complete() {
        let (d, stopped) = run(&["END"], &["a E", "a Ex", "a Exy"]);
        assert!(!stopped);
        assert_eq!(d, ["a ", "Ex", "y"]);
    }

    #[test]
    fn the_end_flushes_everything() {
        let (d, _) = run(&["END"], &["x EN"]);
        assert_eq!(d, ["x EN"]);
    }
}
