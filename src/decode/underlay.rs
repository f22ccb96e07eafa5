//! TEMPORARY stub until the underlay module lands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Underlay {
    Esp,
    WireGuard,
    Vxlan,
    Geneve,
    WeaveSleeve,
    WeaveControl,
}
pub fn classify_udp(_s: u16, _d: u16, _p: &[u8]) -> Option<Underlay> {
    None
}
pub fn inner_ethernet_offset(_k: Underlay, _p: &[u8]) -> Option<usize> {
    None
}
