// Package logstore keeps an issuer's transparency log on disk: the log's
// note signer key, the append-only file of its records, an archive of
// every directory version logged (its exact bytes and root signature,
// for monitors), the size of the last tree each witness cosigned, and the
// last cosigned checkpoint.
//
// Within the issuer's state directory (mode 0700):
//
//	log.key                    the log's note signer key (0600)
//	log/records                the records, 41 bytes each, appended with fsync
//	log/witnesses              JSON: each witness's vkey and last cosigned size
//	log/checkpoint             the last checkpoint the witnesses cosigned
//	log/directory/N.json       the directory with serial N, exact bytes
//	log/directory/N.sig        its detached root signature
//
// Open checks the records against the last cosigned checkpoint before
// it changes anything: a records file that lost records the witnesses
// cosigned, or whose records hash to another tree, is refused
// (ErrDamaged, ErrRolledBack) with what to restore, because appending to
// it would fork the log, which the witnesses refuse for ever. Callers
// that keep a copy of the last cosigned checkpoint elsewhere check the
// store against it with Contains.
//
// A Store is safe for concurrent use.
package logstore

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"filippo.io/torchwood"
	"github.com/statustoken/statustoken/examples/deploy/internal/files"
	"github.com/statustoken/statustoken/issue"
	"github.com/statustoken/statustoken/token"
)

const (
	keyFile        = "log.key"
	logDir         = "log"
	recordsFile    = "records"
	witnessesFile  = "witnesses"
	checkpointFile = "checkpoint"
	archiveDir     = "directory"

	maxKeyFile = 4096
	// maxRecords bounds the records read at start: with one directory
	// an hour, over a century.
	maxRecords = 1 << 20
)

// Errors of Open and Contains. Both mean that appending to the log would
// fork it: restore the log from a backup instead.
var (
	// ErrDamaged: the records do not hash to the tree of a cosigned
	// checkpoint, or the records file was cut within a record that the
	// witnesses cosigned.
	ErrDamaged = errors.New("logstore: log damaged")
	// ErrRolledBack: the log holds fewer records than a cosigned
	// checkpoint: it is older than what the witnesses cosigned.
	ErrRolledBack = errors.New("logstore: log older than its cosigned checkpoint")
)

// Store is an opened log state.
type Store struct {
	dir  string // the issuer's state directory
	log  *issue.Log
	skey string

	mu        sync.Mutex
	records   *os.File
	serials   map[uint64]int64 // directory serial -> index in the log
	witnesses map[string]int64 // witness vkey -> last cosigned size

	// Created reports that Open made a new log key.
	Created bool
	// Repaired reports that Open dropped an incomplete record at the end
	// of the records file, one whose write never finished (and so was
	// never cosigned).
	Repaired bool
}

// Open opens the log state in the issuer's state directory dir (which
// must exist, mode 0700). Without a log key there, it creates one whose
// checkpoints name origin. With one, origin must be its origin, or empty.
func Open(dir, origin string) (*Store, error) {
	if err := files.EnsurePrivateDir(dir); err != nil {
		return nil, err
	}
	for _, d := range []string{filepath.Join(dir, logDir), filepath.Join(dir, logDir, archiveDir)} {
		if err := files.EnsurePrivateDir(d); err != nil {
			return nil, err
		}
	}
	s := &Store{dir: dir, serials: make(map[uint64]int64), witnesses: make(map[string]int64)}
	var err error
	if s.skey, s.Created, err = loadKey(filepath.Join(dir, keyFile), origin); err != nil {
		return nil, err
	}
	records, tail, err := s.openRecords()
	if err != nil {
		return nil, err
	}
	if s.log, err = issue.NewLog(s.skey, records); err != nil {
		s.records.Close()
		return nil, fmt.Errorf("%w: %s: %v", ErrDamaged, s.path(recordsFile), err)
	}
	if err := s.checkSaved(tail); err != nil {
		s.records.Close()
		return nil, err
	}
	if tail > 0 {
		// An incomplete record beyond every cosigned tree: a write that
		// never finished. Drop it.
		size := int64(len(records)) * token.LogRecordSize
		if err := s.records.Truncate(size); err != nil {
			s.records.Close()
			return nil, err
		}
		if err := s.records.Sync(); err != nil {
			s.records.Close()
			return nil, err
		}
		if _, err := s.records.Seek(size, io.SeekStart); err != nil {
			s.records.Close()
			return nil, err
		}
		s.Repaired = true
	}
	for i, r := range records {
		serial, _, _ := token.ParseLogRecord(r)
		s.serials[serial] = int64(i)
	}
	if err := s.loadWitnesses(); err != nil {
		s.records.Close()
		return nil, err
	}
	return s, nil
}

// Origin returns the log's origin, for an existing log key at dir, or ""
// when there is none.
func Origin(dir string) (string, error) {
	data, err := files.ReadPrivate(filepath.Join(dir, keyFile), maxKeyFile)
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
	return filepath.Join(append([]string{s.dir, logDir}, elem...)...)
}

