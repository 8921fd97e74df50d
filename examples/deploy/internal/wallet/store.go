package wallet

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/statustoken/statustoken/examples/deploy/internal/directory"
	"github.com/statustoken/statustoken/examples/deploy/internal/files"
	"github.com/statustoken/statustoken/token"
)

// The wallet's state directory (mode 0700) holds:
//
//	tokens.json      the tokens and which are used (0600)
//	directory.json   the last directory accepted, its signature and log
//	directory.sig    proof (public, the same for everyone)
//	directory.proof
//	accepted         what the wallet accepted (token.Accepted: the serial
//	                 and SHA-256 of that directory, every status name
//	                 accepted so far, and the log checkpoint): every later
//	                 directory must extend it
//
// A state directory of an older wallet has, instead of accepted, the file
// checkpoint (the log checkpoint alone): the accepted state is then taken
// from it and directory.json, and written as accepted with the next
// directory accepted.
//
// Nothing else is kept: not the API key, not the issuer's address, no time
// of issuance or use. "wallet show" writes the QR code's PNG next to the
// directory, not in it (DefaultPNG).
const (
	TokensFile    = "tokens.json"
	DirectoryFile = "directory.json"
	SignatureFile = "directory.sig"
	ProofFile     = "directory.proof"
	AcceptedFile  = "accepted"
	// LegacyCheckpointFile is the log checkpoint file of older wallets.
	LegacyCheckpointFile = "checkpoint"
	tokensFileFormat     = 1
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

// Store is an opened wallet state directory.
type Store struct {
	dir     string
	missing bool // dir does not exist yet: create it before writing
	entries []entry
}

// ErrNoState is wrapped by the error of Open for a state directory that
// does not exist.
var ErrNoState = errors.New("no wallet state")

// Open opens the existing wallet state in dir, creating nothing: a
// missing dir gives an error wrapping ErrNoState (and fs.ErrNotExist).
// The directory must be a directory of mode 0700 (no access for others),
// its tokens file one of mode 0600.
func Open(dir string) (*Store, error) {
	s, err := open(dir)
	if err != nil {
		return nil, err
	}
	if s.missing {
		return nil, noStateError{dir}
	}
	return s, nil
}

// Create opens the wallet state in dir as Open does, creating dir (mode
// 0700) when it is missing.
func Create(dir string) (*Store, error) {
	s, err := open(dir)
	if err != nil {
		return nil, err
	}
	return s, s.ensure()
}

type noStateError struct{ dir string }

func (e noStateError) Error() string {
	return fmt.Sprintf("no wallet state in %s: run 'wallet request' first", e.dir)
}

func (e noStateError) Is(target error) bool {
	return target == ErrNoState || target == fs.ErrNotExist
}

// open opens dir, or returns an empty Store marked missing when dir does
// not exist; it creates nothing.
func open(dir string) (*Store, error) {
	s := &Store{dir: dir}
	fi, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		s.missing = true
		return s, nil
	}
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("%s is not a directory", dir)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%s has mode %04o: it holds secrets, so only its owner may use it (chmod 700 %s)", dir, fi.Mode().Perm(), dir)
	}
	name := filepath.Join(dir, TokensFile)
	data, err := files.ReadPrivate(name, maxTokensFile)
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
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
	for i, st := range f.Tokens {
		t, err := token.ParseBase64(st.Token)
		if err != nil {
			return nil, fmt.Errorf("%s: token %d: %v", name, i+1, err)
		}
		s.entries = append(s.entries, entry{tok: t, used: st.Used})
	}
	return s, nil
}

// ensure creates the state directory if it is missing.
func (s *Store) ensure() error {
	if !s.missing {
		return nil
	}
	if err := files.EnsurePrivateDir(s.dir); err != nil {
		return err
	}
	s.missing = false
	return nil
}

// Dir returns the state directory.
func (s *Store) Dir() string { return s.dir }

// Save writes the tokens file, leaving out the tokens expired at now.
func (s *Store) Save(now time.Time) error {
	if err := s.ensure(); err != nil {
		return err
	}
	f := tokenFile{Version: tokensFileFormat, Tokens: []storedToken{}}
	var kept []entry
	for _, e := range s.entries {
		if !live(e.tok, now) {
			continue
		}
		b, err := e.tok.Base64()
		if err != nil {
			return err
		}
		f.Tokens = append(f.Tokens, storedToken{Token: b, Used: e.used})
		kept = append(kept, e)
	}
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	if err := files.WriteAtomic(filepath.Join(s.dir, TokensFile), append(data, '\n'), 0o600); err != nil {
		return err
	}
	s.entries = kept
	return nil
}

func live(t *token.Token, now time.Time) bool {
	return int64(t.Expiry) > now.Unix()
}

// Add appends new unused tokens; Save writes them.
func (s *Store) Add(toks []*token.Token) {
	for _, t := range toks {
		s.entries = append(s.entries, entry{tok: t})
	}
}

