//! The cryptographic inventory: what the captured TLS traffic actually
//! negotiated, grouped, counted and located, and the certificates it
//! carried. It is the input an auditor needs for PCI DSS v4.0.1
//! Requirement 12.3.3 (cipher suites and protocols in use, documented and
//! reviewed) and 4.2.1.1 (inventory of trusted keys and certificates), and
//! for a post-quantum migration plan (which connections still use
//! classical-only key exchange, and where).
//!
//! Public API (for the report's sections, `-o inventory`, and the
//! compliance views that cite it):
//! - [`InventoryBuilder`]: feed it every flow ([`InventoryBuilder::flow`]),
//!   in report order, then [`InventoryBuilder::finish`] gives a
//!   [`CryptoInventory`]. Memory is bounded ([`MAX_CONFIGURATIONS`],
//!   [`MAX_CERTIFICATES`], [`MAX_PLACES`] per entry); what did not fit is
//!   counted, never silently dropped. Which entries and places fit then
//!   depends on the order flows came in; until a bound is reached (and
//!   while each certificate digest comes with the same facts) the result
//!   does not, which [`InventoryBuilder::order_sensitive`] tells, so flows
//!   can be fed as they finish and fed again in report order only when it
//!   matters.
//! - [`CryptoInventory::configurations`]: one [`CryptoUse`] per distinct
//!   (version, cipher suite, key-exchange group, signature scheme, server
//!   certificate key, server certificate signature algorithm), with flow
//!   counts, first/last seen, workloads and endpoints: the 12.3.3 table.
//! - [`CryptoInventory::certificates`]: one [`CertificateUse`] per distinct
//!   certificate (by SHA-256) with issuer, subject, SPIFFE ID, serial,
//!   validity and where it was seen: the 4.2.1.1 list.
//! - [`render_configurations_csv`] and [`render_certificates_csv`]: the two
//!   tables as CSV (RFC 4180; cells that a spreadsheet would run as a
//!   formula are prefixed with `'`).
//!
//! Everything here is a fact from the wire; a field the wire did not show
//! (certificates of TLS 1.3 without a key log, the group of a resumed TLS 1.2
//! session) is null and the entry says why (`unknown`).

use std::collections::BTreeMap;

use super::model::{FlowRecord, FlowTls, KeyExchangeRecord};
use crate::model::time::CaptureTime;
use crate::x509::Certificate;

/// Distinct configurations kept; flows of further ones are counted in
/// [`CryptoInventory::flows_not_inventoried`].
pub const MAX_CONFIGURATIONS: usize = 4096;
/// Distinct certificates kept.
pub const MAX_CERTIFICATES: usize = 16384;
/// Workloads and endpoints listed per entry; more are counted.
pub const MAX_PLACES: usize = 32;

pub use crate::model::inventory::{CertificateUse, CryptoInventory, CryptoUse};

/// The grouping key of a configuration.
type UseKey = (
    Option<String>,
    Option<String>,
    Option<String>,
    Option<bool>,
    Option<bool>,
    Option<String>,
    Option<String>,
    Option<String>,
    Vec<String>,
);

/// Builds a [`CryptoInventory`] from flows, bounded.
#[derive(Debug, Default)]
pub struct InventoryBuilder {
    inv: CryptoInventory,
    uses: BTreeMap<UseKey, CryptoUse>,
    certs: BTreeMap<String, CertificateUse>,
    /// A bound was reached, or a certificate digest came with other facts
    /// than before: the result depends on the order flows came in.
    order_sensitive: bool,
}