// openRecords opens the records file for appending and reads its
// complete records; tail is the length of an incomplete record at its
// end, which the caller drops once it knows it was never cosigned.
func (s *Store) openRecords() (records [][]byte, tail int, err error) {
	name := s.path(recordsFile)
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, 0, err
	}
	fi, err := f.Stat()
	if err == nil && fi.Mode().Perm()&0o077 != 0 {
		err = fmt.Errorf("%s has mode %04o: chmod 600 %s", name, fi.Mode().Perm(), name)
	}
	if err == nil && fi.Size() > maxRecords*token.LogRecordSize {
		err = fmt.Errorf("%s holds more than %d records", name, maxRecords)
	}
	var data []byte
	if err == nil {
		data, err = io.ReadAll(f)
	}
	if err == nil {
		_, err = f.Seek(0, io.SeekEnd)
	}
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	s.records = f
	tail = len(data) % token.LogRecordSize
	data = data[:len(data)-tail]
	for len(data) > 0 {
		records = append(records, data[:token.LogRecordSize:token.LogRecordSize])
		data = data[token.LogRecordSize:]
	}
	return records, tail, nil
}

// checkSaved checks the records against the last cosigned checkpoint
// saved in the store; tail is the length of an incomplete record after
// them.
func (s *Store) checkSaved(tail int) error {
	cp, err := s.Checkpoint()
	if err != nil || cp == nil {
		return err
	}
	n, err := checkpointSize(cp)
	if err != nil {
		return fmt.Errorf("%w: %s: %v; restore it from a backup, or delete it to trust the records as they are",
			ErrDamaged, s.path(checkpointFile), err)
	}
	if tail > 0 && n > s.log.Size() {
		return fmt.Errorf("%w: %s is cut %d bytes into record %d, which the witnesses cosigned (the last cosigned checkpoint, %s, has %d records): restore %s from a backup that holds at least %d records; never start the log again, the witnesses refuse a fork",
			ErrDamaged, s.path(recordsFile), tail, s.log.Size(), s.path(checkpointFile), n, s.path(recordsFile), n)
	}
	return s.Contains(cp)
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
// store): an error wrapping ErrRolledBack when the log has fewer records,
// or ErrDamaged when its records hash to another tree. The error says
// what to restore.
func (s *Store) Contains(cp []byte) error {
	n, err := checkpointSize(cp)
	if err != nil {
		return fmt.Errorf("%w: the cosigned checkpoint to check the log against: %v", ErrDamaged, err)
	}
	size := s.log.Size()
	switch {
	case n > size:
		return fmt.Errorf("%w: %s holds %d records, but the witnesses cosigned a tree of %d: the log was restored from an old copy, or lost records. Restore %s from a backup that holds at least %d records (or the newest you have, with its %s); never start the log again, the witnesses refuse a fork",
			ErrRolledBack, s.path(recordsFile), size, n, s.path(), n, checkpointFile)
	case n == 0:
		return nil
	}
	if _, err := s.log.Proof(n-1, cp); err != nil {
		return fmt.Errorf("%w: the first %d records of %s do not hash to the tree the witnesses cosigned (%v): the records file is damaged. Restore %s from a backup; never start the log again, the witnesses refuse a fork",
			ErrDamaged, n, s.path(recordsFile), err, s.path(recordsFile))
	}
	return nil
}

// Close closes the records file.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.records.Close()
}

// Log returns the log.
func (s *Store) Log() *issue.Log { return s.log }

// Append archives a directory version (its exact bytes data and root
// signature sig), appends its record to the records file, synced, and to
// the log, and returns its index. Serials are unique in the log.
func (s *Store) Append(data, sig []byte) (int64, error) {
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
	if _, err := s.records.Write(record); err != nil {
		return 0, fmt.Errorf("appending to %s: %v", s.path(recordsFile), err)
	}
	if err := s.records.Sync(); err != nil {
		return 0, fmt.Errorf("syncing %s: %v", s.path(recordsFile), err)
	}
	i, err := s.log.AppendDirectory(data)
	if err != nil {
		return 0, err
	}
	s.serials[serial] = i
	return i, nil
}

// Index returns the index in the log of the directory with serial.
func (s *Store) Index(serial uint64) (int64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i, ok := s.serials[serial]
	return i, ok
}

// Last returns the serial and index of the log's last record; ok is false
// for an empty log.
func (s *Store) Last() (serial uint64, index int64, ok bool) {
	n := s.log.Size()
	if n == 0 {
		return 0, 0, false
	}
	record, err := s.log.Record(n - 1)
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
	if _, ok := s.Index(serial); !ok {
		return nil, nil, fmt.Errorf("no directory with serial %d in the log: %w", serial, fs.ErrNotExist)
	}
	i, _ := s.Index(serial)
	record, err := s.log.Record(i)
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
	for _, w := range st.Witnesses {
		if w.Size < 0 || w.Size > s.log.Size() {
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
