// LabPeer: a Java JSSE peer for tls-audit's stack lab (tests/lab/run-lab.sh).
//
// One program, server or client, configured entirely by flags so that the lab
// script can record exactly what was configured as the ground truth. It moves
// one short line each way per connection (the lab never inspects it). Keys and
// certificates are read from PEM (PKCS#8 key, certificate chain) into an
// in-memory PKCS12 key store. JSSE has no key-log option: the truth is the
// configuration. Key-share groups are a JVM-wide setting: pass
// -Djdk.tls.namedGroups=... to the JVM (the client sends a key share for the first).
//
//   java -cp DIR LabPeer server HOST PORT --cert s.crt --key s.key --ca ca.crt
//        --version 1.3 --client-auth none|want|need --count N [--expect-fail]
//   java -cp DIR LabPeer client HOST PORT --sni NAME --ca ca.crt [--cert c.crt --key c.key]
//        --version 1.3 --count N [--expect-fail]
//
// Exit status: 0 every connection behaved as expected, 1 otherwise, 2 usage.

import java.io.*;
import java.net.*;
import java.nio.charset.StandardCharsets;
import java.nio.file.*;
import java.security.*;
import java.security.cert.*;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.*;
import javax.net.ssl.*;

public class LabPeer {
    static void usage(String why) {
        System.err.println("labpeer(java): " + why);
        System.exit(2);
    }

    static PrivateKey readKey(String path) throws Exception {
        String pem = Files.readString(Path.of(path));
        String b64 = pem.replaceAll("-----[A-Z ]+-----", "").replaceAll("\\s", "");
        byte[] der = Base64.getDecoder().decode(b64);
        if (!pem.contains("BEGIN PRIVATE KEY")) usage("key must be PKCS#8 PEM: " + path);
        for (String alg : new String[] {"EC", "RSA", "Ed25519"}) {
            try {
                return KeyFactory.getInstance(alg).generatePrivate(new PKCS8EncodedKeySpec(der));
            } catch (Exception e) {
                // try the next algorithm
            }
        }
        throw new IllegalArgumentException("unsupported key in " + path);
    }

    static List<java.security.cert.Certificate> readCerts(String path) throws Exception {
        try (InputStream in = new FileInputStream(path)) {
            return new ArrayList<>(CertificateFactory.getInstance("X.509").generateCertificates(in));
        }
    }

    static SSLContext context(Map<String, String> o) throws Exception {
        KeyManager[] kms = null;
        if (o.containsKey("cert")) {
            KeyStore ks = KeyStore.getInstance("PKCS12");
            ks.load(null, null);
            char[] pw = "lab".toCharArray();
            List<java.security.cert.Certificate> chain = readCerts(o.get("cert"));
            ks.setKeyEntry("me", readKey(o.get("key")), pw, chain.toArray(new java.security.cert.Certificate[0]));
            KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            kmf.init(ks, pw);
            kms = kmf.getKeyManagers();
        }
        KeyStore ts = KeyStore.getInstance("PKCS12");
        ts.load(null, null);
        int i = 0;
        for (java.security.cert.Certificate c : readCerts(o.get("ca"))) ts.setCertificateEntry("ca" + i++, c);
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(ts);
        String proto = "1.2".equals(o.get("version")) ? "TLSv1.2" : "TLSv1.3";
        SSLContext ctx = SSLContext.getInstance(proto);
        ctx.init(kms, tmf.getTrustManagers(), null);
        return ctx;
    }

    /** 1 when a connection did not behave as configured (reported), else 0. */
    static int judge(String side, int i, Exception err, boolean expectFail) {
        if ((err != null) != expectFail) {
            System.err.println("labpeer(java): " + side + " conn " + i + ": " + err + " expect-fail=" + expectFail);
            return 1;
        }
        if (err != null) System.out.println("conn " + i + ": failed as expected: " + err);
        return 0;
    }

    public static void main(String[] args) throws Exception {
        if (args.length < 3) usage("server|client HOST PORT [options]");
        String mode = args[0], host = args[1];
        int port = Integer.parseInt(args[2]);
        Map<String, String> o = new HashMap<>();
        for (int i = 3; i < args.length; i++) {
            String a = args[i];
            if (!a.startsWith("--")) usage("unexpected " + a);
            if (a.equals("--expect-fail")) {
                o.put("expect-fail", "1");
            } else if (i + 1 < args.length) {
                o.put(a.substring(2), args[++i]);
            } else {
                usage(a + " needs a value");
            }
        }
        if (!o.containsKey("ca")) usage("--ca is required");
        String proto = "1.2".equals(o.get("version")) ? "TLSv1.2" : "TLSv1.3";
        int count = Integer.parseInt(o.getOrDefault("count", "1"));
        boolean expectFail = o.containsKey("expect-fail");
        SSLContext ctx = context(o);
        int bad = 0;
        if (mode.equals("server")) {
            SSLServerSocket ss = (SSLServerSocket) ctx.getServerSocketFactory()
                    .createServerSocket(port, 8, InetAddress.getByName(host));
            ss.setEnabledProtocols(new String[] {proto});
            String auth = o.getOrDefault("client-auth", "none");
            switch (auth) {
                case "none": break;
                case "want": ss.setWantClientAuth(true); break;
                case "need": ss.setNeedClientAuth(true); break;
                default: usage("client-auth none|want|need");
            }
            System.out.println("listening");
            System.out.flush();
            for (int i = 0; i < count; i++) {
                try (SSLSocket s = (SSLSocket) ss.accept()) {
                    s.setSoTimeout(15000);
                    Exception err = null;
                    try {
                        s.startHandshake();
                        BufferedReader r = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.US_ASCII));
                        String line = r.readLine();
                        if (line == null) throw new EOFException("no line");
                        int certs = 0;
                        try {
                            certs = s.getSession().getPeerCertificates().length;
                        } catch (SSLPeerUnverifiedException e) {
                            certs = 0;
                        }
                        System.out.println("conn " + i + ": " + s.getSession().getProtocol() + " client_certs=" + certs);
                        OutputStream w = s.getOutputStream();
                        w.write("pong\n".getBytes(StandardCharsets.US_ASCII));
                        w.flush();
                    } catch (Exception e) {
                        err = e;
                    }
                    bad += judge("server", i, err, expectFail);
                }
            }
        } else if (mode.equals("client")) {
            SSLSocketFactory f = ctx.getSocketFactory();
            for (int i = 0; i < count; i++) {
                Exception err = null;
                try (SSLSocket s = (SSLSocket) f.createSocket(host, port)) {
                    s.setSoTimeout(15000);
                    s.setEnabledProtocols(new String[] {proto});
                    SSLParameters p = s.getSSLParameters();
                    if (o.containsKey("sni")) p.setServerNames(List.of(new SNIHostName(o.get("sni"))));
                    s.setSSLParameters(p);
                    try {
                        s.startHandshake();
                        OutputStream w = s.getOutputStream();
                        w.write("ping\n".getBytes(StandardCharsets.US_ASCII));
                        w.flush();
                        BufferedReader r = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.US_ASCII));
                        String line = r.readLine();
                        if (line == null) throw new EOFException("connection closed without a reply");
                        System.out.println("conn " + i + ": " + s.getSession().getProtocol() + " got=" + line);
                    } catch (Exception e) {
                        err = e;
                    }
                }
                bad += judge("client", i, err, expectFail);
            }
        } else {
            usage("server|client");
        }
        System.exit(bad == 0 ? 0 : 1);
    }
}
