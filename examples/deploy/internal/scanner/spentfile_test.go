package scanner

import (
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/statustoken/statustoken/token"
	"github.com/statustoken/statustoken/verify"
)

// TestSpentFileAcrossRuns: one scanner per scan, as a QR reader piping
// each code into the command runs it: with a spent-token file, the second
// scan of a token is refused as replayed, by a scanner made afterwards.
func TestSpentFileAcrossRuns(t *testing.T) {
	e := newEnv(t)
	cfg := e.config()
	cfg.Single, cfg.SpentFile = true, filepath.Join(t.TempDir(), "spent.tokens")
	tok := e.tokens(1)[0]
	run := func() (bool, string) {
		s, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		return scan(t, s, tok)
	}
	if valid, out := run(); !valid || !strings.Contains(out, "replay check: this-scanner") {
		t.Fatalf("first scan: %q", out)
	}
	if valid, out := run(); valid || !strings.Contains(out, "REFUSED: already used: this scanner saw this token before") {
		t.Fatalf("second scan, by another run: %q", out)
	}
	// A batch run too.
	cfg.Single = false
	s := e.scanner(cfg)
	if _, out := batch(t, s, tok); !strings.Contains(out, "REFUSED: already used") {
		t.Fatalf("batch after the scans: %q", out)
	}
}

// TestSpentFileConcurrent spends one token from many openers of one file
// at once, each with its own lock, as scanner processes do: exactly one
// accepts it.
func TestSpentFileConcurrent(t *testing.T) {
	name := filepath.Join(t.TempDir(), "spent.tokens")
	now := time.Now
	id, until := token.KeyID{1}, time.Now().Add(time.Hour)
	var nonces [20]token.Nonce
	for i := range nonces {
		rand.Read(nonces[i][:])
	}
	var ok, replayed atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		sf, err := openSpentFile(name, 0, now)
		if err != nil {
			t.Fatal(err)
		}
		defer sf.Close()
		wg.Go(func() {
			for _, n := range nonces {
				switch err := sf.Spend(t.Context(), id, n, until); {
				case err == nil:
					ok.Add(1)
				case errors.Is(err, verify.ErrReplayed):
					replayed.Add(1)
				default:
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if ok.Load() != int32(len(nonces)) || replayed.Load() != 7*int32(len(nonces)) {
		t.Fatalf("%d accepted, %d replayed; want %d and %d", ok.Load(), replayed.Load(), len(nonces), 7*len(nonces))
	}
	if fi, _ := os.Stat(name); fi.Size() != int64(len(spentHeader)+len(nonces)*recordSize) {
		t.Fatalf("file of %d bytes, want one record per token", fi.Size())
	}
}

// TestSpentFileBounded: records are dropped once their tokens expired
// (plus the skew): the file is rewritten with the live ones only.
func TestSpentFileBounded(t *testing.T) {
	name := filepath.Join(t.TempDir(), "spent.tokens")
	clock := time.Now()
	now := func() time.Time { return clock }
	sf, err := openSpentFile(name, 0, now)
	if err != nil {
		t.Fatal(err)
	}
	defer sf.Close()
	spend := func(n int, until time.Time) {
		for range n {
			var nonce token.Nonce
			rand.Read(nonce[:])
			if err := sf.Spend(t.Context(), token.KeyID{2}, nonce, until); err != nil {
				t.Fatal(err)
			}
		}
	}
	spend(200, clock.Add(time.Hour))
	clock = clock.Add(2 * time.Hour)
	spend(10, clock.Add(time.Hour))
	fi, _ := os.Stat(name)
	if want := int64(len(spentHeader) + 10*recordSize); fi.Size() != want {
		t.Fatalf("file of %d bytes after the first 200 tokens expired, want %d", fi.Size(), want)
	}
	// Another opener reads the rewritten file.
	other, err := openSpentFile(name, 0, now)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if len(other.seen) != 10 {
		t.Fatalf("reopened: %d tokens, want 10", len(other.seen))
	}
}

// TestSpentFileDamaged: a file that is not a spent-token file, or whose
// record was changed, is refused at start with a clear error; a record
// cut short by a crash is dropped.
func TestSpentFileDamaged(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	cfg := e.config()
	cfg.SpentFile = filepath.Join(dir, "spent.tokens")
	s := e.scanner(cfg)
	if sum, _ := batch(t, s, e.tokens(2)...); sum.Valid != 2 {
		t.Fatal(sum)
	}
	s.Close()
	good, _ := os.ReadFile(cfg.SpentFile)
	flipped := []byte(string(good))
	flipped[len(spentHeader)+recordSize+9] ^= 1
	for name, data := range map[string][]byte{
		"flipped bit":  flipped,
		"other file":   []byte("directory.json\n"),
		"empty header": append([]byte("statustoken spent v0\n"), good[len(spentHeader):]...),
	} {
		os.WriteFile(cfg.SpentFile, data, 0o600)
		_, err := New(cfg)
		var se *SetupError
		if !errors.As(err, &se) || !errors.Is(err, ErrSpentFileDamaged) ||
			!strings.Contains(err.Error(), "spent-token file damaged: "+cfg.SpentFile) || !strings.Contains(err.Error(), "move it aside") {
			t.Errorf("%s: %v", name, err)
		}
	}
	os.WriteFile(cfg.SpentFile, good[:len(good)-5], 0o600)
	s2 := e.scanner(cfg)
	if s2.spent == nil || len(s2.spent.seen) != 1 {
		t.Fatalf("a record cut short: %v", s2.spent)
	}
}
