//! Packed f32 weights ([`PackedF32`]) and the helper threads that every product shares.

use std::cell::RefCell;
use std::ops::Range;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use pulp::core_arch::x86::Sse;
use pulp::x86::{V3, V3_512b, V4};
use pulp::{Simd, bytemuck};

/// Output features per panel.
const LANES: usize = 16;

/// How far ahead of the current read the next weights are prefetched, in floats.
const PREFETCH_AHEAD: usize = 2048;

/// The instruction set found at load.
#[derive(Debug, Clone, Copy)]
enum Isa {
    V4(V4),
    V3(V3),
}

impl Isa {
    fn detect() -> Option<Self> {
        if let Some(simd) = V4::try_new() {
            return Some(Isa::V4(simd));
        }
        V3::try_new().map(Isa::V3)
    }

    /// Rows that share one pass over a panel: each needs its accumulators in registers.
    fn chunk_rows(self) -> usize {
        match self {
            Isa::V4(_) => 16,
            Isa::V3(_) => 4,
        }
    }
}

/// Whether this CPU can take the packed path.
pub fn available() -> bool {
    Isa::detect().is_some()
}

/// A weight matrix `W` (`[out, in]`) packed for [`PackedF32::product`].
#[derive(Debug, Clone)]
pub struct PackedF32 {
    /// `[panels][inp][LANES]`, shared with the helper threads.
    data: Arc<[f32]>,
    out: usize,
    inp: usize,
    isa: Isa,
}

impl PackedF32 {
    /// Packs a row-major `[out, inp]` matrix; `None` when the CPU lacks the instructions.
    pub fn pack(w: &[f32], out: usize, inp: usize) -> Option<Self> {
        let isa = Isa::detect()?;
        Some(Self::pack_for(w, out, inp, isa))
    }

    fn pack_for(w: &[f32], out: usize, inp: usize, isa: Isa) -> Self {
        assert_eq!(w.len(), out * inp, "weights are [out, in]");
        let panels = out.div_ceil(LANES);
        let mut data = vec![0f32; panels * inp * LANES];
        for (o, row) in w.chunks_exact(inp.max(1)).enumerate().take(out) {
            let (panel, lane) = (o / LANES, o % LANES);
            let base = panel * inp * LANES + lane;
            for (i, &v) in row.iter().enumerate() {
                data[base + i * LANES] = v;
            }
        }
        PackedF32 {
            data: data.into(),
            out,
            inp,
            isa,
        }
    }

    pub fn out_features(&self) -> usize {
        self.out
    }

    pub fn in_features(&self) -> usize {
        self.inp
    }

    /// Rows of `W` (row-major `[index.len(), in]`); `None` if an index is out of range.
    pub fn rows(&self, index: &[i64]) -> Option<Vec<f32>> {
        let mut rows = Vec::with_capacity(index.len() * self.inp);
        for &o in index {
            let o = usize::try_from(o).ok().filter(|&o| o < self.out)?;
            let base = (o / LANES) * self.inp * LANES + o % LANES;
            rows.extend((0..self.inp).map(|i| self.data[base + i * LANES]));
        }
        Some(rows)
    }

    /// `x Wᵀ` for `x` row-major `[rows, in]`: row-major `[rows, out]`, using this thread's
    /// helpers (see [`set_threads`]).
    pub fn product(&self, x: &[f32], rows: usize) -> Vec<f32> {
        let inp = self.inp;
        assert_eq!(x.len(), rows * inp, "x is [rows, in]");
        if rows == 0 || inp == 0 || self.out == 0 {
            return vec![0f32; rows * self.out]; // an empty sum
        }
        let chunk = self.isa.chunk_rows();
        // x transposed chunk by chunk: chunk c holds rows [c·chunk, …) as `[inp][len]`.
        let mut xt = vec![0f32; rows * inp];
        for start in (0..rows).step_by(chunk) {
            let len = chunk.min(rows - start);
            let dst = &mut xt[start * inp..(start + len) * inp];
            for r in 0..len {
                let src = &x[(start + r) * inp..(start + r + 1) * inp];
                for (i, &v) in src.iter().enumerate() {
                    dst[i * len + r] = v;
                }
            }
        }
        let panels = self.out.div_ceil(LANES);
        let (weights, xt): (_, Arc<[f32]>) = (self.clone(), xt.into());
        let blocks = spread(
            panels,
            Arc::new(move |range| weights.panels(range, &xt, rows)),
        );
        // Panel-major blocks → row-major `[rows, out]`.
        let mut y = vec![0f32; rows * self.out];
        for (panel, block) in blocks.chunks_exact(rows * LANES).enumerate() {
            let col = panel * LANES;
            let width = LANES.min(self.out - col);
            for (r, lanes) in block.chunks_exact(LANES).enumerate() {
                y[r * self.out + col..r * self.out + col + width].copy_from_slice(&lanes[..width]);
            }
        }
        y
    }

