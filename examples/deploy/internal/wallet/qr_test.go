package wallet

import (
	"bytes"
	"flag"
	"image/png"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/statustoken/statustoken/examples/deploy/internal/wallet/wallettest"
	"github.com/statustoken/statustoken/token"
)

// DecodeTerminal reads back what writeTerminalQR drew, without colours:
// lines of half blocks, each at least n wide (what follows is ignored).
func decodeTerminal(t *testing.T, lines []string, n int) [][]bool {
	t.Helper()
	m := make([][]bool, n)
	for y := range m {
		m[y] = make([]bool, n)
	}
	if len(lines) != (n+1)/2 {
		t.Fatalf("%d lines, want %d", len(lines), (n+1)/2)
	}
	for i, line := range lines {
		r := []rune(line)
		if len(r) < n {
			t.Fatalf("line %d is %d wide, want %d", i, len(r), n)
		}
		for x, c := range r[:n] {
			top, bottom := c == '█' || c == '▀', c == '█' || c == '▄'
			if c != ' ' && !top && !bottom {
				t.Fatalf("unexpected character %q", c)
			}
			m[2*i][x] = top
			if 2*i+1 < n {
				m[2*i+1][x] = bottom
			} else if bottom {
				t.Fatal("a dark module below the code")
			}
		}
	}
	return m
}

