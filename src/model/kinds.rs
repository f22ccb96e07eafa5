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
