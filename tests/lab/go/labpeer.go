// labpeer: a Go crypto/tls peer for tls-audit's stack lab (tests/lab/run-lab.sh).
//
// One program, server or client, configured entirely by flags so that the lab
// script can record exactly what was configured as the ground truth. It moves
// one short line each way per connection (the lab never inspects it).
//
//	labpeer -mode server -listen 10.0.0.2:8443 -cert s.crt -key s.key -ca ca.crt \
//	        -version 1.3 -client-auth require -count 2 -keylog s.keys
//	labpeer -mode client -connect 10.0.0.2:8443 -sni api -ca ca.crt [-cert c.crt -key c.key] \
//	        -version 1.3 -count 2 -resume -keylog c.keys
//
// Exit status: 0 every connection behaved as expected (-expect-fail: the
// handshake failed), 1 otherwise, 2 usage.
package main

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"
)

func fail(format string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, "labpeer(go): "+format+"\n", a...)
	os.Exit(1)
}

func version(v string) uint16 {
	switch v {
	case "1.2":
		return tls.VersionTLS12
	case "1.3":
		return tls.VersionTLS13
	}
	fmt.Fprintf(os.Stderr, "labpeer(go): unknown version %q\n", v)
	os.Exit(2)
	return 0
}

func clientAuth(m string) tls.ClientAuthType {
	switch m {
	case "none":
		return tls.NoClientCert
	case "request":
		return tls.RequestClientCert
	case "require":
		return tls.RequireAndVerifyClientCert
	case "verify-if-given":
		return tls.VerifyClientCertIfGiven
	}
	fmt.Fprintf(os.Stderr, "labpeer(go): unknown client auth mode %q\n", m)
	os.Exit(2)
	return 0
}

func groups(s string) []tls.CurveID {
	if s == "" {
		return nil
	}
	var out []tls.CurveID
	for _, g := range strings.Split(s, ",") {
		switch g {
		case "x25519":
			out = append(out, tls.X25519)
		case "p256":
			out = append(out, tls.CurveP256)
		case "p384":
			out = append(out, tls.CurveP384)
		default:
			fmt.Fprintf(os.Stderr, "labpeer(go): unknown group %q\n", g)
			os.Exit(2)
		}
	}
	return out
}

func main() {
	mode := flag.String("mode", "", "server or client")
	listen := flag.String("listen", "", "server: address to listen on")
	connect := flag.String("connect", "", "client: address to connect to")
	sni := flag.String("sni", "", "client: server name")
	certF := flag.String("cert", "", "certificate chain (PEM)")
	keyF := flag.String("key", "", "private key (PEM)")
	caF := flag.String("ca", "", "CA to verify the peer with (PEM)")
	ver := flag.String("version", "1.3", "1.2 or 1.3 (both min and max)")
	auth := flag.String("client-auth", "none", "server: none, request, require, verify-if-given")
	grp := flag.String("groups", "", "curve preferences, e.g. x25519,p256 (the client sends a key share for the first)")
	count := flag.Int("count", 1, "connections to accept / make")
	resume := flag.Bool("resume", false, "client: keep a session cache across connections")
	keylog := flag.String("keylog", "", "NSS key log file to write (tls.Config.KeyLogWriter)")
	expectFail := flag.Bool("expect-fail", false, "the handshake is expected to fail")
	flag.Parse()

	cfg := &tls.Config{
		MinVersion:       version(*ver),
		MaxVersion:       version(*ver),
		CurvePreferences: groups(*grp),
	}
	if *certF != "" {
		kp, err := tls.LoadX509KeyPair(*certF, *keyF)
		if err != nil {
			fail("load key pair: %v", err)
		}
		cfg.Certificates = []tls.Certificate{kp}
	}
	if *caF != "" {
		pem, err := os.ReadFile(*caF)
		if err != nil {
			fail("read CA: %v", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			fail("no certificate in %s", *caF)
		}
		cfg.RootCAs = pool
		cfg.ClientCAs = pool
	}
	if *keylog != "" {
		f, err := os.OpenFile(*keylog, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			fail("key log: %v", err)
		}
		defer f.Close()
		cfg.KeyLogWriter = f
	}
	switch *mode {
	case "server":
		cfg.ClientAuth = clientAuth(*auth)
		server(cfg, *listen, *count, *expectFail)
	case "client":
		cfg.ServerName = *sni
		if *resume {
			cfg.ClientSessionCache = tls.NewLRUClientSessionCache(4)
		}
		client(cfg, *connect, *count, *expectFail)
	default:
		fmt.Fprintln(os.Stderr, "labpeer(go): -mode server|client")
		os.Exit(2)
	}
}

func server(cfg *tls.Config, addr string, count int, expectFail bool) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fail("listen: %v", err)
	}
	fmt.Println("listening")
	bad := 0
	for i := 0; i < count; i++ {
		raw, err := ln.Accept()
		if err != nil {
			fail("accept: %v", err)
		}
		raw.SetDeadline(time.Now().Add(15 * time.Second))
		c := tls.Server(raw, cfg)
		err = c.Handshake()
		if err == nil {
			var line string
			line, err = bufio.NewReader(c).ReadString('\n')
			if err == nil {
				st := c.ConnectionState()
				fmt.Printf("conn %d: version=%x resumed=%v client_certs=%d got=%q\n", i, st.Version, st.DidResume, len(st.PeerCertificates), strings.TrimSpace(line))
				_, err = io.WriteString(c, "pong\n")
			}
		}
		bad += judge("server", i, err, expectFail)
		c.Close()
	}
	if bad > 0 {
		os.Exit(1)
	}
}

func client(cfg *tls.Config, addr string, count int, expectFail bool) {
	bad := 0
	for i := 0; i < count; i++ {
		raw, err := net.DialTimeout("tcp", addr, 10*time.Second)
		if err != nil {
			fail("connect: %v", err)
		}
		raw.SetDeadline(time.Now().Add(15 * time.Second))
		c := tls.Client(raw, cfg)
		err = c.Handshake()
		if err == nil {
			// TLS 1.3: the server learns of a rejected client certificate
			// only after the client's Finished; the failure shows on write/read.
			if _, err = io.WriteString(c, "ping\n"); err == nil {
				var line string
				line, err = bufio.NewReader(c).ReadString('\n')
				if err == nil {
					st := c.ConnectionState()
					fmt.Printf("conn %d: version=%x resumed=%v got=%q\n", i, st.Version, st.DidResume, strings.TrimSpace(line))
				}
			}
		}
		bad += judge("client", i, err, expectFail)
		c.Close()
	}
	if bad > 0 {
		os.Exit(1)
	}
}

// judge reports one connection's outcome against what was expected: 1 when
// it did not behave as configured.
func judge(side string, i int, err error, expectFail bool) int {
	if (err != nil) != expectFail {
		fmt.Fprintf(os.Stderr, "labpeer(go): %s conn %d: err=%v expect-fail=%v\n", side, i, err, expectFail)
		return 1
	}
	if err != nil {
		fmt.Printf("conn %d: failed as expected: %v\n", i, err)
	}
	return 0
}
