package tlog_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"filippo.io/torchwood"
	"github.com/statustoken/statustoken/examples/deploy/internal/tlog"
	"github.com/statustoken/statustoken/issue"
	"github.com/statustoken/statustoken/issue/issuetest"
	"github.com/statustoken/statustoken/token"
	"golang.org/x/mod/sumdb/note"
	sumtlog "golang.org/x/mod/sumdb/tlog"
	"k8s.io/klog/v2"
)

const testOrigin = "example.org/health/directory"

// testOptions sign checkpoints as often as Tessera allows, so that
// Append returns soon.
func testOptions() *tlog.Options {
	return &tlog.Options{CheckpointInterval: 100 * time.Millisecond, BatchAge: 10 * time.Millisecond}
}

func newKey(t testing.TB, origin string) string {
	skey, _, err := issue.GenerateLogKey(origin)
	if err != nil {
		t.Fatal(err)
	}
	return skey
}

func open(t testing.TB, dir, skey string, opts *tlog.Options) *tlog.Log {
	t.Helper()
	l, err := tlog.Open(context.Background(), dir, skey, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close(context.Background()) })
	return l
}

// records returns n distinct entries of about 80 bytes, as decision
// records are.
func records(n int, tag string) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = fmt.Appendf(nil, "%-16s %08d %s", tag, i, strings.Repeat("d", 54))
	}
	return out
}

func appendAll(t testing.TB, l *tlog.Log, entries [][]byte) []int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	idx, err := l.Append(ctx, entries)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.AwaitCheckpoint(ctx, slices.Max(idx)+1); err != nil {
		t.Fatal(err)
	}
	return idx
}

// Quiet Tessera's own logging (klog) in tests and benchmarks.
func TestMain(m *testing.M) {
	klog.LogToStderr(false)
	klog.SetOutput(io.Discard)
	os.Exit(m.Run())
}

