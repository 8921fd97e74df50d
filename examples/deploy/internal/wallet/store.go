package wallet

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
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
//	trust.txt        the trust policy the directory was accepted under,
//	                 against which show, export and list check the saved
//	                 directory each time they load it
//	decisions.json   the issuer's receipts, each with the directory it
//	                 cites, the holder's opening (secret until an appeal),
//	                 when the wallet got it, and its decision log proof
//	                 (0600; see DecisionsFile)
//	lock             locked (flock) by every command for as long as it
//	                 reads and changes the state, so that commands run in
//	                 parallel see each other's changes
//
// Every file is replaced atomically: written to a temporary file in the
// same directory, synced, renamed over the old one, and the directory
// synced.
//
// A state directory of an older wallet has, instead of accepted, the file
// checkpoint (the log checkpoint alone): the accepted state is then taken
// from it and directory.json, and written as accepted with the next
// directory accepted.
//
// Nothing else is kept: not the API key, not the issuer's address, no time
// of issuance or use, but for the time each receipt was received, which
// decides when its missing log proof becomes evidence. "wallet show" writes the QR code's PNG next to the
// directory, not in it (DefaultPNG).
const (
	TokensFile    = "tokens.json"
	DirectoryFile = "directory.json"
	SignatureFile = "directory.sig"
	ProofFile     = "directory.proof"
	AcceptedFile  = "accepted"
	TrustFile     = "trust.txt"
	LockFile      = "lock"
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

// Store is an opened wallet state directory. An existing one is locked
// from Open or Create until Close: every read-modify-write of the state
// happens under the lock, so commands run in parallel, in one process or
// several, never give out a token twice nor lose one.
type Store struct {
	dir     string
	missing bool // dir does not exist yet: create it before writing
	entries []entry
	lock    *os.File // holds the state's lock; nil while missing
	disk    disk
	wait    func() // called when another command holds the lock
}

// ErrNoState is wrapped by the error of Open for a state directory that
// does not exist.
var ErrNoState = errors.New("no wallet state")

// Open opens and locks the existing wallet state in dir, creating
// nothing: a missing dir gives an error wrapping ErrNoState (and
// fs.ErrNotExist). The directory must be a directory of mode 0700 (no
// access for others), its tokens file one of mode 0600. Close releases
// the lock.
func Open(dir string) (*Store, error) {
	return openState(dir, nil)
}

func openState(dir string, e *Env) (*Store, error) {
	s, err := open(dir, e)
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
	s, err := open(dir, nil)
	if err != nil {
		return nil, err
	}
	if err := s.ensure(); err != nil {
		return nil, err
	}
	return s, nil
}

// Close releases the state's lock.
func (s *Store) Close() error {
	if s.lock == nil {
		return nil
	}
	err := s.lock.Close()
	s.lock = nil
	return err
}

type noStateError struct{ dir string }

func (e noStateError) Error() string {
	return fmt.Sprintf("no wallet state in %s: run 'wallet request' first", e.dir)
}

func (e noStateError) Is(target error) bool {
	return target == ErrNoState || target == fs.ErrNotExist
}

// open opens and locks dir, or returns an empty Store marked missing
// when dir does not exist; it creates nothing. e, when not nil, gives
// the disk and says on its Stderr when the wallet waits for the lock.
func open(dir string, e *Env) (*Store, error) {
	s := &Store{dir: dir, disk: osDisk{}}
	if e != nil {
		if e.disk != nil {
			s.disk = e.disk
		}
		s.wait = func() {
			fmt.Fprintf(e.Stderr, "wallet: waiting for another wallet command to finish with %s\n", dir)
		}
	}
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
	if err := s.lockAndLoad(); err != nil {
		return nil, err
	}
	return s, nil
}

// lockAndLoad locks the existing state directory and reads its tokens.
func (s *Store) lockAndLoad() error {
	f, err := os.OpenFile(filepath.Join(s.dir, LockFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	if err := lockFile(f, s.wait); err != nil {
		f.Close()
		return fmt.Errorf("locking %s: %w", f.Name(), err)
	}
	s.lock = f
	if err := s.load(); err != nil {
		s.Close()
		return err
	}
	return nil
}

// load reads the tokens file.
func (s *Store) load() error {
	s.entries = nil
	name := filepath.Join(s.dir, TokensFile)
	data, err := files.ReadPrivate(name, maxTokensFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var f tokenFile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return fmt.Errorf("%s: %v", name, err)
	}
	if f.Version != tokensFileFormat {
		return fmt.Errorf("%s: unknown format version %d", name, f.Version)
	}
	for i, st := range f.Tokens {
		t, err := token.ParseBase64(st.Token)
		if err != nil {
			return fmt.Errorf("%s: token %d: %v", name, i+1, err)
		}
		s.entries = append(s.entries, entry{tok: t, used: st.Used})
	}
	return nil
}

// ensure creates the state directory if it is missing, and locks it.
func (s *Store) ensure() error {
	if !s.missing {
		return nil
	}
	if err := files.EnsurePrivateDir(s.dir); err != nil {
		return err
	}
	s.missing = false
	return s.lockAndLoad()
}

// Dir returns the state directory.
func (s *Store) Dir() string { return s.dir }

// Save writes the tokens file, leaving out the tokens expired at now.
func (s *Store) Save(now time.Time) error {
	if err := s.ensure(); err != nil {
		return err
	}
	data, kept, err := s.marshal(now)
	if err != nil {
		return err
	}
	if err := s.writeAtomic(TokensFile, data); err != nil {
		return err
	}
	s.entries = kept
	return nil
}

// saveReserved writes the tokens file, as Save, into r.
func (s *Store) saveReserved(r *reserved, now time.Time) error {
	data, kept, err := s.marshal(now)
	if err != nil {
		r.discard()
		return err
	}
	if err := r.commit(s.dir, TokensFile, data); err != nil {
		return err
	}
	s.entries = kept
	return nil
}

// marshal returns the tokens file of the tokens live at now, and those
// tokens.
func (s *Store) marshal(now time.Time) ([]byte, []entry, error) {
	f := tokenFile{Version: tokensFileFormat, Tokens: []storedToken{}}
	var kept []entry
	for _, e := range s.entries {
		if !live(e.tok, now) {
			continue
		}
		b, err := e.tok.Base64()
		if err != nil {
			return nil, nil, err
		}
		f.Tokens = append(f.Tokens, storedToken{Token: b, Used: e.used})
		kept = append(kept, e)
	}
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return nil, nil, err
	}
	return append(data, '\n'), kept, nil
}

// reserveTokens reserves room for the tokens file with n more tokens,
// each as long as a token can be.
func (s *Store) reserveTokens(n int) (*reserved, error) {
	if err := s.ensure(); err != nil {
		return nil, err
	}
	f := tokenFile{Version: tokensFileFormat, Tokens: []storedToken{}}
	for _, e := range s.entries {
		b, err := e.tok.Base64()
		if err != nil {
			return nil, err
		}
		f.Tokens = append(f.Tokens, storedToken{Token: b, Used: false})
	}
	for range n {
		f.Tokens = append(f.Tokens, storedToken{Token: strings.Repeat("A", token.MaxBase64Size)})
	}
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return nil, err
	}
	return s.reserve(TokensFile, int64(len(data))+1)
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

// take marks up to n unused tokens valid at now as used and returns
// them, those expiring first first. Tokens of an epoch that has not begun
// under d (requested late in the epoch before) wait for it.
func (s *Store) take(n int, now time.Time, d *token.Directory) []*token.Token {
	var out []*token.Token
	for len(out) < n {
		best := -1
		for i, e := range s.entries {
			if e.used || !live(e.tok, now) || notBefore(e.tok, d).After(now) {
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

// later counts the unused tokens of epochs that begin after now under d,
// and returns when the first begins.
func (s *Store) later(now time.Time, d *token.Directory) (time.Time, int) {
	var first time.Time
	n := 0
	for _, e := range s.entries {
		if from := notBefore(e.tok, d); !e.used && from.After(now) {
			if n == 0 || from.Before(first) {
				first = from
			}
			n++
		}
	}
	return first, n
}

// unused counts the unused, unexpired tokens.
func (s *Store) unused(now time.Time) int { return s.count(now).unused }

// statusName names a token's status from the saved directory d, or by
// its code when there is none.
func statusName(d *token.Directory, st token.Status) string {
	if name, ok := d.StatusName(st); ok {
		return name
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
	data, err := files.ReadLimited(filepath.Join(s.dir, DirectoryFile), token.MaxDirectorySize)
	if errors.Is(err, fs.ErrNotExist) {
		return token.Accepted{}, nil
	}
	if err != nil {
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

// StoreDirectory keeps an accepted directory, the accepted state and the
// trust policy it was accepted under, creating the state directory if it
// is missing. The directory goes first: a wallet stopped in between has
// the new directory and the old accepted state, which every later
// directory still extends. An older wallet's checkpoint file, replaced by
// the accepted file, is removed.
func (s *Store) StoreDirectory(p token.Published, acc token.Accepted, trust *token.Trust) error {
	if err := s.ensure(); err != nil {
		return err
	}
	text, err := acc.MarshalText()
	if err != nil {
		return err
	}
	policy, err := trust.MarshalText()
	if err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		data []byte
	}{{TrustFile, policy}, {SignatureFile, p.Signature}, {ProofFile, p.Proof}, {DirectoryFile, p.Directory}, {AcceptedFile, text}} {
		if err := s.writeAtomic(f.name, f.data); err != nil {
			return err
		}
	}
	if err := os.Remove(filepath.Join(s.dir, LegacyCheckpointFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// ErrDamaged is wrapped by the error for a saved directory, signature,
// log proof or trust policy copy in the state directory that is
// unreadable or does not check: damaged here, not sent so by the issuer.
var ErrDamaged = errors.New("wallet state damaged")

// damagedError names the saved files at fault and what is wrong.
type damagedError struct {
	msg string
	err error
}

// damaged says that the saved files (what) are damaged, and why.
func damaged(what, why string, err error) error {
	return &damagedError{fmt.Sprintf("the saved %s damaged (%s): run 'wallet update' to fetch the directory again", what, why), err}
}

func (e *damagedError) Error() string { return e.msg }

func (e *damagedError) Unwrap() []error { return []error{ErrDamaged, e.err} }

// saved loads the directory the wallet saved and checks it as a scanner
// does, under the saved copy of the trust policy: the root signature,
// the directory rules, the log proof with its witnesses' cosignatures,
// and the accepted state, which it must equal or extend. Freshness is
// checked at the time of the accepted checkpoint: a directory that was
// fresh when accepted still names the statuses of tokens issued under
// it. It returns nil when the wallet has saved no directory.
func (s *Store) saved(now time.Time) (*token.Directory, error) {
	if s.missing {
		return nil, nil
	}
	path := func(name string) string { return filepath.Join(s.dir, name) }
	data, err := files.ReadLimited(path(DirectoryFile), token.MaxDirectorySize)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, damaged("directory file "+path(DirectoryFile)+" is", err.Error(), err)
	}
	read := func(name string, limit int64) []byte {
		b, rerr := files.ReadLimited(path(name), limit)
		if rerr != nil && err == nil {
			err = damaged("file "+path(name)+" is", rerr.Error(), rerr)
		}
		return b
	}
	policy, err := files.ReadLimited(path(TrustFile), token.MaxTrustSize)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, &damagedError{"the directory saved in " + s.dir + " by an older wallet has no copy of the trust policy to check it under: run 'wallet update'", ErrDamaged}
	}
	if err != nil {
		return nil, damaged("file "+path(TrustFile)+" is", err.Error(), err)
	}
	pub := token.Published{Directory: data, Signature: read(SignatureFile, token.DirectorySignatureSize), Proof: read(ProofFile, token.MaxProofSize)}
	if err != nil {
		return nil, err
	}
	trust, err := token.ParseTrust(policy)
	if err != nil {
		return nil, damaged("trust policy copy "+path(TrustFile)+" is", "it does not parse", err)
	}
	acc, err := s.accepted(trust)
	if err != nil {
		return nil, err
	}
	at := now
	if acc.Checkpoint != nil {
		at = acc.Checkpoint.Time()
	}
	d, _, err := token.Open(pub, trust, acc, at)
	if err == nil {
		return d, nil
	}
	var le *token.LoadError
	switch {
	case errors.Is(err, token.ErrDirectorySignature):
		return nil, damaged("directory file "+path(DirectoryFile)+" or its signature "+path(SignatureFile)+" is",
			"the signature does not verify", err)
	case errors.Is(err, token.ErrMalformedDirectory), errors.Is(err, token.ErrInvalidDirectory):
		return nil, damaged("directory file "+path(DirectoryFile)+" is", "it breaks the directory format", err)
	case errors.As(err, &le) && (le.Err == token.ErrRollback || le.Err == token.ErrStatusRenamed):
		return nil, damaged("directory file "+path(DirectoryFile)+" or the accepted state "+path(AcceptedFile)+" is",
			"they do not match", err)
	case errors.As(err, &le):
		return nil, damaged("log proof "+path(ProofFile)+" is", le.Detail, err)
	}
	return nil, damaged("directory files in "+s.dir+" are", err.Error(), err)
}
