// Package issue is the issuer service's side of statustoken: an
// [Issuer], made by [NewIssuer] from a [Config], publishes the signed key
// directory ([Issuer.Directory]) and signs tokens.
//
// With the rsabssa suite (RFC 9474 blind RSA) a wallet (package holder)
// sends a request of blinded messages. Authenticate the holder, decide its
// status from your own evidence, then answer with [Issuer.Respond] for
// that status: the issuer sees only blinded messages, and cannot
// recognise the tokens later. With the ed25519 suite the issuer signs
// tokens directly ([Issuer.IssueEd25519]). RSA issuing keys are kept in a
// [KeyStore]: [FileKeyStore] or [MemoryKeyStore].
//
// An issuer with a decision policy (Config.DecisionKey, Reasons,
// DecisionLogKey, DecisionLogDelay) checks each request with
// [Issuer.RequestStatus] before it decides, answers every request, a
// grant or a refusal, with a receipt from [Issuer.Decide], and appends
// the decision record it returns to its decision log within
// DecisionLogDelay.
//
// # Errors
//
// Every error wraps one of: [ErrConfig], [ErrMalformedRequest],
// [ErrNotIssuing], [ErrStatusNotAssigned], [ErrCount], [ErrSigning],
// [ErrReason],
// [ErrKeyNotFound], [ErrKeyExists], [ErrKeyFile], [ErrLog], or
// [token.ErrInvalidDirectory] if the directory it would publish breaks a
// rule (which a valid Config prevents). Each sentinel's documentation says
// how to handle it.
//
// # Security considerations
//
// With the ed25519 suite the issuer sees every token it signs and could
// recognise it when it is scanned. Use it only where issuance never learns
// who the holder is, such as a walk-in test site that asks for no
// identity. An issuer that knows who the holder is must use rsabssa.
//
// The root key signs directories only, and may be kept offline. Issuer
// seeds and RSA private keys must be kept like private keys; a
// [FileKeyStore] writes files readable by their owner only, and refuses
// to read any other.
package issue
