//! Line-oriented protocols: SSH, SMTP, FTP, IMAP, POP3, and XMPP's XML stream,
//! with their in-band TLS upgrade commands.

use super::AppProtocol;
use super::scan::{contains, contains_ci, first_line, first_word, lines};

/// How far into a stream XMPP's `<stream:stream` or `<starttls` is looked for.
const XML_WINDOW: usize = 4096;
/// Commands scanned for an upgrade; clients send two or three before it.
const MAX_COMMANDS: usize = 16;

/// SMTP (and LMTP) greetings. STARTTLS is advertised in the reply to EHLO, so
/// an SMTP client always greets first; a bare `STARTTLS` is IRC's.
const GREETINGS: [&[u8]; 3] = [b"EHLO", b"HELO", b"LHLO"];
/// Other commands a client may send before asking for TLS: SMTP (RSET, NOOP,
/// HELP), POP3 (CAPA, bare AUTH listing mechanisms), FTP (FEAT, SYST, OPTS).
/// Anything else ends the scan, so a `STARTTLS` line inside, say, an HTTP
/// body is never read as a command.
const PRE_UPGRADE_COMMANDS: [&[u8]; 8] = [
    b"RSET", b"NOOP", b"HELP", b"CAPA", b"AUTH", b"FEAT", b"SYST", b"OPTS",
];
/// IMAP commands (after a tag) allowed before a tagged STARTTLS.
const PRE_UPGRADE_IMAP: [&[u8]; 3] = [b"CAPABILITY", b"NOOP", b"ID"];

/// SSH identification string (RFC 4253 4.2); `1.99` is a server or client
/// that also speaks SSH 1.
pub(super) fn is_ssh(client: &[u8], server: &[u8]) -> bool {
    [client, server]
        .iter()
        .any(|side| side.starts_with(b"SSH-2.0-") || side.starts_with(b"SSH-1.99-"))
}

/// SMTP, FTP, IMAP and POP3, named by the server greeting, or by the client's
/// first command when the greeting is not there.
pub(super) fn mail_or_ftp(client: &[u8], server: &[u8], server_port: u16) -> Option<AppProtocol> {
    if server.starts_with(b"220 ") || server.starts_with(b"220-") {
        return smtp_or_ftp(first_line(server), client, server_port);
    }
    if server.starts_with(b"* OK") || server.starts_with(b"* PREAUTH") {
        return Some(AppProtocol::Imap);
    }
    // `+OK` followed by text; Redis replies `+OK\r\n` and never greets.
    if server.starts_with(b"+OK ") {
        return Some(AppProtocol::Pop3);
    }
    is_helo(client).then_some(AppProtocol::Smtp)
}

/// Both SMTP and FTP greet with 220. The banner usually names the protocol
/// (`ESMTP Postfix`, `(vsFTPd 3.0.5)`, `Microsoft FTP Service`), else the
/// client's first command does (FTP clients never send EHLO; SMTP ones send it
/// before anything else), else the port.
fn smtp_or_ftp(banner: &[u8], client: &[u8], server_port: u16) -> Option<AppProtocol> {
    if contains_ci(banner, b"SMTP") || is_helo(client) {
        return Some(AppProtocol::Smtp);
    }
    let ftp_verb = [&b"USER"[..], b"AUTH", b"FEAT", b"SYST", b"OPTS"]
        .iter()
        .any(|verb| first_word(first_line(client)).eq_ignore_ascii_case(verb));
    if contains_ci(banner, b"FTP") || ftp_verb {
        return Some(AppProtocol::Ftp);
    }
    match server_port {
        25 | 465 | 587 | 2525 => Some(AppProtocol::Smtp),
        21 => Some(AppProtocol::Ftp),
        _ => None,
    }
}

/// A client that opens with EHLO, HELO or LHLO: SMTP (argument optional in practice).
fn is_helo(client: &[u8]) -> bool {
    let line = first_line(client);
    line.len() < client.len() && is_greeting(line) // the line is complete
}

fn is_greeting(line: &[u8]) -> bool {
    let verb = first_word(line);
    GREETINGS.iter().any(|g| verb.eq_ignore_ascii_case(g))
}

/// XMPP: a stream header, `<stream:stream` (possibly after `<?xml ...?>`),
/// from either side. A lone `<?xml` declaration counts only on 5222/5269.
pub(super) fn is_xmpp(client: &[u8], server: &[u8], server_port: u16) -> bool {
    let opens_stream = |side: &[u8]| {
        let head = side.get(..XML_WINDOW).unwrap_or(side);
        head.starts_with(b"<stream:stream")
            || (head.starts_with(b"<?xml") && contains(head, b"<stream:stream"))
    };
    let declaration = client.starts_with(b"<?xml") || server.starts_with(b"<?xml");
    opens_stream(client)
        || opens_stream(server)
        || (declaration && matches!(server_port, 5222 | 5269))
}

