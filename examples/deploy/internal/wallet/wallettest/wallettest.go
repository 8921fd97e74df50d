// Package wallettest is a fake issuer for the wallet's tests: it serves
// the issuer's HTTP interface (the directory with its signature and log
// proof, and blind token requests) from an httptest server, with a log
// and witnesses of package witnesstest. An issuer made by NewDecisions
// also has a decision policy: it answers every token request it decides
// with a receipt, logs the decision records on Tessera (package tlog)
// and serves their inclusion proofs, unless told to misbehave.
package wallettest

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/statustoken/statustoken/examples/deploy/internal/directory"
	"github.com/statustoken/statustoken/examples/deploy/internal/tlog"
	"github.com/statustoken/statustoken/examples/deploy/internal/witnesstest"
	"github.com/statustoken/statustoken/holder"
	"github.com/statustoken/statustoken/issue"
	"github.com/statustoken/statustoken/issue/issuehttp"
	"github.com/statustoken/statustoken/token"
	"github.com/statustoken/statustoken/token/tokenhttp"
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

	// An issuer made by NewDecisions decides each token request: it
	// grants green for reason Granted, or, when Refuse is nonzero,
	// refuses it for reason Refuse. Then it misbehaves as these say:
	// OmitReceipt sends no receipt; ForgeReceipt, when set, changes the
	// receipt and signs it again with the decision key (for another
	// request, another commitment, a reason not listed); CorruptReceipt
	// flips a bit of its signature; NeverLog keeps the decision records
	// out of the decision log.
	Refuse         uint16
	OmitReceipt    bool
	ForgeReceipt   func(*token.Receipt)
	CorruptReceipt bool
	NeverLog       bool

	mu       sync.Mutex
	gotAuth  []string
	gotCount []int            // tokens asked for by each request
	logged   map[string]int64 // directory bytes -> index in the log
	decLog   *tlog.Log
	real     *issuehttp.Handler // for NewHandler
	records  map[[32]byte]int64 // SHA-256 of a decision record -> index
}

// Reasons of the decision policy of NewDecisions' issuer.
const (
	Granted        = 1 // green
	Administrative = 4 // refused, or red
)

// DecisionLogDelay is the decision_log_delay of NewDecisions' issuer.
const DecisionLogDelay = time.Hour

// TokensPerRequest is the number of tokens per request of NewDecisions'
// issuer.
const TokensPerRequest = 3

// decisionLogKey is the note signer key of the decision logs of
// NewDecisions' issuers: the shared issuer's directory names it; each
// fake issuer keeps its own log under it.
var decisionLogKey = sync.OnceValues(func() (string, error) {
	skey, _, err := issue.GenerateLogKey("statustoken.test/wallettest/decisions")
	return skey, err
})

// decisionKey signs the receipts of decisionIssuer; set once by it.
var decisionKey ed25519.PrivateKey

// decisionIssuer is testIssuer with a decision policy.
var decisionIssuer = sync.OnceValues(func() (*issue.Issuer, error) {
	skey, err := decisionLogKey()
	if err != nil {
		return nil, err
	}
	l, err := issue.NewLog(skey, nil)
	if err != nil {
		return nil, err
	}
	_, root, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	if _, decisionKey, err = ed25519.GenerateKey(rand.Reader); err != nil {
		return nil, err
	}
	seed := make([]byte, issue.SeedSize)
	rand.Read(seed)
	return issue.NewIssuer(issue.Config{
		RootKey: root, Seed: seed, EpochLength: 24 * time.Hour,
		Statuses: []token.StatusName{{Code: 1, Name: "green"}, {Code: 2, Name: "red"}},
		Suites:   []token.Suite{token.Ed25519, token.RSABSSA}, Epochs: 2,
		RSAKeys:          issue.NewMemoryKeyStore(),
		TokensPerRequest: TokensPerRequest,
		DecisionKey:      decisionKey,
		DecisionLogKey:   l.VerifierKey(),
		DecisionLogDelay: DecisionLogDelay,
		Reasons: []token.Reason{
			{Code: Granted, Text: "Negative test result", Outcomes: []token.Outcome{1}},
			{Code: 2, Text: "Positive test result", Outcomes: []token.Outcome{2}},
			{Code: Administrative, Text: "Administrative", Outcomes: []token.Outcome{token.Refused, 2}},
		},
	})
})