impl InventoryBuilder {
    /// Count one flow (non-TLS flows are ignored).
    pub fn flow(&mut self, f: &FlowRecord) {
        let Some(tls) = f.tls.as_deref() else { return };
        if f.protection != crate::model::Protection::Tls {
            return;
        }
        let inv = &mut self.inv;
        inv.tls_flows += 1;
        let k = tls.key_exchange.as_ref();
        match k.and_then(|k| k.post_quantum) {
            Some(true) => inv.post_quantum_flows += 1,
            Some(false) => inv.classical_flows += 1,
            None => inv.unknown_key_exchange_flows += 1,
        }
        if k.and_then(|k| k.forward_secrecy) == Some(false) {
            inv.no_forward_secrecy_flows += 1;
        }
        let key = use_key(tls, k);
        let workloads = [workload(&f.client), workload(&f.server)];
        let server = endpoint(&f.server);
        let full = self.uses.len() >= MAX_CONFIGURATIONS;
        match self.uses.get_mut(&key) {
            Some(u) => self.order_sensitive |= touch_use(u, f, &workloads, &server),
            None if full => {
                inv.flows_not_inventoried += 1;
                self.order_sensitive = true;
            }
            None => {
                let mut u = CryptoUse {
                    version: key.0.clone(),
                    cipher_suite: key.1.clone(),
                    key_exchange: key.2.clone(),
                    post_quantum: key.3,
                    forward_secrecy: key.4,
                    signature_scheme: key.5.clone(),
                    certificate_key: key.6.clone(),
                    certificate_signature: key.7.clone(),
                    unknown: key.8.clone(),
                    first_seen: f.first_seen,
                    last_seen: f.last_seen,
                    ..CryptoUse::default()
                };
                self.order_sensitive |= touch_use(&mut u, f, &workloads, &server);
                self.uses.insert(key, u);
            }
        }
        // A client's port is ephemeral: its certificates are placed by address.
        let client = f.client.ip.clone();
        for (role, chain, at, who) in [
            ("server", &tls.server_chain, &server, &workloads[1]),
            ("client", &tls.client_chain, &client, &workloads[0]),
        ] {
            for (i, c) in chain.iter().enumerate() {
                self.certificate(c, role, i == 0, f, at, who);
            }
        }
    }

    fn certificate(
        &mut self,
        c: &Certificate,
        role: &str,
        leaf: bool,
        f: &FlowRecord,
        at: &str,
        who: &Option<String>,
    ) {
        let full = self.certs.len() >= MAX_CERTIFICATES;
        let entry = match self.certs.get_mut(&c.sha256) {
            Some(e) => {
                // The facts kept are those of the digest's first flow.
                self.order_sensitive |= !same_facts(e, c);
                e
            }
            None if full => {
                self.inv.certificates_not_inventoried += 1;
                self.order_sensitive = true;
                return;
            }
            None => self
                .certs
                .entry(c.sha256.clone())
                .or_insert_with(|| CertificateUse {
                    sha256: c.sha256.clone(),
                    subject: c.subject.clone(),
                    issuer: c.issuer.clone(),
                    spiffe_id: c.spiffe_id.clone(),
                    serial: c.serial.clone(),
                    not_before: c.not_before.clone(),
                    not_after: c.not_after.clone(),
                    key: key_name(c),
                    signature_algorithm: c.signature_algorithm.clone(),
                    is_ca: c.is_ca,
                    first_seen: f.first_seen,
                    last_seen: f.last_seen,
                    ..CertificateUse::default()
                }),
        };
        entry.flows += 1;
        entry.leaf |= leaf;
        if !entry.roles.iter().any(|r| r == role) {
            entry.roles.push(role.to_string());
            entry.roles.sort();
        }
        widen(&mut entry.first_seen, &mut entry.last_seen, f);
        let mut capped = add_place(&mut entry.seen_at, &mut entry.more_seen_at, at);
        if let Some(w) = who {
            capped |= add_place(&mut entry.workloads, &mut entry.more_workloads, w);
        }
        self.order_sensitive |= capped;
    }

    /// Whether the inventory depends on the order flows were fed in: a
    /// bound was reached (which configurations, certificates and places
    /// were kept, and what was counted instead, is first come first
    /// served), or one certificate digest came with different facts (a
    /// record read from JSON; the first flow's are kept). When false, any
    /// order gives the same inventory: entries are keyed, counted, widened
    /// to the earliest and latest flow, and their lists sorted.
    pub fn order_sensitive(&self) -> bool {
        self.order_sensitive
    }

