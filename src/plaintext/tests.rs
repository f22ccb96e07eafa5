//! Real captures through `detect` and `upgrade_requested`: the full streams,
//! every prefix of them, mutations, and random bytes. Fixtures and their
//! provenance: `testdata/README.md`.

use super::AppProtocol::{self, *};
use super::{detect, upgrade_requested};

struct Sample {
    name: &'static str,
    client: &'static [u8],
    server: &'static [u8],
    port: u16,
    detect: Option<AppProtocol>,
    upgrade: Option<AppProtocol>,
}

macro_rules! sample {
    ($name:literal, $port:expr, $detect:expr, $upgrade:expr) => {
        Sample {
            name: $name,
            client: include_bytes!(concat!("testdata/", $name, ".client")),
            server: include_bytes!(concat!("testdata/", $name, ".server")),
            port: $port,
            detect: $detect,
            upgrade: $upgrade,
        }
    };
}

fn samples() -> [Sample; 24] {
    [
        sample!("http1_get", 18080, Some(Http1), None),
        sample!("http1_connect", 8080, Some(Http1), None),
        sample!("h2c_curl", 15051, Some(Http2), None),
        sample!("grpc_python", 15051, Some(Grpc), None),
        sample!("postgres_startup", 5432, Some(Postgres), None),
        sample!("postgres_sslrequest", 5432, Some(Postgres), Some(Postgres)),
        sample!("mysql8_sslrequest", 3306, Some(Mysql), Some(Mysql)),
        sample!("mariadb10_sslrequest", 3306, Some(Mysql), Some(Mysql)),
        sample!("redis_set", 16379, Some(Redis), None),
        sample!("dns_tcp", 15353, Some(Dns), None),
        sample!("smtp_starttls", 25, Some(Smtp), Some(Smtp)),
        sample!("smtp_rset_starttls", 25, Some(Smtp), Some(Smtp)),
        sample!("imap_starttls", 143, Some(Imap), Some(Imap)),
        sample!("pop3_starttls", 110, Some(Pop3), Some(Pop3)),
        sample!("pop3_capa_stls", 110, Some(Pop3), Some(Pop3)),
        sample!("ftp_auth_tls", 21, Some(Ftp), Some(Ftp)),
        sample!("ftp_plain_banner", 21, Some(Ftp), Some(Ftp)),
        sample!("ldap_bind_search", 13890, Some(Ldap), None),
        sample!("ldap_starttls", 389, Some(Ldap), Some(Ldap)),
        sample!("xmpp_starttls", 5222, Some(Xmpp), Some(Xmpp)),
        sample!("ssh_openssh", 22, Some(Ssh), None),
        sample!("ssh_cisco", 22, Some(Ssh), None),
        sample!("irc_starttls", 6667, None, None),
        sample!("tls12_clienthello", 443, None, None),
    ]
}

#[test]
fn full_streams() {
    for s in samples() {
        assert_eq!(detect(s.client, s.server, s.port), s.detect, "{}", s.name);
        assert_eq!(upgrade_requested(s.client), s.upgrade, "{} upgrade", s.name);
    }
}

/// A ClientHello answered by a plaintext web server is a TLS failure, not HTTP.
/// (Not a `samples()` entry: cut to an empty client, the server's reply alone is HTTP.)
#[test]
fn tls_client_to_plaintext_server_is_nothing() {
    let client = include_bytes!("testdata/tls_to_http_server.client");
    let server = include_bytes!("testdata/tls_to_http_server.server");
    assert!(server.starts_with(b"HTTP/1.1 400 Bad Request"));
    assert_eq!(detect(client, server, 80), None);
    assert_eq!(detect(b"", server, 80), Some(Http1));
}

/// Content decides: every capture is named the same on a port it has nothing to do with.
#[test]
fn ports_do_not_matter_for_real_captures() {
    for s in samples() {
        for port in [0, 443, 8443] {
            assert_eq!(
                detect(s.client, s.server, port),
                s.detect,
                "{} on {port}",
                s.name
            );
        }
    }
}

