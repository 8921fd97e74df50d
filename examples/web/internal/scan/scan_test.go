package scan_test

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/statustoken/statustoken/examples/web/internal/demo"
	"github.com/statustoken/statustoken/examples/web/internal/scan"
	"github.com/statustoken/statustoken/token"
)

func deployment(t *testing.T) (*demo.Deployment, demo.Samples) {
	t.Helper()
	d, err := demo.New(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	s, err := d.Samples()
	if err != nil {
		t.Fatal(err)
	}
	return d, s
}

func TestVerdicts(t *testing.T) {
	d, s := deployment(t)
	sess, info, err := scan.Open(d.Published, d.Trust, nil)
	if err != nil {
		t.Fatal(err)
	}
	if info.Serial != 1 || info.Keys != 2*demo.Epochs || info.ClockWarning != "" || info.LogOrigin != demo.Origin {
		t.Errorf("info %+v", info)
	}
	if age := time.Since(info.Checkpoint) - 3*demo.EpochLength; info.Checkpoint.IsZero() || age < 0 || age > time.Minute {
		t.Errorf("checkpoint time %v, want about three epochs ago (the demo's cosignatures)", info.Checkpoint)
	}

	v := sess.Check(s.Valid)
	tok, _ := token.ParseText(s.Valid)
	if v.Color != scan.Green || v.Code != "valid" || v.Status != "tested-negative" || !v.Expiry.Equal(tok.ExpiryTime()) || v.Reason != "" {
		t.Errorf("valid: %+v", v)
	}
	before := time.Now()
	v = sess.Check(s.Valid)
	if v.Color != scan.Amber || v.Code != "replayed" || v.Status != "" || v.EarlierScan.IsZero() || v.EarlierScan.After(before) {
		t.Errorf("replayed: %+v", v)
	}
	if !strings.Contains(v.Reason, "already accepted this code at ") {
		t.Errorf("replayed reason %q does not say when", v.Reason)
	}

	for _, c := range []struct{ name, text, code string }{
		{"tampered", s.Tampered, "invalid-signature"},
		{"altered", s.Altered, "key-mismatch"},
		{"expired", s.Expired, "expired"},
		{"foreign", s.Foreign, "unknown-key"},
		{"malformed", "HT1:NOT A TOKEN", "malformed"},
		{"other text", "https://example.org/", "malformed"},
		{"empty", "", "malformed"},
		{"trimmed", strings.TrimSuffix(s.Valid, s.Valid[len(s.Valid)-1:]), "malformed"},
	} {
		v := sess.Check(c.text)
		if v.Color != scan.Red || v.Code != c.code || v.Reason == "" || v.Status != "" || v.Title != "Refused" {
			t.Errorf("%s: %+v, want red %s", c.name, v, c.code)
		}
	}
	if v := sess.Check(s.Expired); !strings.Contains(v.Reason, "expired at ") || v.Expiry.IsZero() || v.Expiry.After(time.Now()) {
		t.Errorf("expired: %+v, want when it expired", v)
	}
	// A refused token is not remembered: a tampered token does not spend
	// the genuine one's nonce.
	if v := sess.Check(s.Tampered); v.Code != "invalid-signature" {
		t.Errorf("tampered twice: %+v", v)
	}
}

// TestClock: with this device's clock behind, a valid token's expiry
// looks too far ahead, and gets an amber verdict that says to check the
// clock; a clock past every key is flagged on loading.
func TestClock(t *testing.T) {
	d, s := deployment(t)
	behind := func() time.Time { return time.Now().Add(-3 * demo.EpochLength) }
	sess, _, err := scan.Open(d.Published, d.Trust, behind)
	if err != nil {
		t.Fatal(err)
	}
	if v := sess.Check(s.Valid); v.Color != scan.Amber || v.Code != "too-far-ahead" || !strings.Contains(v.Reason, "clock") {
		t.Errorf("clock 3 epochs behind: %+v, want amber too-far-ahead", v)
	}

	ahead := func() time.Time { return time.Now().Add(3 * demo.EpochLength) }
	sess, info, err := scan.Open(d.Published, d.Trust, ahead)
	if err != nil {
		t.Fatal(err)
	}
	if info.ClockWarning == "" {
		t.Error("no clock warning with the clock past every key")
	}
	if v := sess.Check(s.Valid); v.Color != scan.Red || v.Code != "expired" {
		t.Errorf("clock 3 epochs ahead: %+v, want red expired", v)
	}
}

func TestLoadErrors(t *testing.T) {
	d, _ := deployment(t)
	other, _ := deployment(t)
	bad := d.Published
	bad.Proof = other.Published.Proof
	for _, c := range []struct {
		name string
		p    token.Published
		tr   *token.Trust
		now  func() time.Time
		want error
		says string
	}{
		{"another root", d.Published, other.Trust, nil, token.ErrDirectorySignature, "not signed"},
		{"another log's proof", bad, d.Trust, nil, token.ErrQuorum, "witnesses"},
		{"stale proof", d.Published, d.Trust, func() time.Time { return time.Now().Add(49 * time.Hour) }, token.ErrStale, "too old"},
		{"damaged directory", token.Published{Directory: []byte("{}"), Signature: d.Published.Signature, Proof: d.Published.Proof}, d.Trust, nil, token.ErrDirectorySignature, "not signed"},
	} {
		_, _, err := scan.Open(c.p, c.tr, c.now)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
			continue
		}
		if msg := scan.LoadError(err); !strings.Contains(msg, c.says) {
			t.Errorf("%s: %q does not say %q", c.name, msg, c.says)
		}
	}
	_, err := token.ParseTrust([]byte("root nonsense\n"))
	if msg := scan.LoadError(err); !strings.HasPrefix(msg, "The trust policy is not valid") {
		t.Errorf("bad trust policy: %q", msg)
	}
}

