//! The `llm-server` binary: everything lives in the library.

fn main() -> std::process::ExitCode {
    return_large_buffers_to_the_system();
    llm_cooperation::entry::server(std::env::args_os())
}

/// glibc serves a large allocation with `mmap` and unmaps it when freed, but each time it frees
/// one it raises that threshold to the freed size (up to 32 MiB): after a few multi-megabyte
/// answers, later ones come from the heap, whose freed memory glibc keeps, and the process
/// stays near the peak of its largest burst (the soak measured +30% RSS with 2% of answers at
/// 9 MiB; +5% with a fixed threshold). A fixed 1 MiB threshold keeps them returned.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn return_large_buffers_to_the_system() {
    // SAFETY: `mallopt` only sets an allocator parameter; this runs first in `main`, before
    // any other thread exists. Its result (0 when refused) leaves the default, which is safe.
    let _ = unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20) };
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn return_large_buffers_to_the_system() {}
