package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io"
	"io/fs"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/statustoken/statustoken/examples/deploy/internal/syncbuf"

	"github.com/statustoken/statustoken/examples/deploy/internal/witnesstest"
	"github.com/statustoken/statustoken/token"
	"github.com/statustoken/statustoken/token/tokenhttp"
)

// syncBuffer collects output written from several goroutines.
type syncBuffer = syncbuf.Buffer

const testOrigin = "statustoken.test/cmd-issuer/directory"

// deployment is what an operator sets up before the first start: a state
// directory with the log key and a holder, and three witnesses (in the
// test process, on loopback) that know the log, in a witnesses file.
type deployment struct {
	t         *testing.T
	state     string
	witnesses string
	apiKey    string
}

func newDeployment(t *testing.T) *deployment {
	t.Helper()
	d := &deployment{t: t, state: filepath.Join(t.TempDir(), "state"), witnesses: filepath.Join(t.TempDir(), "witnesses.txt")}
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"log-key", "-state", d.state, "-log-origin", testOrigin}, &out, &errOut); code != 0 {
		t.Fatalf("log-key: %d %s", code, errOut.String())
	}
	vkeys := strings.Fields(out.String())
	if len(vkeys) != 2 {
		t.Fatalf("log-key printed %q, want the keys of the two logs", out.String())
	}
	var lines []string
	for i := range 3 {
		w := witnesstest.New(fmt.Sprintf("w%d.example", i+1))
		for _, vkey := range vkeys {
			if err := w.AddLog(vkey); err != nil {
				t.Fatal(err)
			}
		}
		lines = append(lines, w.Line(w.Start(t)))
	}
	if err := os.WriteFile(d.witnesses, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if code := run(context.Background(), []string{"add-holder", "-state", d.state, "green"}, &out, &errOut); code != 0 {
		t.Fatalf("add-holder: %d %s", code, errOut.String())
	}
	d.apiKey = strings.TrimSpace(out.String())
	return d
}

// args returns the serve arguments for state, then extra.
func (d *deployment) args(state string, extra ...string) []string {
	return append([]string{"-state", state, "-witnesses", d.witnesses, "-epochs", "1"}, extra...)
}

// service is a run of the issuer's serve command in the test process.
type service struct {
	t      *testing.T
	log    *syncBuffer
	cancel context.CancelFunc
	done   chan int
	url    string
}

// start runs "issuer" with args and waits until it listens.
func start(t *testing.T, args ...string) *service {
	t.Helper()
	s := launch(t, args...)
	s.url = waitFor(t, s, regexp.MustCompile(`msg=listening url=(\S+)`))
	return s
}

// launch runs "issuer" with args.
func launch(t *testing.T, args ...string) *service {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &service{t: t, log: &syncBuffer{}, cancel: cancel, done: make(chan int, 1)}
	go func() { s.done <- run(ctx, args, io.Discard, s.log) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-s.done:
		case <-time.After(30 * time.Second):
			t.Error("the issuer did not stop")
		}
	})
	return s
}

// wait returns the exit code of a run that ends by itself.
func (s *service) wait() int {
	s.t.Helper()
	select {
	case code := <-s.done:
		s.done <- code
		return code
	case <-time.After(60 * time.Second):
		s.t.Fatalf("the issuer did not exit:\n%s", s.log)
	}
	return 0
}

// stop stops the run as SIGTERM would and returns its exit code.
func (s *service) stop() int {
	s.t.Helper()
	s.cancel()
	return s.wait()
}

