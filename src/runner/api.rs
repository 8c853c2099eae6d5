//! The engine's public interface: configuration, requests, handles and generations.

use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::task::{Context, Poll};

use tch::{Device, Kind};

use super::chat_template::ChatTemplate;
use super::checkpoint::Checkpoint;
use super::engine;
use super::gguf::Gguf;
use super::models::llama::Llama;
use super::parallel::{Comm, Placement, SingleRank, ThreadComm};
use super::tokenizer::TextTokenizer;
use super::{RunnerError, SamplingParams};
use crate::types::{ChatRequest, FinishReason, Message, StreamEvent, Usage};

/// How weights are kept and multiplied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DType {
    /// Chosen at load for the model and devices (see [`DType::resolve`]).
    #[default]
    Auto,
    F32,
    /// bfloat16: half the memory traffic; fast on CPUs with AVX-512 BF16 or AMX.
    Bf16,
    /// A GGUF file's quantized matrices stay in their blocks (Q4_0, Q4_1, Q8_0, Q4_K, Q5_K,
    /// Q6_K) and the CPU multiplies them as they are (the `kernels/` crate, x86-64);
    /// everything else is f32. Elsewhere (a GPU, another architecture) the blocks are
    /// dequantised to f32 at load.
    Native,
}

impl DType {
    /// The kind of the float weights and of the activations.
    pub fn kind(self) -> Kind {
        match self {
            DType::Bf16 => Kind::BFloat16,
            DType::Auto | DType::F32 | DType::Native => Kind::Float,
        }
    }

    /// [`DType::Auto`], resolved at load by [`DType::resolve`].
    pub fn auto() -> Self {
        DType::Auto
    }

    /// Whether this machine multiplies quantized blocks fast (x86-64 with AVX2 or AVX-512).
    pub fn native_products() -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            llm_cooperation_kernels::available()
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            false
        }
    }

    /// What `auto` means for a model with (`quantized`) or without GGUF quantized matrices on
    /// `devices`: bf16 on a GPU; on the CPU `native` for quantized files where the products
    /// run on the blocks (on the demo model about twice bf16's and f32's decode speed, alone
    /// and 8 at a time, in half of bf16's memory: `bench/runner.sh`),
    /// else bf16 where the CPU computes it natively (AVX-512 BF16), else f32 (emulated bf16
    /// products cost more than the memory they save). Any other value is returned as is.
    pub fn resolve(self, quantized: bool, devices: &[Device]) -> DType {
        if self != DType::Auto {
            return self;
        }
        if devices.iter().any(|d| d.is_cuda()) {
            return DType::Bf16;
        }
        if quantized && Self::native_products() {
            return DType::Native;
        }
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx512bf16") {
            return DType::Bf16;
        }
        DType::F32
    }
}

impl std::fmt::Display for DType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DType::Auto => "auto",
            DType::F32 => "f32",
            DType::Bf16 => "bf16",
            DType::Native => "native",
        })
    }
}

impl std::str::FromStr for DType {
    type Err = RunnerError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(DType::Auto),
            "f32" | "float32" | "fp32" => Ok(DType::F32),
            "bf16" | "bfloat16" => Ok(DType::Bf16),
            "native" => Ok(DType::Native),
            other => Err(RunnerError::InvalidRequest(format!(
                "dtype `{other}` is not supported (expected `auto`, `native`, `f32` or `bf16`)"
            ))),
        }
    }
}

