// Package testkeys holds RSA-2048 keys for tests only. They are public:
// never use them for anything else.
package testkeys

import (
	"crypto/rsa"
	"crypto/x509"
	_ "embed"
	"encoding/pem"
	"fmt"
)

//go:embed rsa2048.pem
var rsaPEM []byte

var rsaKeys = func() []*rsa.PrivateKey {
	var out []*rsa.PrivateKey
	rest := rsaPEM
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return out
		}
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			panic(fmt.Sprintf("testkeys: %v", err))
		}
		out = append(out, k.(*rsa.PrivateKey))
	}
}()

// N is the number of RSA keys.
const N = 8

// RSA returns test key i, 0 <= i < N. The key is shared: do not modify it.
func RSA(i int) *rsa.PrivateKey { return rsaKeys[i] }
