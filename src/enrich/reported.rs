//! The record of enrichment an agent did, rebuilt from the flows it
//! reported (`analyze --events`, `kubectl tls-audit pod`), and the merge of
//! that record with this run's own.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::model::enrichment::{ChainSource, EnrichedEndpoint, EnrichmentRecord};
use crate::model::report::FlowRecord;
use crate::x509::Certificate;

/// Endpoints a replayed stream's record lists at most (a hostile stream
/// can name any number).
pub(super) const MAX_REPORTED_ENDPOINTS: usize = 4096;

/// Bytes of text one replayed endpoint entry may carry.
const MAX_REPORTED_ENTRY_BYTES: usize = 4096;

/// The record of the enrichment an agent did (`capture --enrich probe`),
/// rebuilt from the flows it reported, as they were read back: the
/// stream's own summary is a claim, the flows carry the chains (whose DER
/// the reader checked). Its vantage says the agent reported it.
#[derive(Default)]
pub struct Reported {
    endpoints: BTreeMap<(String, Option<String>, Vec<String>), EnrichedEndpoint>,
    vantages: BTreeSet<String>,
    over_limit: u64,
    flows_enriched: u64,
    flows_not_enriched: u64,
    client_identities: u64,
}

impl Reported {
    /// Count one replayed flow's enrichment, if it has any.
    pub fn observe(&mut self, rec: &FlowRecord) {
        let Some(tls) = rec.tls.as_deref() else {
            return;
        };
        let Some(e) = tls.enrichment.as_deref() else {
            return;
        };
        if let Some(src) = &e.server_chain_source {
            self.flows_enriched += 1;
            self.endpoint(src, &tls.server_chain, None);
        } else if let Some(err) = &e.server_error {
            self.flows_not_enriched += 1;
            if err.starts_with("not-enabled") {
                // Nobody asked: no endpoint to list.
                return;
            }
            let src = ChainSource {
                source: "probe".into(),
                obtained_at: rec.last_seen.to_string(),
                endpoint: rec.server.socket(),
                sni: tls.sni.clone(),
                alpn_offered: tls.alpn_offered.clone(),
                version: None,
                matches_wire: None,
                same_on_repeat: None,
                vantage: String::new(),
                cipher_suite: None,
                client_cert_requested: false,
            };
            self.endpoint(&src, &[], Some(err));
        }
        if let Some(id) = &e.client_identity {
            self.client_identities += 1;
            self.endpoint(&id.source, &id.chain, None);
        }
    }

    fn endpoint(&mut self, src: &ChainSource, chain: &[Arc<Certificate>], error: Option<&str>) {
        // A stream's strings are the agent's (or an attacker's): an entry
        // larger than any real one is not kept (a host name, an address,
        // an SNI of at most 255 bytes, a few ALPN names).
        let size = src.vantage.len()
            + src.endpoint.len()
            + src.sni.as_ref().map_or(0, String::len)
            + src.alpn_offered.iter().map(String::len).sum::<usize>()
            + error.map_or(0, str::len);
        if size > MAX_REPORTED_ENTRY_BYTES || src.alpn_offered.len() > 32 {
            self.over_limit += 1;
            return;
        }
        if !src.vantage.is_empty() && self.vantages.len() < 64 {
            self.vantages.insert(src.vantage.clone());
        }
        let key = (
            src.endpoint.clone(),
            src.sni.clone(),
            src.alpn_offered.clone(),
        );
        if !self.endpoints.contains_key(&key) && self.endpoints.len() >= MAX_REPORTED_ENDPOINTS {
            self.over_limit += 1;
            return;
        }
        let e = self
            .endpoints
            .entry(key)
            .or_insert_with(|| EnrichedEndpoint {
                endpoint: src.endpoint.clone(),
                sni: src.sni.clone(),
                alpn_offered: src.alpn_offered.clone(),
                obtained_at: src.obtained_at.clone(),
                version: src.version.clone(),
                cipher_suite: src.cipher_suite.clone(),
                chain_sha256: chain.iter().map(|c| c.sha256.clone()).collect(),
                client_cert_requested: src.client_cert_requested,
                same_on_repeat: src.same_on_repeat,
                flows: 0,
                error: error.map(str::to_string),
            });
        if error.is_none() {
            e.flows += 1;
        }
    }

    /// The record, when any replayed flow was enriched by its agent.
    pub fn record(self) -> Option<EnrichmentRecord> {
        if self.endpoints.is_empty() && self.over_limit == 0 {
            return None;
        }
        let vantage = if self.vantages.is_empty() {
            "reported by the agent".to_string()
        } else {
            format!(
                "reported by the agent: {}",
                self.vantages.into_iter().collect::<Vec<_>>().join(", ")
            )
        };
        Some(EnrichmentRecord {
            method: "probe".into(),
            vantage,
            flows_enriched: self.flows_enriched,
            flows_not_enriched: self.flows_not_enriched,
            client_identities: self.client_identities,
            endpoints: self.endpoints.into_values().collect(),
            endpoints_over_limit: self.over_limit,
        })
    }
}

/// One record for a run whose flows were enriched here and by agents.
pub fn merge_records(
    here: Option<EnrichmentRecord>,
    reported: Option<EnrichmentRecord>,
) -> Option<EnrichmentRecord> {
    match (here, reported) {
        (Some(mut h), Some(r)) => {
            h.vantage = format!("{}; {}", h.vantage, r.vantage);
            h.flows_enriched += r.flows_enriched;
            h.flows_not_enriched += r.flows_not_enriched;
            h.client_identities += r.client_identities;
            h.endpoints.extend(r.endpoints);
            h.endpoints_over_limit += r.endpoints_over_limit;
            Some(h)
        }
        (h, r) => h.or(r),
    }
}
