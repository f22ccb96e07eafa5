//! TEMPORARY stub until the plaintext module lands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AppProtocol {
    Http1,
}
impl AppProtocol {
    pub fn as_str(self) -> &'static str {
        "http/1.1"
    }
}
pub fn detect(_c: &[u8], _s: &[u8], _p: u16) -> Option<AppProtocol> {
    None
}
