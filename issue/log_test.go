package issue

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"filippo.io/torchwood"
	"github.com/statustoken/statustoken/internal/logtest"
	"github.com/statustoken/statustoken/internal/transparency"
	"github.com/statustoken/statustoken/token"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// testLog returns a log holding n directories of is, serials 1 to n.
func testLog(t *testing.T, is *Issuer, n int) (*Log, string, [][]byte) {
	t.Helper()
	skey, vkey, err := GenerateLogKey("example.org/health/directory")
	if err != nil {
		t.Fatal(err)
	}
	l, err := NewLog(skey, nil)
	if err != nil {
		t.Fatal(err)
	}
	if l.VerifierKey() != vkey || l.Origin() != "example.org/health/directory" {
		t.Fatalf("verifier key %q, origin %q", l.VerifierKey(), l.Origin())
	}
	var dirs [][]byte
	for i := range n {
		dir, _, err := is.Directory(testNow, uint64(i+1))
		if err != nil {
			t.Fatal(err)
		}
		idx, err := l.AppendDirectory(dir)
		if err != nil || idx != int64(i) {
			t.Fatalf("AppendDirectory: %d, %v", idx, err)
		}
		dirs = append(dirs, dir)
	}
	return l, skey, dirs
}

func TestLogReload(t *testing.T) {
	is := testIssuer(t, token.Ed25519)
	l, skey, _ := testLog(t, is, 5)
	var records [][]byte
	for i := range l.Size() {
		r, err := l.Record(i)
		if err != nil {
			t.Fatal(err)
		}
		records = append(records, r)
	}
	l2, err := NewLog(skey, records)
	if err != nil {
		t.Fatal(err)
	}
	c1, _ := l.Checkpoint()
	c2, _ := l2.Checkpoint()
	if !bytes.Equal(c1, c2) {
		t.Fatalf("a reloaded log signs another checkpoint:\n%s\n%s", c1, c2)
	}
	if _, err := l.Record(5); !errors.Is(err, ErrLog) {
		t.Fatalf("Record beyond the log: %v", err)
	}
	if _, err := NewLog(skey, append(records, []byte("not a record"))); !errors.Is(err, ErrLog) {
		t.Fatalf("NewLog with a bad record: %v", err)
	}
	for _, bad := range []string{"", "PRIVATE+KEY+x", "example.org+00000000+AAAA"} {
		if _, err := NewLog(bad, nil); !errors.Is(err, ErrConfig) {
			t.Errorf("NewLog(%q): %v", bad, err)
		}
	}
	if _, err := l.AppendDirectory([]byte("{}")); !errors.Is(err, token.ErrMalformedDirectory) {
		t.Fatalf("AppendDirectory of a bad directory: %v", err)
	}
	for _, serial := range []uint64{5, 4} {
		dir, _, err := is.Directory(testNow, serial)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := l.AppendDirectory(dir); !errors.Is(err, ErrLog) {
			t.Errorf("AppendDirectory of serial %d after 5: %v", serial, err)
		}
	}
	if l.Size() != 5 {
		t.Fatalf("size %d after refused appends", l.Size())
	}
}