/// Loads the checkpoint in the form `dtype` asks for, resolving `auto` (a GGUF file is read
/// once, then its tensors tell whether it is quantized).
fn load_checkpoint(
    path: &std::path::Path,
    dtype: DType,
    devices: &[Device],
) -> Result<(Checkpoint, DType), RunnerError> {
    match dtype {
        DType::Auto if path.is_file() => {
            let g = Gguf::open(path)?;
            let quantized = g
                .tensors
                .iter()
                .any(|t| t.dims.len() == 2 && t.ty.block_kind().is_some());
            let dtype = dtype.resolve(quantized, devices);
            let ck = Checkpoint::from_gguf(&g, dtype.kind(), dtype == DType::Native)?;
            Ok((ck, dtype))
        }
        DType::Auto => {
            let dtype = dtype.resolve(false, devices);
            Ok((Checkpoint::load(path, dtype.kind())?, dtype))
        }
        DType::Native => Ok((Checkpoint::load_native(path)?, dtype)),
        DType::F32 | DType::Bf16 => Ok((Checkpoint::load(path, dtype.kind())?, dtype)),
    }
}

/// Parses `cpu`, `cuda` or `cuda:N`.
pub fn parse_device(s: &str) -> Result<Device, RunnerError> {
    let bad = || {
        RunnerError::InvalidRequest(format!(
            "device `{s}` is not understood (expected `cpu`, `cuda` or `cuda:N`)"
        ))
    };
    match s.to_ascii_lowercase().as_str() {
        "cpu" => Ok(Device::Cpu),
        "cuda" => Ok(Device::Cuda(0)),
        other => {
            let n = other.strip_prefix("cuda:").ok_or_else(bad)?;
            n.parse().map(Device::Cuda).map_err(|_| bad())
        }
    }
}

/// How to load and serve one local model.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// A `.gguf` file or a Hugging Face directory.
    pub model: PathBuf,
    /// `Auto` (the default) picks per model and device, see [`DType::resolve`].
    pub dtype: DType,
    /// Tensor-parallel ranks (one OS thread each), at most the number of attention heads.
    /// Heads, the MLP and the vocabulary are split as evenly as possible; a key/value head
    /// whose query heads land on two ranks is kept on both (SmolLM2's 9 heads and 3 KV heads
    /// run on 2 ranks as 5 + 4 heads with the middle KV head on both).
    pub tp: usize,
    /// One device per rank; empty means every rank on the CPU.
    pub devices: Vec<Device>,
    /// Sequences decoded together (KV-cache slots).
    pub max_batch: usize,
    /// Requests that may wait for a slot; beyond this `submit` fails with `Overloaded`.
    pub max_queue: usize,
    /// Longest prompt plus answer, capped by the model's own context length.
    pub max_seq_len: usize,
    /// `max_tokens` when a request gives none (capped by what the context has left).
    pub default_max_tokens: usize,
    /// Prompt tokens per prefill pass (bounds the attention scratch memory).
    pub prefill_chunk: usize,
    /// Threads per rank (libtorch's, or the packed f32 products'); `None` shares the
    /// machine's cores among the ranks.
    pub threads_per_rank: Option<usize>,
}

impl EngineConfig {
    pub fn new(model: impl Into<PathBuf>) -> Self {
        EngineConfig {
            model: model.into(),
            dtype: DType::Auto,
            tp: 1,
            devices: Vec::new(),
            max_batch: 8,
            max_queue: 64,
            max_seq_len: 4096,
            default_max_tokens: 512,
            prefill_chunk: 512,
            threads_per_rank: None,
        }
    }
}

/// What was loaded.
#[derive(Debug, Clone)]
pub struct ModelInfo {
    pub name: String,
    pub architecture: String,
    pub path: PathBuf,
    /// The dtype in use (`auto` resolved).
    pub dtype: DType,
    pub tp: usize,
    /// Tokens of prompt plus answer one request may use.
    pub context_length: usize,
    pub vocab_size: usize,
    pub max_batch: usize,
    /// Parameters in the checkpoint (a decode step reads each weight once).
    pub parameters: usize,
}

/// What to generate from.
#[derive(Debug, Clone, PartialEq)]
pub enum Prompt {
    /// Rendered with the model's chat template.
    Chat(Vec<Message>),
    /// Used as is (a beginning-of-sequence token is added if the model wants one).
    Text(String),
    /// Token ids, used as is.
    Tokens(Vec<u32>),
}

