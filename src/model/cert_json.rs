//! Each certificate's JSON made once, not once per flow. Flows that sent
//! the same certificate share it (`Arc`), and most of a TLS flow record's
//! JSON is its chains: on a capture of 9,600 flows the spill spent about
//! half of its time writing the same few certificates again and again.
//!
//! [`CertJson::write`] writes a value as compact JSON, as
//! `serde_json::to_writer` does, except that a certificate met before is
//! copied from the text made the first time. The bytes are the same: the
//! text is made by the same serializer, and a `RawValue` is written as it
//! is. The copies are used only inside [`CertJson::write`] (the chain fields
//! find the cache there through a thread-local it sets and always clears),
//! so every other serializer (YAML, `serde_json::to_value`, the pretty
//! writer) sees the certificates themselves.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

use serde::ser::{SerializeSeq, Serializer};
use serde_json::value::RawValue;

use crate::x509::Certificate;

/// Certificates kept before the cache starts over (each entry is a
/// certificate's JSON, about 1 KiB).
const CAPACITY: usize = 1024;

/// The JSON of certificates already written, by the address of the shared
/// certificate. Each entry holds its certificate, so that address cannot be
/// given to another certificate while the entry lives.
#[derive(Default)]
pub struct CertJson {
    made: HashMap<usize, (Arc<Certificate>, Box<RawValue>)>,
}

thread_local! {
    /// The cache of the [`CertJson::write`] running on this thread.
    static WRITING: RefCell<Option<CertJson>> = const { RefCell::new(None) };
}

/// Clears [`WRITING`] however the write ends (a panic included), so no
/// other serializer ever sees a raw value.
struct Writing;

impl Drop for Writing {
    fn drop(&mut self) {
        WRITING.with(|w| w.borrow_mut().take());
    }
}

impl CertJson {
    /// Write `value` to `out` as compact JSON (`serde_json::to_writer`'s
    /// bytes), copying the text of certificates written before.
    pub fn write<W: std::io::Write, T: serde::Serialize + ?Sized>(
        &mut self,
        out: W,
        value: &T,
    ) -> serde_json::Result<()> {
        let guard = Writing;
        WRITING.with(|w| *w.borrow_mut() = Some(std::mem::take(self)));
        let written = serde_json::to_writer(out, value);
        if let Some(mine) = WRITING.with(|w| w.borrow_mut().take()) {
            *self = mine;
        }
        drop(guard);
        written
    }

    /// The JSON of `cert`, made now if it was not made before.
    fn text(&mut self, cert: &Arc<Certificate>) -> serde_json::Result<&RawValue> {
        let key = Arc::as_ptr(cert) as usize;
        if self.made.len() >= CAPACITY && !self.made.contains_key(&key) {
            self.made.clear();
        }
        let made = match self.made.entry(key) {
            std::collections::hash_map::Entry::Occupied(o) => o.into_mut(),
            std::collections::hash_map::Entry::Vacant(v) => {
                let text = serde_json::value::to_raw_value(&**cert)?;
                v.insert((Arc::clone(cert), text))
            }
        };
        Ok(&made.1)
    }
}

/// How a chain field is serialized: its certificates, or inside
/// [`CertJson::write`] their text made once.
pub(crate) fn serialize_chain<S: Serializer>(
    chain: &[Arc<Certificate>],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    // Taken out while the chain is written (nothing below writes a chain).
    let Some(mut cache) = WRITING.with(|w| w.borrow_mut().take()) else {
        return serializer.collect_seq(chain);
    };
    let written = (|| {
        let mut seq = serializer.serialize_seq(Some(chain.len()))?;
        for cert in chain {
            match cache.text(cert) {
                Ok(text) => seq.serialize_element(text)?,
                Err(_) => seq.serialize_element(&**cert)?,
            }
        }
        seq.end()
    })();
    WRITING.with(|w| *w.borrow_mut() = Some(cache));
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert(subject: &str, uri: &str) -> Arc<Certificate> {
        let mut c: Certificate = serde_json::from_value(serde_json::json!({
            "subject": subject, "issuer": "CN=ca", "serial": "01",
            "not_before": null, "not_after": null, "sha256": "ab",
            "dns_names": [], "uris": [uri], "ip_addresses": [], "emails": [],
            "spiffe_id": null, "key_type": "EC", "key_bits": 256,
            "ec_curve": "P-256", "signature_algorithm": "ecdsa-with-SHA256",
            "is_ca": null, "path_len": null, "key_usage": [],
            "extended_key_usage": [], "self_signed": false, "der_len": 3,
            "parse_error": null
        }))
        .unwrap();
        c.der = None;
        Arc::new(c)
    }

    #[derive(serde::Serialize)]
    struct Flow {
        #[serde(serialize_with = "serialize_chain")]
        chain: Vec<Arc<Certificate>>,
        name: &'static str,
    }

    /// Copies give `serde_json::to_writer`'s bytes, for certificates met
    /// again, met first, and past the cache's capacity; a certificate
    /// with an escaped name included.
    #[test]
    fn copies_write_the_same_bytes() {
        let a = cert("CN=a", "spiffe://td/a");
        let b = cert("CN=\"b\"\u{1}\u{202e}", "spiffe://td/\\b");
        let mut cache = CertJson::default();
        let mut flows: Vec<Flow> = (0..3)
            .map(|i| Flow {
                chain: vec![Arc::clone(&a), Arc::clone(&b), Arc::clone(&a)],
                name: ["x", "y", "z"][i],
            })
            .collect();
        flows.extend((0..CAPACITY + 5).map(|i| Flow {
            chain: vec![cert(&format!("CN={i}"), "u"), Arc::clone(&b)],
            name: "many",
        }));
        for f in &flows {
            let mut got = Vec::new();
            cache.write(&mut got, f).unwrap();
            assert_eq!(got, serde_json::to_vec(f).unwrap());
        }
        assert!(cache.made.len() <= CAPACITY);
        assert!(!cache.made.is_empty(), "the cache is kept between writes");
    }

    /// Outside a write, and after one, the chain is the certificates
    /// themselves: another serializer never meets a raw value.
    #[test]
    fn other_serializers_see_the_certificates() {
        let f = Flow {
            chain: vec![cert("CN=a", "u")],
            name: "n",
        };
        let mut cache = CertJson::default();
        cache.write(Vec::new(), &f).unwrap();
        let value = serde_json::to_value(&f).unwrap();
        assert_eq!(value["chain"][0]["subject"], "CN=a");
        let pretty = serde_json::to_string_pretty(&f).unwrap();
        assert!(pretty.contains("\n      \"subject\": \"CN=a\""), "{pretty}");
        assert!(WRITING.with(|w| w.borrow().is_none()));
    }

    /// A panic inside a write leaves no cache behind on the thread.
    #[test]
    fn a_panicking_write_clears_the_cache() {
        struct Boom;
        impl serde::Serialize for Boom {
            fn serialize<S: Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
                assert!(WRITING.with(|w| w.borrow().is_some()));
                panic!("boom");
            }
        }
        let caught = std::panic::catch_unwind(|| {
            let _ = CertJson::default().write(Vec::new(), &Boom);
        });
        assert!(caught.is_err());
        assert!(WRITING.with(|w| w.borrow().is_none()));
    }
}
