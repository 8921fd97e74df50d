package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"time"

	"github.com/statustoken/statustoken/examples/deploy/internal/files"
	"github.com/statustoken/statustoken/token"
)

// The wallet's state directory (mode 0700) holds:
//
//	tokens.json      the tokens and which are used (0600)
//	directory.json   the last directory accepted, its signature and log
//	directory.sig    proof (public, the same for everyone); its serial is
//	directory.proof  the lowest the wallet accepts from now on
//	checkpoint       the log checkpoint accepted with it: the log of every
//	                 later directory must extend it
//
// Nothing else is kept: not the API key, not the issuer's address, no time
// of issuance or use.
const (
	tokensFile       = "tokens.json"
	directoryFile    = "directory.json"
	signatureFile    = "directory.sig"
	proofFile        = "directory.proof"
	checkpointFile   = "checkpoint"
	tokensFileFormat = 1
	// maxTokensFile bounds the tokens file: ample for thousands of tokens.
	maxTokensFile = 8 << 20
)

// tokenFile is the JSON form of tokens.json.
type tokenFile struct {
	Version int           `json:"version"`
	Tokens  []storedToken `json:"tokens"`
}

// storedToken is one token, in its base64url form, and whether it was
// shown.
type storedToken struct {
	Token string `json:"token"`
	Used  bool   `json:"used"`
}

// entry is a stored token, parsed.
type entry struct {
	tok  *token.Token
	used bool
}

// wallet is an opened wallet directory.
type wallet struct {
	dir     string
	entries []entry
}

func openWallet(dir string) (*wallet, error) {
	if err := files.EnsurePrivateDir(dir); err != nil {
		return nil, err
	}
	w := &wallet{dir: dir}
	name := filepath.Join(dir, tokensFile)
	data, err := files.ReadPrivate(name, maxTokensFile)
	if errors.Is(err, fs.ErrNotExist) {
		return w, nil
	}
	if err != nil {
		return nil, err
	}
	var f tokenFile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	if f.Version != tokensFileFormat {
		return nil, fmt.Errorf("%s: unknown format version %d", name, f.Version)
	}
	for i, s := range f.Tokens {
		t, err := token.ParseBase64(s.Token)
		if err != nil {
			return nil, fmt.Errorf("%s: token %d: %v", name, i+1, err)
		}
		w.entries = append(w.entries, entry{tok: t, used: s.Used})
	}
	return w, nil
}

// save writes the tokens file, leaving out tokens expired at now.
func (w *wallet) save(now time.Time) error {
	f := tokenFile{Version: tokensFileFormat, Tokens: []storedToken{}}
	var kept []entry
	for _, e := range w.entries {
		if !live(e.tok, now) {
			continue
		}
		s, err := e.tok.Base64()
		if err != nil {
			return err
		}
		f.Tokens = append(f.Tokens, storedToken{Token: s, Used: e.used})
		kept = append(kept, e)
	}
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	if err := files.WriteAtomic(filepath.Join(w.dir, tokensFile), append(data, '\n'), 0o600); err != nil {
		return err
	}
	w.entries = kept
	return nil
}

func live(t *token.Token, now time.Time) bool {
	return int64(t.Expiry) > now.Unix()
}

// add appends new unused tokens.
func (w *wallet) add(toks []*token.Token) {
	for _, t := range toks {
		w.entries = append(w.entries, entry{tok: t})
	}
}

// takeUnused marks up to n unused, unexpired tokens as used and returns
// them, those expiring first first.
func (w *wallet) takeUnused(n int, now time.Time) []*token.Token {
	var out []*token.Token
	for len(out) < n {
		best := -1
		for i, e := range w.entries {
			if e.used || !live(e.tok, now) {
				continue
			}
			if best < 0 || e.tok.Expiry < w.entries[best].tok.Expiry {
				best = i
			}
		}
		if best < 0 {
			break
		}
		w.entries[best].used = true
		out = append(out, w.entries[best].tok)
	}
	return out
}

// storedDirectory returns the directory accepted last, or nil when there
// is none.
func (w *wallet) storedDirectory() ([]byte, error) {
	data, err := files.ReadLimited(filepath.Join(w.dir, directoryFile), token.MaxDirectorySize)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return data, err
}

// accepted returns what the wallet accepted last: the stored directory's
// serial and bytes, and the log checkpoint, checked under trust; the zero
// values when the wallet has accepted nothing yet.
func (w *wallet) accepted(trust *token.Trust) (serial uint64, data []byte, cp *token.Checkpoint, err error) {
	data, err = w.storedDirectory()
	if err != nil || data == nil {
		return 0, nil, nil, err
	}
	d, err := token.ParseDirectory(data)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("the stored directory %s is unreadable: %v", filepath.Join(w.dir, directoryFile), err)
	}
	name := filepath.Join(w.dir, checkpointFile)
	text, err := files.ReadLimited(name, token.MaxProofSize)
	if errors.Is(err, fs.ErrNotExist) {
		return d.Serial, data, nil, nil
	}
	if err != nil {
		return 0, nil, nil, err
	}
	if cp, err = token.ParseCheckpoint(text, trust); err != nil {
		return 0, nil, nil, fmt.Errorf("the stored log checkpoint %s does not verify under the pinned trust policy (%v): if the policy changed on purpose, remove that file", name, err)
	}
	return d.Serial, data, cp, nil
}

// storeDirectory keeps an accepted directory and its log checkpoint. The
// directory goes first: a wallet stopped in between has the new serial
// and the old checkpoint, which every later log still extends.
func (w *wallet) storeDirectory(p token.Published, cp *token.Checkpoint) error {
	for _, f := range []struct {
		name string
		data []byte
	}{{signatureFile, p.Signature}, {proofFile, p.Proof}, {directoryFile, p.Directory}} {
		if err := files.WriteAtomic(filepath.Join(w.dir, f.name), f.data, 0o600); err != nil {
			return err
		}
	}
	text, err := cp.MarshalText()
	if err != nil {
		return err
	}
	return files.WriteAtomic(filepath.Join(w.dir, checkpointFile), text, 0o600)
}
