//! JSON made once, not once per flow, for the parts of flow records that
//! many flows share: certificates and key exchanges.
//!
//! Most of a TLS flow record's JSON is its chains and its `key_exchange`:
//! on a capture of 9,600 flows the spill spent about half of its time
//! writing the same few certificates again and again, and a third of the
//! rest writing one of three key exchanges (the same client stack talking
//! to the same server offers the same groups and gets the same answer).
//! Flows that sent the same certificate share it (`Arc`), so certificates
//! are known by address; key exchanges are built per flow, so they are
//! known by value (hashed and compared whole).
//!
//! [`JsonMemo::write`] writes a value as compact JSON, as
//! `serde_json::to_writer` does, except that a certificate or key exchange
//! met before is copied from the text made the first time. The bytes are
//! the same: the text is made by the same serializer, and a `RawValue` is
//! written as it is. The copies are used only inside [`JsonMemo::write`]
//! (the fields find the memo there through a thread-local it sets and
//! always clears), so every other serializer (YAML,
//! `serde_json::to_value`, the pretty writer) sees the values themselves.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::Arc;

use serde::ser::{SerializeSeq, Serializer};
use serde_json::value::RawValue;

use super::key_exchange::KeyExchangeRecord;
use crate::x509::Certificate;

/// Certificates kept before their memo starts over (each entry is a
/// certificate's JSON, about 1 KiB).
const CAPACITY: usize = 1024;

/// Key exchanges kept before their memo starts over.
const KEX_CAPACITY: usize = 64;
/// The longest key exchange JSON kept (a usual one is about 450 bytes; a
/// ClientHello may offer thousands of groups). Each entry holds the record
/// and its JSON, so the memo holds at most about 64 times this twice over,
/// whatever the packets say. A key exchange met for the first time costs a
/// hash, a clone and its serialization, so hostile input that makes every
/// one different costs about twice what writing them plainly does.
const KEX_LONGEST: usize = 4096;

/// The JSON of certificates and key exchanges already written.
#[derive(Default)]
pub struct JsonMemo {
    /// Certificates, by the address of the shared certificate. Each entry
    /// holds its certificate, so that address cannot be given to another
    /// certificate while the entry lives.
    certs: HashMap<usize, (Arc<Certificate>, Box<RawValue>)>,
    /// Key exchanges, by value (hashed with a random seed: they come from
    /// the packets).
    kex: HashMap<KeyExchangeRecord, Box<RawValue>, foldhash::fast::RandomState>,
}

thread_local! {
    /// The memo of the [`JsonMemo::write`] running on this thread.
    static WRITING: RefCell<Option<JsonMemo>> = const { RefCell::new(None) };
}

/// Clears [`WRITING`] however the write ends (a panic included), so no
/// other serializer ever sees a raw value.
struct Writing;

impl Drop for Writing {
    fn drop(&mut self) {
        WRITING.with(|w| w.borrow_mut().take());
    }
}

impl JsonMemo {
    /// Write `value` to `out` as compact JSON (`serde_json::to_writer`'s
    /// bytes), copying the text of certificates and key exchanges written
    /// before.
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
    fn cert_text(&mut self, cert: &Arc<Certificate>) -> serde_json::Result<&RawValue> {
        let key = Arc::as_ptr(cert) as usize;
        if self.certs.len() >= CAPACITY && !self.certs.contains_key(&key) {
            self.certs.clear();
        }
        let made = match self.certs.entry(key) {
            Entry::Occupied(o) => o.into_mut(),
            Entry::Vacant(v) => {
                let text = serde_json::value::to_raw_value(&**cert)?;
                v.insert((Arc::clone(cert), text))
            }
        };
        Ok(&made.1)
    }

    /// The JSON of `kex`, made now if an equal one was not made before
    /// (and kept unless it is too long).
    fn kex_text(&mut self, kex: &KeyExchangeRecord) -> serde_json::Result<Cow<'_, RawValue>> {
        // Looked up before it is made: the record is cloned only when new.
        if !self.kex.contains_key(kex) {
            let text = serde_json::value::to_raw_value(kex)?;
            if text.get().len() > KEX_LONGEST {
                return Ok(Cow::Owned(text));
            }
            if self.kex.len() >= KEX_CAPACITY {
                self.kex.clear();
            }
            self.kex.insert(kex.clone(), text);
        }
        self.kex
            .get(kex)
            .map(|text| Cow::Borrowed(&**text))
            .ok_or_else(|| serde::ser::Error::custom("a key exchange left the memo"))
    }
}

/// `value` handed to `memo` with the memo of the [`JsonMemo::write`]
/// running on this thread (taken out meanwhile: nothing serialized inside
/// uses it), or to `plain` outside such a write.
fn with_memo<T, R>(
    value: T,
    plain: impl FnOnce(T) -> R,
    memo: impl FnOnce(T, &mut JsonMemo) -> R,
) -> R {
    let Some(mut taken) = WRITING.with(|w| w.borrow_mut().take()) else {
        return plain(value);
    };
    let result = memo(value, &mut taken);
    WRITING.with(|w| *w.borrow_mut() = Some(taken));
    result
}

/// How a chain field is serialized: its certificates, or inside
/// [`JsonMemo::write`] their text made once.
pub(crate) fn serialize_chain<S: Serializer>(
    chain: &[Arc<Certificate>],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    with_memo(
        serializer,
        |s| s.collect_seq(chain),
        |s, memo| {
            let mut seq = s.serialize_seq(Some(chain.len()))?;
            for cert in chain {
                match memo.cert_text(cert) {
                    Ok(text) => seq.serialize_element(text)?,
                    Err(_) => seq.serialize_element(&**cert)?,
                }
            }
            seq.end()
        },
    )
}

