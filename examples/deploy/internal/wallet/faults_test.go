package wallet

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/statustoken/statustoken/examples/deploy/internal/directory"
	"github.com/statustoken/statustoken/examples/deploy/internal/wallet/wallettest"
	"github.com/statustoken/statustoken/token"
)

// fullDisk is a disk that runs out of space when full is set: room
// allocated before stays usable, as on a real file system.
type fullDisk struct {
	mu    sync.Mutex
	full  bool
	rooms map[string]int64
	// broken, when set, fails every write, reserved room or not.
	broken bool
}

func (d *fullDisk) setFull(full bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.full = full
}

func (d *fullDisk) allocate(f *os.File, size int64) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.full && size > d.rooms[f.Name()] {
		return &os.PathError{Op: "allocate", Path: f.Name(), Err: syscall.ENOSPC}
	}
	d.rooms[f.Name()] = max(d.rooms[f.Name()], size)
	return osDisk{}.allocate(f, size)
}

func (d *fullDisk) write(f *os.File, b []byte) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.full && int64(len(b)) > d.rooms[f.Name()] {
		return &os.PathError{Op: "write", Path: f.Name(), Err: syscall.ENOSPC}
	}
	if d.broken {
		return &os.PathError{Op: "write", Path: f.Name(), Err: syscall.EIO}
	}
	return osDisk{}.write(f, b)
}

// requestOn runs Request for n green tokens with the Env e.
func requestOn(t *testing.T, e *Env, f *wallettest.Issuer, state string, n int, epoch Epoch) error {
	t.Helper()
	trust, err := directory.LoadTrust(f.Trust)
	if err != nil {
		t.Fatal(err)
	}
	u, err := directory.IssuerURL(f.URL())
	if err != nil {
		t.Fatal(err)
	}
	return Request(context.Background(), e, RequestOptions{State: state, Issuer: u, Trust: trust, Status: "green", N: n, Epoch: epoch, APIKey: wallettest.APIKey})
}

// unusedTokens returns the unused tokens stored in state.
func unusedTokens(t *testing.T, state string) int {
	t.Helper()
	s, err := Open(state)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	n := 0
	for _, e := range s.entries {
		if !e.used {
			n++
		}
	}
	return n
}

// TestFullDisk: a disk full before a request stops the wallet before it
// asks the issuer (which would count the request against the holder's
// rate limit); a disk that fills while the issuer signs still takes the
// tokens, and the receipt of an issuer with a decision policy, in the
// room reserved for them.
func TestFullDisk(t *testing.T) {
	for _, c := range []struct {
		name     string
		new      func(*testing.T) *wallettest.Issuer
		perBatch int // tokens stored per request of 10
	}{
		{"plain", wallettest.New, 10},
		{"decisions", wallettest.NewDecisions, wallettest.TokensPerRequest},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := c.new(t)
			state := filepath.Join(t.TempDir(), "w")
			mustRequest(t, f, state, 5)
			first := unusedTokens(t, state)
			f.GotAuth()
			d := &fullDisk{rooms: map[string]int64{}}
			e, stdout, _ := testEnv(time.Time{})
			e.disk = d

			d.setFull(true)
			err := requestOn(t, e, f, state, 10, EpochCurrent)
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("request on a full disk: %v", err)
			}
			if got := f.GotAuth(); len(got) != 0 {
				t.Fatalf("the issuer was asked %d times on a full disk", len(got))
			}
			if n := unusedTokens(t, state); n != first {
				t.Fatalf("%d tokens after the refused request, want %d", n, first)
			}

			// The disk fills while the issuer signs.
			d.setFull(false)
			f.Mutate = func(resp []byte) []byte { d.setFull(true); return resp }
			if err := requestOn(t, e, f, state, 10, EpochCurrent); err != nil {
				t.Fatalf("request with the disk filled meanwhile: %v", err)
			}
			if got := f.GotAuth(); len(got) != 1 {
				t.Fatalf("%d token requests, want 1", len(got))
			}
			if n := unusedTokens(t, state); n != first+c.perBatch {
				t.Fatalf("%d tokens stored, want %d", n, first+c.perBatch)
			}
			if c.name == "decisions" {
				if ds := storedDecisions(t, state); len(ds) != 2 {
					t.Fatalf("%d decisions stored, want 2", len(ds))
				}
			}
			if stdout.Len() != 0 {
				t.Fatalf("stdout: %q", stdout)
			}
			if entries, _ := filepath.Glob(filepath.Join(state, ".*")); len(entries) != 0 {
				t.Fatalf("temporary files left: %v", entries)
			}
		})
	}
}

