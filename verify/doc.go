// Package verify is the scanner's side of statustoken: a [Verifier], made
// by [New] from a signed key directory and the pinned root key, checks
// tokens offline, one at a time with [Verifier.VerifyText] (a scanned QR
// code) or [Verifier.Verify] (binary), or many at once with a [Batch].
//
// Verification performs no I/O; the optional [SpentStore] is the only
// thing it calls out to, with the caller's context.
//
// # Errors
//
// A refused token gets an error that wraps exactly one of:
// [token.ErrMalformed], [ErrExpired], [ErrTooFarAhead], [ErrKeyMismatch],
// [ErrUnknownKey], [ErrNotYetValid], [ErrInvalidSignature],
// [ErrReplayed], [ErrStoreUnavailable], [ErrStoreFull] (from
// [MemoryStore]), [ErrRandomness] (batches only), or an error of the
// caller's own [SpentStore]. Batch methods also return [ErrBatch] when
// some token was refused. Loading a directory ([New], [Verifier.Update])
// fails with [ErrRollback] or one of [token.ErrMalformedDirectory],
// [token.ErrInvalidDirectory] and [token.ErrDirectorySignature].
//
// # Security considerations
//
// Pin the issuer's root public key in the scanner itself; never take it
// from the same place as the directory. Keep the highest directory serial
// seen and pass it as [Options.MinSerial] (or use [Verifier.Update]) so an
// old directory cannot be replayed to bring back withdrawn keys. Ed25519
// signatures are checked with the cofactored equation of token/SPEC.md,
// which single and batch verification share; crypto/ed25519.Verify is
// cofactorless and must not be used on tokens. With a spent-token store
// that can fail, decide between failing closed (the default: a token is
// refused while the store is down) and [Options.SpentFailOpen], and show
// the operator [Result.Replay].
package verify
