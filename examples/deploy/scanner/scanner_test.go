package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/statustoken/statustoken/examples/deploy/internal/directory"
	"github.com/statustoken/statustoken/examples/deploy/internal/redistest"
	"github.com/statustoken/statustoken/examples/deploy/internal/witnesstest"
	"github.com/statustoken/statustoken/holder"
	"github.com/statustoken/statustoken/issue"
	"github.com/statustoken/statustoken/token"
)

var statuses = []token.StatusName{{Code: 1, Name: "green"}, {Code: 2, Name: "red"}}

func newIssuer(t *testing.T, suites ...token.Suite) *issue.Issuer {
	t.Helper()
	_, root, _ := ed25519.GenerateKey(rand.Reader)
	seed := make([]byte, issue.SeedSize)
	rand.Read(seed)
	is, err := issue.NewIssuer(issue.Config{
		RootKey: root, Seed: seed, EpochLength: 24 * time.Hour, Statuses: statuses,
		Suites: suites, Epochs: 1, RSAKeys: issue.NewMemoryKeyStore(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return is
}

// env is a scanner's working directory with a directory from one issuer,
// logged with a proof that witnesses w1 and w2 cosigned, and the trust
// policy.
type env struct {
	t     *testing.T
	is    *issue.Issuer
	dir   string
	log   *witnesstest.Env
	trust string // the trust policy file
	pub   token.Published
}

var sharedIssuer struct {
	once sync.Once
	is   *issue.Issuer
}

func newEnv(t *testing.T) *env {
	t.Helper()
	sharedIssuer.once.Do(func() { sharedIssuer.is = newIssuer(t, token.Ed25519, token.RSABSSA) })
	e := &env{t: t, is: sharedIssuer.is, dir: t.TempDir(), log: witnesstest.NewEnv(sharedIssuer.is.RootPublicKey())}
	e.trust = filepath.Join(e.dir, "trust.txt")
	os.WriteFile(e.trust, e.log.Policy(48*time.Hour), 0o644)
	data, sig, err := e.is.Directory(time.Now(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if e.pub, err = e.log.Publish(data, sig, time.Now()); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(e.dir, "directory.json"), data, 0o644)
	os.WriteFile(filepath.Join(e.dir, "directory.sig"), sig, 0o644)
	os.WriteFile(filepath.Join(e.dir, "directory.proof"), e.pub.Proof, 0o644)
	return e
}

// trustPolicy returns the env's trust policy.
func (e *env) trustPolicy() *token.Trust {
	e.t.Helper()
	tr, err := token.ParseTrust(e.log.Policy(48 * time.Hour))
	if err != nil {
		e.t.Fatal(err)
	}
	return tr
}

// tokens issues n Ed25519 tokens of status 1, in text form.
func (e *env) tokens(n int) []string {
	e.t.Helper()
	var out []string
	for len(out) < n {
		toks, err := e.is.IssueEd25519(1, time.Now(), min(issue.MaxTokens, n-len(out)))
		if err != nil {
			e.t.Fatal(err)
		}
		for _, tk := range toks {
			text, _ := tk.MarshalText()
			out = append(out, string(text))
		}
	}
	return out
}

// blindToken issues one rsabssa token of status 2 the way a wallet does.
func (e *env) blindToken() *token.Token {
	e.t.Helper()
	h, err := holder.New(e.pub, e.trustPolicy(), nil)
	if err != nil {
		e.t.Fatal(err)
	}
	p, req, err := h.Request(2, time.Now(), 1)
	if err != nil {
		e.t.Fatal(err)
	}
	resp, err := e.is.Respond(req, time.Now(), 2)
	if err != nil {
		e.t.Fatal(err)
	}
	toks, err := h.Finalize(p, resp)
	if err != nil {
		e.t.Fatal(err)
	}
	return toks[0]
}

type result struct {
	code           int
	stdout, stderr string
}

func (e *env) run(stdin string, now time.Time, args ...string) result {
	e.t.Helper()
	var out, errOut bytes.Buffer
	a := &app{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errOut, now: func() time.Time { return now }}
	full := append([]string{"-trust", e.trust,
		"-directory", filepath.Join(e.dir, "directory.json"),
		"-signature", filepath.Join(e.dir, "directory.sig"),
		"-proof", filepath.Join(e.dir, "directory.proof")}, args...)
	code := a.run(context.Background(), full)
	return result{code, out.String(), errOut.String()}
}

func TestVerifyOne(t *testing.T) {
	e := newEnv(t)
	now := time.Now()
	text := e.tokens(1)[0]
	blind := e.blindToken()
	blindB64, _ := blind.Base64()

	if r := e.run("", now, text); r.code != 0 || !strings.HasPrefix(r.stdout, "VALID    green (ed25519") ||
		!strings.Contains(r.stdout, "replay check: not done (no -redis store)") {
		t.Fatalf("text token as argument: %d %q %q", r.code, r.stdout, r.stderr)
	}
	// base64url on stdin, with the whitespace a pipe adds.
	if r := e.run(" "+blindB64+"\r\n", now); r.code != 0 || !strings.HasPrefix(r.stdout, "VALID    red (rsabssa") {
		t.Fatalf("base64url token on stdin: %d %q %q", r.code, r.stdout, r.stderr)
	}
	r := e.run(text+"\n", now, "-json", "-")
	var j map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &j); err != nil || r.code != 0 {
		t.Fatalf("JSON: %d %q %v", r.code, r.stdout, err)
	}
	if j["valid"] != true || j["status"] != "green" || j["status_code"] != 1.0 || j["suite"] != "ed25519" || j["replay_check"] != "off" {
		t.Fatalf("JSON result: %v", j)
	}

	// Refusals, each with its reason.
	raw, _ := token.ParseText(text)
	forged := *raw
	forged.Signature = bytes.Clone(raw.Signature)
	forged.Signature[40] ^= 1
	forgedText, _ := forged.MarshalText()
	foreign := newIssuer(t, token.Ed25519)
	ftoks, _ := foreign.IssueEd25519(1, now, 1)
	foreignText, _ := ftoks[0].MarshalText()
	for _, c := range []struct {
		name, input string
		at          time.Time
		reason, msg string
	}{
		{"forged", string(forgedText), now, "invalid_signature", "invalid signature"},
		{"garbage", "HT1:NOT A TOKEN", now, "malformed", "malformed"},
		{"lower case", strings.ToLower(text), now, "malformed", "malformed"},
		{"expired", text, raw.ExpiryTime().Add(time.Hour), "expired", "expired"},
		{"foreign issuer", string(foreignText), now, "unknown_key", "unknown key"},
		{"too long", strings.Repeat("A", maxInput+1), now, "malformed", "longer than any token"},
	} {
		r := e.run(c.input, c.at)
		if r.code != 1 || !strings.HasPrefix(r.stdout, "REFUSED") || !strings.Contains(r.stdout, c.msg) {
			t.Errorf("%s: %d %q", c.name, r.code, r.stdout)
		}
		r = e.run(c.input, c.at, "-json")
		if err := json.Unmarshal([]byte(r.stdout), &j); err != nil || j["valid"] != false || j["reason"] != c.reason {
			t.Errorf("%s JSON: %q", c.name, r.stdout)
		}
	}
}

func TestSetupErrors(t *testing.T) {
	e := newEnv(t)
	other, _, _ := ed25519.GenerateKey(rand.Reader)
	otherTrust := filepath.Join(t.TempDir(), "other.txt")
	os.WriteFile(otherTrust, witnesstest.Policy(other, e.log.Log.VerifierKey(), e.log.Witnesses, 2, time.Hour), 0o644)
	badTrust := filepath.Join(t.TempDir(), "bad.txt")
	os.WriteFile(badTrust, []byte("root not-a-key\n"), 0o644)
	badProof := filepath.Join(t.TempDir(), "bad.proof")
	os.WriteFile(badProof, []byte("c2sp.org/tlog-proof@v1\nindex 0\n\nnothing\n"), 0o644)
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"no trust policy", []string{"-trust", ""}, "-trust is required"},
		{"bad trust policy", []string{"-trust", badTrust}, "malformed trust policy"},
		{"other root", []string{"-trust", otherTrust}, "not signed by the pinned root key"},
		{"no directory", []string{"-directory", filepath.Join(e.dir, "missing.json")}, "scanner update"},
		{"no proof", []string{"-proof", filepath.Join(e.dir, "missing.proof")}, "scanner update"},
		{"bad proof", []string{"-proof", badProof}, "not proven to be in the issuer's log"},
		{"two tokens", []string{"a", "b"}, "one token at a time"},
		{"batch and token", []string{"-batch", "x", "a"}, "not both"},
		{"bad redis", []string{"-redis", "nohost"}, "want host:port"},
		{"no token", nil, "no token"},
	} {
		r := e.run("", time.Now(), c.args...)
		if r.code != 2 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%s: %d %q, want exit 2 with %q", c.name, r.code, r.stderr, c.want)
		}
	}
	var out, errOut bytes.Buffer
	a := &app{stdout: &out, stderr: &errOut, now: time.Now}
	if code := a.run(context.Background(), []string{"-h"}); code != 0 || !strings.Contains(errOut.String(), "-fail-open") {
		t.Fatalf("-h: %d", code)
	}
}

