//! f32 products `x Wᵀ` for the CPU, written for decode steps.
//!
//! A decode step multiplies a few rows (one per running request) by every weight matrix, so
//! its speed is how fast the weights stream from memory. libtorch's f32 kernels read them at
//! about 12 GB/s for 8 rows on this machine's two cores, against 20+ GB/s for a plain sum, so 8
//! concurrent requests gained only ~3× over one. Here the weights are packed once, at load, as
//! panels of 16 output features (`[out/16][in][16]`, zero-padded): one pass over a panel
//! keeps a 16-wide accumulator per row in registers, every weight is read from memory once per
//! call whatever the number of rows (rows go through each panel in chunks while the panel is
//! in cache), and the next panel is prefetched. The panels are split across the rank's
//! threads.
//!
//! Only x86-64 with AVX2+FMA (`V3`) or AVX-512 (`V4`) takes this path; elsewhere (and for
//! other dtypes or devices) the caller keeps libtorch's product.
//!
//! [`PackedQuant`] does the same for GGUF's quantized blocks without dequantising them: integer
//! dot products with int8-quantized activations (see the `quant` module). Both share one pool
//! of helper threads per rank thread ([`set_threads`]).
//!
//! [`ops`] holds the rest of a decoder step on the CPU (norms, rotary embedding, attention,
//! SwiGLU), so that a step on packed weights makes no libtorch call between its products.
//!
//! Decoding ggml blocks ([`BlockKind`], [`dequantize`]) is plain Rust for every architecture
//! (the runner's GGUF loader uses it); the products are x86-64 only.
//!
//! A crate of its own so that debug builds (the test suite's) compile it optimised: unoptimised
//! SIMD wrappers are many times slower than the libtorch path they replace.

mod blocks;
pub mod ops;
#[cfg(target_arch = "x86_64")]
mod packed;
#[cfg(target_arch = "x86_64")]
mod quant;
#[cfg(target_arch = "x86_64")]
mod x86;

pub use blocks::{BlockKind, dequantize};
#[cfg(target_arch = "x86_64")]
pub use packed::{PackedF32, available, set_threads, spread};
#[cfg(target_arch = "x86_64")]
pub use quant::{PackedQuant, product_many, product_many_wide};

/// Without the helper threads (other architectures): the whole job on this thread.
#[cfg(not(target_arch = "x86_64"))]
pub fn spread(
    n: usize,
    job: std::sync::Arc<dyn Fn(std::ops::Range<usize>) -> Vec<f32> + Send + Sync>,
) -> Vec<f32> {
    job(0..n)
}
