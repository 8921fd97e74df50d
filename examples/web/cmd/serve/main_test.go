package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/statustoken/statustoken/token"
)

func TestFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-root", t.TempDir()}, "does not hold index.html"},
		{[]string{"-root", "../..", "extra"}, "unexpected argument"},
		{[]string{"-root", "../..", "-cert", "c.pem"}, "-cert and -key go together"},
		{[]string{"-root", "../..", "-demo", "-directory", "d.json"}, "leave out -directory and -trust"},
		{[]string{"-root", "../..", "-directory", "d.json"}, "-directory needs -signature and -proof"},
		{[]string{"-root", "../..", "-trust", "/nonexistent/trust.txt"}, "no such file"},
	} {
		var out, errOut bytes.Buffer
		err := run(c.args, &out, &errOut)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want an error saying %q", c.args, err, c.want)
		}
	}
	bad := filepath.Join(t.TempDir(), "trust.txt")
	os.WriteFile(bad, []byte("root x\n"), 0o644)
	if err := run([]string{"-root", "../..", "-trust", bad}, new(bytes.Buffer), new(bytes.Buffer)); err == nil || !strings.Contains(err.Error(), "trust") {
		t.Errorf("a malformed trust policy: %v", err)
	}
}

// TestDemoSamples: -demo writes a QR code for each sample and the demo's
// trust policy (here without building the module).
func TestDemoSamples(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	if err := run([]string{"-root", "../..", "-demo", "-demo-out", dir, "-no-build", "-build-only"}, &out, new(bytes.Buffer)); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"valid", "tampered", "altered", "expired", "foreign"} {
		b, err := os.ReadFile(filepath.Join(dir, name+".png"))
		if err != nil || !bytes.HasPrefix(b, []byte("\x89PNG")) {
			t.Errorf("%s.png: %v", name, err)
		}
		if !strings.Contains(out.String(), name+".png") {
			t.Errorf("output does not mention %s.png:\n%s", name, out.String())
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "trust.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := token.ParseTrust(b); err != nil {
		t.Errorf("trust.txt: %v", err)
	}
}

// TestDemoTemporaryFolder: without -demo-out, -demo writes its samples to
// a temporary folder of its own and removes it when serve stops.
func TestDemoTemporaryFolder(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	var out bytes.Buffer
	if err := run([]string{"-root", "../..", "-demo", "-no-build", "-build-only"}, &out, new(bytes.Buffer)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), filepath.Join(tmp, "statustoken-web-demo-")) {
		t.Errorf("output does not name the temporary folder in %s:\n%s", tmp, out.String())
	}
	left, err := os.ReadDir(tmp)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range left {
		t.Errorf("left behind: %s", filepath.Join(tmp, e.Name()))
	}
}
