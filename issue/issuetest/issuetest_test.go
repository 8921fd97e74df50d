package issuetest

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/statustoken/statustoken/issue"
	"github.com/statustoken/statustoken/token"
)

var cfg = issue.Config{EpochLength: 24 * time.Hour, Statuses: []token.StatusName{{Code: 1, Name: "green"}}}

func TestNewWitness(t *testing.T) {
	for _, name := range []string{"", "w 1", "w+1", "w1\n", "\xff"} {
		if _, err := NewWitness(name, nil); err == nil {
			t.Errorf("NewWitness(%q) accepted", name)
		}
	}
	if _, err := NewWitness("w1.example", make(ed25519.PrivateKey, 31)); err == nil {
		t.Error("a 31-byte key accepted")
	}
	a, err := NewWitness("w1.example", nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewWitness("w1.example", nil)
	if a.VerifierKey() == b.VerifierKey() {
		t.Error("two random witnesses with one key")
	}
	k := Key("witness w1.example")
	c, _ := NewWitness("w1.example", k)
	d, _ := NewWitness("w1.example", Key("witness w1.example"))
	pub := base64.StdEncoding.EncodeToString(append([]byte{4}, k.Public().(ed25519.PublicKey)...))
	if c.VerifierKey() != d.VerifierKey() || !strings.HasSuffix(c.VerifierKey(), "+"+pub) || Key("other").Equal(k) {
		t.Error("keys from labels")
	}
	k[0] ^= 1 // the witness keeps its own copy
	if c.VerifierKey() != d.VerifierKey() {
		t.Error("the witness shares the caller's key")
	}
	if _, err := c.Cosign([]byte("no signatures\n"), time.Now()); err == nil {
		t.Error("cosigned a text that is not a signed note")
	}
}

func TestOptions(t *testing.T) {
	for _, o := range []Options{
		{Witnesses: -1},
		{Witnesses: 101},
		{Cosigners: []Cosigner{{Witness: 3}}},
		{Cosigners: []Cosigner{{Witness: -1}}},
		{Witnesses: 2, Cosigners: []Cosigner{{Witness: 2}}},
	} {
		if _, err := NewPublisher(cfg, &o); err == nil {
			t.Errorf("NewPublisher with %+v accepted", o)
		}
	}
	p, err := NewPublisher(cfg, &Options{Witnesses: 5, Origin: "test.example/log", MaxAge: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if p.Quorum != 3 || len(p.Witnesses) != 5 || p.Trust.LogOrigin() != "test.example/log" || p.Trust.MaxAge() != time.Hour ||
		!strings.Contains(string(p.TrustText), "group witnesses 3 w1.example w2.example w3.example w4.example w5.example\n") {
		t.Fatalf("publisher of 5 witnesses: quorum %d, policy\n%s", p.Quorum, p.TrustText)
	}
	if !p.Trust.Root().Equal(p.RootKey.Public()) || !p.Trust.Root().Equal(ed25519.PublicKey(p.Issuer.RootPublicKey())) {
		t.Fatal("root key")
	}
	now := time.Now()
	pub, err := p.Publish(now, 1)
	if err != nil {
		t.Fatal(err)
	}
	_, acc, err := token.Open(pub, p.Trust, token.Accepted{}, now)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(pub.Proof), "\n— w"); n != 3 {
		t.Fatalf("%d cosignatures, want the first 3", n)
	}
	if !acc.Checkpoint.Time().Equal(now.Truncate(time.Second)) {
		t.Fatalf("cosigned at %v, want %v", acc.Checkpoint.Time(), now)
	}
	if _, err := p.Publish(now, 1); !errors.Is(err, issue.ErrLog) {
		t.Fatalf("serial 1 twice: %v", err)
	}
	// Two cosigners of the five: no quorum. An index out of range: an error.
	dir, sig, _ := p.Issuer.Directory(now, 2)
	pub, err = p.PublishDirectory(dir, sig, now, Cosigner{Witness: 3}, Cosigner{Witness: 4})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := token.Open(pub, p.Trust, acc, now); !errors.Is(err, token.ErrQuorum) {
		t.Fatalf("two of five: %v", err)
	}
	if _, err := p.Cosigned(now, Cosigner{Witness: 5}); err == nil {
		t.Fatal("cosigned by witness 5 of 0 to 4")
	}
	// The given times, and the root key of the caller.
	then := now.Add(-time.Hour - time.Second)
	pub.Proof, err = p.Prove(1, now, Cosigner{Witness: 0, Time: then}, Cosigner{Witness: 1, Time: then}, Cosigner{Witness: 2, Time: then})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := token.Open(pub, p.Trust, acc, now); !errors.Is(err, token.ErrStale) {
		t.Fatalf("cosigned beyond max-age: %v", err)
	}
	if _, _, err := token.Open(pub, p.Trust, acc, now.Add(-2*time.Second)); err != nil {
		t.Fatalf("cosigned within max-age: %v", err)
	}
	c := cfg
	c.RootKey = Key("root")
	q, err := NewPublisher(c, nil)
	if err != nil || !q.RootKey.Equal(c.RootKey) || q.Trust.LogOrigin() != DefaultOrigin || q.Trust.MaxAge() != 48*time.Hour || q.Quorum != 2 {
		t.Fatalf("default options with a root key: %v", err)
	}
}

// TestPublisherByHand: a Publisher made of a log and witnesses alone
// publishes a directory signed elsewhere, cosigned by a majority.
func TestPublisherByHand(t *testing.T) {
	q, err := NewPublisher(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	skey, vkey, err := issue.GenerateLogKey("by.hand/log")
	if err != nil {
		t.Fatal(err)
	}
	l, err := issue.NewLog(skey, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := &Publisher{Log: l, LogKey: skey, Witnesses: q.Witnesses}
	trust, err := token.ParseTrust(TrustPolicy(q.Issuer.RootPublicKey(), vkey, p.Witnesses, time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	dir, sig, _ := q.Issuer.Directory(now, 1)
	pub, err := p.PublishDirectory(dir, sig, now)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := token.Open(pub, trust, token.Accepted{}, now); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(pub.Proof), "\n— w"); n != 2 {
		t.Fatalf("%d cosignatures, want 2", n)
	}
}

// TestConcurrentProofs: proofs made concurrently, with the log growing
// meanwhile, all verify.
func TestConcurrentProofs(t *testing.T) {
	p, err := NewPublisher(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	first, err := p.Publish(now, 1)
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			proof, err := p.Prove(0, now)
			if err == nil {
				_, _, err = token.Open(token.Published{Directory: first.Directory, Signature: first.Signature, Proof: proof}, p.Trust, token.Accepted{}, now)
			}
			errs <- err
		}()
	}
	for serial := uint64(2); serial <= 5; serial++ {
		if _, err := p.Publish(now, serial); err != nil {
			t.Fatal(err)
		}
	}
	// Each proof shows the first directory in the log; once a newer one is
	// logged, it is no longer the newest record and token.Open refuses it.
	for range 8 {
		if err := <-errs; err != nil && !errors.Is(err, token.ErrNotNewest) {
			t.Error(err)
		}
	}
}