// TestUnstorableTokens: tokens that cannot be stored even in the room
// reserved for them (the disk fails) are printed on stdout, not lost.
func TestUnstorableTokens(t *testing.T) {
	f := wallettest.New(t)
	state := filepath.Join(t.TempDir(), "w")
	mustRequest(t, f, state, 1)
	d := &fullDisk{rooms: map[string]int64{}}
	e, stdout, _ := testEnv(time.Time{})
	e.disk = d
	f.Mutate = func(resp []byte) []byte { d.mu.Lock(); d.broken = true; d.mu.Unlock(); return resp }
	err := requestOn(t, e, f, state, 4, EpochCurrent)
	if !errors.Is(err, syscall.EIO) || !strings.Contains(err.Error(), "the 4 tokens signed are printed above") {
		t.Fatalf("request on a failing disk: %v", err)
	}
	lines := strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n")
	if len(lines) != 4 {
		t.Fatalf("stdout: %q", stdout)
	}
	v := f.Verifier()
	for _, line := range lines {
		var tok token.Token
		if err := tok.UnmarshalText([]byte(line)); err != nil {
			t.Fatal(err)
		}
		raw, _ := tok.MarshalBinary()
		if _, err := v.Verify(context.Background(), raw); err != nil {
			t.Fatalf("printed token: %v", err)
		}
	}
	if n := unusedTokens(t, state); n != 1 {
		t.Fatalf("%d tokens stored, want the first 1", n)
	}
}

// TestLegacyStateNoTrustCopy: an older wallet's state has no copy of the
// trust policy to check its saved directory under: show says to run
// wallet update, which writes one.
func TestLegacyStateNoTrustCopy(t *testing.T) {
	f := wallettest.New(t)
	state := filepath.Join(t.TempDir(), "w")
	mustRequest(t, f, state, 2)
	os.Remove(filepath.Join(state, TrustFile))
	e, _, _ := testEnv(time.Time{})
	err := Show(e, ShowOptions{State: state, Scale: 8})
	if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), "older wallet") || !strings.HasSuffix(err.Error(), "run 'wallet update'") {
		t.Fatalf("show: %v", err)
	}
	trust, _ := directory.LoadTrust(f.Trust)
	u, _ := directory.IssuerURL(f.URL())
	if err := Update(context.Background(), e, RequestOptions{State: state, Issuer: u, Trust: trust}); err != nil {
		t.Fatal(err)
	}
	if err := Show(e, ShowOptions{State: state, Scale: 8}); err != nil {
		t.Fatal(err)
	}
}