    /// The inventory: configurations by flows (most first), certificates by
    /// subject.
    pub fn finish(self) -> CryptoInventory {
        let mut inv = self.inv;
        inv.configurations = self.uses.into_values().collect();
        inv.configurations.sort_by(|a, b| {
            b.flows
                .cmp(&a.flows)
                .then_with(|| a.first_seen.cmp(&b.first_seen))
        });
        inv.certificates = self.certs.into_values().collect();
        inv.certificates.sort_by(|a, b| {
            (a.subject.as_deref(), &a.sha256).cmp(&(b.subject.as_deref(), &b.sha256))
        });
        inv
    }
}

impl CryptoInventory {
    /// The inventory of a whole in-memory report.
    pub fn of_flows<'a>(flows: impl IntoIterator<Item = &'a FlowRecord>) -> CryptoInventory {
        let mut b = InventoryBuilder::default();
        for f in flows {
            b.flow(f);
        }
        b.finish()
    }
}

fn use_key(tls: &FlowTls, k: Option<&KeyExchangeRecord>) -> UseKey {
    let leaf = tls.server_chain.first();
    let mut unknown = Vec::new();
    if leaf.is_none() {
        unknown.push(if tls.certificates_encrypted {
            "certificates-encrypted".to_string()
        } else {
            "certificates-not-seen".to_string()
        });
    }
    if let Some(r) = k.and_then(|k| k.unknown_reason.as_deref()) {
        unknown.push(format!("key-exchange-{r}"));
    }
    (
        tls.version.as_deref().map(str::to_string),
        tls.cipher_suite.as_deref().map(str::to_string),
        k.and_then(key_exchange_name),
        k.and_then(|k| k.post_quantum),
        k.and_then(|k| k.forward_secrecy),
        k.and_then(|k| k.signature_scheme.as_deref().map(str::to_string)),
        leaf.and_then(|c| key_name(c)),
        leaf.and_then(|c| c.signature_algorithm.clone()),
        unknown,
    )
}

/// The inventory's name of a key exchange: the group, `dhe-<bits>`, or the method.
fn key_exchange_name(k: &KeyExchangeRecord) -> Option<String> {
    if let Some(g) = &k.group {
        return Some(g.to_string());
    }
    match (k.method.as_deref(), k.group_bits) {
        (Some("dhe"), Some(bits)) => Some(format!("dhe-{bits}")),
        (Some(m), _) => Some(m.to_string()),
        (None, _) => None,
    }
}

/// `RSA 2048`, `EC P-256`, `Ed25519`, or the key type alone.
pub fn key_name(c: &Certificate) -> Option<String> {
    let t = c.key_type.as_deref()?;
    Some(match (&c.ec_curve, c.key_bits) {
        (Some(curve), _) => format!("{t} {curve}"),
        (None, Some(bits)) if !matches!(t, "Ed25519" | "Ed448") => format!("{t} {bits}"),
        _ => t.to_string(),
    })
}

/// Count a flow of `u`; true when a list of places was full (see [`add_place`]).
fn touch_use(
    u: &mut CryptoUse,
    f: &FlowRecord,
    workloads: &[Option<String>; 2],
    server: &str,
) -> bool {
    u.flows += 1;
    widen(&mut u.first_seen, &mut u.last_seen, f);
    let mut capped = false;
    for w in workloads.iter().flatten() {
        capped |= add_place(&mut u.workloads, &mut u.more_workloads, w);
    }
    capped | add_place(&mut u.endpoints, &mut u.more_endpoints, server)
}

/// Whether `c` has the facts `e` was made with.
fn same_facts(e: &CertificateUse, c: &Certificate) -> bool {
    e.subject == c.subject
        && e.issuer == c.issuer
        && e.spiffe_id == c.spiffe_id
        && e.serial == c.serial
        && e.not_before == c.not_before
        && e.not_after == c.not_after
        && e.signature_algorithm == c.signature_algorithm
        && e.is_ca == c.is_ca
        && e.key == key_name(c)
}

fn widen(first: &mut CaptureTime, last: &mut CaptureTime, f: &FlowRecord) {
    *first = (*first).min(f.first_seen);
    *last = (*last).max(f.last_seen);
}

