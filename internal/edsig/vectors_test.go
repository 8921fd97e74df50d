package edsig

import (
	"encoding/hex"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// vectorCase is one case of the public vector sets in testdata, with its
// expected result under this package's rules.
type vectorCase struct {
	file  string
	index int
	id    int // CCTV number or Wycheproof tcId; -1 when the set has none
	key   []byte
	msg   []byte
	sig   []byte
	want  bool
}

func (c *vectorCase) name() string {
	return c.file + "#" + itoa(c.index)
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}

func readJSON(t testing.TB, name string, v any) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

// loadVectors parses the four vector sets, each in its own format, and
// joins them with expected.json.
func loadVectors(t testing.TB) []vectorCase {
	t.Helper()
	var cases []vectorCase

	// CCTV: hex key and sig, ASCII message.
	var cctv []struct {
		Number int    `json:"number"`
		Key    string `json:"key"`
		Sig    string `json:"sig"`
		Msg    string `json:"msg"`
	}
	readJSON(t, "cctv_ed25519vectors.json", &cctv)
	for i, v := range cctv {
		cases = append(cases, vectorCase{
			file: "cctv_ed25519vectors.json", index: i, id: v.Number,
			key: mustHex(t, v.Key), msg: []byte(v.Msg), sig: mustHex(t, v.Sig),
		})
	}

	// Wycheproof: groups sharing a key, hex message and signature.
	var wp struct {
		NumberOfTests int `json:"numberOfTests"`
		TestGroups    []struct {
			PublicKey struct {
				PK string `json:"pk"`
			} `json:"publicKey"`
			Tests []struct {
				TcID   int    `json:"tcId"`
				Msg    string `json:"msg"`
				Sig    string `json:"sig"`
				Result string `json:"result"`
			} `json:"tests"`
		} `json:"testGroups"`
	}
	readJSON(t, "wycheproof_v1_ed25519_test.json", &wp)
	i := 0
	for _, g := range wp.TestGroups {
		key := mustHex(t, g.PublicKey.PK)
		for _, tc := range g.Tests {
			cases = append(cases, vectorCase{
				file: "wycheproof_v1_ed25519_test.json", index: i, id: tc.TcID,
				key: key, msg: mustHex(t, tc.Msg), sig: mustHex(t, tc.Sig),
			})
			i++
		}
	}
	if i != wp.NumberOfTests {
		t.Fatalf("wycheproof: parsed %d cases, file says %d", i, wp.NumberOfTests)
	}

	// speccheck: hex message, key and signature.
	var sc []struct {
		Message   string `json:"message"`
		PubKey    string `json:"pub_key"`
		Signature string `json:"signature"`
	}
	readJSON(t, "speccheck_cases.json", &sc)
	for i, v := range sc {
		cases = append(cases, vectorCase{
			file: "speccheck_cases.json", index: i, id: -1,
			key: mustHex(t, v.PubKey), msg: mustHex(t, v.Message), sig: mustHex(t, v.Signature),
		})
	}

	// ZIP-215: [key, sig] pairs, all on the message "Zcash".
	var zip [][2]string
	readJSON(t, "zip215_voi.json", &zip)
	for i, v := range zip {
		cases = append(cases, vectorCase{
			file: "zip215_voi.json", index: i, id: -1,
			key: mustHex(t, v[0]), msg: []byte("Zcash"), sig: mustHex(t, v[1]),
		})
	}

	var expected []struct {
		File   string `json:"file"`
		Index  int    `json:"index"`
		ID     *int   `json:"id"`
		Strict *bool  `json:"strict_cofactored"`
	}
	readJSON(t, "expected.json", &expected)
	if len(expected) != 1273 || len(cases) != len(expected) {
		t.Fatalf("parsed %d cases, expected.json has %d rows, want 1273", len(cases), len(expected))
	}
	byKey := make(map[string]int, len(cases))
	for i := range cases {
		byKey[cases[i].name()] = i
	}
	seen := make(map[int]bool)
	for _, e := range expected {
		i, ok := byKey[e.File+"#"+itoa(e.Index)]
		if !ok || seen[i] || e.Strict == nil {
			t.Fatalf("expected.json row %s#%d does not match a unique case", e.File, e.Index)
		}
		seen[i] = true
		if e.ID != nil && *e.ID != cases[i].id {
			t.Fatalf("%s: id %d, expected.json says %d", cases[i].name(), cases[i].id, *e.ID)
		}
		cases[i].want = *e.Strict
	}
	return cases
}

func TestVectorsSingle(t *testing.T) {
	cases := loadVectors(t)
	accepted := make(map[string]int)
	for _, c := range cases {
		pk, err := NewPublicKey(c.key)
		got := err == nil && Verify(pk, c.msg, c.sig)
		if got != c.want {
			t.Errorf("%s (id %d): Verify = %v, want %v (key error: %v)", c.name(), c.id, got, c.want, err)
		}
		if got {
			accepted[c.file]++
		}
	}
	// The acceptance counts published with the vectors.
	want := map[string]int{
		"cctv_ed25519vectors.json":        212,
		"wycheproof_v1_ed25519_test.json": 88,
		"speccheck_cases.json":            4,
		"zip215_voi.json":                 0,
	}
	for f, n := range want {
		if accepted[f] != n {
			t.Errorf("%s: %d accepted, want %d", f, accepted[f], n)
		}
	}
}

// TestVectorsBatch verifies every vector case with a valid key in batches
// of many sizes that mix passing and failing cases, and checks each result.
func TestVectorsBatch(t *testing.T) {
	cases := loadVectors(t)
	var usable []vectorCase
	keys := make(map[string]*PublicKey)
	for _, c := range cases {
		pk, err := NewPublicKey(c.key)
		if err != nil {
			continue
		}
		keys[string(c.key)] = pk
		usable = append(usable, c)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	sizes := []int{1, 2, 3, 4, 5, 7, 8, 9, 16, 31, 64, 96, 97, 128, 200, 300}
	for round := range 4 {
		rng.Shuffle(len(usable), func(i, j int) { usable[i], usable[j] = usable[j], usable[i] })
		var b Batch
		b.rand = rand.NewChaCha8([32]byte{byte(round)})
		for start, k := 0, 0; start < len(usable); k++ {
			n := min(sizes[(k+round)%len(sizes)], len(usable)-start)
			part := usable[start : start+n]
			start += n
			b.Reset()
			wantAll := true
			for _, c := range part {
				b.Add(keys[string(c.key)], c.msg, c.sig)
				wantAll = wantAll && c.want
			}
			results := make([]bool, n)
			all, err := b.Verify(results)
			if err != nil {
				t.Fatalf("batch of %d: Verify: %v", n, err)
			}
			if all != wantAll {
				t.Errorf("batch of %d: Verify = %v, want %v", n, all, wantAll)
			}
			for i, c := range part {
				if results[i] != c.want {
					t.Errorf("batch of %d, entry %d, %s (id %d): %v, want %v", n, i, c.name(), c.id, results[i], c.want)
				}
			}
			if got, err := b.Verify(nil); err != nil || got != wantAll {
				t.Errorf("batch of %d without results: Verify = %v, %v; want %v, nil", n, got, err, wantAll)
			}
		}
	}
}
