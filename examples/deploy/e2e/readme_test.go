package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/statustoken/statustoken/examples/deploy/internal/litewitnesstest"
)

// walkthroughPorts are the fixed loopback ports the README's walkthrough
// uses: the three witnesses, the issuer and Redis.
var walkthroughPorts = []string{"7381", "7382", "7383", "8080", "6390"}

// TestREADMEWalkthrough runs the top-level README's walkthrough as
// written: every indented command block of its section, in order, in one
// bash shell, from the root of a copy of the repository's files (as a
// fresh clone has them). Then it runs the blocks that start and stop the
// witnesses, and the issuer, once more, as the README says one may, and
// gets one more token. It checks what each step must show.
func TestREADMEWalkthrough(t *testing.T) {
	litewitnesstest.Require(t)
	for _, tool := range []string{"bash", "redis-server", "redis-cli", "git"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s not found and CI is set: .ci/run must install it", tool)
			}
			t.Skipf("%s not installed; CI runs this test", tool)
		}
	}
	for _, port := range walkthroughPorts {
		ln, err := net.Listen("tcp", "127.0.0.1:"+port)
		if err != nil {
			t.Fatalf("the walkthrough needs 127.0.0.1:%s, which is in use: %v", port, err)
		}
		ln.Close()
	}
	readme, err := os.ReadFile("../../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := walkthroughBlocks(t, string(readme))

	// A copy of the files a clone has, with their working-tree contents.
	root := t.TempDir()
	copyTracked(t, "../../..", root)

	var script strings.Builder
	// Whatever happens, nothing the walkthrough started outlives the test.
	script.WriteString(`cleanup() {
  cd "$ROOT/examples/deploy" 2>/dev/null || return
  kill $ISSUER $(cat witness*/pid witness*/agent.pid 2>/dev/null) 2>/dev/null
  redis-cli -p 6390 shutdown nosave >/dev/null 2>&1
  true
}
trap cleanup EXIT
`)
	start, stop := -1, -1
	for i, b := range blocks {
		if strings.HasPrefix(b, ": > witnesses.txt") {
			start = i
		}
		if strings.HasPrefix(b, "kill $(cat witness*/pid)") {
			stop = i
		}
	}
	if start < 0 || stop < 0 {
		t.Fatalf("the walkthrough has no block that starts the witnesses, or none that stops them")
	}
	for i, b := range blocks {
		fmt.Fprintf(&script, "echo '### block %d'\n%s\n", i, b)
	}
	// Again: the witnesses, the issuer, one more token, and the stops.
	issuerStart := blockWith(t, blocks, "bin/issuer -witnesses")
	issuerStop := blockWith(t, blocks, "kill $ISSUER")
	request := blockWith(t, blocks, "bin/wallet request")
	for _, i := range []int{start, issuerStart, request, issuerStop, stop} {
		fmt.Fprintf(&script, "echo '### again %d'\n%s\n", i, blocks[i])
	}

	// redis-server --daemonize leaves the process group: stop it by name.
	t.Cleanup(func() { exec.Command("redis-cli", "-p", "6390", "shutdown", "nosave").Run() })
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", script.String())
	// The shell and everything it starts form one process group, which a
	// timeout ends as a whole: a background program left running would
	// otherwise hold the output open.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "ROOT="+root, "GOFLAGS=-mod=mod")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	text := out.String()
	if err != nil {
		t.Fatalf("walkthrough: %v\n%s", err, text)
	}
	t.Logf("walkthrough output:\n%s", text)

	steps := strings.Split(text, "### ")
	for _, c := range []struct {
		block string // the block's command that identifies it
		want  []string
	}{
		{"bin/issuer -witnesses", []string{"msg=listening", "issue-max-age"}},
		{"bin/wallet request", []string{"10 green tokens stored"}},
		{"bin/scanner update", []string{"serial"}},
		{"bin/scanner -trust issuer-state/trust.txt < token.txt", []string{"VALID"}},
		{"-batch queue.txt -json", []string{`"valid":true`}},
		{"-gate", []string{"VALID"}},
		{"redis-server --port 6390", []string{"VALID", "already used"}},
		{"redis-cli -p 6390 shutdown", []string{"unavailable", "VALID"}},
		{"bin/monitor", []string{"serial"}},
	} {
		i := blockWith(t, blocks, c.block)
		got := stepOutput(steps, fmt.Sprintf("block %d\n", i))
		for _, w := range c.want {
			if !strings.Contains(got, w) {
				t.Errorf("block %d (%s): output lacks %q:\n%s", i, c.block, w, got)
			}
		}
	}
	// The first token scanned again, by a new scanner process: refused
	// through the spent-token file.
	rescan := -1
	for i, b := range blocks {
		if b == "bin/scanner -trust issuer-state/trust.txt < token.txt" {
			rescan = i
		}
	}
	if rescan < 0 || rescan == blockWith(t, blocks, "< token.txt") {
		t.Fatal("the walkthrough does not scan the first token a second time on its own")
	}
	if got := stepOutput(steps, fmt.Sprintf("block %d\n", rescan)); !strings.Contains(got, "already used") {
		t.Errorf("block %d: the first token scanned again by a new process:\n%s", rescan, got)
	}
	if got := stepOutput(steps, fmt.Sprintf("again %d\n", request)); !strings.Contains(got, "10 green tokens stored") {
		t.Errorf("a token request after the witnesses and the issuer restarted:\n%s", got)
	}
	if strings.Contains(text, "Overwrite") || strings.Contains(text, "Address already in use") {
		t.Errorf("a block did not run again cleanly:\n%s", text)
	}
}

