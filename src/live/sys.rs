//! The two calls the pcap crate does not wrap: `poll(2)` on the capture's
//! descriptor (a wait with a deadline) and `pcap_get_tstamp_precision`
//! (whether timestamps came back in nanoseconds). The only unsafe code in
//! the crate; each call's contract is stated where it is made.
#![allow(unsafe_code)]

use std::os::fd::AsRawFd;
use std::time::Duration;

use pcap::{Active, Capture};

/// Wait until the handle has packets or `timeout` passes (a signal ends
/// the wait early, which is what a stop wants).
pub fn wait_readable(handle: &Capture<Active>, timeout: Duration) {
    let mut pfd = libc::pollfd {
        fd: handle.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = i32::try_from(timeout.as_millis().max(1)).unwrap_or(i32::MAX);
    // SAFETY: `pfd` is one valid, initialised pollfd that outlives the
    // call, and nfds is 1. The descriptor belongs to the live handle.
    unsafe {
        libc::poll(&mut pfd, 1, ms);
    }
}

unsafe extern "C" {
    fn pcap_get_tstamp_precision(p: *mut libc::c_void) -> libc::c_int;
}

/// libpcap's `PCAP_TSTAMP_PRECISION_NANO`.
const PRECISION_NANO: libc::c_int = 1;

/// Whether the handle's timestamps are in nanoseconds (asked for; libpcap
/// falls back to microseconds where the platform cannot).
pub fn precision_is_nano(handle: &Capture<Active>) -> bool {
    // SAFETY: `as_ptr` is the handle's live `pcap_t`, valid while `handle`
    // is borrowed; the function only reads a field of it.
    unsafe { pcap_get_tstamp_precision(handle.as_ptr().cast::<libc::c_void>()) == PRECISION_NANO }
}
