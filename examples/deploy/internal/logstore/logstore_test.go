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

// TestDamagedAndRolledBack: a records file cut within a cosigned record,
// one restored from an older copy, or one whose bytes changed is refused
// at Open or by Contains, and nothing is changed; a partial record beyond
// the cosigned tree is a write that never finished, and is dropped.
func TestDamagedAndRolledBack(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	records := filepath.Join(dir, "log", "records")
	is := testIssuer(t)
	s, err := Open(dir, origin)
	if err != nil {
		t.Fatal(err)
	}
	var cps [][]byte
	for serial := uint64(1); serial <= 3; serial++ {
		data, sig, _ := is.Directory(time.Now(), serial)
		if _, err := s.Append(data, sig); err != nil {
			t.Fatal(err)
		}
		cp, err := s.Log().Checkpoint()
		if err != nil {
			t.Fatal(err)
		}
		if err := s.SaveCheckpoint(cp); err != nil {
			t.Fatal(err)
		}
		cps = append(cps, cp)
	}
	s.Close()
	full, err := os.ReadFile(records)
	if err != nil {
		t.Fatal(err)
	}
	write := func(data []byte) {
		t.Helper()
		if err := os.WriteFile(records, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	refused := func(sentinel error, want string) {
		t.Helper()
		before, _ := os.ReadFile(records)
		s, err := Open(dir, origin)
		if err == nil {
			s.Close()
			t.Fatalf("Open accepted a records file of %d bytes", len(before))
		}
		if !errors.Is(err, sentinel) || !strings.Contains(err.Error(), want) || !strings.Contains(strings.ToLower(err.Error()), "restore") {
			t.Fatalf("Open: %v, want %v with %q and what to restore", err, sentinel, want)
		}
		if after, _ := os.ReadFile(records); !bytes.Equal(before, after) {
			t.Fatal("a refused Open changed the records file")
		}
	}

	// Five bytes cut from the end: the third record, cosigned, is lost.
	write(full[:len(full)-5])
	refused(ErrDamaged, "cut 36 bytes into record 2, which the witnesses cosigned")
	// An older copy of the records file, under the newer checkpoint.
	write(full[:2*token.LogRecordSize])
	refused(ErrRolledBack, "holds 2 records, but the witnesses cosigned a tree of 3")
	// A changed byte.
	bad := bytes.Clone(full)
	bad[token.LogRecordSize+20] ^= 1
	write(bad)
	refused(ErrDamaged, "do not hash to the tree the witnesses cosigned")

	// The whole log restored from an older copy, its checkpoint too: the
	// store is consistent, but not with the checkpoint the caller kept.
	write(full[:2*token.LogRecordSize])
	if err := os.WriteFile(filepath.Join(dir, "log", "checkpoint"), cps[1], 0o600); err != nil {
		t.Fatal(err)
	}
	s, err = Open(dir, origin)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Contains(cps[1]); err != nil {
		t.Fatalf("Contains of its own checkpoint: %v", err)
	}
	if err := s.Contains(cps[2]); !errors.Is(err, ErrRolledBack) {
		t.Fatalf("Contains of a newer checkpoint: %v", err)
	}
	s.Close()

	// A partial record beyond the cosigned tree is dropped.
	write(append(bytes.Clone(full[:2*token.LogRecordSize]), full[2*token.LogRecordSize:len(full)-5]...))
	s, err = Open(dir, origin)
	if err != nil || !s.Repaired || s.Log().Size() != 2 {
		t.Fatalf("partial record beyond the cosigned tree: %v", err)
	}
	s.Close()
	if fi, _ := os.Stat(records); fi.Size() != 2*token.LogRecordSize {
		t.Fatalf("records file of %d bytes after the repair", fi.Size())
	}
}