func waitFor(t *testing.T, s *service, re *regexp.Regexp) string {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if m := re.FindStringSubmatch(s.log.String()); m != nil {
			return m[1]
		}
		select {
		case code := <-s.done:
			s.done <- code
			t.Fatalf("the issuer exited %d:\n%s", code, s.log)
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("the issuer did not start:\n%s", s.log)
	return ""
}

// fetch gets the directory served at url, as a wallet does.
func fetch(t *testing.T, client *http.Client, url string) *token.Directory {
	t.Helper()
	c, err := tokenhttp.NewClient(url, client)
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.FetchDirectory(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	d, err := token.ParseDirectory(p.Directory)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// snapshot returns the SHA-256 of every file under dir, by path.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		m[strings.TrimPrefix(path, dir)] = hex.EncodeToString(sum[:])
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// copyDir copies the state directory src to dst, modes included.
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := e.Info()
		if err != nil {
			return err
		}
		to := filepath.Join(dst, strings.TrimPrefix(path, src))
		if e.IsDir() {
			return os.MkdirAll(to, fi.Mode().Perm())
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(to, data, fi.Mode().Perm())
	})
	if err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// TestBindFailureLeavesState starts a second issuer, on a copy of the
// first one's state, on the port the first one holds: it fails to bind
// before it publishes anything, and its state is as it was. Started
// later on a free port, it serves the same directory: still current, it
// needs no new serial.
func TestBindFailureLeavesState(t *testing.T) {
	d := newDeployment(t)
	first := start(t, d.args(d.state, "-addr", "127.0.0.1:0")...)
	if dir := fetch(t, http.DefaultClient, first.url); dir.Serial != 1 {
		t.Fatalf("first issuer serves serial %d", dir.Serial)
	}
	state2 := filepath.Join(t.TempDir(), "state2")
	copyDir(t, d.state, state2)
	before := snapshot(t, state2)
	if readFile(t, filepath.Join(state2, "serial")) != "1\n" {
		t.Fatalf("serial file %q", readFile(t, filepath.Join(state2, "serial")))
	}

	second := launch(t, d.args(state2, "-addr", strings.TrimPrefix(first.url, "http://"))...)
	if code := second.wait(); code != 1 {
		t.Fatalf("second issuer on a busy port: exit %d\n%s", code, second.log)
	}
	log := second.log.String()
	if !strings.Contains(log, "address already in use") || !strings.Contains(log, "nothing was published") {
		t.Fatalf("second issuer's error:\n%s", log)
	}
	for _, s := range []string{"directory published", "directory logged", "listening"} {
		if strings.Contains(log, s) {
			t.Fatalf("second issuer logged %q before failing to bind:\n%s", s, log)
		}
	}
	after := snapshot(t, state2)
	if len(after) != len(before) {
		t.Fatalf("state files: %d before, %d after", len(before), len(after))
	}
	for name, sum := range before {
		if after[name] != sum {
			t.Errorf("%s changed", name)
		}
	}

	// The first issuer stops; the copy starts in the same window.
	if code := first.stop(); code != 0 {
		t.Fatalf("first issuer: exit %d\n%s", code, first.log)
	}
	third := start(t, d.args(state2, "-addr", "127.0.0.1:0")...)
	if dir := fetch(t, http.DefaultClient, third.url); dir.Serial != 1 {
		t.Fatalf("restart in the same window serves serial %d, want 1", dir.Serial)
	}
	if !strings.Contains(third.log.String(), `msg="directory still current: no new serial" serial=1`) ||
		!strings.Contains(third.log.String(), "directory proof refreshed") {
		t.Fatalf("restart log:\n%s", third.log)
	}
	if readFile(t, filepath.Join(state2, "serial")) != "1\n" {
		t.Fatal("the serial moved at a restart in the same window")
	}
	if code := third.stop(); code != 0 {
		t.Fatalf("exit %d\n%s", code, third.log)
	}

	// -republish makes a new directory anyway.
	fourth := start(t, d.args(state2, "-addr", "127.0.0.1:0", "-republish")...)
	if dir := fetch(t, http.DefaultClient, fourth.url); dir.Serial != 2 {
		t.Fatalf("with -republish: serial %d, want 2", dir.Serial)
	}
	if !strings.Contains(fourth.log.String(), `msg="directory published" serial=2`) {
		t.Fatalf("log:\n%s", fourth.log)
	}
}

// TestPlainHTTPBeyondLoopback: plain HTTP on every interface is refused
// without -insecure-http, and served with it.
func TestPlainHTTPBeyondLoopback(t *testing.T) {
	d := newDeployment(t)
	for _, addr := range []string{"0.0.0.0:0", ":0", "[::]:0"} {
		var out, errOut bytes.Buffer
		code := run(context.Background(), d.args(d.state, "-addr", addr), &out, &errOut)
		msg := errOut.String()
		if code != 2 || !strings.Contains(msg, "API keys would travel in clear text; use -tls-cert and -tls-key, or -insecure-http behind a TLS proxy") ||
			strings.Count(msg, "\n") != 2 {
			t.Fatalf("-addr %s: exit %d %q", addr, code, msg)
		}
	}
	if _, err := os.Stat(filepath.Join(d.state, "serial")); err == nil {
		t.Fatal("a refused start published a directory")
	}

	// With -insecure-http. The test stays on loopback: the listener the
	// service asks for on 0.0.0.0 is opened on 127.0.0.1.
	defer func(l func(string, string) (net.Listener, error)) { listen = l }(listen)
	var asked []string
	listen = func(network, addr string) (net.Listener, error) {
		asked = append(asked, addr)
		return net.Listen(network, "127.0.0.1:0")
	}
	s := start(t, d.args(d.state, "-addr", "0.0.0.0:0", "-insecure-http")...)
	if len(asked) != 1 || asked[0] != "0.0.0.0:0" {
		t.Fatalf("listened on %q", asked)
	}
	if !strings.Contains(s.log.String(), "serving plain HTTP beyond loopback (-insecure-http)") {
		t.Fatalf("no warning:\n%s", s.log)
	}
	if dir := fetch(t, http.DefaultClient, s.url); dir.Serial != 1 {
		t.Fatalf("serial %d", dir.Serial)
	}
}

// selfSigned writes a self-signed certificate for 127.0.0.1 and its key,
// and returns their files and a pool that trusts it.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "issuer test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, pool
}

// TestTLS serves HTTPS with a self-signed certificate to a client that
// trusts it.
func TestTLS(t *testing.T) {
	d := newDeployment(t)
	certFile, keyFile, pool := selfSigned(t, t.TempDir())

	// A certificate that does not load fails the start before anything
	// is bound or published.
	var out, errOut bytes.Buffer
	if code := run(context.Background(), d.args(d.state, "-addr", "127.0.0.1:0", "-tls-cert", certFile, "-tls-key", certFile), &out, &errOut); code != 1 ||
		!strings.Contains(errOut.String(), "TLS certificate") || strings.Contains(errOut.String(), "directory") {
		t.Fatalf("bad key file: %d %q", code, errOut.String())
	}
	if _, err := os.Stat(filepath.Join(d.state, "serial")); err == nil {
		t.Fatal("a failed start published a directory")
	}

	s := start(t, d.args(d.state, "-addr", "127.0.0.1:0", "-tls-cert", certFile, "-tls-key", keyFile)...)
	if !strings.HasPrefix(s.url, "https://127.0.0.1:") {
		t.Fatalf("url %q", s.url)
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	if dir := fetch(t, client, s.url); dir.Serial != 1 {
		t.Fatalf("serial %d", dir.Serial)
	}
	resp, err := client.Get(s.url + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.TLS == nil || resp.TLS.Version < tls.VersionTLS12 {
		t.Fatalf("TLS state %+v", resp.TLS)
	}
	// A client that does not trust the certificate is refused.
	if _, err := http.Get(s.url + "/healthz"); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("untrusting client: %v", err)
	}
	// Plain HTTP to the TLS port gets no service.
	if resp, err := http.Get(strings.Replace(s.url, "https://", "http://", 1) + "/healthz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Fatal("plain HTTP served on the TLS port")
		}
	}
	if code := s.stop(); code != 0 {
		t.Fatalf("exit %d\n%s", code, s.log)
	}
	// The handshake failures are logged without the client's address.
	if !strings.Contains(s.log.String(), "TLS handshake error from [address]") || regexp.MustCompile(`http server.*127\.0\.0\.1`).MatchString(s.log.String()) {
		t.Fatalf("client address in the log:\n%s", s.log)
	}
}

// TestServeAndShutdown runs the service, with JSON logs, and stops it as
// SIGTERM does.
func TestServeAndShutdown(t *testing.T) {
	d := newDeployment(t)
	s := launch(t, d.args(d.state, "-addr", "127.0.0.1:0", "-log-json")...)
	url := waitFor(t, s, regexp.MustCompile(`"msg":"listening","url":"(\S+?)"`))
	resp, err := http.Get(url + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if code := s.stop(); code != 0 {
		t.Fatalf("exit %d\n%s", code, s.log)
	}
	for _, line := range strings.Split(strings.TrimSpace(s.log.String()), "\n") {
		if !strings.HasPrefix(line, "{") || !strings.HasSuffix(line, "}") {
			t.Fatalf("not a JSON log line: %q", line)
		}
	}
	for _, want := range []string{`"msg":"directory published","serial":1`, `"msg":"request","method":"GET","path":"/healthz","status":200`, `"msg":"stopped"`} {
		if !strings.Contains(s.log.String(), want) {
			t.Errorf("log lacks %s:\n%s", want, s.log)
		}
	}
	if strings.Contains(s.log.String(), d.apiKey) {
		t.Fatal("the log holds the API key")
	}
	if _, err := http.Get(url + "/healthz"); err == nil {
		t.Fatal("still serving after shutdown")
	}

	// -log-level warn: no info lines, so not even "listening".
	s = launch(t, d.args(d.state, "-addr", "127.0.0.1:0", "-log-level", "warn")...)
	time.Sleep(500 * time.Millisecond)
	if code := s.stop(); code != 0 || strings.Contains(s.log.String(), "level=INFO") {
		t.Fatalf("-log-level warn: exit %d\n%s", code, s.log)
	}
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"-help"}, {"serve", "-h"}, {"add-holder", "-h"}, {"log-key", "-h"}, {"help"}} {
		var out, errOut bytes.Buffer
		if code := run(context.Background(), args, &out, &errOut); code != 0 {
			t.Errorf("%v: exit %d", args, code)
		}
		if !strings.Contains(out.String(), "issuer add-holder") || errOut.Len() != 0 {
			t.Errorf("%v: no usage text on stdout, or something on stderr: %q", args, errOut.String())
		}
	}
	var out, errOut bytes.Buffer
	run(context.Background(), []string{"-h"}, &out, &errOut)
	for _, flag := range []string{"-tls-cert", "-insecure-http", "-log-level", "-log-json", "-republish", "-witnesses"} {
		if !strings.Contains(out.String(), "  "+flag) {
			t.Errorf("-h does not list %s", flag)
		}
	}

	// Usage errors: the error and where to find the usage, in two lines
	// at most, exit 2.
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"-frob"}, "flag provided but not defined: -frob"},
		{[]string{"-statuses", "0=x"}, "CODE from 1 to 255"},
		{[]string{"-statuses", "1=Green"}, "-statuses"},
		{[]string{"-statuses", "1=a,2=a"}, "-statuses"},
		{[]string{"-statuses", "1=a,1=b"}, "-statuses"},
		{[]string{"-witnesses", "w", "-rate-limit", "0"}, "-rate-limit must be at least 1"},
		{[]string{"-witnesses", "w", "-tls-cert", "x"}, "-tls-cert and -tls-key go together"},
		{[]string{"serve", "-witnesses", "w", "extra"}, `unexpected argument "extra"`},
		{[]string{"serve"}, "-witnesses is required"},
		{[]string{"-witnesses", "w", "-quorum", "0"}, "-quorum must be at least 1"},
		{[]string{"-witnesses", "w", "-cosign-every", "48h"}, "-cosign-every"},
		{[]string{"-witnesses", "w", "-log-level", "loud"}, `-log-level "loud"`},
		{[]string{"-witnesses", "w", "-addr", "8080"}, "want HOST:PORT"},
		{[]string{"-epoch"}, "flag needs an argument: -epoch"},
		{[]string{"log-key", "extra"}, `unexpected argument "extra"`},
		{[]string{"log-key", "-x"}, "flag provided but not defined: -x"},
		{[]string{"add-holder", "-x", "green"}, "flag provided but not defined: -x"},
		{[]string{"add-holder"}, "add-holder takes one decision"},
	} {
		var out, errOut bytes.Buffer
		code := run(context.Background(), c.args, &out, &errOut)
		msg := errOut.String()
		lines := strings.Split(strings.TrimSuffix(msg, "\n"), "\n")
		if code != 2 || len(lines) > 2 || !strings.HasPrefix(msg, "issuer: ") || !strings.Contains(lines[0], c.want) ||
			!regexp.MustCompile(`^run 'issuer( add-holder| log-key)? -h' for usage$`).MatchString(lines[len(lines)-1]) || out.Len() != 0 {
			t.Errorf("%v: exit %d, stderr %q, want 2 and two lines with %q", c.args, code, msg, c.want)
		}
	}
}

