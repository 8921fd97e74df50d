//go:build js && wasm

// Command wasm is the web scanner's WebAssembly module: a thin syscall/js
// wrapper over internal/scan (and so over package verify). It sets
// globalThis.statustokenWasm to an object with these members:
//
//	pinned                        true when a trust policy was pinned at build time
//	classify(bytes)               {kind, bytes}: "directory", "signature", "proof", "trust" or "unknown"
//	decodeHeader(string)          the bytes of a base64 header value, or null
//	load(dir, sig, proof, trust)  {ok, info} or {ok: false, error}: loads the directory once
//	check(text)                   the verdict for one scanned text
//	benchPrepare(texts)           {ok, n} or {ok: false, error}: tokens for benchRun
//	benchRun(rounds)              verifies them rounds times; returns how many were valid
//
// Build it with `go run ./cmd/serve` (or internal/build), which passes
// the trust policy to pin as -ldflags "-X main.pinnedTrust=BASE64". A
// module built without one takes the operator's policy in load.
package main

import (
	"encoding/base64"
	"fmt"
	"syscall/js"
	"time"

	"github.com/statustoken/statustoken/examples/web/internal/scan"
	"github.com/statustoken/statustoken/token"
)

// pinnedTrust is the base64 of the trust policy pinned at build time.
var pinnedTrust string

var (
	session   *scan.Session
	published token.Published
	trust     *token.Trust
	bench     *scan.Bench
)

func main() {
	api := js.Global().Get("Object").New()
	api.Set("pinned", pinnedTrust != "")
	api.Set("classify", fn(classify))
	api.Set("decodeHeader", fn(decodeHeader))
	api.Set("load", fn(load))
	api.Set("check", fn(check))
	api.Set("benchPrepare", fn(benchPrepare))
	api.Set("benchRun", fn(benchRun))
	js.Global().Set("statustokenWasm", api)
	select {} // keep the functions alive for the page's lifetime
}

// fn wraps a callback so that a panic becomes an error result instead of
// ending the module (which would leave the page without a verifier).
func fn(f func(args []js.Value) any) js.Func {
	return js.FuncOf(func(_ js.Value, args []js.Value) (out any) {
		defer func() {
			if r := recover(); r != nil {
				out = map[string]any{"ok": false, "error": fmt.Sprint("internal error: ", r)}
			}
		}()
		return f(args)
	})
}

func arg(args []js.Value, i int) js.Value {
	if i < len(args) {
		return args[i]
	}
	return js.Undefined()
}

func goBytes(v js.Value) []byte {
	if v.IsUndefined() || v.IsNull() {
		return nil
	}
	b := make([]byte, v.Get("length").Int())
	js.CopyBytesToGo(b, v)
	return b
}

func jsBytes(b []byte) js.Value {
	u := js.Global().Get("Uint8Array").New(len(b))
	js.CopyBytesToJS(u, b)
	return u
}

func millis(t time.Time) any {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixMilli())
}

func classify(args []js.Value) any {
	kind, b := scan.Classify(goBytes(arg(args, 0)))
	out := map[string]any{"kind": kind}
	if b != nil {
		out["bytes"] = jsBytes(b)
	}
	return out
}

func decodeHeader(args []js.Value) any {
	v := arg(args, 0)
	if v.Type() != js.TypeString {
		return nil
	}
	b, ok := scan.DecodeHeader(v.String())
	if !ok {
		return nil
	}
	return jsBytes(b)
}

func fail(msg string) any { return map[string]any{"ok": false, "error": msg} }

func load(args []js.Value) any {
	if session != nil {
		return fail("A directory is already loaded: reload the page to load another.")
	}
	p := token.Published{Directory: goBytes(arg(args, 0)), Signature: goBytes(arg(args, 1)), Proof: goBytes(arg(args, 2))}
	var text []byte
	if pinnedTrust != "" {
		var err error
		if text, err = base64.StdEncoding.DecodeString(pinnedTrust); err != nil {
			return fail("The trust policy built into this scanner is damaged: rebuild it.")
		}
	} else if t := arg(args, 3); t.Type() == js.TypeString {
		text = []byte(t.String())
	}
	if len(text) == 0 {
		return fail("No trust policy: give the scanner its trust.txt first.")
	}
	tr, err := token.ParseTrust(text)
	if err != nil {
		return fail(scan.LoadError(err))
	}
	s, info, err := scan.Open(p, tr, nil)
	if err != nil {
		return fail(scan.LoadError(err))
	}
	session, published, trust = s, p, tr
	statuses := make([]any, len(info.Statuses))
	for i, n := range info.Statuses {
		statuses[i] = n
	}
	return map[string]any{"ok": true, "info": map[string]any{
		"serial":       float64(info.Serial),
		"keys":         info.Keys,
		"statuses":     statuses,
		"from":         millis(info.From),
		"to":           millis(info.To),
		"checkpoint":   millis(info.Checkpoint),
		"logOrigin":    info.LogOrigin,
		"root":         info.Root,
		"clockWarning": info.ClockWarning,
		"pinned":       pinnedTrust != "",
	}}
}

func check(args []js.Value) any {
	if session == nil {
		return map[string]any{"color": scan.Red, "code": "error", "title": "Not ready", "reason": "No directory is loaded yet."}
	}
	t := arg(args, 0)
	text := ""
	if t.Type() == js.TypeString {
		text = t.String()
	}
	v := session.Check(text)
	return map[string]any{
		"color":       v.Color,
		"code":        v.Code,
		"title":       v.Title,
		"reason":      v.Reason,
		"status":      v.Status,
		"expiry":      millis(v.Expiry),
		"earlierScan": millis(v.EarlierScan),
	}
}

func benchPrepare(args []js.Value) any {
	if session == nil {
		return fail("load a directory first")
	}
	list := arg(args, 0)
	if list.Type() != js.TypeObject {
		return fail("want an array of token texts")
	}
	texts := make([]string, list.Length())
	for i := range texts {
		texts[i] = list.Index(i).String()
	}
	b, err := scan.NewBench(published, trust, texts)
	if err != nil {
		return fail(err.Error())
	}
	bench = b
	return map[string]any{"ok": true, "n": b.Len()}
}

func benchRun(args []js.Value) any {
	if bench == nil {
		return 0
	}
	rounds := 1
	if r := arg(args, 0); r.Type() == js.TypeNumber && r.Int() > 0 {
		rounds = r.Int()
	}
	return bench.Run(rounds)
}
