// Package wallettest is a fake issuer for the wallet's tests: it serves
// the issuer's HTTP interface (the directory with its signature and log
// proof, and blind token requests) from an httptest server, with a log
// and witnesses of package witnesstest.
package wallettest

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/statustoken/statustoken/examples/deploy/internal/directory"
	"github.com/statustoken/statustoken/examples/deploy/internal/witnesstest"
	"github.com/statustoken/statustoken/holder"
	"github.com/statustoken/statustoken/issue"
	"github.com/statustoken/statustoken/token"
	"github.com/statustoken/statustoken/verify"
)

// APIKey is the API key of the one holder the fake issuer knows, whose
// status is green.
const APIKey = "test-api-key-3f9c2a"

// MaxAge is the trust policy's freshness bound.
const MaxAge = 48 * time.Hour

// testIssuer is one issuer shared by the tests (RSA keys take a moment).
// Its statuses are green (1) and red (2); it has keys of both suites, and
// its directories list the current epoch and the next.
var testIssuer = sync.OnceValues(func() (*issue.Issuer, error) {
	_, root, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	seed := make([]byte, issue.SeedSize)
	rand.Read(seed)
	return issue.NewIssuer(issue.Config{
		RootKey: root, Seed: seed, EpochLength: 24 * time.Hour,
		Statuses: []token.StatusName{{Code: 1, Name: "green"}, {Code: 2, Name: "red"}},
		Suites:   []token.Suite{token.Ed25519, token.RSABSSA}, Epochs: 2,
		RSAKeys: issue.NewMemoryKeyStore(),
	})
})

// Issuer serves the issuer's HTTP interface for one holder of status
// green, with API key APIKey. Each directory it serves is logged in its
// log, with a proof cosigned by w1 and w2 (or as Publish says).
type Issuer struct {
	T     *testing.T
	Is    *issue.Issuer
	Env   *witnesstest.Env
	Trust string // the trust policy file
	Srv   *httptest.Server

	// Set these between requests only.
	Serial uint64
	Shift  time.Duration // added to the time the directory is made for
	// Now, when set, is the issuer's clock: the time its directories
	// are made for and proven at, and its requests answered at.
	Now func() time.Time
	// Mutate, when set, changes each token response.
	Mutate func([]byte) []byte
	// Publish, when set, returns what to serve instead of the logged
	// directory.
	Publish func(data, sig []byte) token.Published
	// Block, when set, makes the token request handler wait until it is
	// closed or the request is canceled.
	Block chan struct{}

	mu      sync.Mutex
	gotAuth []string
	logged  map[string]int64 // directory bytes -> index in the log
}

// New starts a fake issuer, closed at the end of the test.
func New(t *testing.T) *Issuer {
	t.Helper()
	is, err := testIssuer()
	if err != nil {
		t.Fatal(err)
	}
	f := &Issuer{T: t, Is: is, Serial: 5, Env: witnesstest.NewEnv(is.RootPublicKey()), logged: map[string]int64{}}
	f.Trust = filepath.Join(t.TempDir(), "trust.txt")
	if err := os.WriteFile(f.Trust, f.Env.Policy(MaxAge), 0o644); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+directory.Path, func(w http.ResponseWriter, r *http.Request) {
		p := f.Current()
		w.Header().Set(directory.SignatureHeader, base64.StdEncoding.EncodeToString(p.Signature))
		if p.Proof != nil {
			w.Header().Set(directory.ProofHeader, base64.StdEncoding.EncodeToString(p.Proof))
		}
		w.Write(p.Directory)
	})
	mux.HandleFunc("POST "+directory.TokenRequestPath, func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.gotAuth = append(f.gotAuth, r.Header.Get("Authorization"))
		block := f.Block
		f.mu.Unlock()
		if block != nil {
			select {
			case <-block:
			case <-r.Context().Done():
				return
			}
		}
		if r.Header.Get("Authorization") != "Bearer "+APIKey {
			http.Error(w, "unknown API key", http.StatusUnauthorized)
			return
		}
		body, _ := io.ReadAll(io.LimitReader(r.Body, issue.MaxRequestSize))
		resp, err := f.Is.Respond(body, f.now(), 1)
		switch {
		case errors.Is(err, issue.ErrStatusNotAssigned):
			http.Error(w, "the requested status is not the one assigned to this holder", http.StatusForbidden)
			return
		case err != nil:
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if f.Mutate != nil {
			resp = f.Mutate(resp)
		}
		w.Write(resp)
	})
	f.Srv = httptest.NewServer(mux)
	t.Cleanup(f.Srv.Close)
	return f
}

// URL is the issuer's base URL.
func (f *Issuer) URL() string { return f.Srv.URL }

// GotAuth returns the Authorization headers of the token requests
// received, and forgets them.
func (f *Issuer) GotAuth() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	a := f.gotAuth
	f.gotAuth = nil
	return a
}

// Current returns the directory for the current serial and shift, logged
// once and proven under a fresh checkpoint of the whole log (or what
// Publish returns for it).
func (f *Issuer) Current() token.Published {
	data, sig, err := f.Is.Directory(f.now().Add(f.Shift), f.Serial)
	if err != nil {
		f.T.Error(err)
	}
	if f.Publish != nil {
		return f.Publish(data, sig)
	}
	return f.Prove(data, sig, f.now())
}

func (f *Issuer) now() time.Time {
	f.mu.Lock()
	now := f.Now
	f.mu.Unlock()
	if now != nil {
		return now()
	}
	return time.Now()
}

// Prove logs a directory, once, and returns it with a proof under a
// checkpoint of the whole log cosigned at time at by the witnesses with
// the indexes cosigners (w1 and w2 when none).
func (f *Issuer) Prove(data, sig []byte, at time.Time, cosigners ...int) token.Published {
	f.mu.Lock()
	defer f.mu.Unlock()
	i, ok := f.logged[string(data)]
	if !ok {
		var err error
		if i, err = f.Env.Log.AppendDirectory(data); err != nil {
			f.T.Error(err)
		}
		f.logged[string(data)] = i
	}
	p, err := f.Env.Prove(i, data, sig, at, cosigners...)
	if err != nil {
		f.T.Error(err)
	}
	return p
}

// TrustPolicy returns the parsed trust policy.
func (f *Issuer) TrustPolicy() *token.Trust {
	f.T.Helper()
	trust, err := token.ParseTrust(f.Env.Policy(MaxAge))
	if err != nil {
		f.T.Fatal(err)
	}
	return trust
}

// Verifier returns a scanner's verifier for the current directory.
func (f *Issuer) Verifier() *verify.Verifier {
	f.T.Helper()
	v, err := verify.New(f.Current(), f.TrustPolicy(), nil)
	if err != nil {
		f.T.Fatal(err)
	}
	return v
}

// Holder returns a holder for the current directory.
func (f *Issuer) Holder() *holder.Holder {
	f.T.Helper()
	h, err := holder.New(f.Current(), f.TrustPolicy(), nil)
	if err != nil {
		f.T.Fatal(err)
	}
	return h
}

// Ed25519Tokens issues n ed25519 tokens of status green at a walk-in
// kiosk, checked by a holder of the current directory.
func (f *Issuer) Ed25519Tokens(n int) []*token.Token {
	f.T.Helper()
	toks, err := f.Is.IssueEd25519(1, time.Now(), n)
	if err != nil {
		f.T.Fatal(err)
	}
	if err := f.Holder().Accept(toks); err != nil {
		f.T.Fatal(err)
	}
	return toks
}
