package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/statustoken/statustoken/examples/deploy/internal/litewitnesstest"
	"github.com/statustoken/statustoken/examples/deploy/internal/redistest"
	"github.com/statustoken/statustoken/examples/deploy/internal/witnessclient"
	"github.com/statustoken/statustoken/issue"
	"github.com/statustoken/statustoken/token"
)

const origin = "statustoken.test/e2e/directory"

// TestEndToEnd runs a deployment on loopback: three litewitness
// witnesses, the issuer publishing through its log, wallets and scanners
// pinning the issuer's trust.txt, two gates sharing a Redis. Then the
// authority, which holds the root key and the log key, tries to show one
// wallet a split view, and the subtests check each refusal. The subtests
// run in order and build on each other; the first to fail stops the test.
func TestEndToEnd(t *testing.T) {
	litewitnesstest.Require(t)
	redis := redistest.Start(t)
	r := &runner{t: t, bin: t.TempDir(), wd: t.TempDir()}
	build(t, r.bin)
	state := filepath.Join(r.wd, "issuer-state")

	// The operator: two holders, the log keys, three witnesses that know
	// both logs (the directories' and the decisions'), and the witnesses
	// file.
	greenKey := strings.TrimSpace(r.must(nil, "", "issuer", "add-holder", "green").stdout)
	redKey := strings.TrimSpace(r.must(nil, "", "issuer", "add-holder", "red").stdout)
	vkeys := strings.Fields(r.must(nil, "", "issuer", "log-key", "-log-origin", origin).stdout)
	if len(vkeys) != 2 || !strings.HasPrefix(vkeys[0], origin+"+") || !strings.HasPrefix(vkeys[1], origin+"/decisions+") {
		t.Fatalf("issuer log-key printed %q, want the directory log's key and the decision log's", vkeys)
	}
	logged := []litewitnesstest.Log{{Origin: origin, VerifierKey: vkeys[0]}, {Origin: origin + "/decisions", VerifierKey: vkeys[1]}}
	witnessDir := t.TempDir()
	var keys []*litewitnesstest.Key
	var witnesses []*litewitnesstest.Witness
	var lines []string
	for i := range 3 {
		dir := filepath.Join(witnessDir, fmt.Sprintf("w%d", i+1))
		os.Mkdir(dir, 0o700)
		k := litewitnesstest.NewKey(t, dir, fmt.Sprintf("w%d.example", i+1))
		w := litewitnesstest.Start(t, r.bin, dir, k, logged...)
		keys, witnesses, lines = append(keys, k), append(witnesses, w), append(lines, w.Line())
	}
	os.WriteFile(filepath.Join(r.wd, "witnesses.txt"), []byte(strings.Join(lines, "\n")+"\n"), 0o644)
	issuerArgs := []string{"-addr", "127.0.0.1:0", "-rate-limit", "5", "-witnesses", "witnesses.txt", "-quorum", "2",
		"-log-origin", origin, "-tokens-per-request", "8", "-cosign-every", "10s", "-cosign-retry", "2s", "-witness-timeout", "5s"}
	issuer := r.startIssuer(issuerArgs...)
	// restart stops the issuer and starts it again with -republish, which
	// publishes a new directory; earlier runs' logs are kept in logs.
	var logs []string
	restart := func() {
		issuer.stop()
		logs = append(logs, issuer.log.String())
		// -republish: a restart within an epoch keeps the current
		// directory unless told otherwise.
		issuer = r.startIssuer(append(issuerArgs, "-republish")...)
	}
	var secrets []string // API keys and tokens, which no log may hold
	trust := filepath.Join("issuer-state", "trust.txt")
	green := []string{"STATUSTOKEN_API_KEY=" + greenKey}
	target := []string{"-state", "target-wallet", "-trust", trust}
	targetScanner := []string{"-trust", trust, "-directory", "target.json", "-signature", "target.sig", "-proof", "target.proof", "-accepted", "target.accepted"}
	var serial1 token.Published // the issuer's serial 1, as published

	// request has the green wallet with args request the directory's 8
	// tokens, for the current epoch only: late in an epoch "auto" asks
	// for the next one too, a request more against the rate limit.
	request := func(t *testing.T, args ...string) {
		t.Helper()
		res := r.must(green, "", "wallet", append([]string{"request", "-epoch", "current", "-n", "8"}, args...)...)
		if !strings.Contains(res.stderr, "wallet: 8 green tokens stored") || strings.Contains(res.stderr, "takes exactly") {
			t.Fatalf("wallet request %s: %q", strings.Join(args, " "), res.stderr)
		}
	}
	step := func(name string, f func(t *testing.T)) {
		if !t.Run(name, f) {
			t.FailNow()
		}
	}

	step("tokens and gates", func(t *testing.T) {
		serial1 = fetch(t, issuer.url)
		// The wallet gets tokens.
		request(t, "-issuer", issuer.url, "-trust", trust)
		// The wallet that the authority will target accepts serial 1. It
		// asks for 1 token: the directory says 8, and it asks for 8, lest
		// its request stand out.
		res := r.must(green, "", "wallet", append([]string{"request", "-epoch", "current", "-issuer", issuer.url, "-n", "1"}, target...)...)
		if !strings.Contains(res.stderr, "wallet: the issuer takes exactly 8 tokens per request; asking for 8") || !strings.Contains(res.stderr, "wallet: 8 green tokens stored") {
			t.Fatalf("target wallet request: %q", res.stderr)
		}
		// A holder asking for a status that is not theirs is refused, with
		// a receipt the wallet keeps, and the service goes on serving.
		res = r.run([]string{"STATUSTOKEN_API_KEY=" + redKey}, "", "wallet", "request", "-state", "other-wallet", "-issuer", issuer.url, "-trust", trust, "-status", "green")
		if res.code != 1 || !strings.Contains(res.stderr, "wallet: the issuer says: refused: positive test result (reason 2): the requested status is not the one assigned to this holder") ||
			!strings.Contains(res.stderr, "receipt kept as decision 1") || strings.Contains(res.stderr, "tokens stored") {
			t.Fatalf("red holder asking for green: %d %q", res.code, res.stderr)
		}
		res = r.run([]string{"STATUSTOKEN_API_KEY=wrong"}, "", "wallet", "request", "-state", "other-wallet", "-issuer", issuer.url, "-trust", trust)
		if res.code != 1 || !strings.Contains(res.stderr, "401 Unauthorized: unknown API key") {
			t.Fatalf("unknown API key: %d %q", res.code, res.stderr)
		}

		// Scanners save the directory for offline use.
		r.must(nil, "", "scanner", "update", "-issuer", issuer.url, "-trust", trust)
		r.must(nil, "", "scanner", append([]string{"update", "-issuer", issuer.url}, targetScanner...)...)

		// The wallet shows a token: an rsabssa token's QR code does not fit
		// an 80x24 terminal, so it writes the PNG and says so, and prints
		// the text form.
		res = r.must(nil, "", "wallet", "show")
		tok := strings.TrimSpace(res.stdout)
		if !strings.HasPrefix(tok, "HT1:") || strings.Contains(tok, "\n") || !strings.Contains(res.stderr, "too large for an 80x24 terminal: open token.png") {
			t.Fatalf("wallet show: %q, %q", res.stdout, res.stderr)
		}
		if fi, err := os.Stat(filepath.Join(r.wd, "token.png")); err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("token.png: %v", err)
		}

		// Two gates share Redis: the second refuses the same token.
		gate := func(stdin string, args ...string) result {
			return r.run(nil, stdin, "scanner", append([]string{"-trust", trust, "-redis", redis.Addr}, args...)...)
		}
		if res := gate(tok); res.code != 0 || !strings.Contains(res.stdout, "VALID: green") {
			t.Fatalf("gate A: %d %q %q", res.code, res.stdout, res.stderr)
		}
		if res := gate("", tok); res.code != 1 || !strings.Contains(res.stdout, "REFUSED: already used") {
			t.Fatalf("gate B, same token: %d %q", res.code, res.stdout)
		}

		// A batch of three, as JSON.
		res = r.must(nil, "", "wallet", "export", "-n", "3")
		os.WriteFile(filepath.Join(r.wd, "queue.txt"), []byte(res.stdout), 0o600)
		if res := gate("", "-batch", "queue.txt", "-json"); res.code != 0 || strings.Count(res.stdout, `"valid":true`) != 3 {
			t.Fatalf("batch: %d %q %q", res.code, res.stdout, res.stderr)
		}
		if res := gate("", "-batch", "queue.txt"); res.code != 1 || !strings.Contains(res.stdout, "0 valid, 3 refused") {
			t.Fatalf("batch again: %d %q", res.code, res.stdout)
		}
		if n, _ := redis.Do("DBSIZE"); n != ":4" {
			t.Fatalf("Redis holds %s keys, want the 4 spent tokens", n)
		}

		// Redis stops: fail closed by default, open when asked, and said
		// so.
		redis.Stop()
		tok2 := strings.TrimSpace(r.must(nil, "", "wallet", "show", "-qr=false", "-png", "").stdout)
		if res := gate(tok2); res.code != 1 || !strings.Contains(res.stdout, "fail closed") {
			t.Fatalf("Redis stopped, fail closed: %d %q", res.code, res.stdout)
		}
		if res := gate(tok2, "-fail-open"); res.code != 0 || !strings.Contains(res.stdout, "replay check: not-checked") {
			t.Fatalf("Redis stopped, fail open: %d %q", res.code, res.stdout)
		}
		secrets = append(secrets, greenKey, redKey, tok, tok2)
	})

	var serial2 token.Published
	step("honest path", func(t *testing.T) {
		// A restart publishes serial 2: the issuer reloads its log and
		// the witnesses' sizes, appends the record and has the witnesses
		// cosign. The wallet and the scanner accept it.
		restart()
		serial2 = fetch(t, issuer.url)
		if d, _ := token.ParseDirectory(serial2.Directory); d == nil || d.Serial != 2 {
			t.Fatalf("the issuer serves %q after a restart, want serial 2", serial2.Directory)
		}
		request(t, "-issuer", issuer.url, "-trust", trust)
		if s := serialOf(t, filepath.Join(r.wd, "wallet-state", "directory.json")); s != 2 {
			t.Fatalf("wallet holds serial %d", s)
		}
		if res := r.must(nil, "", "scanner", "update", "-issuer", issuer.url, "-trust", trust); !strings.Contains(res.stdout, "directory serial 2") || !strings.Contains(res.stdout, "log size 2") {
			t.Fatalf("scanner update: %q", res.stdout)
		}
		for _, w := range witnesses {
			if n := w.Size(t, origin); n != 2 {
				t.Errorf("witness %s at size %d, want 2", w.Key.Name, n)
			}
		}
		// The log as monitors read it.
		code, cp := get(t, issuer.url+"/log/checkpoint")
		if code != 200 || !bytes.HasPrefix(cp, []byte(origin+"\n2\n")) || bytes.Count(cp, []byte("\n— w")) != 3 || !bytes.HasSuffix(serial2.Proof, cp) {
			t.Fatalf("/log/checkpoint: %d %q", code, cp)
		}
		if code, tile := get(t, issuer.url+"/log/tile/0/000.p/2"); code != 200 || len(tile) != 64 {
			t.Fatalf("/log/tile/0/000.p/2: %d, %d bytes", code, len(tile))
		}
		if code, entries := get(t, issuer.url+"/log/tile/entries/000.p/2"); code != 200 || len(entries) != 2*(2+token.LogRecordSize) {
			t.Fatalf("/log/tile/entries/000.p/2: %d, %d bytes", code, len(entries))
		}
		for serial, p := range map[int]token.Published{1: serial1, 2: serial2} {
			if _, data := get(t, fmt.Sprintf("%s/log/directory/%d", issuer.url, serial)); !bytes.Equal(data, p.Directory) {
				t.Errorf("/log/directory/%d is not the directory served", serial)
			}
			if _, sig := get(t, fmt.Sprintf("%s/log/directory/%d.sig", issuer.url, serial)); !bytes.Equal(sig, p.Signature) {
				t.Errorf("/log/directory/%d.sig is not its signature", serial)
			}
		}
	})

	// The authority's split view: a second serial 2, with a key of its
	// own for status green, for the wallet that holds serial 1 only.
	split, splitSig := splitDirectory(t, serial2.Directory, rootKey(t, state))
	evil := newRogue(t)
	refused := func(t *testing.T, want string) {
		t.Helper()
		res := r.run(green, "", "wallet", append([]string{"request", "-issuer", evil.srv.URL}, target...)...)
		if res.code != 1 || !strings.Contains(res.stderr, want) {
			t.Fatalf("target wallet: exit %d %q, want a refusal with %q", res.code, res.stderr, want)
		}
		res = r.run(nil, "", "scanner", append([]string{"update", "-issuer", evil.srv.URL}, targetScanner...)...)
		if res.code != 1 || !strings.Contains(res.stderr, want) {
			t.Fatalf("target scanner: exit %d %q, want a refusal with %q", res.code, res.stderr, want)
		}
		if s := serialOf(t, filepath.Join(r.wd, "target-wallet", "directory.json")); s != 1 {
			t.Fatalf("the target wallet now holds serial %d", s)
		}
		if s := serialOf(t, filepath.Join(r.wd, "target.json")); s != 1 {
			t.Fatalf("the target scanner now holds serial %d", s)
		}
		if n := evil.requests.Load(); n != 0 {
			t.Fatalf("%d token requests sent to the authority's server", n)
		}
	}
	step("split view not logged", func(t *testing.T) {
		evil.serve(token.Published{Directory: split, Signature: splitSig})
		refused(t, "the issuer sent no log proof")
		// With the honest serial 2's proof: it shows another directory.
		evil.serve(token.Published{Directory: split, Signature: splitSig, Proof: serial2.Proof})
		refused(t, "not proven to be in the issuer's log")
	})

	// A fork of the log, with the log key: serial 1's record, then the
	// split directory's.
	logKey, err := os.ReadFile(filepath.Join(state, "log.key"))
	if err != nil {
		t.Fatal(err)
	}
	// Serial 1 as the issuer archived it beside its log.
	archived, err := os.ReadFile(filepath.Join(state, "log", "directory", "1.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(archived, serial1.Directory) {
		t.Fatal("the archived serial 1 is not the directory the issuer served")
	}
	record1, err := token.LogRecord(archived)
	if err != nil {
		t.Fatal(err)
	}
	fork, err := issue.NewLog(strings.TrimSpace(string(logKey)), [][]byte{record1})
	if err != nil {
		t.Fatal(err)
	}
	forkIndex, err := fork.AppendDirectory(split)
	if err != nil {
		t.Fatal(err)
	}
	forkCP, err := fork.Checkpoint()
	if err != nil {
		t.Fatal(err)
	}
	step("split view in a forked log", func(t *testing.T) {
		// The witnesses refuse to cosign the fork: each answers 409 (it
		// has cosigned size 2, not 1) and, asked from size 2, 422 (no
		// consistency proof leads from the honest tree to the fork).
		ws, err := witnessclient.ParseWitnesses([]byte(strings.Join(lines, "\n")))
		if err != nil {
			t.Fatal(err)
		}
		c := &witnessclient.Client{Timeout: 10 * time.Second}
		for _, w := range ws {
			_, err := c.AddCheckpoint(context.Background(), w, fork, 1, forkCP)
			var refusal *witnessclient.RefusedError
			if !errors.As(err, &refusal) || len(refusal.Statuses) != 2 || refusal.Statuses[0] != 409 || refusal.Last() != 422 {
				t.Fatalf("witness %s on the forked checkpoint: %v", w.Name, err)
			}
		}
		// The fork's proof with the log's signature alone.
		proof, err := fork.Proof(forkIndex, forkCP)
		if err != nil {
			t.Fatal(err)
		}
		evil.serve(token.Published{Directory: split, Signature: splitSig, Proof: proof})
		refused(t, "cosigned by 0 of the pinned witnesses, the trust policy needs 2")
	})

	step("split view cosigned by one compromised witness", func(t *testing.T) {
		// Witness 3's key in a second litewitness whose database never
		// saw the honest log: it cosigns the fork.
		dir := filepath.Join(witnessDir, "w3-compromised")
		os.Mkdir(dir, 0o700)
		bad := litewitnesstest.Start(t, r.bin, dir, keys[2], logged...)
		defer bad.Stop()
		ws, err := witnessclient.ParseWitnesses([]byte(bad.Line()))
		if err != nil {
			t.Fatal(err)
		}
		c := &witnessclient.Client{Timeout: 10 * time.Second}
		res, err := c.AddCheckpoint(context.Background(), ws[0], fork, 0, forkCP)
		if err != nil {
			t.Fatalf("the compromised witness: %v", err)
		}
		cosigned, err := fork.Cosigned(forkCP, res.Line)
		if err != nil {
			t.Fatal(err)
		}
		proof, err := fork.Proof(forkIndex, cosigned)
		if err != nil {
			t.Fatal(err)
		}
		evil.serve(token.Published{Directory: split, Signature: splitSig, Proof: proof})
		refused(t, "cosigned by 1 of the pinned witnesses, the trust policy needs 2")
	})

	step("rollback", func(t *testing.T) {
		// Serial 1 again, as the issuer published it (its proof still
		// fresh), to the wallet and the scanner that hold serial 2.
		evil.serve(serial1)
		res := r.run(green, "", "wallet", "request", "-issuer", evil.srv.URL, "-trust", trust)
		if res.code != 1 || !strings.Contains(res.stderr, "directory rollback: the issuer sent serial 1, older than serial 2 accepted before") {
			t.Fatalf("wallet: %d %q", res.code, res.stderr)
		}
		res = r.run(nil, "", "scanner", "update", "-issuer", evil.srv.URL, "-trust", trust)
		if res.code != 1 || !strings.Contains(res.stderr, "older than serial 2") {
			t.Fatalf("scanner: %d %q", res.code, res.stderr)
		}
		if n := evil.requests.Load(); n != 0 {
			t.Fatalf("%d token requests sent after a rollback", n)
		}
	})

	step("one witness offline", func(t *testing.T) {
		witnesses[2].Kill()
		restart()
		p := fetch(t, issuer.url)
		if d, _ := token.ParseDirectory(p.Directory); d == nil || d.Serial != 3 {
			t.Fatalf("with two witnesses the issuer serves %q, want serial 3", p.Directory)
		}
		if _, cp, _ := bytes.Cut(p.Proof, []byte("\n\n")); bytes.Count(cp, []byte("\n— w")) != 2 || bytes.Contains(cp, []byte("— w3.example")) {
			t.Fatalf("checkpoint of serial 3: %q", cp)
		}
		if !strings.Contains(issuer.log.String(), `msg="witness did not cosign" witness=w3.example`) {
			t.Fatalf("the issuer does not report the offline witness:\n%s", issuer.log)
		}
		request(t, "-issuer", issuer.url, "-trust", trust)
		if s := serialOf(t, filepath.Join(r.wd, "wallet-state", "directory.json")); s != 3 {
			t.Fatalf("wallet holds serial %d", s)
		}
		if res := r.must(nil, "", "scanner", "update", "-issuer", issuer.url, "-trust", trust); !strings.Contains(res.stdout, "directory serial 3") {
			t.Fatalf("scanner update: %q", res.stdout)
		}
		if n := witnesses[0].Size(t, origin); n != 3 {
			t.Fatalf("witness 1 at size %d", n)
		}
	})

	step("stale proof", func(t *testing.T) {
		// A trust policy with freshness bounds of one minute, for loading
		// a directory and for requesting tokens; the issuer cosigns every
		// 10 seconds. Serial 1's proof, replayed more than a minute after
		// it was cosigned, is refused as stale.
		text, err := os.ReadFile(filepath.Join(r.wd, trust))
		if err != nil {
			t.Fatal(err)
		}
		short := strings.Replace(string(text), "\nmax-age 48h\nissue-max-age 2h\n", "\nmax-age 1m\nissue-max-age 1m\n", 1)
		if short == string(text) {
			t.Fatalf("trust.txt has no max-age 48h and issue-max-age 2h lines:\n%s", text)
		}
		os.WriteFile(filepath.Join(r.wd, "trust-1m.txt"), []byte(short), 0o644)
		cp, err := token.ParseCheckpoint(proofCheckpoint(serial1.Proof), mustTrust(t, text))
		if err != nil {
			t.Fatal(err)
		}
		wait := time.Until(cp.Time().Add(time.Minute + 2*time.Second))
		if wait > 90*time.Second {
			t.Fatalf("serial 1 was cosigned at %v, in the future", cp.Time())
		}
		time.Sleep(max(wait, 0))
		evil.serve(serial1)
		res := r.run(green, "", "wallet", "request", "-state", "stale-wallet", "-issuer", evil.srv.URL, "-trust", "trust-1m.txt")
		want := "the log checkpoint was last cosigned at " + cp.Time().UTC().Format(time.RFC3339) + ", older than max-age 1m0s"
		if res.code != 1 || !strings.Contains(res.stderr, want) {
			t.Fatalf("stale wallet: %d %q, want %q", res.code, res.stderr, want)
		}
		// The target scanner's saved serial 1 no longer verifies tokens
		// under that policy: it must update.
		res = r.run(nil, "x", "scanner", "-trust", "trust-1m.txt", "-directory", "target.json", "-signature", "target.sig", "-proof", "target.proof")
		if res.code != 2 || !strings.Contains(res.stderr, "older than max-age 1m0s") || !strings.Contains(res.stderr, `run "scanner update"`) {
			t.Fatalf("stale scanner: %d %q", res.code, res.stderr)
		}
		// The issuer's own proof is fresh: it refreshes it every 10s.
		request(t, "-state", "stale-wallet", "-issuer", issuer.url, "-trust", "trust-1m.txt")
		r.must(nil, "", "scanner", "update", "-issuer", issuer.url, "-trust", "trust-1m.txt", "-directory", "fresh.json",
			"-signature", "fresh.sig", "-proof", "fresh.proof", "-accepted", "fresh.accepted")
		if !strings.Contains(issuer.log.String(), "directory proof refreshed") {
			t.Fatalf("no refresh in the issuer's log:\n%s", issuer.log)
		}
	})

	step("shutdown and privacy", func(t *testing.T) {
		issuer.stop()
		all := strings.Join(append(logs, issuer.log.String()), "\n")
		for _, s := range secrets {
			if strings.Contains(all, s) {
				t.Fatal("the issuer's log holds an API key or a token")
			}
		}
		// Nothing identifies a holder in any file the programs wrote: no
		// API key.
		filepath.Walk(r.wd, func(path string, fi os.FileInfo, err error) error {
			if err != nil || fi.IsDir() {
				return err
			}
			data, _ := os.ReadFile(path)
			for _, k := range []string{greenKey, redKey} {
				if bytes.Contains(data, []byte(k)) {
					t.Errorf("%s holds an API key", path)
				}
			}
			return nil
		})
		for _, want := range []string{"status=200", "status=403", "status=401", "path=/token-request", "duration="} {
			if !strings.Contains(all, want) {
				t.Errorf("issuer log lacks %q", want)
			}
		}
	})
}

func proofCheckpoint(proof []byte) []byte {
	_, cp, _ := bytes.Cut(proof, []byte("\n\n"))
	return cp
}

func mustTrust(t *testing.T, text []byte) *token.Trust {
	t.Helper()
	tr, err := token.ParseTrust(text)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}
