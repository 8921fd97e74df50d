package scanner

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/statustoken/statustoken/examples/deploy/internal/directory"
	"github.com/statustoken/statustoken/examples/deploy/internal/redistest"
	"github.com/statustoken/statustoken/examples/deploy/internal/witnesstest"
	"github.com/statustoken/statustoken/issue"
	"github.com/statustoken/statustoken/issue/issuetest"
	"github.com/statustoken/statustoken/token"
)

func TestScanOne(t *testing.T) {
	e := newEnv(t)
	now := time.Now()
	text := e.tokens(1)[0]
	blind := e.blindToken()
	blindB64, _ := blind.Base64()
	cfg := e.config()
	cfg.Single = true
	s := e.scanner(cfg)

	if valid, out := scan(t, s, text); !valid || !strings.HasPrefix(out, "VALID: green (key ") ||
		!strings.Contains(out, "replay check: not-checked") || !strings.Contains(out, " UTC); ") {
		t.Fatalf("text token: %v %q", valid, out)
	}
	// base64url, with the whitespace a pipe adds.
	if valid, out := scan(t, s, " "+blindB64+"\r\n"); !valid || !strings.HasPrefix(out, "VALID: red (key ") {
		t.Fatalf("base64url token: %v %q", valid, out)
	}
	if _, err := s.Scan(t.Context(), " \n", new(bytes.Buffer)); !errors.Is(err, ErrNoToken) {
		t.Fatalf("no token: %v", err)
	}
	cfg.JSON = true
	js := e.scanner(cfg)
	valid, out := scan(t, js, text+"\n")
	j := jsonLines(t, out)
	if !valid || len(j) != 1 {
		t.Fatalf("JSON: %v %q", valid, out)
	}
	if j[0]["valid"] != true || j[0]["status"] != "green" || j[0]["status_code"] != 1.0 || j[0]["suite"] != "ed25519" ||
		j[0]["replay_check"] != ReplayNotChecked || j[0]["line"] != nil {
		t.Fatalf("JSON result: %v", j[0])
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
	expiredMsg := fmt.Sprintf("expired at %s (3 h ago)", raw.ExpiryTime().Format("2006-01-02 15:04")+" UTC")
	for _, c := range []struct {
		name, input string
		at          time.Time
		reason, msg string
	}{
		{"forged", string(forgedText), now, "invalid_signature", "invalid signature"},
		{"garbage", "HT1:NOT A TOKEN", now, "malformed", "malformed: not a statustoken v1 token (not the HT1: text form of one)"},
		{"lower case", strings.ToLower(text), now, "malformed", "malformed"},
		{"expired", text, raw.ExpiryTime().Add(3*time.Hour + 10*time.Minute), "expired", "REFUSED: " + expiredMsg},
		{"foreign issuer", string(foreignText), now, "unknown_key", "unknown key"},
		{"too long", strings.Repeat("A", MaxInput+1), now, "malformed", "malformed: not a statustoken v1 token (input longer than any token)"},
		{"bad base64", "!!!", now, "malformed", "malformed: not a statustoken v1 token (neither the HT1: text form nor the base64url form of a token)"},
	} {
		at := c.at
		cfg := e.config()
		cfg.Single, cfg.Now = true, func() time.Time { return at }
		s := e.scanner(cfg)
		valid, out := scan(t, s, c.input)
		if valid || !strings.HasPrefix(out, "REFUSED: ") || !strings.Contains(out, c.msg) || strings.Contains(out, "replay check") {
			t.Errorf("%s: %v %q", c.name, valid, out)
		}
		noPackageNames(t, c.name, out)
		cfg.JSON = true
		s = e.scanner(cfg)
		_, out = scan(t, s, c.input)
		j := jsonLines(t, out)
		if len(j) != 1 || j[0]["valid"] != false || j[0]["reason"] != c.reason || j[0]["replay_check"] != nil {
			t.Errorf("%s JSON: %q", c.name, out)
		}
		if c.reason == "expired" && (j[0]["expiry"] != raw.ExpiryTime().Format(time.RFC3339) || j[0]["error"] != expiredMsg) {
			t.Errorf("expired JSON: %v, want expiry and %q", j[0], expiredMsg)
		}
		noPackageNames(t, c.name, out)
	}
}

// packageName matches a Go package's name as an error prefix: at the
// start of a message, or where a wrapped error's text starts (after ": ",
// "(", "; " or a quote). The same word inside a sentence is no prefix:
// "checkpoint is not a signed note: no signature block".
var packageName = regexp.MustCompile(`(^|: |\(|; |")(verify|token|redisstore|redis|edsig|rsabssa|base45|transparency|format|keyset|note|tlog|torchwood): `)

// noPackageNames fails when out shows a Go package's name as an error
// prefix.
func noPackageNames(t *testing.T, what, out string) {
	t.Helper()
	if m := packageName.FindString(out); m != "" {
		t.Errorf("%s: %q shows a package name: %q", what, out, m)
	}
}

func TestSetupErrors(t *testing.T) {
	e := newEnv(t)
	policy := func(root ed25519.PublicKey) string {
		name := filepath.Join(t.TempDir(), "trust.txt")
		os.WriteFile(name, issuetest.TrustPolicy(root, e.log.Log.VerifierKey(), e.log.Witnesses, time.Hour), 0o644)
		return name
	}
	other, _, _ := ed25519.GenerateKey(rand.Reader)
	otherTrust := policy(other)
	zeroTrust := policy(make(ed25519.PublicKey, 32))
	identity := make(ed25519.PublicKey, 32)
	identity[0] = 1 // the neutral element, of order 1
	smallTrust := policy(identity)
	badTrust := filepath.Join(t.TempDir(), "bad.txt")
	os.WriteFile(badTrust, []byte("root not-a-key\n"), 0o644)
	badProof := filepath.Join(t.TempDir(), "bad.proof")
	os.WriteFile(badProof, []byte("c2sp.org/tlog-proof@v1\nindex 0\n\nnothing\n"), 0o644)
	for _, c := range []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"no trust policy", func(c *Config) { c.TrustFile = "" }, "-trust is required"},
		{"missing trust policy", func(c *Config) { c.TrustFile = filepath.Join(e.dir, "missing.txt") }, "reading the trust policy"},
		{"bad trust policy", func(c *Config) { c.TrustFile = badTrust }, "malformed trust policy"},
		{"other root", func(c *Config) { c.TrustFile = otherTrust }, "the saved directory is not signed by the pinned root key in " + otherTrust},
		{"all-zero root", func(c *Config) { c.TrustFile = zeroTrust }, "the trust policy " + zeroTrust + " pins a root key that is not a valid Ed25519 public key"},
		{"small-order root", func(c *Config) { c.TrustFile = smallTrust }, "pins a root key that is not a valid Ed25519 public key"},
		{"no directory", func(c *Config) { c.DirectoryFile = filepath.Join(e.dir, "missing.json") }, `fetch one with "scanner update`},
		{"no signature", func(c *Config) { c.SignatureFile = filepath.Join(e.dir, "missing.sig") }, "scanner update"},
		{"no proof", func(c *Config) { c.ProofFile = filepath.Join(e.dir, "missing.proof") }, "scanner update"},
		{"bad proof", func(c *Config) { c.ProofFile = badProof }, "not proven to be in the issuer's log"},
		{"bad redis", func(c *Config) { c.Redis = "nohost" }, `-redis: Redis address "nohost": want host:port`},
	} {
		cfg := e.config()
		c.mod(&cfg)
		_, err := New(cfg)
		var se *SetupError
		if !errors.As(err, &se) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want a SetupError with %q", c.name, err, c.want)
			continue
		}
		noPackageNames(t, c.name, err.Error())
	}
}