// flip flips the lowest bit of the byte at i in the file name.
func flip(t *testing.T, name string, i int) {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	data[i] ^= 1
	if err := os.WriteFile(name, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestDamagedDirectory: a bit flipped in the saved directory (a status
// renamed "greeo"), its signature or its log proof makes show, export
// and list say that the saved files are damaged, and give out nothing;
// wallet update replaces them.
func TestDamagedDirectory(t *testing.T) {
	f := wallettest.New(t)
	for _, c := range []struct {
		name string
		file string
		at   func([]byte) int
	}{
		{"status name", DirectoryFile, func(b []byte) int { return bytes.Index(b, []byte(`"green"`)) + 5 }},
		{"serial", DirectoryFile, func(b []byte) int { return bytes.Index(b, []byte(`"serial":`)) + 9 }},
		{"signature", SignatureFile, func(b []byte) int { return 10 }},
		{"proof start", ProofFile, func(b []byte) int { return 3 }},
		{"proof middle", ProofFile, func(b []byte) int { return len(b) / 2 }},
		{"proof end", ProofFile, func(b []byte) int { return len(b) - 10 }},
		{"trust policy", TrustFile, func(b []byte) int { return len(b) / 2 }},
	} {
		t.Run(c.name, func(t *testing.T) {
			state := filepath.Join(t.TempDir(), "w")
			mustRequest(t, f, state, 3)
			name := filepath.Join(state, c.file)
			data, _ := os.ReadFile(name)
			flip(t, name, c.at(data))
			e, stdout, stderr := testEnv(time.Time{})
			for cmd, run := range map[string]func() error{
				"show":   func() error { return Show(e, ShowOptions{State: state, Scale: 8}) },
				"export": func() error { return Export(e, state, 1) },
				"list":   func() error { return List(e, state) },
			} {
				err := run()
				if !errors.Is(err, ErrDamaged) || !strings.HasPrefix(err.Error(), "the saved ") ||
					!strings.Contains(err.Error(), "damaged") || !strings.Contains(err.Error(), "run 'wallet update'") {
					t.Errorf("%s: %v", cmd, err)
				}
			}
			if out := stdout.String() + stderr.String(); out != "" {
				t.Fatalf("output: %q", out)
			}
			if n := unusedTokens(t, state); n != 3 {
				t.Fatalf("%d unused tokens left, want 3", n)
			}
			trust, _ := directory.LoadTrust(f.Trust)
			u, _ := directory.IssuerURL(f.URL())
			if err := Update(context.Background(), e, RequestOptions{State: state, Issuer: u, Trust: trust}); err != nil {
				t.Fatalf("update: %v", err)
			}
			if err := List(e, state); err != nil || !strings.Contains(stdout.String(), "green ") {
				t.Fatalf("list after update: %v %q", err, stdout)
			}
		})
	}
}

// TestDamagedAccepted: the accepted state's directory hash, damaged, no
// longer matches the saved directory: a request says that the saved
// files are damaged, not that the issuer sent another directory.
func TestDamagedAccepted(t *testing.T) {
	f := wallettest.New(t)
	state := filepath.Join(t.TempDir(), "w")
	mustRequest(t, f, state, 1)
	name := filepath.Join(state, AcceptedFile)
	data, _ := os.ReadFile(name)
	i := bytes.Index(data, []byte(`"directory_sha256":"`))
	if i < 0 {
		t.Fatalf("accepted: %s", data)
	}
	// Another hexadecimal digit: a flipped bit may make one that is not,
	// which is a malformed file rather than a hash that does not match.
	j := i + len(`"directory_sha256":"`) + 4
	if data[j] == '0' {
		data[j] = '1'
	} else {
		data[j] = '0'
	}
	if err := os.WriteFile(name, data, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := request(t, f, state, 1)
	if !errors.Is(err, ErrDamaged) || strings.Contains(err.Error(), "issuer sent") {
		t.Fatalf("request with a damaged accepted state: %v", err)
	}
}

// TestNextEpoch: at 23:20 UTC, late in a 24-hour epoch, request asks for
// the current epoch and the next one (listed in the directory); show
// gives out the current epoch's tokens first and the next epoch's only
// once it has begun. At noon it asks for the current epoch only.
func TestNextEpoch(t *testing.T) {
	f := wallettest.New(t)
	day := time.Now().UTC().Truncate(24 * time.Hour).Add(-24 * time.Hour)
	late := day.Add(23*time.Hour + 20*time.Minute)
	clock := late
	var mu sync.Mutex
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	set := func(t time.Time) { mu.Lock(); clock = t; mu.Unlock() }
	f.Now = now
	state := filepath.Join(t.TempDir(), "w")
	e, stdout, stderr := testEnv(time.Time{})
	e.Now = now

	if err := requestOn(t, e, f, state, 3, EpochAuto); err != nil {
		t.Fatal(err)
	}
	midnight, tomorrow := day.Add(24*time.Hour), day.Add(48*time.Hour)
	want := "wallet: 3 green tokens stored in " + filepath.Join(state, TokensFile) + ", valid until " + formatTime(midnight) + "; 3 unused in all\n" +
		"wallet: 3 green tokens stored in " + filepath.Join(state, TokensFile) + ", valid from " + formatTime(midnight) + " until " + formatTime(tomorrow) + "; 6 unused in all\n"
	if stderr.String() != want {
		t.Fatalf("request at 23:20:\n%s\nwant\n%s", stderr, want)
	}
	if got := len(f.GotAuth()); got != 2 {
		t.Fatalf("%d token requests, want 2", got)
	}
	if err := Export(e, state, 4); err == nil || !strings.Contains(err.Error(), "only 3 unused tokens left") {
		t.Fatalf("export of 4 at 23:20: %v", err)
	}
	stdout.Reset()
	if err := Export(e, state, 3); err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n") {
		var tok token.Token
		if err := tok.UnmarshalText([]byte(line)); err != nil || !tok.ExpiryTime().Equal(midnight) {
			t.Fatalf("exported at 23:20: %v, expiring %v", err, tok.ExpiryTime())
		}
	}
	if err := Show(e, ShowOptions{State: state, Scale: 8}); err == nil || err.Error() != "no token valid yet: 3 valid from "+formatTime(midnight) {
		t.Fatalf("show at 23:20 with only the next epoch's tokens: %v", err)
	}
	set(midnight.Add(5 * time.Minute))
	if err := Show(e, ShowOptions{State: state, Scale: 8}); err != nil {
		t.Fatalf("show after midnight: %v", err)
	}

	// At noon, the current epoch only; -epoch current and next as asked.
	// Each day's directory has a serial of its own.
	set(midnight.Add(12 * time.Hour))
	f.Serial++
	stderr.Reset()
	if err := requestOn(t, e, f, state, 1, EpochAuto); err != nil || strings.Count(stderr.String(), "stored") != 1 || strings.Contains(stderr.String(), "valid from") {
		t.Fatalf("request at noon: %v %q", err, stderr)
	}
	set(late.Add(24 * time.Hour))
	f.Serial++
	stderr.Reset()
	if err := requestOn(t, e, f, state, 1, EpochCurrent); err != nil || strings.Count(stderr.String(), "stored") != 1 || strings.Contains(stderr.String(), "valid from") {
		t.Fatalf("request -epoch current at 23:20: %v %q", err, stderr)
	}
	stderr.Reset()
	if err := requestOn(t, e, f, state, 1, EpochNext); err != nil || strings.Count(stderr.String(), "valid from") != 1 {
		t.Fatalf("request -epoch next at 23:20: %v %q", err, stderr)
	}
}