// TestNewLogOrder: NewLog refuses stored records whose serials do not
// strictly increase, as AppendDirectory would have, and records that do
// not parse; it accepts serials that increase with gaps.
func TestNewLogOrder(t *testing.T) {
	is := testIssuer(t, token.Ed25519)
	l, skey, _ := testLog(t, is, 4)
	var records [][]byte // serials 1 to 4
	for i := range l.Size() {
		r, err := l.Record(i)
		if err != nil {
			t.Fatal(err)
		}
		records = append(records, r)
	}
	dir, _, err := is.Directory(testNow.Add(72*time.Hour), 2)
	if err != nil {
		t.Fatal(err)
	}
	other2, err := token.LogRecord(dir) // serial 2, another directory
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(other2, records[1]) {
		t.Fatal("the same record for two directories")
	}
	list := func(rs ...[]byte) [][]byte { return rs }
	for name, rs := range map[string][][]byte{
		"swapped":            list(records[0], records[2], records[1], records[3]),
		"decreasing":         list(records[3], records[2], records[1], records[0]),
		"repeated":           list(records[0], records[1], records[1], records[2]),
		"same serial":        list(records[0], records[1], other2),
		"last lower":         list(records[0], records[1], records[2], records[3], records[0]),
		"first two repeat":   list(records[0], records[0]),
		"short record":       list(records[0], records[1][:len(records[1])-1]),
		"long record":        list(records[0], append(bytes.Clone(records[1]), 0)),
		"record version 2":   list(records[0], append([]byte{2}, records[1][1:]...)),
		"nil record":         list(records[0], nil),
		"unordered after ok": list(records[0], records[1], records[2], records[3], other2),
	} {
		got, err := NewLog(skey, rs)
		if !errors.Is(err, ErrLog) || got != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	for name, rs := range map[string][][]byte{
		"gaps":  list(records[0], records[2], records[3]),
		"other": list(records[0], other2, records[2]),
		"one":   list(records[3]),
	} {
		got, err := NewLog(skey, rs)
		if err != nil || got.Size() != int64(len(rs)) {
			t.Errorf("%s: %v", name, err)
			continue
		}
		// The reloaded log goes on from its last serial.
		last, _, _ := token.ParseLogRecord(rs[len(rs)-1])
		for _, serial := range []uint64{last, last - 1} {
			d, _, err := is.Directory(testNow, serial)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := got.AppendDirectory(d); !errors.Is(err, ErrLog) {
				t.Errorf("%s: AppendDirectory of serial %d after %d: %v", name, serial, last, err)
			}
		}
	}
}

// TestLogProofs: proofs of every record verify under token.Open, and the
// witness requests carry consistency proofs that verify.
func TestLogProofs(t *testing.T) {
	is := testIssuer(t, token.Ed25519)
	l, _, dirs := testLog(t, is, 1)
	env := logtest.NewEnv(is.RootPublicKey(), time.Now())
	trustText := strings.Replace(string(env.Policy()), env.Log.VerifierKey(), l.VerifierKey(), 1)
	trustText = strings.ReplaceAll(trustText, logtest.Origin, l.Origin())
	trust, err := token.ParseTrust([]byte(trustText))
	if err != nil {
		t.Fatal(err)
	}
	var prevTree tlog.Tree
	for serial := 2; serial <= 20; serial++ {
		dir, sig, err := is.Directory(testNow, uint64(serial))
		if err != nil {
			t.Fatal(err)
		}
		idx, err := l.AppendDirectory(dir)
		if err != nil {
			t.Fatal(err)
		}
		dirs = append(dirs, dir)
		cp, err := l.Checkpoint()
		if err != nil {
			t.Fatal(err)
		}
		cosigned := logtest.Cosign(cp, env.Witnesses[0].At(time.Now()), env.Witnesses[2].At(time.Now()))
		proof, err := l.Proof(idx, cosigned)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := token.Open(token.Published{Directory: dir, Signature: sig, Proof: proof}, trust, token.Accepted{}, time.Now()); err != nil {
			t.Fatalf("serial %d: %v", serial, err)
		}
		// The witness request from the previous tree.
		req, err := l.WitnessRequest(prevTree.N, cp)
		if err != nil {
			t.Fatal(err)
		}
		prevTree = checkWitnessRequest(t, req, prevTree, cp)
	}
	if _, err := l.Proof(0, []byte("not a checkpoint")); !errors.Is(err, ErrLog) {
		t.Fatalf("Proof under a bad checkpoint: %v", err)
	}
	cp, _ := l.Checkpoint()
	if _, err := l.Proof(l.Size(), cp); !errors.Is(err, ErrLog) {
		t.Fatalf("Proof beyond the tree: %v", err)
	}
	if _, err := l.WitnessRequest(l.Size()+1, cp); !errors.Is(err, ErrLog) {
		t.Fatalf("WitnessRequest from a larger tree: %v", err)
	}
	// A checkpoint of another log with the same origin is refused.
	skey2, _, _ := GenerateLogKey(l.Origin())
	other, _ := NewLog(skey2, nil)
	ocp, _ := other.Checkpoint()
	if _, err := l.Proof(0, ocp); !errors.Is(err, ErrLog) {
		t.Fatalf("Proof under another log's checkpoint: %v", err)
	}
}

// checkWitnessRequest parses a tlog-witness add-checkpoint body and
// checks its consistency proof from prev to the checkpoint's tree.
func checkWitnessRequest(t *testing.T, req []byte, prev tlog.Tree, cp []byte) tlog.Tree {
	t.Helper()
	head, rest, ok := strings.Cut(string(req), "\n\n")
	if !ok || !strings.HasSuffix(string(req), string(cp)) || rest != string(cp) {
		t.Fatalf("witness request:\n%s", req)
	}
	lines := strings.Split(head, "\n")
	if lines[0] != "old "+strconv.FormatInt(prev.N, 10) {
		t.Fatalf("first line %q, want old %d", lines[0], prev.N)
	}
	var proof tlog.TreeProof
	for _, l := range lines[1:] {
		h, err := tlog.ParseHash(l)
		if err != nil {
			t.Fatal(err)
		}
		proof = append(proof, h)
	}
	text, _, _ := strings.Cut(string(cp), "\n\n")
	c, err := torchwood.ParseCheckpoint(text + "\n")
	if err != nil {
		t.Fatal(err)
	}
	if prev.N > 0 && prev.N < c.N {
		if err := tlog.CheckTree(proof, c.N, c.Hash, prev.N, prev.Hash); err != nil {
			t.Fatalf("consistency proof from %d to %d: %v", prev.N, c.N, err)
		}
	} else if len(proof) != 0 {
		t.Fatalf("a proof from size %d to %d", prev.N, c.N)
	}
	return c.Tree
}

// TestLogTiles: the tiles a client reads give back every record and the
// checkpoint's tree hash.
func TestLogTiles(t *testing.T) {
	is := testIssuer(t, token.Ed25519)
	l, _, _ := testLog(t, is, 3)
	for l.Size() < 300 {
		dir, _, err := is.Directory(testNow, uint64(l.Size()+1))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := l.AppendDirectory(dir); err != nil {
			t.Fatal(err)
		}
	}
	cp, _ := l.Checkpoint()
	text, _, _ := strings.Cut(string(cp), "\n\n")
	c, err := torchwood.ParseCheckpoint(text + "\n")
	if err != nil {
		t.Fatal(err)
	}
	reader := tileReader{l}
	h, err := tlog.TreeHash(c.N, tlog.TileHashReader(c.Tree, reader))
	if err != nil || h != c.Hash {
		t.Fatalf("tree hash from tiles: %v %v", h, err)
	}
	for _, tile := range tlog.NewTiles(torchwood.TileHeight, 0, c.N) {
		data, err := l.Tile(torchwood.TilePath(tile))
		if err != nil {
			t.Fatal(err)
		}
		if tile.L == -1 {
			continue
		}
		if len(data) != tile.W*tlog.HashSize {
			t.Fatalf("tile %s: %d bytes", torchwood.TilePath(tile), len(data))
		}
	}
	entries, err := l.Tile("tile/entries/001.p/44")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 44 {
		e, rest, err := torchwood.ReadTileEntry(entries)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := l.Record(int64(256 + i))
		if !bytes.Equal(e, want) {
			t.Fatalf("entry %d differs", 256+i)
		}
		entries = rest
	}
	for _, bad := range []string{"tile/entries/001.p/45", "tile/0/001.p/45", "tile/1/000.p/2", "tile/0/002", "tile/x", "checkpoint", "tile/0/x001/000"} {
		if _, err := l.Tile(bad); !errors.Is(err, ErrLog) {
			t.Errorf("Tile(%q): %v", bad, err)
		}
	}
}

type tileReader struct{ l *Log }

func (r tileReader) Height() int { return torchwood.TileHeight }
func (r tileReader) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	var out [][]byte
	for _, t := range tiles {
		d, err := r.l.Tile(torchwood.TilePath(t))
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}
func (r tileReader) SaveTiles([]tlog.Tile, [][]byte) {}

func TestLogCosigned(t *testing.T) {
	is := testIssuer(t, token.Ed25519)
	l, _, _ := testLog(t, is, 1)
	cp, _ := l.Checkpoint()
	line, err := logtest.NewWitness("w1.example").Cosign(cp, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	out, err := l.Cosigned(cp, line)
	if err != nil || !bytes.Equal(out, append(bytes.Clone(cp), line...)) {
		t.Fatalf("Cosigned: %v\n%s", err, out)
	}
	for _, bad := range []string{"— w1.example\n", "w1.example AAAA\n", "— w1.example AAAA", "— w1.example !!!!\n", "\n\n",
		"— w1.example AAAA\n", "— w1+x AAAAAAAA\n", "— w1\u00a0x AAAAAAAA\n", "— \xff AAAAAAAA\n",
		"— w1.example AAAAAA==\n", "— w1.example AAAAAAB=\n", "— w1.example AAAA\nAAAA\n", "— w1.example  AAAAAAAA\n", "— w1.example AAAAAAAA \n", "— w1.example AAAAAAAA\r\n"} {
		if _, err := l.Cosigned(cp, []byte(bad)); !errors.Is(err, ErrLog) {
			t.Errorf("Cosigned(%q): %v", bad, err)
		}
	}
	if _, err := l.Cosigned([]byte("not a checkpoint\n\n— x AAAA\n"), []byte(line)); !errors.Is(err, ErrLog) {
		t.Errorf("Cosigned of another note: %v", err)
	}
}

// cosignatureLine returns the signature line of s over the checkpoint
// cp's text.
func cosignatureLine(t *testing.T, cp []byte, s note.Signer) []byte {
	t.Helper()
	text, _, _ := strings.Cut(string(cp), "\n\n")
	signed, err := note.Sign(&note.Note{Text: text + "\n"}, s)
	if err != nil {
		t.Fatal(err)
	}
	_, line, _ := strings.Cut(string(signed), "\n\n")
	return []byte(line)
}

// TestLogCosignedNewest: a witness that cosigns again leaves one line in
// the checkpoint, its newest, wherever the older one came from, and the
// proof under it is fresh for wallets and scanners.
func TestLogCosignedNewest(t *testing.T) {
	is := testIssuer(t, token.Ed25519)
	l, _, _ := testLog(t, is, 0)
	dir, sig, err := is.Directory(testNow, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.AppendDirectory(dir); err != nil {
		t.Fatal(err)
	}
	cp, _ := l.Checkpoint()
	now := time.Now()
	env := logtest.NewEnv(is.RootPublicKey(), now)
	w1, w2 := env.Witnesses[0], env.Witnesses[1]
	old1 := cosignatureLine(t, cp, w1.At(now.Add(-72*time.Hour)))
	old2 := cosignatureLine(t, cp, w2.At(now.Add(-72*time.Hour)))
	mid1 := cosignatureLine(t, cp, w1.At(now.Add(-time.Hour)))
	new1 := cosignatureLine(t, cp, w1.At(now))
	new2 := cosignatureLine(t, cp, w2.At(now))
	// w1 under the same name with another key is another key.
	otherKey, err := torchwood.NewCosignatureSigner(w1.Name, logtest.Key("another w1"))
	if err != nil {
		t.Fatal(err)
	}
	other1 := cosignatureLine(t, cp, otherKey)

	cosign := func(cp []byte, lines ...[]byte) []byte {
		t.Helper()
		out, err := l.Cosigned(cp, lines...)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	want := func(name string, got []byte, lines ...[]byte) {
		t.Helper()
		w := bytes.Clone(cp)
		for _, line := range lines {
			w = append(w, line...)
		}
		if !bytes.Equal(got, w) {
			t.Errorf("%s:\n%s\nwant\n%s", name, got, w)
		}
	}
	stored := cosign(cp, old1, old2) // a checkpoint stored with stale cosignatures
	want("added again", cosign(stored, new1, new2), new1, new2)
	want("added again, one", cosign(stored, new2), old1, new2)
	want("in one call", cosign(cp, old1, new1, old2, mid1), new1, old2)
	want("in one response", cosign(cp, append(bytes.Clone(old1), new1...)), new1)
	want("older added later", cosign(cosign(cp, new1), old1, mid1), new1)
	want("the same again", cosign(cosign(cp, new1), new1), new1)
	want("three times", cosign(cosign(cosign(cp, old1), mid1), new1), new1)
	want("another key of the name", cosign(stored, other1, new1), new1, old2, other1)

	// Stale lines first, fresh ones added: the proof passes the trust
	// policy's freshness bound.
	trustText := strings.Replace(string(env.Policy()), env.Log.VerifierKey(), l.VerifierKey(), 1)
	trustText = strings.ReplaceAll(trustText, logtest.Origin, l.Origin())
	trust, err := token.ParseTrust([]byte(trustText))
	if err != nil {
		t.Fatal(err)
	}
	proof, err := l.Proof(0, cosign(stored, new1, new2))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := token.Open(token.Published{Directory: dir, Signature: sig, Proof: proof}, trust, token.Accepted{}, now); err != nil {
		t.Fatalf("re-cosigned checkpoint: %v", err)
	}

	// A line of the log's own key never takes the place of its signature,
	// whatever timestamp it seems to carry.
	_, logLine, _ := strings.Cut(string(cp), "\n\n")
	name, b64, _ := strings.Cut(strings.TrimSuffix(strings.TrimPrefix(logLine, "— "), "\n"), " ")
	raw, _ := base64.StdEncoding.DecodeString(b64)
	fake := append(raw[:4:4], bytes.Repeat([]byte{0xff}, 8+64)...)
	fakeLine := []byte("— " + name + " " + base64.StdEncoding.EncodeToString(fake) + "\n")
	want("the log's key", cosign(cp, fakeLine, new1), new1)
}

// FuzzLogCosigned: any response added to a checkpoint either is refused
// with ErrLog or gives a note that still opens under the log's key, keeps
// the checkpoint's text, has one line per key, and stays the same when
// nothing more is added.
func FuzzLogCosigned(f *testing.F) {
	skey, vkey, err := GenerateLogKey("example.org/health/directory")
	if err != nil {
		f.Fatal(err)
	}
	l, err := NewLog(skey, [][]byte{transparency.Record(1, []byte("directory 1"))})
	if err != nil {
		f.Fatal(err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		f.Fatal(err)
	}
	cp, _ := l.Checkpoint()
	text, _, _ := strings.Cut(string(cp), "\n\n")
	w := logtest.NewWitness("w1.example")
	var lines []byte
	for _, at := range []time.Time{testNow, testNow.Add(-time.Hour), testNow.Add(time.Hour)} {
		signed, err := note.Sign(&note.Note{Text: text + "\n"}, w.At(at))
		if err != nil {
			f.Fatal(err)
		}
		_, line, _ := strings.Cut(string(signed), "\n\n")
		lines = append(lines, line...)
		f.Add([]byte(line), lines)
	}
	f.Add([]byte("— w1.example AAAAAAAA\n"), []byte("— w2.example AAAAAAAA\n— w2.example AAAAAAAB\n"))
	f.Fuzz(func(t *testing.T, a, b []byte) {
		out, err := l.Cosigned(cp, a, b)
		if err != nil {
			if !errors.Is(err, ErrLog) || out != nil {
				t.Fatalf("%v, %d bytes", err, len(out))
			}
			return
		}
		n, err := note.Open(out, note.VerifierList(v))
		if err != nil || n.Text != text+"\n" {
			t.Fatalf("the cosigned checkpoint does not open: %v\n%s", err, out)
		}
		_, sigs, _ := strings.Cut(string(out), "\n\n")
		seen := map[string]bool{}
		for _, line := range strings.SplitAfter(sigs, "\n") {
			if line == "" {
				continue
			}
			name, b64, _ := strings.Cut(strings.TrimPrefix(line, "— "), " ")
			sig, _ := base64.StdEncoding.DecodeString(strings.TrimSuffix(b64, "\n"))
			key := name + " " + string(sig[:4])
			if seen[key] {
				t.Fatalf("two lines of one key:\n%s", out)
			}
			seen[key] = true
		}
		again, err := l.Cosigned(out)
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("cosigned again without lines: %v\n%s\n%s", err, out, again)
		}
	})
}
