package transparency_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/statustoken/statustoken/internal/logtest"
	"github.com/statustoken/statustoken/internal/transparency"
	"golang.org/x/mod/sumdb/note"
)

var testNow = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

// TestNoteVector checks that the policy's log key path reads the signed
// note example of golang.org/x/mod/sumdb/note (its key and signature).
func TestNoteVector(t *testing.T) {
	v, err := note.NewVerifier("PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("If you think cryptography is the answer to your problem,\n" +
		"then you don't know what your problem is.\n" +
		"\n" +
		"— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n")
	if _, err := note.Open(msg, note.VerifierList(v)); err != nil {
		t.Fatal(err)
	}
	// The same key as a log line of a policy.
	w := logtest.NewWitness("w1")
	policy := "root " + base64.StdEncoding.EncodeToString(logtest.Key("root").Public().(ed25519.PublicKey)) + "\nlog PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW\n" +
		"witness w1 " + w.VerifierKey() + "\nquorum w1\nmax-age 48h\n"
	p, err := transparency.ParsePolicy([]byte(policy))
	if err != nil {
		t.Fatal(err)
	}
	if p.Origin != "PeterNeumann" {
		t.Fatalf("origin %q", p.Origin)
	}
}

// env is a log with three witnesses, one directory record, and a 2 of 3
// policy with a 48-hour freshness bound.
type env struct {
	log       *logtest.Log
	witnesses []*logtest.Witness
	policy    *transparency.Policy
	record    []byte
}