// walkthroughBlocks returns the indented command blocks of the README's
// section "Walkthrough", each without its indentation.
func walkthroughBlocks(t *testing.T, readme string) []string {
	t.Helper()
	i := strings.Index(readme, "\n## Walkthrough")
	if i < 0 {
		t.Fatal("README.md has no section Walkthrough")
	}
	section := readme[i+1:]
	if j := strings.Index(section[1:], "\n## "); j >= 0 {
		section = section[:j+1]
	}
	var blocks []string
	var cur []string
	for _, line := range strings.Split(section, "\n") {
		if strings.HasPrefix(line, "    ") {
			cur = append(cur, line[4:])
			continue
		}
		if len(cur) > 0 {
			blocks = append(blocks, strings.Join(cur, "\n"))
			cur = nil
		}
	}
	if len(blocks) < 10 {
		t.Fatalf("the walkthrough has %d command blocks", len(blocks))
	}
	return blocks
}

// blockWith returns the index of the first block containing s.
func blockWith(t *testing.T, blocks []string, s string) int {
	t.Helper()
	for i, b := range blocks {
		if strings.Contains(b, s) {
			return i
		}
	}
	t.Fatalf("no walkthrough block runs %q", s)
	return -1
}

// stepOutput returns the output that follows the marker "### "+head.
func stepOutput(steps []string, head string) string {
	for _, s := range steps {
		if strings.HasPrefix(s, head) {
			return s
		}
	}
	return ""
}

// copyTracked copies every file git tracks under src (with its contents
// in the working tree, so that uncommitted changes are tested too) to dst.
func copyTracked(t *testing.T, src, dst string) {
	t.Helper()
	cmd := exec.Command("git", "ls-files", "-z")
	cmd.Dir = src
	list, err := cmd.Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	for _, name := range strings.Split(strings.TrimRight(string(list), "\x00"), "\x00") {
		from := filepath.Join(src, name)
		st, err := os.Lstat(from)
		if err != nil {
			if os.IsNotExist(err) {
				continue // deleted in the working tree
			}
			t.Fatal(err)
		}
		if !st.Mode().IsRegular() {
			continue
		}
		to := filepath.Join(dst, name)
		if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := copyFile(from, to, st.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
	}
}

func copyFile(from, to string, perm os.FileMode) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
