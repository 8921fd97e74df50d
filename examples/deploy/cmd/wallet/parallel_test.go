package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/statustoken/statustoken/examples/deploy/internal/litewitnesstest"
	"github.com/statustoken/statustoken/examples/deploy/internal/wallet"
	"github.com/statustoken/statustoken/examples/deploy/internal/wallet/wallettest"
	"github.com/statustoken/statustoken/token"
)

// TestParallelCommands builds the wallet and runs 6 show, 8 export -n 1
// and 4 request -n 10 processes at once on one state: no token is shown
// twice, and every token the issuer signed is either shown exactly once
// (and marked used) or stored unused.
func TestParallelCommands(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the wallet")
	}
	bin := filepath.Join(t.TempDir(), "wallet")
	if out, err := exec.Command(litewitnesstest.GoTool(t), "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	f := wallettest.New(t)
	const perRequest = 10 // each token request the issuer answers signs 10
	state := filepath.Join(t.TempDir(), "w")
	request := []string{"request", "-state", state, "-issuer", f.URL(), "-trust", f.Trust, "-n", "10"}
	run := func(args ...string) (string, string, error) {
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), apiKeyEnv+"="+wallettest.APIKey)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		return stdout.String(), stderr.String(), err
	}
	if _, stderr, err := run(request...); err != nil {
		t.Fatalf("first request: %v %s", err, stderr)
	}

	var commands [][]string
	for range 6 {
		commands = append(commands, []string{"show", "-state", state, "-png", "", "-qr=false"})
	}
	for range 8 {
		commands = append(commands, []string{"export", "-state", state, "-n", "1"})
	}
	for range 4 {
		commands = append(commands, request)
	}
	var (
		mu    sync.Mutex
		shown []string
		wg    sync.WaitGroup
	)
	for _, args := range commands {
		wg.Go(func() {
			stdout, stderr, err := run(args...)
			if err != nil {
				t.Errorf("%s: %v %s", args[0], err, stderr)
				return
			}
			if args[0] == "request" {
				return
			}
			mu.Lock()
			shown = append(shown, strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")...)
			mu.Unlock()
		})
	}
	wg.Wait()
	if len(shown) != 14 {
		t.Fatalf("%d tokens shown by 14 commands", len(shown))
	}

	data, err := os.ReadFile(filepath.Join(state, wallet.TokensFile))
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Tokens []struct {
			Token string
			Used  bool
		}
	}
	if err := json.Unmarshal(data, &file); err != nil {
		t.Fatal(err)
	}
	stored := map[string]bool{} // text form -> used
	for _, st := range file.Tokens {
		tok, err := token.ParseBase64(st.Token)
		if err != nil {
			t.Fatal(err)
		}
		text, _ := tok.MarshalText()
		if _, dup := stored[string(text)]; dup {
			t.Fatal("a token stored twice")
		}
		stored[string(text)] = st.Used
	}
	seen := map[string]bool{}
	for _, s := range shown {
		if seen[s] {
			t.Errorf("token shown twice: %.30s...", s)
		}
		seen[s] = true
		if used, ok := stored[s]; !ok || !used {
			t.Errorf("shown token stored %v, used %v", ok, used)
		}
	}
	used := 0
	for _, u := range stored {
		if u {
			used++
		}
	}
	if signed := len(f.GotAuth()) * perRequest; len(stored) != signed || used != len(seen) {
		t.Fatalf("%d tokens signed, %d stored of which %d used; %d shown", signed, len(stored), used, len(seen))
	}
}
