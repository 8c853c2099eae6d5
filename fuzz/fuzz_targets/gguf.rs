//! GGUF model files (the header, metadata and tensor directory; no libtorch needed): parsing
//! never panics or reads out of bounds, and every tensor of a file that parses has its bytes
//! inside the file.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use llm_cooperation::runner::gguf::Gguf;

fuzz_target!(|data: &[u8]| {
    let Ok(gguf) = Gguf::parse(Path::new("fuzz.gguf"), data.to_vec()) else {
        return;
    };
    for t in &gguf.tensors {
        let _ = t.shape();
        if let Ok(bytes) = gguf.bytes(t) {
            assert!(bytes.len() <= data.len());
        }
    }
    let _ = gguf.opt_str("general.architecture");
    let _ = gguf.opt_u64("llama.block_count");
    let _ = gguf.opt_f64("llama.rope.freq_base");
    let _ = gguf.opt_bool("tokenizer.ggml.add_bos_token");
    let _ = gguf.str_array("tokenizer.ggml.tokens");
    let _ = gguf.opt_int_array("tokenizer.ggml.token_type");
});
