package issuer

import (
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/statustoken/statustoken/examples/deploy/internal/logstore"
	"github.com/statustoken/statustoken/issue"
	"github.com/statustoken/statustoken/token"
)

// Errors of a start refused because it would change what the published
// directory means, or because the state does not match it.
var (
	// ErrStatusChanged: the configured statuses rename a published code,
	// give a published name to another code, or drop a status whose
	// published keys are still valid.
	ErrStatusChanged = errors.New("issuer: the statuses differ from the published ones")
	// ErrKeyMissing: the private key of a published key that is still
	// valid is missing or is another key.
	ErrKeyMissing = errors.New("issuer: the private key of a published key is missing")
	// ErrStateRolledBack: the log or the serial is older than what was
	// served.
	ErrStateRolledBack = errors.New("issuer: state older than what was served")
)

// withdrawal is a published key withdrawn at this start (Config.Withdraw):
// its private key file, when there is one, is set aside so that a new
// key takes its place.
type withdrawal struct {
	id   token.KeyID
	file string // the key file, or "" when it is already gone
}

// checkPublished checks the state against what the issuer published
// before it starts: the log holds the last checkpoint the witnesses
// cosigned and the last serial served, and the last directory in the log
// keeps its meaning under c: every status keeps its code and name, and
// every key still valid at now keeps its private key, unless c.Withdraw
// names it. It changes nothing, and returns the withdrawals to make.
func checkPublished(c *Config, st *state, logs *logstore.Store, now time.Time) ([]withdrawal, error) {
	kept, err := st.lastCosigned()
	if err != nil {
		return nil, err
	}
	if kept != nil {
		if err := logs.Contains(kept); err != nil {
			return nil, fmt.Errorf("%w: checked against %s: %w", ErrStateRolledBack, filepath.Join(c.StateDir, cosignedFile), err)
		}
	}
	last, _, logged := logs.Last()
	if served := st.lastSerial(); served > 0 && (!logged || last < served) {
		return nil, fmt.Errorf("%w: directory serial %d was served, but the log in %s ends before it: restore %s from a backup that holds it",
			ErrStateRolledBack, served, filepath.Join(c.StateDir, "log"), filepath.Join(c.StateDir, "log"))
	}
	if !logged {
		if len(c.Withdraw) > 0 {
			return nil, fmt.Errorf("-withdraw %s: no directory was published yet", c.Withdraw[0])
		}
		return nil, nil
	}
	data, _, err := logs.Archived(last)
	if err != nil {
		return nil, err
	}
	d, err := token.ParseDirectory(data)
	if err != nil {
		return nil, fmt.Errorf("the last logged directory, serial %d: %v", last, err)
	}
	if err := checkStatuses(c.Statuses, d); err != nil {
		return nil, err
	}
	if d.HasDecisions() {
		pub := st.decision.Public().(ed25519.PublicKey)
		if !slices.ContainsFunc(d.DecisionKeys, func(k token.DecisionKey) bool { return pub.Equal(ed25519.PublicKey(k.PublicKey)) }) {
			what := "is not"
			if st.decisionCreated {
				what = "was missing, and a new one is not"
			}
			return nil, fmt.Errorf("%w: %s %s the decision key that the last directory published (serial %d) lists: receipts signed with it would be refused. Restore %s from a backup",
				ErrKeyMissing, filepath.Join(c.StateDir, decisionFile), what, d.Serial, filepath.Join(c.StateDir, decisionFile))
		}
	}

	withdraw := make(map[token.KeyID]bool)
	for _, text := range c.Withdraw {
		id, ok := stillValid(d, text, now)
		if !ok {
			return nil, fmt.Errorf("-withdraw %s: the last directory published (serial %d) lists no key with this ID whose epoch is not over", text, d.Serial)
		}
		withdraw[id] = true
	}
	var out []withdrawal
	keys := issue.FileKeyStore{Dir: filepath.Join(c.StateDir, keysDir)}
	for i := range d.Keys {
		k := &d.Keys[i]
		if k.Suite != token.RSABSSA || int64(k.Expiry) <= now.Unix() {
			continue
		}
		ref := issue.KeyRef{Status: k.Status, NotBefore: k.NotBefore, EpochLength: k.Expiry - k.NotBefore}
		name := filepath.Join(keys.Dir, ref.String()+".pem")
		status, _ := d.StatusName(k.Status)
		if withdraw[k.ID] {
			w := withdrawal{id: k.ID}
			if _, err := os.Lstat(name); err == nil {
				w.file = name
			}
			out = append(out, w)
			continue
		}
		if !slices.ContainsFunc(c.Statuses, func(s token.StatusName) bool { return s.Code == k.Status }) {
			return nil, fmt.Errorf("%w: -statuses drops %s (code %d), whose key %v is published and valid until %s: tokens issued under it would be refused. Keep the status, or withdraw the key with -withdraw %v",
				ErrStatusChanged, status, k.Status, k.ID, k.ExpiryTime().Format(time.RFC3339), k.ID)
		}
		priv, err := keys.Get(ref)
		switch {
		case errors.Is(err, issue.ErrKeyNotFound):
			return nil, fmt.Errorf("%w: %s is missing: it is the private key of key %v (%s, epoch %s..%s), published in directory serial %d and valid until its epoch ends. Restore the file from a backup; if it is lost, withdraw the key with -withdraw %v (every token issued under it is then refused) and a new key takes its place",
				ErrKeyMissing, name, k.ID, status, k.NotBeforeTime().Format(time.RFC3339), k.ExpiryTime().Format(time.RFC3339), d.Serial, k.ID)
		case err != nil:
			return nil, err
		case !samePublicKey(priv, k.PublicKey):
			return nil, fmt.Errorf("%w: %s is not the private key of key %v (%s), published in directory serial %d: restore the file from a backup, or withdraw the key with -withdraw %v",
				ErrKeyMissing, name, k.ID, status, d.Serial, k.ID)
		}
	}
	return out, nil
}

