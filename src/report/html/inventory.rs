//! The HTML report's "Cryptography in use" section: the inventory's
//! configurations (PCI DSS 12.3.3), post-quantum and forward-secrecy counts
//! first. The certificate list stays in the certificate inventory section.
//! All text goes through [`super::esc`].

use std::fmt::Write;

use crate::report::inventory::{CONFIGURATION_COLUMNS, CryptoInventory};
use crate::report::model::Report;

/// Configuration rows written at most (the inventory is bounded too).
const MAX_ROWS: usize = 500;

/// Write the section; nothing when the report has no inventory.
pub fn section(report: &Report, out: &mut String) {
    let Some(inv) = report.inventory.as_ref() else {
        return;
    };
    let _ = write!(
        out,
        "<section id=\"crypto-inventory\">\n<h2>Cryptography in use ({} configurations)</h2>\n\
         <p class=\"muted\">What the captured TLS traffic negotiated, grouped by version, cipher suite, key exchange, \
         signature scheme and server certificate: input to the review PCI DSS 12.3.3 asks for. \
         Post-quantum key exchange (ML-KEM hybrids): {pq} of {tls} TLS flows; classical only: {classical}; \
         unknown: {unknown}; without forward secrecy: {nofs}.</p>\n",
        inv.configurations.len(),
        pq = inv.post_quantum_flows,
        tls = inv.tls_flows,
        classical = inv.classical_flows,
        unknown = inv.unknown_key_exchange_flows,
        nofs = inv.no_forward_secrecy_flows,
    );
    table(inv, out);
    out.push_str("</section>\n");
}

fn table(inv: &CryptoInventory, out: &mut String) {
    if inv.configurations.is_empty() {
        out.push_str("<p>No TLS flow was seen.</p>\n");
        return;
    }
    super::columns_table(
        out,
        &CONFIGURATION_COLUMNS,
        inv.configurations.iter().map(|u| u.cells()),
        MAX_ROWS,
        "more configurations in the JSON report (`-o inventory`).",
    );
    if inv.flows_not_inventoried > 0 {
        let _ = writeln!(
            out,
            "<p class=\"muted\">{} flows of further configurations were counted but not listed.</p>",
            inv.flows_not_inventoried
        );
    }
}
