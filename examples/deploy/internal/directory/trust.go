package directory

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/statustoken/statustoken/examples/deploy/internal/files"
	"github.com/statustoken/statustoken/token"
)

// LoadTrust reads and parses a trust policy file, the issuer's trust.txt
// that a wallet or scanner pins. A policy the library refuses gives a
// *Refusal that names the file and the line at fault, and wraps the
// library's *token.LoadError.
func LoadTrust(name string) (*token.Trust, error) {
	text, err := files.ReadLimited(name, token.MaxTrustSize)
	if err != nil {
		return nil, fmt.Errorf("reading the trust policy: %v", err)
	}
	t, err := token.ParseTrust(text)
	if err != nil {
		var le *token.LoadError
		if !errors.As(err, &le) {
			return nil, err
		}
		return nil, &Refusal{msg: fmt.Sprintf("malformed trust policy %s: %s", name, le.Detail), err: err}
	}
	return t, nil
}

// Refusal is a trust policy, an accepted state or a directory refused by
// the library (token.ParseTrust, token.ParseAccepted, holder.New,
// holder.Update, verify.New or verify.Update), explained for people from
// what the library's *token.LoadError says. It wraps the library's error,
// so errors.Is tells its sentinel and errors.As finds the LoadError.
type Refusal struct {
	msg string
	err error
}

func (r *Refusal) Error() string { return r.msg }
func (r *Refusal) Unwrap() error { return r.err }

// splitView is what a refusal of the transparency checks means.
const splitView = "it may be a split view, shown to you and not to everyone: keep the current directory and tell the issuer's operator"

// Explain turns err, the refusal of the published directory pub under the
// pinned trust policy, into a Refusal that says what happened, from the
// fields of the library's *token.LoadError and the policy's witnesses.
// An error that is neither a LoadError nor a refused directory signature
// or format is returned as it is.
func Explain(err error, trust *token.Trust, pub token.Published) error {
	if err == nil {
		return nil
	}
	var le *token.LoadError
	if !errors.As(err, &le) {
		if errors.Is(err, token.ErrDirectorySignature) || errors.Is(err, token.ErrMalformedDirectory) || errors.Is(err, token.ErrInvalidDirectory) {
			return &Refusal{msg: "the directory is not signed by the pinned root key or breaks the format: " + err.Error(), err: err}
		}
		return err
	}
	var msg string
	switch le.Err {
	case token.ErrRollback:
		if le.Serial < le.AcceptedSerial {
			msg = fmt.Sprintf("directory rollback: the issuer sent serial %d, older than serial %d accepted before", le.Serial, le.AcceptedSerial)
		} else {
			msg = fmt.Sprintf("directory rollback: the issuer sent other contents under serial %d, accepted before", le.Serial)
		}
	case token.ErrStatusRenamed:
		msg = fmt.Sprintf("the directory (serial %d) renames a status accepted before (%s): tokens issued under the old name would change meaning; keep the current directory and tell the issuer's operator", le.Serial, le.Detail)
	case token.ErrNotLogged:
		why := le.Detail
		if len(pub.Proof) == 0 {
			why = "the issuer sent no log proof"
		}
		msg = fmt.Sprintf("the directory is not proven to be in the issuer's log (%s); %s", why, splitView)
	case token.ErrNotNewest:
		msg = fmt.Sprintf("the issuer sent serial %d, which its log shows is not its newest directory (%s): fetch the directory again; if it stays so, %s", le.Serial, le.Detail, splitView)
	case token.ErrQuorum:
		switch n, need := len(le.Cosignatures), trust.MinCosigners(); {
		case !le.LogSigned:
			msg = "the directory's log checkpoint is not signed by the pinned log key (" + le.Detail + ")"
		case n < need:
			msg = fmt.Sprintf("the directory's log checkpoint is cosigned by %d of the pinned witnesses, the trust policy needs %d", n, need)
		default:
			msg = fmt.Sprintf("the directory's log checkpoint is cosigned by %s of the %d pinned witnesses, which is not a quorum of the trust policy", cosigners(le.Cosignatures), len(trust.Witnesses()))
		}
		msg += "; " + splitView
	case token.ErrStale:
		if le.QuorumTime.IsZero() {
			msg = fmt.Sprintf("the log checkpoint is not fresh (%s)", le.Detail)
		} else {
			msg = fmt.Sprintf("the log checkpoint was last cosigned at %s, older than max-age %v of the trust policy",
				le.QuorumTime.UTC().Format(time.RFC3339), trust.MaxAge())
		}
		msg += ": fetch the directory again later; if it stays old, the issuer or its witnesses are down, or someone is holding back updates"
	case token.ErrInconsistent:
		msg = fmt.Sprintf("this directory's log does not extend the one accepted before: possible split view (%s); keep the current directory and tell the issuer's operator", le.Detail)
	case token.ErrMalformedTrust:
		msg = "the trust policy is unusable: " + le.Detail
	default:
		return err
	}
	return &Refusal{msg: msg, err: err}
}

// cosigners names the witnesses of cosignatures: "w1.example and
// w3.example".
func cosigners(cs []token.Cosignature) string {
	names := make([]string, len(cs))
	for i, c := range cs {
		names[i] = c.Witness
	}
	switch len(names) {
	case 0:
		return "none"
	case 1:
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

// LegacyAccepted returns the accepted state of a wallet or scanner that
// kept, before token.Accepted, the directory it accepted last (dir) and,
// when not nil, the log checkpoint accepted with it (checkpoint): that
// directory's serial, SHA-256 and status names, and the checkpoint
// checked under trust. A checkpoint that does not verify gives the
// error of token.ParseCheckpoint.
func LegacyAccepted(dir, checkpoint []byte, trust *token.Trust) (token.Accepted, error) {
	d, err := token.ParseDirectory(dir)
	if err != nil {
		return token.Accepted{}, err
	}
	acc := token.Accepted{Serial: d.Serial, Directory: sha256.Sum256(dir), Statuses: d.Statuses}
	if checkpoint != nil {
		if acc.Checkpoint, err = token.ParseCheckpoint(checkpoint, trust); err != nil {
			return token.Accepted{}, err
		}
	}
	return acc, nil
}