// New starts a fake issuer, closed at the end of the test.
func New(t *testing.T) *Issuer {
	t.Helper()
	is, err := testIssuer()
	if err != nil {
		t.Fatal(err)
	}
	return start(t, is)
}

// NewDecisions starts a fake issuer with a decision policy (reasons
// Granted and Administrative, TokensPerRequest tokens per request) and a
// decision log of its own, closed at the end of the test.
func NewDecisions(t *testing.T) *Issuer {
	t.Helper()
	is, err := decisionIssuer()
	if err != nil {
		t.Fatal(err)
	}
	skey, err := decisionLogKey()
	if err != nil {
		t.Fatal(err)
	}
	l, err := tlog.Open(t.Context(), t.TempDir(), skey, &tlog.Options{BatchAge: 10 * time.Millisecond, CheckpointInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close(context.Background()) })
	f := start(t, is)
	f.decLog = l
	f.records = map[[32]byte]int64{}
	return f
}

func start(t *testing.T, is *issue.Issuer) *Issuer {
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
		if f.real != nil {
			f.real.ServeHTTP(w, r)
			return
		}
		if r.Header.Get("Authorization") != "Bearer "+APIKey {
			http.Error(w, "unknown API key", http.StatusUnauthorized)
			return
		}
		body, _ := io.ReadAll(io.LimitReader(r.Body, issue.MaxRequestSize))
		if f.decLog != nil {
			f.decide(w, r, body)
			return
		}
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
	mux.HandleFunc("GET "+tokenhttp.DecisionProofPath+"{hash}", f.serveProof)
	f.Srv = httptest.NewServer(mux)
	t.Cleanup(f.Srv.Close)
	return f
}

// decide answers a token request under the decision policy: 400 for a
// missing commitment or a request it cannot serve, else a receipt with
// 200 and the tokens, or with 403.
func (f *Issuer) decide(w http.ResponseWriter, r *http.Request, body []byte) {
	c, err := base64.StdEncoding.Strict().DecodeString(r.Header.Get(tokenhttp.CommitmentHeader))
	if err != nil || len(c) != 32 {
		http.Error(w, "missing or malformed "+tokenhttp.CommitmentHeader, http.StatusBadRequest)
		return
	}
	var evidence []byte
	if v := r.Header.Get(tokenhttp.EvidenceHeader); v != "" {
		if evidence, err = base64.StdEncoding.Strict().DecodeString(v); err != nil || len(evidence) > tokenhttp.MaxEvidenceSize {
			http.Error(w, "malformed "+tokenhttp.EvidenceHeader, http.StatusBadRequest)
			return
		}
	}
	f.mu.Lock()
	refuse, omit, forge, corrupt, never := f.Refuse, f.OmitReceipt, f.ForgeReceipt, f.CorruptReceipt, f.NeverLog
	f.mu.Unlock()
	d := issue.Decision{Request: body, Commitment: [32]byte(c), Outcome: 1, Reason: Granted, Evidence: evidence, Serial: f.Serial}
	var resp []byte
	code := http.StatusOK
	if refuse != 0 {
		d.Outcome, d.Reason, code = token.Refused, refuse, http.StatusForbidden
	} else if resp, err = f.Is.Respond(body, f.now(), 1); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f.count(body)
	receipt, record, err := f.Is.Decide(d, f.now())
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	if !never {
		if err := f.record(r.Context(), record); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
	}
	if forge != nil {
		receipt = f.Forge(receipt, forge)
	}
	if corrupt {
		receipt[len(receipt)-1] ^= 1
	}
	if !omit {
		w.Header().Set(tokenhttp.ReceiptHeader, base64.StdEncoding.EncodeToString(receipt))
	}
	if code != http.StatusOK {
		text := "unknown"
		if dir, err := token.ParseDirectory(f.Current().Directory); err == nil {
			if r, ok := dir.Reason(d.Reason); ok {
				text = r.Text
			}
		}
		http.Error(w, "refused: "+text+" (reason "+strconv.Itoa(int(d.Reason))+")", code)
		return
	}
	if f.Mutate != nil {
		resp = f.Mutate(resp)
	}
	w.Write(resp)
}

// count notes the number of blinded messages of a request.
func (f *Issuer) count(body []byte) {
	n := -1
	if len(body) >= 10 {
		// version (1), key ID (8), count (1): token/SPEC.md, "Blind
		// issuance".
		n = int(body[9])
	}
	f.mu.Lock()
	f.gotCount = append(f.gotCount, n)
	f.mu.Unlock()
}