func equalModules(a, b [][]bool) bool {
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

// longestText is as long as the longest token text form (rsabssa): 459
// characters, the prefix and 455.
var longestText = token.TextPrefix + strings.Repeat("Z9$%*+-./: ", 42)[:token.MaxTextSize-len(token.TextPrefix)]

func TestQRRendering(t *testing.T) {
	m, err := Modules(longestText, "M", PNGQuietZone)
	if err != nil {
		t.Fatal(err)
	}
	n := len(m)
	// Version v has 17+4v modules a side; at level M, 459 alphanumeric
	// characters need version 13 (69 modules).
	if n != 69+2*PNGQuietZone {
		t.Fatalf("QR code of %d modules with quiet zone, want %d", n, 69+2*PNGQuietZone)
	}
	for i := 0; i < PNGQuietZone; i++ {
		for j := range n {
			if m[i][j] || m[n-1-i][j] || m[j][i] || m[j][n-1-i] {
				t.Fatal("dark module in the quiet zone")
			}
		}
	}
	// The finder pattern's corner is dark.
	if !m[PNGQuietZone][PNGQuietZone] {
		t.Fatal("no finder pattern at the top left")
	}

	var plain, ansi bytes.Buffer
	writeTerminalQR(&plain, m, false, nil, 0)
	if !equalModules(decodeTerminal(t, strings.Split(strings.TrimSuffix(plain.String(), "\n"), "\n"), n), m) {
		t.Fatal("terminal QR code does not match the modules")
	}
	writeTerminalQR(&ansi, m, true, nil, 0)
	stripped := strings.NewReplacer(ansiQR, "", ansiReset, "").Replace(ansi.String())
	if stripped != plain.String() || strings.Count(ansi.String(), ansiReset) != (n+1)/2 {
		t.Fatal("coloured terminal QR code differs from the plain one")
	}

	data, err := PNG(m, 3)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 3*n || b.Dy() != 3*n {
		t.Fatalf("PNG is %v", b)
	}
	for y := range n {
		for x := range n {
			r, _, _, _ := img.At(3*x+1, 3*y+1).RGBA()
			if dark := r < 0x8000; dark != m[y][x] {
				t.Fatalf("PNG module (%d,%d) differs", x, y)
			}
		}
	}

	// Lower-case text is outside the QR alphanumeric set; the encoder
	// refuses it rather than switching modes silently.
	if _, err := Modules("ht1:abc", "M", 4); err == nil {
		t.Fatal("lower-case text encoded in alphanumeric mode")
	}
	if _, err := Modules("HT1:", "H", 4); err == nil {
		t.Fatal("level H accepted")
	}
}

// TestTerminalFit: the terminal code is the largest level that fits in
// the width and the height less the cursor's line.
func TestTerminalFit(t *testing.T) {
	f := wallettest.New(t)
	ed, err := f.Ed25519Tokens(1)[0].MarshalText()
	if err != nil {
		t.Fatal(err)
	}
	if len(ed) != 171 {
		t.Fatalf("ed25519 text form of %d characters", len(ed))
	}
	for _, c := range []struct {
		text          string
		w, h          int
		level         string
		cols, lines   int
		versionModule int
	}{
		// ed25519: version 7 (45 modules) at M, 6 (41) at L.
		{string(ed), 80, 24, "L", 45, 23, 41},
		{string(ed), 49, 26, "M", 49, 25, 45},
		{string(ed), 48, 26, "L", 45, 23, 41},
		{string(ed), 80, 23, "", 0, 0, 0},
		{string(ed), 44, 24, "", 0, 0, 0},
		// rsabssa: version 13 (69) at M, 11 (61) at L.
		{longestText, 80, 24, "", 0, 0, 0},
		{longestText, 80, 34, "L", 65, 33, 61},
		{longestText, 80, 38, "M", 73, 37, 69},
	} {
		m, level, err := terminalQR(c.text, c.w, c.h)
		if err != nil {
			t.Fatal(err)
		}
		cols, lines := TerminalSize(m)
		if level != c.level || cols != c.cols || lines != c.lines {
			t.Errorf("%d characters on %dx%d: level %q, %dx%d; want %q, %dx%d", len(c.text), c.w, c.h, level, cols, lines, c.level, c.cols, c.lines)
		}
		if m != nil && len(m) != c.versionModule+2*TerminalQuietZone {
			t.Errorf("%d modules", len(m))
		}
	}
}

var ansiRE = regexp.MustCompile("\x1b\\[[0-9;]*m")

// TestShowOnTerminal shows an ed25519 token on an 80x24 terminal: the text
// form first, then the whole code (level L) with the token's details
// beside it, the code on the last 23 lines so that it stays on the
// screen, and nothing on stderr, which would scroll it.
func TestShowOnTerminal(t *testing.T) {
	f := wallettest.New(t)
	state := filepath.Join(t.TempDir(), "w")
	seed(t, state, f, f.Ed25519Tokens(2))
	e, stdout, stderr := testEnv(time.Time{})
	if err := Show(onTerminal(e, 80, 24), ShowOptions{State: state, PNG: DefaultPNG(state), QR: true, Scale: 8}); err != nil {
		t.Fatal(err)
	}
	if stderr.Len() != 0 {
		t.Fatalf("stderr: %q", stderr)
	}
	lines := strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n")
	text := lines[0]
	if _, err := f.Verifier().VerifyText(t.Context(), text); err != nil {
		t.Fatalf("shown token: %v", err)
	}
	m, err := Modules(text, "L", TerminalQuietZone)
	if err != nil {
		t.Fatal(err)
	}
	qr := lines[1:]
	if len(qr) != 23 {
		t.Fatalf("%d lines of QR code, want 23:\n%s", len(qr), stdout)
	}
	var plain []string
	for i, l := range qr {
		if !strings.HasPrefix(l, ansiQR) {
			t.Fatalf("line %d is not coloured: %q", i, l)
		}
		p := ansiRE.ReplaceAllString(l, "")
		if n := len([]rune(p)); n > 80 {
			t.Fatalf("line %d is %d columns", i, n)
		}
		plain = append(plain, p)
	}
	if !equalModules(decodeTerminal(t, plain, len(m)), m) {
		t.Fatal("the terminal QR code does not match the token's")
	}
	side := []string{"green token", "valid until ", "1 unused left", "PNG: token.png"}
	for i, want := range side {
		got := strings.TrimSpace(string([]rune(plain[1+i])[45:]))
		if !strings.HasPrefix(got, want) {
			t.Errorf("beside line %d: %q, want %q", 1+i, got, want)
		}
	}
	if got := decodePNG(t, DefaultPNG(state)); got != text {
		t.Fatalf("PNG decodes to %q, want %q", got, text)
	}

	// A narrower terminal: the details above the code.
	e, stdout, _ = testEnv(time.Time{})
	if err := Show(onTerminal(e, 60, 24), ShowOptions{State: state, QR: true, Scale: 8}); err != nil {
		t.Fatal(err)
	}
	lines = strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n")
	if len(lines) != 2+23 || !strings.HasPrefix(lines[1], "green token; valid until ") || !strings.HasSuffix(lines[1], "; 0 unused left") {
		t.Fatalf("on 60x24:\n%s", stdout)
	}
}

// TestShowTooLarge: an rsabssa token's code does not fit 80x24; the
// wallet says to open the PNG, which holds the token.
func TestShowTooLarge(t *testing.T) {
	f := wallettest.New(t)
	state := filepath.Join(t.TempDir(), "w")
	mustRequest(t, f, state, 5)
	for _, c := range []struct {
		name     string
		terminal bool
		png      string
		want     string
	}{
		{"terminal", true, DefaultPNG(state), "wallet: this token's QR code is too large for an 80x24 terminal: open " + DefaultPNG(state) + " (written next to the state) or use -png FILE\n"},
		{"pipe", false, DefaultPNG(state), "wallet: this token's QR code is too large for an 80x24 terminal: open " + DefaultPNG(state) + " (written next to the state) or use -png FILE\n"},
		{"named PNG", true, filepath.Join(t.TempDir(), "t.png"), "wallet: this token's QR code is too large for an 80x24 terminal: open "},
		{"no PNG", false, "", "wallet: this token's QR code is too large for an 80x24 terminal: use -png FILE to write it to a PNG file\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			os.Remove(c.png)
			e, stdout, stderr := testEnv(time.Time{})
			if c.terminal {
				onTerminal(e, 80, 24)
			}
			if err := Show(e, ShowOptions{State: state, PNG: c.png, QR: true, Scale: 8}); err != nil {
				t.Fatal(err)
			}
			text := strings.TrimSuffix(stdout.String(), "\n")
			if !strings.HasPrefix(text, token.TextPrefix) || strings.Contains(text, "\n") || len(text) != token.MaxTextSize {
				t.Fatalf("stdout: %q", stdout)
			}
			if !strings.HasPrefix(stderr.String(), c.want) || !strings.Contains(stderr.String(), "wallet: green token, valid until ") {
				t.Fatalf("stderr: %q, want %q", stderr, c.want)
			}
			if c.png != "" {
				if got := decodePNG(t, c.png); got != text {
					t.Fatalf("PNG decodes to %q, want %q", got, text)
				}
			}
		})
	}
	// A larger terminal takes it.
	e, stdout, _ := testEnv(time.Time{})
	if err := Show(onTerminal(e, 120, 40), ShowOptions{State: state, QR: true, Scale: 8}); err != nil {
		t.Fatal(err)
	}
	if lines := strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n"); len(lines) != 1+37 {
		t.Fatalf("on 120x40: %d lines", len(lines))
	}
}