/// The client asked to switch this connection to TLS: SMTP `STARTTLS`, IMAP
/// `<tag> STARTTLS`, POP3 `STLS`, FTP `AUTH TLS`/`AUTH SSL` (RFC 4217), each a
/// complete line, matched case-insensitively as the RFCs say, after only the
/// commands in [`GREETINGS`], [`PRE_UPGRADE_COMMANDS`] and [`PRE_UPGRADE_IMAP`].
pub(super) fn command_upgrade(client: &[u8]) -> Option<AppProtocol> {
    let mut greeted = false;
    for line in lines(client).take(MAX_COMMANDS) {
        if line.eq_ignore_ascii_case(b"STARTTLS") {
            return greeted.then_some(AppProtocol::Smtp);
        }
        if line.eq_ignore_ascii_case(b"STLS") {
            return Some(AppProtocol::Pop3);
        }
        if [&b"AUTH TLS"[..], b"AUTH TLS-C", b"AUTH SSL"]
            .iter()
            .any(|c| line.eq_ignore_ascii_case(c))
        {
            return Some(AppProtocol::Ftp);
        }
        if is_greeting(line) {
            greeted = true;
            continue;
        }
        let verb = first_word(line);
        if PRE_UPGRADE_COMMANDS
            .iter()
            .any(|c| verb.eq_ignore_ascii_case(c))
        {
            continue;
        }
        // IMAP: `tag SP command`, the tag being any atom.
        let imap_command = line.get(verb.len().checked_add(1)?..)?;
        if imap_command.eq_ignore_ascii_case(b"STARTTLS") {
            return Some(AppProtocol::Imap);
        }
        if !PRE_UPGRADE_IMAP
            .iter()
            .any(|c| first_word(imap_command).eq_ignore_ascii_case(c))
        {
            return None;
        }
    }
    None
}

/// XMPP `<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>` on a client stream.
pub(super) fn xmpp_starttls(client: &[u8]) -> bool {
    let head = client.get(..XML_WINDOW).unwrap_or(client);
    (head.starts_with(b"<?xml") || head.starts_with(b"<stream:stream"))
        && contains(head, b"<starttls")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_twenty_banners() {
        let smtp = Some(AppProtocol::Smtp);
        let ftp = Some(AppProtocol::Ftp);
        assert_eq!(
            mail_or_ftp(b"", b"220 mail.example.com ESMTP Postfix\r\n", 2525),
            smtp
        );
        assert_eq!(mail_or_ftp(b"", b"220 Microsoft FTP Service\r\n", 25), ftp);
        assert_eq!(
            mail_or_ftp(b"", b"220-FileZilla Server 1.8.0\r\n", 2121),
            None
        );
        assert_eq!(
            mail_or_ftp(
                b"USER anonymous\r\n",
                b"220-FileZilla Server 1.8.0\r\n",
                2121
            ),
            ftp
        );
        assert_eq!(
            mail_or_ftp(b"ehlo client\r\n", b"220 relay ready\r\n", 10025),
            smtp
        );
        assert_eq!(mail_or_ftp(b"", b"220 relay ready\r\n", 587), smtp);
        assert_eq!(mail_or_ftp(b"", b"220 relay ready\r\n", 21), ftp);
        assert_eq!(mail_or_ftp(b"", b"220ready\r\n", 25), None);
    }

    #[test]
    fn imap_pop3_and_client_first_smtp() {
        assert_eq!(
            mail_or_ftp(b"", b"* PREAUTH IMAP4rev1 ready\r\n", 1),
            Some(AppProtocol::Imap)
        );
        assert_eq!(
            mail_or_ftp(b"", b"+OK Dovecot ready.\r\n", 1),
            Some(AppProtocol::Pop3)
        );
        assert_eq!(mail_or_ftp(b"", b"+OK\r\n", 1), None);
        assert_eq!(mail_or_ftp(b"HELO x\r\n", b"", 1), Some(AppProtocol::Smtp));
        assert_eq!(mail_or_ftp(b"HELO", b"", 1), None);
        assert_eq!(mail_or_ftp(b"HELOS\r\n", b"", 1), None);
    }

    #[test]
    fn ssh_and_xmpp() {
        assert!(is_ssh(b"", b"SSH-2.0-dropbear_2022.83\r\n"));
        assert!(!is_ssh(b"SSH-2.0", b"SSH-1.5-old\r\n"));
        assert!(is_xmpp(
            b"<?xml version='1.0'?><stream:stream to='a'>",
            b"",
            1
        ));
        assert!(is_xmpp(b"<?xml version='1.0'?>", b"", 5222));
        assert!(!is_xmpp(b"<?xml version='1.0'?><soap:Envelope>", b"", 8080));
    }

    #[test]
    fn upgrade_commands_only_after_known_commands() {
        assert_eq!(
            command_upgrade(b"EHLO a\r\nRSET\r\nStartTLS\r\n"),
            Some(AppProtocol::Smtp)
        );
        assert_eq!(
            command_upgrade(b"a1 ID (\"name\" \"x\")\r\na2 starttls\r\n"),
            Some(AppProtocol::Imap)
        );
        assert_eq!(
            command_upgrade(b"CAPA\r\nSTLS\r\n"),
            Some(AppProtocol::Pop3)
        );
        assert_eq!(command_upgrade(b"auth ssl\r\n"), Some(AppProtocol::Ftp));
        assert_eq!(command_upgrade(b"EHLO a\r\nSTARTTLS"), None);
        assert_eq!(command_upgrade(b"STARTTLS\r\n"), None); // IRC (IRCv3 tls extension)
        assert_eq!(
            command_upgrade(b"AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\nQUIT\r\n"),
            None
        );
        assert_eq!(
            command_upgrade(b"POST / HTTP/1.1\r\nHost: a\r\n\r\nSTARTTLS\r\n"),
            None
        );
        assert_eq!(command_upgrade(b"Host: a\r\nSTARTTLS\r\n"), None);
        assert_eq!(command_upgrade(b"STARTTLSX\r\n"), None);
    }

    #[test]
    fn xmpp_starttls_needs_a_stream() {
        assert!(xmpp_starttls(
            b"<stream:stream to='a'><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"
        ));
        assert!(!xmpp_starttls(b"POST /x HTTP/1.1\r\n\r\n<starttls/>"));
    }
}
