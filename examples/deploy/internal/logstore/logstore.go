// Package logstore keeps an issuer's two transparency logs on disk, each
// on Tessera (internal/tlog): the log of directories and the log of
// decisions (DESIGN.md, sections 10 and 11). For each log it keeps the
// note signer key, the Tessera log directory, the size of the last tree
// each witness cosigned and the last cosigned checkpoint; for the log of
// directories also an archive of every directory version logged (its
// exact bytes and root signature, for monitors).
//
// Within the issuer's state directory (mode 0700), for NAME "log" (the
// directories) and "decisions":
//
//	NAME.key                   the log's note signer key (0600)
//	NAME/tree/                 the log on Tessera's POSIX driver (c2sp.org/tlog-tiles)
//	NAME/witnesses             JSON: each witness's vkey and last cosigned size
//	NAME/checkpoint            the last checkpoint the witnesses cosigned
//	log/directory/N.json       the directory with serial N, exact bytes
//	log/directory/N.sig        its detached root signature
//
// Open checks the log against the last cosigned checkpoint before
// anything is appended: a log that lost entries the witnesses cosigned,
// or whose files hash to another tree, is refused (ErrDamaged,
// ErrRolledBack) with what to restore, because appending to it would
// fork the log, which the witnesses refuse for ever. Callers that keep a
// copy of the last cosigned checkpoint elsewhere check the store against
// it with Contains.
//
// A log of directories kept by earlier versions in a records file
// (log/records, 41 bytes a record) is moved into a Tessera log with the
// same tree at the first Open, and the file kept as records.migrated.
//
// A Store is safe for concurrent use.
package logstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"filippo.io/torchwood"
	"github.com/statustoken/statustoken/examples/deploy/internal/files"
	"github.com/statustoken/statustoken/examples/deploy/internal/tlog"
	"github.com/statustoken/statustoken/issue"
	"github.com/statustoken/statustoken/token"
)

// Names of the issuer's two logs, in its state directory.
const (
	// Directories is the log of directory records (token.LogRecord).
	Directories = "log"
	// Decisions is the log of decision records (token.DecisionRecord).
	Decisions = "decisions"
)

const (
	treeDir        = "tree"
	witnessesFile  = "witnesses"
	checkpointFile = "checkpoint"
	archiveDir     = "directory"

	maxKeyFile = 4096
	// maxDirectories bounds the directory records read at start: with
	// one directory an hour, over a century.
	maxDirectories = 1 << 20
	// openWait bounds the wait at Open for a checkpoint over what Tessera
	// integrated before a stop.
	openWait = 30 * time.Second
)

// Errors of Open and Contains. Both mean that appending to the log would
// fork it: restore the log from a backup instead.
var (
	// ErrDamaged: the log's files do not hash to the tree of a signed or
	// cosigned checkpoint, or are missing or cut.
	ErrDamaged = errors.New("logstore: log damaged")
	// ErrRolledBack: the log holds fewer entries than a cosigned
	// checkpoint: it is older than what the witnesses cosigned.
	ErrRolledBack = errors.New("logstore: log older than its cosigned checkpoint")
)

// Store is an opened log.
type Store struct {
	dir  string // the issuer's state directory
	name string
	log  *tlog.Log

	mu        sync.Mutex
	serials   map[uint64]int64 // directory serial -> index in the log
	witnesses map[string]int64 // witness vkey -> last cosigned size

	// Created reports that Open made a new log key.
	Created bool
}