func TestAddHolderCommand(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "st")
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"add-holder", "-state", dir, "red"}, &out, &errOut); code != 0 {
		t.Fatalf("add-holder: %d %s", code, errOut.String())
	}
	key := strings.TrimSpace(out.String())
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(key) || !strings.Contains(errOut.String(), "added a holder with decision red to "+filepath.Join(dir, "holders")) {
		t.Fatalf("API key %q, message %q", key, errOut.String())
	}
	if strings.Contains(readFile(t, filepath.Join(dir, "holders")), key) {
		t.Fatal("holders file stores the API key itself")
	}
	// Flags after the status work too; unknown statuses are refused.
	out.Reset()
	if code := run(context.Background(), []string{"add-holder", "green", "-state", dir}, &out, &errOut); code != 0 {
		t.Fatalf("add-holder with flags last: %d", code)
	}
	errOut.Reset()
	if code := run(context.Background(), []string{"add-holder", "-state", dir, "purple"}, &out, &errOut); code != 1 ||
		!strings.Contains(errOut.String(), `unknown status "purple"`) {
		t.Fatalf("unknown status: %d %q", code, errOut.String())
	}
	// A depositor, refused for reason 4 of the default policy; a
	// reason that does not allow the outcome is refused.
	errOut.Reset()
	if code := run(context.Background(), []string{"add-holder", "-state", dir, "refused:4"}, &out, &errOut); code != 0 ||
		!strings.Contains(readFile(t, filepath.Join(dir, "holders")), " refused:4\n") {
		t.Fatalf("refused:4: %d %q", code, errOut.String())
	}
	errOut.Reset()
	if code := run(context.Background(), []string{"add-holder", "-state", dir, "green:4"}, &out, &errOut); code != 1 ||
		!strings.Contains(errOut.String(), "no reason 4 for green") {
		t.Fatalf("green:4: %d %q", code, errOut.String())
	}
	// A reasons file of the operator's.
	reasons := filepath.Join(t.TempDir(), "reasons")
	os.WriteFile(reasons, []byte("# policy\n1 green evidence negative test result\n2 red - positive test result\n4 refused - administrative\n9 refused - other\n\n"), 0o644)
	errOut.Reset()
	if code := run(context.Background(), []string{"add-holder", "-state", dir, "-reasons", reasons, "refused:9"}, &out, &errOut); code != 0 {
		t.Fatalf("-reasons: %d %q", code, errOut.String())
	}
	os.WriteFile(reasons, []byte("1 purple - x\n"), 0o644)
	errOut.Reset()
	if code := run(context.Background(), []string{"add-holder", "-state", dir, "-reasons", reasons, "green"}, &out, &errOut); code != 2 ||
		!strings.Contains(errOut.String(), `outcome "purple"`) {
		t.Fatalf("-reasons with an unknown outcome: %d %q", code, errOut.String())
	}
	errOut.Reset()
	holders := filepath.Join(t.TempDir(), "private", "h")
	if code := run(context.Background(), []string{"add-holder", "-holders", holders, "-statuses", "7=blue", "blue"}, &out, &errOut); code != 0 ||
		!strings.Contains(readFile(t, holders), " blue\n") {
		t.Fatalf("-holders and -statuses: %d %q", code, errOut.String())
	}
}