/// One generation request.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerateRequest {
    pub prompt: Prompt,
    /// `None` uses the engine's default, capped by the room left in the context.
    pub max_tokens: Option<usize>,
    pub sampling: SamplingParams,
    /// Generation ends before the first occurrence of any of these.
    pub stop: Vec<String>,
}

impl GenerateRequest {
    /// A chat request with OpenAI's default sampling.
    pub fn chat(messages: Vec<Message>) -> Self {
        GenerateRequest {
            prompt: Prompt::Chat(messages),
            max_tokens: None,
            sampling: SamplingParams::default(),
            stop: Vec::new(),
        }
    }

    /// The canonical request's messages, limits, sampling and stop sequences.
    pub fn from_chat(req: &ChatRequest) -> Self {
        GenerateRequest {
            prompt: Prompt::Chat(req.messages.clone()),
            max_tokens: req.max_tokens.map(|n| n as usize),
            sampling: SamplingParams {
                temperature: req.temperature.unwrap_or(1.0) as f32,
                top_p: req.top_p.unwrap_or(1.0) as f32,
                top_k: req.top_k.unwrap_or(0) as usize,
                seed: req.seed.map(|s| s as u64),
            },
            stop: req.stop.clone(),
        }
    }

    pub fn greedy(mut self) -> Self {
        self.sampling = SamplingParams::greedy();
        self
    }

    pub fn max_tokens(mut self, n: usize) -> Self {
        self.max_tokens = Some(n);
        self
    }
}

/// A whole answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    pub text: String,
    pub finish_reason: FinishReason,
    pub usage: Usage,
}

/// Starts engines.
#[derive(Debug)]
pub struct Engine;

impl Engine {
    /// Loads the model (blocking: call it from a plain thread or `spawn_blocking`), shards it
    /// over `tp` ranks and starts their threads.
    pub fn start(cfg: EngineConfig) -> Result<EngineHandle, RunnerError> {
        let tp = cfg.tp.max(1);
        let devices = if cfg.devices.is_empty() {
            vec![Device::Cpu; tp]
        } else if cfg.devices.len() == tp {
            cfg.devices.clone()
        } else {
            return Err(RunnerError::InvalidRequest(format!(
                "`tp = {tp}` needs {tp} devices, {} given",
                cfg.devices.len()
            )));
        };
        if devices.iter().any(|d| d.is_cuda()) && !tch::Cuda::is_available() {
            return Err(RunnerError::InvalidRequest(
                "a CUDA device was requested but libtorch sees no GPU".into(),
            ));
        }
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let threads = cfg.threads_per_rank.unwrap_or((cores / tp).max(1));
        // Loading runs libtorch kernels on a thread of its own that ends before the ranks
        // start: OpenMP keeps a team of worker threads per calling thread, and while more
        // workers exist than cores it stops spinning between parallel regions and sleeps
        // instead, which halved decode speed when the caller's team outlived the load.
        let (ck, ranks, dtype) = std::thread::scope(|s| {
            s.spawn(|| {
                let _guard = tch::no_grad_guard();
                tch::set_num_threads(cores as i32);
                let (ck, dtype) = load_checkpoint(&cfg.model, cfg.dtype, &devices)?;
                let comms: Vec<Box<dyn Comm>> = if tp == 1 {
                    vec![Box::new(SingleRank)]
                } else {
                    ThreadComm::group(&devices)
                        .into_iter()
                        .map(|c| Box::new(c) as Box<dyn Comm>)
                        .collect()
                };
                let mut ranks = Vec::with_capacity(tp);
                for (rank, (comm, device)) in comms.into_iter().zip(&devices).enumerate() {
                    let at = Placement {
                        rank,
                        world: tp,
                        ..Placement::single(*device, dtype.kind())
                    };
                    let model = Llama::new(&ck, &at, cfg.max_batch.max(1), cfg.max_seq_len)?;
                    // With packed f32 products the rank's own helpers share them, and
                    // libtorch keeps to the rank's thread: its OpenMP workers would spin on
                    // the cores the helpers need.
                    let packed = crate::runner::parallel::packs_f32(&at);
                    ranks.push(engine::Rank {
                        model,
                        comm,
                        torch_threads: if packed { 1 } else { threads },
                        product_threads: threads,
                    });
                }
                Ok::<_, RunnerError>((ck, ranks, dtype))
            })
            .join()
            .map_err(|_| RunnerError::Stopped {
                reason: Some("loading the model panicked".into()),
            })?
        })?;
        let context_length = ranks[0].model.max_positions();
        let info = ModelInfo {
            name: ck.name.clone(),
            architecture: ck.config.model_type.clone(),
            path: cfg.model.clone(),
            dtype,
            tp,
            context_length,
            vocab_size: ck.config.vocab_size,
            max_batch: cfg.max_batch.max(1),
            parameters: ck.parameters(),
        };
        let template = ChatTemplate::new(
            ck.chat_template.as_deref(),
            ck.tokenizer.bos_text.as_deref(),
            ck.tokenizer.eos_text.as_deref(),
        )?;
        let tokenizer = Arc::new(ck.tokenizer.clone());
        drop(ck);
        // The checkpoint's unpacked tensors and the loader's buffers are free now.
        engine::return_free_memory();

        let (tx, rx) = mpsc::sync_channel(cfg.max_queue);
        let stopped: engine::StopReason = Arc::default();
        engine::spawn(
            ranks,
            rx,
            tokenizer.clone(),
            engine::Limits {
                max_batch: cfg.max_batch.max(1),
                prefill_chunk: cfg.prefill_chunk.max(1),
                max_positions: context_length,
            },
            stopped.clone(),
        )?;
        Ok(EngineHandle {
            inner: Arc::new(Inner {
                jobs: tx,
                info,
                tokenizer,
                template,
                stopped,
                max_queue: cfg.max_queue,
                default_max_tokens: cfg.default_max_tokens.max(1),
            }),
        })
    }
}

