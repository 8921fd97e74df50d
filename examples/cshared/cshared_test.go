package main

// The integration tests: they build libstatustoken.so with the go command,
// generate a fixture, and run the C test (plain, and under AddressSanitizer
// with the library built by `go build -asan`), the Python ctypes test, and
// the header comparison. Each needs a C compiler (CC, default gcc), the
// Python test python3 too: without them a test is skipped, unless CI=true,
// when it fails. Optional, by environment variable:
//
//	STATUSTOKEN_VALGRIND=1  also run the C test under valgrind
//	STATUSTOKEN_FIGURES=1   time st_verify_batch against verify.Batch (TestFigures)

import (
	"context"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/statustoken/statustoken/examples/cshared/internal/fixture"
	"github.com/statustoken/statustoken/verify"
)

var work string // this test binary's scratch directory

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "statustoken-cshared-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	work = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// need returns the path of tool, found in PATH. When it is missing the
// test is skipped, or fails if the environment has CI=true.
func need(t testing.TB, tool, hint string) string {
	t.Helper()
	path, err := exec.LookPath(tool)
	if err == nil {
		return path
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s not found, and CI=true: install it (%s)", tool, hint)
	}
	t.Skipf("%s not found (%s); with CI=true this test fails instead", tool, hint)
	return ""
}

func cc(t testing.TB) string {
	if c := os.Getenv("CC"); c != "" {
		return need(t, c, "the C compiler named by CC")
	}
	return need(t, "gcc", "apt-get install gcc")
}

