// Package litewitnesstest runs real litewitness witnesses
// (filippo.io/torchwood/cmd/litewitness, the version this module
// requires) on loopback ports for the end-to-end test.
//
// Each witness key is an Ed25519 ssh key held by a private ssh-agent, as
// litewitness requires. When ssh-keygen, ssh-agent or ssh-add is missing,
// Require skips the test, unless the environment variable CI is set:
// there they are required (.ci/run installs openssh-client) and the test
// fails.
package litewitnesstest

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/statustoken/statustoken/examples/deploy/internal/syncbuf"

	"golang.org/x/crypto/ssh"
)

// Require checks that the OpenSSH tools are installed.
func Require(t testing.TB) {
	t.Helper()
	for _, tool := range []string{"ssh-keygen", "ssh-agent", "ssh-add"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s not found and CI is set: .ci/run must install it (apt-get install openssh-client)", tool)
			}
			t.Skipf("%s not installed (apt-get install openssh-client); CI runs this test", tool)
		}
	}
}

// GoTool returns the go command.
func GoTool(t testing.TB) string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	p := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("no go command to build the programs with")
	}
	return p
}

// Build compiles litewitness and witnessctl into dir, from the module of
// the current directory (which requires torchwood as a tool).
func Build(t testing.TB, dir string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, GoTool(t), "build", "-o", dir+string(filepath.Separator),
		"filippo.io/torchwood/cmd/litewitness", "filippo.io/torchwood/cmd/witnessctl")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building litewitness: %v\n%s", err, out)
	}
}

// Key is a witness's Ed25519 ssh key, loaded into its own ssh-agent.
type Key struct {
	// Name is the witness's name, in its cosignature lines.
	Name string
	// Fingerprint is the key's SHA256 fingerprint, litewitness's -key.
	Fingerprint string
	// Public is the Ed25519 public key.
	Public ed25519.PublicKey
	// Socket is the ssh-agent's socket.
	Socket string
}

