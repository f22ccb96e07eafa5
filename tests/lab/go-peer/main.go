// go-peer: one TLS connection with Go's crypto/tls defaults, as client or
// server, for tls-audit's key-exchange lab (tests/integration/kex). Go 1.19
// (Debian bookworm) offers and accepts classical groups only (X25519, P-256,
// P-384, P-521); Go 1.24+ adds X25519MLKEM768 by default.
//
//	go-peer server ADDR:PORT CERT.pem KEY.pem
//	go-peer client ADDR:PORT SNI CA.pem
package main

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
)

func main() {
	if err := run(os.Args); err != nil {
		fmt.Fprintln(os.Stderr, "go-peer:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) < 5 {
		return fmt.Errorf("usage: go-peer server|client ADDR ...")
	}
	switch args[1] {
	case "server":
		cert, err := tls.LoadX509KeyPair(args[3], args[4])
		if err != nil {
			return err
		}
		ln, err := tls.Listen("tcp", args[2], &tls.Config{Certificates: []tls.Certificate{cert}})
		if err != nil {
			return err
		}
		fmt.Println("listening")
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		defer c.Close()
		if _, err := bufio.NewReader(c).ReadString('\n'); err != nil {
			return err
		}
		_, err = c.Write([]byte("ok\n"))
		return err
	case "client":
		pem, err := os.ReadFile(args[4])
		if err != nil {
			return err
		}
		roots := x509.NewCertPool()
		roots.AppendCertsFromPEM(pem)
		c, err := tls.Dial("tcp", args[2], &tls.Config{ServerName: args[3], RootCAs: roots})
		if err != nil {
			return err
		}
		defer c.Close()
		if _, err := c.Write([]byte("hello\n")); err != nil {
			return err
		}
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil && line == "" {
			return err
		}
		fmt.Printf("negotiated %s\n", line)
		return nil
	}
	return fmt.Errorf("unknown mode %s", args[1])
}
