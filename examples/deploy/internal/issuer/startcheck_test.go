package issuer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/statustoken/statustoken/examples/deploy/internal/logstore"
	"github.com/statustoken/statustoken/issue"
	"github.com/statustoken/statustoken/token"
)

// stateFiles returns the SHA-256 of every file under dir, by path.
func stateFiles(t *testing.T, dir string) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) && path == dir {
			return fs.SkipAll
		}
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

// refused opens cfg and checks that it fails with sentinel and an error
// matching each of want, and that the state directory is left as it was.
func refused(t *testing.T, cfg *Config, sentinel error, want ...string) {
	t.Helper()
	before := stateFiles(t, cfg.StateDir)
	s, err := open(*cfg, quiet, time.Now)
	if err == nil {
		s.Close()
		t.Fatal("the issuer started")
	}
	if sentinel != nil && !errors.Is(err, sentinel) {
		t.Errorf("error %v, want %v", err, sentinel)
	}
	for _, w := range want {
		if !regexp.MustCompile(w).MatchString(err.Error()) {
			t.Errorf("error %q does not match %q", err, w)
		}
	}
	after := stateFiles(t, cfg.StateDir)
	if len(after) != len(before) {
		t.Errorf("a refused start left %d files, %d before", len(after), len(before))
	}
	for name, sum := range before {
		if after[name] != sum {
			t.Errorf("a refused start changed %s", name)
		}
	}
}

// TestStatusesChanged: restarted with the status names swapped, or a name
// given to another code, the issuer refuses to start, names the code and
// gives the published mapping; a new status with a new code is fine.
func TestStatusesChanged(t *testing.T) {
	f := newFixture(t, 10)
	f.srv.Close()
	cfg := *f.cfg
	cfg.Statuses = []token.StatusName{{Code: 1, Name: "red"}, {Code: 2, Name: "green"}}
	refused(t, &cfg, ErrStatusChanged, `-statuses names code 1 "red", but the published directory \(serial 1\) names it "green"`,
		`start with -statuses 1=green,2=red`)
	cfg.Statuses = []token.StatusName{{Code: 1, Name: "green"}, {Code: 3, Name: "red"}}
	refused(t, &cfg, ErrStatusChanged, `-statuses gives "red" code 3, but the published directory \(serial 1\) gives it code 2`)
	// Dropping a status withdraws its keys: refused without -withdraw.
	cfg.Statuses = []token.StatusName{{Code: 1, Name: "green"}}
	cfg.Holders = filepath.Join(t.TempDir(), "private", "holders")
	if _, err := AddHolder(cfg.Holders, "green", cfg.Statuses, DefaultReasons(cfg.Statuses)); err != nil {
		t.Fatal(err)
	}
	refused(t, &cfg, ErrStatusChanged, `-statuses drops red \(code 2\), whose key [0-9a-f]{16} is published`, `-withdraw [0-9a-f]{16}`)

	cfg.Statuses = []token.StatusName{{Code: 1, Name: "green"}, {Code: 2, Name: "red"}, {Code: 3, Name: "blue"}}
	cfg.Holders = ""
	s := startService(t, &cfg, quiet, time.Now)
	if cur := s.pub.current(); cur == nil || cur.serial != 2 {
		t.Fatalf("with a new status: serving %+v, want serial 2", cur)
	}
}

// publishedKey returns the private key file of the published key of status
// and its ID.
func publishedKey(t *testing.T, f *fixture, status token.Status) (name string, id token.KeyID) {
	t.Helper()
	d, err := token.ParseDirectory(f.srv.pub.current().data)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range d.Keys {
		if k.Status == status {
			ref := issue.KeyRef{Status: status, NotBefore: k.NotBefore, EpochLength: k.Expiry - k.NotBefore}
			return filepath.Join(f.cfg.StateDir, keysDir, ref.String()+".pem"), k.ID
		}
	}
	t.Fatalf("no key of status %d", status)
	return "", token.KeyID{}
}

