package holder

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/statustoken/statustoken/issue"
	"github.com/statustoken/statustoken/token"
)

// internalNames are the internal packages that no error text may name:
// callers see only the public packages. rsabssa is also the public name
// of a suite, and format an English word, so for those two only the
// package's own error prefix ("rsabssa: ") or a qualified name counts.
var internalNames = []string{"base45", "edsig", "keyset", "internal/", "rsabssa:", "rsabssa.", "format:", "format."}

func checkNoInternalName(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: no error", what)
		return
	}
	for _, n := range internalNames {
		if strings.Contains(err.Error(), n) {
			t.Errorf("%s: error %q names an internal package (%q)", what, err, strings.TrimRight(n, ":./"))
		}
	}
}

func checkErrorText(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil && !strings.HasPrefix(err.Error(), "holder: ") {
		t.Errorf("%s: error %q does not start with \"holder: \"", what, err)
	}
	checkNoInternalName(t, what, err)
}

// checkTokenErrorText checks that err wraps want, a token sentinel, and
// names no internal package.
func checkTokenErrorText(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) || !strings.HasPrefix(err.Error(), "token: ") {
		t.Errorf("%s: %v, want a token error wrapping %v", what, err, want)
	}
	checkNoInternalName(t, what, err)
}

// TestErrorText checks the text of every sentinel error and of the errors
// the holder's own checks return: each starts with "holder: " and names no
// internal package.
func TestErrorText(t *testing.T) {
	for _, err := range []error{ErrNoKey, ErrCount, ErrResponse, ErrPending, ErrUpdateFirst, errBlind} {
		checkErrorText(t, "sentinel", err)
	}
	is := testIssuer(t, func(c *issue.Config) { c.Suites = []token.Suite{token.Ed25519, token.RSABSSA} })
	h := testHolder(t, is)

	_, _, err := h.Request(1, testNow, 0)
	checkErrorText(t, "Request of 0 tokens", err)
	_, _, err = h.Request(9, testNow, 1)
	checkErrorText(t, "Request of an unknown status", err)

	p, req, good := request(t, is, h, 1, 2)
	_, _, other := request(t, is, h, 2, 2)
	_, _, three := request(t, is, h, 1, 3)
	for name, resp := range map[string][]byte{
		"empty":         nil,
		"short header":  good[:5],
		"truncated":     good[:len(good)-1],
		"oversized":     make([]byte, MaxResponseSize+1),
		"version":       append([]byte{9}, good[1:]...),
		"count 0":       append(bytes.Clone(good[:9]), 0),
		"other key":     other,
		"other count":   three,
		"bad signature": append(bytes.Clone(good[:len(good)-1]), good[len(good)-1]^1),
		"request":       req,
	} {
		p, _, _ := request(t, is, h, 1, 2)
		_, err := h.Finalize(p, resp)
		if !errors.Is(err, ErrResponse) {
			t.Errorf("Finalize, %s: %v", name, err)
		}
		checkErrorText(t, "Finalize, "+name, err)
	}
	if _, err := h.Finalize(p, good); err != nil {
		t.Fatal(err)
	}
	_, err = h.Finalize(p, good)
	checkErrorText(t, "Finalize twice", err)
	_, err = h.Finalize(nil, good)
	checkErrorText(t, "Finalize of a nil Pending", err)
	p2, _, good2 := request(t, is, testHolder(t, is), 1, 1)
	_, err = h.Finalize(p2, good2)
	checkErrorText(t, "Finalize of another holder's Pending", err)

	edToks, err := is.IssueEd25519(1, testNow, 1)
	if err != nil {
		t.Fatal(err)
	}
	bad := *edToks[0]
	bad.Signature = bytes.Clone(bad.Signature)
	bad.Signature[0] ^= 1
	checkErrorText(t, "Accept of a bad signature", h.Accept([]*token.Token{&bad}))
	bad.Signature[63] |= 0xf0
	checkErrorText(t, "Accept of a non-canonical signature", h.Accept([]*token.Token{&bad}))
	checkErrorText(t, "Accept of a nil token", h.Accept([]*token.Token{nil}))
	checkErrorText(t, "Accept of a zero token", h.Accept([]*token.Token{{}}))
	bad = *edToks[0]
	bad.Status = 2
	checkErrorText(t, "Accept of a token of another status", h.Accept([]*token.Token{&bad}))
	bad = *edToks[0]
	bad.Signature = bad.Signature[:10]
	checkErrorText(t, "Accept of a short signature", h.Accept([]*token.Token{&bad}))

	data, sig := signedDirectory(t, is, testNow, 0)
	// Directory errors are the token package's own.
	checkTokenErrorText(t, "Update to a lower serial", updateH(h, data, sig), token.ErrRollback)
	data, sig = signedDirectory(t, is, testNow.Add(24*time.Hour), 1)
	checkTokenErrorText(t, "Update to an equal serial", updateH(h, data, sig), token.ErrRollback)
}

// TestErrorTextDirectory checks the errors of New and Update for a
// directory they refuse: they wrap the token package's errors, as the
// package documents, and name no internal package.
func TestErrorTextDirectory(t *testing.T) {
	is := testIssuer(t, nil)
	data, sig := signedDirectory(t, is, testNow, 1)
	h := testHolder(t, is)
	root := is.RootPublicKey()
	for name, c := range map[string]struct{ data, sig, root []byte }{
		"bad signature":  {data, append(bytes.Clone(sig[:63]), sig[63]^1), root},
		"no signature":   {data, nil, root},
		"oversized":      {make([]byte, token.MaxDirectorySize+1), sig, root},
		"malformed":      {[]byte("{}"), ed25519Sign([]byte("{}")), root},
		"invalid":        {bytes.Replace(data, []byte(`"version":1`), []byte(`"version":2`), 1), nil, root},
		"nil root key":   {data, sig, nil},
		"short root key": {data, sig, root[:31]},
		"zero root key":  {data, sig, make([]byte, 32)},
	} {
		if name == "invalid" {
			c.sig = ed25519Sign(c.data)
		}
		_, err := newH(c.data, c.sig, c.root)
		if !errors.Is(err, token.ErrMalformedDirectory) && !errors.Is(err, token.ErrInvalidDirectory) &&
			!errors.Is(err, token.ErrDirectorySignature) && !errors.Is(err, token.ErrMalformedTrust) {
			t.Errorf("New, %s: %v", name, err)
		}
		checkNoInternalName(t, "New, "+name, err)
		if c.root != nil && &c.root[0] == &root[0] && len(c.root) == len(root) {
			checkNoInternalName(t, "Update, "+name, updateH(h, c.data, c.sig))
		}
	}
}
