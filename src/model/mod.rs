//! The bottom layer: the `tls-audit/report/v1` model every other layer
//! produces or reads, the rule and control catalogues, and the report's
//! time format. It imports nothing above it (see the layer table in
//! `lib.rs`), so parsers, `verify`, compliance and the renderers can all
//! depend on it without depending on each other.
//!
//! Names: a `…Record` type (`FlowRecord`, `TcpRecord`, `ProbeRecord`...)
//! is an entry of the report; the one exception the name would invite,
//! a flow's `tls` object, is `FlowTls`, since a TLS record is the wire
//! unit `tls::record` frames.

pub mod compliance;
pub mod controls;
pub mod coverage;
pub mod enrichment;
mod finding;
pub mod inference;
pub mod inventory;
pub mod json_memo;
mod key_exchange;
pub mod kinds;
pub mod metadata;
mod probe;
pub mod report;
pub mod rules;
pub mod time;

pub use kinds::{Gate, Protection, RoleSource, Transport, WarningKind};
pub use report::Report;

/// A name in a flow record (its version, cipher suite, verdict reasons,
/// protocol names, alerts, the key exchange's groups and methods): one of
/// the registry's or the product's own words (borrowed, so a record costs
/// no allocation for them), or made from the wire (`0xNNNN`) or read from
/// a saved report (owned).
pub type Name = std::borrow::Cow<'static, str>;