// TestKeyFileMissing: with the private key file of a published key that
// is still valid deleted, the issuer refuses to start, names the file and
// how to proceed, and generates nothing; -withdraw replaces the key.
func TestKeyFileMissing(t *testing.T) {
	f := newFixture(t, 10)
	name, id := publishedKey(t, f, 1)
	f.srv.Close()
	if err := os.Remove(name); err != nil {
		t.Fatal(err)
	}
	refused(t, f.cfg, ErrKeyMissing, regexp.QuoteMeta(name)+" is missing", "key "+id.String()+` \(green`,
		"Restore the file from a backup", "-withdraw "+id.String())

	// Another key in its place is no better.
	other, _ := publishedKey(t, f, 2)
	data, err := os.ReadFile(other)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, data, 0o600); err != nil {
		t.Fatal(err)
	}
	refused(t, f.cfg, ErrKeyMissing, regexp.QuoteMeta(name)+" is not the private key of key "+id.String())
	os.Remove(name)

	cfg := *f.cfg
	cfg.Withdraw = []string{"0123456789abcdef"}
	refused(t, &cfg, nil, "-withdraw 0123456789abcdef: the last directory published \\(serial 1\\) lists no key with this ID")

	// Withdrawn deliberately: a new key takes its place, under a new
	// serial.
	cfg.Withdraw = []string{id.String()}
	s := startService(t, &cfg, quiet, time.Now)
	cur := s.pub.current()
	d, err := token.ParseDirectory(cur.data)
	if err != nil || cur.serial != 2 {
		t.Fatalf("after -withdraw: serial %d, %v", cur.serial, err)
	}
	for _, k := range d.Keys {
		if k.ID == id {
			t.Fatal("the withdrawn key is still published")
		}
	}
	if _, err := os.Stat(name); err != nil {
		t.Fatalf("no new key file: %v", err)
	}
	s.Close()

	// A key whose file is there (compromised, say) is withdrawn the same
	// way; its file is kept aside.
	red, redID := publishedKey(t, &fixture{t: t, cfg: f.cfg, srv: s}, 2)
	cfg.Withdraw = []string{redID.String()}
	s = startService(t, &cfg, quiet, time.Now)
	cur = s.pub.current()
	if d, err = token.ParseDirectory(cur.data); err != nil || cur.serial != 3 {
		t.Fatalf("after withdrawing the red key: serial %d, %v", cur.serial, err)
	}
	for _, k := range d.Keys {
		if k.ID == redID {
			t.Fatal("the withdrawn red key is still published")
		}
	}
	if _, err := os.Stat(red + ".withdrawn"); err != nil {
		t.Fatalf("the withdrawn key's file: %v", err)
	}
}

// TestLogDamaged: five bytes cut from the log's last entry bundle, or the log
// restored from an older copy, and the start is refused with what to
// restore, changing nothing.
func TestLogDamaged(t *testing.T) {
	f := newFixture(t, 10)
	f.srv.Close()
	logDir := filepath.Join(f.cfg.StateDir, "log")
	old := filepath.Join(t.TempDir(), "log")
	copyTree(t, logDir, old)

	// A second directory, cosigned.
	cfg := *f.cfg
	cfg.Republish = true
	s := startService(t, &cfg, quiet, time.Now)
	if cur := s.pub.current(); cur == nil || cur.serial != 2 {
		t.Fatalf("serving %+v, want serial 2", cur)
	}
	s.Close()

	// The last entry bundle, cut by five bytes.
	var bundle string
	filepath.WalkDir(filepath.Join(logDir, "tree", "tile", "entries"), func(path string, e fs.DirEntry, err error) error {
		if err == nil && !e.IsDir() {
			bundle = path
		}
		return nil
	})
	data, err := os.ReadFile(bundle)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bundle, data[:len(data)-5], 0o600); err != nil {
		t.Fatal(err)
	}
	refused(t, f.cfg, logstore.ErrDamaged, "entr", "Restore "+regexp.QuoteMeta(filepath.Join(logDir, "tree")))
	if err := os.WriteFile(bundle, data, 0o600); err != nil {
		t.Fatal(err)
	}

	// The whole log restored from the copy made after serial 1.
	if err := os.RemoveAll(logDir); err != nil {
		t.Fatal(err)
	}
	copyTree(t, old, logDir)
	refused(t, f.cfg, ErrStateRolledBack, "holds 1 records, but the witnesses cosigned a tree of 2", "Restore "+regexp.QuoteMeta(logDir))
	// Without the copy of the checkpoint, the serial served tells.
	os.Rename(filepath.Join(f.cfg.StateDir, cosignedFile), filepath.Join(t.TempDir(), "cosigned"))
	refused(t, f.cfg, ErrStateRolledBack, "directory serial 2 was served, but the log in "+regexp.QuoteMeta(logDir)+" ends before it")
}

