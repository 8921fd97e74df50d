module github.com/statustoken/statustoken

go 1.26.0

require (
	filippo.io/bigmod v0.1.0
	filippo.io/edwards25519 v1.2.0
	filippo.io/torchwood v0.9.0
	github.com/cloudflare/circl v1.6.5
	golang.org/x/crypto v0.59.0
	golang.org/x/mod v0.31.0
	golang.org/x/sys v0.50.0
)

require golang.org/x/sync v0.19.0 // indirect