// Open opens the log name (Directories or Decisions) in the issuer's
// state directory dir, creating dir (mode 0700) when needed. Without a
// key for the log there, it creates one whose checkpoints name origin.
// With one, origin must be its origin, or empty. opts are the log's
// Tessera options; Open sets their Cosigned to the last cosigned
// checkpoint it keeps.
func Open(dir, name, origin string, opts *tlog.Options) (*Store, error) {
	if name != Directories && name != Decisions {
		panic("logstore: unknown log " + name)
	}
	if err := files.EnsurePrivateDir(dir); err != nil {
		return nil, err
	}
	s := &Store{dir: dir, name: name, serials: make(map[uint64]int64), witnesses: make(map[string]int64)}
	dirs := []string{s.path()}
	if name == Directories {
		dirs = append(dirs, s.path(archiveDir))
	}
	for _, d := range dirs {
		if err := files.EnsurePrivateDir(d); err != nil {
			return nil, err
		}
	}
	skey, created, err := loadKey(filepath.Join(dir, name+".key"), origin)
	if err != nil {
		return nil, err
	}
	s.Created = created
	cp, err := s.Checkpoint()
	if err != nil {
		return nil, err
	}
	o := tlog.Options{}
	if opts != nil {
		o = *opts
	}
	o.Cosigned = cp
	ctx, cancel := context.WithTimeout(context.Background(), openWait)
	defer cancel()
	if name == Directories {
		if err := s.migrate(skey, cp); err != nil {
			return nil, err
		}
	}
	l, err := tlog.Open(ctx, s.path(treeDir), skey, &o)
	switch {
	case errors.Is(err, tlog.ErrRollback):
		return nil, fmt.Errorf("%w: %w. The witnesses cosigned more of the log than %s holds: restore %s from a backup at least as new as %s; never start the log again, the witnesses refuse a fork",
			ErrRolledBack, err, s.path(treeDir), s.path(), s.path(checkpointFile))
	case errors.Is(err, tlog.ErrRequest):
		return nil, fmt.Errorf("%w: %s is not a checkpoint of this log (%v): restore it from a backup, or delete it to trust the log as it is",
			ErrDamaged, s.path(checkpointFile), err)
	case errors.Is(err, tlog.ErrDamaged):
		return nil, fmt.Errorf("%w: %w. Restore %s from a backup; never start the log again from what is left, the witnesses refuse a fork",
			ErrDamaged, err, s.path(treeDir))
	case err != nil:
		return nil, err
	}
	s.log = l
	ok := false
	defer func() {
		if !ok {
			l.Close(context.Background())
		}
	}()
	// Entries integrated before a stop but not yet under a checkpoint:
	// wait for Tessera to publish one over them.
	if _, err := l.AwaitCheckpoint(ctx, l.OpenSize()); err != nil {
		return nil, err
	}
	if name == Directories {
		if err := s.loadSerials(ctx); err != nil {
			return nil, err
		}
	}
	if err := s.loadWitnesses(); err != nil {
		return nil, err
	}
	ok = true
	return s, nil
}

// oldRecords is the records file of the log of directories before it
// ran on Tessera: its records, token.LogRecordSize bytes each, in order.
const oldRecords = "records"