/// How a flow's `key_exchange` is serialized: the record, or inside
/// [`JsonMemo::write`] its text made once.
pub(crate) fn serialize_key_exchange<S: Serializer>(
    kex: &Option<KeyExchangeRecord>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    let Some(kex) = kex else {
        return serializer.serialize_none();
    };
    with_memo(
        serializer,
        |s| s.serialize_some(kex),
        |s, memo| match memo.kex_text(kex) {
            Ok(text) => s.serialize_some(&*text),
            Err(_) => s.serialize_some(kex),
        },
    )
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
        let mut cache = JsonMemo::default();
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
        assert!(cache.certs.len() <= CAPACITY);
        assert!(!cache.certs.is_empty(), "the cache is kept between writes");
    }

    /// Outside a write, and after one, the chain is the certificates
    /// themselves: another serializer never meets a raw value.
    #[test]
    fn other_serializers_see_the_certificates() {
        let f = Flow {
            chain: vec![cert("CN=a", "u")],
            name: "n",
        };
        let mut cache = JsonMemo::default();
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
            let _ = JsonMemo::default().write(Vec::new(), &Boom);
        });
        assert!(caught.is_err());
        assert!(WRITING.with(|w| w.borrow().is_none()));
    }

    #[derive(serde::Serialize)]
    struct Tls {
        #[serde(serialize_with = "serialize_key_exchange")]
        key_exchange: Option<KeyExchangeRecord>,
        n: usize,
    }

    fn kex(group: &str, offered: usize) -> KeyExchangeRecord {
        KeyExchangeRecord {
            method: Some("ecdhe".into()),
            group: Some(group.to_string().into()),
            group_id: Some(29),
            forward_secrecy: Some(true),
            groups_offered: (0..offered).map(|i| format!("0x{i:04x}").into()).collect(),
            key_shares_offered: vec![group.to_string().into()],
            ..KeyExchangeRecord::default()
        }
    }

    /// Key exchanges met again, met first, absent, with escaped names,
    /// past the memo's capacity and too long to keep: the bytes of
    /// `serde_json::to_writer`, and the memo stays bounded.
    #[test]
    fn key_exchanges_write_the_same_bytes() {
        let common = kex("x25519", 10);
        let odd = kex("\"x\u{1}\u{202e}\\", 3);
        let long = kex("x25519", 2000);
        let mut flows: Vec<Tls> = Vec::new();
        for n in 0..3 {
            flows.push(Tls {
                key_exchange: Some(common.clone()),
                n,
            });
            flows.push(Tls {
                key_exchange: Some(odd.clone()),
                n,
            });
            flows.push(Tls {
                key_exchange: None,
                n,
            });
            flows.push(Tls {
                key_exchange: Some(long.clone()),
                n,
            });
        }
        flows.extend((0..KEX_CAPACITY + 5).map(|n| Tls {
            key_exchange: Some(kex(&format!("g{n}"), n % 7)),
            n,
        }));
        flows.push(Tls {
            key_exchange: Some(common.clone()),
            n: 0,
        });
        let mut memo = JsonMemo::default();
        for f in &flows {
            let mut got = Vec::new();
            memo.write(&mut got, f).unwrap();
            assert_eq!(got, serde_json::to_vec(f).unwrap());
        }
        assert!(memo.kex.len() <= KEX_CAPACITY);
        assert!(memo.kex.contains_key(&common), "kept between writes");
        assert!(!memo.kex.contains_key(&long), "too long to keep");
        assert!(serde_json::to_string(&long).unwrap().len() > KEX_LONGEST);
    }

    /// A key exchange equal to one met before is written from the memo's
    /// text, not serialized again (the text is altered here to see it).
    #[test]
    fn an_equal_key_exchange_is_copied() {
        let mut memo = JsonMemo::default();
        let flow = Tls {
            key_exchange: Some(kex("x25519", 2)),
            n: 1,
        };
        memo.write(Vec::new(), &flow).unwrap();
        let marked = RawValue::from_string("{\"memo\":true}".into()).unwrap();
        *memo.kex.get_mut(&kex("x25519", 2)).unwrap() = marked;
        let mut got = Vec::new();
        memo.write(
            &mut got,
            &Tls {
                key_exchange: Some(kex("x25519", 2)),
                n: 2,
            },
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(got).unwrap(),
            r#"{"key_exchange":{"memo":true},"n":2}"#
        );
        // A different record is not taken for it.
        let mut got = Vec::new();
        let other = Tls {
            key_exchange: Some(kex("x25519", 3)),
            n: 2,
        };
        memo.write(&mut got, &other).unwrap();
        assert_eq!(got, serde_json::to_vec(&other).unwrap());
    }

    /// Outside a write the key exchange is the record itself.
    #[test]
    fn other_serializers_see_the_key_exchange() {
        let f = Tls {
            key_exchange: Some(kex("x25519", 1)),
            n: 0,
        };
        let mut memo = JsonMemo::default();
        memo.write(Vec::new(), &f).unwrap();
        let value = serde_json::to_value(&f).unwrap();
        assert_eq!(value["key_exchange"]["group"], "x25519");
        let pretty = serde_json::to_string_pretty(&f).unwrap();
        assert!(pretty.contains("\n    \"group\": \"x25519\""), "{pretty}");
        assert!(WRITING.with(|w| w.borrow().is_none()));
    }
}
