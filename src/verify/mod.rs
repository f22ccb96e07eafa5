//! Verification: facts become findings. This first part checks SPIFFE IDs
//! and X509-SVID certificates against the SPIFFE specifications; the rules
//! that turn them into report findings (`TA-SVID-INVALID`, ...) build on it.

pub mod spiffe;
