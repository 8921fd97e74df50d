// Package verify is the scanner side of statustoken: it checks tokens
// against a signed key directory, offline.
//
// Build a [Verifier] once from the directory, its signature and the pinned
// root key with [New], then call [Verifier.Verify] (or
// [Verifier.VerifyText] for a scanned QR code) per token, or a [Batch] for
// many tokens at once. Verification performs no I/O; the optional
// [SpentStore] is the only thing it calls out to.
//
// Every failure is one of the package's errors, testable with errors.Is:
// [ErrMalformed], [ErrExpired], [ErrTooFarAhead], [ErrKeyMismatch],
// [ErrUnknownKey], [ErrNotYetValid], [ErrInvalidSignature], [ErrReplayed].
//
// # Security considerations
//
// Pin the issuer's root public key in the scanner itself; never take it
// from the same place as the directory. Keep the highest directory serial
// seen and pass it as [Options.MinSerial] (or use [Verifier.Update]) so an
// old directory cannot be replayed to bring back withdrawn keys. Ed25519
// signatures are checked with the cofactored equation of token/SPEC.md,
// which single and batch verification share; crypto/ed25519.Verify is
// cofactorless and must not be used on tokens.
package verify
