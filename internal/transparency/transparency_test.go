package transparency_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
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
	if c.N != 2 || c.Origin != "example.org/health/directory" || !c.Time().Equal(testNow) {
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
	record3 := transparency.Record(3, []byte("directory 3"))
	c3, err := e.policy.Verify(record3, e.log.Proof(2, e.log.Checkpoint(e.witnesses[1].At(testNow), e.witnesses[2].At(testNow))), testNow)
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
	cf, err := e.policy.Verify(transparency.Record(3, []byte("directory 3 with an extra key")), fork.Proof(2, fork.Checkpoint(e.witnesses[0].At(testNow), e.witnesses[2].At(testNow))), testNow)
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

// TestNotNewest: an older record of the log, with a valid inclusion proof
// under a fresh checkpoint, is refused: only the newest record of the
// checkpoint that proves it is accepted.
func TestNotNewest(t *testing.T) {
	e := newEnv(t)
	e.log.Append(3, []byte("directory 3"))
	_, err := e.policy.Verify(e.record, e.proof(testNow, 0, 1), testNow)
	if transparency.KindOf(err) != transparency.NotNewest {
		t.Fatalf("record 2 of 3: %v", err)
	}
	if _, err := e.policy.Verify(transparency.Record(3, []byte("directory 3")), e.log.Proof(2, e.log.Checkpoint(e.witnesses[0].At(testNow), e.witnesses[1].At(testNow))), testNow); err != nil {
		t.Fatalf("record 3 of 3: %v", err)
	}
}

// TestFreshness: each witness's freshest cosignature counts wherever it
// stands in the note; a cosignature dated beyond the skew does not; a
// zero time is an error.
func TestFreshness(t *testing.T) {
	e := newEnv(t)
	old := testNow.Add(-72 * time.Hour)
	cp := e.log.Checkpoint(e.witnesses[0].At(old), e.witnesses[1].At(old))
	if _, err := e.policy.OpenCheckpoint(cp, testNow); transparency.KindOf(err) != transparency.Stale {
		t.Fatalf("stale cosignatures: %v", err)
	}
	// A fresh repeat after the stale ones counts.
	fresh := logtest.Cosign(cp, e.witnesses[0].At(testNow), e.witnesses[1].At(testNow.Add(-time.Hour)))
	c, err := e.policy.OpenCheckpoint(fresh, testNow)
	if err != nil {
		t.Fatalf("fresh repeats after stale cosignatures: %v", err)
	}
	if !c.Time().Equal(testNow.Add(-time.Hour)) || len(c.Seen.Cosignatures) != 2 || !c.Seen.Cosignatures[0].Time.Equal(testNow) {
		t.Fatalf("quorum time %v, cosignatures %+v", c.Time(), c.Seen.Cosignatures)
	}
	// Witnesses whose clocks run ahead: within the skew they count, beyond
	// it they do not.
	ahead := e.log.Checkpoint(e.witnesses[0].At(testNow.Add(transparency.MaxFuture)), e.witnesses[1].At(testNow.Add(time.Minute)))
	if _, err := e.policy.OpenCheckpoint(ahead, testNow); err != nil {
		t.Fatalf("cosignatures within the skew: %v", err)
	}
	year := e.log.Checkpoint(e.witnesses[0].At(testNow.AddDate(1, 0, 0)), e.witnesses[1].At(testNow.AddDate(1, 0, 0)))
	if _, err := e.policy.OpenCheckpoint(year, testNow); transparency.KindOf(err) != transparency.Quorum {
		t.Fatalf("cosignatures a year ahead: %v", err)
	}
	if _, err := e.policy.OpenCheckpoint(year, testNow.AddDate(1, 0, 0)); err != nil {
		t.Fatalf("the same a year later: %v", err)
	}
	// One ahead, one fresh: the quorum is short.
	mixed := logtest.Cosign(e.log.Checkpoint(e.witnesses[0].At(testNow.Add(time.Hour))), e.witnesses[1].At(testNow))
	if _, err := e.policy.OpenCheckpoint(mixed, testNow); transparency.KindOf(err) != transparency.Quorum {
		t.Fatalf("one cosignature an hour ahead: %v", err)
	}
	if _, err := e.policy.OpenCheckpoint(fresh, time.Time{}); transparency.KindOf(err) != transparency.Stale {
		t.Fatalf("zero time: %v", err)
	}
	// The persisted form needs no clock.
	if _, err := e.policy.OpenPersisted(cp); err != nil {
		t.Fatalf("persisted stale checkpoint: %v", err)
	}
}

// TestCheckpointLines: a checkpoint carries exactly an origin, a size and
// a hash line, and signature lines in canonical base64.
func TestCheckpointLines(t *testing.T) {
	e := newEnv(t)
	good := string(e.log.Checkpoint(e.witnesses[0].At(testNow), e.witnesses[1].At(testNow)))
	if _, err := e.policy.OpenCheckpoint([]byte(good), testNow); err != nil {
		t.Fatal(err)
	}
	text, sigs, _ := strings.Cut(good, "\n\n")
	first, rest, _ := strings.Cut(sigs, "\n")
	// A signature line whose base64 has nonzero padding bits: the same
	// bytes to a lenient decoder.
	b64 := first[strings.LastIndex(first, " ")+1:]
	last := strings.IndexByte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", b64[len(b64)-2])
	lenient := b64[:len(b64)-2] + string("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"[last|1]) + "="
	for name, cp := range map[string]string{
		"extension line":      text + "\nextension\n\n" + sigs,
		"size with a zero":    strings.Replace(text, "\n2\n", "\n02\n", 1) + "\n\n" + sigs,
		"lenient base64":      text + "\n\n" + strings.Replace(first, b64, lenient, 1) + "\n" + rest,
		"no signature":        text + "\n\n",
		"carriage return":     strings.Replace(good, "\n", "\r\n", 1),
		"no final newline":    strings.TrimSuffix(good, "\n"),
		"missing origin line": strings.SplitN(text, "\n", 2)[1] + "\n\n" + sigs,
	} {
		if _, err := e.policy.OpenCheckpoint([]byte(cp), testNow); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestPolicyRules: the rules that make a policy mean what it says.
func TestPolicyRules(t *testing.T) {
	e := newEnv(t)
	root := base64.StdEncoding.EncodeToString(ed25519.NewKeyFromSeed(make([]byte, 32)).Public().(ed25519.PublicKey))
	head := "root " + root + "\nlog " + e.log.VerifierKey() + "\nmax-age 48h\n"
	var ws []string
	for i := range 5 {
		w := logtest.NewWitness("w" + strconv.Itoa(i))
		ws = append(ws, "witness w"+strconv.Itoa(i)+" "+w.VerifierKey()+"\n")
	}
	three := head + ws[0] + ws[1] + ws[2]
	// A witness key of the identity point (small order), with a correct
	// hash: anyone could forge its cosignatures.
	identity := append([]byte{0x04, 1}, make([]byte, 31)...)
	idKey := "bad+" + keyHashHex("bad", identity) + "+" + base64.StdEncoding.EncodeToString(identity)
	// The log key with a non-canonical encoding (y = p, which reduces to 0).
	nonCanon := append([]byte{0x01}, hexBytes("edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f")...)
	ncKey := "example.org/health/directory+" + keyHashHex("example.org/health/directory", nonCanon) + "+" + base64.StdEncoding.EncodeToString(nonCanon)
	for name, tc := range map[string]struct {
		text string
		ok   bool
	}{
		"majority":                {three + "group g 2 w0 w1 w2\nquorum g\n", true},
		"nested majority":         {head + ws[0] + ws[1] + ws[2] + ws[3] + ws[4] + "group a 2 w0 w1 w2\ngroup b all w3 w4\ngroup q all a b\nquorum q\n", true},
		"issue-max-age":           {three + "group g 2 w0 w1 w2\nquorum g\nissue-max-age 2h\n", true},
		"one witness":             {head + ws[0] + "quorum w0\n", true},
		"minority":                {three + "group g 1 w0 w1 w2\nquorum g\n", false},
		"any":                     {three + "group g any w0 w1 w2\nquorum g\n", false},
		"half":                    {head + ws[0] + ws[1] + ws[2] + ws[3] + "group g 2 w0 w1 w2 w3\nquorum g\n", false},
		"unused witnesses count":  {three + "group g 1 w0\nquorum g\n", false},
		"nested minority":         {head + ws[0] + ws[1] + ws[2] + ws[3] + ws[4] + "group a any w0 w1 w2\ngroup b 1 w3 w4\ngroup q all a b\nquorum q\n", false},
		"member of two groups":    {three + "group a 2 w0 w1\ngroup b 2 w1 w2\ngroup q 2 a b\nquorum q\n", false},
		"member twice":            {three + "group g 2 w0 w0 w1\nquorum g\n", false},
		"group before member":     {head + ws[0] + "group g all w0 w1\n" + ws[1] + "quorum g\n", false},
		"one key under two names": {three + strings.Replace(ws[0], "witness w0", "witness w9", 1) + "group g all w0 w1 w2 w9\nquorum g\n", false},
		"identity witness key":    {three + "witness bad " + idKey + "\ngroup g all w0 w1 w2 bad\nquorum g\n", false},
		"non-canonical log key":   {strings.Replace(three, e.log.VerifierKey(), ncKey, 1) + "group g 2 w0 w1 w2\nquorum g\n", false},
		"issue-max-age too long":  {three + "group g 2 w0 w1 w2\nquorum g\nissue-max-age 49h\n", false},
		"two issue-max-ages":      {three + "group g 2 w0 w1 w2\nquorum g\nissue-max-age 2h\nissue-max-age 3h\n", false},
		"fractional max-age":      {strings.Replace(three, "max-age 48h", "max-age 90.5s", 1) + "group g 2 w0 w1 w2\nquorum g\n", false},
		"name reused":             {three + "group w0 2 w0 w1 w2\nquorum w0\n", false},
		"quorum unknown":          {three + "group g 2 w0 w1 w2\nquorum h\n", false},
		"hash in upper case":      {strings.Replace(three, ws[0], strings.ToUpper(ws[0][:0])+upperHash(ws[0]), 1) + "group g 2 w0 w1 w2\nquorum g\n", false},
	} {
		p, err := transparency.ParsePolicy([]byte(tc.text))
		switch {
		case tc.ok && err != nil:
			t.Errorf("%s: %v", name, err)
		case !tc.ok && transparency.KindOf(err) != transparency.MalformedPolicy:
			t.Errorf("%s: %v, want a malformed policy", name, err)
		case tc.ok && name == "issue-max-age" && p.IssueMaxAge != 2*time.Hour:
			t.Errorf("issue-max-age %v", p.IssueMaxAge)
		}
	}
}

// TestPolicyLinearTime: a policy of the largest size, nested as deeply as
// it can be, parses and evaluates in time linear in its size, where a
// policy evaluator that re-evaluates shared members takes exponential
// time. A budget in operations, not in seconds, keeps it independent of
// the machine's load: the deepest nesting is evaluated many times within
// a generous bound.
func TestPolicyLinearTime(t *testing.T) {
	e := newEnv(t)
	root := base64.StdEncoding.EncodeToString(ed25519.NewKeyFromSeed(make([]byte, 32)).Public().(ed25519.PublicKey))
	var b strings.Builder
	b.WriteString("root " + root + "\nlog " + e.log.VerifierKey() + "\nmax-age 48h\n")
	w := logtest.NewWitness("w")
	b.WriteString("witness w " + w.VerifierKey() + "\n")
	prev := "w"
	for i := 0; b.Len() < transparency.MaxPolicySize-100; i++ {
		name := "g" + strconv.Itoa(i)
		b.WriteString("group " + name + " all " + prev + "\n")
		prev = name
	}
	b.WriteString("quorum " + prev + "\n")
	p, err := transparency.ParsePolicy([]byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	cp := e.log.Checkpoint(w.At(testNow))
	allocs := testing.AllocsPerRun(3, func() {
		if _, err := p.OpenCheckpoint(cp, testNow); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 100 {
		t.Errorf("%v allocations per check of a %d-byte policy", allocs, b.Len())
	}
}

func keyHashHex(name string, typedKey []byte) string {
	h := sha256.Sum256(append([]byte(name+"\n"), typedKey...))
	return hex.EncodeToString(h[:4])
}

func hexBytes(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// upperHash returns a witness line with its key hash in upper case.
func upperHash(line string) string {
	i := strings.Index(line, "+")
	return line[:i+1] + strings.ToUpper(line[i+1:i+9]) + line[i+9:]
}
