//! Certificate chain checks for chains captured off the wire.
//!
//! A passive auditor sees the certificates a peer *sends*, never what the
//! other side's verifier made of them. This module re-derives the structural
//! facts a verifier would trip over (broken linkage, wrong order, bad
//! signatures, non-CA issuers, missing intermediates) and, given a trust
//! bundle (`--trust-bundle`), whether the chain reaches a trust anchor; and
//! along the path the signatures link, RFC 5280's path rules (`path.rs`:
//! critical extensions, keyCertSign, pathLenConstraint, name constraints).
//! Validity periods are judged per certificate at capture time by the
//! certificate rules (TA-CERT-EXPIRED, TA-CERT-NOT-YET-VALID); host names
//! and revocation are not looked at.
//!
//! The input is hostile, so: nothing here panics on malformed DER; at most
//! [`MAX_CHAIN_LEN`] certificates are examined; name matching is at most O(n²)
//! byte comparisons; and each (child, issuer) pair costs at most one signature
//! verification per chain (so at most 16² of them), with results cached
//! across chains by [`ChainChecker`] because the same chain shows up in
//! thousands of flows.
//!
//! Names are matched by their raw DER bytes (no RFC 5280 §7.1 normalisation).
//! "Self-issued" means subject and issuer are the same bytes.
//!
//! | kind | when |
//! |---|---|
//! | `unparsable` | a certificate is not valid DER X.509 (or has trailing bytes); checks that need it are skipped |
//! | `duplicate-certificate` | the same certificate was sent twice (index of the second copy; later checks ignore it) |
//! | `chain-too-long` | more than [`MAX_CHAIN_LEN`] certificates were sent; only the first ones are checked |
//! | `issuer-mismatch` | certificate *i* is not the last, and no other sent certificate has its issuer as subject (not reported when the next one is unparsable; for a self-issued *i*, only when nothing after it belongs to the chain) |
//! | `chain-order` | certificate *i* (not self-issued) is issued by another sent certificate, but not by the next one; detail names the issuer's index (RFC 5246 requires order; RFC 8446 §4.4.2 tolerates disorder) |
//! | `bad-signature` | certificate *i*'s signature does not verify with the key of the sent certificate named as its issuer (or with its own key, when self-issued) |
//! | `unsupported-signature-algorithm` | that signature could not be checked: algorithm, curve or RSA key size outside what ring verifies. Not a failure |
//! | `self-signed-leaf` | the leaf is self-issued and signed by its own key (or its self-signature cannot be checked), and is not pinned in the trust bundle |
//! | `issuer-not-ca` | an X.509 v3 certificate that issues another sent certificate lacks basicConstraints `cA: TRUE` (index of the issuer) |
//! | `unknown-critical-extension` | a certificate has a critical extension that is not one of RFC 5280's (§4.2) |
//! | `unparsable-critical-extension` | a critical extension's value does not decode (§4.2) |
//! | `issuer-no-keycertsign` | an issuer on the path has keyUsage without keyCertSign (§4.2.1.3) |
//! | `path-length-exceeded` | more non-self-issued intermediates follow a CA on the path than its pathLenConstraint allows (§4.2.1.9) |
//! | `name-constraints` | a certificate below an issuer on the path has a name outside its name constraints, or of a form they constrain but this module does not process (§4.2.1.10) |
//! | `missing-intermediate` | bundle only: the path from the leaf ends at a certificate that is not self-issued, whose issuer is neither sent nor in the bundle |
//! | `not-anchored` | bundle only: the path from the leaf does not reach an anchor for another reason (ends in a self-issued certificate not in the bundle, the anchor with the right name does not verify the signature, a broken signature, a loop) |
//!
//! A self-issued root at the end of the chain is fine; only its self-signature
//! is checked.

use std::collections::HashMap;
use std::fmt;

use ring::digest;
use x509_parser::certificate::X509Certificate;
use x509_parser::error::X509Error;
use x509_parser::oid_registry::{
    OID_PKCS1_RSASSAPSS, OID_PKCS1_SHA1WITHRSA, OID_PKCS1_SHA256WITHRSA, OID_PKCS1_SHA384WITHRSA,
    OID_PKCS1_SHA512WITHRSA, OID_SHA1_WITH_RSA,
};
use x509_parser::pem::Pem;
use x509_parser::prelude::FromDer;
use x509_parser::public_key::PublicKey;
use x509_parser::x509::{SubjectPublicKeyInfo, X509Name, X509Version};