func TestLogKeyCommand(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "st")
	logKey := func(args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		code := run(context.Background(), append([]string{"log-key", "-state", dir}, args...), &out, &errOut)
		return code, strings.TrimSpace(out.String()), errOut.String()
	}
	code, vkeys, msg := logKey()
	const origin = "statustoken.example/deploy/directory"
	vkey, dkey, _ := strings.Cut(vkeys, "\n")
	if code != 0 || !strings.HasPrefix(vkey, origin+"+") || !strings.Contains(msg, "created the log key") ||
		!strings.Contains(msg, "witnessctl add-key -db DB -origin "+origin+" -key "+vkey) ||
		!strings.HasPrefix(dkey, origin+"/decisions+") || !strings.Contains(msg, "witnessctl add-key -db DB -origin "+origin+"/decisions -key "+dkey) {
		t.Fatalf("log-key: %d %q %q", code, vkeys, msg)
	}
	if code, again, msg := logKey(); code != 0 || again != vkeys || strings.Contains(msg, "created") {
		t.Fatalf("second log-key: %d %q %q", code, again, msg)
	}
	if code, _, msg := logKey("-log-origin", "other.example/log"); code != 1 || !strings.Contains(msg, "origin never changes") {
		t.Fatalf("another origin: %d %q", code, msg)
	}
	fi, err := os.Stat(filepath.Join(dir, "log.key"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("log.key: %v", err)
	}
}