func TestBatch(t *testing.T) {
	e := newEnv(t)
	toks := e.tokens(batchChunk + 100)
	var b strings.Builder
	b.WriteString("# gate 3, morning\n\n")
	for _, tk := range toks {
		b.WriteString(tk + "\n")
	}
	b.WriteString(toks[0] + "\n")                         // presented again, in another chunk
	b.WriteString("HT1:GARBAGE\n")                        // malformed
	b.WriteString(strings.Repeat("x", 3*maxInput) + "\n") // far too long
	b.WriteString(toks[batchChunk+50])                    // presented again, no final newline
	name := filepath.Join(e.dir, "batch.txt")
	os.WriteFile(name, []byte(b.String()), 0o600)

	r := e.run("", time.Now(), "-batch", name)
	if r.code != 1 {
		t.Fatalf("batch with refusals: exit %d %s", r.code, r.stderr)
	}
	if !strings.HasSuffix(r.stdout, fmt.Sprintf("%d valid, 4 refused\n", len(toks))) {
		t.Fatalf("summary: %q", r.stdout[max(0, len(r.stdout)-100):])
	}
	r = e.run("", time.Now(), "-batch", name, "-json")
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if len(lines) != len(toks)+4 {
		t.Fatalf("%d JSON lines, want %d", len(lines), len(toks)+4)
	}
	var last []map[string]any
	for _, l := range lines[len(lines)-4:] {
		var j map[string]any
		if err := json.Unmarshal([]byte(l), &j); err != nil {
			t.Fatal(err)
		}
		last = append(last, j)
	}
	want := []struct {
		line   float64
		reason string
	}{{float64(len(toks) + 3), "replayed"}, {float64(len(toks) + 4), "malformed"}, {float64(len(toks) + 5), "malformed"}, {float64(len(toks) + 6), "replayed"}}
	for i, w := range want {
		if last[i]["line"] != w.line || last[i]["reason"] != w.reason || last[i]["valid"] != false {
			t.Errorf("result %d: %v, want line %v %s", i, last[i], w.line, w.reason)
		}
	}
	var first map[string]any
	json.Unmarshal([]byte(lines[0]), &first)
	if first["line"] != 3.0 || first["valid"] != true || first["replay_check"] != "passed" {
		t.Fatalf("first result: %v", first)
	}

	// From stdin, all valid.
	r = e.run(strings.Join(toks[:5], "\n"), time.Now(), "-batch", "-")
	if r.code != 0 || !strings.HasSuffix(r.stdout, "5 valid, 0 refused\n") {
		t.Fatalf("stdin batch: %d %q", r.code, r.stdout)
	}
	if r := e.run("# nothing\n", time.Now(), "-batch", "-"); r.code != 1 || !strings.Contains(r.stderr, "no tokens") {
		t.Fatalf("empty batch: %d %q", r.code, r.stderr)
	}

	// base64url lines are verified with the text forms, and one token in
	// both forms is one token: the second is a replay.
	blind := e.blindToken()
	blindB64, _ := blind.Base64()
	blindText, _ := blind.MarshalText()
	r = e.run(blindB64+"\n"+toks[1]+"\n"+string(blindText)+"\n", time.Now(), "-batch", "-", "-json")
	lines = strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if r.code != 1 || len(lines) != 3 {
		t.Fatalf("mixed batch: %d %q", r.code, r.stdout)
	}
	var mixed []map[string]any
	for _, l := range lines {
		var j map[string]any
		if err := json.Unmarshal([]byte(l), &j); err != nil {
			t.Fatal(err)
		}
		mixed = append(mixed, j)
	}
	if mixed[0]["valid"] != true || mixed[0]["suite"] != "rsabssa" || mixed[0]["status"] != "red" ||
		mixed[1]["valid"] != true || mixed[1]["suite"] != "ed25519" ||
		mixed[2]["valid"] != false || mixed[2]["reason"] != "replayed" {
		t.Fatalf("mixed batch: %v", mixed)
	}
}

