package logtree_test

import (
	"encoding/hex"
	"testing"

	"github.com/statustoken/statustoken/internal/logtree"
)

// TestRFC6962Vectors checks the tree's hashing against the Merkle tree
// test data of RFC 6962's reference implementation (certificate-
// transparency, merkle_tree_test): the root hashes of the first n of
// eight fixed leaves.
func TestRFC6962Vectors(t *testing.T) {
	leaves := []string{"", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"}
	roots := []string{
		"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
		"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
		"aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
		"d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
		"4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
		"76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
		"ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
		"5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
	}
	var tr logtree.Tree
	for i, l := range leaves {
		b, _ := hex.DecodeString(l)
		if err := tr.Append(b); err != nil {
			t.Fatal(err)
		}
		h, err := tr.Hash(tr.Size())
		if err != nil {
			t.Fatal(err)
		}
		if got := hex.EncodeToString(h[:]); got != roots[i] {
			t.Errorf("root of %d leaves: %s, want %s", i+1, got, roots[i])
		}
	}
}

// TestTreeBounds: requests beyond the tree are errors, never panics,
// whatever their numbers.
func TestTreeBounds(t *testing.T) {
	var tr logtree.Tree
	for i := range 300 {
		if err := tr.Append([]byte{byte(i), byte(i >> 8)}); err != nil {
			t.Fatal(err)
		}
	}
	for _, path := range []string{
		"tile/0/001.p/45", "tile/0/002", "tile/1/000.p/2", "tile/8/000.p/1", "tile/data/000.p/1",
		"tile/0/x036/x028/x797/x018/x963/968", "tile/entries/x036/x028/x797/x018/x963/968",
		"tile/0/x072/x057/x594/x037/x927/936.p/1", "tile/entries/x072/x057/x594/x037/x927/936.p/1",
		"tile/entries/x009/x223/x372/x036/x854/x775/807", "tile/0/000.p/256", "tile/0/000/extra",
	} {
		if b, err := tr.Tile(path); err == nil || b != nil {
			t.Errorf("Tile(%q): %d bytes, %v", path, len(b), err)
		}
	}
	for _, path := range []string{"tile/0/000", "tile/0/001.p/44", "tile/1/000.p/1", "tile/entries/001.p/44", "tile/entries/000.p/1"} {
		if _, err := tr.Tile(path); err != nil {
			t.Errorf("Tile(%q): %v", path, err)
		}
	}
	for _, c := range []struct{ i, n int64 }{{-1, 300}, {300, 300}, {0, 0}, {1 << 62, 300}} {
		if _, err := tr.Proof(c.i, c.n, nil); err == nil {
			t.Errorf("Proof(%d, %d): no error", c.i, c.n)
		}
	}
	for _, c := range []struct{ old, n int64 }{{-1, 300}, {301, 300}, {1 << 62, 300}} {
		if _, err := tr.WitnessRequest(c.old, c.n, nil); err == nil {
			t.Errorf("WitnessRequest(%d, %d): no error", c.old, c.n)
		}
	}
}
