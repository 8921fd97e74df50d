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
// directory is the newest in the issuer's witnessed log) under the trust
// policy they pin ([Trust], [ParseTrust]); [Open] checks it all, in one
// place, and package holder and package verify call it. What they
// accepted ([Accepted]: the serial, the directory's hash, the status
// names and the log checkpoint) is what every later directory must
// extend; persist it with [Accepted.MarshalText] and read it back with
// [ParseAccepted] after a restart.
//
// Decisions are on the record: an issuer that publishes a decision policy
// (the directory's reasons) signs a [Receipt] for every request, appends
// its [DecisionRecord] ([RecordOf]) to a second witnessed log, and the
// holder can give an appeal body an [Appeal] bundle, which [CheckAppeal]
// checks offline with the trust policy alone.
//
// The normative specification, with every rejection rule, is SPEC.md in
// this directory. This package holds no keys and verifies no token
// signatures: issuers use package issue, wallets package holder, scanners
// package verify; tests and examples use package issue/issuetest.
//
// # Errors
//
// Every error wraps one of: [ErrMalformed] (tokens);
// [ErrMalformedDirectory], [ErrInvalidDirectory], [ErrDirectorySignature]
// (directories); [ErrRollback], [ErrStatusRenamed], [ErrNotLogged],
// [ErrNotNewest], [ErrQuorum], [ErrStale], [ErrInconsistent],
// [ErrMalformedTrust] (loading a published directory under a trust
// policy, and reading a trust policy, a checkpoint or an accepted state);
// [ErrMalformedReceipt], [ErrReceiptSignature], [ErrReceiptDirectory],
// [ErrReceiptReason], [ErrReceiptMismatch], [ErrMalformedRecord],
// [ErrDecisionNotLogged], [ErrMalformedAppeal], [ErrOpening]
// (decisions).
// The errors of loading are a [*LoadError], which errors.As finds: it
// carries what the check saw (the serials, the policy line, who signed
// and when), so that callers need not read its text. Each sentinel's
// documentation says how to handle it.
//
// A [Trust] not made by [ParseTrust] (a nil or zero one) is a programming
// error: the functions that take one panic.
package token
