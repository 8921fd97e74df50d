package logstore

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/statustoken/statustoken/issue"
	"github.com/statustoken/statustoken/token"
)

const origin = "statustoken.test/logstore/directory"

func testIssuer(t *testing.T) *issue.Issuer {
	_, root, _ := ed25519.GenerateKey(rand.Reader)
	is, err := issue.NewIssuer(issue.Config{RootKey: root, Seed: make([]byte, issue.SeedSize), EpochLength: time.Hour,
		Statuses: []token.StatusName{{Code: 1, Name: "green"}}})
	if err != nil {
		t.Fatal(err)
	}
	return is
}

func TestStore(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	is := testIssuer(t)
	s, err := Open(dir, origin)
	if err != nil {
		t.Fatal(err)
	}
	if !s.Created || s.Log().Origin() != origin || s.Log().Size() != 0 {
		t.Fatalf("new store: created %v, origin %q, size %d", s.Created, s.Log().Origin(), s.Log().Size())
	}
	vkey := s.Log().VerifierKey()
	if _, _, ok := s.Last(); ok {
		t.Fatal("Last of an empty log")
	}
	var dirs, sigs [][]byte
	for serial := uint64(1); serial <= 3; serial++ {
		data, sig, _ := is.Directory(time.Now(), serial)
		i, err := s.Append(data, sig)
		if err != nil || i != int64(serial-1) {
			t.Fatalf("append %d: %d %v", serial, i, err)
		}
		dirs, sigs = append(dirs, data), append(sigs, sig)
	}
	if _, err := s.Append(dirs[1], sigs[1]); err == nil || !strings.Contains(err.Error(), "already in the log") {
		t.Fatalf("serial 2 again: %v", err)
	}
	if _, err := s.Append([]byte("{}"), sigs[0]); err == nil {
		t.Fatal("a non-directory appended")
	}
	if err := s.SetWitnessSizes(map[string]int64{"w1+00000000+AA==": 3, "w2+00000000+AA==": 2}); err != nil {
		t.Fatal(err)
	}
	cp, _ := s.Log().Checkpoint()
	if err := s.SaveCheckpoint(cp); err != nil {
		t.Fatal(err)
	}
	s.Close()

	// Reopened, with an incomplete record at the end (a write that never
	// finished): everything back, the tail dropped.
	f, _ := os.OpenFile(filepath.Join(dir, "log", "records"), os.O_WRONLY|os.O_APPEND, 0)
	f.Write([]byte{1, 0, 0})
	f.Close()
	s, err = Open(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Created || !s.Repaired || s.Log().VerifierKey() != vkey || s.Log().Size() != 3 {
		t.Fatalf("reopened: created %v, repaired %v, size %d", s.Created, s.Repaired, s.Log().Size())
	}
	for serial := uint64(1); serial <= 3; serial++ {
		data, sig, err := s.Archived(serial)
		if err != nil || !bytes.Equal(data, dirs[serial-1]) || !bytes.Equal(sig, sigs[serial-1]) {
			t.Fatalf("archived %d: %v", serial, err)
		}
		if i, ok := s.Index(serial); !ok || i != int64(serial-1) {
			t.Fatalf("index of %d: %d %v", serial, i, ok)
		}
	}
	if _, _, err := s.Archived(4); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("serial 4: %v", err)
	}
	if serial, i, ok := s.Last(); !ok || serial != 3 || i != 2 {
		t.Fatalf("Last: serial %d, index %d, %v", serial, i, ok)
	}
	if s.WitnessSize("w1+00000000+AA==") != 3 || s.WitnessSize("w2+00000000+AA==") != 2 || s.WitnessSize("w3") != 0 {
		t.Fatal("witness sizes not kept")
	}
	if have, err := s.Checkpoint(); err != nil || !bytes.Equal(have, cp) {
		t.Fatalf("checkpoint: %v", err)
	}
	// The next record goes after the three, not after the dropped bytes.
	data, sig, _ := is.Directory(time.Now(), 4)
	if i, err := s.Append(data, sig); err != nil || i != 3 {
		t.Fatalf("append after repair: %d %v", i, err)
	}
	if fi, _ := os.Stat(filepath.Join(dir, "log", "records")); fi.Size() != 4*token.LogRecordSize {
		t.Fatalf("records file of %d bytes", fi.Size())
	}
	if o, err := Origin(dir); err != nil || o != origin {
		t.Fatalf("Origin: %q %v", o, err)
	}
	if o, err := Origin(t.TempDir()); err != nil || o != "" {
		t.Fatalf("Origin without a key: %q %v", o, err)
	}
}

func TestOpenRefusals(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	s, err := Open(dir, origin)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := Open(dir, "other.example/log"); err == nil || !strings.Contains(err.Error(), "origin never changes") {
		t.Fatalf("other origin: %v", err)
	}
	if _, err := Open(filepath.Join(t.TempDir(), "new"), ""); err == nil || !strings.Contains(err.Error(), "no log origin") {
		t.Fatalf("no key, no origin: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "log", "witnesses"), []byte(`{"witnesses":[],"extra":1}`), 0o600)
	if _, err := Open(dir, origin); err == nil || !strings.Contains(err.Error(), "witnesses") {
		t.Fatalf("bad witnesses file: %v", err)
	}
	os.Remove(filepath.Join(dir, "log", "witnesses"))
	os.WriteFile(filepath.Join(dir, "log.key"), []byte("PRIVATE+KEY+nonsense\n"), 0o600)
	if _, err := Open(dir, ""); err == nil || !strings.Contains(err.Error(), "not a note signer key") {
		t.Fatalf("bad key: %v", err)
	}
	os.Chmod(filepath.Join(dir, "log.key"), 0o644)
	if _, err := Open(dir, ""); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("key readable by others: %v", err)
	}
}
