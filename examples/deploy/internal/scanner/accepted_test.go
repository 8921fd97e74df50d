package scanner

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/statustoken/statustoken/examples/deploy/internal/directory"
	"github.com/statustoken/statustoken/examples/deploy/internal/witnesstest"
	"github.com/statustoken/statustoken/issue"
	"github.com/statustoken/statustoken/token"
)

// served is an issuer's directory endpoint that serves what it is given.
type served struct {
	mu  sync.Mutex
	pub token.Published
}

func (s *served) set(p token.Published) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pub = p
}

// serve serves s, with the signature and the proof in headers, until the
// test ends, and returns the issuer's URL.
func (s *served) serve(t *testing.T) string {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+directory.Path, func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		p := s.pub
		s.mu.Unlock()
		w.Header().Set(directory.SignatureHeader, base64.StdEncoding.EncodeToString(p.Signature))
		w.Header().Set(directory.ProofHeader, base64.StdEncoding.EncodeToString(p.Proof))
		w.Write(p.Directory)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL
}

// updateFiles returns an UpdateConfig that saves into dir.
func updateFiles(trust, issuer, dir string) UpdateConfig {
	return UpdateConfig{TrustFile: trust, Issuer: issuer,
		DirectoryFile: filepath.Join(dir, "d.json"), SignatureFile: filepath.Join(dir, "d.sig"),
		ProofFile: filepath.Join(dir, "d.proof"), AcceptedFile: filepath.Join(dir, "d.accepted")}
}

// savedFiles returns the contents of the files that Update writes.
func savedFiles(t *testing.T, c UpdateConfig) [][]byte {
	t.Helper()
	var out [][]byte
	for _, name := range []string{c.DirectoryFile, c.SignatureFile, c.ProofFile, c.AcceptedFile} {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, data)
	}
	return out
}

// refusedUpdate checks that err refuses the issuer's directory (not a
// setup error) with sentinel and a message with want, in the scanner's
// words, and that the saved files are still saved.
func refusedUpdate(t *testing.T, what string, err error, sentinel error, want string, c UpdateConfig, saved [][]byte) {
	t.Helper()
	var se *SetupError
	var le *token.LoadError
	if !errors.Is(err, sentinel) || !errors.As(err, &le) || errors.As(err, &se) || !strings.Contains(err.Error(), want) {
		t.Fatalf("%s: %v, want a refusal wrapping %v with %q", what, err, sentinel, want)
	}
	noPackageNames(t, what, err.Error())
	for i, data := range savedFiles(t, c) {
		if !bytes.Equal(data, saved[i]) {
			t.Fatalf("%s: saved file %d changed", what, i)
		}
	}
}

