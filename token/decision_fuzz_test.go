package token

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"testing"
)

// seedDecisions returns the data of the committed decision vectors of
// kind (receipt, record or appeal), valid and invalid, with the file's
// trust policy text.
func seedDecisions(f *testing.F, kind string) (seeds [][]byte, trust []byte) {
	data, err := os.ReadFile("testdata/decision_vectors.json")
	if err != nil {
		f.Fatal(err)
	}
	var vf struct {
		Trust   string `json:"trust"`
		Vectors []struct {
			Kind string `json:"kind"`
			Data []byte `json:"data"`
		} `json:"vectors"`
	}
	if err := json.Unmarshal(data, &vf); err != nil {
		f.Fatal(err)
	}
	for _, v := range vf.Vectors {
		if v.Kind == kind {
			seeds = append(seeds, v.Data)
		}
	}
	if len(seeds) == 0 {
		f.Fatalf("no %s vectors", kind)
	}
	return seeds, []byte(vf.Trust)
}

// FuzzParseReceipt checks the receipt parser: what it accepts re-encodes
// to the same bytes and does not alias the input; what it refuses gives
// ErrMalformedReceipt, no receipt, and leaves UnmarshalBinary's receiver
// unchanged.
func FuzzParseReceipt(f *testing.F) {
	seeds, _ := seedDecisions(f, "receipt")
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		in := bytes.Clone(raw)
		r, err := ParseReceipt(in)
		if err != nil {
			if r != nil || !errors.Is(err, ErrMalformedReceipt) {
				t.Fatalf("refused with %v and %v", r, err)
			}
			var un Receipt
			un.Reason = 7
			if un.UnmarshalBinary(raw) == nil || un.Reason != 7 || un.Signature != nil {
				t.Fatal("UnmarshalBinary accepted or changed its receiver")
			}
			return
		}
		again, err := r.MarshalBinary()
		if err != nil || !bytes.Equal(again, raw) {
			t.Fatalf("re-encoding differs (%v)", err)
		}
		in[len(in)-1] ^= 1
		if r.Signature[len(r.Signature)-1] != raw[len(raw)-1] {
			t.Fatal("the receipt aliases its input")
		}
		if rec, err := RecordOf(r).MarshalBinary(); err != nil || len(rec) != RecordSize {
			t.Fatalf("record of an accepted receipt: %v", err)
		}
	})
}

// FuzzParseRecord checks the decision record parser: what it accepts
// re-encodes to the same bytes; what it refuses gives ErrMalformedRecord
// and no record.
func FuzzParseRecord(f *testing.F) {
	seeds, _ := seedDecisions(f, "record")
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		rec, err := ParseRecord(raw)
		if err != nil {
			if rec != nil || !errors.Is(err, ErrMalformedRecord) {
				t.Fatalf("refused with %v and %v", rec, err)
			}
			return
		}
		again, err := rec.MarshalBinary()
		if err != nil || !bytes.Equal(again, raw) {
			t.Fatalf("re-encoding differs (%v)", err)
		}
	})
}

// FuzzCheckAppeal checks the appeal bundle parser and checker: what
// ParseAppeal accepts re-encodes to the same bytes and does not alias
// the input; what it refuses gives ErrMalformedAppeal; CheckAppeal
// never accepts what ParseAppeal refuses, and what it accepts is a
// receipt whose record the bundle proves. Each valid bundle costs
// several signature checks, so bound the minimization of new inputs:
//
//	go test ./token -run '^$' -fuzz '^FuzzCheckAppeal$' -fuzztime 60s -fuzzminimizetime 3s
func FuzzCheckAppeal(f *testing.F) {
	seeds, text := seedDecisions(f, "appeal")
	trust, err := ParseTrust(text)
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		in := bytes.Clone(raw)
		a, err := ParseAppeal(in)
		finding, cerr := CheckAppeal(raw, trust)
		if err != nil {
			if a != nil || !errors.Is(err, ErrMalformedAppeal) {
				t.Fatalf("refused with %v and %v", a, err)
			}
			if finding != nil || !errors.Is(cerr, ErrMalformedAppeal) {
				t.Fatalf("CheckAppeal gave %v where ParseAppeal gave %v", cerr, err)
			}
			return
		}
		again, err := a.MarshalBinary()
		if err != nil || !bytes.Equal(again, raw) {
			t.Fatalf("re-encoding differs (%v)", err)
		}
		for i := range in {
			in[i] ^= 0xff
		}
		if !bytes.Equal(mustAppeal(t, a), raw) {
			t.Fatal("the bundle aliases its input")
		}
		if cerr != nil {
			if finding != nil && (len(a.DecisionProof) != 0 || !errors.Is(cerr, ErrDecisionNotLogged) || finding.DecisionCheckpoint != nil) {
				t.Fatal("error with a finding, other than for a bundle without a decision proof")
			}
			if finding == nil {
				return
			}
		}
		if finding.Receipt.Check(finding.Directory) != nil || finding.Receipt.Commitment != a.Opening.Commitment() {
			t.Fatal("accepted a bundle whose receipt does not hold")
		}
	})
}

func mustAppeal(t *testing.T, a *Appeal) []byte {
	b, err := a.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}
