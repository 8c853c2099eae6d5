//! Model architectures. Each file reads like its paper: a `Config` from the checkpoint, one
//! struct per layer with `new` and `forward`.

pub mod llama;
