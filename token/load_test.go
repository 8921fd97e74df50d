package token_test

import (
	"encoding/json"
	"errors"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/statustoken/statustoken/token"
)

// TestLoadError: a refused load carries what the check saw as fields, and
// unwraps to its sentinel.
func TestLoadError(t *testing.T) {
	g := newBundleGen(t)
	trust, err := token.ParseTrust(g.env.Policy())
	if err != nil {
		t.Fatal(err)
	}
	// One witness where two are needed.
	p := token.Published{Directory: g.dir[2], Signature: g.sig[2], Proof: g.env.Log.Proof(g.idx[2], g.cosigned(2))}
	_, acc, err := token.Open(p, trust, token.Accepted{Serial: 1}, bundleNow)
	var le *token.LoadError
	if !errors.As(err, &le) || le.Err != token.ErrQuorum || !errors.Is(err, token.ErrQuorum) {
		t.Fatalf("one witness: %v", err)
	}
	if !le.LogSigned || len(le.Cosignatures) != 1 || le.Cosignatures[0].Witness != "w3.example" ||
		!le.Cosignatures[0].Time.Equal(bundleNow) || !le.QuorumTime.IsZero() || le.Serial != 2 || le.AcceptedSerial != 1 {
		t.Fatalf("one witness: %+v", le)
	}
	if acc.Serial != 1 {
		t.Fatalf("refused load changed the accepted state: %+v", acc)
	}
	// Stale: the quorum time is the older of the two cosignatures.
	stale := g.env.Log.Proof(g.idx[2], g.cosignedAt(bundleNow.Add(-49*time.Hour), 0, 1))
	_, _, err = token.Open(token.Published{Directory: g.dir[2], Signature: g.sig[2], Proof: stale}, trust, token.Accepted{}, bundleNow)
	if !errors.As(err, &le) || le.Err != token.ErrStale || !le.QuorumTime.Equal(bundleNow.Add(-49*time.Hour)) || len(le.Cosignatures) != 2 {
		t.Fatalf("stale: %v %+v", err, le)
	}
	// A zero time is stale, not a skipped check.
	good := token.Published{Directory: g.dir[2], Signature: g.sig[2], Proof: g.env.Log.Proof(g.idx[2], g.cosigned(0, 1))}
	if _, _, err := token.Open(good, trust, token.Accepted{}, time.Time{}); !errors.Is(err, token.ErrStale) {
		t.Fatalf("zero time: %v", err)
	}
	// A policy error names its line and keyword.
	_, err = token.ParseTrust([]byte(strings.Replace(string(g.env.Policy()), "group witnesses 2", "group witnesses 1", 1)))
	if !errors.As(err, &le) || le.Err != token.ErrMalformedTrust || le.Keyword != "quorum" || le.Line == 0 {
		t.Fatalf("minority quorum: %v %+v", err, le)
	}
	_, err = token.ParseTrust([]byte(strings.Replace(string(g.env.Policy()), "root ", "root AAAA", 1)))
	if !errors.As(err, &le) || le.Keyword != "root" || le.Line != 1 {
		t.Fatalf("bad root: %v %+v", err, le)
	}
	if trust.MinCosigners() != 2 || strings.Join(trust.Witnesses(), " ") != "w1.example w2.example w3.example" {
		t.Fatalf("min cosigners %d, witnesses %v", trust.MinCosigners(), trust.Witnesses())
	}
}

