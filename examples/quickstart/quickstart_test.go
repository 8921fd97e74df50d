// Package quickstart holds the README's quick start as a runnable
// example, and a test that the README shows exactly this code.
package quickstart

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"filippo.io/torchwood"
	"github.com/statustoken/statustoken/holder"
	"github.com/statustoken/statustoken/issue"
	"github.com/statustoken/statustoken/token"
	"github.com/statustoken/statustoken/verify"
	"golang.org/x/mod/sumdb/note"
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

	// Every directory goes into the issuer's append-only log, and only a
	// checkpoint that the witnesses cosigned is published with it.
	logKey, logVKey, err := issue.GenerateLogKey("example.org/health/directory")
	if err != nil {
		panic(err)
	}
	log, err := issue.NewLog(logKey, nil) // pass the stored records after a restart
	if err != nil {
		panic(err)
	}
	index, err := log.AppendDirectory(dir)
	if err != nil {
		panic(err)
	}
	checkpoint, err := log.Checkpoint()
	if err != nil {
		panic(err)
	}
	cosigned, witnessLines := cosignByWitnesses(log, checkpoint)
	proof, err := log.Proof(index, cosigned)
	if err != nil {
		panic(err)
	}
	published := token.Published{Directory: dir, Signature: sig, Proof: proof}

	// What wallets and scanners pin: the root key, the log's key, the
	// witnesses, the quorum, and how fresh a cosignature must be.
	trust, err := token.ParseTrust([]byte("root " + base64.StdEncoding.EncodeToString(issuer.RootPublicKey()) + "\n" +
		"log " + logVKey + "\n" + witnessLines +
		"group witnesses 2 w1.example w2.example w3.example\nquorum witnesses\nmax-age 48h\n"))
	if err != nil {
		panic(err)
	}
	// readme: end

	// readme: wallet
	wallet, err := holder.New(published, trust, nil) // checks the signature, the rules and the log proof
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
	scanner, err := verify.New(published, trust, &verify.Options{
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

	// Keep what the scanner accepted and pass it back after a restart:
	// no older directory, and no renamed status, is accepted again.
	state, err := scanner.Accepted().MarshalText()
	if err != nil {
		panic(err)
	}
	accepted, err := token.ParseAccepted(state, trust)
	if err != nil {
		panic(err)
	}
	scanner, err = verify.New(published, trust, &verify.Options{Accepted: accepted})
	fmt.Println(err)
	// readme: end

	// Output:
	// green <nil>
	// true
	// <nil> green <nil>
	// <nil>
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
	if len(parts) != 4 {
		t.Fatalf("%d parts in the example code, want 4", len(parts))
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

// exampleParts returns the lines between each "// readme: NAME" and the
// next "// readme: end" of this file, without the indentation of the
// marker line.
func exampleParts(t *testing.T, src []byte) map[string]string {
	t.Helper()
	parts := map[string]string{}
	var name, indent string
	var cur strings.Builder
	for _, line := range strings.Split(string(src), "\n") {
		trimmed := strings.TrimSpace(line)
		switch {
		case trimmed == "// readme: end" && name != "":
			parts[name] = cur.String()
			name = ""
		case strings.HasPrefix(trimmed, "// readme: ") && name == "" && !strings.Contains(trimmed, `"`):
			name = strings.TrimPrefix(trimmed, "// readme: ")
			indent = line[:len(line)-len(strings.TrimLeft(line, "\t"))]
			cur.Reset()
		case name != "":
			cur.WriteString(strings.TrimPrefix(line, indent) + "\n")
		}
	}
	return parts
}

// readme: witnesses
// cosignByWitnesses stands for the round trip to three witnesses, w1 to w3:
// in a deployment each is an independent service (c2sp.org/tlog-witness,
// such as litewitness) that cosigns a checkpoint only if it extends every
// one it cosigned before; examples/deploy runs three. Here they are keys
// in this process, and w3 is offline. It returns the checkpoint with the
// cosignatures, and the witness lines of the trust policy.
func cosignByWitnesses(log *issue.Log, checkpoint []byte) ([]byte, string) {
	text, _, _ := strings.Cut(string(checkpoint), "\n\n")
	var lines string
	var cosignatures [][]byte
	for _, name := range []string{"w1.example", "w2.example", "w3.example"} {
		_, key, _ := ed25519.GenerateKey(rand.Reader)
		w, err := torchwood.NewCosignatureSigner(name, key)
		if err != nil {
			panic(err)
		}
		lines += "witness " + name + " " + w.Verifier().String() + "\n"
		if name == "w3.example" {
			continue
		}
		signed, err := note.Sign(&note.Note{Text: text + "\n"}, w)
		if err != nil {
			panic(err)
		}
		_, sigLine, _ := strings.Cut(string(signed), "\n\n")
		cosignatures = append(cosignatures, []byte(sigLine))
	}
	cosigned, err := log.Cosigned(checkpoint, cosignatures...)
	if err != nil {
		panic(err)
	}
	return cosigned, lines
}

// readme: end
