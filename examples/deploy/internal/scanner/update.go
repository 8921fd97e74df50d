package scanner

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"time"

	"github.com/statustoken/statustoken/examples/deploy/internal/directory"
	"github.com/statustoken/statustoken/examples/deploy/internal/files"
	"github.com/statustoken/statustoken/token"
	"github.com/statustoken/statustoken/verify"
)

// UpdateConfig configures Update.
type UpdateConfig struct {
	// TrustFile is the pinned trust policy.
	TrustFile string
	// Issuer is the issuer's base URL.
	Issuer string
	// DirectoryFile, SignatureFile and ProofFile are written;
	// AcceptedFile, what the scanner accepted (token.Accepted: the serial
	// and SHA-256 of the saved directory, every status name accepted so
	// far, and the log checkpoint), is read and written.
	DirectoryFile, SignatureFile, ProofFile, AcceptedFile string
	// LegacyCheckpointFile is the log checkpoint file of an older
	// scanner, which kept no AcceptedFile: while AcceptedFile does not
	// exist, the accepted state is taken from it and the saved
	// DirectoryFile. It is never written. None when empty.
	LegacyCheckpointFile string
	// Client makes the requests; http.DefaultClient when nil.
	Client *http.Client
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Updated describes a directory that Update saved.
type Updated struct {
	Serial  uint64
	Keys    int
	LogSize int64
}

// String says what was saved, for people.
func (u *Updated) String(c *UpdateConfig) string {
	return fmt.Sprintf("directory serial %d with %s saved to %s (signature %s, log proof %s; log size %d)",
		u.Serial, plural(u.Keys, "key"), c.DirectoryFile, c.SignatureFile, c.ProofFile, u.LogSize)
}

// Update fetches the issuer's directory with its signature and log proof,
// checks them under the pinned trust policy, refuses one older than the
// saved directory or whose log does not extend the saved checkpoint, and
// saves it. An error about the configuration or the saved files is a
// *SetupError; fetching or a refused directory gives any other error.
func Update(ctx context.Context, c UpdateConfig) (*Updated, error) {
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Client == nil {
		c.Client = http.DefaultClient
	}
	if c.TrustFile == "" {
		return nil, setupErr("-trust is required: the issuer's trust policy file (trust.txt)")
	}
	trust, err := loadTrust(c.TrustFile)
	if err != nil {
		return nil, err
	}
	base, err := directory.IssuerURL(c.Issuer)
	if err != nil {
		return nil, setupErr("%v", err)
	}
	acc, err := c.accepted(trust)
	if err != nil {
		return nil, err
	}
	pub, err := directory.Fetch(ctx, c.Client, base)
	if err != nil {
		return nil, fmt.Errorf("fetching the directory from %s: %v", base, err)
	}
	v, err := verify.New(pub, trust, &verify.Options{Now: c.Now, Accepted: acc})
	if err != nil {
		// Not a setup error: the issuer sent a bad directory.
		var se *SetupError
		if errors.As(explainLoad(err, trust, pub, "the issuer's directory", c.TrustFile, base.String()), &se) {
			return nil, &refusedError{msg: se.msg, err: err}
		}
		return nil, err
	}
	d := v.Directory()
	newAcc, err := v.Accepted().MarshalText()
	if err != nil {
		return nil, setupErr("%v", err)
	}
	// The directory goes last but for the accepted state: a reader
	// between two writes sees an old directory with a new signature or
	// proof, which fails, never a mismatch that passes; a scanner stopped
	// before the accepted state is written keeps the older one, which
	// every later directory extends.
	for _, f := range []struct {
		name string
		data []byte
	}{{c.SignatureFile, pub.Signature}, {c.ProofFile, pub.Proof}, {c.DirectoryFile, pub.Directory}, {c.AcceptedFile, newAcc}} {
		if err := files.WriteAtomic(f.name, f.data, 0o644); err != nil {
			return nil, setupErr("saving the directory: %v", err)
		}
	}
	return &Updated{Serial: d.Serial, Keys: len(d.Keys), LogSize: v.Accepted().Checkpoint.Size()}, nil
}

// refusedError is a directory the issuer sent that the scanner refused,
// explained for people; it wraps the library's error.
type refusedError struct {
	msg string
	err error
}

func (e *refusedError) Error() string { return e.msg }
func (e *refusedError) Unwrap() error { return e.err }

// accepted returns what the scanner accepted before, checked under
// trust: the AcceptedFile, or, while there is none, what the saved
// directory and the LegacyCheckpointFile of an older scanner say; the
// zero Accepted when the scanner has accepted nothing yet.
func (c *UpdateConfig) accepted(trust *token.Trust) (token.Accepted, error) {
	if c.AcceptedFile == "" {
		return token.Accepted{}, setupErr("no accepted state file: it keeps older directories from being passed off as current")
	}
	text, err := files.ReadLimited(c.AcceptedFile, token.MaxAcceptedSize)
	switch {
	case err == nil:
		acc, err := token.ParseAccepted(text, trust)
		if err != nil {
			return token.Accepted{}, savedStateError(c.AcceptedFile, err)
		}
		return acc, nil
	case !errors.Is(err, fs.ErrNotExist):
		return token.Accepted{}, setupErr("reading the saved accepted state: %v", err)
	}
	dir, err := files.ReadLimited(c.DirectoryFile, token.MaxDirectorySize)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return token.Accepted{}, nil
	case err != nil:
		return token.Accepted{}, setupErr("reading the saved directory: %v", err)
	}
	var cp []byte
	if c.LegacyCheckpointFile != "" {
		cp, err = files.ReadLimited(c.LegacyCheckpointFile, token.MaxProofSize)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			cp = nil
		case err != nil:
			return token.Accepted{}, setupErr("reading the saved log checkpoint: %v", err)
		}
	}
	acc, err := directory.LegacyAccepted(dir, cp, trust)
	var le *token.LoadError
	switch {
	case errors.As(err, &le):
		return token.Accepted{}, savedStateError(c.LegacyCheckpointFile, err)
	case err != nil:
		return token.Accepted{}, setupErr("the saved directory %s is unreadable (%s): remove it to start again", c.DirectoryFile, directoryFault(err))
	}
	return acc, nil
}

// savedStateError explains why the saved accepted state, or the log
// checkpoint of an older scanner, in the file name was refused by the
// library.
func savedStateError(name string, err error) error {
	var le *token.LoadError
	if !errors.As(err, &le) {
		return setupErr("the saved accepted state %s is unusable", name)
	}
	if le.Err == token.ErrRollback {
		return setupErr("the saved accepted state %s is damaged (%s): it keeps older directories from being passed off as current; restore it from a backup, or remove it to start again", name, le.Detail)
	}
	return setupErr("the saved log checkpoint in %s does not verify under the pinned trust policy (%s): if the policy changed on purpose, remove that file", name, le.Detail)
}