func TestClassify(t *testing.T) {
	d, _ := deployment(t)
	p := d.Published
	b64 := base64.StdEncoding.EncodeToString(p.Signature)
	for _, c := range []struct {
		name string
		data []byte
		kind string
		use  []byte
	}{
		{"directory", p.Directory, scan.KindDirectory, p.Directory},
		{"signature", p.Signature, scan.KindSignature, p.Signature},
		{"signature in base64", []byte(b64 + "\n"), scan.KindSignature, p.Signature},
		{"proof", p.Proof, scan.KindProof, p.Proof},
		{"trust", d.TrustText, scan.KindTrust, d.TrustText},
		{"other", []byte("hello"), scan.KindUnknown, nil},
		{"63 bytes", p.Signature[:63], scan.KindUnknown, nil},
	} {
		kind, use := scan.Classify(c.data)
		if kind != c.kind || string(use) != string(c.use) {
			t.Errorf("%s: %s (%d bytes), want %s", c.name, kind, len(use), c.kind)
		}
	}
	if b, ok := scan.DecodeHeader(b64); !ok || string(b) != string(p.Signature) {
		t.Error("DecodeHeader of the signature header failed")
	}
	for _, h := range []string{"", "not base64!", "===="} {
		if _, ok := scan.DecodeHeader(h); ok {
			t.Errorf("DecodeHeader(%q) accepted", h)
		}
	}
}

func TestBench(t *testing.T) {
	d, s := deployment(t)
	texts, err := d.Tokens(8)
	if err != nil {
		t.Fatal(err)
	}
	b, err := scan.NewBench(d.Published, d.Trust, texts)
	if err != nil {
		t.Fatal(err)
	}
	if b.Len() != 8 || b.Run(3) != 24 {
		t.Errorf("bench: %d tokens, want 8 valid three times", b.Len())
	}
	// The same tokens verify again and again: the bench has no replay
	// memory. A forged one does not count.
	b, err = scan.NewBench(d.Published, d.Trust, []string{s.Valid, s.Tampered})
	if err != nil {
		t.Fatal(err)
	}
	if got := b.Run(2); got != 2 {
		t.Errorf("bench with a forgery: %d valid, want 2", got)
	}
	if _, err := scan.NewBench(d.Published, d.Trust, []string{"HT1:"}); err == nil {
		t.Error("bench took a malformed token")
	}
}