// TestSharedRedis runs two scanners against one Redis, as two gates of a
// venue, then stops Redis.
func TestSharedRedis(t *testing.T) {
	srv := redistest.Start(t)
	e := newEnv(t)
	toks := e.tokens(5)
	now := time.Now()
	gate := func(input string, args ...string) result {
		return e.run(input, now, append([]string{"-redis", srv.Addr}, args...)...)
	}
	if r := gate(toks[0]); r.code != 0 || !strings.Contains(r.stdout, "replay check: passed (shared store)") {
		t.Fatalf("gate A: %d %q %q", r.code, r.stdout, r.stderr)
	}
	if r := gate(toks[0]); r.code != 1 || !strings.Contains(r.stdout, "REFUSED  already used") {
		t.Fatalf("gate B, same token: %d %q", r.code, r.stdout)
	}
	batch := strings.Join([]string{toks[1], toks[2], toks[0]}, "\n")
	r := gate(batch, "-batch", "-", "-json")
	if r.code != 1 || strings.Count(r.stdout, `"replay_check":"passed"`) != 2 || !strings.Contains(r.stdout, `"reason":"replayed"`) {
		t.Fatalf("batch against the shared store: %d %s", r.code, r.stdout)
	}

	srv.Stop()
	r = gate(toks[3])
	if r.code != 1 || !strings.Contains(r.stdout, "spent-token store unavailable, so the token is refused (fail closed") {
		t.Fatalf("fail closed: %d %q", r.code, r.stdout)
	}
	r = gate(toks[3], "-fail-open")
	if r.code != 0 || !strings.Contains(r.stdout, "VALID") || !strings.Contains(r.stdout, "replay check: SKIPPED") {
		t.Fatalf("fail open: %d %q", r.code, r.stdout)
	}
	r = gate(toks[4], "-fail-open", "-json")
	if r.code != 0 || !strings.Contains(r.stdout, `"replay_check":"skipped"`) {
		t.Fatalf("fail open, JSON: %q", r.stdout)
	}
	r = gate(toks[3]+"\n"+toks[4]+"\n", "-fail-open", "-batch", "-")
	if r.code != 0 || strings.Count(r.stdout, "replay check: SKIPPED") != 2 {
		t.Fatalf("fail open, batch: %q", r.stdout)
	}
	r = gate(toks[3]+"\n"+toks[4]+"\n", "-batch", "-", "-json")
	if r.code != 1 || strings.Count(r.stdout, `"reason":"store_unavailable"`) != 2 {
		t.Fatalf("fail closed, batch: %q", r.stdout)
	}
	// With the store down and -fail-open, a token listed twice in one
	// batch is still accepted only once.
	r = gate(toks[3]+"\n"+toks[3]+"\n", "-fail-open", "-batch", "-")
	if r.code != 1 || strings.Count(r.stdout, "replay check: SKIPPED") != 1 || !strings.Contains(r.stdout, "line 2: REFUSED  already used") {
		t.Fatalf("fail open, repeated token in a batch: %q", r.stdout)
	}
	// A token that is invalid anyway is refused for its own reason,
	// without asking the store.
	r = gate("HT1:BAD", "-fail-open")
	if r.code != 1 || !strings.Contains(r.stdout, "malformed") {
		t.Fatalf("malformed with the store down: %q", r.stdout)
	}
}

