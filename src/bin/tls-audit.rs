//! `tls-audit`: see `tls-audit --help`. All logic lives in the library.
fn main() {
    std::process::exit(tls_audit::cli::main());
}
