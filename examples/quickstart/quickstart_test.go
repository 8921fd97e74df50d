// Package quickstart holds the README's quick start as a runnable
// example, and a test that the README shows exactly this code.
package quickstart

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	gotoken "go/token"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/statustoken/statustoken/holder"
	"github.com/statustoken/statustoken/issue"
	"github.com/statustoken/statustoken/token"
	"github.com/statustoken/statustoken/verify"
)

// Example is the README's quick start: an issuer, a wallet and a scanner
// in one process. Between the markers, each part is one README block.
func Example() {
	// readme: issuer
	// The issuer's long-term root key signs directories: wallets and
	// scanners pin its public key. The seed derives Ed25519 issuing keys.
	_, rootKey, _ := ed25519.GenerateKey(rand.Reader)
	seed := make([]byte, issue.SeedSize)
	rand.Read(seed)

	issuer, err := issue.NewIssuer(issue.Config{
		RootKey:     rootKey,
		Seed:        seed,
		EpochLength: 24 * time.Hour, // tokens expire at the end of their key's day
		Statuses:    []token.StatusName{{Code: 1, Name: "green"}, {Code: 2, Name: "red"}},
		Suites:      []token.Suite{token.RSABSSA},
		RSAKeys:     issue.NewMemoryKeyStore(), // issue.FileKeyStore{Dir: ...} in production
	})
	if err != nil {
		panic(err)
	}
	serial := uint64(1) // every published directory gets a higher serial
	dir, sig, err := issuer.Directory(time.Now(), serial)
	if err != nil {
		panic(err)
	}
	pinnedRoot := issuer.RootPublicKey() // ship this in wallets and scanners
	// readme: end

	// readme: wallet
	wallet, err := holder.New(dir, sig, pinnedRoot) // checks the signed directory
	if err != nil {
		panic(err)
	}
	pending, request, err := wallet.Request(1, time.Now(), 20) // 20 blinded requests for status 1
	if err != nil {
		panic(err)
	}
	// The wallet sends request; the issuer authenticates the holder, decides
	// its status from its own evidence, and answers for that status only.
	response, err := issuer.Respond(request, time.Now(), 1)
	if err != nil {
		panic(err)
	}
	tokens, err := wallet.Finalize(pending, response) // refuses the whole response if any key or signature differs
	if err != nil {
		panic(err)
	}
	qr, err := tokens[0].MarshalText() // "HT1:..." for a QR code; show each token once
	if err != nil {
		panic(err)
	}
	// readme: end

	// readme: scanner
	ctx := context.Background()
	scanner, err := verify.New(dir, sig, pinnedRoot, &verify.Options{
		Spent: verify.NewMemoryStore(0, nil), // refuse a token shown twice
	})
	if err != nil {
		panic(err)
	}
	res, err := scanner.VerifyText(ctx, string(qr))
	fmt.Println(res.StatusName, err)
	_, err = scanner.VerifyText(ctx, string(qr))
	fmt.Println(errors.Is(err, verify.ErrReplayed))

	// Many tokens at once (a gate queue): one result and one error each.
	texts := make([]string, len(tokens)-1)
	for i, t := range tokens[1:] {
		b, _ := t.MarshalText()
		texts[i] = string(b)
	}
	results := make([]verify.Result, len(texts))
	errs := make([]error, len(texts))
	batch := scanner.NewBatch() // reuse it: it keeps its buffers
	err = batch.VerifyText(ctx, texts, results, errs)
	fmt.Println(err, results[0].StatusName, errs[0])
	// readme: end

	// Output:
	// green <nil>
	// true
	// <nil> green <nil>
}

// TestREADME checks that every "readme: NAME" part of Example appears,
// character for character, as the Go block after the README's
// "<!-- quickstart: NAME -->" line.
func TestREADME(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("quickstart_test.go")
	if err != nil {
		t.Fatal(err)
	}
	parts := exampleParts(t, src)
	if len(parts) != 3 {
		t.Fatalf("%d parts in Example, want 3", len(parts))
	}
	for name, code := range parts {
		re := regexp.MustCompile("(?s)<!-- quickstart: " + name + " -->\n```go\n(.*?)```\n")
		m := re.FindSubmatch(readme)
		if m == nil {
			t.Errorf("README has no quickstart block %q", name)
			continue
		}
		if got := string(m[1]); got != code {
			t.Errorf("README block %q differs from Example:\n--- README\n%s--- Example\n%s", name, got, code)
		}
	}
}

// exampleParts returns the lines between "// readme: NAME" and
// "// readme: end" in Example's body, with one level of indentation
// removed.
func exampleParts(t *testing.T, src []byte) map[string]string {
	fset := gotoken.NewFileSet()
	f, err := parser.ParseFile(fset, "quickstart_test.go", src, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	var body string
	for _, d := range f.Decls {
		if fn, ok := d.(*ast.FuncDecl); ok && fn.Name.Name == "Example" {
			body = string(src[fset.Position(fn.Body.Pos()).Offset:fset.Position(fn.Body.End()).Offset])
		}
	}
	parts := map[string]string{}
	var name string
	var cur strings.Builder
	for _, line := range strings.Split(body, "\n") {
		trimmed := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(trimmed, "// readme: end"):
			parts[name] = cur.String()
			name = ""
		case strings.HasPrefix(trimmed, "// readme: "):
			name = strings.TrimPrefix(trimmed, "// readme: ")
			cur.Reset()
		case name != "":
			cur.WriteString(strings.TrimPrefix(line, "\t") + "\n")
		}
	}
	return parts
}
