package scanner

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/statustoken/statustoken/token"
	"github.com/statustoken/statustoken/token/tokenhttp"
)

// noFiles checks that none of the files Update writes exists.
func noFiles(t *testing.T, what string, c UpdateConfig) {
	t.Helper()
	for _, name := range []string{c.DirectoryFile, c.SignatureFile, c.ProofFile, c.AcceptedFile} {
		if _, err := os.Stat(name); err == nil {
			t.Fatalf("%s: %s written", what, name)
		}
	}
}

// TestUpdateNoRedirect: an issuer URL that redirects elsewhere, here to a
// server that serves a valid directory, is refused (SPEC.md: clients do
// not follow redirects), with a message that says so, and nothing is
// saved.
func TestUpdateNoRedirect(t *testing.T) {
	e := newEnv(t)
	var srv served
	srv.set(e.pub)
	target := srv.serve(t)
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target+r.URL.Path, http.StatusFound)
	}))
	t.Cleanup(redirect.Close)
	c := updateFiles(e.trust, redirect.URL, t.TempDir())
	_, err := Update(t.Context(), c)
	var se *SetupError
	if !errors.Is(err, tokenhttp.ErrUnexpectedStatus) || errors.As(err, &se) ||
		!strings.Contains(err.Error(), redirect.URL+" answered 302 Found, a redirect, which the scanner does not follow") {
		t.Fatalf("redirecting issuer: %v", err)
	}
	noPackageNames(t, "redirect", err.Error())
	noFiles(t, "redirect", c)
	// The URL it redirects to is taken.
	c.Issuer = target
	if u, err := Update(t.Context(), c); err != nil || u.Serial != 1 {
		t.Fatalf("the issuer's own URL: %v", err)
	}
}

// TestUpdateShortSignature: a signature served from its own path that is
// shorter than 64 bytes is a malformed answer of the issuer, not a
// directory whose signature does not verify.
func TestUpdateShortSignature(t *testing.T) {
	e := newEnv(t)
	for _, n := range []int{0, 1, 63} {
		mux := http.NewServeMux()
		mux.HandleFunc("GET "+tokenhttp.DirectoryPath, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("ETag", `"1"`)
			w.Write(e.pub.Directory)
		})
		mux.HandleFunc("GET "+tokenhttp.SignaturePath, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("ETag", `"1"`)
			w.Write(e.pub.Signature[:n])
		})
		mux.HandleFunc("GET "+tokenhttp.ProofPath, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("ETag", `"1"`)
			w.Write(e.pub.Proof)
		})
		srv := httptest.NewServer(mux)
		c := updateFiles(e.trust, srv.URL, t.TempDir())
		_, err := Update(t.Context(), c)
		srv.Close()
		var se *SetupError
		if !errors.Is(err, tokenhttp.ErrMalformedResponse) || errors.As(err, &se) ||
			!strings.Contains(err.Error(), "the issuer at "+srv.URL+" sent a malformed answer") {
			t.Fatalf("signature of %d bytes: %v", n, err)
		}
		noPackageNames(t, "short signature", err.Error())
		noFiles(t, "short signature", c)
	}
}

// TestUpdateFetchErrors: the issuer's refusals are explained, and leave
// the saved files as they were.
func TestUpdateFetchErrors(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct {
		code int
		err  error
		want string
	}{
		{http.StatusNotFound, tokenhttp.ErrUnexpectedStatus, "answered 404 Not Found; check -issuer"},
		{http.StatusServiceUnavailable, tokenhttp.ErrUnavailable, "cannot answer now (issuer answered 503 Service Unavailable: not yet (Retry-After: 60 s)); try again later"},
		{http.StatusInternalServerError, tokenhttp.ErrUnexpectedStatus, "the issuer answered 500 Internal Server Error: not yet"},
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "60")
			http.Error(w, "not yet", c.code)
		}))
		uc := updateFiles(e.trust, srv.URL, t.TempDir())
		_, err := Update(t.Context(), uc)
		srv.Close()
		if !errors.Is(err, c.err) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%d: %v, want %q", c.code, err, c.want)
		}
		noFiles(t, "refusal", uc)
	}
}