// NewKey makes an ssh key for the witness name in dir, starts an
// ssh-agent for it (stopped when the test ends) and adds the key.
func NewKey(t testing.TB, dir, name string) *Key {
	t.Helper()
	file := filepath.Join(dir, "witness-key")
	run(t, nil, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", file)
	// ssh-keygen -l prints "256 SHA256:... comment (ED25519)".
	fields := strings.Fields(run(t, nil, "ssh-keygen", "-l", "-f", file+".pub"))
	if len(fields) < 2 || !strings.HasPrefix(fields[1], "SHA256:") {
		t.Fatalf("ssh-keygen -l: %q", fields)
	}
	pubText, err := os.ReadFile(file + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	pk, _, _, _, err := ssh.ParseAuthorizedKey(pubText)
	if err != nil {
		t.Fatal(err)
	}
	pub, ok := pk.(ssh.CryptoPublicKey).CryptoPublicKey().(ed25519.PublicKey)
	if !ok {
		t.Fatal("not an Ed25519 key")
	}
	if ssh.FingerprintSHA256(pk) != fields[1] {
		t.Fatalf("fingerprint %s, ssh-keygen says %s", ssh.FingerprintSHA256(pk), fields[1])
	}
	k := &Key{Name: name, Fingerprint: fields[1], Public: pub, Socket: socketPath(t)}
	agent := exec.Command("ssh-agent", "-D", "-a", k.Socket)
	var agentOut bytes.Buffer
	agent.Stdout, agent.Stderr = &agentOut, &agentOut
	if err := agent.Start(); err != nil {
		t.Fatalf("ssh-agent: %v", err)
	}
	t.Cleanup(func() {
		agent.Process.Kill()
		agent.Wait()
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		if c, err := net.Dial("unix", k.Socket); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ssh-agent did not start: %s", agentOut.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	run(t, []string{"SSH_AUTH_SOCK=" + k.Socket}, "ssh-add", "-q", file)
	return k
}

// socketPath returns a short path for a unix socket (their paths are
// limited to about 100 bytes, which test directories can exceed).
func socketPath(t testing.TB) string {
	dir, err := os.MkdirTemp("", "lw")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return filepath.Join(dir, "agent.sock")
}

// VerifierKey returns the witness's c2sp.org/tlog-cosignature vkey:
// name, key hash and base64 of 0x04 and the public key, where the key
// hash is the first four bytes of SHA-256(name, newline, 0x04, key).
func (k *Key) VerifierKey() string {
	enc := append([]byte{0x04}, k.Public...)
	h := sha256.Sum256(append([]byte(k.Name+"\n"), enc...))
	return fmt.Sprintf("%s+%08x+%s", k.Name, binary.BigEndian.Uint32(h[:4]), base64.StdEncoding.EncodeToString(enc))
}

func run(t testing.TB, env []string, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// Log is a log to register with a witness: its origin and note vkey.
type Log struct {
	Origin, VerifierKey string
}

// Witness is one litewitness process.
type Witness struct {
	Key *Key
	// DB is its SQLite database.
	DB string
	// URL is its base URL on 127.0.0.1.
	URL string

	bin    string
	cmd    *exec.Cmd
	out    *syncBuffer
	exited chan struct{}
}

// syncBuffer collects output written from several goroutines.
type syncBuffer = syncbuf.Buffer

// Start registers logs in a new database in dir (witnessctl add-log and
// add-key) and runs litewitness with key on a free loopback port, until
// Stop or the end of the test.
func Start(t testing.TB, bin, dir string, key *Key, logs ...Log) *Witness {
	t.Helper()
	w := &Witness{Key: key, DB: filepath.Join(dir, "litewitness.db"), bin: bin}
	ctl := filepath.Join(bin, "witnessctl")
	for _, l := range logs {
		run(t, nil, ctl, "add-log", "-db", w.DB, "-origin", l.Origin)
		run(t, nil, ctl, "add-key", "-db", w.DB, "-origin", l.Origin, "-key", l.VerifierKey)
	}
	var lastErr error
	for range 5 {
		if lastErr = w.start(); lastErr == nil {
			t.Cleanup(w.Stop)
			return w
		}
	}
	t.Fatalf("starting litewitness %s: %v", key.Name, lastErr)
	return nil
}

var vkeyLine = regexp.MustCompile(`msg="verifier key" vkey="?([^" \n]+)`)

func (w *Witness) start() error {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	addr := l.Addr().String()
	l.Close()
	w.out = &syncBuffer{}
	w.cmd = exec.Command(filepath.Join(w.bin, "litewitness"),
		"-name", w.Key.Name, "-key", w.Key.Fingerprint, "-ssh-agent", w.Key.Socket,
		"-listen", addr, "-db", w.DB)
	w.cmd.Stdout, w.cmd.Stderr = w.out, w.out
	if err := w.cmd.Start(); err != nil {
		return err
	}
	w.exited = make(chan struct{})
	go func() {
		w.cmd.Wait()
		close(w.exited)
	}()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			break
		}
		select {
		case <-w.exited:
			return fmt.Errorf("litewitness exited:\n%s", w.out)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			w.Kill()
			return fmt.Errorf("litewitness did not listen on %s:\n%s", addr, w.out)
		}
	}
	// litewitness logs its cosignature vkey: it must be the one derived
	// from the ssh key.
	m := vkeyLine.FindStringSubmatch(w.out.String())
	if m == nil || m[1] != w.Key.VerifierKey() {
		w.Kill()
		return fmt.Errorf("litewitness's verifier key %q, derived %q:\n%s", m, w.Key.VerifierKey(), w.out)
	}
	w.URL = "http://" + addr
	return nil
}

// Line returns the witness's line for an issuer's witnesses file.
func (w *Witness) Line() string {
	return fmt.Sprintf("witness %s %s %s", w.Key.Name, w.Key.VerifierKey(), w.URL)
}

// Output returns what litewitness wrote.
func (w *Witness) Output() string { return w.out.String() }

// Stop interrupts litewitness and waits for it to exit, killing it after
// five seconds.
func (w *Witness) Stop() {
	if w.cmd == nil || w.cmd.Process == nil {
		return
	}
	select {
	case <-w.exited:
		return
	default:
	}
	w.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-w.exited:
	case <-time.After(5 * time.Second):
		w.Kill()
	}
}

// Kill kills litewitness at once, as a crash or a power cut would, and
// waits for it to exit.
func (w *Witness) Kill() {
	w.cmd.Process.Kill()
	<-w.exited
}

// Size returns the size of the latest tree of the log origin that the
// witness cosigned, from its database (witnessctl list-logs), or -1.
func (w *Witness) Size(t testing.TB, origin string) int64 {
	t.Helper()
	out := run(t, nil, filepath.Join(w.bin, "witnessctl"), "list-logs", "-db", w.DB)
	for _, line := range strings.Split(out, "\n") {
		if !strings.Contains(line, `"origin":"`+origin+`"`) {
			continue
		}
		m := regexp.MustCompile(`"size":(\d+)`).FindStringSubmatch(line)
		if m == nil {
			break
		}
		n, _ := strconv.ParseInt(m[1], 10, 64)
		return n
	}
	return -1
}
