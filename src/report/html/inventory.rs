//! The HTML report's "Cryptography in use" section: the inventory's
//! configurations (PCI DSS 12.3.3), post-quantum and forward-secrecy counts
//! first. The certificate list stays in the certificate inventory section.
//! All text is escaped by [`Html`].

use super::markup::{Html, html};
use crate::report::inventory::{CONFIGURATION_COLUMNS, CryptoInventory};
use crate::report::model::Report;

/// Configuration rows written at most (the inventory is bounded too).
const MAX_ROWS: usize = 500;

/// Write the section; nothing when the report has no inventory.
pub fn section(report: &Report, out: &mut Html) {
    let Some(inv) = report.inventory.as_ref() else {
        return;
    };
    html!(out; "<section id=\"crypto-inventory\">\n<h2>Cryptography in use (" (inv.configurations.len())
        " configurations)</h2>\n<p class=\"muted\">What the captured TLS traffic negotiated, grouped by version, cipher suite, key exchange, \
         signature scheme and server certificate: input to the review PCI DSS 12.3.3 asks for. \
         Post-quantum key exchange (ML-KEM hybrids): " (inv.post_quantum_flows) " of " (inv.tls_flows)
        " TLS flows; classical only: " (inv.classical_flows) "; unknown: " (inv.unknown_key_exchange_flows)
        "; without forward secrecy: " (inv.no_forward_secrecy_flows) ".</p>\n");
    table(inv, out);
    html!(out; "</section>\n");
}

fn table(inv: &CryptoInventory, out: &mut Html) {
    if inv.configurations.is_empty() {
        html!(out; "<p>No TLS flow was seen.</p>\n");
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
        html!(out; "<p class=\"muted\">" (inv.flows_not_inventoried)
            " flows of further configurations were counted but not listed.</p>\n");
    }
}