// TestStateRolledBack: the whole state restored from a copy made after
// serial 1 is consistent in itself; the witnesses, who cosigned serial 2,
// tell, and the start is refused with what to restore.
func TestStateRolledBack(t *testing.T) {
	f := newFixture(t, 10)
	f.srv.Close()
	old := filepath.Join(t.TempDir(), "state")
	copyTree(t, f.cfg.StateDir, old)
	cfg := *f.cfg
	cfg.Republish = true
	startService(t, &cfg, quiet, time.Now).Close()

	cfg = *f.cfg
	cfg.StateDir = old
	s, err := open(cfg, quiet, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	err = s.Start(context.Background())
	logDir := filepath.Join(old, "log")
	if !errors.Is(err, ErrStateRolledBack) || !strings.Contains(err.Error(), "holds 1 records, fewer than the witnesses cosigned") ||
		!strings.Contains(err.Error(), "Restore "+logDir+" from a backup") {
		t.Fatalf("Start on a state restored from an old copy: %v", err)
	}
}

func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		to := filepath.Join(dst, strings.TrimPrefix(path, src))
		if e.IsDir() {
			return os.MkdirAll(to, 0o700)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(to, data, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestWrongDirectory: started on a directory that is not an issuer's
// state, or with a file missing, the issuer creates nothing.
func TestWrongDirectory(t *testing.T) {
	cfg := testConfig(t)
	setupWitnesses(t, cfg)
	good := cfg.StateDir

	cfg.StateDir = filepath.Join(t.TempDir(), "elsewhere")
	refused(t, cfg, nil, "holds no log key, or not both: is it the issuer's state directory", `issuer log-key -state`)
	if _, err := os.Stat(cfg.StateDir); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the refused start created %s", cfg.StateDir)
	}

	// The right directory, but no holders file yet, or no witnesses
	// file: no root key, no seed.
	cfg.StateDir = good
	refused(t, cfg, nil, "no holders file")
	if _, err := AddHolder(cfg.HoldersPath(), "green", testStatuses, DefaultReasons(testStatuses)); err != nil {
		t.Fatal(err)
	}
	w := cfg.Witnesses
	cfg.Witnesses = filepath.Join(t.TempDir(), "none")
	refused(t, cfg, nil, "none")
	cfg.Witnesses = w
	for _, name := range []string{rootKeyFile, seedFile, keysDir} {
		if _, err := os.Stat(filepath.Join(good, name)); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("a refused start created %s", name)
		}
	}
	startService(t, cfg, quiet, time.Now).Close()

	// With directories in the log, a lost root key is not replaced.
	os.Remove(filepath.Join(good, rootKeyFile))
	os.Remove(filepath.Join(good, seedFile))
	refused(t, cfg, nil, "holds neither root.key nor seed.key, but its log holds directories they signed: restore both")
}

// TestRateLimitAcrossRestart: the rate limits survive a restart.
func TestRateLimitAcrossRestart(t *testing.T) {
	cfg := testConfig(t)
	setupWitnesses(t, cfg)
	key, err := AddHolder(cfg.HoldersPath(), "green", testStatuses, DefaultReasons(testStatuses))
	if err != nil {
		t.Fatal(err)
	}
	other, err := AddHolder(cfg.HoldersPath(), "green", testStatuses, DefaultReasons(testStatuses))
	if err != nil {
		t.Fatal(err)
	}
	cfg.RateLimit, cfg.RateWindow = 2, time.Hour
	var red []byte
	request := func(s *Service, key string) int {
		if red == nil {
			srv := httptest.NewServer(s.Handler())
			red = validRequest(t, srv.URL, cfg.StateDir, 2)
			srv.Close()
		}
		return postRequest(s.Handler(), key, red).Code
	}
	s := startService(t, cfg, quiet, time.Now)
	for i := range 2 {
		if code := request(s, key); code != http.StatusForbidden {
			t.Fatalf("request %d: %d", i, code)
		}
	}
	request(s, other)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	file, err := os.ReadFile(filepath.Join(cfg.StateDir, limiterFile))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(file), key) {
		t.Fatal("the rate-limit file holds an API key")
	}
	for _, k := range []string{key, other} {
		sum := sha256.Sum256([]byte(k))
		if strings.Contains(string(file), hex.EncodeToString(sum[:])) {
			t.Fatal("the rate-limit file holds a holder's handle")
		}
	}

	s = startService(t, cfg, quiet, time.Now)
	if code := request(s, key); code != http.StatusTooManyRequests {
		t.Fatalf("after a restart: %d, want 429", code)
	}
	if code := request(s, other); code != http.StatusForbidden {
		t.Fatalf("the other holder after a restart: %d, want its second request", code)
	}
	if code := request(s, other); code != http.StatusTooManyRequests {
		t.Fatalf("the other holder's third request: %d", code)
	}

	// A damaged file is refused, with what to do.
	s.Close()
	os.WriteFile(filepath.Join(cfg.StateDir, limiterFile), []byte("nonsense\n"), 0o600)
	refused(t, cfg, nil, "ratelimit:1: not a rate-limit bucket; .*delete it to reset")
}