// TestAcceptedText: the accepted state round-trips through its text form,
// and damage is refused.
func TestAcceptedText(t *testing.T) {
	g := newBundleGen(t)
	trust, err := token.ParseTrust(g.env.Policy())
	if err != nil {
		t.Fatal(err)
	}
	good := token.Published{Directory: g.dir[2], Signature: g.sig[2], Proof: g.env.Log.Proof(g.idx[2], g.cosigned(0, 1))}
	_, acc, err := token.Open(good, trust, token.Accepted{}, bundleNow)
	if err != nil {
		t.Fatal(err)
	}
	text, err := acc.MarshalText()
	if err != nil {
		t.Fatal(err)
	}
	back, err := token.ParseAccepted(text, trust)
	if err != nil {
		t.Fatal(err)
	}
	if back.Serial != acc.Serial || back.Directory != acc.Directory || len(back.Statuses) != 2 ||
		back.Checkpoint.RootHash() != acc.Checkpoint.RootHash() {
		t.Fatalf("round trip: %+v, want %+v", back, acc)
	}
	again, err := back.MarshalText()
	if err != nil || string(again) != string(text) {
		t.Fatalf("re-encoding differs: %s", again)
	}
	// The restored state refuses what the original refuses.
	if _, _, err := token.Open(token.Published{Directory: g.dir[1], Signature: g.sig[1], Proof: g.proof1}, trust, back, bundleNow); !errors.Is(err, token.ErrRollback) {
		t.Fatalf("serial 1 after restoring serial 2: %v", err)
	}
	var j map[string]any
	if err := json.Unmarshal(text, &j); err != nil {
		t.Fatal(err)
	}
	edit := func(k string, v any) []byte {
		c := map[string]any{}
		for key, val := range j {
			c[key] = val
		}
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		b, _ := json.Marshal(c)
		return b
	}
	cp := j["checkpoint"].(string)
	for name, bad := range map[string][]byte{
		"empty":                  nil,
		"not JSON":               []byte("serial 2"),
		"unknown member":         edit("extra", 1),
		"short hash":             edit("directory_sha256", "00"),
		"checkpoint tampered":    edit("checkpoint", strings.Replace(cp, "\n"+strconv.FormatInt(acc.Checkpoint.Size(), 10)+"\n", "\n9\n", 1)),
		"checkpoint of nobody":   edit("checkpoint", cp[:strings.Index(cp, "\n\n")+2]),
		"statuses out of order":  edit("statuses", []map[string]any{{"code": 2, "name": "red"}, {"code": 1, "name": "green"}}),
		"status name used twice": edit("statuses", []map[string]any{{"code": 1, "name": "red"}, {"code": 2, "name": "red"}}),
		"too long":               append(text, make([]byte, token.MaxAcceptedSize)...),
	} {
		if _, err := token.ParseAccepted(bad, trust); err == nil {
			t.Errorf("%s: accepted", name)
		} else if !errors.Is(err, token.ErrRollback) && !errors.Is(err, token.ErrQuorum) && !errors.Is(err, token.ErrNotLogged) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// FuzzParseAccepted: a state that parses re-encodes to a state that
// parses to the same values.
func FuzzParseAccepted(f *testing.F) {
	g := newBundleGen(&testing.T{})
	trust, err := token.ParseTrust(g.env.Policy())
	if err != nil {
		f.Fatal(err)
	}
	good := token.Published{Directory: g.dir[2], Signature: g.sig[2], Proof: g.env.Log.Proof(g.idx[2], g.cosigned(0, 1))}
	_, acc, err := token.Open(good, trust, token.Accepted{}, bundleNow)
	if err != nil {
		f.Fatal(err)
	}
	text, _ := acc.MarshalText()
	f.Add(text)
	f.Add([]byte(`{"serial":0,"directory_sha256":"","statuses":[],"checkpoint":""}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := token.ParseAccepted(b, trust)
		if err != nil {
			return
		}
		out, err := a.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		a2, err := token.ParseAccepted(out, trust)
		if err != nil {
			t.Fatalf("re-encoding does not parse: %v", err)
		}
		out2, _ := a2.MarshalText()
		if string(out) != string(out2) {
			t.Fatalf("re-encoding is not stable:\n%s\n%s", out, out2)
		}
	})
}

// TestVerificationLinksNoNetwork: the packages a scanner or wallet
// imports do not link net/http or crypto/tls, so that a scanner built
// from them (the web scanner's js/wasm build among them) stays small and
// can make no network call through them; nor crypto/x509, which only the
// issuer needs (its key storage, internal/rsabssa/rsakey) and which would
// bring ecdsa, nistec and net/url into every scanner.
func TestVerificationLinksNoNetwork(t *testing.T) {
	goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
	for _, goos := range []string{runtime.GOOS, "js"} {
		cmd := exec.Command(goTool, "list", "-deps", "github.com/statustoken/statustoken/verify", "github.com/statustoken/statustoken/holder", "github.com/statustoken/statustoken/token")
		cmd.Env = append(cmd.Environ(), "GOOS="+goos)
		if goos == "js" {
			cmd.Env = append(cmd.Env, "GOARCH=wasm")
		}
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go list for GOOS=%s: %v", goos, err)
		}
		for _, pkg := range strings.Fields(string(out)) {
			if pkg == "net/http" || pkg == "crypto/tls" || pkg == "crypto/x509" || strings.HasPrefix(pkg, "filippo.io/torchwood") {
				t.Errorf("GOOS=%s: verify, holder or token links %s", goos, pkg)
			}
		}
	}
}

// TestClientLinksNoRole: token/tokenhttp, the protocol client that
// wallets and scanners may link beside holder or verify, imports neither
// of them nor the issuer's packages, so that a scanner that fetches its
// directory over HTTP links no issuer code, and holder and verify stay
// free of network code (TestVerificationLinksNoNetwork).
func TestClientLinksNoRole(t *testing.T) {
	goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
	out, err := exec.Command(goTool, "list", "-deps", "github.com/statustoken/statustoken/token/tokenhttp").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	const mod = "github.com/statustoken/statustoken/"
	for _, pkg := range strings.Fields(string(out)) {
		switch {
		case pkg == mod+"holder", pkg == mod+"verify", strings.HasPrefix(pkg, mod+"issue"),
			strings.HasPrefix(pkg, "filippo.io/torchwood"), strings.HasPrefix(pkg, "github.com/cloudflare/circl"):
			t.Errorf("token/tokenhttp links %s", pkg)
		}
	}
}