// stillValid returns the ID of the key of d whose ID is written text and
// whose epoch is not over at now.
func stillValid(d *token.Directory, text string, now time.Time) (token.KeyID, bool) {
	for _, k := range d.Keys {
		if k.ID.String() == strings.ToLower(text) && int64(k.Expiry) > now.Unix() {
			return k.ID, true
		}
	}
	return token.KeyID{}, false
}

// checkStatuses refuses statuses that rename a status of d or give one of
// its names to another code: tokens already issued would read as another
// status, and wallets and scanners refuse such a directory
// (token.ErrStatusRenamed). New statuses, with new codes, are fine.
func checkStatuses(statuses []token.StatusName, d *token.Directory) error {
	published := make([]string, len(d.Statuses))
	for i, s := range d.Statuses {
		published[i] = fmt.Sprintf("%d=%s", s.Code, s.Name)
	}
	how := fmt.Sprintf("A status keeps its code and name once published (tokens already issued would read as another status, and wallets and scanners refuse such a directory): start with -statuses %s, and give a new status a new code",
		strings.Join(published, ","))
	for _, s := range statuses {
		for _, p := range d.Statuses {
			switch {
			case p.Code == s.Code && p.Name != s.Name:
				return fmt.Errorf("%w: -statuses names code %d %q, but the published directory (serial %d) names it %q. %s",
					ErrStatusChanged, s.Code, s.Name, d.Serial, p.Name, how)
			case p.Name == s.Name && p.Code != s.Code:
				return fmt.Errorf("%w: -statuses gives %q code %d, but the published directory (serial %d) gives it code %d. %s",
					ErrStatusChanged, s.Name, s.Code, d.Serial, p.Code, how)
			}
		}
	}
	return nil
}

// samePublicKey reports whether priv is the private key of spki, an RSABSSA
// key's public encoding in a directory (an RSASSA-PSS SubjectPublicKeyInfo).
func samePublicKey(priv *rsa.PrivateKey, spki []byte) bool {
	var info struct {
		Algorithm asn1.RawValue
		PublicKey asn1.BitString
	}
	if rest, err := asn1.Unmarshal(spki, &info); err != nil || len(rest) != 0 {
		return false
	}
	pub, err := x509.ParsePKCS1PublicKey(info.PublicKey.Bytes)
	return err == nil && pub.Equal(&priv.PublicKey)
}

// withdrawKeys sets aside the private key file of each withdrawn key, as
// FILE.withdrawn, so that the issuer makes a new key in its place.
func withdrawKeys(list []withdrawal, logger *slog.Logger) error {
	for _, w := range list {
		if w.file != "" {
			if err := os.Rename(w.file, w.file+".withdrawn"); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("withdrawing key %v: %v", w.id, err)
			}
		}
		logger.Warn("key withdrawn (-withdraw): a new key takes its place in the next directory, and tokens issued under it are refused", "key_id", w.id.String())
	}
	return nil
}