// silentRedis returns the address of a listener that accepts connections
// and never answers, as a hung Redis.
func silentRedis(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	return l.Addr().String()
}

// TestBatchStoreDeadline checks that -redis-timeout bounds a whole
// batch's time on a hung store, not each token's, and that each token
// then says that its replay check could not be done.
func TestBatchStoreDeadline(t *testing.T) {
	e := newEnv(t)
	addr := silentRedis(t)
	const n, timeout = 10, 300 * time.Millisecond
	batch := strings.Join(e.tokens(n), "\n")
	for _, failOpen := range []bool{false, true} {
		args := []string{"-redis", addr, "-redis-timeout", timeout.String(), "-batch", "-", "-json"}
		if failOpen {
			args = append(args, "-fail-open")
		}
		start := time.Now()
		r := e.run(batch, time.Now(), args...)
		elapsed := time.Since(start)
		// One timeout per token would take n×300ms = 3s.
		if elapsed > n*timeout/2 {
			t.Errorf("fail-open %v: batch of %d took %v against a hung store, timeout %v", failOpen, n, elapsed, timeout)
		}
		want, code := `"reason":"store_unavailable"`, 1
		if failOpen {
			want, code = `"replay_check":"skipped"`, 0
		}
		if r.code != code || strings.Count(r.stdout, want) != n {
			t.Errorf("fail-open %v: exit %d, %d of %d with %s:\n%s", failOpen, r.code, strings.Count(r.stdout, want), n, want, r.stdout)
		}
	}
}

