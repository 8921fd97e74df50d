package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// output writes the demo's report. On a terminal, a long step shows its
// progress on one line rewritten in place; elsewhere (a pipe, a file) only
// the step's result is written, so that the report reads the same however
// slow the machine.
type output struct {
	mu       sync.Mutex
	w        io.Writer
	terminal bool
	pending  bool // a progress line is on the screen
}

func newOutput(f *os.File) *output {
	st, err := f.Stat()
	return &output{w: f, terminal: err == nil && st.Mode()&os.ModeCharDevice != 0}
}

// clear ends a progress line on a terminal; o.mu is held.
func (o *output) clear() {
	if o.pending {
		fmt.Fprint(o.w, "\r\033[K")
		o.pending = false
	}
}

// say writes one line.
func (o *output) say(format string, args ...any) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.clear()
	fmt.Fprintf(o.w, format+"\n", args...)
}

// phase writes a blank line and a sentence that says what the next lines
// show.
func (o *output) phase(text string) {
	o.say("")
	o.wrap("", "   ", text)
}

// wrap writes text in lines of at most 78 columns, the first starting
// with first and the others with indent.
func (o *output) wrap(first, indent, text string) {
	line := first
	for _, word := range strings.Fields(text) {
		if len(line)+1+len(word) > 78 && strings.TrimSpace(line) != "" {
			o.say("%s", line)
			line = indent
		}
		if strings.TrimSpace(line) != "" {
			line += " "
		}
		line += word
	}
	o.say("%s", line)
}

// progress shows how far a long step has come: done of total since start.
func (o *output) progress(what string, done, total int, start time.Time) {
	if !o.terminal {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	el := time.Since(start)
	fmt.Fprintf(o.w, "\r\033[K%s: %d of %d tokens, %.0f/s", what, done, total, float64(done)/max(el.Seconds(), 1e-3))
	o.pending = true
}

// ticker calls f every 200 ms until the returned stop is called.
func (o *output) ticker(f func()) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				f()
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// rate writes a step's count, time and rate.
func (o *output) rate(what string, n int, d time.Duration) {
	o.say("%-36s %6d tokens %7v %8.0f/s", what+":", n, d.Round(time.Millisecond), float64(n)/d.Seconds())
}
