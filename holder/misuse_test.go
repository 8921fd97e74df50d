package holder

import (
	"errors"
	"testing"
	"time"

	"github.com/statustoken/statustoken/internal/misusetest"
	"github.com/statustoken/statustoken/issue"
	"github.com/statustoken/statustoken/token"
)

// TestMisuse calls every exported function and method of the package with
// zero values, nil, empty and oversized inputs: none may panic, and each
// refuses what it cannot use with one of its errors.
func TestMisuse(t *testing.T) {
	huge := make([]byte, 10*token.MaxDirectorySize)
	inputs := map[string][]byte{"nil": nil, "empty": {}, "huge": huge}
	isDirErr := func(err error) bool {
		return errors.Is(err, token.ErrMalformedDirectory) || errors.Is(err, token.ErrInvalidDirectory) ||
			errors.Is(err, token.ErrDirectorySignature) || errors.Is(err, token.ErrMalformedTrust)
	}

	for name, in := range inputs {
		misusetest.NoPanic(t, "New "+name, func() {
			if h, err := newH(in, in, in); h != nil || !isDirErr(err) {
				t.Errorf("New(%s): %v", name, err)
			}
		})
	}

	is := testIssuer(t, func(c *issue.Config) { c.Suites = []token.Suite{token.Ed25519, token.RSABSSA} })
	data, sig := signedDirectory(t, is, testNow, 1)
	misusetest.NoPanic(t, "New with a bad root key", func() {
		for name, root := range map[string][]byte{"nil": nil, "short": is.RootPublicKey()[:31], "zeros": make([]byte, 32)} {
			// A trust policy cannot pin such a key: New gets none.
			if h, err := newH(data, sig, root); h != nil || !errors.Is(err, token.ErrMalformedTrust) {
				t.Errorf("New with a %s root key: %v", name, err)
			}
		}
	})
	edToks, err := is.IssueEd25519(1, testNow, 1)
	if err != nil {
		t.Fatal(err)
	}

	// A Holder not made by New is a programming error: every method
	// panics, as the standard library's do on a nil receiver.
	var nilHolder *Holder
	for hname, zh := range map[string]*Holder{"nil": nilHolder, "zero": {}} {
		for name, call := range map[string]func(){
			"Request":   func() { zh.Request(1, testNow, 1) },
			"Finalize":  func() { zh.Finalize(&Pending{}, nil) },
			"Accept":    func() { zh.Accept(edToks) },
			"Update":    func() { updateH(zh, data, sig) },
			"Accepted":  func() { zh.Accepted() },
			"Directory": func() { zh.Directory() },
		} {
			misusetest.Panics(t, hname+" Holder."+name, call)
		}
	}

	h, err := newH(data, sig, is.RootPublicKey())
	if err != nil {
		t.Fatal(err)
	}
	misusetest.NoPanic(t, "Holder with bad arguments", func() {
		if err := h.Accept([]*token.Token{nil}); !errors.Is(err, ErrResponse) {
			t.Errorf("Accept of a nil token: %v", err)
		}
		if err := h.Accept([]*token.Token{{}}); !errors.Is(err, ErrResponse) {
			t.Errorf("Accept of a zero token: %v", err)
		}
		if err := h.Accept(append(edToks, nil)); !errors.Is(err, ErrResponse) {
			t.Errorf("Accept of a good and a nil token: %v", err)
		}
		if err := h.Accept(nil); err != nil {
			t.Errorf("Accept of no tokens: %v", err)
		}
		for name, in := range inputs {
			// Each Finalize uses its Pending up: one per input.
			p, _, err := h.Request(1, testNow, 1)
			if err != nil {
				t.Fatal(err)
			}
			if toks, err := h.Finalize(p, in); toks != nil || !errors.Is(err, ErrResponse) {
				t.Errorf("Finalize(%s): %v", name, err)
			}
			if toks, err := h.Finalize(p, in); toks != nil || !errors.Is(err, ErrPending) {
				t.Errorf("Finalize(%s) again: %v", name, err)
			}
			if toks, err := h.Finalize(nil, in); toks != nil || !errors.Is(err, ErrPending) {
				t.Errorf("Finalize(nil Pending, %s): %v", name, err)
			}
			if toks, err := h.Finalize(&Pending{}, in); toks != nil || !errors.Is(err, ErrPending) {
				t.Errorf("Finalize(zero Pending, %s): %v", name, err)
			}
			if err := updateH(h, in, in); !isDirErr(err) {
				t.Errorf("Update(%s): %v", name, err)
			}
			if err := updateH(h, data, in); !errors.Is(err, token.ErrDirectorySignature) {
				t.Errorf("Update with signature %s: %v", name, err)
			}
		}
		for _, n := range []int{-1, 0, MaxTokens + 1} {
			if _, _, err := h.Request(1, testNow, n); !errors.Is(err, ErrCount) {
				t.Errorf("Request n=%d: %v", n, err)
			}
		}
		if _, _, err := h.Request(0, time.Time{}, 1); !errors.Is(err, ErrNoKey) {
			t.Errorf("Request of status 0: %v", err)
		}
		if _, _, err := h.Request(1, time.Unix(-1<<40, 0), 1); !errors.Is(err, ErrNoKey) {
			t.Errorf("Request long ago: %v", err)
		}
	})
	// None of it changed the holder's directory.
	if got, err := h.Directory().MarshalBinary(); err != nil || string(got) != string(data) {
		t.Fatalf("misuse changed the holder's directory: %v", err)
	}
}