// TestShowNotTerminal: without a terminal, the code (plain, for 80x24),
// then the text form on the last line; the status on stderr.
func TestShowNotTerminal(t *testing.T) {
	f := wallettest.New(t)
	state := filepath.Join(t.TempDir(), "w")
	seed(t, state, f, f.Ed25519Tokens(1))
	e, stdout, stderr := testEnv(time.Time{})
	pngName := filepath.Join(t.TempDir(), "t.png")
	if err := Show(e, ShowOptions{State: state, PNG: pngName, QR: true, Scale: 8}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(stdout.String(), "\x1b") {
		t.Fatal("colours without a terminal")
	}
	lines := strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n")
	text := lines[len(lines)-1]
	m, _ := Modules(text, "L", TerminalQuietZone)
	if !equalModules(decodeTerminal(t, lines[:len(lines)-1], len(m)), m) {
		t.Fatalf("QR code:\n%s", stdout)
	}
	if !regexp.MustCompile(`^wallet: green token, valid until \d{4}-\d\d-\d\d \d\d:\d\d UTC; QR code written to .*t\.png; 0 unused left\n$`).MatchString(stderr.String()) {
		t.Fatalf("stderr: %q", stderr)
	}
	if fi, err := os.Stat(pngName); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("PNG: %v", err)
	}
	if got := decodePNG(t, pngName); got != text {
		t.Fatalf("PNG decodes to %q", got)
	}
}