func TestUpdate(t *testing.T) {
	e := newEnv(t)
	// The log holds serials 1 (newEnv's), 2 and 3; 4 comes later.
	logged := map[uint64]token.Published{1: e.pub}
	for serial := uint64(2); serial <= 3; serial++ {
		data, sig, _ := e.is.Directory(time.Now(), serial)
		p, err := e.log.Publish(data, sig, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		logged[serial] = p
	}
	serial := uint64(3)
	var served func() token.Published
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+directory.Path, func(w http.ResponseWriter, r *http.Request) {
		p := logged[serial]
		if served != nil {
			p = served()
		}
		w.Header().Set("ETag", `"x"`)
		w.Header().Set(directory.SignatureHeader, base64.StdEncoding.EncodeToString(p.Signature))
		w.Write(p.Directory)
	})
	mux.HandleFunc("GET "+directory.ProofPath, func(w http.ResponseWriter, r *http.Request) {
		p := logged[serial]
		if served != nil {
			p = served()
		}
		w.Header().Set("ETag", `"x"`)
		w.Write(p.Proof)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	dir := t.TempDir()
	update := func(trust string) result {
		var out, errOut bytes.Buffer
		a := &app{stdout: &out, stderr: &errOut, now: time.Now}
		code := a.run(context.Background(), []string{"update", "-trust", trust, "-issuer", srv.URL,
			"-directory", filepath.Join(dir, "d.json"), "-signature", filepath.Join(dir, "d.sig"),
			"-proof", filepath.Join(dir, "d.proof"), "-checkpoint", filepath.Join(dir, "d.checkpoint")})
		return result{code, out.String(), errOut.String()}
	}
	if r := update(e.trust); r.code != 0 || !strings.Contains(r.stdout, "directory serial 3") || !strings.Contains(r.stdout, "log size 3") {
		t.Fatalf("update: %d %q %q", r.code, r.stdout, r.stderr)
	}
	// The saved files verify tokens offline.
	var out bytes.Buffer
	a := &app{stdin: strings.NewReader(e.tokens(1)[0]), stdout: &out, stderr: &out, now: time.Now}
	if code := a.run(context.Background(), []string{"-trust", e.trust, "-directory", filepath.Join(dir, "d.json"),
		"-signature", filepath.Join(dir, "d.sig"), "-proof", filepath.Join(dir, "d.proof")}); code != 0 {
		t.Fatalf("verify with updated files: %s", out.String())
	}
	// Serial 2, though in the log and freshly proven, is a rollback.
	serial = 2
	served = func() token.Published {
		p, err := e.log.Prove(1, logged[2].Directory, logged[2].Signature, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	if r := update(e.trust); r.code != 1 || !strings.Contains(r.stderr, "the issuer sent serial 2, older than serial 3 accepted before") {
		t.Fatalf("rollback: %d %q", r.code, r.stderr)
	}
	// Serial 4 from a forked log (the log key, w1 and w2 compromised):
	// its log does not extend the saved checkpoint.
	data4, sig4, _ := e.is.Directory(time.Now(), 4)
	served = func() token.Published {
		fork, err := issue.NewLog(e.log.LogKey, nil)
		if err != nil {
			t.Fatal(err)
		}
		forked := &witnesstest.Env{LogKey: e.log.LogKey, Log: fork, Witnesses: e.log.Witnesses, Root: e.log.Root}
		p, err := forked.Publish(data4, sig4, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	if r := update(e.trust); r.code != 1 || !strings.Contains(r.stderr, "does not extend the one accepted before: possible split view") {
		t.Fatalf("forked log: %d %q", r.code, r.stderr)
	}
	// Serial 4 cosigned by one witness.
	served = func() token.Published {
		p, err := e.log.Publish(data4, sig4, time.Now(), 2)
		if err != nil {
			t.Fatal(err)
		}
		logged[4] = p
		served = nil
		return p
	}
	serial = 4
	if r := update(e.trust); r.code != 1 || !strings.Contains(r.stderr, "cosigned by 1 of the pinned witnesses, the trust policy needs 2") {
		t.Fatalf("one witness: %d %q", r.code, r.stderr)
	}
	other, _, _ := ed25519.GenerateKey(rand.Reader)
	otherTrust := filepath.Join(t.TempDir(), "other.txt")
	os.WriteFile(otherTrust, witnesstest.Policy(other, e.log.Log.VerifierKey(), e.log.Witnesses, 2, time.Hour), 0o644)
	served = func() token.Published {
		p, err := e.log.Prove(3, data4, sig4, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	if r := update(otherTrust); r.code != 1 || !strings.Contains(r.stderr, "refused") {
		t.Fatalf("other root: %d %q", r.code, r.stderr)
	}
	if r := update(e.trust); r.code != 0 || !strings.Contains(r.stdout, "serial 4") {
		t.Fatalf("newer: %d %q %q", r.code, r.stdout, r.stderr)
	}
	// A saved proof goes stale: verification refuses to start, and says
	// how to fix it.
	a = &app{stdin: strings.NewReader(e.tokens(1)[0]), stdout: &out, stderr: &out, now: func() time.Time { return time.Now().Add(49 * time.Hour) }}
	out.Reset()
	if code := a.run(context.Background(), []string{"-trust", e.trust, "-directory", filepath.Join(dir, "d.json"),
		"-signature", filepath.Join(dir, "d.sig"), "-proof", filepath.Join(dir, "d.proof")}); code != 2 ||
		!strings.Contains(out.String(), "older than max-age 48h0m0s") || !strings.Contains(out.String(), `run "scanner update"`) {
		t.Fatalf("stale saved proof: %d %s", code, out.String())
	}
}
