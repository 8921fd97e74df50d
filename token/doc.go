// Package token defines statustoken's v1 token and key directory formats.
//
// A token says only that its holder had a status until an expiry: it holds
// a version, a suite, a status code, the end of its key's epoch, the key's
// ID, a random nonce and a signature, and nothing else. [Parse],
// [ParseText] and [ParseBase64] accept exactly one encoding per token. The
// key directory ([Directory]) lists every issuing key and is signed by the
// issuer's root key; [OpenDirectory] checks the signature and every rule.
//
// Wallets and scanners accept a directory only as published
// ([Published]: the bytes, the root signature and a proof that the
// directory is in the issuer's witnessed log) under the trust policy they
// pin ([Trust], [ParseTrust]); [Open] checks it all, in one place, and
// package holder and package verify call it.
//
// The normative specification, with every rejection rule, is SPEC.md in
// this directory. This package holds no keys and verifies no token
// signatures: issuers use package issue, wallets package holder, scanners
// package verify.
//
// # Errors
//
// Every error wraps one of: [ErrMalformed] (tokens);
// [ErrMalformedDirectory], [ErrInvalidDirectory], [ErrDirectorySignature]
// (directories); [ErrRollback], [ErrNotLogged], [ErrQuorum], [ErrStale],
// [ErrInconsistent], [ErrMalformedTrust] (loading a published directory
// under a trust policy). Each sentinel's documentation says how to handle
// it.
package token
