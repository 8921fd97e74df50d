package termtest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/statustoken/statustoken/examples/deploy/internal/litewitnesstest"
	"github.com/statustoken/statustoken/examples/deploy/internal/wallet"
	"github.com/statustoken/statustoken/examples/deploy/internal/wallet/wallettest"
)

// The terminal's size.
const width, height = 80, 24

// need returns the path of a program, skipping the test without it, or
// failing it when CI is set (CI installs tmux and zbar-tools).
func need(t *testing.T, prog, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(prog)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s not found: install %s (CI is set, so this test does not skip)", prog, pkg)
		}
		t.Skipf("%s not found: install %s", prog, pkg)
	}
	return p
}

// terminal is a tmux server of its own, for sessions of width×height.
type terminal struct {
	t    *testing.T
	tmux string
	sock string
	n    int
}

func newTerminal(t *testing.T) *terminal {
	tm := &terminal{t: t, tmux: need(t, "tmux", "tmux")}
	// A short socket path: Unix socket paths are limited to about 100
	// bytes, and t.TempDir's can be longer.
	dir, err := os.MkdirTemp("", "termtest")
	if err != nil {
		t.Fatal(err)
	}
	tm.sock = filepath.Join(dir, "tmux.sock")
	t.Cleanup(func() {
		exec.Command(tm.tmux, "-S", tm.sock, "kill-server").Run()
		os.RemoveAll(dir)
	})
	return tm
}