// migrate moves the records of a log of directories kept in the records
// file of earlier versions into a new Tessera log, in the same order, so
// that the tree, and every checkpoint the witnesses cosigned, stays the
// same; cp, the last cosigned checkpoint, must be a checkpoint of the
// new tree. The records file is then kept as records.migrated. A records
// file beside a Tessera log is refused: one of the two is left over.
func (s *Store) migrate(skey string, cp []byte) error {
	name := s.path(oldRecords)
	data, err := files.ReadPrivate(name, maxDirectories*token.LogRecordSize)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if _, err := os.Lstat(s.path(treeDir)); err == nil {
		return fmt.Errorf("%w: %s and the log on Tessera in %s are both there: remove the records file if the log was migrated, else restore %s from a backup",
			ErrDamaged, name, s.path(treeDir), s.path())
	}
	// A record cut short was never cosigned (the old store dropped it).
	data = data[:len(data)-len(data)%token.LogRecordSize]
	tmp := s.path(treeDir + ".migrating")
	if err := os.RemoveAll(tmp); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	l, err := tlog.Open(ctx, tmp, skey, nil)
	if err != nil {
		return fmt.Errorf("migrating %s: %w", name, err)
	}
	// One record an Append, so that the order stays the records file's.
	for i := 0; i < len(data); i += token.LogRecordSize {
		if _, err := l.Append(ctx, [][]byte{data[i : i+token.LogRecordSize]}); err != nil {
			l.Close(ctx)
			return fmt.Errorf("migrating %s: %w", name, err)
		}
	}
	if _, err := l.AwaitCheckpoint(ctx, int64(len(data)/token.LogRecordSize)); err != nil {
		l.Close(ctx)
		return fmt.Errorf("migrating %s: %w", name, err)
	}
	if err := l.Close(ctx); err != nil {
		return err
	}
	if cp != nil {
		// Open refuses a tree whose root at the checkpoint's size differs.
		l, err := tlog.Open(ctx, tmp, skey, &tlog.Options{Cosigned: cp})
		if err != nil {
			return fmt.Errorf("%w: the records of %s do not make the tree the witnesses cosigned (%v): restore %s from a backup", ErrDamaged, name, err, s.path())
		}
		if err := l.Close(ctx); err != nil {
			return err
		}
	}
	if err := os.Rename(tmp, s.path(treeDir)); err != nil {
		return err
	}
	return os.Rename(name, name+".migrated")
}

// loadSerials reads the directory records and indexes them by serial.
func (s *Store) loadSerials(ctx context.Context) error {
	n, err := s.log.Size()
	if err != nil {
		return err
	}
	if n > maxDirectories {
		return fmt.Errorf("%s holds more than %d directory records", s.path(treeDir), maxDirectories)
	}
	for i := range n {
		record, err := s.log.Entry(ctx, i)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrDamaged, err)
		}
		serial, _, err := token.ParseLogRecord(record)
		if err != nil {
			return fmt.Errorf("%w: entry %d of %s is not a directory record: restore %s from a backup", ErrDamaged, i, s.path(treeDir), s.path(treeDir))
		}
		s.serials[serial] = i
	}
	return nil
}

// Origin returns the origin of the log name in the state directory dir,
// from its key, or "" when there is none.
func Origin(dir, name string) (string, error) {
	data, err := files.ReadPrivate(filepath.Join(dir, name+".key"), maxKeyFile)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return keyOrigin(strings.TrimSpace(string(data)))
}

// keyOrigin returns the name of a note signer key,
// "PRIVATE+KEY+<name>+<hash>+<key>".
func keyOrigin(skey string) (string, error) {
	parts := strings.SplitN(skey, "+", 5)
	if len(parts) != 5 || parts[0] != "PRIVATE" || parts[1] != "KEY" || parts[2] == "" {
		return "", errors.New("not a note signer key")
	}
	return parts[2], nil
}

func loadKey(name, origin string) (skey string, created bool, err error) {
	data, err := files.ReadPrivate(name, maxKeyFile)
	if errors.Is(err, fs.ErrNotExist) {
		if origin == "" {
			return "", false, fmt.Errorf("%s does not exist and no log origin was given", name)
		}
		skey, _, err := issue.GenerateLogKey(origin)
		if err != nil {
			return "", false, err
		}
		if err := files.WriteNew(name, []byte(skey+"\n")); err != nil {
			return "", false, err
		}
		return skey, true, nil
	}
	if err != nil {
		return "", false, err
	}
	skey = strings.TrimSpace(string(data))
	have, err := keyOrigin(skey)
	if err != nil {
		return "", false, fmt.Errorf("%s: %v", name, err)
	}
	if origin != "" && have != origin {
		return "", false, fmt.Errorf("%s is the key of the log %q, not %q: a log's origin never changes (give -log-origin %s, or use a new state directory for a new log)", name, have, origin, have)
	}
	return skey, false, nil
}

func (s *Store) path(elem ...string) string {
	return filepath.Join(append([]string{s.dir, s.name}, elem...)...)
}