struct Inner {
    jobs: mpsc::SyncSender<engine::Job>,
    info: ModelInfo,
    tokenizer: Arc<TextTokenizer>,
    template: ChatTemplate,
    stopped: engine::StopReason,
    max_queue: usize,
    default_max_tokens: usize,
}

/// A running engine; cheap to clone and share. The engine stops when the last handle and the
/// last running generation are gone.
#[derive(Clone)]
pub struct EngineHandle {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for EngineHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineHandle")
            .field("info", &self.inner.info)
            .finish_non_exhaustive()
    }
}

impl EngineHandle {
    pub fn info(&self) -> &ModelInfo {
        &self.inner.info
    }

    pub fn tokenizer(&self) -> &TextTokenizer {
        &self.inner.tokenizer
    }

    /// The prompt text the chat template makes of `messages`.
    pub fn render_chat(&self, messages: &[Message]) -> Result<String, RunnerError> {
        self.inner.template.render(messages)
    }

    /// The token ids a prompt becomes.
    pub fn prompt_tokens(&self, prompt: &Prompt) -> Result<Vec<u32>, RunnerError> {
        let tok = &self.inner.tokenizer;
        match prompt {
            Prompt::Tokens(ids) => {
                let vocab = self.inner.info.vocab_size as u32;
                if let Some(bad) = ids.iter().find(|&&t| t >= vocab) {
                    return Err(RunnerError::InvalidRequest(format!(
                        "token id {bad} is outside the vocabulary of {vocab}"
                    )));
                }
                Ok(ids.clone())
            }
            Prompt::Text(text) => {
                let mut ids = Vec::new();
                if tok.add_bos {
                    ids.extend(tok.bos);
                }
                ids.extend(tok.encode(text)?);
                Ok(ids)
            }
            Prompt::Chat(messages) => tok.encode(&self.render_chat(messages)?),
        }
    }