func (tm *terminal) cmd(args ...string) ([]byte, error) {
	c := exec.Command(tm.tmux, append([]string{"-u", "-S", tm.sock, "-f", "/dev/null"}, args...)...)
	c.Env = append(os.Environ(), "LANG=C.UTF-8", "LC_ALL=C.UTF-8", "TERM=xterm-256color")
	return c.Output()
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// screen is what a session showed once its program ended.
type screen struct {
	// lines are the visible lines, plain; cells the same with whether
	// each cell's background is bright white.
	lines []string
	cells [][]cell
	// all is the whole scrollback and screen, wrapped lines joined.
	all []string
	// escaped are the visible lines with their SGR sequences.
	escaped []string
	// code is the program's exit status.
	code int
}

type cell struct {
	r     rune
	white bool // bright white background
}

// run runs argv in dir on a new width×height terminal and returns its
// screen once argv has exited. The terminal then shows what a user
// sees, with the cursor on the line after the output (where a shell's
// prompt would be).
func (tm *terminal) run(dir string, timeout time.Duration, argv ...string) *screen {
	t := tm.t
	t.Helper()
	tm.n++
	name := fmt.Sprintf("s%d", tm.n)
	rc := filepath.Join(t.TempDir(), "rc")
	var q []string
	for _, a := range argv {
		q = append(q, shellQuote(a))
	}
	// The pane stays after the program, printing nothing more.
	script := fmt.Sprintf("cd %s && %s; echo $? > %s; exec sleep 3600", shellQuote(dir), strings.Join(q, " "), shellQuote(rc))
	if out, err := tm.cmd("new-session", "-d", "-s", name, "-x", strconv.Itoa(width), "-y", strconv.Itoa(height), script); err != nil {
		t.Fatalf("tmux new-session: %v %s", err, out)
	}
	defer tm.cmd("kill-session", "-t", name)
	size, err := tm.cmd("display-message", "-p", "-t", name, "#{pane_width}x#{pane_height}")
	if err != nil || strings.TrimSpace(string(size)) != fmt.Sprintf("%dx%d", width, height) {
		t.Fatalf("tmux pane is %q (%v), want %dx%d", size, err, width, height)
	}
	deadline := time.Now().Add(timeout)
	var status []byte
	for {
		if status, err = os.ReadFile(rc); err == nil && bytes.HasSuffix(status, []byte("\n")) {
			break
		}
		if time.Now().After(deadline) {
			out, _ := tm.cmd("capture-pane", "-p", "-t", name)
			t.Fatalf("%v did not end within %v; the screen:\n%s", argv, timeout, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
	s := &screen{}
	s.code, _ = strconv.Atoi(strings.TrimSpace(string(status)))
	plain, err := tm.cmd("capture-pane", "-p", "-t", name)
	if err != nil {
		t.Fatal(err)
	}
	s.lines = strings.Split(strings.TrimSuffix(string(plain), "\n"), "\n")
	// -N keeps trailing spaces, which are the code's quiet zone.
	escaped, err := tm.cmd("capture-pane", "-p", "-e", "-N", "-t", name)
	if err != nil {
		t.Fatal(err)
	}
	s.escaped = strings.Split(strings.TrimSuffix(string(escaped), "\n"), "\n")
	white := false
	for _, l := range s.escaped {
		var cells []cell
		cells, white = parseCells(l, white)
		s.cells = append(s.cells, cells)
	}
	all, err := tm.cmd("capture-pane", "-p", "-J", "-S", "-", "-E", "-", "-t", name)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(strings.TrimSuffix(string(all), "\n"), "\n") {
		s.all = append(s.all, strings.TrimRight(l, " "))
	}
	if len(s.lines) != height || len(s.cells) != height {
		t.Fatalf("captured %d lines (%d with attributes), want %d", len(s.lines), len(s.cells), height)
	}
	return s
}

var sgr = regexp.MustCompile(`^\x1b\[([0-9;]*)m`)

// parseCells reads a line of capture-pane -e: characters and SGR
// sequences, of which it follows the background, white at the start of
// the line (capture-pane carries attributes from line to line). It
// returns the cells and the background at the end of the line.
func parseCells(l string, white bool) ([]cell, bool) {
	var cells []cell
	for len(l) > 0 {
		if m := sgr.FindStringSubmatch(l); m != nil {
			for _, p := range strings.Split(m[1], ";") {
				switch p {
				case "107":
					white = true
				case "", "0", "49", "40", "41", "42", "43", "44", "45", "46", "47", "100", "101", "102", "103", "104", "105", "106":
					white = false
				}
			}
			l = l[len(m[0]):]
			continue
		}
		r, n := utf8.DecodeRuneInString(l)
		cells = append(cells, cell{r, white})
		l = l[n:]
	}
	return cells, white
}

func (s *screen) String() string { return strings.Join(s.lines, "\n") }

// root returns the repository's root, the module of the demo.
func root(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", "..", "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if data, err := os.ReadFile(filepath.Join(dir, "go.mod")); err != nil || !bytes.HasPrefix(data, []byte("module github.com/statustoken/statustoken\n")) {
		t.Fatalf("%s is not the repository's root: %v", dir, err)
	}
	return dir
}

// build compiles a package into dir and returns the program's path.
func build(t *testing.T, moduleDir, pkg, dir string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out := filepath.Join(dir, filepath.Base(pkg))
	c := exec.CommandContext(ctx, litewitnesstest.GoTool(t), "build", "-o", out, pkg)
	c.Dir = moduleDir
	if b, err := c.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
	return out
}

// TestDemo runs the demo (go run ./examples/demo -n 200, built first) on
// an 80x24 terminal: every line of its report fits 80 columns, but the
// token's text form, and it ends with its verdict.
func TestDemo(t *testing.T) {
	tm := newTerminal(t)
	dir := root(t)
	demo := build(t, dir, "./examples/demo", t.TempDir())
	s := tm.run(dir, 3*time.Minute, demo, "-n", "200")
	if s.code != 0 {
		t.Fatalf("demo exit %d:\n%s", s.code, strings.Join(s.all, "\n"))
	}
	out := strings.Join(s.all, "\n")
	for _, want := range []string{"1. The issuer publishes", "8. What a wallet shows at a scan", "verdict: OK: 400 tokens issued"} {
		if !strings.Contains(out, want) {
			t.Errorf("the demo's report lacks %q:\n%s", want, out)
		}
	}
	tokenLines := 0
	for i, l := range s.all {
		if strings.HasPrefix(strings.TrimSpace(l), "HT1:") {
			tokenLines++
			continue
		}
		if n := utf8.RuneCountInString(l); n > width {
			t.Errorf("line %d is %d columns: %q", i+1, n, l)
		}
	}
	if tokenLines != 1 {
		t.Errorf("%d token lines, want 1", tokenLines)
	}
	// The last paragraph is the verdict, and nothing follows it.
	paragraphs := strings.Split(strings.TrimRight(out, "\n "), "\n\n")
	if last := paragraphs[len(paragraphs)-1]; !strings.HasPrefix(last, "verdict: OK: ") || !strings.HasSuffix(last, "as they must be.") {
		t.Fatalf("the demo does not end with its verdict:\n%s", last)
	}
	t.Logf("the demo's last screen:\n%s", s)
}

// wallets builds the wallet and makes two wallet states under dir: ed/w
// with ed25519 tokens (from a walk-in kiosk, stored directly) and rsa/w
// with rsabssa tokens (from "wallet request" against a test issuer). It
// returns the wallet's path and the ed25519 tokens' text forms.
func wallets(t *testing.T, dir string) (string, map[string]bool) {
	t.Helper()
	bin := build(t, filepath.Join("..", ".."), "github.com/statustoken/statustoken/examples/deploy/cmd/wallet", t.TempDir())
	f := wallettest.New(t)

	os.Mkdir(filepath.Join(dir, "ed"), 0o700)
	s, err := wallet.Create(filepath.Join(dir, "ed", "w"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.StoreDirectory(f.Current(), f.Holder().Accepted(), f.TrustPolicy()); err != nil {
		t.Fatal(err)
	}
	toks := f.Ed25519Tokens(3)
	s.Add(toks)
	if err := s.Save(time.Now()); err != nil {
		t.Fatal(err)
	}
	s.Close()
	texts := map[string]bool{}
	for _, tok := range toks {
		text, _ := tok.MarshalText()
		texts[string(text)] = true
	}

	os.Mkdir(filepath.Join(dir, "rsa"), 0o700)
	c := exec.Command(bin, "request", "-state", "w", "-issuer", f.URL(), "-trust", f.Trust, "-n", "2")
	c.Dir = filepath.Join(dir, "rsa")
	c.Env = append(os.Environ(), "STATUSTOKEN_API_KEY="+wallettest.APIKey)
	if out, err := c.CombinedOutput(); err != nil || !strings.Contains(string(out), "2 green tokens stored") {
		t.Fatalf("wallet request: %v %s", err, out)
	}
	return bin, texts
}

// TestWalletShow shows tokens on an 80x24 terminal: an ed25519 token's
// whole QR code, quiet zone included, is on the screen with the token's
// details, and decodes to the token (read back from the screen and by
// zbarimg); an rsabssa token's code is too large, and the wallet says to
// open the PNG, which decodes to the token.
func TestWalletShow(t *testing.T) {
	tm := newTerminal(t)
	zbar := need(t, "zbarimg", "zbar-tools")
	dir := t.TempDir()
	bin, edTexts := wallets(t, dir)

	t.Run("ed25519", func(t *testing.T) {
		s := tm.run(filepath.Join(dir, "ed"), time.Minute, bin, "show", "-state", "w")
		if s.code != 0 {
			t.Fatalf("wallet show: exit %d\n%s", s.code, s)
		}
		t.Logf("the screen (%dx%d):\n%s", width, height, s)
		code := readCode(t, s)
		text := decodeModules(t, zbar, code.bare, filepath.Join(t.TempDir(), "screen.png"))
		if !edTexts[text] {
			t.Fatalf("the screen's QR code decodes to %q, not one of the ed25519 tokens", text)
		}
		// The modules on the screen are the QR library's for the token.
		matched := ""
		for _, level := range []string{"L", "M"} {
			m, err := wallet.Modules(text, level, 0)
			if err != nil {
				t.Fatal(err)
			}
			if equal(m, code.bare) {
				matched = level
			}
		}
		if matched == "" {
			t.Fatal("the screen's modules are not the QR library's for the token")
		}
		t.Logf("QR code: %d modules (level %s), drawn as %d columns by %d lines with its quiet zone, on lines %d to %d",
			len(code.bare), matched, code.cols, code.lines, code.top+1, code.top+code.lines)
		if code.cols > width || code.lines > height-1 {
			t.Fatalf("the code takes %dx%d", code.cols, code.lines)
		}
		// The token's details beside it: a line of text on the same
		// screen.
		for _, want := range []string{"green token", "valid until ", "2 unused left", "PNG: token.png"} {
			if !strings.Contains(s.String(), want) {
				t.Errorf("the screen lacks %q", want)
			}
		}
		// And the PNG next to the state.
		if got := zbarimg(t, zbar, filepath.Join(dir, "ed", "token.png")); got != text {
			t.Fatalf("token.png decodes to %q, want %q", got, text)
		}
	})

	t.Run("rsabssa", func(t *testing.T) {
		s := tm.run(filepath.Join(dir, "rsa"), time.Minute, bin, "show", "-state", "w")
		if s.code != 0 {
			t.Fatalf("wallet show: exit %d\n%s", s.code, s)
		}
		t.Logf("the screen (%dx%d):\n%s", width, height, s)
		all := strings.Join(s.all, "\n")
		if want := "wallet: this token's QR code is too large for an 80x24 terminal: open token.png (written next to the state) or use -png FILE"; !strings.Contains(all, want) {
			t.Fatalf("the screen lacks %q:\n%s", want, all)
		}
		if strings.ContainsAny(all, "█▀▄") {
			t.Fatal("a QR code drawn though it does not fit")
		}
		var text string
		for _, l := range s.all {
			if strings.HasPrefix(l, "HT1:") {
				text = l
			}
		}
		if got := zbarimg(t, zbar, filepath.Join(dir, "rsa", "token.png")); text == "" || got != text {
			t.Fatalf("token.png decodes to %q, the screen shows %q", got, text)
		}
	})
}

// code is a QR code read from a screen.
type code struct {
	bare        [][]bool // the modules, without the quiet zone
	cols, lines int      // what it takes with its quiet zone
	top         int      // its first line, of the quiet zone
}

// readCode finds the QR code on the screen, checks that all of it and
// its quiet zone of 2 modules are there, the quiet zone and the light
// modules with a bright white background, and returns its modules.
func readCode(t *testing.T, s *screen) code {
	t.Helper()
	isBlock := func(r rune) bool { return r == '█' || r == '▀' || r == '▄' }
	first, last, left, right := -1, -1, width, -1
	for y, row := range s.cells {
		for x, c := range row {
			if isBlock(c.r) {
				if first < 0 {
					first = y
				}
				last = y
				left, right = min(left, x), max(right, x)
			}
		}
	}
	if first < 0 {
		t.Fatalf("no QR code on the screen:\n%s", s)
	}
	n := right - left + 1
	const q = wallet.TerminalQuietZone
	// The code's top module row is the first block line's top half, its
	// bottom one in the last block line; the quiet zone's lines are
	// above and below.
	if left < q || right+q >= width || first < 1 || last+1 >= height {
		t.Fatalf("the code (lines %d to %d, columns %d to %d) has no room for its quiet zone on the screen:\n%s", first+1, last+1, left+1, right+1, s)
	}
	if h := 2 * (last - first + 1); h != n && h != n+1 {
		t.Fatalf("the code is %d columns wide and %d module rows high", n, h)
	}
	at := func(y, x int) cell {
		if x < len(s.cells[y]) {
			return s.cells[y][x]
		}
		return cell{' ', false}
	}
	bare := make([][]bool, n)
	for y := range bare {
		bare[y] = make([]bool, n)
	}
	// Every cell of the code and its quiet zone: lines first-1 to last+1,
	// columns left-q to right+q.
	for y := first - 1; y <= last+1; y++ {
		for x := left - q; x <= right+q; x++ {
			c := at(y, x)
			if !c.white {
				t.Fatalf("line %d column %d (%q) is not on a bright white background: %q", y+1, x+1, c.r, s.escaped[y])
			}
			top, bottom := c.r == '█' || c.r == '▀', c.r == '█' || c.r == '▄'
			if c.r != ' ' && !top && !bottom {
				t.Fatalf("line %d column %d is %q", y+1, x+1, c.r)
			}
			for half, dark := range []bool{top, bottom} {
				my, mx := 2*(y-first)+half, x-left
				if my >= 0 && my < n && mx >= 0 && mx < n {
					bare[my][mx] = dark
				} else if dark {
					t.Fatalf("a dark module in the quiet zone, line %d column %d", y+1, x+1)
				}
			}
		}
	}
	// The quiet zone: 2 modules above (the line above), and below: the
	// rest of the last line and the line below.
	return code{bare: bare, cols: n + 2*q, lines: (n + 2*q + 1) / 2, top: first - 1}
}

func equal(a, b [][]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for y := range a {
		if len(a[y]) != len(b[y]) {
			return false
		}
		for x := range a[y] {
			if a[y][x] != b[y][x] {
				return false
			}
		}
	}
	return true
}

// decodeModules renders modules as a PNG (a quiet zone of 4, 4 pixels a
// module), as a phone's camera would see the screen, and decodes it with
// zbarimg.
func decodeModules(t *testing.T, zbar string, bare [][]bool, name string) string {
	t.Helper()
	n := len(bare)
	m := make([][]bool, n+2*wallet.PNGQuietZone)
	for y := range m {
		m[y] = make([]bool, len(m))
	}
	for y := range bare {
		copy(m[y+wallet.PNGQuietZone][wallet.PNGQuietZone:], bare[y])
	}
	data, err := wallet.PNG(m, 4)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return zbarimg(t, zbar, name)
}

func zbarimg(t *testing.T, zbar, name string) string {
	t.Helper()
	out, err := exec.Command(zbar, "--quiet", "--raw", "-Sdisable", "-Sqrcode.enable", name).Output()
	if err != nil {
		t.Fatalf("zbarimg %s: %v", name, err)
	}
	return strings.TrimSuffix(string(out), "\n")
}
