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
	// CheckpointFile, the log checkpoint accepted, is read and written.
	DirectoryFile, SignatureFile, ProofFile, CheckpointFile string
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
	pinned, err := loadTrust(c.TrustFile)
	if err != nil {
		return nil, err
	}
	base, err := directory.IssuerURL(c.Issuer)
	if err != nil {
		return nil, setupErr("%v", err)
	}
	// What was accepted before: the saved directory's serial and bytes,
	// and the log checkpoint.
	var minSerial uint64
	prev, err := files.ReadLimited(c.DirectoryFile, token.MaxDirectorySize)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		prev = nil
	case err != nil:
		return nil, setupErr("reading the saved directory: %v", err)
	default:
		d, err := token.ParseDirectory(prev)
		if err != nil {
			return nil, setupErr("the saved directory %s is unreadable (%s): remove it to start again", c.DirectoryFile, clean(err.Error()))
		}
		minSerial = d.Serial
	}
	var cp *token.Checkpoint
	cpText, err := files.ReadLimited(c.CheckpointFile, token.MaxProofSize)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, setupErr("reading the saved log checkpoint: %v", err)
	default:
		if cp, err = token.ParseCheckpoint(cpText, pinned.Trust); err != nil {
			return nil, setupErr("the saved log checkpoint %s does not verify under the pinned trust policy (%s): if the policy changed on purpose, remove that file", c.CheckpointFile, clean(err.Error()))
		}
	}
	pub, err := directory.Fetch(ctx, c.Client, base)
	if err != nil {
		return nil, fmt.Errorf("fetching the directory from %s: %v", base, err)
	}
	v, err := verify.New(pub, pinned.Trust, &verify.Options{Now: c.Now, MinSerial: minSerial, Checkpoint: cp})
	if err == nil {
		err = directory.CheckSameSerial(prev, pub.Directory)
	}
	if err != nil {
		// Not a setup error: the issuer sent a bad directory.
		var se *SetupError
		if errors.As(explainLoad(err, pinned, pub, "the issuer's directory", c.TrustFile, base.String(), minSerial), &se) {
			return nil, errors.New(se.msg)
		}
		return nil, err
	}
	d := v.Directory()
	newCP, err := v.Checkpoint().MarshalText()
	if err != nil {
		return nil, setupErr("%v", err)
	}
	// The directory goes last but for the checkpoint: a reader between
	// two writes sees an old directory with a new signature or proof,
	// which fails, never a mismatch that passes; a scanner stopped before
	// the checkpoint is written keeps the older one, which every later
	// log extends.
	for _, f := range []struct {
		name string
		data []byte
	}{{c.SignatureFile, pub.Signature}, {c.ProofFile, pub.Proof}, {c.DirectoryFile, pub.Directory}, {c.CheckpointFile, newCP}} {
		if err := files.WriteAtomic(f.name, f.data, 0o644); err != nil {
			return nil, setupErr("saving the directory: %v", err)
		}
	}
	return &Updated{Serial: d.Serial, Keys: len(d.Keys), LogSize: v.Checkpoint().Size()}, nil
}
