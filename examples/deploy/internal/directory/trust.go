package directory

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"filippo.io/torchwood"
	"github.com/statustoken/statustoken/examples/deploy/internal/files"
	"github.com/statustoken/statustoken/token"
	"golang.org/x/mod/sumdb/note"
)

// Pinned is the trust policy that a wallet or scanner pins (the issuer's
// trust.txt): the token.Trust that the library checks with, and what this
// package reads of the same text to explain refusals: the witnesses'
// keys and how many of them the quorum needs.
type Pinned struct {
	Trust *token.Trust

	log       note.Verifier
	witnesses map[sigKey]note.Verifier
	// need is how many of the pinned witnesses the quorum needs, when the
	// quorum is one witness or one group of witnesses; 0 otherwise.
	need int
}

type sigKey struct {
	name string
	hash uint32
}

// LoadTrust reads and parses a trust policy file.
func LoadTrust(name string) (*Pinned, error) {
	text, err := files.ReadLimited(name, token.MaxTrustSize)
	if err != nil {
		return nil, fmt.Errorf("reading the trust policy: %v", err)
	}
	p, err := ParseTrust(text)
	if err != nil {
		return nil, fmt.Errorf("trust policy %s: %w", name, err)
	}
	return p, nil
}

// ParseTrust parses a trust policy's text.
func ParseTrust(text []byte) (*Pinned, error) {
	t, err := token.ParseTrust(text)
	if err != nil {
		return nil, err
	}
	p := &Pinned{Trust: t, witnesses: make(map[sigKey]note.Verifier)}
	names := map[string]bool{}
	groups := map[string]int{} // groups of witnesses only: name -> threshold
	quorum := ""
	for _, line := range strings.Split(string(text), "\n") {
		content, _, _ := strings.Cut(line, "#")
		f := strings.Fields(content)
		switch {
		case len(f) == 2 && f[0] == "log":
			if v, err := note.NewVerifier(f[1]); err == nil {
				p.log = v
			}
		case len(f) >= 3 && f[0] == "witness":
			v, err := torchwood.NewCosignatureVerifier(f[2])
			if err != nil {
				continue
			}
			p.witnesses[sigKey{v.Name(), v.KeyHash()}] = v
			names[f[1]] = true
		case len(f) >= 4 && f[0] == "group":
			members := f[3:]
			only := true
			for _, m := range members {
				only = only && names[m]
			}
			if !only {
				continue
			}
			switch f[2] {
			case "any":
				groups[f[1]] = 1
			case "all":
				groups[f[1]] = len(members)
			default:
				if n, err := strconv.Atoi(f[2]); err == nil {
					groups[f[1]] = n
				}
			}
		case len(f) == 2 && f[0] == "quorum":
			quorum = f[1]
		}
	}
	switch {
	case names[quorum]:
		p.need = 1
	case groups[quorum] > 0:
		p.need = groups[quorum]
	}
	return p, nil
}

// cosigners returns whether the pinned log signed the checkpoint of a
// proof bundle, how many of the pinned witnesses validly cosigned it, and
// the newest of their timestamps.
func (p *Pinned) cosigners(proof []byte) (logSigned bool, n int, newest time.Time) {
	_, checkpoint, ok := bytes.Cut(proof, []byte("\n\n"))
	if !ok {
		return false, 0, newest
	}
	text, sigs, ok := bytes.Cut(checkpoint, []byte("\n\n"))
	if !ok {
		return false, 0, newest
	}
	if p.log != nil {
		_, err := note.Open(checkpoint, note.VerifierList(p.log))
		logSigned = err == nil
	}
	seen := map[sigKey]bool{}
	for _, line := range bytes.SplitAfter(sigs, []byte("\n")) {
		rest, ok := bytes.CutPrefix(line, []byte("— "))
		name, b64, ok2 := bytes.Cut(rest, []byte(" "))
		if !ok || !ok2 {
			continue
		}
		sig, err := base64.StdEncoding.DecodeString(string(bytes.TrimSuffix(b64, []byte("\n"))))
		if err != nil || len(sig) < 4 {
			continue
		}
		k := sigKey{string(name), binary.BigEndian.Uint32(sig)}
		v, ok := p.witnesses[k]
		if !ok || seen[k] {
			continue
		}
		msg := append(append(bytes.Clone(text), "\n\n"...), line...)
		nt, err := note.Open(msg, note.VerifierList(v))
		if err != nil || len(nt.Sigs) != 1 {
			continue
		}
		ts, err := torchwood.CosignatureTimestamp(nt.Sigs[0])
		if err != nil {
			continue
		}
		seen[k] = true
		n++
		if t := time.Unix(ts, 0); t.After(newest) {
			newest = t
		}
	}
	return logSigned, n, newest
}