// take marks up to n unused, unexpired tokens as used and returns them,
// those expiring first first.
func (s *Store) take(n int, now time.Time) []*token.Token {
	var out []*token.Token
	for len(out) < n {
		best := -1
		for i, e := range s.entries {
			if e.used || !live(e.tok, now) {
				continue
			}
			if best < 0 || e.tok.Expiry < s.entries[best].tok.Expiry {
				best = i
			}
		}
		if best < 0 {
			break
		}
		s.entries[best].used = true
		out = append(out, s.entries[best].tok)
	}
	return out
}

// counts is what the store holds at a time.
type counts struct {
	unused, used, expired int
	lastExpiry            time.Time // the latest expiry of the expired tokens
}

func (s *Store) count(now time.Time) counts {
	var c counts
	for _, e := range s.entries {
		switch {
		case !live(e.tok, now):
			c.expired++
			if t := e.tok.ExpiryTime(); t.After(c.lastExpiry) {
				c.lastExpiry = t
			}
		case e.used:
			c.used++
		default:
			c.unused++
		}
	}
	return c
}

// unused counts the unused, unexpired tokens.
func (s *Store) unused(now time.Time) int { return s.count(now).unused }

// storedDirectory returns the directory accepted last, or nil when there
// is none.
func (s *Store) storedDirectory() ([]byte, error) {
	if s.missing {
		return nil, nil
	}
	data, err := files.ReadLimited(filepath.Join(s.dir, DirectoryFile), token.MaxDirectorySize)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return data, err
}

// statusName names a token's status from the stored directory, or by its
// code when there is none.
func (s *Store) statusName(st token.Status) string {
	if data, err := s.storedDirectory(); err == nil && data != nil {
		if d, err := token.ParseDirectory(data); err == nil {
			if name, ok := d.StatusName(st); ok {
				return name
			}
		}
	}
	return fmt.Sprintf("status %d", st)
}

// accepted returns what the wallet accepted last, checked under trust:
// the accepted file, or for the state of an older wallet what its stored
// directory and checkpoint say; the zero Accepted when the wallet has
// accepted nothing yet.
func (s *Store) accepted(trust *token.Trust) (token.Accepted, error) {
	if s.missing {
		return token.Accepted{}, nil
	}
	name := filepath.Join(s.dir, AcceptedFile)
	text, err := files.ReadLimited(name, token.MaxAcceptedSize)
	switch {
	case err == nil:
		acc, err := token.ParseAccepted(text, trust)
		if err != nil {
			return token.Accepted{}, storedStateError(name, err)
		}
		return acc, nil
	case !errors.Is(err, fs.ErrNotExist):
		return token.Accepted{}, err
	}
	// An older wallet's state, or none.
	data, err := s.storedDirectory()
	if err != nil || data == nil {
		return token.Accepted{}, err
	}
	cpName := filepath.Join(s.dir, LegacyCheckpointFile)
	cp, err := files.ReadLimited(cpName, token.MaxProofSize)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		cp = nil
	case err != nil:
		return token.Accepted{}, err
	}
	acc, err := directory.LegacyAccepted(data, cp, trust)
	var le *token.LoadError
	switch {
	case errors.As(err, &le):
		return token.Accepted{}, storedStateError(cpName, err)
	case err != nil:
		return token.Accepted{}, fmt.Errorf("the stored directory %s is unreadable (%w): remove it to start again", filepath.Join(s.dir, DirectoryFile), err)
	}
	return acc, nil
}

// storedStateError explains why the stored accepted state, or the log
// checkpoint of an older wallet, in the file name was refused by the
// library.
func storedStateError(name string, err error) error {
	var le *token.LoadError
	if errors.As(err, &le) && le.Err == token.ErrRollback {
		return fmt.Errorf("the stored accepted state %s is unreadable (%w): it keeps older directories from being passed off as current; restore it from a backup, or remove it to start again", name, err)
	}
	return fmt.Errorf("the stored log checkpoint in %s does not verify under the pinned trust policy (%w): if the policy changed on purpose, remove that file", name, err)
}

// StoreDirectory keeps an accepted directory and the accepted state,
// creating the state directory if it is missing. The directory goes
// first: a wallet stopped in between has the new directory and the old
// accepted state, which every later directory still extends. An older
// wallet's checkpoint file, replaced by the accepted file, is removed.
func (s *Store) StoreDirectory(p token.Published, acc token.Accepted) error {
	if err := s.ensure(); err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		data []byte
	}{{SignatureFile, p.Signature}, {ProofFile, p.Proof}, {DirectoryFile, p.Directory}} {
		if err := files.WriteAtomic(filepath.Join(s.dir, f.name), f.data, 0o600); err != nil {
			return err
		}
	}
	text, err := acc.MarshalText()
	if err != nil {
		return err
	}
	if err := files.WriteAtomic(filepath.Join(s.dir, AcceptedFile), text, 0o600); err != nil {
		return err
	}
	if err := os.Remove(filepath.Join(s.dir, LegacyCheckpointFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}
