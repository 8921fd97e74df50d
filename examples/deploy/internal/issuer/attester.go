package issuer

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/statustoken/statustoken/examples/deploy/internal/files"
	"github.com/statustoken/statustoken/token"
)

// An Attester decides, from its own evidence, which status the issuer's
// policy gives the holder who presented a credential. It is the only part
// of the service that learns anything about a holder; the rest sees only
// the Attestation.
type Attester interface {
	// Attest returns the holder's attestation, an error wrapping
	// ErrUnknownHolder when the credential names no holder, or another
	// error when the attester cannot answer now. Errors must not quote
	// the credential.
	Attest(ctx context.Context, credential string) (Attestation, error)
}

// Attestation is an attester's answer.
type Attestation struct {
	// Holder is an opaque handle, stable for one holder, used only to
	// rate-limit requests. It is never logged, and stored only as an HMAC
	// under a key derived from the issuer seed (the state's ratelimit
	// file).
	Holder string
	// Status is the status assigned to the holder, or 0 (token.Refused)
	// when the issuer refuses the holder any token.
	Status token.Status
	// Reason is the reason code of the decision policy that the
	// decision cites; 0 for the policy's first reason that allows the
	// outcome without evidence (or failing that, with evidence).
	Reason uint16
}

// ErrUnknownHolder is the error of an Attester for a credential that
// names no holder.
var ErrUnknownHolder = errors.New("unknown API key")

// maxCredential bounds the API keys the service accepts.
const maxCredential = 256

// fileAttester is the demo attester: a file of API keys and the decision
// for each. Each line is
//
//	sha256:HEX DECISION   the SHA-256 of an API key (what add-holder writes)
//	KEY DECISION          an API key as is
//
// with DECISION a status name, or "refused" for a holder refused any
// token, optionally followed by ":" and the reason code of the decision
// policy to cite (for example "refused:4"; without one, the policy's
// first reason for the outcome, see Attestation.Reason); blank lines and
// lines starting with # are ignored. The file must be readable by its owner only. Keys are looked up
// by their SHA-256 hash, so lookups take the same time for every key.
type fileAttester struct {
	holders map[[sha256.Size]byte]Attestation
}

// maxHoldersFile bounds the holders file (about 400,000 holders).
const maxHoldersFile = 32 << 20

func loadFileAttester(name string, statuses []token.StatusName, reasons []token.Reason) (*fileAttester, error) {
	data, err := readHoldersFile(name)
	if err != nil {
		return nil, err
	}
	a := &fileAttester{holders: make(map[[sha256.Size]byte]Attestation)}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 1024), 1024)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 2 {
			return nil, fmt.Errorf("%s:%d: want an API key (or sha256:HEX) and a decision (a status name or refused, with :REASON or not)", name, n)
		}
		var sum [sha256.Size]byte
		if h, ok := strings.CutPrefix(f[0], "sha256:"); ok {
			b, err := hex.DecodeString(h)
			if err != nil || len(b) != sha256.Size {
				return nil, fmt.Errorf("%s:%d: sha256: must be followed by 64 hex digits", name, n)
			}
			copy(sum[:], b)
		} else {
			if !validCredential(f[0]) {
				return nil, fmt.Errorf("%s:%d: an API key is 1 to %d printable ASCII characters", name, n, maxCredential)
			}
			sum = sha256.Sum256([]byte(f[0]))
		}
		att, err := parseDecision(f[1], statuses, reasons)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %v", name, n, err)
		}
		if _, dup := a.holders[sum]; dup {
			return nil, fmt.Errorf("%s:%d: the same API key is listed twice", name, n)
		}
		att.Holder = string(sum[:])
		a.holders[sum] = att
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	return a, nil
}

func readHoldersFile(name string) ([]byte, error) {
	fi, err := os.Stat(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("no holders file %s: create holders with \"issuer add-holder STATUS\"", name)
	}
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", name)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%s has mode %04o: it holds API keys, so only its owner may read it (chmod 600 %s)", name, fi.Mode().Perm(), name)
	}
	if fi.Size() > maxHoldersFile {
		return nil, fmt.Errorf("%s is larger than %d bytes", name, maxHoldersFile)
	}
	return os.ReadFile(name)
}

func validCredential(s string) bool {
	if len(s) == 0 || len(s) > maxCredential {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// Attest implements Attester.
func (a *fileAttester) Attest(_ context.Context, credential string) (Attestation, error) {
	if !validCredential(credential) {
		return Attestation{}, ErrUnknownHolder
	}
	sum := sha256.Sum256([]byte(credential))
	att, ok := a.holders[sum]
	if !ok {
		return Attestation{}, ErrUnknownHolder
	}
	return att, nil
}

// parseDecision parses a holders file's DECISION: OUTCOME[:REASON].
func parseDecision(v string, statuses []token.StatusName, reasons []token.Reason) (Attestation, error) {
	name, code, withReason := strings.Cut(v, ":")
	o, ok := outcomeCode(statuses, name)
	if !ok {
		return Attestation{}, fmt.Errorf("unknown status %q (the issuer's statuses: %s; or %s)", name, statusList(statuses), refusedName)
	}
	att := Attestation{Status: token.Status(o)}
	if !withReason {
		if _, ok := defaultReason(reasons, o); !ok {
			return Attestation{}, fmt.Errorf("no reason of the decision policy allows %s", v)
		}
		return att, nil
	}
	r, err := strconv.ParseUint(code, 10, 16)
	if err != nil || r == 0 {
		return Attestation{}, fmt.Errorf("%q: the reason after %q must be a code from 1 to 65535", v, ":")
	}
	reason, ok := findReason(reasons, uint16(r))
	if !ok || !reason.Allows(o) {
		return Attestation{}, fmt.Errorf("%q: the decision policy has no reason %d for %s", v, r, name)
	}
	att.Reason = uint16(r)
	return att, nil
}

// AddHolder creates a random API key for a holder, appends its hash and
// decision (a status name, or refused, with :REASON or not; see
// fileAttester) to the holders file name of the demo attester (creating
// it with mode 0600, and its directory with mode 0700) and returns the
// key. Only the key's SHA-256 is stored.
func AddHolder(name, status string, statuses []token.StatusName, reasons []token.Reason) (string, error) {
	if _, err := parseDecision(status, statuses, reasons); err != nil {
		return "", err
	}
	if err := files.EnsurePrivateDir(filepath.Dir(name)); err != nil {
		return "", err
	}
	if _, err := os.Stat(name); err == nil {
		// Check the existing file before adding to it.
		if _, err := loadFileAttester(name, statuses, reasons); err != nil {
			return "", err
		}
	}
	key, err := newAPIKey(rand.Reader)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(key))
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return "", err
	}
	if _, err := fmt.Fprintf(f, "sha256:%x %s\n", sum, status); err != nil {
		f.Close()
		return "", err
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	return key, nil
}

// newAPIKey returns a new API key: 32 bytes from r in lowercase hex. Hex,
// not base64url, so that no key starts with "-", which command lines and
// shell tools (printf, echo, getopt-style flags) take for an option, and so
// that a double click selects the whole key.
func newAPIKey(r io.Reader) (string, error) {
	var b [32]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return "", err
	}
	return hex.EncodeToString(b[:]), nil
}

func statusCode(statuses []token.StatusName, name string) (token.Status, bool) {
	for _, s := range statuses {
		if s.Name == name {
			return s.Code, true
		}
	}
	return 0, false
}

func statusList(statuses []token.StatusName) string {
	names := make([]string, len(statuses))
	for i, s := range statuses {
		names[i] = s.Name
	}
	return strings.Join(names, ", ")
}