    /// The panels `range` for every row: `[range.len()][rows][LANES]`.
    fn panels(&self, range: Range<usize>, xt: &[f32], rows: usize) -> Vec<f32> {
        let (inp, chunk) = (self.inp, self.isa.chunk_rows());
        let mut out = vec![0f32; range.len() * rows * LANES];
        let stream = &self.data[range.start * inp * LANES..range.end * inp * LANES];
        for (p, block) in out.chunks_exact_mut(rows * LANES).enumerate() {
            // From this panel to the end of the range, for the prefetcher.
            let ahead = &stream[p * inp * LANES..];
            for start in (0..rows).step_by(chunk) {
                let len = chunk.min(rows - start);
                let x = &xt[start * inp..(start + len) * inp];
                let o = &mut block[start * LANES..(start + len) * LANES];
                panel(self.isa, ahead, inp, x, len, o);
            }
        }
        out
    }
}

/// Splits `n` items into `parts` contiguous ranges whose lengths differ by at most one.
pub(crate) fn split_even(n: usize, parts: usize) -> Vec<Range<usize>> {
    let parts = parts.clamp(1, n.max(1));
    let (base, extra) = (n / parts, n % parts);
    let mut start = 0;
    (0..parts)
        .map(|i| {
            let len = base + usize::from(i < extra);
            let range = start..start + len;
            start += len;
            range
        })
        .collect()
}

/// A share of one product, for a helper thread: it returns its part of the output (the
/// products decide the layout; both kinds of packed weights use one pool).
pub(crate) type Job = Box<dyn FnOnce() -> Vec<f32> + Send>;

/// How long an idle helper waits for the next job (spinning, then yielding) before it sleeps:
/// the gaps between the products of one decode step are tens of microseconds, less than
/// waking a sleeping thread costs, while an idle engine leaves its helpers asleep.
const SPIN_FOR: Duration = Duration::from_millis(2);

/// One job at a time between a rank thread and a helper thread.
#[derive(Default)]
struct Mailbox {
    job: Mutex<Option<Job>>,
    /// `None` when the job panicked.
    result: Mutex<Option<Option<Vec<f32>>>>,
    posted: AtomicUsize,
    done: AtomicUsize,
    stop: AtomicBool,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A thread that takes a share of every product of the rank thread that owns it.
pub(crate) struct Helper {
    mailbox: Arc<Mailbox>,
    thread: Option<JoinHandle<()>>,
}

impl Helper {
    fn start(index: usize) -> Option<Self> {
        let mailbox = Arc::new(Mailbox::default());
        let shared = mailbox.clone();
        let thread = std::thread::Builder::new()
            .name(format!("llm-runner-helper{index}"))
            .spawn(move || helper_loop(&shared))
            .ok()?;
        Some(Helper {
            mailbox,
            thread: Some(thread),
        })
    }

    pub(crate) fn post(&self, job: Job) {
        *lock(&self.mailbox.job) = Some(job);
        self.mailbox.posted.fetch_add(1, Ordering::Release);
        if let Some(thread) = &self.thread {
            thread.thread().unpark();
        }
    }

    /// Waits for the posted job's share; `None` if it panicked or the helper is gone.
    pub(crate) fn collect(&self) -> Option<Vec<f32>> {
        let want = self.mailbox.posted.load(Ordering::Relaxed);
        let mut spins = 0u32;
        while self.mailbox.done.load(Ordering::Acquire) != want {
            if self.thread.as_ref().is_none_or(|t| t.is_finished()) {
                return None;
            }
            if spins < 4096 {
                std::hint::spin_loop();
                spins += 1;
            } else {
                std::thread::yield_now();
            }
        }
        lock(&self.mailbox.result).take().flatten()
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        self.mailbox.stop.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            thread.thread().unpark();
            let _ = thread.join();
        }
    }
}