// TestUpdateFileOrder: Update writes the signature, the proof, the
// directory and then the accepted state, each by renaming a new file over
// the old one (SPEC.md, "Files a scanner saves").
func TestUpdateFileOrder(t *testing.T) {
	e := newEnv(t)
	var srv served
	srv.set(e.pub)
	dir := t.TempDir()
	c := updateFiles(e.trust, srv.serve(t), dir)
	if _, err := Update(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	one := savedFiles(t, c)
	// Serial 1's files, kept open: an atomic write leaves them as they
	// were.
	var old []*os.File
	for _, name := range []string{c.DirectoryFile, c.SignatureFile, c.ProofFile, c.AcceptedFile} {
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		old = append(old, f)
	}
	data2, sig2, _ := e.is.Directory(time.Now(), 2)
	p2, err := e.log.Publish(data2, sig2, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	srv.set(p2)
	if _, err := Update(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	for i, f := range old {
		b := make([]byte, len(one[i])+1)
		if n, _ := f.ReadAt(b, 0); !bytes.Equal(b[:n], one[i]) {
			t.Fatalf("%s written in place", f.Name())
		}
	}
	var mtimes []time.Time
	for _, name := range []string{c.SignatureFile, c.ProofFile, c.DirectoryFile, c.AcceptedFile} {
		fi, err := os.Stat(name)
		if err != nil {
			t.Fatal(err)
		}
		mtimes = append(mtimes, fi.ModTime())
	}
	for i := 1; i < len(mtimes); i++ {
		if mtimes[i].Before(mtimes[i-1]) {
			t.Fatalf("file %d written before file %d: %v", i, i-1, mtimes)
		}
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 4 {
		t.Fatalf("temporary files left: %v", ents)
	}
	if have, _ := os.ReadFile(c.SignatureFile); !bytes.Equal(have, p2.Signature) {
		t.Fatal("the signature is not saved raw")
	}
}

// TestSavedOlderDirectory: a directory older than the saved accepted
// state, put in place of the one Update saved last, still fresh and
// logged, is refused when checking tokens, as Update refuses it, with a
// message that says to run "scanner update". The directory the accepted
// state names is taken.
func TestSavedOlderDirectory(t *testing.T) {
	e := newEnv(t)
	var srv served
	srv.set(e.pub)
	dir := t.TempDir()
	c := updateFiles(e.trust, srv.serve(t), dir)
	if _, err := Update(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	one := savedFiles(t, c)
	data2, sig2, _ := e.is.Directory(time.Now(), 2)
	p2, err := e.log.Publish(data2, sig2, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	srv.set(p2)
	if u, err := Update(t.Context(), c); err != nil || u.Serial != 2 {
		t.Fatalf("serial 2: %v", err)
	}
	cfg := e.config()
	cfg.DirectoryFile, cfg.SignatureFile, cfg.ProofFile, cfg.AcceptedFile = c.DirectoryFile, c.SignatureFile, c.ProofFile, c.AcceptedFile
	cfg.Single = true
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("serial 2 saved: %v", err)
	}
	s.Close()
	// Serial 1's files (not the accepted state) put back.
	for i, name := range []string{c.DirectoryFile, c.SignatureFile, c.ProofFile} {
		os.WriteFile(name, one[i], 0o644)
	}
	_, err = New(cfg)
	var se *SetupError
	want := "the saved directory " + c.DirectoryFile + " is serial 1, older than serial 2 accepted before (in " + c.AcceptedFile + "): it is not the directory this scanner saved last; run \"scanner update\""
	if !errors.As(err, &se) || !errors.Is(err, token.ErrRollback) || err.Error() != want {
		t.Fatalf("older saved directory: %v\nwant %s", err, want)
	}
	// Update refuses serial 1 as well, and a scanner without the
	// accepted state file (an older layout) takes it.
	srv.set(e.pub)
	if _, err := Update(t.Context(), c); !errors.Is(err, token.ErrRollback) {
		t.Fatalf("serial 1 served: %v", err)
	}
	cfg.AcceptedFile = filepath.Join(dir, "none.accepted")
	s, err = New(cfg)
	if err != nil {
		t.Fatalf("no accepted state: %v", err)
	}
	s.Close()
	// Without an accepted state file, no check is possible.
	cfg.AcceptedFile = ""
	if _, err := New(cfg); !errors.As(err, &se) {
		t.Fatalf("no accepted state file named: %v", err)
	}
}