    /// Queues a request and returns its event stream: `Delta`s, then `Usage`, then `Done`.
    /// Fails at once when the queue is full ([`RunnerError::Overloaded`]) or the request
    /// cannot fit the context. Dropping the stream cancels the request.
    pub fn submit(&self, req: GenerateRequest) -> Result<Generation, RunnerError> {
        req.sampling
            .validate()
            .map_err(RunnerError::InvalidRequest)?;
        let prompt = self.prompt_tokens(&req.prompt)?;
        if prompt.is_empty() {
            return Err(RunnerError::InvalidRequest("the prompt is empty".into()));
        }
        let context = self.inner.info.context_length;
        let room = context.saturating_sub(prompt.len());
        let max_tokens = match req.max_tokens {
            Some(0) => {
                return Err(RunnerError::InvalidRequest(
                    "`max_tokens` must be at least 1".into(),
                ));
            }
            Some(n) if n > room + 1 || prompt.len() > context => {
                return Err(RunnerError::ContextOverflow {
                    prompt: prompt.len(),
                    max_tokens: n,
                    context,
                });
            }
            Some(n) => n,
            None if prompt.len() > context => {
                return Err(RunnerError::ContextOverflow {
                    prompt: prompt.len(),
                    max_tokens: 0,
                    context,
                });
            }
            None => self.inner.default_max_tokens.min(room + 1),
        };
        let (events, rx) = tokio::sync::mpsc::unbounded_channel();
        let cancel = Arc::new(AtomicBool::new(false));
        let job = engine::Job {
            prompt,
            max_tokens,
            sampling: req.sampling,
            stop: req.stop,
            events,
            cancel: cancel.clone(),
        };
        match self.inner.jobs.try_send(job) {
            Ok(()) => Ok(Generation { rx, cancel }),
            Err(mpsc::TrySendError::Full(_)) => Err(RunnerError::Overloaded {
                queued: self.inner.max_queue,
            }),
            Err(mpsc::TrySendError::Disconnected(_)) => Err(RunnerError::Stopped {
                reason: lock(&self.inner.stopped).clone(),
            }),
        }
    }

    /// Submits and waits for the whole answer (blocking: not for async contexts).
    pub fn generate(&self, req: GenerateRequest) -> Result<Completion, RunnerError> {
        self.submit(req)?.collect_blocking()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The events of one request. It is a [`futures::Stream`] for async callers and has
/// [`Generation::next_blocking`] for threads; dropping it (or [`Generation::cancel`]) frees
/// its slot at the next decode step.
#[derive(Debug)]
pub struct Generation {
    rx: tokio::sync::mpsc::UnboundedReceiver<Result<StreamEvent, RunnerError>>,
    cancel: Arc<AtomicBool>,
}

impl Generation {
    /// The next event, waiting for it; `None` after `Done` or an error.
    pub fn next_blocking(&mut self) -> Option<Result<StreamEvent, RunnerError>> {
        self.rx.blocking_recv()
    }

    /// Stops generating; events already produced may still arrive.
    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }

    /// Waits for the whole answer (blocking).
    pub fn collect_blocking(mut self) -> Result<Completion, RunnerError> {
        let mut text = String::new();
        let mut usage = Usage::default();
        while let Some(event) = self.next_blocking() {
            match event? {
                StreamEvent::Usage(u) => usage = u,
                StreamEvent::Done(finish) => {
                    return Ok(Completion {
                        text,
                        finish_reason: finish.reason,
                        usage,
                    });
                }
                other => {
                    if let Some(d) = other.text_delta() {
                        text.push_str(d);
                    }
                }
            }
        }
        Err(RunnerError::Stopped {
            reason: Some("the engine ended the stream without finishing".into()),
        })
    }
}

impl futures::Stream for Generation {
    type Item = Result<StreamEvent, RunnerError>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.rx.poll_recv(cx)
    }
}

impl Drop for Generation {
    fn drop(&mut self) {
        self.cancel();
    }
}
