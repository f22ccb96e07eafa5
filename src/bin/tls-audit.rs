//! `tls-audit`: see `tls-audit --help`. All logic lives in the library.

/// mimalloc rather than glibc's malloc: with `analyze --threads 2` flow
/// records are built on the analysing thread and freed on the sink's
/// (`engine::behind`), which glibc's per-thread arenas make costly
/// (`docs/threads.md`, "The sink behind").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` (mimalloc v3's `mi_option_e`, as bundled with
/// libmimalloc-sys 0.1.49, which Cargo.toml pins for that reason): how
/// long freed memory is kept before it goes back to the system.
const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

fn main() {
    // Freed memory goes back at once: the default (a second) kept a run's
    // peak RSS well above glibc's (66-74 MiB against 52 on a key-log
    // capture).
    #[allow(unsafe_code)]
    // SAFETY: sets an integer option of the allocator; any value is valid
    // for this option and mimalloc reads options atomically.
    unsafe {
        libmimalloc_sys::mi_option_set(PURGE_DELAY, 0);
    }
    std::process::exit(tls_audit::cli::main());
}
