// Package scanner is the scanner of the deployment examples, behind the
// command cmd/scanner: it verifies statustoken tokens offline against a
// key directory saved by [Update] and checked under a pinned trust policy,
// one token ([Scanner.Scan]), a file of tokens ([Scanner.Batch]) or a
// stream of scans at a gate ([Scanner.Gate]), and prints one answer per
// token, as text or as JSON.
//
// In text, every line fits in 80 columns ([Width]): a VALID answer puts
// its replay check on a second line, and a longer answer or message
// continues on lines indented by two spaces, so that each answer starts
// on a line that does not start with a space. JSON answers are one line
// each.
//
// # Replay check
//
// Every answer says how its token was checked against earlier use, with
// one of three words, the same in text ("replay check: spent-store") and
// JSON ("replay_check": "spent-store"), for one token and for many:
//
//   - spent-store: checked against the spent-token store that the
//     scanners of a venue share (Config.Redis): the token had not been
//     accepted at any of them.
//   - this-scanner: checked against the tokens this scanner accepted:
//     with no shared store, in its spent-token file (Config.SpentFile),
//     which keeps them across runs and for every scanner process of the
//     machine, or without one in this process's memory; or, with the
//     shared store unreachable and Config.FailOpen set, in this
//     process's memory. A token is refused the second time this scanner
//     sees it, but another scanner would accept it again.
//   - not-checked: no replay check at all. Only a scanner made with
//     Config.Single (one token per run, as "scanner TOKEN") says it,
//     when it has neither a spent-token file nor a reachable shared
//     store (unreachable under Config.FailOpen): one run has seen no
//     other token.
//
// The spent-token file is appended to, one checksummed record per token,
// under a lock of its own, and rewritten without the tokens that expired
// (plus the skew) once they are the most: see spentfile.go.
//
// A refused token carries the word of the check that refused it (reason
// "replayed", "store_unavailable", "store_error" or "store_full"), and
// none when it was refused before its replay check.
//
// A Scanner that verifies more than one token never accepts a token
// twice, whatever the shared store does: besides Redis it keeps every
// token it accepted in a process-local [verify.MemoryStore], which
// refuses the second presentation of a token accepted while Redis was
// down (and accepted by -fail-open), or forgotten by Redis. Within one
// batch the verify package itself refuses repeats.
//
// When the shared store hangs, a batch, and each batch of a gate, waits
// for it at most once, for Config.RedisTimeout (verify.Options.SpentTimeout);
// the scanner logs a warning that the store timed out and carries on:
// failing closed by default (those tokens are refused as
// store_unavailable), or, with Config.FailOpen, accepting valid tokens
// with replay check this-scanner.
package scanner
