#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    tls_audit_fuzz::capture_ahead(data);
});
