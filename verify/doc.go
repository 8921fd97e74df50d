// Package verify is the scanner's side of statustoken: a [Verifier], made
// by [New] from a published key directory and the pinned trust policy
// ([token.Trust]: the root key, the log and its witnesses), checks
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
// fails with one of [token.ErrMalformedDirectory],
// [token.ErrInvalidDirectory], [token.ErrDirectorySignature], or a
// [*token.LoadError] (what the log and witnesses showed) wrapping one of
// [token.ErrRollback], [token.ErrStatusRenamed], [token.ErrNotLogged],
// [token.ErrNotNewest], [token.ErrQuorum], [token.ErrStale] and
// [token.ErrInconsistent]. A Verifier not made by New, or a nil trust
// policy, is a programming error: the methods panic.
//
// # Security considerations
//
// Pin the trust policy in the scanner itself; never take it from the same
// place as the directory. Its witnesses make a split view detectable: a
// directory is accepted only with a proof that it is in the one log, as a
// quorum of them saw it recently, and only as the newest directory of
// that log. Persist [Verifier.Accepted] ([token.Accepted.MarshalText])
// and pass it back as [Options.Accepted] after a restart (or use
// [Verifier.Update]) so that an old directory cannot be replayed to bring
// back withdrawn keys, nor a status renamed. Ed25519
// signatures are checked with the cofactored equation of token/SPEC.md,
// which single and batch verification share; crypto/ed25519.Verify is
// cofactorless and must not be used on tokens. With a spent-token store
// that can fail, decide between failing closed (the default: a token is
// refused while the store is down) and [Options.SpentFailOpen], and show
// the operator [Result.Replay]. A network store should implement
// [SpentReleaser], so that a spend whose answer was lost, for a token
// refused while failing closed, does not make the holder's next scan a
// replay.
package verify
