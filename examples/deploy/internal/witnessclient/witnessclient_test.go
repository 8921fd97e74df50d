package witnessclient

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/statustoken/statustoken/examples/deploy/internal/witnesstest"
	"github.com/statustoken/statustoken/issue"
	"github.com/statustoken/statustoken/token"
)

func TestParseWitnesses(t *testing.T) {
	w1, w2 := witnesstest.New("w1.example"), witnesstest.New("w2.example")
	text := "# witnesses\n\n" + w1.Line("http://127.0.0.1:7380/") + "  # the first\n" + w2.Line("https://w2.example/witness") + "\n"
	ws, err := ParseWitnesses([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	if len(ws) != 2 || ws[0].Name != "w1.example" || ws[0].URL != "http://127.0.0.1:7380" || ws[1].URL != "https://w2.example/witness" || ws[1].VerifierKey != w2.VerifierKey() {
		t.Fatalf("parsed %+v", ws)
	}
	if ws[0].PolicyLine() != w1.Line("http://127.0.0.1:7380") {
		t.Fatalf("policy line %q", ws[0].PolicyLine())
	}
	for bad, want := range map[string]string{
		"":                                      "no witness lines",
		"# nothing\n":                           "no witness lines",
		"log " + w1.VerifierKey():               "want \"witness",
		"witness w1 " + w1.VerifierKey() + "\n": "want \"witness",
		"witness w1 notakey http://x":           "not a cosignature verifier key",
		"witness w1 " + w1.VerifierKey() + " ftp://x":                                                  "want http(s)",
		"witness w1 " + w1.VerifierKey() + " http://x/?q=1":                                            "want http(s)",
		w1.Line("http://a") + "\n" + w1.Line("http://b"):                                               "listed twice",
		strings.Repeat("#", MaxWitnessesFile+1):                                                        "limit",
		"witness w1 " + strings.Replace(w1.VerifierKey(), "w1.example", "w9.example", 1) + " http://x": "not a cosignature verifier key",
	} {
		if _, err := ParseWitnesses([]byte(bad)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%.40q: %v, want %q", bad, err, want)
		}
	}
}

// fixture is a log of directories and witnesses for it.
type fixture struct {
	t    *testing.T
	skey string
	log  *issue.Log
	is   *issue.Issuer
	next uint64
}

func newFixture(t *testing.T) *fixture {
	_, root, _ := ed25519.GenerateKey(rand.Reader)
	is, err := issue.NewIssuer(issue.Config{RootKey: root, Seed: make([]byte, issue.SeedSize), EpochLength: time.Hour,
		Statuses: []token.StatusName{{Code: 1, Name: "green"}}})
	if err != nil {
		t.Fatal(err)
	}
	skey, _, _ := issue.GenerateLogKey("statustoken.test/client/directory")
	l, err := issue.NewLog(skey, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, skey: skey, log: l, is: is, next: 1}
}

// grow appends a directory to l and returns l's checkpoint.
func (f *fixture) grow(l *issue.Log) []byte {
	f.t.Helper()
	data, _, err := f.is.Directory(time.Now(), f.next)
	if err != nil {
		f.t.Fatal(err)
	}
	f.next++
	if _, err := l.AppendDirectory(data); err != nil {
		f.t.Fatal(err)
	}
	cp, err := l.Checkpoint()
	if err != nil {
		f.t.Fatal(err)
	}
	return cp
}

func (f *fixture) witness(name string) (*witnesstest.Witness, *Witness) {
	f.t.Helper()
	w := witnesstest.New(name)
	if err := w.AddLog(f.log.VerifierKey()); err != nil {
		f.t.Fatal(err)
	}
	ws, err := ParseWitnesses([]byte(w.Line(w.Start(f.t))))
	if err != nil {
		f.t.Fatal(err)
	}
	return w, ws[0]
}

func TestAddCheckpoint(t *testing.T) {
	f := newFixture(t)
	fake, w := f.witness("w1.example")
	c := &Client{Timeout: 5 * time.Second}
	ctx := context.Background()

	cp1 := f.grow(f.log)
	r, err := c.AddCheckpoint(ctx, w, f.log, 0, cp1)
	if err != nil {
		t.Fatal(err)
	}
	if r.Size != 1 || !strings.HasPrefix(string(r.Line), "— w1.example ") || time.Since(r.Time) > time.Minute {
		t.Fatalf("result %+v", r)
	}
	if _, err := f.log.Cosigned(cp1, r.Line); err != nil {
		t.Fatalf("the line does not fit Log.Cosigned: %v", err)
	}

	// The same tree again: a new cosignature (as the issuer refreshes).
	if r, err = c.AddCheckpoint(ctx, w, f.log, 1, cp1); err != nil || r.Size != 1 {
		t.Fatalf("same tree again: %v", err)
	}

	// A larger tree, the old size known: one request.
	f.grow(f.log)
	cp3 := f.grow(f.log)
	before := fake.Requests.Load()
	if r, err = c.AddCheckpoint(ctx, w, f.log, 1, cp3); err != nil || r.Size != 3 {
		t.Fatalf("larger tree: %v", err)
	}
	if n := fake.Requests.Load() - before; n != 1 {
		t.Fatalf("%d requests, want 1", n)
	}

	// The old size forgotten: a 409 with the witness's size, then the
	// retry.
	cp4 := f.grow(f.log)
	before = fake.Requests.Load()
	if r, err = c.AddCheckpoint(ctx, w, f.log, 0, cp4); err != nil || r.Size != 4 {
		t.Fatalf("after a 409: %v", err)
	}
	if n := fake.Requests.Load() - before; n != 2 {
		t.Fatalf("%d requests, want 2", n)
	}

	// A fork of the log with the same key: records 1 to 3, then another
	// directory at index 3. The witness refuses it: 409 (it is at 4),
	// then 422 (no consistency proof from its tree).
	var records [][]byte
	for i := range int64(3) {
		rec, _ := f.log.Record(i)
		records = append(records, rec)
	}
	fork, err := issue.NewLog(f.skey, records)
	if err != nil {
		t.Fatal(err)
	}
	forkCP := f.grow(fork)
	_, err = c.AddCheckpoint(ctx, w, fork, 3, forkCP)
	var refused *RefusedError
	if !errors.As(err, &refused) || len(refused.Statuses) != 2 || refused.Statuses[0] != 409 || refused.Last() != 422 {
		t.Fatalf("forked checkpoint: %v", err)
	}
	if !strings.Contains(err.Error(), "HTTP 409 then 422: bad consistency proof") {
		t.Fatalf("refusal text: %v", err)
	}
	// A witness ahead of the checkpoint: the log lost its state.
	if _, err = c.AddCheckpoint(ctx, w, f.log, 0, cp3); !errors.Is(err, ErrAhead) {
		t.Fatalf("witness ahead: %v", err)
	}
	if fake.Size("statustoken.test/client/directory") != 4 {
		t.Fatal("the witness moved")
	}

	// A witness that does not know the log: 404.
	other := witnesstest.New("w2.example")
	ws, _ := ParseWitnesses([]byte(other.Line(other.Start(t))))
	if _, err = c.AddCheckpoint(ctx, ws[0], f.log, 0, cp4); !errors.As(err, &refused) || refused.Last() != http.StatusNotFound {
		t.Fatalf("unknown log: %v", err)
	}
	// A URL that answers with another witness's cosignature: refused.
	impostor, _ := ParseWitnesses([]byte(other.Line(w.URL)))
	if _, err = c.AddCheckpoint(ctx, impostor[0], f.log, 4, cp4); err == nil || !strings.Contains(err.Error(), "no valid cosignature") {
		t.Fatalf("cosignature by another key: %v", err)
	}
	if _, err := c.AddCheckpoint(ctx, w, f.log, 0, []byte("not a checkpoint")); err == nil {
		t.Fatal("garbage checkpoint submitted")
	}
}

func TestTimeoutAndCosignAll(t *testing.T) {
	f := newFixture(t)
	fake1, w1 := f.witness("w1.example")
	_, w2 := f.witness("w2.example")
	fake1.Offline.Store(true)
	stop := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	}))
	defer hang.Close()
	defer close(stop)
	slow := *w2
	slow.Name = "slow"
	slow.URL = hang.URL
	cp := f.grow(f.log)
	c := &Client{Timeout: 300 * time.Millisecond}
	start := time.Now()
	out := c.CosignAll(context.Background(), f.log, cp, []*Witness{w1, w2, &slow}, func(*Witness) int64 { return 0 })
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("CosignAll took %v with a timeout of 300ms", d)
	}
	var refused *RefusedError
	if out[0].Witness != w1 || !errors.As(out[0].Err, &refused) || refused.Last() != http.StatusServiceUnavailable {
		t.Errorf("offline witness: %v", out[0].Err)
	}
	if out[1].Err != nil || out[1].Result.Size != 1 {
		t.Errorf("online witness: %v", out[1].Err)
	}
	if !errors.Is(out[2].Err, context.DeadlineExceeded) {
		t.Errorf("hanging witness: %v", out[2].Err)
	}
}