// Refusal is a directory refused by holder.New, holder.Update, verify.New
// or verify.Update, explained for people. It wraps the library's error,
// so errors.Is tells its sentinel.
type Refusal struct {
	msg string
	err error
}

func (r *Refusal) Error() string { return r.msg }
func (r *Refusal) Unwrap() error { return r.err }

// splitView is what a refusal of the transparency checks means.
const splitView = "it may be a split view, shown to you and not to everyone: keep the current directory and tell the issuer's operator"

// Explain turns err, the refusal of the published directory p, into a
// Refusal that says what happened. prevSerial is the serial accepted
// before (0 for none).
func (p *Pinned) Explain(err error, pub token.Published, prevSerial uint64) error {
	if err == nil {
		return nil
	}
	detail := func(sentinel error) string {
		return strings.TrimPrefix(strings.TrimPrefix(err.Error(), sentinel.Error()), ": ")
	}
	var msg string
	switch {
	case errors.Is(err, token.ErrRollback):
		msg = "directory rollback: " + detail(token.ErrRollback)
		if d, perr := token.ParseDirectory(pub.Directory); perr == nil {
			if d.Serial < prevSerial {
				msg = fmt.Sprintf("directory rollback: the issuer sent serial %d, older than serial %d accepted before", d.Serial, prevSerial)
			} else {
				msg = fmt.Sprintf("directory rollback: the issuer sent other contents under serial %d, accepted before", d.Serial)
			}
		}
	case errors.Is(err, token.ErrNotLogged):
		why := detail(token.ErrNotLogged)
		if len(pub.Proof) == 0 {
			why = "the issuer sent no log proof"
		}
		msg = fmt.Sprintf("the directory is not proven to be in the issuer's log (%s); %s", why, splitView)
	case errors.Is(err, token.ErrQuorum):
		logSigned, n, _ := p.cosigners(pub.Proof)
		switch {
		case !logSigned:
			msg = "the directory's log checkpoint is not signed by the pinned log key (" + detail(token.ErrQuorum) + ")"
		case p.need > 0 && n < p.need:
			msg = fmt.Sprintf("the directory's log checkpoint is cosigned by %d of the pinned witnesses, the trust policy needs %d", n, p.need)
		default:
			msg = "the directory's log checkpoint is not cosigned by a quorum of the pinned witnesses (" + detail(token.ErrQuorum) + ")"
		}
		msg += "; " + splitView
	case errors.Is(err, token.ErrStale):
		_, _, newest := p.cosigners(pub.Proof)
		when := "long ago"
		if !newest.IsZero() {
			when = "at " + newest.UTC().Format(time.RFC3339)
		}
		msg = fmt.Sprintf("the log checkpoint was last cosigned %s, older than max-age %v of the trust policy: "+
			"fetch the directory again later; if it stays old, the issuer or its witnesses are down, or someone is holding back updates", when, p.Trust.MaxAge())
	case errors.Is(err, token.ErrInconsistent):
		msg = fmt.Sprintf("this directory's log does not extend the one accepted before: possible split view (%s); keep the current directory and tell the issuer's operator", detail(token.ErrInconsistent))
	case errors.Is(err, token.ErrMalformedTrust):
		msg = "the trust policy is unusable: " + detail(token.ErrMalformedTrust)
	case errors.Is(err, token.ErrDirectorySignature), errors.Is(err, token.ErrMalformedDirectory), errors.Is(err, token.ErrInvalidDirectory):
		msg = "the directory is not signed by the pinned root key or breaks the format: " + err.Error()
	default:
		return err
	}
	return &Refusal{msg: msg, err: err}
}

// CheckSameSerial refuses next when it has the serial of prev, the
// directory accepted before (nil for none), with other bytes: a check
// that token.Open makes only when it knows the accepted directory's hash,
// which a restart from MinSerial does not give it.
func CheckSameSerial(prev, next []byte) error {
	if prev == nil || bytes.Equal(prev, next) {
		return nil
	}
	p, err1 := token.ParseDirectory(prev)
	n, err2 := token.ParseDirectory(next)
	if err1 != nil || err2 != nil || p.Serial != n.Serial {
		return nil
	}
	return fmt.Errorf("%w: two different directories with serial %d", token.ErrRollback, n.Serial)
}