/// Add `place` to a sorted list of at most [`MAX_PLACES`], else count it
/// in `more`; true when it was counted (which places fit depends on the
/// order they came in).
fn add_place(list: &mut Vec<String>, more: &mut u64, place: &str) -> bool {
    if list.iter().any(|p| p == place) {
        return false;
    }
    if list.len() < MAX_PLACES {
        list.push(place.to_string());
        list.sort();
        false
    } else {
        *more += 1;
        true
    }
}

/// `namespace/pod`, or `node/NAME`; None for an address nothing names.
fn workload(e: &super::model::Endpoint) -> Option<String> {
    match (&e.pod, &e.node) {
        (Some(p), _) => Some(format!("{}/{}", p.namespace, p.name)),
        (None, Some(n)) => Some(format!("node/{n}")),
        _ => None,
    }
}

/// `ip:port`, with ` (svc namespace/name)` when the address is a Service's.
fn endpoint(e: &super::model::Endpoint) -> String {
    let addr = e.socket();
    match &e.service {
        Some(s) => format!("{addr} (svc {s})"),
        None => addr,
    }
}

/// One CSV cell (RFC 4180), defused for spreadsheets: a cell that begins
/// with `=`, `+`, `-`, `@`, tab or CR gets a leading `'` (OWASP CSV injection).
fn cell(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

fn row(cells: &[String]) -> String {
    let mut line = cells.iter().map(|c| cell(c)).collect::<Vec<_>>().join(",");
    line.push_str("\r\n");
    line
}

fn opt(s: &Option<String>) -> String {
    s.clone().unwrap_or_default()
}

fn flag(b: Option<bool>) -> String {
    match b {
        Some(true) => "yes",
        Some(false) => "no",
        None => "",
    }
    .to_string()
}

fn places(list: &[String], more: u64) -> String {
    let mut s = list.join(" ");
    if more > 0 {
        s.push_str(&format!(" (+{more} flows elsewhere)"));
    }
    s
}

/// The configuration table's column headers, in order (CSV, Markdown, HTML).
pub const CONFIGURATION_COLUMNS: [&str; 14] = [
    "version",
    "cipher_suite",
    "key_exchange",
    "post_quantum",
    "forward_secrecy",
    "signature_scheme",
    "certificate_key",
    "certificate_signature",
    "flows",
    "first_seen",
    "last_seen",
    "workloads",
    "endpoints",
    "unknown",
];

impl CryptoUse {
    /// The cells of its row, under [`CONFIGURATION_COLUMNS`]: booleans as
    /// `yes`/`no` (empty when unknown), lists space-separated.
    pub fn cells(&self) -> [String; 14] {
        [
            opt(&self.version),
            opt(&self.cipher_suite),
            opt(&self.key_exchange),
            flag(self.post_quantum),
            flag(self.forward_secrecy),
            opt(&self.signature_scheme),
            opt(&self.certificate_key),
            opt(&self.certificate_signature),
            self.flows.to_string(),
            self.first_seen.to_string(),
            self.last_seen.to_string(),
            places(&self.workloads, self.more_workloads),
            places(&self.endpoints, self.more_endpoints),
            self.unknown.join(" "),
        ]
    }
}

/// The configurations as CSV: the PCI DSS 12.3.3 table.
pub fn render_configurations_csv(inv: &CryptoInventory) -> String {
    let mut out = row(&CONFIGURATION_COLUMNS.map(String::from));
    for u in &inv.configurations {
        out.push_str(&row(&u.cells()));
    }
    out
}

/// The certificates as CSV: input to the PCI DSS 4.2.1.1 inventory.
pub fn render_certificates_csv(inv: &CryptoInventory) -> String {
    let mut out = row(&[
        "subject",
        "issuer",
        "spiffe_id",
        "serial",
        "not_before",
        "not_after",
        "key",
        "signature_algorithm",
        "is_ca",
        "roles",
        "flows",
        "first_seen",
        "last_seen",
        "seen_at",
        "workloads",
        "sha256",
    ]
    .map(String::from));
    for c in &inv.certificates {
        out.push_str(&row(&[
            opt(&c.subject),
            opt(&c.issuer),
            opt(&c.spiffe_id),
            opt(&c.serial),
            opt(&c.not_before),
            opt(&c.not_after),
            opt(&c.key),
            opt(&c.signature_algorithm),
            flag(c.is_ca),
            c.roles.join(" "),
            c.flows.to_string(),
            c.first_seen.to_string(),
            c.last_seen.to_string(),
            places(&c.seen_at, c.more_seen_at),
            places(&c.workloads, c.more_workloads),
            c.sha256.clone(),
        ]));
    }
    out
}

/// Configuration rows the Markdown summary lists (a PR comment must stay
/// small); the rest are counted.
const MAX_MARKDOWN_ROWS: usize = 30;

/// The Markdown summary's "Cryptography in use" section; nothing when the
/// report has no inventory or no TLS flow.
pub fn markdown_section(report: &super::Report, out: &mut String) {
    use super::markdown::md;
    use std::fmt::Write;
    let Some(inv) = report.inventory.as_ref().filter(|i| i.tls_flows > 0) else {
        return;
    };
    let _ = writeln!(
        out,
        "\n### Cryptography in use\n\n{} TLS flows: {} post-quantum, {} classical only, {} unknown; {} without forward secrecy.\n\n\
         | version | cipher suite | key exchange | PQ | FS | signature | certificate key | flows | last seen |\n\
         |---|---|---|---|---|---|---|---:|---|",
        inv.tls_flows,
        inv.post_quantum_flows,
        inv.classical_flows,
        inv.unknown_key_exchange_flows,
        inv.no_forward_secrecy_flows
    );
    // version, suite, key exchange, PQ, FS, signature, certificate key, flows, last seen
    const SHOWN: [usize; 9] = [0, 1, 2, 3, 4, 5, 6, 8, 10];
    for u in inv.configurations.iter().take(MAX_MARKDOWN_ROWS) {
        let cells = u.cells();
        let row: Vec<String> = SHOWN
            .iter()
            .map(|i| md(cells.get(*i).map_or("", String::as_str)))
            .collect();
        let _ = writeln!(out, "| {} |", row.join(" | "));
    }
    if inv.configurations.len() > MAX_MARKDOWN_ROWS {
        let _ = writeln!(
            out,
            "\n{} more configurations: `tls-audit report REPORT.json -o inventory`.",
            inv.configurations.len() - MAX_MARKDOWN_ROWS
        );
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn cells_are_quoted_and_defused() {
        assert_eq!(cell("plain"), "plain");
        assert_eq!(cell("a,b"), "\"a,b\"");
        assert_eq!(cell("say \"x\""), "\"say \"\"x\"\"\"");
        assert_eq!(cell("=HYPERLINK(1)"), "'=HYPERLINK(1)");
        assert_eq!(cell("-1,2"), "\"'-1,2\"");
        assert_eq!(cell("line\nbreak"), "\"line\nbreak\"");
    }

    #[test]
    fn places_are_bounded() {
        let (mut list, mut more) = (Vec::new(), 0);
        for i in 0..(MAX_PLACES + 5) {
            add_place(&mut list, &mut more, &format!("10.0.0.{i}:443"));
            add_place(&mut list, &mut more, &format!("10.0.0.{i}:443"));
        }
        // Flows at unlisted places are counted, each time.
        assert_eq!((list.len(), more), (MAX_PLACES, 10));
    }

    /// A TLS flow from `client` to `server`:443 at second `t`, whose server
    /// sent a certificate with this digest and subject.
    pub(crate) fn tls_flow(
        t: u32,
        client: &str,
        server: &str,
        sha: &str,
        subject: &str,
    ) -> FlowRecord {
        let cert = serde_json::json!({"subject": subject, "issuer": "CN=ca", "serial": "01",
            "not_before": null, "not_after": null, "sha256": sha, "dns_names": [],
            "uris": [], "ip_addresses": [], "emails": [], "spiffe_id": null,
            "key_type": "EC", "key_bits": 256, "ec_curve": "P-256",
            "signature_algorithm": null, "is_ca": null, "path_len": null,
            "key_usage": [], "extended_key_usage": [], "self_signed": false,
            "der_len": 0, "parse_error": null});
        let tls = serde_json::json!({"handshake_seen": true, "version": "TLS1.2",
            "cipher_suite": "TLS_AES_128_GCM_SHA256", "sni": null, "alpn_offered": [],
            "alpn": null, "resumed": false, "client_cert_requested": false, "mutual": false,
            "mutual_evidence": null, "mutual_unknown_reason": null, "mutual_inference": null,
            "server_chain": [cert], "client_chain": [], "certificates_encrypted": false,
            "ja4": null, "versions_offered": [], "hello_retry_request": false,
            "starttls": false, "alerts": [], "record_version": null, "notes": []});
        serde_json::from_value(serde_json::json!({
            "transport": "tcp", "client": {"ip": client, "port": 40000},
            "server": {"ip": server, "port": 443}, "role_source": "syn",
            "first_seen": format!("2026-11-27T11:00:{t:02}.000000Z"),
            "last_seen": format!("2026-11-27T11:01:{t:02}.000000Z"), "packets": 4, "bytes": 100,
            "protection": "tls", "app_protocol": null, "tcp": null, "inside": null,
            "ended_by": null, "truncated": false, "tls": tls
        }))
        .unwrap()
    }

    fn fed(flows: &[&FlowRecord]) -> InventoryBuilder {
        let mut b = InventoryBuilder::default();
        flows.iter().for_each(|f| b.flow(f));
        b
    }

    /// Below the bounds, the order flows come in (the order they finish,
    /// which the spill file gathers them in) changes nothing.
    #[test]
    fn below_the_bounds_any_order_gives_the_same_inventory() {
        let flows: Vec<FlowRecord> = (0..12u32)
            .map(|i| {
                let server = format!("10.0.1.{}", i % 5);
                let sha = ["aa", "bb", "cc"][(i % 3) as usize];
                tls_flow(
                    i,
                    &format!("10.0.0.{i}"),
                    &server,
                    sha,
                    &format!("CN={sha}"),
                )
            })
            .collect();
        let forward: Vec<&FlowRecord> = flows.iter().collect();
        let reverse: Vec<&FlowRecord> = flows.iter().rev().collect();
        let mut shuffled = forward.clone();
        shuffled.rotate_left(5);
        shuffled.swap(0, 7);
        let want = fed(&forward);
        assert!(!want.order_sensitive());
        let want = want.finish();
        assert_eq!(want.certificates.len(), 3);
        assert_eq!(want.configurations[0].endpoints.len(), 5);
        for order in [reverse, shuffled] {
            let b = fed(&order);
            assert!(!b.order_sensitive());
            assert_eq!(b.finish(), want);
        }
    }

    /// A full list of places, or one digest with two sets of facts, makes
    /// the inventory depend on the order: then it is built in report order.
    #[test]
    fn bounds_and_conflicting_facts_are_order_sensitive() {
        let many: Vec<FlowRecord> = (0..=MAX_PLACES as u32)
            .map(|i| tls_flow(i % 60, "10.0.0.1", &format!("10.0.2.{i}"), "aa", "CN=a"))
            .collect();
        let forward: Vec<&FlowRecord> = many.iter().collect();
        let reverse: Vec<&FlowRecord> = many.iter().rev().collect();
        let (a, b) = (fed(&forward), fed(&reverse));
        assert!(a.order_sensitive() && b.order_sensitive());
        // Which endpoints were kept differs: first come, first listed.
        assert_ne!(a.finish(), b.finish());
        let first = tls_flow(1, "10.0.0.1", "10.0.1.1", "aa", "CN=a");
        let other = tls_flow(2, "10.0.0.1", "10.0.1.1", "aa", "CN=someone else");
        assert!(!fed(&[&first, &first]).order_sensitive());
        assert!(fed(&[&first, &other]).order_sensitive());
    }
}