// A directory appended after decision-like entries, with its proof under
// the log's checkpoint cosigned by two of three witnesses, passes
// token.Open; and each entry is at the index Append returned for it.
func TestDirectoryAcceptedByTokenOpen(t *testing.T) {
	p, err := issuetest.NewPublisher(issue.Config{EpochLength: 24 * time.Hour, Statuses: []token.StatusName{{Code: 1, Name: "green"}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	skey := newKey(t, testOrigin)
	l := open(t, t.TempDir(), skey, testOptions())
	others := records(300, "decision")
	idx := appendAll(t, l, others)
	for i, j := range idx {
		e, err := l.Entry(context.Background(), j)
		if err != nil || !bytes.Equal(e, others[i]) {
			t.Fatalf("entry %d at index %d: %q, %v", i, j, e, err)
		}
	}
	// Entries reads ranges across entry bundles, full and partial.
	for _, r := range [][2]int64{{0, 300}, {0, 0}, {255, 257}, {256, 300}, {299, 300}, {10, 11}} {
		got, err := l.Entries(context.Background(), r[0], r[1])
		if err != nil || int64(len(got)) != r[1]-r[0] {
			t.Fatalf("Entries(%d, %d): %d entries, %v", r[0], r[1], len(got), err)
		}
		for k, e := range got {
			if want, _ := l.Entry(context.Background(), r[0]+int64(k)); !bytes.Equal(e, want) {
				t.Fatalf("Entries(%d, %d)[%d] differs from Entry", r[0], r[1], k)
			}
		}
	}
	for _, r := range [][2]int64{{-1, 2}, {5, 4}, {0, 301}} {
		if _, err := l.Entries(context.Background(), r[0], r[1]); !errors.Is(err, tlog.ErrRequest) {
			t.Fatalf("Entries(%d, %d): %v, want ErrRequest", r[0], r[1], err)
		}
	}

	now := time.Now()
	data, sig, err := p.Issuer.Directory(now, 1)
	if err != nil {
		t.Fatal(err)
	}
	record, err := token.LogRecord(data)
	if err != nil {
		t.Fatal(err)
	}
	di := appendAll(t, l, [][]byte{record})[0]
	cp, err := l.Checkpoint()
	if err != nil {
		t.Fatal(err)
	}
	if size, _ := l.Size(); di != size-1 || di != 300 {
		t.Fatalf("directory at %d in a log of %d", di, size)
	}
	var lines [][]byte
	for _, w := range p.Witnesses[:2] {
		line, err := w.Cosign(cp, now)
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, line)
	}
	cosigned, err := l.Cosigned(cp, lines...)
	if err != nil {
		t.Fatal(err)
	}
	proof, err := l.Proof(context.Background(), di, cosigned)
	if err != nil {
		t.Fatal(err)
	}
	trust, err := token.ParseTrust(issuetest.TrustPolicy(p.RootKey.Public().(ed25519.PublicKey), l.VerifierKey(), p.Witnesses, 48*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	published := token.Published{Directory: data, Signature: sig, Proof: proof}
	if _, _, err := token.Open(published, trust, token.Accepted{}, now); err != nil {
		t.Fatalf("token.Open: %v", err)
	}
	// Without a quorum of cosignatures, or proving another entry, it
	// fails.
	one, _ := l.Cosigned(cp, lines[0])
	proof1, err := l.Proof(context.Background(), di, one)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := token.Open(token.Published{Directory: data, Signature: sig, Proof: proof1}, trust, token.Accepted{}, now); !errors.Is(err, token.ErrQuorum) {
		t.Fatalf("one cosignature: %v", err)
	}
	other, err := l.Proof(context.Background(), di-1, cosigned)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := token.Open(token.Published{Directory: data, Signature: sig, Proof: other}, trust, token.Accepted{}, now); err == nil {
		t.Fatal("the proof of another entry was accepted")
	}
	// A checkpoint of another log, or of a tree the log does not have,
	// proves nothing.
	if _, err := l.Proof(context.Background(), 0, forge(t, newKey(t, testOrigin), 301)); !errors.Is(err, tlog.ErrRequest) {
		t.Fatalf("a checkpoint of another key: %v", err)
	}
	if _, err := l.Proof(context.Background(), 0, forge(t, skey, 301)); !errors.Is(err, tlog.ErrRequest) {
		t.Fatalf("a checkpoint with another root: %v", err)
	}
	if _, err := l.Proof(context.Background(), 301, cosigned); !errors.Is(err, tlog.ErrRequest) {
		t.Fatalf("an index beyond the tree: %v", err)
	}
}

// forge signs a checkpoint of n entries with a made-up root.
func forge(t testing.TB, skey string, n int64) []byte {
	s, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	c := torchwood.Checkpoint{Origin: s.Name(), Tree: sumtlog.Tree{N: n, Hash: sumtlog.Hash{1}}}
	b, err := note.Sign(&note.Note{Text: c.String()}, s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A batch lands in an order drawn at random: the indexes are the
// batch's positions in another order, and two batches of the same
// entries are not laid out alike.
func TestAppendShuffles(t *testing.T) {
	l := open(t, t.TempDir(), newKey(t, testOrigin), testOptions())
	entries := records(64, "shuffle")
	a := appendAll(t, l, entries)
	b := appendAll(t, l, entries)
	for k, idx := range [][]int64{a, b} {
		sorted := slices.Clone(idx)
		slices.Sort(sorted)
		for i, j := range sorted {
			if j != int64(k*64+i) {
				t.Fatalf("batch %d: indexes %v", k, idx)
			}
		}
		if slices.IsSorted(idx) {
			t.Fatalf("batch %d appended in arrival order", k)
		}
	}
	same := true
	for i := range a {
		same = same && b[i]-64 == a[i]
	}
	if same {
		t.Fatal("two batches in the same order")
	}
}

// Entries out of bounds, and oversized batches, are refused whole.
func TestAppendRefuses(t *testing.T) {
	opts := testOptions()
	opts.MaxEntrySize, opts.MaxBatch = 100, 8
	l := open(t, t.TempDir(), newKey(t, testOrigin), opts)
	ok := []byte("entry")
	for name, batch := range map[string][][]byte{
		"empty entry": {ok, {}},
		"too large":   {ok, make([]byte, 101)},
		"long batch":  slices.Repeat([][]byte{ok}, 9),
	} {
		if _, err := l.Append(context.Background(), batch); !errors.Is(err, tlog.ErrEntry) {
			t.Errorf("%s: %v", name, err)
		}
	}
	appendAll(t, l, [][]byte{make([]byte, 100)})
	if size, err := l.Size(); size != 1 || err != nil {
		t.Fatalf("size %d, %v", size, err)
	}
	if err := l.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(context.Background(), [][]byte{ok}); !errors.Is(err, tlog.ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
}

// The add-checkpoint request carries a consistency proof that checks
// from the witness's old tree to the checkpoint's.
func TestWitnessRequest(t *testing.T) {
	l := open(t, t.TempDir(), newKey(t, testOrigin), testOptions())
	appendAll(t, l, records(5, "a"))
	cp1, _ := l.Checkpoint()
	appendAll(t, l, records(600, "b"))
	cp2, _ := l.Checkpoint()
	t1, t2 := treeOf(t, cp1), treeOf(t, cp2)
	for _, old := range []int64{0, t1.N, t2.N} {
		body, err := l.WitnessRequest(old, cp2)
		if err != nil {
			t.Fatal(err)
		}
		head, rest, ok := bytes.Cut(body, []byte("\n"))
		if !ok || string(head) != "old "+strconv.FormatInt(old, 10) {
			t.Fatalf("request %q", body)
		}
		var proofText, cp []byte
		if bytes.HasPrefix(rest, []byte("\n")) {
			cp = rest[1:]
		} else if proofText, cp, ok = bytes.Cut(rest, []byte("\n\n")); !ok {
			t.Fatalf("request %q", body)
		}
		if !bytes.Equal(cp, cp2) {
			t.Fatalf("the request's checkpoint %q", cp)
		}
		var proof sumtlog.TreeProof
		for _, s := range strings.Fields(string(proofText)) {
			h, err := base64.StdEncoding.DecodeString(s)
			if err != nil || len(h) != 32 {
				t.Fatalf("hash %q", s)
			}
			proof = append(proof, sumtlog.Hash(h))
		}
		if old == t1.N {
			if err := sumtlog.CheckTree(proof, t2.N, t2.Hash, t1.N, t1.Hash); err != nil {
				t.Fatalf("consistency from %d to %d: %v", t1.N, t2.N, err)
			}
		} else if len(proof) != 0 {
			t.Fatalf("old %d: a proof of %d hashes", old, len(proof))
		}
	}
	if _, err := l.WitnessRequest(t2.N+1, cp2); !errors.Is(err, tlog.ErrRequest) {
		t.Fatalf("old size beyond the tree: %v", err)
	}
}

func treeOf(t testing.TB, cp []byte) sumtlog.Tree {
	text, _, _ := bytes.Cut(cp, []byte("\n\n"))
	c, err := torchwood.ParseCheckpoint(string(text) + "\n")
	if err != nil {
		t.Fatal(err)
	}
	return c.Tree
}

// Tiles are served at their canonical paths within the tree only, and
// hash as the checkpoint says.
func TestTiles(t *testing.T) {
	l := open(t, t.TempDir(), newKey(t, testOrigin), testOptions())
	entries := records(300, "tile")
	idx := appendAll(t, l, entries)
	b, err := l.Tile("tile/entries/001.p/44")
	if err != nil {
		t.Fatal(err)
	}
	var want []byte
	for i, j := range idx {
		if j == 256 {
			want, _ = torchwood.AppendTileEntry(want, entries[i])
		}
	}
	if !bytes.HasPrefix(b, want) || len(b) == 0 {
		t.Fatalf("bundle 1 does not start with entry 256")
	}
	h0, err := l.Tile("tile/0/000")
	if err != nil || len(h0) != 256*32 {
		t.Fatalf("tile/0/000: %d bytes, %v", len(h0), err)
	}
	// A partial tile of an earlier tree is the prefix of the full tile.
	if b, err := l.Tile("tile/0/000.p/5"); err != nil || !bytes.Equal(b, h0[:5*32]) {
		t.Fatalf("tile/0/000.p/5: %v", err)
	}
	full, err := l.Tile("tile/entries/000")
	if err != nil {
		t.Fatal(err)
	}
	if b, err := l.Tile("tile/entries/000.p/3"); err != nil || !bytes.HasPrefix(full, b) || len(b) != 3*(2+80) {
		t.Fatalf("tile/entries/000.p/3: %d bytes, %v", len(b), err)
	}
	for _, bad := range []string{"tile/0/0", "tile/0/000.p/256", "tile/0/001", "tile/0/002.p/1", "tile/0/001.p/45",
		"tile/2/000.p/1", "tile/entries/001", "/tile/0/000", "tile/0/../0/000", "checkpoint", "tile/9/000"} {
		if _, err := l.Tile(bad); !errors.Is(err, tlog.ErrRequest) {
			t.Errorf("%q: %v", bad, err)
		}
	}
	srv := httptest.NewServer(l)
	defer srv.Close()
	for path, code := range map[string]int{"/checkpoint": 200, "/tile/1/000.p/1": 200, "/tile/0/001": 404, "/tile/0/x000": 404} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != code {
			t.Errorf("%s: %d %q", path, resp.StatusCode, body)
		}
		if path == "/checkpoint" {
			if cp, _ := l.Checkpoint(); !bytes.Equal(body, cp) {
				t.Errorf("served checkpoint %q", body)
			}
		}
	}
}

// copyDir copies the log directory src into a new directory.
func copyDir(t testing.TB, src string) string {
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// A log closed after 100 entries (snapshot) then after 300, the
// checkpoint at 300 as the witnesses would have cosigned it, and the
// contents of the log's last state.
type fixture struct {
	skey           string
	snapshot, full string
	cosigned       []byte
}

func newFixture(t *testing.T) *fixture {
	f := &fixture{skey: newKey(t, testOrigin), full: t.TempDir()}
	l, err := tlog.Open(context.Background(), f.full, f.skey, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	appendAll(t, l, records(100, "first"))
	if err := l.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.snapshot = copyDir(t, f.full)
	l, err = tlog.Open(context.Background(), f.full, f.skey, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	appendAll(t, l, records(200, "second"))
	if f.cosigned, err = l.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	return f
}

func reopen(dir, skey string, opts *tlog.Options) error {
	l, err := tlog.Open(context.Background(), dir, skey, opts)
	if err == nil {
		l.Close(context.Background())
	}
	return err
}

// Damaged, truncated and missing files are found at Open, each with
// ErrDamaged and a message that says what to restore; an intact copy
// opens and grows.
func TestOpenDamaged(t *testing.T) {
	f := newFixture(t)
	edge := testOptions()
	edge.EdgeCheckOnly = true
	flip := func(name string) func(string) error {
		return func(dir string) error {
			b, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				return err
			}
			b[len(b)/2] ^= 1
			return os.WriteFile(filepath.Join(dir, name), b, 0o644)
		}
	}
	truncate := func(name string, n int) func(string) error {
		return func(dir string) error { return os.Truncate(filepath.Join(dir, name), int64(n)) }
	}
	remove := func(name string) func(string) error {
		return func(dir string) error { return os.Remove(filepath.Join(dir, name)) }
	}
	for _, c := range []struct {
		name   string
		damage func(string) error
		opts   *tlog.Options
	}{
		{"checkpoint flipped", flip("checkpoint"), edge},
		{"checkpoint truncated", truncate("checkpoint", 40), edge},
		{"checkpoint missing", remove("checkpoint"), edge},
		{"edge tile flipped", flip("tile/0/001.p/44"), edge},
		{"edge tile truncated", truncate("tile/0/001.p/44", 64), edge},
		{"upper tile flipped", flip("tile/1/000.p/1"), edge},
		{"last bundle flipped", flip("tile/entries/001.p/44"), edge},
		{"last bundle truncated", truncate("tile/entries/001.p/44", 100), edge},
		{"inner tile flipped", flip("tile/0/000"), testOptions()},
		{"inner bundle flipped", flip("tile/entries/000"), testOptions()},
		{"inner bundle truncated", truncate("tile/entries/000", 1000), testOptions()},
		{"tree state flipped", truncate(".state/treeState", 9), edge},
		{"tree state missing", remove(".state/treeState"), edge},
	} {
		dir := copyDir(t, f.full)
		if err := c.damage(dir); err != nil {
			t.Fatal(err)
		}
		err := reopen(dir, f.skey, c.opts)
		if !errors.Is(err, tlog.ErrDamaged) || !strings.Contains(err.Error(), "restore "+dir) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
	// Inner damage is found by rehashing the whole log, which
	// EdgeCheckOnly skips.
	dir := copyDir(t, f.full)
	if err := flip("tile/0/000")(dir); err != nil {
		t.Fatal(err)
	}
	if err := reopen(dir, f.skey, edge); err != nil {
		t.Fatalf("inner damage with EdgeCheckOnly: %v", err)
	}
	// The whole log opens, with the cosigned checkpoint, and grows.
	opts := testOptions()
	opts.Cosigned = f.cosigned
	l := open(t, copyDir(t, f.full), f.skey, opts)
	if idx := appendAll(t, l, records(1, "third")); idx[0] != 300 {
		t.Fatalf("appended at %d", idx[0])
	}
}

// A log directory behind the checkpoint the witnesses cosigned, or
// holding another tree, is refused with ErrRollback.
func TestOpenRollback(t *testing.T) {
	f := newFixture(t)
	opts := testOptions()
	opts.Cosigned = f.cosigned
	if err := reopen(copyDir(t, f.snapshot), f.skey, opts); !errors.Is(err, tlog.ErrRollback) || !strings.Contains(err.Error(), "holds a tree of 100 entries, and the witnesses cosigned one of 300: restore") {
		t.Fatalf("a log of 100 entries: %v", err)
	}
	if err := reopen(t.TempDir(), f.skey, opts); !errors.Is(err, tlog.ErrRollback) {
		t.Fatalf("an empty directory: %v", err)
	}
	// A fork: the snapshot grown to 300 with other entries.
	fork := copyDir(t, f.snapshot)
	l, err := tlog.Open(context.Background(), fork, f.skey, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	appendAll(t, l, records(200, "other"))
	l.Close(context.Background())
	if err := reopen(fork, f.skey, opts); !errors.Is(err, tlog.ErrRollback) {
		t.Fatalf("a fork: %v", err)
	}
	// Without the cosigned checkpoint the snapshot is a log like any.
	if err := reopen(copyDir(t, f.snapshot), f.skey, testOptions()); err != nil {
		t.Fatal(err)
	}
	// The directory of another log is refused.
	if err := reopen(copyDir(t, f.full), newKey(t, testOrigin), testOptions()); !errors.Is(err, tlog.ErrDamaged) || !strings.Contains(err.Error(), "another key") {
		t.Fatalf("another log's directory: %v", err)
	}
	// A cosigned checkpoint of another log is a mistake of the caller.
	opts.Cosigned = forge(t, newKey(t, "example.org/other"), 1)
	if err := reopen(copyDir(t, f.full), f.skey, opts); !errors.Is(err, tlog.ErrRequest) {
		t.Fatalf("the checkpoint of another log: %v", err)
	}
}

// Once Tessera removes the partial tiles of an earlier tree (its garbage
// collection, done here by hand), proofs under that tree's checkpoint
// are built from the full tiles, and still check.
func TestProofAfterPartialTilesRemoved(t *testing.T) {
	dir := t.TempDir()
	l := open(t, dir, newKey(t, testOrigin), testOptions())
	appendAll(t, l, records(5, "a"))
	cp1, _ := l.Checkpoint()
	appendAll(t, l, records(300, "b"))
	for _, p := range []string{"tile/0/000.p", "tile/entries/000.p"} {
		if err := os.RemoveAll(filepath.Join(dir, p)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := l.Proof(context.Background(), 2, cp1); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Tile("tile/0/000.p/5"); err != nil {
		t.Fatal(err)
	}
	cp2, _ := l.Checkpoint()
	if _, err := l.WitnessRequest(5, cp2); err != nil {
		t.Fatal(err)
	}
}