fn helper_loop(mailbox: &Mailbox) {
    let mut seen = 0;
    loop {
        let mut idle_since = None;
        let mut spins = 0u32;
        while mailbox.posted.load(Ordering::Acquire) == seen {
            if mailbox.stop.load(Ordering::Acquire) {
                return;
            }
            // Spin briefly, then yield (other threads that want this core run first),
            // then sleep until the next job.
            if spins < 1024 {
                std::hint::spin_loop();
                spins += 1;
                continue;
            }
            let since = *idle_since.get_or_insert_with(Instant::now);
            if since.elapsed() > SPIN_FOR {
                std::thread::park_timeout(Duration::from_millis(100));
            } else {
                std::thread::yield_now();
            }
        }
        seen += 1;
        let job = lock(&mailbox.job).take();
        let result = job.and_then(|job| std::panic::catch_unwind(AssertUnwindSafe(job)).ok());
        *lock(&mailbox.result) = Some(result);
        mailbox.done.store(seen, Ordering::Release);
    }
}

thread_local! {
    /// Threads that help this (rank) thread with its products.
    static HELPERS: RefCell<Vec<Helper>> = const { RefCell::new(Vec::new()) };
}

/// Gives the calling thread `threads - 1` helper threads for [`PackedF32::product`] and
/// [`PackedQuant::product`] (none for one thread). Each rank calls it once, next to libtorch's thread count.
pub fn set_threads(threads: usize) {
    let helpers = (1..threads.max(1)).filter_map(Helper::start).collect();
    HELPERS.with(|h| *h.borrow_mut() = helpers);
}

fn with_helpers<T>(f: impl FnOnce(&[Helper]) -> T) -> T {
    HELPERS.with(|h| f(&h.borrow()))
}

/// Work on `n` items that this thread shares with its helpers: `job(range)` for contiguous
/// ranges of about equal length, one per thread (the first on this one), each returning its
/// items' results; the results in item order. A helper that failed leaves its range to this
/// thread.
pub fn spread(n: usize, job: Arc<dyn Fn(Range<usize>) -> Vec<f32> + Send + Sync>) -> Vec<f32> {
    let parts = spread_parts(n, job);
    if parts.len() == 1 {
        return parts.into_iter().next().unwrap_or_default();
    }
    parts.concat()
}

/// [`spread`], the threads' results apart (in item order), for callers that copy them out
/// anyway.
pub(crate) fn spread_parts(
    n: usize,
    job: Arc<dyn Fn(Range<usize>) -> Vec<f32> + Send + Sync>,
) -> Vec<Vec<f32>> {
    with_helpers(|helpers| {
        let split = split_even(n, helpers.len() + 1);
        for (helper, range) in helpers.iter().zip(&split[1..]) {
            let (job, range) = (job.clone(), range.clone());
            helper.post(Box::new(move || job(range)));
        }
        let mut parts = vec![job(split[0].clone())];
        for (helper, range) in helpers.iter().zip(&split[1..]) {
            parts.push(helper.collect().unwrap_or_else(|| job(range.clone())));
        }
        parts
    })
}

/// Dispatches on the number of rows so the accumulators are a fixed-size array.
macro_rules! by_rows {
    ($rows:expr, $f:ident, $($arg:expr),*) => {
        match $rows {
            1 => $f::<1>($($arg),*),
            2 => $f::<2>($($arg),*),
            3 => $f::<3>($($arg),*),
            4 => $f::<4>($($arg),*),
            5 => $f::<5>($($arg),*),
            6 => $f::<6>($($arg),*),
            7 => $f::<7>($($arg),*),
            8 => $f::<8>($($arg),*),
            9 => $f::<9>($($arg),*),
            10 => $f::<10>($($arg),*),
            11 => $f::<11>($($arg),*),
            12 => $f::<12>($($arg),*),
            13 => $f::<13>($($arg),*),
            14 => $f::<14>($($arg),*),
            15 => $f::<15>($($arg),*),
            16 => $f::<16>($($arg),*),
            n => unreachable!("chunks have 1 to 16 rows, not {n}"),
        }
    };
}

/// One panel (the first `inp · LANES` floats of `stream`) times the rows of `x` (`[inp][rows]`)
/// into `out` (`[rows][LANES]`).
fn panel(isa: Isa, stream: &[f32], inp: usize, x: &[f32], rows: usize, out: &mut [f32]) {
    by_rows!(rows, panel_rows, isa, stream, inp, x, out)
}

#[inline(always)]
fn panel_rows<const R: usize>(isa: Isa, stream: &[f32], inp: usize, x: &[f32], out: &mut [f32]) {
    match isa {
        Isa::V4(simd) => simd.vectorize(
            #[inline(always)]
            || panel_with::<R, _>(simd, simd.sse, stream, inp, x, out),
        ),
        // AVX2 with 16-float vectors of two registers each: the same code as AVX-512.
        Isa::V3(simd) => simd.vectorize(
            #[inline(always)]
            || panel_with::<R, _>(V3_512b(simd), simd.sse, stream, inp, x, out),
        ),
    }
}