func TestBatch(t *testing.T) {
	e := newEnv(t)
	toks := e.tokens(BatchSize + 100)
	var b strings.Builder
	b.WriteString("# gate 3, morning\n\n")
	for _, tk := range toks {
		b.WriteString(tk + "\n")
	}
	b.WriteString(toks[0] + "\n")                         // presented again, in another chunk
	b.WriteString("HT1:GARBAGE\n")                        // malformed
	b.WriteString(strings.Repeat("x", 3*MaxInput) + "\n") // far too long
	b.WriteString(toks[BatchSize+50])                     // presented again, no final newline
	input := b.String()

	var batches []int
	s := e.scanner(e.config())
	s.onBatch = func(n int) { batches = append(batches, n) }
	var out bytes.Buffer
	sum, err := s.Batch(t.Context(), strings.NewReader(input), "batch.txt", &out)
	if err != nil || sum.Valid != len(toks) || sum.Refused != 4 {
		t.Fatalf("batch with refusals: %v %v", sum, err)
	}
	if fmt.Sprint(batches) != fmt.Sprintf("[%d %d]", BatchSize, len(toks)+4-BatchSize) {
		t.Fatalf("batch sizes %v", batches)
	}
	if !strings.HasSuffix(out.String(), fmt.Sprintf("\n%d valid, 4 refused\n", len(toks))) {
		t.Fatalf("summary: %q", out.String()[max(0, out.Len()-200):])
	}
	if !strings.Contains(unwrap(t, out.String()), fmt.Sprintf("line %d: REFUSED: already used: this scanner saw this token before (replay check: this-scanner)\n", len(toks)+3)) {
		t.Fatalf("repeat in another chunk: %q", out.String()[max(0, out.Len()-800):])
	}

	cfg := e.config()
	cfg.JSON = true
	s = e.scanner(cfg)
	out.Reset()
	if _, err := s.Batch(t.Context(), strings.NewReader(input), "batch.txt", &out); err != nil {
		t.Fatal(err)
	}
	lines := jsonLines(t, out.String())
	if len(lines) != len(toks)+4 {
		t.Fatalf("%d JSON lines, want %d", len(lines), len(toks)+4)
	}
	want := []struct {
		line   float64
		reason string
		replay any
	}{
		{float64(len(toks) + 3), "replayed", ReplayThisScanner},
		{float64(len(toks) + 4), "malformed", nil},
		{float64(len(toks) + 5), "malformed", nil},
		{float64(len(toks) + 6), "replayed", ReplayThisScanner},
	}
	for i, w := range want {
		j := lines[len(lines)-4+i]
		if j["line"] != w.line || j["reason"] != w.reason || j["valid"] != false || j["replay_check"] != w.replay {
			t.Errorf("result %d: %v, want line %v %s", i, j, w.line, w.reason)
		}
	}
	if first := lines[0]; first["line"] != 3.0 || first["valid"] != true || first["replay_check"] != ReplayThisScanner {
		t.Fatalf("first result: %v", first)
	}

	s = e.scanner(e.config())
	if sum, out := batch(t, s, toks[:5]...); sum.Valid != 5 || sum.Refused != 0 || !strings.HasSuffix(out, "5 valid, 0 refused\n") {
		t.Fatalf("all valid: %v %q", sum, out)
	}
	if sum, out := batch(t, s, "# nothing", ""); sum.Valid+sum.Refused != 0 || out != "" {
		t.Fatalf("empty batch: %v %q", sum, out)
	}

	// base64url lines are verified with the text forms, and one token in
	// both forms is one token: the second is a replay.
	blind := e.blindToken()
	blindB64, _ := blind.Base64()
	blindText, _ := blind.MarshalText()
	s = e.scanner(cfg)
	_, jout := batch(t, s, blindB64, toks[1], string(blindText))
	mixed := jsonLines(t, jout)
	if len(mixed) != 3 || mixed[0]["valid"] != true || mixed[0]["suite"] != "rsabssa" || mixed[0]["status"] != "red" ||
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
	gate := func(json, single, failOpen bool) *Scanner {
		cfg := e.config()
		cfg.Redis, cfg.JSON, cfg.Single, cfg.FailOpen = srv.Addr, json, single, failOpen
		return e.scanner(cfg)
	}
	if valid, out := scan(t, gate(false, true, false), toks[0]); !valid || !strings.HasSuffix(out, "; replay check: spent-store\n") {
		t.Fatalf("gate A: %v %q", valid, out)
	}
	if valid, out := scan(t, gate(false, true, false), toks[0]); valid ||
		out != "REFUSED: already used: the shared spent-token store has it (replay check: spent-store)\n" {
		t.Fatalf("gate B, same token: %v %q", valid, out)
	}
	_, out := batch(t, gate(true, false, false), toks[1], toks[2], toks[0])
	if strings.Count(out, `"replay_check":"spent-store"`) != 3 || strings.Count(out, `"valid":true`) != 2 || !strings.Contains(out, `"reason":"replayed"`) {
		t.Fatalf("batch against the shared store: %s", out)
	}

	srv.Stop()
	valid, out := scan(t, gate(false, true, false), toks[3])
	if valid || !strings.HasPrefix(out, "REFUSED: fail closed: the spent-token store is unavailable (Redis at "+srv.Addr+": connection refused); -fail-open would accept the token") {
		t.Fatalf("fail closed: %v %q", valid, out)
	}
	valid, out = scan(t, gate(false, true, true), toks[3])
	if !valid || !strings.HasSuffix(out, "; replay check: not-checked (store unavailable; accepted by -fail-open)\n") {
		t.Fatalf("fail open, one token: %v %q", valid, out)
	}
	_, out = scan(t, gate(true, true, true), toks[4])
	if !strings.Contains(out, `"valid":true`) || !strings.Contains(out, `"replay_check":"not-checked"`) {
		t.Fatalf("fail open, JSON: %q", out)
	}
	_, out = batch(t, gate(false, false, true), toks[3], toks[4])
	if strings.Count(out, "replay check: this-scanner (store unavailable; accepted by -fail-open)") != 2 {
		t.Fatalf("fail open, batch: %q", out)
	}
	_, out = batch(t, gate(true, false, false), toks[3], toks[4])
	if strings.Count(out, `"reason":"store_unavailable"`) != 2 || strings.Count(out, `"replay_check":"spent-store"`) != 2 {
		t.Fatalf("fail closed, batch: %q", out)
	}
	// With the store down and -fail-open, a token listed twice in one
	// batch is still accepted only once.
	_, out = batch(t, gate(false, false, true), toks[3], toks[3])
	if strings.Count(out, "VALID: ") != 1 || !strings.Contains(out, "line 2: REFUSED: already used: this scanner saw this token before") {
		t.Fatalf("fail open, repeated token in a batch: %q", out)
	}
	// A token that is invalid anyway is refused for its own reason,
	// without asking the store.
	if _, out := scan(t, gate(false, true, true), "HT1:BAD"); !strings.Contains(out, "malformed") {
		t.Fatalf("malformed with the store down: %q", out)
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
	ucfg := func(trust string) UpdateConfig {
		return UpdateConfig{TrustFile: trust, Issuer: srv.URL,
			DirectoryFile: filepath.Join(dir, "d.json"), SignatureFile: filepath.Join(dir, "d.sig"),
			ProofFile: filepath.Join(dir, "d.proof"), AcceptedFile: filepath.Join(dir, "d.accepted")}
	}
	update := func(trust string) (string, error) {
		c := ucfg(trust)
		u, err := Update(t.Context(), c)
		if err != nil {
			return "", err
		}
		return u.String(&c), nil
	}
	if out, err := update(e.trust); err != nil || !strings.Contains(out, "directory serial 3 with ") || !strings.Contains(out, " keys saved to") || !strings.Contains(out, "log size 3") {
		t.Fatalf("update: %q %v", out, err)
	}
	// The saved files verify tokens offline.
	cfg := e.config()
	cfg.DirectoryFile, cfg.SignatureFile, cfg.ProofFile, cfg.AcceptedFile = filepath.Join(dir, "d.json"), filepath.Join(dir, "d.sig"), filepath.Join(dir, "d.proof"), filepath.Join(dir, "d.accepted")
	if valid, out := scan(t, e.scanner(cfg), e.tokens(1)[0]); !valid {
		t.Fatalf("verify with updated files: %s", out)
	}
	refused := func(what string, err error, want string) {
		t.Helper()
		var se *SetupError
		if err == nil || errors.As(err, &se) || !strings.Contains(err.Error(), want) {
			t.Fatalf("%s: %v, want a refusal with %q", what, err, want)
		}
		noPackageNames(t, what, err.Error())
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
	_, err := update(e.trust)
	refused("rollback", err, "the issuer sent serial 2, older than serial 3 accepted before")
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
	_, err = update(e.trust)
	refused("forked log", err, "does not extend the one accepted before: possible split view")
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
	_, err = update(e.trust)
	refused("one witness", err, "cosigned by 1 of the pinned witnesses, the trust policy needs 2")
	other, _, _ := ed25519.GenerateKey(rand.Reader)
	otherTrust := filepath.Join(t.TempDir(), "other.txt")
	os.WriteFile(otherTrust, issuetest.TrustPolicy(other, e.log.Log.VerifierKey(), e.log.Witnesses, time.Hour), 0o644)
	served = func() token.Published {
		p, err := e.log.Prove(3, data4, sig4, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	_, err = update(otherTrust)
	refused("other root", err, "the issuer's directory is not signed by the pinned root key in "+otherTrust)
	if out, err := update(e.trust); err != nil || !strings.Contains(out, "serial 4") {
		t.Fatalf("newer: %q %v", out, err)
	}
	// A saved proof goes stale: verification refuses to start, and says
	// how to fix it.
	cfg.Now = func() time.Time { return time.Now().Add(49 * time.Hour) }
	_, err = New(cfg)
	if err == nil || !strings.Contains(err.Error(), "older than max-age 48h0m0s") || !strings.Contains(err.Error(), `run "scanner update"`) {
		t.Fatalf("stale saved proof: %v", err)
	}
	// Errors about the configuration are setup errors.
	var se *SetupError
	if _, err := Update(t.Context(), UpdateConfig{TrustFile: e.trust, Issuer: "ftp://x"}); !errors.As(err, &se) {
		t.Fatalf("bad issuer URL: %v", err)
	}
	if _, err := Update(t.Context(), UpdateConfig{TrustFile: filepath.Join(dir, "none.txt"), Issuer: srv.URL}); !errors.As(err, &se) {
		t.Fatalf("no trust policy: %v", err)
	}
}

func TestWords(t *testing.T) {
	for n, want := range map[int]string{0: "0 tokens", 1: "1 token", 2: "2 tokens"} {
		if got := plural(n, "token"); got != want {
			t.Errorf("plural(%d) = %q", n, got)
		}
	}
	for d, want := range map[time.Duration]string{
		-time.Second: "0 s", 40 * time.Second: "40 s", 12*time.Minute + 5*time.Second: "12 min",
		3*time.Hour + 59*time.Minute: "3 h", 47 * time.Hour: "47 h", 72 * time.Hour: "3 days",
	} {
		if got := since(d); got != want {
			t.Errorf("since(%v) = %q, want %q", d, got, want)
		}
	}
}
