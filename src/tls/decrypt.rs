//! TLS 1.3 handshake record decryption (RFC 8446 §5.2, §7.1, §7.3), with
//! ring, the crypto library already in the tree.
//!
//! Keys come from a handshake traffic secret: `key = HKDF-Expand-Label(secret,
//! "key", "", key_length)`, `iv = HKDF-Expand-Label(secret, "iv", "", 12)`;
//! each record's nonce is the IV XOR its 64-bit sequence number, and the
//! 5-byte record header is the additional data. TLS 1.3 drafts 18 to 24
//! (version 0x7f12..0x7f18) differ in two ways: the additional data is
//! empty (draft-ietf-tls-tls13-25 added the header), and before draft 20 the
//! HKDF labels start "TLS 1.3, " instead of "tls13 ". Earlier drafts had
//! another key schedule and are not decrypted. Only handshake secrets are
//! ever given here, so application data (protected by other keys) cannot be
//! opened: it fails authentication.

use ring::{aead, hkdf};

/// Why a record did not open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenError {
    /// The authentication tag did not verify: wrong keys, a record out of
    /// sequence, or tampered bytes.
    Authentication,
    /// The plaintext was all padding: no inner content type (RFC 8446 §5.4).
    NoContentType,
}

/// The AEAD and hash of a TLS 1.3 suite, and its key length; `None` for
/// suites ring does not implement (TLS_AES_128_CCM_SHA256 and _CCM_8_).
fn suite(cipher_suite: u16) -> Option<(&'static aead::Algorithm, hkdf::Algorithm)> {
    match cipher_suite {
        0x1301 => Some((&aead::AES_128_GCM, hkdf::HKDF_SHA256)),
        0x1302 => Some((&aead::AES_256_GCM, hkdf::HKDF_SHA384)),
        0x1303 => Some((&aead::CHACHA20_POLY1305, hkdf::HKDF_SHA256)),
        _ => None,
    }
}

/// Whether handshakes of this suite can be decrypted here.
pub fn supported(cipher_suite: u16) -> bool {
    suite(cipher_suite).is_some()
}

struct Len(usize);

impl hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

/// The first TLS 1.3 draft decrypted here.
pub const FIRST_DRAFT: u16 = 18;

/// How records of a TLS 1.3 version are protected, or `None` for a draft
/// before [`FIRST_DRAFT`] (another key schedule).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Protection {
    /// HKDF label prefix: "tls13 " (RFC 8446; drafts ≥ 20) or "TLS 1.3, ".
    label_prefix: &'static [u8],
    /// The record header is the AEAD additional data (drafts ≥ 25, RFC 8446).
    header_aad: bool,
}

impl Protection {
    /// RFC 8446 as published.
    pub const FINAL: Protection = Protection {
        label_prefix: b"tls13 ",
        header_aad: true,
    };

    /// For a negotiated version: a draft (0x7fNN) by its number, anything
    /// else (RFC 8446, vendor experiments) as published.
    #[must_use]
    pub fn of_version(version: u16) -> Option<Protection> {
        let Some(draft) = draft_number(version) else {
            return Some(Protection::FINAL);
        };
        if draft < FIRST_DRAFT {
            return None;
        }
        Some(Protection {
            label_prefix: if draft < 20 { b"TLS 1.3, " } else { b"tls13 " },
            header_aad: draft >= 25,
        })
    }
}

/// The draft number of a TLS 1.3 draft version (0x7fNN).
pub fn draft_number(version: u16) -> Option<u16> {
    (version >> 8 == 0x7f).then_some(version & 0xff)
}

/// HKDF-Expand-Label (RFC 8446 §7.1) into `out` (at most 255 bytes).
pub fn expand_label(
    alg: hkdf::Algorithm,
    secret: &[u8],
    label: &[u8],
    context: &[u8],
    out: &mut [u8],
) -> Option<()> {
    expand_label_with(b"tls13 ", alg, secret, label, context, out)
}

/// HKDF-Expand-Label with the label prefix of a draft.
fn expand_label_with(
    prefix: &[u8],
    alg: hkdf::Algorithm,
    secret: &[u8],
    label: &[u8],
    context: &[u8],
    out: &mut [u8],
) -> Option<()> {
    let length = u16::try_from(out.len()).ok()?.to_be_bytes();
    let label_len = [u8::try_from(prefix.len().checked_add(label.len())?).ok()?];
    let context_len = [u8::try_from(context.len()).ok()?];
    let info: [&[u8]; 6] = [&length, &label_len, prefix, label, &context_len, context];
    let prk = hkdf::Prk::new_less_safe(alg, secret);
    prk.expand(&info, Len(out.len())).ok()?.fill(out).ok()
}

/// Opens the records of one direction, in order.
pub struct RecordDecrypter {
    key: aead::LessSafeKey,
    iv: [u8; 12],
    seq: u64,
    header_aad: bool,
}

