//! `kubectl-tls_audit`: the same program as `tls-audit`, under the name
//! kubectl looks for when a user types `kubectl tls-audit ...`.
fn main() {
    std::process::exit(tls_audit::cli::main());
}
