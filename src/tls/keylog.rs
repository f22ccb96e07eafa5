//! TLS 1.3 handshake secrets from NSS key log files (`SSLKEYLOGFILE`,
//! OpenSSL `-keylogfile`, rustls `KeyLogFile`, Envoy `key_log`) and from
//! pcapng Decryption Secrets Blocks, which hold the same text.
//!
//! Only the two handshake traffic secrets are kept. Application traffic
//! secrets, exporter and early secrets, and TLS 1.2 master secrets are
//! counted and dropped: tls-audit reads handshakes, never application data.
//!
//! Key log files are operator input, but a capture's DSBs are not: parsing
//! is line by line, bounded, and a bad line is reported with its number and
//! skipped, never fatal.

use std::collections::HashMap;

/// Most secrets kept; lines beyond are counted, not stored.
const MAX_ENTRIES: usize = 1_000_000;
/// Problems reported by line; beyond, only counted.
const MAX_PROBLEMS: usize = 20;
/// A TLS 1.3 secret is a hash output: 32 or 48 bytes (64 for future suites).
const MAX_SECRET: usize = 64;

/// The handshake traffic secrets of one connection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HandshakeSecrets {
    /// `CLIENT_HANDSHAKE_TRAFFIC_SECRET`.
    pub client: Option<Vec<u8>>,
    /// `SERVER_HANDSHAKE_TRAFFIC_SECRET`.
    pub server: Option<Vec<u8>>,
}

/// Handshake secrets by client random.
#[derive(Debug, Clone, Default)]
pub struct KeyLog {
    by_random: HashMap<[u8; 32], HandshakeSecrets>,
    /// Lines with a label other than the two handshake secrets (ignored).
    pub ignored: u64,
    /// Malformed lines, and lines beyond the limit.
    pub bad_lines: u64,
    /// The first malformed lines, as `source:line: problem`.
    pub problems: Vec<String>,
}

impl KeyLog {
    /// Are there any secrets?
    pub fn is_empty(&self) -> bool {
        self.by_random.is_empty()
    }

    /// Connections with at least one secret.
    pub fn len(&self) -> usize {
        self.by_random.len()
    }

    /// The secrets of the connection whose ClientHello carried `random`.
    pub fn get(&self, random: &[u8; 32]) -> Option<&HandshakeSecrets> {
        self.by_random.get(random)
    }

    /// Add the lines of a key log; `source` names it in problems.
    pub fn add(&mut self, source: &str, text: &[u8]) {
        for (i, line) in text.split(|b| *b == b'\n').enumerate() {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if let Err(why) = self.add_line(line) {
                self.bad_lines = self.bad_lines.saturating_add(1);
                if self.problems.len() < MAX_PROBLEMS {
                    let line_number = i.saturating_add(1);
                    self.problems.push(format!("{source}:{line_number}: {why}"));
                }
            }
        }
    }

    fn add_line(&mut self, line: &[u8]) -> Result<(), &'static str> {
        let line = line.trim_ascii();
        if line.is_empty() || line.starts_with(b"#") {
            return Ok(());
        }
        let mut parts = line.split(|b| *b == b' ').filter(|p| !p.is_empty());
        let (Some(label), Some(random), Some(secret), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err("not `LABEL CLIENT_RANDOM SECRET`");
        };
        let client = match label {
            b"CLIENT_HANDSHAKE_TRAFFIC_SECRET" => true,
            b"SERVER_HANDSHAKE_TRAFFIC_SECRET" => false,
            l if l
                .iter()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || *b == b'_') =>
            {
                self.ignored = self.ignored.saturating_add(1);
                return Ok(());
            }
            _ => return Err("the label is not an NSS key log label"),
        };
        let random: [u8; 32] = hex(random)
            .and_then(|r| r.try_into().ok())
            .ok_or("the client random is not 64 hex digits")?;
        let secret = hex(secret)
            .filter(|s| (16..=MAX_SECRET).contains(&s.len()))
            .ok_or("the secret is not 32 to 128 hex digits")?;
        if self.by_random.len() >= MAX_ENTRIES && !self.by_random.contains_key(&random) {
            return Err("too many secrets; the rest are skipped");
        }
        let entry = self.by_random.entry(random).or_default();
        let slot = if client {
            &mut entry.client
        } else {
            &mut entry.server
        };
        *slot = Some(secret);
        Ok(())
    }
}

fn hex(s: &[u8]) -> Option<Vec<u8>> {
    let (pairs, []) = s.as_chunks::<2>() else {
        return None;
    };
    let digit = |c: u8| (c as char).to_digit(16).and_then(|d| u8::try_from(d).ok());
    pairs
        .iter()
        .map(|&[high, low]| Some(digit(high)? << 4 | digit(low)?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const R: &str = "0101010101010101010101010101010101010101010101010101010101010101";

    #[test]
    fn keeps_handshake_secrets_only() {
        let mut k = KeyLog::default();
        let text = format!(
            "# a comment\n\
             CLIENT_HANDSHAKE_TRAFFIC_SECRET {R} {}\n\
             SERVER_HANDSHAKE_TRAFFIC_SECRET {R} {}\r\n\
             CLIENT_TRAFFIC_SECRET_0 {R} {}\n\
             CLIENT_RANDOM {R} {}\n\n",
            "aa".repeat(32),
            "bb".repeat(48),
            "cc".repeat(32),
            "dd".repeat(48),
        );
        k.add("keys.txt", text.as_bytes());
        let s = k.get(&[1; 32]).unwrap();
        assert_eq!(s.client.as_deref(), Some(&[0xaa; 32][..]));
        assert_eq!(s.server.as_deref(), Some(&[0xbb; 48][..]));
        assert_eq!((k.len(), k.ignored, k.bad_lines), (1, 2, 0));
    }

    #[test]
    fn bad_lines_are_numbered_and_skipped() {
        let mut k = KeyLog::default();
        let good = format!("SERVER_HANDSHAKE_TRAFFIC_SECRET {R} {}", "ab".repeat(32));
        let text = format!(
            "CLIENT_HANDSHAKE_TRAFFIC_SECRET {R}\n\
             CLIENT_HANDSHAKE_TRAFFIC_SECRET 0102 {}\n\
             CLIENT_HANDSHAKE_TRAFFIC_SECRET {R} zz\n\
             lower_case {R} {}\n\
             {good}\n",
            "aa".repeat(32),
            "aa".repeat(32),
        );
        k.add("k", text.as_bytes());
        assert_eq!(k.bad_lines, 4);
        assert_eq!(k.problems.len(), 4);
        assert!(k.problems[0].starts_with("k:1: "), "{:?}", k.problems);
        assert!(k.problems[1].contains("64 hex digits"));
        assert!(k.problems[2].starts_with("k:3: "));
        assert!(k.get(&[1; 32]).unwrap().server.is_some());
        // Hostile bytes never panic.
        k.add("junk", &[0xff, b' ', 0x00, b'\n', b'\r', 0x80, b' ', b' ']);
    }
}
