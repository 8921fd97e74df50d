package issuer

import (
	"bytes"
	"context"
	"encoding/base64"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/statustoken/statustoken/examples/deploy/internal/logstore"
	"github.com/statustoken/statustoken/holder"
	"github.com/statustoken/statustoken/token"
	"golang.org/x/mod/sumdb/tlog"
)

func TestTransparencyEndpoints(t *testing.T) {
	f := newFixture(t, 10)
	p := f.published()
	if _, _, err := token.Open(p, f.trust(), token.Accepted{}, time.Now()); err != nil {
		t.Fatalf("the directory served does not open under trust.txt: %v", err)
	}
	resp := f.get(directoryPath)
	readAll(t, resp)
	etag := resp.Header.Get("ETag")

	// The proof's own path: the same bytes and ETag, as text.
	presp := f.get(proofPath)
	if got := readAll(t, presp); !bytes.Equal(got, p.Proof) || presp.Header.Get("ETag") != etag ||
		presp.Header.Get("Content-Type") != "text/plain; charset=utf-8" {
		t.Fatalf("proof path: %q (ETag %s)", got, presp.Header.Get("ETag"))
	}
	if !bytes.HasPrefix(p.Proof, []byte("c2sp.org/tlog-proof@v1\nindex 0\n")) {
		t.Fatalf("proof: %q", p.Proof)
	}

	// The checkpoint: the one in the proof, cosigned by all three.
	cresp := f.get(checkpointPath)
	cp := readAll(t, cresp)
	if !bytes.HasSuffix(p.Proof, cp) || cresp.Header.Get("Cache-Control") != checkpointAge {
		t.Fatalf("checkpoint %q (Cache-Control %q) is not the proof's", cp, cresp.Header.Get("Cache-Control"))
	}
	if !bytes.HasPrefix(cp, []byte(testOrigin+"\n1\n")) || bytes.Count(cp, []byte("\n— w")) != 3 {
		t.Fatalf("checkpoint: %q", cp)
	}

	// A second directory: a log of two records, both archived.
	if err := f.srv.pub.publish(context.Background(), time.Now()); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path, cache string
		want        []byte
	}{
		{tilePrefix + "0/000.p/2", partialTileAge, nil},
		{tilePrefix + "entries/000.p/2", partialTileAge, nil},
	} {
		resp := f.get(c.path)
		body := readAll(t, resp)
		if resp.StatusCode != 200 || resp.Header.Get("Cache-Control") != c.cache || len(body) == 0 {
			t.Errorf("%s: %d %q, %d bytes", c.path, resp.StatusCode, resp.Header.Get("Cache-Control"), len(body))
		}
		if strings.Contains(c.path, "/0/") && len(body) != 2*tlog.HashSize {
			t.Errorf("%s: %d bytes, want two hashes", c.path, len(body))
		}
	}
	for serial := uint64(1); serial <= 2; serial++ {
		data, sig, err := f.srv.pub.logs.Archived(serial)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := token.OpenDirectory(data, sig, f.root()); err != nil {
			t.Fatal(err)
		}
		base := archivePrefix + map[uint64]string{1: "1", 2: "2"}[serial]
		if r := f.get(base); !bytes.Equal(readAll(t, r), data) || r.Header.Get("Cache-Control") != immutable || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s: not the directory, or not immutable", base)
		}
		if r := f.get(base + ".sig"); !bytes.Equal(readAll(t, r), sig) {
			t.Errorf("%s.sig: not the signature", base)
		}
	}
	for _, missing := range []string{archivePrefix + "3", archivePrefix + "01", archivePrefix + "x.sig", tilePrefix + "0/000", tilePrefix + "0/000.p/3", tilePrefix + "nonsense"} {
		r := f.get(missing)
		readAll(t, r)
		if r.StatusCode != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", missing, r.StatusCode)
		}
	}
	// The wallet that accepted serial 1 accepts serial 2: its log extends
	// the one of serial 1.
	h, err := holder.New(p, f.trust(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Update(f.published()); err != nil || h.Directory().Serial != 2 {
		t.Fatalf("update to serial 2: %v", err)
	}
	// Every witness is now at size 2, and the issuer knows it.
	for _, w := range f.witnesses {
		if n := w.Size(testOrigin); n != 2 {
			t.Errorf("witness %s at size %d", w.Name(), n)
		}
		if n := f.srv.pub.logs.WitnessSize(w.VerifierKey()); n != 2 {
			t.Errorf("issuer's record of witness %s: size %d", w.Name(), n)
		}
	}
}

func TestTrustFile(t *testing.T) {
	f := newFixture(t, 10)
	text, err := os.ReadFile(filepath.Join(f.cfg.StateDir, trustFile))
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(filepath.Join(f.cfg.StateDir, trustFile))
	if fi.Mode().Perm() != 0o644 {
		t.Errorf("trust.txt has mode %04o", fi.Mode().Perm())
	}
	for _, want := range []string{
		"\nroot " + base64.StdEncoding.EncodeToString(f.root()) + "\n",
		"\nlog " + f.srv.pub.logs.Log().VerifierKey() + "\n",
		"\nwitness w1.example " + f.witnesses[0].VerifierKey() + " http://127.0.0.1:",
		"\ngroup witnesses 2 w1.example w2.example w3.example\nquorum witnesses\nmax-age 48h\nissue-max-age 2h\n",
	} {
		if !strings.Contains(string(text), want) {
			t.Errorf("trust.txt lacks %q:\n%s", want, text)
		}
	}
	if f.trust().MaxAge() != 48*time.Hour || f.trust().IssueMaxAge() != 2*time.Hour || f.trust().LogOrigin() != testOrigin {
		t.Fatalf("trust.txt: max-age %v, issue-max-age %v, origin %q", f.trust().MaxAge(), f.trust().IssueMaxAge(), f.trust().LogOrigin())
	}
	// The witnesses cosign again at least twice within issue-max-age.
	if f.cfg.CosignEvery > f.trust().IssueMaxAge()/2 {
		t.Fatalf("-cosign-every %v, issue-max-age %v", f.cfg.CosignEvery, f.trust().IssueMaxAge())
	}
}

// TestQuorumNotReached takes two of the three witnesses offline: a new
// directory is logged but not served, the previous one stays, and once
// the witnesses are back a cosigning round publishes the new one.
func TestQuorumNotReached(t *testing.T) {
	f := newFixture(t, 10)
	first := f.published()
	f.witnesses[0].Offline.Store(true)
	f.witnesses[2].Offline.Store(true)
	err := f.srv.pub.publish(context.Background(), time.Now())
	if err == nil || !strings.Contains(err.Error(), "1 of 3 witnesses cosigned") || !strings.Contains(err.Error(), "quorum is 2") {
		t.Fatalf("publication with one witness: %v", err)
	}
	if got := f.published(); !bytes.Equal(got.Directory, first.Directory) || !bytes.Equal(got.Proof, first.Proof) {
		t.Fatal("the directory served changed without a quorum")
	}
	if f.srv.pub.logs.Size() != 2 {
		t.Fatalf("log size %d: the new directory should be logged", f.srv.pub.logs.Size())
	}
	if !strings.Contains(f.log.String(), "witness did not cosign") {
		t.Fatalf("no witness failure in the log:\n%s", f.log)
	}
	f.witnesses[0].Offline.Store(false)
	f.srv.pub.pubMu.Lock()
	err = f.srv.pub.cosign(context.Background(), time.Now())
	f.srv.pub.pubMu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	p := f.published()
	d, _, err := token.Open(p, f.trust(), token.Accepted{}, time.Now())
	if err != nil || d.Serial != 2 {
		t.Fatalf("after the witnesses are back: %v", err)
	}
	// The witness that was offline had stayed at size 1; the one that
	// cosigned alone at size 2.
	if n := f.witnesses[2].Size(testOrigin); n != 1 {
		t.Fatalf("offline witness at size %d", n)
	}
}

// TestWrongWitnessKey lists a witness under a key it does not have: its
// cosignatures do not count.
func TestWrongWitnessKey(t *testing.T) {
	cfg := testConfig(t)
	ws := setupWitnesses(t, cfg)
	AddHolder(cfg.HoldersPath(), "green", testStatuses, DefaultReasons(testStatuses))
	text, _ := os.ReadFile(cfg.Witnesses)
	text = bytes.Replace(text, []byte(ws[2].VerifierKey()), []byte(strings.Replace(ws[1].VerifierKey(), "w2.example", "w3.example", 1)), 1)
	os.WriteFile(cfg.Witnesses, text, 0o644)
	// The key hash no longer matches the name: the file is refused.
	if _, err := open(*cfg, quiet, time.Now); err == nil || !strings.Contains(err.Error(), "not a cosignature verifier key") {
		t.Fatalf("witness line with a forged vkey: %v", err)
	}
	// A well-formed key of another witness: w3 answers, but its
	// cosignature does not verify under the key listed.
	other := setupWitnesses(t, testConfig(t))[2]
	text = bytes.Replace(text, []byte(strings.Replace(ws[1].VerifierKey(), "w2.example", "w3.example", 1)), []byte(other.VerifierKey()), 1)
	os.WriteFile(cfg.Witnesses, text, 0o644)
	cfg.Quorum = 3
	logs := &syncBuffer{}
	s := startService(t, cfg, slog.New(slog.NewTextHandler(logs, nil)), time.Now)
	if s.pub.current() != nil || !strings.Contains(logs.String(), "no valid cosignature by this witness") {
		t.Fatalf("served without three valid cosignatures:\n%s", logs)
	}
}

// TestFirstRunWithoutQuorum starts the service while the witnesses are
// down: it runs, answers 503 for the directory, and publishes once they
// are back.
func TestFirstRunWithoutQuorum(t *testing.T) {
	cfg := testConfig(t)
	ws := setupWitnesses(t, cfg)
	AddHolder(cfg.HoldersPath(), "green", testStatuses, DefaultReasons(testStatuses))
	for _, w := range ws {
		w.Offline.Store(true)
	}
	logs := &syncBuffer{}
	s := startService(t, cfg, slog.New(slog.NewTextHandler(logs, nil)), time.Now)
	if !strings.Contains(logs.String(), "publication incomplete") || !strings.Contains(logs.String(), "serving_serial=none") {
		t.Fatalf("log:\n%s", logs)
	}
	for _, path := range []string{directoryPath, signaturePath, proofPath, checkpointPath} {
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" || !strings.Contains(rec.Body.String(), "witnesses") {
			t.Errorf("%s before any cosigning: %d %q", path, rec.Code, rec.Body.String())
		}
	}
	if storedSerial(t, cfg) != "none" {
		t.Fatalf("serial %s stored for a directory never served", storedSerial(t, cfg))
	}
	for _, w := range ws {
		w.Offline.Store(false)
	}
	s.pub.pubMu.Lock()
	err := s.pub.cosign(context.Background(), time.Now())
	s.pub.pubMu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, directoryPath, nil))
	if rec.Code != 200 || rec.Header().Get(proofHeader) == "" || storedSerial(t, cfg) != "1" {
		t.Fatalf("after cosigning: %d, serial %s stored", rec.Code, storedSerial(t, cfg))
	}
}