/// One panel times `R` rows with `simd`, whose `f32s` holds `LANES` floats; runs inside the
/// instruction set's `vectorize`.
#[inline(always)]
fn panel_with<const R: usize, S: Simd>(
    simd: S,
    sse: Sse,
    stream: &[f32],
    inp: usize,
    x: &[f32],
    out: &mut [f32],
) {
    debug_assert_eq!(S::F32_LANES, LANES);
    let panel = &stream[..inp * LANES];
    let last = stream.len() - 1;
    let mut acc = [simd.splat_f32s(0.0); R];
    for (i, (w, xi)) in panel.chunks_exact(LANES).zip(x.chunks_exact(R)).enumerate() {
        let at = (i * LANES + PREFETCH_AHEAD).min(last);
        sse._mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(stream[at..].as_ptr().cast());
        let w: S::f32s = bytemuck::pod_read_unaligned(bytemuck::cast_slice(w));
        for r in 0..R {
            acc[r] = simd.mul_add_f32s(simd.splat_f32s(xi[r]), w, acc[r]);
        }
    }
    for (o, a) in out.chunks_exact_mut(LANES).zip(acc) {
        o.copy_from_slice(bytemuck::cast_slice(bytemuck::bytes_of(&a)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Weights and inputs from a formula, and the product in f64.
    fn case(out: usize, inp: usize, rows: usize) -> (Vec<f32>, Vec<f32>, Vec<f64>) {
        let w: Vec<f32> = (0..out * inp)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) / 64.0)
            .collect();
        let x: Vec<f32> = (0..rows * inp)
            .map(|i| ((i * 13 % 29) as f32 - 14.0) / 16.0)
            .collect();
        let mut y = vec![0f64; rows * out];
        for r in 0..rows {
            for o in 0..out {
                y[r * out + o] = (0..inp)
                    .map(|i| f64::from(x[r * inp + i]) * f64::from(w[o * inp + i]))
                    .sum();
            }
        }
        (w, x, y)
    }

    fn check(isa: Isa, threads: usize) {
        set_threads(threads);
        for (out, inp) in [
            (1, 1),
            (16, 8),
            (17, 5),
            (40, 33),
            (100, 64),
            (3, 200),
            (5, 0),
        ] {
            for rows in [0, 1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 41] {
                let (w, x, want) = case(out, inp, rows);
                let packed = PackedF32::pack_for(&w, out, inp, isa);
                let got = packed.product(&x, rows);
                assert_eq!(got.len(), want.len());
                for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                    assert!(
                        (f64::from(*g) - w).abs() <= 1e-4 * (1.0 + w.abs()),
                        "{isa:?} out {out} in {inp} rows {rows} threads {threads}: \
                         element {i} is {g}, want {w}"
                    );
                }
            }
        }
        set_threads(1);
    }

    #[test]
    fn packed_products_match_f64_on_every_isa_and_thread_count() {
        // A CPU without AVX2 never takes the packed path, so there is nothing to check.
        if let Some(simd) = V4::try_new() {
            check(Isa::V4(simd), 1);
            check(Isa::V4(simd), 3);
        }
        if let Some(simd) = V3::try_new() {
            check(Isa::V3(simd), 1);
            check(Isa::V3(simd), 2);
        }
    }

    #[test]
    fn rows_come_back_unpacked() {
        let Some(isa) = Isa::detect() else { return };
        let (out, inp) = (37, 11);
        let (w, _, _) = case(out, inp, 1);
        let packed = PackedF32::pack_for(&w, out, inp, isa);
        let got = packed.rows(&[0, 36, 16, 5]).unwrap();
        let want: Vec<f32> = [0, 36, 16, 5]
            .iter()
            .flat_map(|&o| w[o * inp..(o + 1) * inp].to_vec())
            .collect();
        assert_eq!(got, want);
        assert_eq!(packed.rows(&[37]), None);
        assert_eq!(packed.rows(&[-1]), None);
    }

    #[test]
    fn even_split_covers_every_panel_once() {
        for n in 0..20 {
            for parts in 1..5 {
                let split = split_even(n, parts);
                let lens: Vec<usize> = split.iter().map(|r| r.len()).collect();
                assert_eq!(lens.iter().sum::<usize>(), n);
                assert!(lens.iter().max().unwrap() - lens.iter().min().unwrap() <= 1);
                for pair in split.windows(2) {
                    assert_eq!(pair[0].end, pair[1].start);
                }
            }
        }
    }
}