var update = flag.Bool("update", false, "rewrite ../../token-qr.png, the README's QR code")

// readmePNG is the README's picture of a token's QR code.
const readmePNG = "../../token-qr.png"

// TestREADMEPNG checks the README's picture: the QR code of an ed25519
// token at 4 pixels per module, as "wallet show -scale 4" writes it. With
// -update it writes a new one, from a token of a test issuer.
func TestREADMEPNG(t *testing.T) {
	if *update {
		f := wallettest.New(t)
		state := filepath.Join(t.TempDir(), "w")
		seed(t, state, f, f.Ed25519Tokens(1))
		e, _, _ := testEnv(time.Time{})
		if err := Show(e, ShowOptions{State: state, PNG: readmePNG, QR: false, Scale: 4}); err != nil {
			t.Fatal(err)
		}
		os.Chmod(readmePNG, 0o644)
	}
	data, err := os.ReadFile(readmePNG)
	if err != nil {
		t.Fatal(err)
	}
	text := decodePNG(t, readmePNG)
	var tok token.Token
	if err := tok.UnmarshalText([]byte(text)); err != nil || tok.Suite != token.Ed25519 {
		t.Fatalf("%s holds %q: %v", readmePNG, text, err)
	}
	m, err := Modules(text, "M", PNGQuietZone)
	if err != nil {
		t.Fatal(err)
	}
	want, err := PNG(m, 4)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(data, want) {
		t.Fatalf("%s is not the wallet's PNG of its token at scale 4", readmePNG)
	}
}

// TestRSABSSATerminalSize measures the terminal an rsabssa token's QR
// code needs, drawn with half blocks (two module rows a line, modules
// about square on a terminal of cells twice as high as wide), with its
// quiet zone and a line left for the prompt: 65 columns by 34 lines at
// level L (version 11), 73 by 38 at level M (version 13). It does not fit
// 80x24; the smallest terminal it is drawn on is 65x34.
func TestRSABSSATerminalSize(t *testing.T) {
	f := wallettest.New(t)
	state := filepath.Join(t.TempDir(), "w")
	mustRequest(t, f, state, 1)
	e, stdout, _ := testEnv(time.Time{})
	if err := Export(e, state, 1); err != nil {
		t.Fatal(err)
	}
	text := strings.TrimSuffix(stdout.String(), "\n")
	for _, c := range []struct {
		level       string
		cols, lines int
	}{{"L", 65, 34}, {"M", 73, 38}} {
		m, err := Modules(text, c.level, TerminalQuietZone)
		if err != nil {
			t.Fatal(err)
		}
		cols, lines := TerminalSize(m)
		if cols != c.cols || lines+1 != c.lines {
			t.Errorf("level %s: %d columns by %d lines with the prompt's, want %dx%d", c.level, cols, lines+1, c.cols, c.lines)
		}
	}
	for _, c := range []struct {
		w, h  int
		level string
	}{{80, 24, ""}, {64, 34, ""}, {65, 33, ""}, {65, 34, "L"}, {73, 38, "M"}} {
		if _, level, err := terminalQR(text, c.w, c.h); err != nil || level != c.level {
			t.Errorf("%dx%d: level %q %v, want %q", c.w, c.h, level, err, c.level)
		}
	}
}
