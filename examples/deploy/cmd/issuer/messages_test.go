package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestHelpWidth: every line of the help and usage texts fits in 80
// columns, tabs expanded.
func TestHelpWidth(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"add-holder", "-h"}, {"log-key", "-h"}, {"help"}} {
		var out, errOut bytes.Buffer
		if code := run(context.Background(), args, &out, &errOut); code != 0 {
			t.Fatalf("%v: exit %d", args, code)
		}
		for i, line := range strings.Split(out.String(), "\n") {
			if strings.Contains(line, "\t") {
				t.Errorf("%v: line %d has a tab: %q", args, i+1, line)
			}
			if n := len([]rune(line)); n > 80 {
				t.Errorf("%v: line %d is %d columns: %q", args, i+1, n, line)
			}
		}
	}
	var out, errOut bytes.Buffer
	run(context.Background(), []string{"-h"}, &out, &errOut)
	for _, want := range []string{"  -withdraw KEY-ID\n", "(default 127.0.0.1:8080)", "  -republish\n"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("-h lacks %q", want)
		}
	}
}

func TestWithdrawFlag(t *testing.T) {
	for _, v := range []string{"xyz", "0123456789abcde", "0123456789abcdef,"} {
		var out, errOut bytes.Buffer
		code := run(context.Background(), []string{"-witnesses", "w", "-withdraw", v}, &out, &errOut)
		if code != 2 || !strings.Contains(errOut.String(), "want 16 hex digits") {
			t.Errorf("-withdraw %q: exit %d, %q", v, code, errOut.String())
		}
	}
}

// healthy checks that a log has no warning, no error and no message of an
// incomplete publication or a retry.
func healthy(t *testing.T, log string) {
	t.Helper()
	for _, bad := range []string{"level=WARN", "level=ERROR", "incomplete", "retrying"} {
		if strings.Contains(log, bad) {
			t.Errorf("log has %q:\n%s", bad, log)
		}
	}
}

// TestStartAndStopMessages: a healthy start and stop, first run and
// restart, logs what happened and nothing alarming; SIGINT while the
// witnesses have not answered says that the start was interrupted, not
// that a retry follows.
func TestStartAndStopMessages(t *testing.T) {
	d := newDeployment(t)
	for _, want := range []string{`msg="directory published" serial=1`, `msg="directory proof refreshed" serial=1`} {
		s := start(t, d.args(d.state, "-addr", "127.0.0.1:0")...)
		if code := s.stop(); code != 0 {
			t.Fatalf("exit %d\n%s", code, s.log)
		}
		log := s.log.String()
		healthy(t, log)
		if !strings.Contains(log, want) || !strings.HasSuffix(log, "level=INFO msg=stopped\n") {
			t.Errorf("log lacks %q or does not end with stopped:\n%s", want, log)
		}
	}

	// Witnesses that never answer, then SIGINT.
	hang, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer hang.Close()
	go func() {
		for {
			c, err := hang.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	text, err := os.ReadFile(d.witnesses)
	if err != nil {
		t.Fatal(err)
	}
	slow := filepath.Join(t.TempDir(), "witnesses")
	text = regexp.MustCompile(`http://\S+`).ReplaceAll(text, []byte("http://"+hang.Addr().String()))
	if err := os.WriteFile(slow, text, 0o644); err != nil {
		t.Fatal(err)
	}
	s := launch(t, "-state", d.state, "-witnesses", slow, "-epochs", "1", "-addr", "127.0.0.1:0", "-republish")
	waitFor(t, s, regexp.MustCompile(`msg="directory (logged)"`))
	if code := s.stop(); code != 0 {
		t.Fatalf("exit %d\n%s", code, s.log)
	}
	log := s.log.String()
	healthy(t, log)
	if !strings.Contains(log, `msg="interrupted before the witnesses cosigned the log"`) ||
		!strings.HasSuffix(log, "level=INFO msg=stopped\n") {
		t.Errorf("log after SIGINT:\n%s", log)
	}
}