// checkpointSize returns the tree size of a checkpoint note.
func checkpointSize(cp []byte) (int64, error) {
	text, _, _ := bytes.Cut(cp, []byte("\n\n"))
	c, err := torchwood.ParseCheckpoint(string(text) + "\n")
	if err != nil {
		return 0, errors.New("not a checkpoint")
	}
	return c.N, nil
}

// Contains checks that the log holds the tree of cp, a checkpoint of this
// log that the witnesses cosigned (kept by the caller, or saved in the
// store): an error wrapping ErrRolledBack when the log has fewer entries,
// or ErrDamaged when its files hash to another tree. The error says what
// to restore.
func (s *Store) Contains(cp []byte) error {
	n, err := checkpointSize(cp)
	if err != nil {
		return fmt.Errorf("%w: the cosigned checkpoint to check the log against: %v", ErrDamaged, err)
	}
	size, err := s.log.Size()
	if err != nil {
		return fmt.Errorf("%w: %w", ErrDamaged, err)
	}
	switch {
	case n > size:
		return fmt.Errorf("%w: %s holds %d records, but the witnesses cosigned a tree of %d: the log was restored from an old copy, or lost records. Restore %s from a backup that holds at least %d records (or the newest you have, with its %s); never start the log again, the witnesses refuse a fork",
			ErrRolledBack, s.path(treeDir), size, n, s.path(), n, checkpointFile)
	case n == 0:
		return nil
	}
	if _, err := s.log.Proof(context.Background(), n-1, cp); err != nil {
		return fmt.Errorf("%w: the first %d records of %s do not hash to the tree the witnesses cosigned (%v). Restore %s from a backup; never start the log again, the witnesses refuse a fork",
			ErrDamaged, n, s.path(treeDir), err, s.path())
	}
	return nil
}

// Close waits until every entry appended is under a checkpoint (for at
// most ten seconds) and stops the log.
func (s *Store) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return s.log.Close(ctx)
}

// Dir returns the directory of the log's files, NAME in the state
// directory.
func (s *Store) Dir() string { return s.path() }

// Log returns the log.
func (s *Store) Log() *tlog.Log { return s.log }

// Size returns the size of the tree of the log's latest checkpoint; 0
// when it cannot be read.
func (s *Store) Size() int64 {
	n, err := s.log.Size()
	if err != nil {
		return 0
	}
	return n
}

// Append archives a directory version (its exact bytes data and root
// signature sig), appends its record to the log of directories, waits
// for a checkpoint over it and returns its index. Serials are unique in
// the log.
func (s *Store) Append(ctx context.Context, data, sig []byte) (int64, error) {
	if s.name != Directories {
		return 0, errors.New("logstore: directories go into the log of directories")
	}
	record, err := token.LogRecord(data)
	if err != nil {
		return 0, err
	}
	serial, _, _ := token.ParseLogRecord(record)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.serials[serial]; ok {
		return 0, fmt.Errorf("serial %d is already in the log", serial)
	}
	base := strconv.FormatUint(serial, 10)
	if err := files.WriteAtomic(s.path(archiveDir, base+".sig"), sig, 0o600); err != nil {
		return 0, err
	}
	if err := files.WriteAtomic(s.path(archiveDir, base+".json"), data, 0o600); err != nil {
		return 0, err
	}
	idx, err := s.log.Append(ctx, [][]byte{record})
	if err != nil {
		return 0, err
	}
	if _, err := s.log.AwaitCheckpoint(ctx, idx[0]+1); err != nil {
		return 0, err
	}
	s.serials[serial] = idx[0]
	return idx[0], nil
}

// Index returns the index in the log of the directory with serial.
func (s *Store) Index(serial uint64) (int64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i, ok := s.serials[serial]
	return i, ok
}

