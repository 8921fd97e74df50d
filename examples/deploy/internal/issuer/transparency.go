package issuer

import (
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/statustoken/statustoken/examples/deploy/internal/files"
	"github.com/statustoken/statustoken/examples/deploy/internal/logstore"
	"github.com/statustoken/statustoken/examples/deploy/internal/witnessclient"
	"github.com/statustoken/statustoken/token"
)

const (
	// trustFile is the trust policy that wallets and scanners pin.
	trustFile = "trust.txt"
	// DefaultOrigin names the log of a new state directory when
	// Config.LogOrigin (-log-origin) is empty. Give each deployment its
	// own: witnesses know logs by origin.
	DefaultOrigin = "statustoken.example/deploy/directory"
)

// loadWitnesses reads the witnesses file name and checks quorum against
// it.
func loadWitnesses(name string, quorum int) ([]*witnessclient.Witness, error) {
	data, err := files.ReadLimited(name, witnessclient.MaxWitnessesFile)
	if err != nil {
		return nil, err
	}
	ws, err := witnessclient.ParseWitnesses(data)
	if err != nil {
		return nil, fmt.Errorf("witnesses file %s: %v", name, err)
	}
	if quorum > len(ws) {
		return nil, fmt.Errorf("-quorum %d: the witnesses file %s lists %s", quorum, name, plural(len(ws), "witness", "witnesses"))
	}
	if 2*quorum <= len(ws) {
		return nil, fmt.Errorf("-quorum %d: the witnesses file %s lists %s, and the quorum must be more than half of them (at least %d), so that no two sets of witnesses that share none can each make one",
			quorum, name, plural(len(ws), "witness", "witnesses"), len(ws)/2+1)
	}
	return ws, nil
}

// trustText is the trust policy of this issuer: its root key, its log's
// key, the witnesses, the quorum of them that must cosign, the freshness
// bound, two epochs, and the freshness bound for requesting tokens,
// issue-max-age, which the issuer keeps proofs within by having the
// witnesses cosign again at least twice as often.
func trustText(root []byte, logVKey string, ws []*witnessclient.Witness, quorum int, maxAge, issueMaxAge time.Duration) []byte {
	var b strings.Builder
	origin, _, _ := strings.Cut(logVKey, "+")
	fmt.Fprintf(&b, "# Trust policy of the statustoken issuer whose directory log is %s.\n", origin)
	b.WriteString("# Wallets and scanners pin this file (-trust). Hand it to them over a channel\n")
	b.WriteString("# you trust, never from the issuer's own service.\n")
	fmt.Fprintf(&b, "root %s\n", base64.StdEncoding.EncodeToString(root))
	fmt.Fprintf(&b, "log %s\n", logVKey)
	names := make([]string, len(ws))
	for i, w := range ws {
		b.WriteString(w.PolicyLine() + "\n")
		names[i] = w.Name
	}
	fmt.Fprintf(&b, "group witnesses %d %s\n", quorum, strings.Join(names, " "))
	b.WriteString("quorum witnesses\n")
	fmt.Fprintf(&b, "max-age %s\n", formatDuration(maxAge))
	fmt.Fprintf(&b, "issue-max-age %s\n", formatDuration(issueMaxAge))
	return []byte(b.String())
}

// formatDuration writes whole hours as "48h" rather than "48h0m0s".
func formatDuration(d time.Duration) string {
	if d%time.Hour == 0 {
		return fmt.Sprintf("%dh", d/time.Hour)
	}
	return d.String()
}

// writeTrust writes trust.txt into the state directory when it differs.
func writeTrust(dir string, text []byte) error {
	name := filepath.Join(dir, trustFile)
	if have, err := os.ReadFile(name); err == nil && string(have) == string(text) {
		return nil
	}
	return files.WriteAtomic(name, text, 0o644)
}

// resolveOrigin returns the log origin to open the log state in dir
// with: origin when given, else the existing log's, else DefaultOrigin.
func resolveOrigin(dir, origin string) (string, error) {
	if origin != "" {
		return origin, nil
	}
	have, err := logstore.Origin(dir, logstore.Directories)
	if err != nil || have != "" {
		return have, err
	}
	return DefaultOrigin, nil
}

// DecisionsSuffix is added to the origin of the log of directories to
// make the origin of a new decision log.
const DecisionsSuffix = "/decisions"

// LogInfo names a log, for its registration with the witnesses.
type LogInfo struct {
	// Origin is the log's origin.
	Origin string
	// VerifierKey is the log's note verifier key (vkey).
	VerifierKey string
	// Created reports that the log key was made by this call.
	Created bool
}

// LogKey returns the origins and verifier keys of the issuer's two logs
// in the state directory dir, the log of directories and then the
// decision log, creating the directory and the log keys when there are
// none yet: the log of directories for origin (DefaultOrigin when origin
// is empty), the decision log for that origin and DecisionsSuffix. With
// a key there, origin must be its log's origin, or empty. The witnesses
// must have both logs registered.
func LogKey(dir, origin string) ([]LogInfo, error) {
	origin, err := resolveOrigin(dir, origin)
	if err != nil {
		return nil, err
	}
	decOrigin, err := logstore.Origin(dir, logstore.Decisions)
	if err != nil {
		return nil, err
	}
	if decOrigin == "" {
		decOrigin = origin + DecisionsSuffix
	}
	var out []LogInfo
	for _, l := range []struct{ name, origin string }{{logstore.Directories, origin}, {logstore.Decisions, decOrigin}} {
		logs, err := logstore.Open(dir, l.name, l.origin, nil)
		if err != nil {
			return nil, err
		}
		out = append(out, LogInfo{Origin: logs.Log().Origin(), VerifierKey: logs.Log().VerifierKey(), Created: logs.Created})
		if err := logs.Close(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// writeTrustPolicy makes the trust policy of the service and writes it
// to trust.txt.
func writeTrustPolicy(c *Config, st *state, logs *logstore.Store, ws []*witnessclient.Witness) (*token.Trust, error) {
	text := trustText(st.root.Public().(ed25519.PublicKey), logs.Log().VerifierKey(), ws, c.Quorum, 2*c.Epoch, c.IssueMaxAge)
	trust, err := token.ParseTrust(text)
	if err != nil {
		return nil, fmt.Errorf("the trust policy made from the witnesses file %s is refused: %w", c.Witnesses, err)
	}
	if err := writeTrust(c.StateDir, text); err != nil {
		return nil, err
	}
	return trust, nil
}
