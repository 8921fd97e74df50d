package issuer

import (
	"crypto/ed25519"
	"errors"
	"testing"
	"time"

	"github.com/statustoken/statustoken/issue"
	"github.com/statustoken/statustoken/token"
)

// FuzzParseReasons: a reasons file is refused with an error, never a
// panic, and every policy ParseReasons accepts is one the library
// publishes: an issuer made with it signs a valid directory.
//
//	go test ./internal/issuer -run '^$' -fuzz FuzzParseReasons -fuzztime 60s
func FuzzParseReasons(f *testing.F) {
	for _, s := range []string{
		"1 green,refused - negative test result\n2 red,refused - positive test result\n3 refused - no test on record\n4 refused - administrative\n",
		"1 green evidence negative test result\n2 refused - administrative\n",
		"# comment\n\n7 red,green,refused evidence any\n",
		"1 green - \xff\n", "0 green - x\n", "1 purple - x\n", "2 green - a\n1 red - b\n",
	} {
		f.Add([]byte(s))
	}
	_, vkey, err := issue.GenerateLogKey("statustoken.example/fuzz/decisions")
	if err != nil {
		f.Fatal(err)
	}
	root := ed25519.NewKeyFromSeed(make([]byte, 32))
	decision := ed25519.NewKeyFromSeed(append(make([]byte, 31), 1))
	now := time.Date(2026, 12, 8, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, data []byte) {
		reasons, err := ParseReasons(data, testStatuses)
		if err != nil {
			return
		}
		is, err := issue.NewIssuer(issue.Config{
			RootKey: root, Seed: make([]byte, issue.SeedSize), EpochLength: 24 * time.Hour,
			Statuses: testStatuses, Suites: []token.Suite{token.Ed25519},
			DecisionKey: decision, DecisionLogKey: vkey, DecisionLogDelay: time.Hour,
			Reasons: reasons, TokensPerRequest: 10,
		})
		if err != nil {
			t.Fatalf("a policy ParseReasons accepted is refused by the library: %v\n%q", err, data)
		}
		if _, _, err := is.Directory(now, 1); err != nil {
			if errors.Is(err, token.ErrInvalidDirectory) {
				t.Fatalf("a policy ParseReasons accepted makes an invalid directory: %v\n%q", err, data)
			}
			t.Fatal(err)
		}
	})
}