// Last returns the serial and index of the last record of the log of
// directories; ok is false for an empty log.
func (s *Store) Last() (serial uint64, index int64, ok bool) {
	n := s.Size()
	if n == 0 {
		return 0, 0, false
	}
	record, err := s.log.Entry(context.Background(), n-1)
	if err != nil {
		return 0, 0, false
	}
	serial, _, err = token.ParseLogRecord(record)
	if err != nil {
		return 0, 0, false
	}
	return serial, n - 1, true
}

// Archived returns the logged directory with serial and its signature;
// an error wrapping fs.ErrNotExist when the log has none, or ErrDamaged
// when the archived bytes do not hash to the directory's record.
func (s *Store) Archived(serial uint64) (data, sig []byte, err error) {
	i, ok := s.Index(serial)
	if !ok {
		return nil, nil, fmt.Errorf("no directory with serial %d in the log: %w", serial, fs.ErrNotExist)
	}
	record, err := s.log.Entry(context.Background(), i)
	if err != nil {
		return nil, nil, err
	}
	_, sum, err := token.ParseLogRecord(record)
	if err != nil {
		return nil, nil, err
	}
	base := strconv.FormatUint(serial, 10)
	if data, err = files.ReadLimited(s.path(archiveDir, base+".json"), token.MaxDirectorySize); err != nil {
		return nil, nil, err
	}
	if sha256.Sum256(data) != sum {
		return nil, nil, fmt.Errorf("%w: %s does not hash to its record in the log: restore it from a backup", ErrDamaged, s.path(archiveDir, base+".json"))
	}
	if sig, err = files.ReadLimited(s.path(archiveDir, base+".sig"), token.DirectorySignatureSize); err != nil {
		return nil, nil, err
	}
	return data, sig, nil
}

// witnessState is the JSON form of the witnesses file.
type witnessState struct {
	Witnesses []witnessSize `json:"witnesses"`
}

type witnessSize struct {
	VerifierKey string `json:"vkey"`
	Size        int64  `json:"size"`
}

func (s *Store) loadWitnesses() error {
	name := s.path(witnessesFile)
	data, err := files.ReadPrivate(name, 1<<20)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var st witnessState
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&st); err != nil {
		return fmt.Errorf("%s: %v", name, err)
	}
	size := s.Size()
	for _, w := range st.Witnesses {
		if w.Size < 0 || w.Size > size {
			// A size beyond the log is wrong; start again from the
			// witness's own word (a 409).
			continue
		}
		s.witnesses[w.VerifierKey] = w.Size
	}
	return nil
}

// WitnessSize returns the size of the last tree of this log that the
// witness with the cosignature key vkey cosigned, as far as the store
// knows; 0 for a witness it has not heard of.
func (s *Store) WitnessSize(vkey string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.witnesses[vkey]
}

// SetWitnessSizes records, for each witness vkey in sizes, the size of
// the last tree it cosigned, and saves them all.
func (s *Store) SetWitnessSizes(sizes map[string]int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, n := range sizes {
		s.witnesses[k] = n
	}
	st := witnessState{Witnesses: []witnessSize{}}
	for k, n := range s.witnesses {
		st.Witnesses = append(st.Witnesses, witnessSize{k, n})
	}
	// A stable order keeps the file readable and its diffs small.
	slices.SortFunc(st.Witnesses, func(a, b witnessSize) int { return strings.Compare(a.VerifierKey, b.VerifierKey) })
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	return files.WriteAtomic(s.path(witnessesFile), append(data, '\n'), 0o600)
}

// SaveCheckpoint stores the last cosigned checkpoint.
func (s *Store) SaveCheckpoint(cosigned []byte) error {
	return files.WriteAtomic(s.path(checkpointFile), cosigned, 0o600)
}

// Checkpoint returns the last cosigned checkpoint saved, or nil.
func (s *Store) Checkpoint() ([]byte, error) {
	data, err := files.ReadPrivate(s.path(checkpointFile), token.MaxProofSize)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return data, err
}
