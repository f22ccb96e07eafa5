//! Trust anchors from a PEM bundle (`--trust-bundle`), looked up by subject
//! and by digest.

use super::*;

/// One trust anchor, owned (the parsed certificate would borrow its DER).
#[derive(Debug, Clone)]
pub(super) struct Anchor {
    pub(super) digest: Digest,
    pub(super) spki: Vec<u8>,
    pub(super) name: String,
}

/// Trust anchors from a PEM bundle (`--trust-bundle`).
#[derive(Debug, Clone, Default)]
pub struct TrustBundle {
    pub(super) anchors: Vec<Anchor>,
    /// Raw subject DER → indices into `anchors`.
    by_subject: HashMap<Vec<u8>, Vec<usize>>,
    /// SHA-256 of the certificate DER → index into `anchors`.
    by_digest: HashMap<Digest, usize>,
}

impl TrustBundle {
    /// Parses every `CERTIFICATE` block in PEM text. Other PEM blocks (keys,
    /// `TRUSTED CERTIFICATE`, ...) and text between blocks are skipped; the
    /// same certificate given twice is kept once. Errors name the 0-based
    /// index of the offending PEM block.
    pub fn from_pem(pem: &[u8]) -> Result<TrustBundle, TrustBundleError> {
        let mut bundle = TrustBundle::default();
        for (index, block) in Pem::iter_from_buffer(pem).enumerate() {
            let block =
                block.map_err(|e| TrustBundleError::BadPem(format!("PEM block {index}: {e}")))?;
            if block.label != "CERTIFICATE" {
                continue;
            }
            bundle
                .add_der(&block.contents)
                .map_err(|reason| TrustBundleError::BadCertificate { index, reason })?;
        }
        if bundle.is_empty() {
            return Err(TrustBundleError::NoCertificates);
        }
        Ok(bundle)
    }

    /// Number of distinct anchors.
    #[must_use]
    pub fn len(&self) -> usize {
        self.anchors.len()
    }

    /// True when the bundle holds no anchor.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.anchors.is_empty()
    }

    pub(super) fn add_der(&mut self, der: &[u8]) -> Result<(), String> {
        let cert = parse_der(der)?;
        let digest = sha256(der);
        if self.by_digest.contains_key(&digest) {
            return Ok(());
        }
        let index = self.anchors.len();
        self.by_digest.insert(digest, index);
        self.by_subject
            .entry(cert.subject().as_raw().to_vec())
            .or_default()
            .push(index);
        self.anchors.push(Anchor {
            digest,
            spki: cert.public_key().raw.to_vec(),
            name: display_name(cert.subject()),
        });
        Ok(())
    }

    pub(super) fn contains(&self, digest: &Digest) -> bool {
        self.by_digest.contains_key(digest)
    }

    pub(super) fn with_subject(&self, subject: &[u8]) -> &[usize] {
        self.by_subject.get(subject).map_or(&[], Vec::as_slice)
    }
}

/// Why a trust bundle could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrustBundleError {
    /// The text holds no `CERTIFICATE` PEM block.
    NoCertificates,
    /// A PEM block is malformed (bad base64, missing END line, ...); the
    /// message names the block index.
    BadPem(String),
    /// A `CERTIFICATE` block does not hold one valid X.509 certificate.
    BadCertificate {
        /// 0-based index of the PEM block in the text.
        index: usize,
        /// What the parser said.
        reason: String,
    },
}

impl fmt::Display for TrustBundleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoCertificates => f.write_str("trust bundle holds no CERTIFICATE PEM block"),
            Self::BadPem(msg) => write!(f, "trust bundle is not valid PEM: {msg}"),
            Self::BadCertificate { index, reason } => write!(
                f,
                "trust bundle PEM block {index} is not a valid X.509 certificate: {reason}"
            ),
        }
    }
}

impl std::error::Error for TrustBundleError {}
