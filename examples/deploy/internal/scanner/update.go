package scanner

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"strings"
	"time"

	"github.com/statustoken/statustoken/examples/deploy/internal/directory"
	"github.com/statustoken/statustoken/examples/deploy/internal/files"
	"github.com/statustoken/statustoken/token"
	"github.com/statustoken/statustoken/token/tokenhttp"
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
	// Client makes the requests; when nil, one that follows no redirect
	// (tokenhttp.NewClient): the issuer's URL is the one pinned here.
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

// Update fetches the issuer's directory with its signature and log proof
// (tokenhttp.Client.FetchDirectory), checks them under the pinned trust
// policy, refuses one older than the saved directory or whose log does not
// extend the saved checkpoint, and saves it as token/SPEC.md, "Files a
// scanner saves", says. An error about the configuration or the saved
// files is a *SetupError; fetching or a refused directory gives any other
// error, which wraps the error of package tokenhttp or token.
func Update(ctx context.Context, c UpdateConfig) (*Updated, error) {
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.TrustFile == "" {
		return nil, setupErr("-trust is required: the issuer's trust policy file (trust.txt)")
	}
	trust, err := loadTrust(c.TrustFile)
	if err != nil {
		return nil, err
	}
	client, err := tokenhttp.NewClient(c.Issuer, c.Client)
	if err != nil {
		return nil, &SetupError{msg: fmt.Sprintf("-issuer %q: want http(s)://host[:port][/path], without user, query or fragment", c.Issuer), err: err}
	}
	acc, err := loadAccepted(c.AcceptedFile, c.DirectoryFile, c.LegacyCheckpointFile, trust)
	if err != nil {
		return nil, err
	}
	pub, err := client.FetchDirectory(ctx)
	if err != nil {
		return nil, fetchError(client.BaseURL(), err)
	}
	v, err := verify.New(pub, trust, &verify.Options{Now: c.Now, Accepted: acc})
	if err != nil {
		// Not a setup error: the issuer sent a bad directory.
		var se *SetupError
		if errors.As(explainLoad(err, trust, pub, "the issuer's directory", c.TrustFile, client.BaseURL()), &se) {
			return nil, &refusedError{msg: se.msg, err: err}
		}
		return nil, err
	}
	d := v.Directory()
	newAcc, err := v.Accepted().MarshalText()
	if err != nil {
		return nil, setupErr("%v", err)
	}
	// As SPEC.md, "Files a scanner saves": the signature, the proof, the
	// directory, then the accepted state, each atomically. A reader
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

// fetchError explains, for people, why the directory could not be
// fetched from the issuer at base; it wraps err.
func fetchError(base string, err error) error {
	var msg string
	var se *tokenhttp.StatusError
	switch {
	case errors.As(err, &se) && se.Code == http.StatusNotFound:
		msg = fmt.Sprintf("no directory at %s: it answered 404 Not Found; check -issuer", base)
	case errors.As(err, &se) && se.Code >= 300 && se.Code < 400:
		msg = fmt.Sprintf("%s answered %d %s, a redirect, which the scanner does not follow: give the issuer's own URL as -issuer", base, se.Code, http.StatusText(se.Code))
	case errors.As(err, &se) && se.Code == http.StatusServiceUnavailable:
		msg = fmt.Sprintf("the issuer at %s cannot answer now (%v); try again later", base, se)
	case errors.As(err, &se):
		msg = fmt.Sprintf("fetching the directory from %s: the %v", base, se)
	case errors.Is(err, tokenhttp.ErrMalformedResponse):
		_, why, ok := strings.Cut(err.Error(), tokenhttp.ErrMalformedResponse.Error()+": ")
		if !ok {
			why = "not as the protocol says"
		}
		msg = fmt.Sprintf("the issuer at %s sent a malformed answer (%s): it breaks the protocol (token/SPEC.md)", base, why)
	case errors.Is(err, tokenhttp.ErrChanged):
		msg = fmt.Sprintf("the issuer at %s published a new directory while it was fetched: run \"scanner update\" again", base)
	default:
		msg = fmt.Sprintf("fetching the directory from %s: %v", base, strings.TrimPrefix(err.Error(), "tokenhttp: "))
	}
	return &fetchErr{msg: msg, err: err}
}

// fetchErr is a failed fetch, explained for people; it wraps the error
// of package tokenhttp.
type fetchErr struct {
	msg string
	err error
}

func (e *fetchErr) Error() string { return e.msg }
func (e *fetchErr) Unwrap() error { return e.err }

// loadAccepted returns what the scanner accepted before, checked under
// trust: the file accepted, or, while there is none, what the saved
// directory dirFile and the log checkpoint legacyFile of an older scanner
// say (SPEC.md, "Files a scanner saves"); the zero Accepted when the
// scanner has accepted nothing yet. Every error is a *SetupError.
func loadAccepted(accepted, dirFile, legacyFile string, trust *token.Trust) (token.Accepted, error) {
	if accepted == "" {
		return token.Accepted{}, setupErr("no accepted state file: it keeps older directories from being passed off as current")
	}
	text, err := files.ReadLimited(accepted, token.MaxAcceptedSize)
	switch {
	case err == nil:
		acc, err := token.ParseAccepted(text, trust)
		if err != nil {
			return token.Accepted{}, savedStateError(accepted, err)
		}
		return acc, nil
	case !errors.Is(err, fs.ErrNotExist):
		return token.Accepted{}, setupErr("reading the saved accepted state: %v", err)
	}
	dir, err := files.ReadLimited(dirFile, token.MaxDirectorySize)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return token.Accepted{}, nil
	case err != nil:
		return token.Accepted{}, setupErr("reading the saved directory: %v", err)
	}
	var cp []byte
	if legacyFile != "" {
		cp, err = files.ReadLimited(legacyFile, token.MaxProofSize)
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
		return token.Accepted{}, savedStateError(legacyFile, err)
	case err != nil:
		return token.Accepted{}, setupErr("the saved directory %s is unreadable (%s): remove it to start again", dirFile, directoryFault(err))
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
