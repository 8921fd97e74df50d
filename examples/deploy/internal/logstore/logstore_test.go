package logstore

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/statustoken/statustoken/examples/deploy/internal/tlog"
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
	ctx := context.Background()
	s, err := Open(dir, Directories, origin, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !s.Created || s.Log().Origin() != origin || s.Size() != 0 {
		t.Fatalf("new store: created %v, origin %q, size %d", s.Created, s.Log().Origin(), s.Size())
	}
	vkey := s.Log().VerifierKey()
	if _, _, ok := s.Last(); ok {
		t.Fatal("Last of an empty log")
	}
	var dirs, sigs [][]byte
	for serial := uint64(1); serial <= 3; serial++ {
		data, sig, _ := is.Directory(time.Now(), serial)
		i, err := s.Append(ctx, data, sig)
		if err != nil || i != int64(serial-1) {
			t.Fatalf("append %d: %d %v", serial, i, err)
		}
		dirs, sigs = append(dirs, data), append(sigs, sig)
	}
	if _, err := s.Append(ctx, dirs[1], sigs[1]); err == nil || !strings.Contains(err.Error(), "already in the log") {
		t.Fatalf("serial 2 again: %v", err)
	}
	if _, err := s.Append(ctx, []byte("{}"), sigs[0]); err == nil {
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

	s, err = Open(dir, Directories, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Created || s.Log().VerifierKey() != vkey || s.Size() != 3 {
		t.Fatalf("reopened: created %v, size %d", s.Created, s.Size())
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
	// An archived directory that no longer hashes to its record.
	os.WriteFile(filepath.Join(dir, "log", "directory", "2.json"), []byte("{}"), 0o600)
	if _, _, err := s.Archived(2); !errors.Is(err, ErrDamaged) {
		t.Fatalf("changed archive: %v", err)
	}
	if o, err := Origin(dir, Directories); err != nil || o != origin {
		t.Fatalf("Origin: %q %v", o, err)
	}
	if o, err := Origin(t.TempDir(), Directories); err != nil || o != "" {
		t.Fatalf("Origin without a key: %q %v", o, err)
	}

	// The decision log: its own key and files beside the other's.
	d, err := Open(dir, Decisions, origin+"/decisions", &tlog.Options{MaxEntrySize: token.RecordSize})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if !d.Created || d.Log().VerifierKey() == vkey || d.Dir() != filepath.Join(dir, "decisions") {
		t.Fatalf("decision log: created %v, dir %s", d.Created, d.Dir())
	}
	if _, err := d.Append(ctx, dirs[0], sigs[0]); err == nil {
		t.Fatal("a directory appended to the decision log")
	}
}

func TestOpenRefusals(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	s, err := Open(dir, Directories, origin, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := Open(dir, Directories, "other.example/log", nil); err == nil || !strings.Contains(err.Error(), "origin never changes") {
		t.Fatalf("other origin: %v", err)
	}
	if _, err := Open(filepath.Join(t.TempDir(), "new"), Directories, "", nil); err == nil || !strings.Contains(err.Error(), "no log origin") {
		t.Fatalf("no key, no origin: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "log", "witnesses"), []byte(`{"witnesses":[],"extra":1}`), 0o600)
	if _, err := Open(dir, Directories, origin, nil); err == nil || !strings.Contains(err.Error(), "witnesses") {
		t.Fatalf("bad witnesses file: %v", err)
	}
	os.Remove(filepath.Join(dir, "log", "witnesses"))
	os.WriteFile(filepath.Join(dir, "log", "checkpoint"), []byte("not a checkpoint\n"), 0o600)
	if _, err := Open(dir, Directories, origin, nil); !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), "delete it") {
		t.Fatalf("bad cosigned checkpoint: %v", err)
	}
	os.Remove(filepath.Join(dir, "log", "checkpoint"))
	os.WriteFile(filepath.Join(dir, "log.key"), []byte("PRIVATE+KEY+nonsense\n"), 0o600)
	if _, err := Open(dir, Directories, "", nil); err == nil || !strings.Contains(err.Error(), "not a note signer key") {
		t.Fatalf("bad key: %v", err)
	}
	os.Chmod(filepath.Join(dir, "log.key"), 0o644)
	if _, err := Open(dir, Directories, "", nil); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("key readable by others: %v", err)
	}
}

// TestDamagedAndRolledBack: a log whose entry bundle was cut, one
// restored from an older copy under the newer cosigned checkpoint, or
// one whose entries changed is refused at Open or by Contains, with what
// to restore.
func TestDamagedAndRolledBack(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	tree := filepath.Join(dir, "log", "tree")
	is := testIssuer(t)
	ctx := context.Background()
	s, err := Open(dir, Directories, origin, nil)
	if err != nil {
		t.Fatal(err)
	}
	var cps [][]byte
	old := filepath.Join(t.TempDir(), "tree")
	for serial := uint64(1); serial <= 3; serial++ {
		data, sig, _ := is.Directory(time.Now(), serial)
		if _, err := s.Append(ctx, data, sig); err != nil {
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
		if serial == 2 {
			copyDir(t, tree, old)
		}
	}
	s.Close()
	refused := func(sentinel error, want string) {
		t.Helper()
		s, err := Open(dir, Directories, origin, nil)
		if err == nil {
			s.Close()
			t.Fatal("Open accepted the log")
		}
		if !errors.Is(err, sentinel) || !strings.Contains(err.Error(), want) || !strings.Contains(strings.ToLower(err.Error()), "restore") {
			t.Fatalf("Open: %v, want %v with %q and what to restore", err, sentinel, want)
		}
	}
	bundle := filepath.Join(tree, "tile", "entries", "000.p", "3")
	full, err := os.ReadFile(bundle)
	if err != nil {
		t.Fatal(err)
	}
	// Five bytes cut from the last entry bundle.
	os.WriteFile(bundle, full[:len(full)-5], 0o600)
	refused(ErrDamaged, "entr")
	// A changed byte.
	bad := bytes.Clone(full)
	bad[len(bad)-3] ^= 1
	os.WriteFile(bundle, bad, 0o600)
	refused(ErrDamaged, "entr")
	os.WriteFile(bundle, full, 0o600)

	// An older copy of the log, under the newer cosigned checkpoint.
	current := filepath.Join(t.TempDir(), "tree")
	os.Rename(tree, current)
	copyDir(t, old, tree)
	refused(ErrRolledBack, "witnesses cosigned")
	// With its own checkpoint too: consistent in itself, but not with
	// the checkpoint the caller kept.
	if err := os.WriteFile(filepath.Join(dir, "log", "checkpoint"), cps[1], 0o600); err != nil {
		t.Fatal(err)
	}
	s, err = Open(dir, Directories, origin, nil)
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
}

func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		if e.IsDir() {
			return os.MkdirAll(target, 0o700)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestMigrate: the records file of the log before it ran on Tessera is
// moved into a Tessera log with the same tree, which the last cosigned
// checkpoint proves; records that make another tree are refused.
func TestMigrate(t *testing.T) {
	is := testIssuer(t)
	skey, _, err := issue.GenerateLogKey(origin)
	if err != nil {
		t.Fatal(err)
	}
	old, err := issue.NewLog(skey, nil)
	if err != nil {
		t.Fatal(err)
	}
	var records []byte
	var dirs [][]byte
	for serial := uint64(1); serial <= 3; serial++ {
		data, sig, _ := is.Directory(time.Now(), serial)
		if _, err := old.AppendDirectory(data); err != nil {
			t.Fatal(err)
		}
		rec, _ := old.Record(int64(serial - 1))
		records = append(records, rec...)
		dirs = append(dirs, data, sig)
	}
	cp, err := old.Checkpoint()
	if err != nil {
		t.Fatal(err)
	}
	state := func(records []byte) string {
		dir := filepath.Join(t.TempDir(), "state")
		for _, d := range []string{dir, filepath.Join(dir, "log"), filepath.Join(dir, "log", "directory")} {
			if err := os.Mkdir(d, 0o700); err != nil {
				t.Fatal(err)
			}
		}
		os.WriteFile(filepath.Join(dir, "log.key"), []byte(skey+"\n"), 0o600)
		os.WriteFile(filepath.Join(dir, "log", "records"), records, 0o600)
		os.WriteFile(filepath.Join(dir, "log", "checkpoint"), cp, 0o600)
		for i := range 3 {
			os.WriteFile(filepath.Join(dir, "log", "directory", fmt.Sprintf("%d.json", i+1)), dirs[2*i], 0o600)
			os.WriteFile(filepath.Join(dir, "log", "directory", fmt.Sprintf("%d.sig", i+1)), dirs[2*i+1], 0o600)
		}
		return dir
	}
	dir := state(records)
	s, err := Open(dir, Directories, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.Size() != 3 || s.Contains(cp) != nil {
		t.Fatalf("migrated log of %d records: %v", s.Size(), s.Contains(cp))
	}
	if serial, _, ok := s.Last(); !ok || serial != 3 {
		t.Fatalf("Last: %d %v", serial, ok)
	}
	if _, _, err := s.Archived(2); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := os.Stat(filepath.Join(dir, "log", "records.migrated")); err != nil {
		t.Fatal(err)
	}
	// Opened again: the Tessera log as it is.
	if s, err = Open(dir, Directories, "", nil); err != nil || s.Size() != 3 {
		t.Fatalf("reopened: %v", err)
	}
	s.Close()

	// Records that make another tree than the one cosigned.
	bad := bytes.Clone(records)
	bad[token.LogRecordSize+20] ^= 1
	if _, err := Open(state(bad), Directories, "", nil); !errors.Is(err, ErrDamaged) {
		t.Fatalf("changed records: %v", err)
	}
	// A records file beside a Tessera log.
	os.WriteFile(filepath.Join(dir, "log", "records"), records, 0o600)
	if _, err := Open(dir, Directories, "", nil); !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), "both there") {
		t.Fatalf("records beside the Tessera log: %v", err)
	}
}