// TestRestart checks what a restart keeps: the log's records, the
// witnesses' sizes, and the directory served, which is served again while
// the witnesses are down; that a directory logged but never served is
// served at the next start when still current; and that losing the
// witnesses' sizes costs only a 409 and a retry.
func TestRestart(t *testing.T) {
	f := newFixture(t, 10)
	first := f.published()
	f.srv.Close()

	// A restart with a new directory (-republish) while the witnesses are
	// down: serial 2 is logged, not served, and not stored as served.
	for _, w := range f.witnesses {
		w.Offline.Store(true)
	}
	cfg := *f.cfg
	cfg.Republish = true
	s2 := startService(t, &cfg, quiet, time.Now)
	cur := s2.pub.current()
	if cur == nil || cur.serial != 1 || !bytes.Equal(cur.proof, first.Proof) {
		t.Fatalf("after a restart without witnesses: serving %+v, want serial 1 again", cur)
	}
	if s2.pub.logs.Size() != 2 || storedSerial(t, f.cfg) != "1" {
		t.Fatalf("log of %d records after the restart, serial %s stored; want 2 records, serial 1", s2.pub.logs.Size(), storedSerial(t, f.cfg))
	}
	s2.Close()

	// The issuer forgets the witnesses' sizes: each answers 409 with its
	// size, and the issuer retries once with it. Serial 2, still current,
	// is served without a new record.
	os.Remove(filepath.Join(f.cfg.StateDir, "log", "witnesses"))
	var before []int64
	for _, w := range f.witnesses {
		w.Offline.Store(false)
		before = append(before, w.Requests.Load())
	}
	s3 := startService(t, f.cfg, quiet, time.Now)
	cur = s3.pub.current()
	if cur == nil || cur.serial != 2 || storedSerial(t, f.cfg) != "2" {
		t.Fatalf("after a restart with the witnesses back: %+v, serial %s stored", cur, storedSerial(t, f.cfg))
	}
	for i, w := range f.witnesses {
		if n := w.Requests.Load() - before[i]; n != 2 {
			t.Errorf("witness %s got %d requests, want 2 (a 409, then the retry)", w.Name(), n)
		}
		if n := w.Size(testOrigin); n != 2 {
			t.Errorf("witness %s at size %d, want 2", w.Name(), n)
		}
	}
	// The log on Tessera holds the two records.
	cp, err := os.ReadFile(filepath.Join(f.cfg.StateDir, "log", "tree", "checkpoint"))
	if err != nil || !strings.HasPrefix(string(cp), testOrigin+"\n2\n") {
		t.Fatalf("the log's checkpoint: %v %q", err, cp)
	}
}

