//! `tls-audit`: see `tls-audit --help`. All logic lives in the library.

/// mimalloc rather than glibc's malloc: with `analyze --threads 2` flow
/// records are built on the analysing thread and freed on the sink's
/// (`engine::behind`), which glibc's per-thread arenas make costly
/// (`docs/threads.md`, "The sink behind").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc v3's `mi_option_e` numbers, as bundled with libmimalloc-sys
/// 0.1.49, which Cargo.toml pins for that reason.
mod option {
    use libmimalloc_sys::mi_option_t;
    /// How long freed memory is kept before it goes back to the system (ms).
    pub const PURGE_DELAY: mi_option_t = 15;
    /// 2: the collection mimalloc runs at process exit is skipped.
    pub const DESTROY_ON_EXIT: mi_option_t = 22;
}

fn main() {
    #[allow(unsafe_code)]
    // SAFETY: sets integer options of the allocator before it is used by
    // more than this thread; any value is valid for these options and
    // mimalloc reads options atomically.
    unsafe {
        // Freed memory goes back after 10 ms. mimalloc's default (a
        // second) put peak RSS on a key-log capture at 66-74 MiB; purging
        // at once cost an `analyze` run 4-6 % more CPU in page faults and
        // TLB shootdowns, as memory freed on the sink's thread went back
        // and was touched again (`docs/threads.md`, "The sink behind").
        libmimalloc_sys::mi_option_set(option::PURGE_DELAY, 10);
        // The process ends right after: its memory goes with it, so
        // mimalloc's own collection at exit (a millisecond and more of
        // freeing and purging after a large report) is skipped.
        libmimalloc_sys::mi_option_set(option::DESTROY_ON_EXIT, 2);
    }
    std::process::exit(tls_audit::cli::main());
}
