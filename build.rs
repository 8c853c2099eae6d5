//! Build script: with feature `local`, records libtorch's library folder as an rpath, so
//! `llm-server` and the test binaries run without `LD_LIBRARY_PATH`. Without the feature it
//! does nothing.
//!
//! The rpath goes on every linked target (Cargo has no link argument for the library's own
//! unit-test binary alone); for `llm-cooperation` and `llm-config` it only says where to look.
//!
//! Those two CLIs must not depend on libtorch at all, yet they link the same library. The
//! linker pulls whole object files out of archives, so some runner code (and tch's C++ glue)
//! comes along with code the CLIs use; its C++ inline functions are also defined by
//! `libtorch_cpu.so`, so the linker exports them for interposition, which keeps them, and with
//! them libtorch, alive. `--exclude-libs,ALL` stops exporting archive symbols: the dead code is
//! then collected and `--as-needed` drops libtorch (tests/binaries.rs checks `ldd`).
//!
//! A CUDA build of libtorch (its `lib/` has `libtorch_cuda.so`) registers its GPU kernels from
//! `libtorch_cuda.so`'s static initialisers, but nothing refers to that library by symbol, so
//! `--as-needed` drops it and libtorch then sees no GPU. `llm-server` alone (the one binary
//! that runs models) links it with `--no-as-needed`; a `RUSTFLAGS` link argument would also
//! reach `llm-cooperation` and `llm-config`, which must not load libtorch.

/// Whether the libtorch in `lib` can run on a GPU: it has `libtorch_cuda.so` and the CUDA
/// libraries that one needs are installed beside it (the `nvidia-*` packages a full `pip
/// install torch` brings, under `site-packages/nvidia/*/lib`, or copies in `lib`). PyPI's
/// torch wheel installed `--no-deps` for CPU use (`.ci/deps.sh`) has the first without the
/// second: linking it there would leave `llm-server` unable to start. `LLM_COOP_CUDA=1` or
/// `0` decides instead.
fn has_cuda(lib: &std::path::Path) -> bool {
    println!("cargo:rerun-if-env-changed=LLM_COOP_CUDA");
    match std::env::var("LLM_COOP_CUDA").as_deref() {
        Ok("1") => return true,
        Ok("0") => return false,
        _ => {}
    }
    if !lib.join("libtorch_cuda.so").exists() {
        return false;
    }
    let has_cusparse = |dir: &std::path::Path| {
        std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .any(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with("libcusparse.so")
            })
    };
    // `…/site-packages/torch/lib` → `…/site-packages/nvidia/<package>/lib`.
    let nvidia = lib.join("../../nvidia");
    has_cusparse(lib)
        || std::fs::read_dir(&nvidia)
            .into_iter()
            .flatten()
            .flatten()
            .any(|package| has_cusparse(&package.path().join("lib")))
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var_os("CARGO_FEATURE_LOCAL").is_none() {
        return;
    }
    // Set by torch-sys (`links = "tch"`, `cargo:libtorch_lib=…`), visible here because
    // torch-sys is a direct dependency.
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    let Ok(lib) = std::env::var("DEP_TCH_LIBTORCH_LIB") else {
        panic!(
            "feature `local`: torch-sys did not report `DEP_TCH_LIBTORCH_LIB`; is LIBTORCH set?"
        );
    };
    println!("cargo:rustc-link-arg=-Wl,-rpath,{lib}");
    if has_cuda(std::path::Path::new(&lib)) {
        println!("cargo:rustc-link-arg-bin=llm-server=-Wl,--no-as-needed,-ltorch_cuda,--as-needed");
    }
    for bin in ["llm-cooperation", "llm-config"] {
        println!("cargo:rustc-link-arg-bin={bin}=-Wl,--exclude-libs,ALL");
    }
}