/// Most certificates of one chain that are examined; the rest are ignored.
pub const MAX_CHAIN_LEN: usize = 16;

/// Signature verdicts kept by a [`ChainChecker`] before the cache is cleared.
const CACHE_CAPACITY: usize = 8192;

/// Longest name (in characters) quoted in a problem's detail.
const MAX_NAME_CHARS: usize = 160;

mod bundle;
mod path;
use bundle::Anchor;
pub use bundle::{TrustBundle, TrustBundleError};

/// Stable problem ids, as found in [`ChainProblem::kind`].
pub mod kind {
    /// A certificate could not be parsed.
    pub const UNPARSABLE: &str = "unparsable";
    /// The same certificate was sent more than once.
    pub const DUPLICATE_CERTIFICATE: &str = "duplicate-certificate";
    /// More certificates were sent than are examined.
    pub const CHAIN_TOO_LONG: &str = "chain-too-long";
    /// A certificate's issuer is not among the certificates sent after it.
    pub const ISSUER_MISMATCH: &str = "issuer-mismatch";
    /// A certificate's issuer was sent, but not right after it.
    pub const CHAIN_ORDER: &str = "chain-order";
    /// A signature does not verify with the issuer's key.
    pub const BAD_SIGNATURE: &str = "bad-signature";
    /// A signature could not be checked.
    pub const UNSUPPORTED_SIGNATURE_ALGORITHM: &str = "unsupported-signature-algorithm";
    /// The leaf signs itself and is not pinned in the trust bundle.
    pub const SELF_SIGNED_LEAF: &str = "self-signed-leaf";
    /// A certificate issues another but is not a CA.
    pub const ISSUER_NOT_CA: &str = "issuer-not-ca";
    /// A critical extension that is not one of RFC 5280's.
    pub const UNKNOWN_CRITICAL_EXTENSION: &str = "unknown-critical-extension";
    /// A critical extension whose value does not decode.
    pub const UNPARSABLE_CRITICAL_EXTENSION: &str = "unparsable-critical-extension";
    /// An issuer whose keyUsage lacks keyCertSign.
    pub const ISSUER_NO_KEY_CERT_SIGN: &str = "issuer-no-keycertsign";
    /// A CA followed by more intermediates than its pathLenConstraint.
    pub const PATH_LENGTH_EXCEEDED: &str = "path-length-exceeded";
    /// A name outside an issuer's name constraints.
    pub const NAME_CONSTRAINTS: &str = "name-constraints";
    /// The path ends at a certificate whose issuer is neither sent nor trusted.
    pub const MISSING_INTERMEDIATE: &str = "missing-intermediate";
    /// The path does not reach a trust anchor for another reason.
    pub const NOT_ANCHORED: &str = "not-anchored";
}

type Digest = [u8; 32];

fn sha256(bytes: &[u8]) -> Digest {
    let hash = digest::digest(&digest::SHA256, bytes);
    Digest::try_from(hash.as_ref()).unwrap_or_default()
}

/// A name for humans, bounded in length.
fn display_name(name: &X509Name<'_>) -> String {
    let text = name.to_string();
    if text.is_empty() {
        return "(empty name)".to_owned();
    }
    if text.chars().count() <= MAX_NAME_CHARS {
        return text;
    }
    let mut short: String = text.chars().take(MAX_NAME_CHARS).collect();
    short.push('…');
    short
}

/// Parses one DER certificate; trailing bytes are an error.
fn parse_der(der: &[u8]) -> Result<X509Certificate<'_>, String> {
    match x509_parser::parse_x509_certificate(der) {
        Ok(([], cert)) => Ok(cert),
        Ok((rest, _)) => Err(format!(
            "{} trailing bytes after the certificate",
            rest.len()
        )),
        Err(e) => Err(e.to_string()),
    }
}

// ---------------------------------------------------------------------------
// Results

