//! The calls the pcap crate does not wrap: `poll(2)` on the capture's
//! descriptor (a wait with a deadline), `pcap_get_tstamp_precision`
//! (whether timestamps came back in nanoseconds) and the `PACKET_FANOUT`
//! socket option (packet(7)) that spreads one interface's packets over
//! several capture sockets. The only unsafe code in the crate; each call's
//! contract is stated where it is made.
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

/// `PACKET_FANOUT_FLAG_UNIQUEID` (linux/if_packet.h, Linux 4.3): the kernel
/// picks a group id no other fanout group uses.
const FANOUT_FLAG_UNIQUEID: u32 = 0x2000;
/// `PACKET_FANOUT_FLAG_DEFRAG`: IP fragments are reassembled before the
/// hash, so every fragment of a datagram reaches the same socket.
const FANOUT_FLAG_DEFRAG: u32 = 0x8000;
/// Hash mode (`PACKET_FANOUT_HASH`) with fragments reassembled first.
const FANOUT_MODE: u32 = libc::PACKET_FANOUT_HASH | FANOUT_FLAG_DEFRAG;

/// Make `handle`'s socket the first of a new fanout group in hash mode
/// with a group id the kernel chooses (unique among the host's fanout
/// groups, whatever process or container made them); returns the id.
pub fn fanout_create(handle: &Capture<Active>) -> std::io::Result<u16> {
    set_fanout(handle, (FANOUT_MODE | FANOUT_FLAG_UNIQUEID) << 16)?;
    let mut val: u32 = 0;
    let mut len = std::mem::size_of::<u32>() as libc::socklen_t;
    // SAFETY: `val` and `len` are valid for writes for the call's duration,
    // and `len` holds `val`'s size; PACKET_FANOUT reads back an int.
    let rc = unsafe {
        libc::getsockopt(
            handle.as_raw_fd(),
            libc::SOL_PACKET,
            libc::PACKET_FANOUT,
            (&raw mut val).cast::<libc::c_void>(),
            &raw mut len,
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // The value is the id | type << 16 | flags << 24 (af_packet.c).
    Ok((val & 0xffff) as u16)
}

/// Join `handle`'s socket to the fanout group `group` made by
/// [`fanout_create`].
pub fn fanout_join(handle: &Capture<Active>, group: u16) -> std::io::Result<()> {
    set_fanout(handle, (FANOUT_MODE << 16) | u32::from(group))
}

fn set_fanout(handle: &Capture<Active>, val: u32) -> std::io::Result<()> {
    // SAFETY: `val` is a valid u32 for reads during the call and the
    // length given is its size; the descriptor belongs to the live handle.
    let rc = unsafe {
        libc::setsockopt(
            handle.as_raw_fd(),
            libc::SOL_PACKET,
            libc::PACKET_FANOUT,
            (&raw const val).cast::<libc::c_void>(),
            std::mem::size_of::<u32>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}