// TestRefresh runs the publisher: it has the witnesses cosign the same
// tree again every cosignEvery, with newer timestamps, keeps the proof
// served when a round fails, and refreshes it again afterwards.
func TestRefresh(t *testing.T) {
	f := newFixture(t, 10)
	var tick atomic.Int64
	for _, w := range f.witnesses {
		w.Now = func() time.Time { return time.Now().Add(time.Duration(tick.Add(1)) * time.Second) }
	}
	f.srv.pub.pubMu.Lock()
	f.srv.pub.cosignEvery, f.srv.pub.retry = 50*time.Millisecond, 50*time.Millisecond
	f.srv.pub.cosignAt = time.Now()
	f.srv.pub.pubMu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		f.srv.pub.run(ctx, time.Now)
		close(done)
	}()
	defer func() {
		cancel()
		<-done
	}()
	first := f.published()
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s; log:\n%s", what, f.log)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	var refreshed token.Published
	waitFor("a refreshed proof", func() bool {
		refreshed = f.published()
		return !bytes.Equal(refreshed.Proof, first.Proof)
	})
	if !bytes.Equal(refreshed.Directory, first.Directory) {
		t.Fatal("a refresh changed the directory")
	}
	c1, err := token.ParseCheckpoint(proofCheckpoint(first.Proof), f.trust())
	if err != nil {
		t.Fatal(err)
	}
	c2, err := token.ParseCheckpoint(proofCheckpoint(refreshed.Proof), f.trust())
	if err != nil {
		t.Fatal(err)
	}
	if c1.Size() != c2.Size() || !c2.Time().After(c1.Time()) {
		t.Fatalf("refresh: size %d -> %d, time %v -> %v", c1.Size(), c2.Size(), c1.Time(), c2.Time())
	}

	// Two witnesses down: rounds fail, the proof served stays.
	f.witnesses[1].Offline.Store(true)
	f.witnesses[2].Offline.Store(true)
	waitFor("a failed round", func() bool { return strings.Contains(f.log.String(), "cosigning the log failed") })
	held := f.published()
	time.Sleep(150 * time.Millisecond)
	if !bytes.Equal(f.published().Proof, held.Proof) {
		t.Fatal("the proof changed without a quorum")
	}
	f.witnesses[1].Offline.Store(false)
	waitFor("a refresh after the witnesses are back", func() bool { return !bytes.Equal(f.published().Proof, held.Proof) })
}