/// One problem with a chain. `kind` is a stable kebab-case id (see [`kind`]).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ChainProblem {
    /// Stable id, one of the constants in [`kind`].
    pub kind: &'static str,
    /// Position in the chain as sent (0 = leaf), if about one certificate.
    pub index: Option<usize>,
    /// Human-readable explanation.
    pub detail: String,
}

impl ChainProblem {
    fn at(kind: &'static str, index: usize, detail: String) -> Self {
        Self {
            kind,
            index: Some(index),
            detail,
        }
    }
}

/// The result for one chain.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, Default)]
pub struct ChainCheck {
    /// Everything found, ordered by certificate index (chain-wide ones first).
    pub problems: Vec<ChainProblem>,
    /// `Some(true)` when the chain reaches a certificate in the trust bundle
    /// (by name and verified signature, or the anchor itself was sent);
    /// `Some(false)` when a bundle was given and it does not (with only
    /// `unparsable` reported when the leaf cannot be parsed); `None` without
    /// a bundle or for an empty chain.
    pub anchored: Option<bool>,
    /// Signatures verified OK (distinct certificate/issuer pairs), for evidence.
    pub signatures_verified: u32,
}

// ---------------------------------------------------------------------------
// Signature verification

/// Outcome of checking one signature with one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SignatureCheck {
    Good,
    Bad,
    Unsupported(Unsupported),
}

impl SignatureCheck {
    /// Whether the pair may still be an issuing link (not proven wrong).
    fn links(self) -> bool {
        self != SignatureCheck::Bad
    }
}

/// Why a signature could not be checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unsupported {
    Algorithm,
    RsaKeyBits(usize),
    AnchorKey,
}

impl fmt::Display for Unsupported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Algorithm => f.write_str("algorithm or curve not supported"),
            Self::RsaKeyBits(bits) => write!(f, "RSA key of {bits} bits is outside 2048..=8192"),
            Self::AnchorKey => f.write_str("the anchor's public key could not be read"),
        }
    }
}

/// Bit length of a big-endian unsigned integer.
fn bit_length(be: &[u8]) -> usize {
    let trimmed = match be.iter().position(|&b| b != 0) {
        Some(start) => &be[start..],
        None => return 0,
    };
    let top = trimmed
        .first()
        .map_or(0, |b| 8 - b.leading_zeros() as usize);
    (trimmed.len() - 1) * 8 + top
}

/// RSA modulus size ring would refuse for this signature algorithm, if any.
///
/// ring reports a refused key as a failed verification, which would read as
/// `bad-signature`; the size is checked first so that it reads as
/// "could not check" instead.
fn rsa_size_refused(child: &X509Certificate<'_>, key: &SubjectPublicKeyInfo<'_>) -> Option<usize> {
    let alg = &child.signature_algorithm.algorithm;
    let min_bits = if *alg == OID_PKCS1_SHA1WITHRSA || *alg == OID_SHA1_WITH_RSA {
        1024
    } else if *alg == OID_PKCS1_SHA256WITHRSA
        || *alg == OID_PKCS1_SHA384WITHRSA
        || *alg == OID_PKCS1_SHA512WITHRSA
        || *alg == OID_PKCS1_RSASSAPSS
    {
        2048
    } else {
        return None;
    };
    let Ok(PublicKey::RSA(rsa)) = key.parsed() else {
        return None;
    };
    let bits = bit_length(rsa.modulus);
    // ring rounds the length up to whole bytes for the lower bound only.
    let refused = bits.div_ceil(8) * 8 < min_bits || bits > 8192;
    refused.then_some(bits)
}

fn verify_with(child: &X509Certificate<'_>, key: &SubjectPublicKeyInfo<'_>) -> SignatureCheck {
    if let Some(bits) = rsa_size_refused(child, key) {
        return SignatureCheck::Unsupported(Unsupported::RsaKeyBits(bits));
    }
    match child.verify_signature(Some(key)) {
        Ok(()) => SignatureCheck::Good,
        Err(X509Error::SignatureUnsupportedAlgorithm) => {
            SignatureCheck::Unsupported(Unsupported::Algorithm)
        }
        Err(_) => SignatureCheck::Bad,
    }
}

