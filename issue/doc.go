// Package issue is the issuance side of statustoken: the [Issuer], which
// publishes the signed key directory and signs tokens, and the [Holder],
// a wallet's side of blind issuance.
//
// With the rsabssa suite (RFC 9474 blind RSA) a wallet calls
// [Holder.Request] for a batch of tokens, the issuer answers with
// [Issuer.Respond] after its own policy has assigned the holder's status,
// and the wallet calls [Holder.Finalize]. The issuer sees only blinded
// messages: it cannot recognise the tokens later.
//
// # Security considerations
//
// With the ed25519 suite ([Issuer.IssueEd25519]) the issuer sees every
// token it signs and could recognise it when it is scanned. Use it only
// where issuance never learns who the holder is, such as a walk-in test
// site that asks for no identity. An issuer that knows who the holder is
// must use rsabssa.
//
// The root key signs directories only, and may be kept offline. Issuer
// seeds and RSA private keys must be kept like private keys; a
// [FileKeyStore] writes files readable by their owner only, and refuses
// to read any other.
package issue