// proofCheckpoint returns the checkpoint of a proof bundle.
func proofCheckpoint(proof []byte) []byte {
	_, cp, _ := bytes.Cut(proof, []byte("\n\n"))
	return cp
}

func TestLogKey(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "st")
	infos, err := LogKey(dir, "")
	if err != nil || len(infos) != 2 || infos[1].Origin != DefaultOrigin+DecisionsSuffix || !infos[1].Created {
		t.Fatalf("LogKey: %v %+v", err, infos)
	}
	info := infos[0]
	if err != nil || !info.Created || info.Origin != DefaultOrigin || !strings.HasPrefix(info.VerifierKey, DefaultOrigin+"+") {
		t.Fatalf("LogKey: %+v %v", info, err)
	}
	if again, err := LogKey(dir, ""); err != nil || again[0].Created || again[0].VerifierKey != info.VerifierKey || again[1] != (LogInfo{Origin: infos[1].Origin, VerifierKey: infos[1].VerifierKey}) {
		t.Fatalf("second LogKey: %+v %v", again, err)
	}
	if again, err := LogKey(dir, DefaultOrigin); err != nil || again[0].VerifierKey != info.VerifierKey {
		t.Fatalf("LogKey with its origin: %+v %v", again, err)
	}
	if _, err := LogKey(dir, "other.example/log"); err == nil || !strings.Contains(err.Error(), "origin never changes") {
		t.Fatalf("another origin: %v", err)
	}
	fi, err := os.Stat(filepath.Join(dir, "log.key"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("log.key: %v", err)
	}
	if origin, err := logstore.Origin(dir, logstore.Directories); err != nil || origin != DefaultOrigin {
		t.Fatalf("origin %q %v", origin, err)
	}
}

// TestMinorityQuorum: a quorum of half of the witnesses or fewer, which
// the trust policies of wallets and scanners may not have, is refused
// before any trust.txt is written.
func TestMinorityQuorum(t *testing.T) {
	cfg := testConfig(t)
	setupWitnesses(t, cfg)
	AddHolder(cfg.HoldersPath(), "green", testStatuses, DefaultReasons(testStatuses))
	cfg.Quorum = 1
	if _, err := open(*cfg, quiet, time.Now); err == nil ||
		!strings.Contains(err.Error(), "-quorum 1: the witnesses file "+cfg.Witnesses+" lists 3 witnesses, and the quorum must be more than half of them (at least 2)") {
		t.Fatalf("quorum of 1 of 3 witnesses: %v", err)
	}
	if _, err := os.Stat(filepath.Join(cfg.StateDir, trustFile)); err == nil {
		t.Fatal("trust.txt written for a minority quorum")
	}
}