/// Where the signer's key comes from.
enum Key<'k, 's> {
    Chain(&'k SubjectPublicKeyInfo<'s>),
    /// DER of an anchor's SubjectPublicKeyInfo.
    Anchor(&'k [u8]),
}

fn compute_verdict(child: &X509Certificate<'_>, key: Key<'_, '_>) -> SignatureCheck {
    match key {
        Key::Chain(spki) => verify_with(child, spki),
        Key::Anchor(der) => match SubjectPublicKeyInfo::from_der(der) {
            Ok((_, spki)) => verify_with(child, &spki),
            Err(_) => SignatureCheck::Unsupported(Unsupported::AnchorKey),
        },
    }
}

type Cache = HashMap<(Digest, Digest), SignatureCheck>;

/// Inserts into a bounded cache, clearing it first when it is full.
fn remember(cache: &mut Cache, key: (Digest, Digest), verdict: SignatureCheck, capacity: usize) {
    if cache.len() >= capacity {
        cache.clear();
    }
    cache.insert(key, verdict);
}

/// Verdicts for one chain, on top of the long-lived cache.
struct ChainSignatures<'c> {
    cache: &'c mut Cache,
    /// (child index, signer certificate digest) → verdict, for this chain.
    memo: HashMap<(usize, Digest), SignatureCheck>,
}

impl ChainSignatures<'_> {
    fn verify(
        &mut self,
        index: usize,
        child: &Entry<'_>,
        signer: Digest,
        key: Key<'_, '_>,
    ) -> SignatureCheck {
        if let Some(verdict) = self.memo.get(&(index, signer)) {
            return *verdict;
        }
        let cache_key = (child.digest, signer);
        let verdict = match self.cache.get(&cache_key) {
            Some(verdict) => *verdict,
            None => {
                let verdict = compute_verdict(&child.cert, key);
                remember(self.cache, cache_key, verdict, CACHE_CAPACITY);
                verdict
            }
        };
        self.memo.insert((index, signer), verdict);
        verdict
    }

    fn good_count(&self) -> u32 {
        let good = self
            .memo
            .values()
            .filter(|v| **v == SignatureCheck::Good)
            .count();
        u32::try_from(good).unwrap_or(u32::MAX)
    }
}

// ---------------------------------------------------------------------------
// The chain as sent

struct Entry<'a> {
    cert: X509Certificate<'a>,
    digest: Digest,
}

impl Entry<'_> {
    fn subject(&self) -> &[u8] {
        self.cert.subject().as_raw()
    }

    fn issuer(&self) -> &[u8] {
        self.cert.issuer().as_raw()
    }

    fn self_issued(&self) -> bool {
        self.subject() == self.issuer()
    }

    fn key(&self) -> &SubjectPublicKeyInfo<'_> {
        self.cert.public_key()
    }
}

enum Slot<'a> {
    Cert(Box<Entry<'a>>),
    Unparsable,
    Duplicate,
}

impl<'a> Slot<'a> {
    fn entry(&self) -> Option<&Entry<'a>> {
        match self {
            Slot::Cert(entry) => Some(entry),
            _ => None,
        }
    }
}

/// Parses each certificate once, reporting duplicates and parse failures.
fn parse_slots<'a>(chain: &[&'a [u8]], problems: &mut Vec<ChainProblem>) -> Vec<Slot<'a>> {
    let mut seen: Vec<Digest> = Vec::with_capacity(chain.len());
    let mut slots = Vec::with_capacity(chain.len());
    for (index, der) in chain.iter().enumerate() {
        let digest = sha256(der);
        let first = seen.iter().position(|d| *d == digest);
        seen.push(digest);
        if let Some(first) = first {
            let detail = format!("same certificate as index {first}");
            problems.push(ChainProblem::at(kind::DUPLICATE_CERTIFICATE, index, detail));
            slots.push(Slot::Duplicate);
            continue;
        }
        match parse_der(der) {
            Ok(cert) => slots.push(Slot::Cert(Box::new(Entry { cert, digest }))),
            Err(reason) => {
                problems.push(ChainProblem::at(kind::UNPARSABLE, index, reason));
                slots.push(Slot::Unparsable);
            }
        }
    }
    slots
}