impl std::fmt::Debug for RecordDecrypter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        write!(f, "RecordDecrypter {{ seq: {} }}", self.seq)
    }
}

impl RecordDecrypter {
    /// Keys for `cipher_suite` from a traffic secret; `None` for a suite
    /// that cannot be decrypted or a secret of the wrong length.
    pub fn new(cipher_suite: u16, secret: &[u8]) -> Option<Self> {
        Self::with_protection(Protection::FINAL, cipher_suite, secret)
    }

    /// [`RecordDecrypter::new`] for the record protection of a draft.
    pub fn with_protection(p: Protection, cipher_suite: u16, secret: &[u8]) -> Option<Self> {
        let (aead_alg, hash) = suite(cipher_suite)?;
        if secret.len() != hash.hmac_algorithm().digest_algorithm().output_len() {
            return None;
        }
        let prefix = p.label_prefix;
        let mut key = [0u8; 32];
        let key = key.get_mut(..aead_alg.key_len())?;
        expand_label_with(prefix, hash, secret, b"key", b"", key)?;
        let mut iv = [0u8; 12];
        expand_label_with(prefix, hash, secret, b"iv", b"", &mut iv)?;
        let key = aead::LessSafeKey::new(aead::UnboundKey::new(aead_alg, key).ok()?);
        let header_aad = p.header_aad;
        Some(RecordDecrypter {
            key,
            iv,
            seq: 0,
            header_aad,
        })
    }

    /// Records opened so far.
    pub fn opened(&self) -> u64 {
        self.seq
    }

    /// Open one record: `header` is its 5 bytes, `body` the ciphertext and
    /// tag. Returns the inner content type and the content, padding removed.
    /// The sequence number moves on only when the record opens.
    pub fn open(&mut self, header: &[u8; 5], body: &[u8]) -> Result<(u8, Vec<u8>), OpenError> {
        let mut nonce = self.iv;
        for (n, s) in nonce[4..].iter_mut().zip(self.seq.to_be_bytes()) {
            *n ^= s;
        }
        let mut buf = body.to_vec();
        let aad: &[u8] = if self.header_aad { header } else { &[] };
        let plain = self
            .key
            .open_in_place(
                aead::Nonce::assume_unique_for_key(nonce),
                aead::Aad::from(aad),
                &mut buf,
            )
            .map_err(|_| OpenError::Authentication)?;
        // The content type is the last byte that is not padding.
        let (len, &content_type) = plain
            .iter()
            .enumerate()
            .rfind(|(_, b)| **b != 0)
            .ok_or(OpenError::NoContentType)?;
        // 2^64 records cannot be sent (RFC 8446 §5.3: the number never wraps).
        self.seq = self.seq.saturating_add(1);
        buf.truncate(len);
        Ok((content_type, buf))
    }
}

/// Seal a record the way a TLS 1.3 peer would (tests of this module and
/// of the session): header and body.
#[cfg(test)]
pub(crate) fn seal(
    suite_id: u16,
    secret: &[u8],
    seq: u64,
    inner: &[u8],
    ct: u8,
    pad: usize,
) -> ([u8; 5], Vec<u8>) {
    seal_with(Protection::FINAL, suite_id, secret, seq, inner, ct, pad)
}

