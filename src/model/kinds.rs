//! The report's closed vocabularies as enums: each serializes to exactly
//! the word the JSON has always carried (and `reports/report-v1.schema.json`
//! lists), so a typo is a compile error rather than a silent mismatch.

use serde::{Deserialize, Serialize};

/// An enum whose variants serialize as fixed words, with `as_str` and
/// `Display` giving the same word.
macro_rules! words {
    ($(#[$meta:meta])* pub enum $name:ident { $($(#[$vmeta:meta])* $variant:ident = $word:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $word)] $variant,)+
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The word the report writes.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $word,)+
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

words! {
    /// A flow's transport (`transport`).
    pub enum Transport {
        /// TCP.
        Tcp = "tcp",
        /// UDP.
        Udp = "udp",
        /// IPsec ESP.
        Esp = "esp",
        /// Another IP protocol.
        Ip = "ip",
    }
}

impl Transport {
    /// The transport of an IP protocol number.
    pub fn of_protocol(proto: u8) -> Transport {
        match proto {
            6 => Transport::Tcp,
            17 => Transport::Udp,
            50 => Transport::Esp,
            _ => Transport::Ip,
        }
    }
}

words! {
    /// How client and server were told apart (`role_source`).
    pub enum RoleSource {
        /// The side that sent the SYN is the client.
        Syn = "syn",
        /// The side that sent the ClientHello is the client.
        ClientHello = "client-hello",
        /// Guessed from the ports: the lower (or well-known) one is the server's.
        Port = "port",
        /// tls-audit made the connection (a probe record).
        Probe = "probe",
    }
}

words! {
    /// What protects a flow's payload (`protection`).
    pub enum Protection {
        /// TLS.
        Tls = "tls",
        /// A cleartext protocol tls-audit can name.
        Plaintext = "plaintext",
        /// SSH.
        Ssh = "ssh",
        /// IPsec (IKE, ESP).
        Ipsec = "ipsec",
        /// WireGuard.
        Wireguard = "wireguard",
        /// An overlay's outer packets (VXLAN, Geneve): the inner flows are
        /// reported on their own.
        Overlay = "overlay",
        /// Payload that is neither TLS nor a protocol tls-audit can name:
        /// encryption unproven.
        Unknown = "unknown",
    }
}

words! {
    /// The gate's verdict against `--fail-on` (`verification.gate`).
    pub enum Gate {
        /// No finding the gate judges is that severe.
        Pass = "pass",
        /// At least one is.
        Fail = "fail",
    }
}

words! {
    /// What a warning is about (`warnings[].kind`): a stable identifier
    /// that scripts match on.
    pub enum WarningKind {
        /// A capture was damaged or cut; read up to the damage.
        DamagedCapture = "damaged-capture",
        /// Packets were cut short by the snap length.
        Snaplen = "snaplen",
        /// Flows were evicted at the flow-table limit.
        FlowTableFull = "flow-table-full",
        /// TCP streams had holes that never filled.
        CaptureGaps = "capture-gaps",
        /// A handshake message was larger than the reassembly bound.
        OversizedHandshake = "oversized-handshake",
        /// A capture's link type is not decoded.
        UnsupportedLinkType = "unsupported-link-type",
        /// pcapng packets named an interface never described.
        PacketWithoutInterface = "packet-without-interface",
        /// Key log lines that could not be read.
        KeylogLines = "keylog-lines",
        /// pcapng Decryption Secrets Blocks of a kind not used.
        DecryptionSecretsIgnored = "decryption-secrets-ignored",
        /// No cluster snapshot: pod-level checks were not made.
        NoInventory = "no-inventory",
        /// More findings than are kept.
        FindingsLimit = "findings-limit",
        /// A policy waiver has expired.
        WaiverExpired = "waiver-expired",
        /// The live capture dropped packets.
        CaptureDrops = "capture-drops",
        /// The live capture failed.
        CaptureFailed = "capture-failed",
        /// The packets could not be saved (`--write-pcap`).
        WritePcap = "write-pcap",
        /// An event stream ended without its summary.
        EventsCut = "events-cut",
        /// Events are missing from a stream (sequence gaps).
        EventsLost = "events-lost",
        /// Lines of an event stream that are not events.
        EventsSkipped = "events-skipped",
        /// Flows were finished early at the memory budget.
        BufferBudget = "buffer-budget",
        /// An endpoint could not be probed.
        ProbeFailed = "probe-failed",
        /// Something could not be read from the cluster.
        ClusterContext = "cluster-context",
        /// A pod was not audited fully.
        PodFailed = "pod-failed",
        /// The API server sent a `Warning` header.
        ApiWarning = "api-warning",
        /// A pod declares nothing to probe.
        ProbeSkipped = "probe-skipped",
        /// An agent restarted within a stream.
        EventsRestarted = "events-restarted",
        /// Certificates sent in the clear were not read.
        CertificatesUnread = "certificates-unread",
        /// What an agent reported about itself.
        AgentReported = "agent-reported",
        /// A probe did not finish every step.
        ProbeIncomplete = "probe-incomplete",
        /// Identity enrichment could not be had.
        EnrichUnavailable = "enrich-unavailable",
    }
}

impl PartialEq<&str> for WarningKind {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The words of the schema's `enum` at `pointer` (null left out).
    fn schema_words(pointer: &str) -> Vec<String> {
        let schema: serde_json::Value =
            serde_json::from_str(include_str!("../../reports/report-v1.schema.json"))
                .expect("the schema parses");
        let mut words: Vec<String> = schema
            .pointer(pointer)
            .and_then(serde_json::Value::as_array)
            .unwrap_or_else(|| panic!("no enum at {pointer}"))
            .iter()
            .filter_map(|w| w.as_str().map(str::to_string))
            .collect();
        words.sort();
        words
    }

    /// Each variant serializes as its word and reads back; the words are
    /// exactly the schema's.
    fn check<T>(all: &[T], word: fn(&T) -> &'static str, pointer: &str)
    where
        T: Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
    {
        let mut words: Vec<String> = Vec::new();
        for v in all {
            let json = serde_json::to_string(v).expect("serializes");
            assert_eq!(json, format!("\"{}\"", word(v)));
            assert_eq!(&serde_json::from_str::<T>(&json).expect("reads back"), v);
            words.push(word(v).to_string());
        }
        words.sort();
        assert_eq!(words, schema_words(pointer), "{pointer}");
    }

    #[test]
    fn words_are_the_schemas() {
        check(
            Transport::ALL,
            |v| v.as_str(),
            "/$defs/flow/properties/transport/enum",
        );
        check(
            RoleSource::ALL,
            |v| v.as_str(),
            "/$defs/flow/properties/role_source/enum",
        );
        check(
            Protection::ALL,
            |v| v.as_str(),
            "/$defs/flow/properties/protection/enum",
        );
        check(
            Gate::ALL,
            |v| v.as_str(),
            "/$defs/verification/properties/gate/enum",
        );
        assert!(serde_json::from_str::<Protection>("\"TLS\"").is_err());
        assert_eq!(Transport::of_protocol(50), Transport::Esp);
        assert_eq!(Transport::of_protocol(47), Transport::Ip);
    }
}