/// Each side alone still names its protocol where the signature is one-sided.
#[test]
fn one_side_alone() {
    let client_only = [
        "http1_get",
        "h2c_curl",
        "grpc_python",
        "postgres_startup",
        "redis_set",
        "dns_tcp",
    ];
    let server_only = [
        "http1_get",
        "mysql8_sslrequest",
        "smtp_starttls",
        "imap_starttls",
        "pop3_starttls",
    ];
    for s in samples() {
        if client_only.contains(&s.name) {
            assert_eq!(
                detect(s.client, b"", s.port),
                s.detect,
                "{} client only",
                s.name
            );
        }
        if server_only.contains(&s.name) {
            assert_eq!(
                detect(b"", s.server, s.port),
                s.detect,
                "{} server only",
                s.name
            );
        }
    }
}

/// A stream cut anywhere gives no answer or the final one, never another.
#[test]
fn every_prefix_is_none_or_the_final_answer() {
    for s in samples() {
        let (c, sv) = (s.client, s.server);
        let longest = c.len().max(sv.len());
        let cuts = (0..=c.len())
            .map(|i| (i, sv.len()))
            .chain((0..=sv.len()).map(|j| (c.len(), j)))
            .chain((0..=longest).map(|k| (k.min(c.len()), k.min(sv.len()))));
        for (i, j) in cuts {
            let got = detect(&c[..i], &sv[..j], s.port);
            assert!(
                got.is_none() || got == s.detect,
                "{} cut at {i}/{j}: {got:?}",
                s.name
            );
        }
        for i in 0..=c.len() {
            let got = upgrade_requested(&c[..i]);
            assert!(
                got.is_none() || got == s.upgrade,
                "{} upgrade cut at {i}: {got:?}",
                s.name
            );
        }
    }
}

/// Deterministic xorshift, so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}

const PORTS: [u16; 12] = [
    21, 25, 53, 110, 143, 389, 443, 3306, 5222, 5432, 6379, 40000,
];

#[test]
fn random_bytes_are_nothing() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for n in 0..20_000 {
        let (client, server) = (rng.bytes(n % 700), rng.bytes((n * 7) % 300));
        let port = PORTS[n % PORTS.len()];
        assert_eq!(detect(&client, &server, port), None, "seed step {n}");
        assert_eq!(upgrade_requested(&client), None, "seed step {n}");
    }
}

/// Corrupted captures exercise the parsers' deeper branches: no panic, whatever the answer.
#[test]
fn mutated_captures_never_panic() {
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    for s in samples() {
        for _ in 0..2_000 {
            let (mut c, mut sv) = (s.client.to_vec(), s.server.to_vec());
            for side in [&mut c, &mut sv] {
                for _ in 0..rng.next() % 4 {
                    if !side.is_empty() {
                        let at = rng.next() as usize % side.len();
                        side[at] =
                            [0x00, 0x0a, 0x20, 0x30, 0x7f, 0x80, 0xff][rng.next() as usize % 7];
                    }
                }
                side.truncate(rng.next() as usize % (side.len() + 1));
            }
            let _ = detect(&c, &sv, PORTS[rng.next() as usize % PORTS.len()]);
            let _ = upgrade_requested(&c);
        }
    }
}

#[test]
fn names() {
    let all = [
        Http1, Http2, Grpc, Postgres, Mysql, Redis, Dns, Smtp, Imap, Pop3, Ftp, Ldap, Xmpp, Ssh,
    ];
    let names: Vec<&str> = all.iter().map(|p| p.as_str()).collect();
    assert_eq!(
        names,
        [
            "http/1.1", "h2", "grpc", "postgres", "mysql", "redis", "dns", "smtp", "imap", "pop3",
            "ftp", "ldap", "xmpp", "ssh"
        ]
    );
}