/// [`seal`] as a peer of a TLS 1.3 draft would.
#[cfg(test)]
fn seal_with(
    p: Protection,
    suite_id: u16,
    secret: &[u8],
    seq: u64,
    inner: &[u8],
    ct: u8,
    pad: usize,
) -> ([u8; 5], Vec<u8>) {
    let (alg, hash) = suite(suite_id).unwrap();
    let prefix = p.label_prefix;
    let mut key = vec![0u8; alg.key_len()];
    expand_label_with(prefix, hash, secret, b"key", b"", &mut key).unwrap();
    let mut iv = [0u8; 12];
    expand_label_with(prefix, hash, secret, b"iv", b"", &mut iv).unwrap();
    for (n, s) in iv[4..].iter_mut().zip(seq.to_be_bytes()) {
        *n ^= s;
    }
    let mut buf = inner.to_vec();
    buf.push(ct);
    buf.extend(std::iter::repeat_n(0, pad));
    let len = (buf.len() + alg.tag_len()) as u16;
    let header = [23, 3, 3, (len >> 8) as u8, len as u8];
    let aad: &[u8] = if p.header_aad { &header } else { &[] };
    let key = aead::LessSafeKey::new(aead::UnboundKey::new(alg, &key).unwrap());
    key.seal_in_place_append_tag(
        aead::Nonce::assume_unique_for_key(iv),
        aead::Aad::from(aad),
        &mut buf,
    )
    .unwrap();
    (header, buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// RFC 8448 §3 (simple 1-RTT handshake): the server handshake traffic
    /// secret and the write key and IV derived from it.
    #[test]
    fn rfc8448_server_handshake_keys() {
        let secret = unhex(
            "b6 7b 7d 69 0c c1 6c 4e 75 e5 42 13 cb 2d 37 b4 e9 c9 12 bc de d9 10 5d 42 be fd 59 d3 91 ad 38",
        );
        let mut key = [0u8; 16];
        expand_label(hkdf::HKDF_SHA256, &secret, b"key", b"", &mut key).unwrap();
        assert_eq!(
            key.to_vec(),
            unhex("3f ce 51 60 09 c2 17 27 d0 f2 e4 e8 6e e4 03 bc")
        );
        let mut iv = [0u8; 12];
        expand_label(hkdf::HKDF_SHA256, &secret, b"iv", b"", &mut iv).unwrap();
        assert_eq!(iv.to_vec(), unhex("5d 31 3e b2 67 12 76 ee 13 00 0b 30"));
    }

    #[test]
    fn all_three_suites_open_in_sequence_with_padding() {
        for (id, secret_len) in [(0x1301, 32), (0x1302, 48), (0x1303, 32)] {
            let secret = vec![7u8; secret_len];
            let mut d = RecordDecrypter::new(id, &secret).unwrap();
            for seq in 0..3u64 {
                let msg = format!("handshake {seq}");
                let (h, body) = seal(id, &secret, seq, msg.as_bytes(), 22, seq as usize * 5);
                assert_eq!(
                    d.open(&h, &body),
                    Ok((22, msg.into_bytes())),
                    "suite {id:#x} seq {seq}"
                );
            }
            assert_eq!(d.opened(), 3);
        }
    }

    #[test]
    fn drafts_use_their_labels_and_no_additional_data() {
        assert_eq!(Protection::of_version(0x0304), Some(Protection::FINAL));
        assert_eq!(Protection::of_version(0xfb1a), Some(Protection::FINAL));
        assert_eq!(Protection::of_version(0x7f11), None);
        assert!(Protection::of_version(0x7f19).is_some_and(|p| p == Protection::FINAL));
        let secret = [7u8; 32];
        // Draft 18 ("TLS 1.3, " labels), 20 and 24 ("tls13 "): no additional data.
        for version in [0x7f12, 0x7f14, 0x7f18] {
            let p = Protection::of_version(version).unwrap();
            assert!(!p.header_aad, "{version:x}");
            let (h, body) = seal_with(p, 0x1303, &secret, 0, b"certificate", 22, 3);
            let mut d = RecordDecrypter::with_protection(p, 0x1303, &secret).unwrap();
            assert_eq!(
                d.open(&h, &body),
                Ok((22, b"certificate".to_vec())),
                "{version:x}"
            );
            // The published protection does not open a draft's records.
            let mut rfc = RecordDecrypter::new(0x1303, &secret).unwrap();
            assert_eq!(rfc.open(&h, &body), Err(OpenError::Authentication));
        }
        let d18 = Protection::of_version(0x7f12).unwrap();
        let d20 = Protection::of_version(0x7f14).unwrap();
        let (h, body) = seal_with(d18, 0x1301, &secret, 0, b"x", 22, 0);
        let mut d = RecordDecrypter::with_protection(d20, 0x1301, &secret).unwrap();
        assert_eq!(d.open(&h, &body), Err(OpenError::Authentication));
    }

    #[test]
    fn wrong_key_tampering_and_order_fail_authentication() {
        let secret = [9u8; 32];
        let (h, body) = seal(0x1301, &secret, 0, b"finished", 22, 0);
        let mut wrong = RecordDecrypter::new(0x1301, &[8u8; 32]).unwrap();
        assert_eq!(wrong.open(&h, &body), Err(OpenError::Authentication));
        let mut tampered = body.clone();
        tampered[0] ^= 1;
        let mut d = RecordDecrypter::new(0x1301, &secret).unwrap();
        assert_eq!(d.open(&h, &tampered), Err(OpenError::Authentication));
        // A failure does not advance the sequence: the genuine record still opens.
        assert_eq!(d.open(&h, &body).map(|r| r.0), Ok(22));
        // The same record again is out of sequence now.
        assert_eq!(d.open(&h, &body), Err(OpenError::Authentication));
        // Truncated: shorter than a tag.
        assert_eq!(d.open(&h, &body[..3]), Err(OpenError::Authentication));
        let (h, body) = seal(0x1301, &secret, 1, b"", 0, 4);
        assert_eq!(d.open(&h, &body), Err(OpenError::NoContentType));
    }

    #[test]
    fn unsupported_suites_and_wrong_secret_lengths_are_refused() {
        assert!(RecordDecrypter::new(0x1304, &[0; 32]).is_none());
        assert!(RecordDecrypter::new(0xc02f, &[0; 32]).is_none());
        assert!(RecordDecrypter::new(0x1302, &[0; 32]).is_none());
        assert!(RecordDecrypter::new(0x1301, &[0; 48]).is_none());
    }
}