// GotCounts returns the number of tokens each decided request asked
// for, and forgets them.
func (f *Issuer) GotCounts() []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.gotCount
	f.gotCount = nil
	return c
}

// Forge returns receipt changed by change and signed again with the
// issuer's decision key, as an issuer that misbehaves signs it.
func (f *Issuer) Forge(receipt []byte, change func(*token.Receipt)) []byte {
	r, err := token.ParseReceipt(receipt)
	if err != nil {
		f.T.Error(err)
		return receipt
	}
	change(r)
	if _, err := decisionIssuer(); err != nil {
		f.T.Fatal(err)
	}
	r.Signature = ed25519.Sign(decisionKey, r.SignedMessage())
	b, err := r.MarshalBinary()
	if err != nil {
		f.T.Error(err)
	}
	return b
}

// serveProof serves the inclusion proof of a decision record, by its
// SHA-256, under a checkpoint of the decision log cosigned by w1 and w2
// now; 404 with Retry-After for a record not in the log.
func (f *Issuer) serveProof(w http.ResponseWriter, r *http.Request) {
	if f.real != nil {
		f.real.ServeHTTP(w, r)
		return
	}
	h, err := hex.DecodeString(r.PathValue("hash"))
	if err != nil || len(h) != 32 {
		http.Error(w, "malformed record hash", http.StatusBadRequest)
		return
	}
	proof, err := f.proof(r.Context(), [32]byte(h))
	switch {
	case errors.Is(err, issuehttp.ErrNotYetLogged):
		w.Header().Set("Retry-After", "60")
		http.Error(w, "not in a cosigned checkpoint yet", http.StatusNotFound)
		return
	case err != nil:
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Write(proof)
}

// proof returns the proof of the decision record with SHA-256 hash under
// a checkpoint of the decision log cosigned by w1 and w2 now; an error
// wrapping issuehttp.ErrNotYetLogged for a record not in the log.
func (f *Issuer) proof(ctx context.Context, hash [32]byte) ([]byte, error) {
	f.mu.Lock()
	i, ok := f.records[hash]
	f.mu.Unlock()
	if !ok {
		return nil, issuehttp.ErrNotYetLogged
	}
	cp, err := f.decLog.AwaitCheckpoint(ctx, i+1)
	if err != nil {
		return nil, err
	}
	var cosigs [][]byte
	for _, w := range f.Env.Witnesses[:2] {
		c, err := w.Cosign(cp, f.now())
		if err != nil {
			return nil, err
		}
		cosigs = append(cosigs, c)
	}
	if cp, err = f.decLog.Cosigned(cp, cosigs...); err != nil {
		return nil, err
	}
	return f.decLog.Proof(ctx, i, cp)
}

// record appends a decision record to the decision log.
func (f *Issuer) record(ctx context.Context, record []byte) error {
	ix, err := f.decLog.Append(ctx, [][]byte{record})
	if err != nil {
		return err
	}
	f.mu.Lock()
	f.records[sha256.Sum256(record)] = ix[0]
	f.mu.Unlock()
	return nil
}

// NewHandler starts an issuer as NewDecisions does whose token requests
// and decision proofs the library's issuehttp.Handler answers, with the
// current directory published: it grants green to the holder of APIKey,
// or refuses as Refuse says, and behaves. Only Refuse and Serial apply.
func NewHandler(t *testing.T) *Issuer {
	t.Helper()
	f := NewDecisions(t)
	h, err := issuehttp.NewHandler(issuehttp.Options{
		Issuer: f.Is,
		Decide: func(r *http.Request, credential string, status token.Status, evidence []byte) (issuehttp.Outcome, error) {
			if credential != APIKey {
				return issuehttp.Outcome{}, issuehttp.ErrUnknownCredential
			}
			f.mu.Lock()
			refuse := f.Refuse
			f.mu.Unlock()
			switch {
			case refuse != 0:
				return issuehttp.Outcome{Reason: refuse}, nil
			case status != 1:
				return issuehttp.Outcome{Reason: Administrative}, nil
			}
			return issuehttp.Outcome{Status: 1, Reason: Granted}, nil
		},
		Record:        f.record,
		DecisionProof: f.proof,
		Now:           f.now,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Publish(f.Current(), f.now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	f.real = h
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