func newEnv(t testing.TB) *env {
	e := &env{log: logtest.NewLog("example.org/health/directory")}
	for _, n := range []string{"w1.example", "w2.example", "w3.example"} {
		e.witnesses = append(e.witnesses, logtest.NewWitness(n))
	}
	root := ed25519.NewKeyFromSeed(make([]byte, 32)).Public().(ed25519.PublicKey)
	p, err := transparency.ParsePolicy(e.log.Policy(root, e.witnesses, 2, 48*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	e.policy = p
	e.log.Append(1, []byte("directory 1"))
	e.record = transparency.Record(2, []byte("directory 2"))
	e.log.Append(2, []byte("directory 2"))
	return e
}

// proof returns the proof of record 1 under a checkpoint cosigned by the
// given witnesses at time at.
func (e *env) proof(at time.Time, ws ...int) []byte {
	var cs []note.Signer
	for _, w := range ws {
		cs = append(cs, e.witnesses[w].At(at))
	}
	return e.log.Proof(1, e.log.Checkpoint(cs...))
}

func TestVerify(t *testing.T) {
	e := newEnv(t)
	c, err := e.policy.Verify(e.record, e.proof(testNow, 0, 1), testNow)
	if err != nil {
		t.Fatal(err)
	}
	if c.N != 2 || c.Origin != "example.org/health/directory" || !c.Time.Equal(testNow) {
		t.Fatalf("checkpoint %+v", c)
	}
	for name, tc := range map[string]struct {
		record, proof []byte
		now           time.Time
		want          transparency.Kind
	}{
		"other record":         {transparency.Record(2, []byte("directory 2b")), e.proof(testNow, 0, 1), testNow, transparency.NotLogged},
		"other serial":         {transparency.Record(3, []byte("directory 2")), e.proof(testNow, 0, 1), testNow, transparency.NotLogged},
		"log only":             {e.record, e.proof(testNow), testNow, transparency.Quorum},
		"one witness":          {e.record, e.proof(testNow, 2), testNow, transparency.Quorum},
		"stale":                {e.record, e.proof(testNow.Add(-49*time.Hour), 0, 1, 2), testNow, transparency.Stale},
		"one fresh of two":     {e.record, e.proof(testNow.Add(-49*time.Hour), 0, 1), testNow.Add(0), transparency.Stale},
		"empty":                {e.record, nil, testNow, transparency.NotLogged},
		"no header":            {e.record, e.proof(testNow, 0, 1)[5:], testNow, transparency.NotLogged},
		"truncated checkpoint": {e.record, trimTail(e.proof(testNow, 0, 1), 30), testNow, transparency.NotLogged},
	} {
		_, err := e.policy.Verify(tc.record, tc.proof, tc.now)
		if k := transparency.KindOf(err); k != tc.want {
			t.Errorf("%s: %v (kind %d), want kind %d", name, err, k, tc.want)
		}
	}
	// Just inside the freshness bound.
	if _, err := e.policy.Verify(e.record, e.proof(testNow.Add(-48*time.Hour), 0, 1), testNow); err != nil {
		t.Errorf("cosigned 48 hours ago: %v", err)
	}
	// A stale cosignature and a fresh one from another witness make no quorum.
	mixed := logtest.Cosign(e.log.Checkpoint(e.witnesses[0].At(testNow.Add(-72*time.Hour))), e.witnesses[1].At(testNow))
	if _, err := e.policy.Verify(e.record, e.log.Proof(1, mixed), testNow); transparency.KindOf(err) != transparency.Stale {
		t.Errorf("one stale and one fresh cosignature: %v", err)
	}
}

func trimTail(b []byte, n int) []byte { return bytes.Clone(b[:len(b)-n]) }

func TestExtends(t *testing.T) {
	e := newEnv(t)
	c2, err := e.policy.Verify(e.record, e.proof(testNow, 0, 1), testNow)
	if err != nil {
		t.Fatal(err)
	}
	if err := transparency.Extends(nil, c2); err != nil {
		t.Fatal(err)
	}
	if err := transparency.Extends(c2, c2); err != nil {
		t.Fatal(err)
	}
	e.log.Append(3, []byte("directory 3"))
	c3, err := e.policy.Verify(e.record, e.log.Proof(1, e.log.Checkpoint(e.witnesses[1].At(testNow), e.witnesses[2].At(testNow))), testNow)
	if err != nil {
		t.Fatal(err)
	}
	if err := transparency.Extends(c2, c3); err != nil {
		t.Fatalf("larger tree: %v", err)
	}
	if err := transparency.Extends(c3, c2); transparency.KindOf(err) != transparency.Inconsistent {
		t.Fatalf("smaller tree: %v", err)
	}
	// A fork: another log state of the same size.
	fork := logtest.NewLog("example.org/health/directory")
	fork.Append(1, []byte("directory 1"))
	fork.Append(2, []byte("directory 2"))
	fork.Append(3, []byte("directory 3 with an extra key"))
	cf, err := e.policy.Verify(e.record, fork.Proof(1, fork.Checkpoint(e.witnesses[0].At(testNow), e.witnesses[2].At(testNow))), testNow)
	if err != nil {
		t.Fatal(err)
	}
	if err := transparency.Extends(c3, cf); transparency.KindOf(err) != transparency.Inconsistent {
		t.Fatalf("fork of the same size: %v", err)
	}
}

func TestParsePolicy(t *testing.T) {
	e := newEnv(t)
	root := ed25519.NewKeyFromSeed(make([]byte, 32)).Public().(ed25519.PublicKey)
	good := string(e.log.Policy(root, e.witnesses, 2, 48*time.Hour))
	if _, err := transparency.ParsePolicy([]byte(good)); err != nil {
		t.Fatal(err)
	}
	if _, err := transparency.ParsePolicy([]byte("# pinned\n" + good + "\n# end\n")); err != nil {
		t.Fatalf("comments and blank lines: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(good), "\n")
	without := func(prefix string) string {
		var out []string
		for _, l := range lines {
			if !strings.HasPrefix(l, prefix) {
				out = append(out, l)
			}
		}
		return strings.Join(out, "\n")
	}
	for name, text := range map[string]string{
		"empty":            "",
		"no root":          without("root "),
		"no log":           without("log "),
		"no witness":       without("witness ") + "\n",
		"no quorum":        without("quorum "),
		"no max-age":       without("max-age "),
		"quorum none":      without("quorum ") + "\nquorum none",
		"two roots":        good + lines[0],
		"two logs":         good + lines[1],
		"two max-ages":     good + "max-age 1h\n",
		"short max-age":    without("max-age ") + "\nmax-age 30s",
		"long max-age":     without("max-age ") + "\nmax-age 2400h",
		"bad root":         strings.Replace(good, lines[0], "root AAAA", 1),
		"bad log key":      strings.Replace(good, lines[1], "log example.org+00000000+AAAA", 1),
		"witness log key":  strings.Replace(good, lines[2], "witness w1.example "+e.log.VerifierKey(), 1),
		"unknown keyword":  good + "trust me\n",
		"quorum too large": strings.Replace(good, "group witnesses 2", "group witnesses 4", 1),
		"huge":             strings.Repeat("#", transparency.MaxPolicySize+1),
	} {
		if _, err := transparency.ParsePolicy([]byte(text)); transparency.KindOf(err) != transparency.MalformedPolicy {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestParseProof(t *testing.T) {
	e := newEnv(t)
	good := e.proof(testNow, 0, 1)
	p, err := transparency.ParseProof(good)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(p.Format(), good) {
		t.Fatal("proof does not re-encode to the same bytes")
	}
	s := string(good)
	for name, text := range map[string]string{
		"extra line":      strings.Replace(s, "index", "extra AAAA\nindex", 1),
		"index leading 0": strings.Replace(s, "index 1\n", "index 01\n", 1),
		"index negative":  strings.Replace(s, "index 1\n", "index -1\n", 1),
		"index plus":      strings.Replace(s, "index 1\n", "index +1\n", 1),
		"no index":        strings.Replace(s, "index 1\n", "", 1),
		"bad hash":        strings.Replace(s, "index 1\n", "index 1\nAAAA\n", 1),
		"no blank line":   strings.Replace(s, "\n\n", "\n", 1),
		"crlf":            strings.ReplaceAll(s, "\n", "\r\n"),
		"64 hashes":       strings.Replace(s, "index 1\n", "index 1\n"+strings.Repeat("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n", 64), 1),
		"huge":            s + strings.Repeat("x", transparency.MaxProofSize),
	} {
		if _, err := transparency.ParseProof([]byte(text)); transparency.KindOf(err) != transparency.NotLogged {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// BenchmarkVerify times the check of one proof bundle under a 2 of 3
// policy, and reports it as a ratio to one crypto/ed25519.Verify timed
// in the same iterations (x-stdlib):
//
//	go test ./internal/transparency -run '^$' -bench Verify -count 5
func BenchmarkVerify(b *testing.B) {
	e := newEnv(b)
	for range 998 {
		e.log.Append(9, []byte("filler"))
	}
	proof := e.proof(testNow, 0, 1, 2)
	pub, priv, _ := ed25519.GenerateKey(nil)
	msg := []byte("a message of about a checkpoint's length, with an origin, a size and a hash")
	sig := ed25519.Sign(priv, msg)
	var bundle, std time.Duration
	for b.Loop() {
		t0 := time.Now()
		if _, err := e.policy.Verify(e.record, proof, testNow); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if !ed25519.Verify(pub, msg, sig) {
			b.Fatal("stdlib")
		}
		bundle, std = bundle+t1.Sub(t0), std+time.Since(t1)
	}
	b.ReportMetric(float64(bundle.Microseconds())/float64(b.N), "µs/bundle")
	b.ReportMetric(float64(bundle)/float64(std), "x-stdlib")
	b.ReportMetric(float64(len(proof)), "bytes/bundle")
}

// BenchmarkBundleSize reports the size of a proof bundle under a
// checkpoint cosigned by three witnesses, for logs of 10^3 and 2^20
// directory records, and the time to check it (x-stdlib: a ratio to one
// crypto/ed25519.Verify in the same iterations):
//
//	go test ./internal/transparency -run '^$' -bench BundleSize -benchtime 200x
func BenchmarkBundleSize(b *testing.B) {
	for _, n := range []int64{1000, 1 << 20} {
		b.Run(strconv.FormatInt(n, 10), func(b *testing.B) {
			e := newEnv(b)
			for e.log.Tree.Size() < n {
				e.log.Tree.Append(transparency.Record(uint64(e.log.Tree.Size()), nil))
			}
			proof := e.log.Proof(1, e.log.Checkpoint(e.witnesses[0].At(testNow), e.witnesses[1].At(testNow), e.witnesses[2].At(testNow)))
			pub, priv, _ := ed25519.GenerateKey(nil)
			msg := []byte("a message of about a checkpoint's length, with an origin, a size and a hash")
			sig := ed25519.Sign(priv, msg)
			var bundle, std time.Duration
			b.ResetTimer()
			for b.Loop() {
				t0 := time.Now()
				if _, err := e.policy.Verify(e.record, proof, testNow); err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				ed25519.Verify(pub, msg, sig)
				bundle, std = bundle+t1.Sub(t0), std+time.Since(t1)
			}
			b.ReportMetric(float64(len(proof)), "bytes/bundle")
			b.ReportMetric(float64(bundle)/float64(std), "x-stdlib")
		})
	}
}

// TestPolicyRootKey: a policy cannot pin a root key that is not a valid
// Ed25519 public key.
func TestPolicyRootKey(t *testing.T) {
	e := newEnv(t)
	for name, k := range map[string][]byte{
		"all zeros":   make([]byte, 32),
		"small order": append([]byte{1}, make([]byte, 31)...), // the identity
	} {
		text := e.log.Policy(ed25519.PublicKey(k), e.witnesses, 2, time.Hour)
		if _, err := transparency.ParsePolicy(text); transparency.KindOf(err) != transparency.MalformedPolicy {
			t.Errorf("%s root: %v", name, err)
		}
	}
}