func goCommand(t testing.TB) string {
	if root := os.Getenv("GOROOT"); root != "" {
		if p := filepath.Join(root, "bin", "go"); fileExists(p) {
			return p
		}
	}
	return need(t, "go", "the go command")
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

var (
	onceMu sync.Mutex
	onces  = map[string]*onceResult{}
)

type onceResult struct {
	once sync.Once
	err  error
}

// once runs f the first time key is asked for, and returns its error
// every time.
func once(key string, f func() error) error {
	onceMu.Lock()
	r := onces[key]
	if r == nil {
		r = &onceResult{}
		onces[key] = r
	}
	onceMu.Unlock()
	r.once.Do(func() { r.err = f() })
	return r.err
}

// run runs cmd and returns its combined output; it fails the test if cmd
// fails, with the output's tail.
func run(t testing.TB, cmd *exec.Cmd) string {
	t.Helper()
	start := time.Now()
	out, err := cmd.CombinedOutput()
	t.Logf("%s (%v)", strings.Join(cmd.Args, " "), time.Since(start).Round(time.Millisecond))
	if err != nil {
		t.Fatalf("%s: %v\n%s", cmd.Args[0], err, tail(string(out), 60))
	}
	return string(out)
}

func tail(s string, lines int) string {
	l := strings.Split(s, "\n")
	if len(l) > lines {
		l = append([]string{"[...]"}, l[len(l)-lines:]...)
	}
	return strings.Join(l, "\n")
}

// library builds libstatustoken.so in the variant given ("plain", "asan"
// or "valgrind") and returns its directory, which also holds the
// cgo-generated header libstatustoken.h.
func library(t testing.TB, variant string) string {
	t.Helper()
	gcc := cc(t)
	goCmd := goCommand(t)
	dir := filepath.Join(work, variant)
	err := once("lib "+variant, func() error {
		args := []string{"build", "-buildmode=c-shared"}
		switch variant {
		case "asan":
			args = append(args, "-asan")
		case "valgrind":
			args = append(args, "-tags", "valgrind")
		}
		args = append(args, "-o", filepath.Join(dir, "libstatustoken.so"), ".")
		cmd := exec.Command(goCmd, args...)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=1", "CC="+gcc)
		start := time.Now()
		out, err := cmd.CombinedOutput()
		t.Logf("go %s (%v)", strings.Join(args, " "), time.Since(start).Round(time.Millisecond))
		if err != nil {
			return fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// fixtureDir writes the fixture once per test binary and returns its
// directory.
func fixtureDir(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(work, "fixture")
	if err := once("fixture", func() error {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		return fixture.Write(dir)
	}); err != nil {
		t.Fatal(err)
	}
	return dir
}

// compile builds a C program of test/ against the library in libDir.
func compile(t testing.TB, libDir, src, out string, flags ...string) string {
	t.Helper()
	exe := filepath.Join(libDir, out)
	args := append([]string{"-std=c11", "-Wall", "-Wextra", "-Werror", "-g"}, flags...)
	args = append(args, "-o", exe, filepath.Join("test", src), "-L"+libDir, "-lstatustoken", "-Wl,-rpath,"+libDir, "-lpthread")
	run(t, exec.Command(cc(t), args...))
	return exe
}

func checkCOutput(t *testing.T, out string) {
	t.Helper()
	ok := regexp.MustCompile(`(?m)^ok: (\d+) checks, 0 failed$`).FindStringSubmatch(out)
	if ok == nil {
		t.Fatalf("no success line in the output:\n%s", tail(out, 40))
	}
	n, _ := strconv.Atoi(ok[1])
	if n < 60000 {
		t.Errorf("only %d checks ran", n)
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "malformed inputs:") || strings.HasPrefix(line, "ok:") {
			t.Log(line)
		}
	}
}

// TestCProgram runs test/test.c against the library.
func TestCProgram(t *testing.T) {
	lib := library(t, "plain")
	fx := fixtureDir(t)
	exe := compile(t, lib, "test.c", "st_test", "-O1")
	checkCOutput(t, run(t, exec.Command(exe, fx)))
}

// TestCAddressSanitizer runs test/test.c built with -fsanitize=address
// against the library built with `go build -asan`, so that ASan checks the
// library's Go code's accesses to C memory as well as the C program's,
// with leak detection on. The negative control, test/overread.c, checks
// that a read beyond a caller's buffer in the library is caught.
func TestCAddressSanitizer(t *testing.T) {
	lib := library(t, "asan")
	fx := fixtureDir(t)
	asan := []string{"-O1", "-fsanitize=address", "-fno-omit-frame-pointer"}
	exe := compile(t, lib, "test.c", "st_test_asan", asan...)
	cmd := exec.Command(exe, fx)
	cmd.Env = append(os.Environ(), "ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:exitcode=23")
	out := run(t, cmd)
	if strings.Contains(out, "Sanitizer") {
		t.Fatalf("sanitizer report:\n%s", tail(out, 60))
	}
	checkCOutput(t, out)

	neg := compile(t, lib, "overread.c", "st_overread", asan...)
	cmd = exec.Command(neg, fx)
	cmd.Env = append(os.Environ(), "ASAN_OPTIONS=halt_on_error=1:exitcode=23")
	b, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(b), "heap-buffer-overflow") || strings.Contains(string(b), "not stopped") {
		t.Fatalf("the over-read of the negative control was not caught (err %v):\n%s", err, tail(string(b), 30))
	}
	t.Logf("negative control stopped by ASan: %s", firstLine(string(b), "READ of size"))
}

func firstLine(s, prefix string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, prefix) {
			return l
		}
	}
	return ""
}

// TestCValgrind runs test/test.c under valgrind, with the library built
// with Go's valgrind annotations (-tags valgrind), asynchronous
// preemption off and leak checking off: without them valgrind 3.19
// reports goroutine stack switches as invalid accesses, and its leak
// checker aborts on Go's heap annotations. The test's deliberate fault
// (test_panic) is skipped: valgrind reports it before Go recovers. Opt-in:
// ASan is the check run by default.
func TestCValgrind(t *testing.T) {
	if os.Getenv("STATUSTOKEN_VALGRIND") == "" {
		t.Skip("set STATUSTOKEN_VALGRIND=1 to run the C test under valgrind too")
	}
	vg := need(t, "valgrind", "apt-get install valgrind")
	lib := library(t, "valgrind")
	fx := fixtureDir(t)
	exe := compile(t, lib, "test.c", "st_test_vg", "-O1")
	cmd := exec.Command(vg, "--error-exitcode=1", "--leak-check=no", "-q", exe, fx, "--no-fault")
	cmd.Env = append(os.Environ(), "GODEBUG=asyncpreemptoff=1")
	checkCOutput(t, run(t, cmd))
}

// TestPython runs test/test_ctypes.py against the library.
func TestPython(t *testing.T) {
	py := need(t, "python3", "apt-get install python3")
	lib := library(t, "plain")
	fx := fixtureDir(t)
	cmd := exec.Command(py, filepath.Join("test", "test_ctypes.py"), "-v")
	cmd.Env = append(os.Environ(), "STATUSTOKEN_LIB="+filepath.Join(lib, "libstatustoken.so"), "STATUSTOKEN_FIXTURE="+fx)
	out := run(t, cmd)
	m := regexp.MustCompile(`(?m)^Ran (\d+) tests? in .*\n\nOK$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("unexpected output:\n%s", tail(out, 40))
	}
	if n, _ := strconv.Atoi(m[1]); n < 17 {
		t.Errorf("only %d Python tests ran", n)
	}
	if strings.Contains(out, "skipped") {
		t.Errorf("Python tests skipped:\n%s", tail(out, 40))
	}
	t.Logf("python: %s", strings.TrimSpace(firstLine(out, "Ran ")))
}

// TestHeaderAgreement compares the hand-written statustoken.h with the
// header cgo generates, function by function (parameter types, names and
// return type, after expanding the private aliases of cgo_types.h), checks
// st_error_name against its definition in names.c, and checks that the
// library exports exactly the header's functions.
func TestHeaderAgreement(t *testing.T) {
	lib := library(t, "plain")
	read := func(name string) string {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	aliases := map[string]string{}
	for _, m := range regexp.MustCompile(`typedef (.+?)\s*\b(st_cgo_\w+);`).FindAllStringSubmatch(read("cgo_types.h"), -1) {
		aliases[m[2]] = m[1]
	}
	if len(aliases) < 6 {
		t.Fatalf("cgo_types.h: %d aliases", len(aliases))
	}
	hand := prototypes(t, stripComments(read("statustoken.h")), nil)
	gen := prototypes(t, read(filepath.Join(lib, "libstatustoken.h")), aliases)
	defined := prototypes(t, strings.ReplaceAll(stripComments(read("names.c")), "{", ";{"), nil)
	if len(hand) != 7 {
		t.Errorf("statustoken.h declares %d functions, want 7: %v", len(hand), keys(hand))
	}
	for name, sig := range hand {
		other, ok := gen[name]
		if !ok {
			other, ok = defined[name]
		}
		switch {
		case !ok:
			t.Errorf("%s: in statustoken.h, neither exported by Go nor defined in names.c", name)
		case other != sig:
			t.Errorf("%s differs:\n  statustoken.h:     %s\n  libstatustoken.so: %s", name, sig, other)
		default:
			t.Logf("agree: %s", sig)
		}
	}
	for name := range gen {
		if _, ok := hand[name]; !ok {
			t.Errorf("%s: exported by Go, not in statustoken.h", name)
		}
	}
	f, err := elf.Open(filepath.Join(lib, "libstatustoken.so"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	syms, err := f.DynamicSymbols()
	if err != nil {
		t.Fatal(err)
	}
	var exported []string
	for _, s := range syms {
		if strings.HasPrefix(s.Name, "st_") && s.Section != elf.SHN_UNDEF && elf.ST_TYPE(s.Info) == elf.STT_FUNC {
			exported = append(exported, s.Name)
		}
	}
	sort.Strings(exported)
	if want := keys(hand); !slices.Equal(exported, want) {
		t.Errorf("the library exports %v, the header declares %v", exported, want)
	}
}

func keys(m map[string]string) []string {
	k := make([]string, 0, len(m))
	for n := range m {
		k = append(k, n)
	}
	sort.Strings(k)
	return k
}

func stripComments(s string) string {
	s = regexp.MustCompile(`(?s)/\*.*?\*/`).ReplaceAllString(s, " ")
	return regexp.MustCompile(`//[^\n]*`).ReplaceAllString(s, " ")
}

// prototypes returns the functions named st_* declared in src, name to a
// canonical form of the declaration, with aliases expanded.
func prototypes(t *testing.T, src string, aliases map[string]string) map[string]string {
	t.Helper()
	out := map[string]string{}
	re := regexp.MustCompile(`(?m)^(?:extern\s+)?([A-Za-z_][\w\s\*]*?)\s*\b(st_\w+)\s*\(([^;{}()]*)\)\s*;`)
	for _, m := range re.FindAllStringSubmatch(src, -1) {
		ret, name, params := canon(m[1], aliases), m[2], m[3]
		var ps []string
		for _, p := range strings.Split(params, ",") {
			ps = append(ps, canon(p, aliases))
		}
		out[name] = fmt.Sprintf("%s %s(%s)", ret, name, strings.Join(ps, ", "))
	}
	return out
}

// canon expands aliases in a C declaration and normalizes its spaces:
// one space between words, none around '*'.
func canon(s string, aliases map[string]string) string {
	for a, exp := range aliases {
		s = regexp.MustCompile(`\b`+a+`\b`).ReplaceAllString(s, exp)
	}
	s = strings.Join(strings.Fields(s), " ")
	s = strings.ReplaceAll(s, " *", "*")
	return strings.ReplaceAll(s, "* ", "*")
}

// TestFigures times st_verify_batch, through the C library in its own
// process (test/bench.c), against verify.Batch in this process, on the
// same 1024 ed25519 tokens and the same machine, alternating one round of
// each so that both see the same drift of a shared machine, and logs the
// median ratio. Opt-in: STATUSTOKEN_FIGURES=1 (optionally
// STATUSTOKEN_FIGURES_ROUNDS, default 9).
func TestFigures(t *testing.T) {
	if os.Getenv("STATUSTOKEN_FIGURES") == "" {
		t.Skip("set STATUSTOKEN_FIGURES=1 to time the C batch against the Go batch")
	}
	rounds := 9
	if r, err := strconv.Atoi(os.Getenv("STATUSTOKEN_FIGURES_ROUNDS")); err == nil && r > 0 {
		rounds = r
	}
	lib := library(t, "plain")
	fx := fixtureDir(t)
	bench := compile(t, lib, "bench.c", "st_bench", "-O2")
	batch, toks := goBatch(t, fx)
	errs := make([]error, len(toks))
	ctx := context.Background()
	goRound := func(d time.Duration) float64 {
		n := 0
		start := time.Now()
		for time.Since(start) < d {
			if err := batch.Verify(ctx, toks, nil, errs); err != nil {
				t.Fatal(err)
			}
			n++
		}
		return float64(time.Since(start).Nanoseconds()) / float64(n*len(toks))
	}
	cRound := func() float64 {
		out := run(t, exec.Command(bench, fx, "1", "500"))
		m := regexp.MustCompile(`median_ns_per_token ([\d.]+)`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("st_bench output: %s", out)
		}
		v, _ := strconv.ParseFloat(m[1], 64)
		return v
	}
	goRound(200 * time.Millisecond) // warm up
	var cs, gs, ratios []float64
	for r := range rounds {
		var c, g float64
		if r%2 == 0 {
			c, g = cRound(), goRound(500*time.Millisecond)
		} else {
			g, c = goRound(500*time.Millisecond), cRound()
		}
		cs, gs, ratios = append(cs, c), append(gs, g), append(ratios, g/c)
		t.Logf("round %d: C %.0f ns/token, Go %.0f ns/token, C throughput / Go throughput %.3f", r, c, g, g/c)
	}
	med := func(x []float64) float64 { x = slices.Clone(x); slices.Sort(x); return x[len(x)/2] }
	t.Logf("median of %d rounds, batches of %d ed25519 tokens: st_verify_batch %.0f ns/token, verify.Batch %.0f ns/token; "+
		"C throughput relative to Go %.3f (range %.3f to %.3f)",
		rounds, len(toks), med(cs), med(gs), med(ratios), slices.Min(ratios), slices.Max(ratios))
}

// goBatch returns a verify.Batch for the fixture's directory, with the
// options st_verifier_new uses by default, and the bench tokens.
func goBatch(t testing.TB, fx string) (*verify.Batch, [][]byte) {
	t.Helper()
	p, trust, err := fixture.Published(fx)
	if err != nil {
		t.Fatal(err)
	}
	v, err := verify.New(p, trust, nil)
	if err != nil {
		t.Fatal(err)
	}
	toks, err := fixture.ReadBench(fx)
	if err != nil {
		t.Fatal(err)
	}
	return v.NewBatch(), toks
}

// BenchmarkGoBatch times verify.Batch on the fixture's bench tokens: those
// of STATUSTOKEN_FIXTURE if set (a fixture st_bench also timed), else of a
// fresh fixture.
func BenchmarkGoBatch(b *testing.B) {
	fx := os.Getenv("STATUSTOKEN_FIXTURE")
	if fx == "" {
		fx = fixtureDir(b)
	}
	batch, toks := goBatch(b, fx)
	errs := make([]error, len(toks))
	ctx := context.Background()
	for b.Loop() {
		if err := batch.Verify(ctx, toks, nil, errs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(toks)), "ns/token")
}
