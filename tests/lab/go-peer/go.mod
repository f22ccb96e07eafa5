module tls-audit/lab/go-peer

go 1.19
