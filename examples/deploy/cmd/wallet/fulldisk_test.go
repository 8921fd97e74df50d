package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/statustoken/statustoken/examples/deploy/internal/litewitnesstest"
	"github.com/statustoken/statustoken/examples/deploy/internal/wallet/wallettest"
)

// fullDiskScript runs in a new user and mount namespace (unshare -rm),
// where an unprivileged user may mount a tmpfs: it mounts one of 512
// KiB, requests 5 tokens into a state on it, fills it to within 32 KiB,
// requests 100 more (about 40 KB), and copies the tokens file out.
const fullDiskScript = `set -u
mount -t tmpfs -o size=512k tmpfs "$DISK" || exit 90
"$WALLET" request -issuer "$ISSUER" -trust "$TRUST" -state "$DISK/w" -n 5 || exit 91
avail=$(df --output=avail -B1 "$DISK" | tail -n 1)
head -c $((avail - 32768)) /dev/zero > "$DISK/fill" 2>/dev/null
"$WALLET" request -issuer "$ISSUER" -trust "$TRUST" -state "$DISK/w" -n 100
echo "exit $?" >&2
cp "$DISK/w/tokens.json" "$OUT/tokens.json"
`

// TestRealFullDisk requests tokens into a state on a nearly full tmpfs:
// the wallet stops before it asks the issuer, so that no signed token
// and no rate-limit slot is lost. It needs unprivileged user namespaces
// (unshare -rm), and says so when the system has none.
func TestRealFullDisk(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the wallet")
	}
	if err := exec.Command("unshare", "-rm", "true").Run(); err != nil {
		t.Skipf("no unprivileged user namespaces (unshare -rm: %v): cannot mount a small file system", err)
	}
	bin := filepath.Join(t.TempDir(), "wallet")
	if out, err := exec.Command(litewitnesstest.GoTool(t), "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	f := wallettest.New(t)
	disk, out := t.TempDir(), t.TempDir()
	cmd := exec.Command("unshare", "-rm", "sh", "-c", fullDiskScript)
	cmd.Env = append(os.Environ(), apiKeyEnv+"="+wallettest.APIKey, "WALLET="+bin, "DISK="+disk, "OUT="+out,
		"ISSUER="+f.URL(), "TRUST="+f.Trust)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%v: %s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "no space left on device") || !strings.HasSuffix(stderr.String(), "exit 1\n") {
		t.Fatalf("request on a full disk: %s", stderr.String())
	}
	if n := len(f.GotAuth()); n != 1 {
		t.Fatalf("the issuer signed %d requests, the wallet stored 1", n)
	}
	data, err := os.ReadFile(filepath.Join(out, "tokens.json"))
	if err != nil {
		t.Fatal(err)
	}
	var file struct{ Tokens []json.RawMessage }
	if err := json.Unmarshal(data, &file); err != nil || len(file.Tokens) != 5 {
		t.Fatalf("tokens file: %v, %d tokens", err, len(file.Tokens))
	}
}