/// The next slot after `index` that is not a duplicate.
fn next_effective(slots: &[Slot<'_>], index: usize) -> Option<usize> {
    (index + 1..slots.len()).find(|&k| !matches!(slots[k], Slot::Duplicate))
}

/// For each certificate, the sent certificates whose subject is its issuer,
/// in order of preference: itself (if self-issued), the next one, the rest.
fn issuer_candidates(slots: &[Slot<'_>]) -> Vec<Vec<usize>> {
    let rank = |i: usize, j: usize| {
        if i == j {
            0
        } else if Some(j) == next_effective(slots, i) {
            1
        } else {
            2
        }
    };
    slots
        .iter()
        .enumerate()
        .map(|(i, slot)| {
            let Some(child) = slot.entry() else {
                return Vec::new();
            };
            let mut found: Vec<usize> = slots
                .iter()
                .enumerate()
                .filter(|(_, s)| s.entry().is_some_and(|e| e.subject() == child.issuer()))
                .map(|(j, _)| j)
                .collect();
            found.sort_by_key(|&j| rank(i, j));
            found
        })
        .collect()
}

/// Where the search for a trust anchor stopped.
enum DeadEnd {
    /// Issuer neither sent nor in the bundle.
    Missing(usize),
    /// Self-issued, not in the bundle.
    SelfIssued(usize),
    /// A bundle anchor has the issuer's name but rejects the signature.
    AnchorRejected(usize, usize, SignatureCheck),
    /// Every sent issuer candidate fails the signature check.
    BrokenLink(usize),
    /// The issuers were already examined (a loop).
    Loop(usize),
}

/// One chain being checked.
struct Pass<'c, 'a> {
    slots: Vec<Slot<'a>>,
    candidates: Vec<Vec<usize>>,
    bundle: Option<&'c TrustBundle>,
    verifier: ChainSignatures<'c>,
    problems: Vec<ChainProblem>,
}

impl Pass<'_, '_> {
    fn entry(&self, index: usize) -> Option<&Entry<'_>> {
        self.slots.get(index).and_then(Slot::entry)
    }

    fn name_of(&self, index: usize) -> String {
        self.entry(index)
            .map_or_else(String::new, |e| display_name(e.cert.subject()))
    }

    fn issuer_name_of(&self, index: usize) -> String {
        self.entry(index)
            .map_or_else(String::new, |e| display_name(e.cert.issuer()))
    }

    fn push(&mut self, kind: &'static str, index: usize, detail: String) {
        self.problems.push(ChainProblem::at(kind, index, detail));
    }

    /// SignatureCheck of `child`'s signature under the key of sent certificate `issuer`.
    fn verify_chain(&mut self, child: usize, issuer: usize) -> SignatureCheck {
        let (Some(Slot::Cert(c)), Some(Slot::Cert(i))) =
            (self.slots.get(child), self.slots.get(issuer))
        else {
            return SignatureCheck::Bad;
        };
        self.verifier
            .verify(child, c, i.digest, Key::Chain(i.key()))
    }

    /// SignatureCheck of `child`'s signature under the key of bundle anchor `anchor`.
    fn verify_anchor(&mut self, child: usize, anchor: &Anchor) -> SignatureCheck {
        let Some(Slot::Cert(c)) = self.slots.get(child) else {
            return SignatureCheck::Bad;
        };
        self.verifier
            .verify(child, c, anchor.digest, Key::Anchor(&anchor.spki))
    }

    /// Whether any certificate from `from` on issues another sent certificate.
    fn later_certificates_used(&self, from: usize) -> bool {
        self.candidates
            .iter()
            .enumerate()
            .any(|(m, cands)| cands.iter().any(|&k| k >= from && k != m))
    }

    /// `issuer-mismatch` and `chain-order` for certificate `i`.
    fn check_linkage(&mut self, i: usize) {
        let Some(child) = self.entry(i) else {
            return;
        };
        let self_issued = child.self_issued();
        let others: Vec<usize> = self.candidates[i]
            .iter()
            .copied()
            .filter(|&j| j != i)
            .collect();
        let next = next_effective(&self.slots, i);
        if self_issued {
            self.check_self_issued_linkage(i, next, &others);
            return;
        }
        let Some(next) = next else {
            // Last one sent: fine unless its issuer was sent before it.
            if let Some(&j) = others.first() {
                let detail =
                    format!("issued by the certificate at index {j}, which was sent before it");
                self.push(kind::CHAIN_ORDER, i, detail);
            }
            return;
        };
        match others.first() {
            Some(_) if others.contains(&next) => {}
            Some(&j) => {
                let detail = format!(
                    "issued by the certificate at index {j}, not by the next one (index {next})"
                );
                self.push(kind::CHAIN_ORDER, i, detail);
            }
            None if matches!(self.slots[next], Slot::Unparsable) => {}
            None => {
                let detail = format!(
                    "issuer \"{}\" is not the subject of any other certificate sent; the next one (index {next}) is \"{}\"",
                    self.issuer_name_of(i),
                    self.name_of(next)
                );
                self.push(kind::ISSUER_MISMATCH, i, detail);
            }
        }
    }

    /// A self-issued certificate ends its own path, so it is never out of
    /// order itself (certificates it issues report that). Certificates after
    /// it are only a problem when none of them belongs to the chain.
    fn check_self_issued_linkage(&mut self, i: usize, next: Option<usize>, others: &[usize]) {
        let Some(next) = next else {
            return;
        };
        if others.contains(&next)
            || matches!(self.slots[next], Slot::Unparsable)
            || self.later_certificates_used(next)
        {
            return;
        }
        let detail = format!(
            "self-issued certificate is followed by certificates that are not part of its chain (from index {next})"
        );
        self.push(kind::ISSUER_MISMATCH, i, detail);
    }

    /// Verifies each certificate against its candidate issuers; returns the
    /// accepted issuer of each (verified, or unverifiable).
    fn check_signatures(&mut self) -> Vec<Option<usize>> {
        (0..self.slots.len())
            .map(|i| self.check_signature(i))
            .collect()
    }

    fn check_signature(&mut self, i: usize) -> Option<usize> {
        let mut unsupported = None;
        let mut bad = None;
        for j in self.candidates[i].clone() {
            match self.verify_chain(i, j) {
                SignatureCheck::Good => return Some(j),
                SignatureCheck::Unsupported(why) => {
                    unsupported.get_or_insert((j, why));
                }
                SignatureCheck::Bad => {
                    bad.get_or_insert(j);
                }
            }
        }
        let whose = |j: usize, name: String| {
            if j == i {
                "its own key (self-issued)".to_owned()
            } else {
                format!("the key of the certificate at index {j} (\"{name}\")")
            }
        };
        if let Some((j, why)) = unsupported {
            let oid = self
                .entry(i)
                .map(|e| e.cert.signature_algorithm.algorithm.to_id_string())
                .unwrap_or_default();
            let detail = format!(
                "signature ({oid}) could not be checked with {}: {why}",
                whose(j, self.name_of(j))
            );
            self.push(kind::UNSUPPORTED_SIGNATURE_ALGORITHM, i, detail);
            return Some(j);
        }
        if let Some(j) = bad {
            let detail = format!(
                "signature does not verify with {}",
                whose(j, self.name_of(j))
            );
            self.push(kind::BAD_SIGNATURE, i, detail);
        }
        None
    }

    /// `self-signed-leaf`, unless the leaf is pinned in the bundle.
    fn check_self_signed_leaf(&mut self, links: &[Option<usize>]) {
        let Some(leaf) = self.entry(0) else {
            return;
        };
        if !leaf.self_issued() || links.first() != Some(&Some(0)) {
            return;
        }
        let digest = leaf.digest;
        let trust = match self.bundle {
            Some(bundle) if bundle.contains(&digest) => return,
            Some(_) => "it is not in the trust bundle",
            None => "no trust bundle was given",
        };
        let unchecked = match self.verifier.memo.get(&(0, digest)) {
            Some(SignatureCheck::Unsupported(_)) => "; its self-signature could not be checked",
            _ => "",
        };
        let detail = format!(
            "leaf \"{}\" is self-signed and {trust}{unchecked}",
            self.name_of(0)
        );
        self.push(kind::SELF_SIGNED_LEAF, 0, detail);
    }

    /// `issuer-not-ca`, once per issuing certificate.
    fn check_issuers_are_ca(&mut self, links: &[Option<usize>]) {
        let mut flagged = vec![false; self.slots.len()];
        for (child, link) in links.iter().enumerate() {
            let Some(issuer) = *link else { continue };
            if issuer == child || flagged.get(issuer) != Some(&false) {
                continue;
            }
            let Some(reason) = self.entry(issuer).and_then(|e| not_ca_reason(&e.cert)) else {
                continue;
            };
            flagged[issuer] = true;
            let detail = format!("issues the certificate at index {child}, but {reason}");
            self.push(kind::ISSUER_NOT_CA, issuer, detail);
        }
    }

    /// Depth-first search from the leaf for a trust anchor.
    fn walk_to_anchor(&mut self, bundle: &TrustBundle) -> Result<(), Option<DeadEnd>> {
        let n = self.slots.len();
        let mut visited = vec![false; n];
        let mut stack = vec![0];
        let mut first_dead = None;
        while let Some(node) = stack.pop() {
            if visited.get(node) != Some(&false) {
                continue;
            }
            visited[node] = true;
            let Some(entry) = self.entry(node) else {
                continue;
            };
            if bundle.contains(&entry.digest) {
                return Ok(());
            }
            let self_issued = entry.self_issued();
            let mut rejected = None;
            for &a in bundle.with_subject(entry.issuer()) {
                let Some(anchor) = bundle.anchors.get(a) else {
                    continue;
                };
                match self.verify_anchor(node, anchor) {
                    SignatureCheck::Good => return Ok(()),
                    verdict => {
                        rejected.get_or_insert((a, verdict));
                    }
                }
            }
            let (mut pushed, mut broken, mut seen) = (false, false, false);
            for j in self.candidates[node].clone().into_iter().rev() {
                if j == node {
                    continue;
                }
                if visited[j] {
                    seen = true;
                } else if self.verify_chain(node, j).links() {
                    stack.push(j);
                    pushed = true;
                } else {
                    broken = true;
                }
            }
            if pushed || first_dead.is_some() {
                continue;
            }
            first_dead = Some(match rejected {
                Some((a, verdict)) => DeadEnd::AnchorRejected(node, a, verdict),
                None if broken => DeadEnd::BrokenLink(node),
                None if seen => DeadEnd::Loop(node),
                None if self_issued => DeadEnd::SelfIssued(node),
                None => DeadEnd::Missing(node),
            });
        }
        Err(first_dead)
    }

    /// Sets `anchored` and reports `missing-intermediate` / `not-anchored`.
    fn check_anchoring(&mut self) -> Option<bool> {
        let bundle = self.bundle?;
        if self.entry(0).is_none() {
            // The unparsable leaf is already reported; nothing to walk from.
            return Some(false);
        }
        let dead = match self.walk_to_anchor(bundle) {
            Ok(()) => return Some(true),
            Err(dead) => dead,
        };
        let (kind, index, detail) = match dead {
            Some(DeadEnd::Missing(i)) => self.missing_issuer(i),
            Some(DeadEnd::SelfIssued(i)) => (
                kind::NOT_ANCHORED,
                i,
                format!(
                    "the chain ends in self-issued \"{}\", which is not in the trust bundle",
                    self.name_of(i)
                ),
            ),
            Some(DeadEnd::AnchorRejected(i, a, verdict)) => {
                let anchor = bundle.anchors.get(a).map_or("", |x| x.name.as_str());
                let outcome = match verdict {
                    SignatureCheck::Unsupported(why) => format!("cannot be checked ({why})"),
                    _ => "does not verify".to_owned(),
                };
                let detail = format!(
                    "trust anchor \"{anchor}\" has the issuer name of the certificate at index {i}, but its signature {outcome} with the anchor's key"
                );
                (kind::NOT_ANCHORED, i, detail)
            }
            Some(DeadEnd::BrokenLink(i)) => (
                kind::NOT_ANCHORED,
                i,
                format!(
                    "the path to a trust anchor breaks at index {i}: its signature does not verify with the issuer sent"
                ),
            ),
            Some(DeadEnd::Loop(i)) => (
                kind::NOT_ANCHORED,
                i,
                "the issuers sent form a loop that never reaches a trust anchor".to_owned(),
            ),
            None => (
                kind::NOT_ANCHORED,
                0,
                "no path from the leaf reaches a trust anchor".to_owned(),
            ),
        };
        self.push(kind, index, detail);
        Some(false)
    }

    fn missing_issuer(&self, i: usize) -> (&'static str, usize, String) {
        let issuer = self.issuer_name_of(i);
        let unparsable: Vec<String> = self
            .slots
            .iter()
            .enumerate()
            .filter(|(_, s)| matches!(s, Slot::Unparsable))
            .map(|(k, _)| k.to_string())
            .collect();
        if unparsable.is_empty() {
            let detail = format!(
                "issuer \"{issuer}\" of the certificate at index {i} was not sent and is not in the trust bundle"
            );
            (kind::MISSING_INTERMEDIATE, i, detail)
        } else {
            let detail = format!(
                "issuer \"{issuer}\" of the certificate at index {i} is not in the trust bundle and was not found among the parsable certificates (unparsable: {})",
                unparsable.join(", ")
            );
            (kind::NOT_ANCHORED, i, detail)
        }
    }
}

/// Why an X.509 v3 certificate may not issue others, if it may not.
fn not_ca_reason(cert: &X509Certificate<'_>) -> Option<&'static str> {
    if cert.version() != X509Version::V3 {
        return None;
    }
    match cert.basic_constraints() {
        Ok(Some(bc)) if bc.value.ca => None,
        Ok(Some(_)) => Some("its basicConstraints has cA FALSE"),
        Ok(None) => Some("it has no basicConstraints extension"),
        Err(_) => Some("its basicConstraints extension is repeated or invalid"),
    }
}

// ---------------------------------------------------------------------------
// Checker

/// Checks chains, caching signature verdicts per (child DER SHA-256, issuer
/// DER SHA-256) pair in a bounded cache (cleared when full), because the same
/// chain is seen in thousands of flows.
#[derive(Debug)]
pub struct ChainChecker {
    bundle: Option<TrustBundle>,
    cache: Cache,
}

impl ChainChecker {
    /// A checker; with a bundle, chains are also checked for reaching an anchor.
    #[must_use]
    pub fn new(bundle: Option<TrustBundle>) -> Self {
        Self {
            bundle,
            cache: Cache::new(),
        }
    }

    /// Checks `chain`: DER certificates as sent, leaf first. An empty chain
    /// gives a default [`ChainCheck`] (`anchored: None`).
    #[must_use]
    pub fn check(&mut self, chain: &[&[u8]]) -> ChainCheck {
        if chain.is_empty() {
            return ChainCheck::default();
        }
        let mut problems = Vec::new();
        if chain.len() > MAX_CHAIN_LEN {
            problems.push(ChainProblem {
                kind: kind::CHAIN_TOO_LONG,
                index: None,
                detail: format!(
                    "{} certificates sent; only the first {MAX_CHAIN_LEN} are checked",
                    chain.len()
                ),
            });
        }
        let examined = &chain[..chain.len().min(MAX_CHAIN_LEN)];
        let slots = parse_slots(examined, &mut problems);
        let candidates = issuer_candidates(&slots);
        let mut pass = Pass {
            slots,
            candidates,
            bundle: self.bundle.as_ref(),
            verifier: ChainSignatures {
                cache: &mut self.cache,
                memo: HashMap::new(),
            },
            problems,
        };
        for i in 0..pass.slots.len() {
            pass.check_linkage(i);
        }
        let links = pass.check_signatures();
        pass.check_self_signed_leaf(&links);
        pass.check_issuers_are_ca(&links);
        pass.check_critical_extensions();
        pass.check_path(&links);
        let anchored = pass.check_anchoring();
        let signatures_verified = pass.verifier.good_count();
        let mut problems = pass.problems;
        problems.sort_by_key(|p| p.index.map_or(0, |i| i + 1));
        ChainCheck {
            problems,
            anchored,
            signatures_verified,
        }
    }
}

#[cfg(test)]
pub(crate) mod tests;