// TestUpdateStatusRenamed: an issuer restarted with its -statuses mapping
// swapped publishes a new directory, logged and freshly cosigned, that
// names status 1 red. A scanner that accepted green as status 1 refuses
// it in a later run, from its saved accepted state, and takes the next
// directory that keeps the names.
func TestUpdateStatusRenamed(t *testing.T) {
	_, root, _ := ed25519.GenerateKey(rand.Reader)
	issuerWith := func(list []token.StatusName) *issue.Issuer {
		seed := make([]byte, issue.SeedSize)
		rand.Read(seed)
		is, err := issue.NewIssuer(issue.Config{RootKey: root, Seed: seed, EpochLength: 24 * time.Hour, Statuses: list, Epochs: 1})
		if err != nil {
			t.Fatal(err)
		}
		return is
	}
	before := issuerWith(statuses) // 1=green,2=red
	after := issuerWith([]token.StatusName{{Code: 1, Name: "red"}, {Code: 2, Name: "green"}})
	env := witnesstest.NewEnv(before.RootPublicKey())
	dir := t.TempDir()
	trust := filepath.Join(dir, "trust.txt")
	os.WriteFile(trust, env.Policy(48*time.Hour), 0o644)
	var srv served
	c := updateFiles(trust, srv.serve(t), dir)
	publish := func(is *issue.Issuer, serial uint64) {
		t.Helper()
		data, sig, err := is.Directory(time.Now(), serial)
		if err != nil {
			t.Fatal(err)
		}
		p, err := env.Publish(data, sig, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		srv.set(p)
	}

	publish(before, 1)
	if u, err := Update(t.Context(), c); err != nil || u.Serial != 1 {
		t.Fatalf("serial 1: %v", err)
	}
	saved := savedFiles(t, c)
	publish(after, 2)
	_, err := Update(t.Context(), c)
	refusedUpdate(t, "renamed status", err, token.ErrStatusRenamed,
		`is refused: the directory (serial 2) renames a status accepted before (status 1 is named "red", accepted before as "green")`, c, saved)
	// Offline verification still names status 1 green.
	cfg := Config{TrustFile: trust, DirectoryFile: c.DirectoryFile, SignatureFile: c.SignatureFile, ProofFile: c.ProofFile, AcceptedFile: c.AcceptedFile, Single: true}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if name, _ := s.Directory().StatusName(1); name != "green" {
		t.Fatalf("status 1 is %q after the refusal", name)
	}
	// A scanner that accepted nothing before takes serial 2: the
	// accepted state is what refuses it.
	if u, err := Update(t.Context(), updateFiles(trust, c.Issuer, t.TempDir())); err != nil || u.Serial != 2 {
		t.Fatalf("serial 2 at a new scanner: %v", err)
	}
	// The issuer restarts with its first mapping: serial 3 is taken.
	publish(before, 3)
	if u, err := Update(t.Context(), c); err != nil || u.Serial != 3 {
		t.Fatalf("serial 3: %v", err)
	}
}

// TestUpdateNotNewest: a directory that is in the log, served with a
// proof under a fresh checkpoint, is refused when the log holds a newer
// one, and the newest is taken.
func TestUpdateNotNewest(t *testing.T) {
	e := newEnv(t) // serial 1, record 0
	var srv served
	srv.set(e.pub)
	c := updateFiles(e.trust, srv.serve(t), t.TempDir())
	if _, err := Update(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	saved := savedFiles(t, c)
	var logged []token.Published
	for serial := uint64(2); serial <= 3; serial++ {
		data, sig, _ := e.is.Directory(time.Now(), serial)
		p, err := e.log.Publish(data, sig, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		logged = append(logged, p)
	}
	two, err := e.log.Prove(1, logged[0].Directory, logged[0].Signature, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	srv.set(two)
	_, err = Update(t.Context(), c)
	refusedUpdate(t, "older logged directory", err, token.ErrNotNewest,
		"the issuer sent serial 2, which its log shows is not its newest directory (the directory is record 1 of a tree of 3", c, saved)
	srv.set(logged[1])
	if u, err := Update(t.Context(), c); err != nil || u.Serial != 3 || u.LogSize != 3 {
		t.Fatalf("serial 3: %+v %v", u, err)
	}
}

// TestUpdateLegacyState: a scanner that saved directories before the
// accepted state existed has a saved directory and a checkpoint file;
// while there is no accepted state file, Update takes its state from
// them, and then writes the accepted state file.
func TestUpdateLegacyState(t *testing.T) {
	e := newEnv(t)
	var srv served
	srv.set(e.pub)
	dir := t.TempDir()
	c := updateFiles(e.trust, srv.serve(t), dir)
	if _, err := Update(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	text, _ := os.ReadFile(c.AcceptedFile)
	acc, err := token.ParseAccepted(text, e.trustPolicy())
	if err != nil {
		t.Fatal(err)
	}
	// As an older scanner left its files.
	cp, _ := acc.Checkpoint.MarshalText()
	c.LegacyCheckpointFile = filepath.Join(dir, "d.checkpoint")
	os.WriteFile(c.LegacyCheckpointFile, cp, 0o644)
	os.Remove(c.AcceptedFile)
	// Serial 2 from a forked log (the log key, w1 and w2 compromised)
	// does not extend the checkpoint.
	data2, sig2, _ := e.is.Directory(time.Now(), 2)
	fork, err := issue.NewLog(e.log.LogKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	forked := &witnesstest.Env{LogKey: e.log.LogKey, Log: fork, Witnesses: e.log.Witnesses, Root: e.log.Root}
	p, err := forked.Publish(data2, sig2, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	srv.set(p)
	_, err = Update(t.Context(), c)
	var se *SetupError
	if !errors.Is(err, token.ErrInconsistent) || errors.As(err, &se) || !strings.Contains(err.Error(), "does not extend the one accepted before") {
		t.Fatalf("forked log under the legacy state: %v", err)
	}
	if _, err := os.Stat(c.AcceptedFile); err == nil {
		t.Fatal("accepted state written for a refused directory")
	}
	p, err = e.log.Publish(data2, sig2, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	srv.set(p)
	if u, err := Update(t.Context(), c); err != nil || u.Serial != 2 {
		t.Fatalf("serial 2: %v", err)
	}
	text, _ = os.ReadFile(c.AcceptedFile)
	if acc, err := token.ParseAccepted(text, e.trustPolicy()); err != nil || acc.Serial != 2 {
		t.Fatalf("accepted state written: %+v %v", acc, err)
	}
	if have, _ := os.ReadFile(c.LegacyCheckpointFile); !bytes.Equal(have, cp) {
		t.Fatal("the legacy checkpoint file was written")
	}

	// A damaged accepted state stops the update: it is a setup error.
	os.WriteFile(c.AcceptedFile, []byte(`{"serial":2}`), 0o644)
	if _, err := Update(t.Context(), c); !errors.As(err, &se) || !strings.Contains(err.Error(), "the saved accepted state "+c.AcceptedFile+" is damaged") {
		t.Fatalf("damaged accepted state: %v", err)
	}
}
