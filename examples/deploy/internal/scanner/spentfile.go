package scanner

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"sync"
	"time"

	"github.com/statustoken/statustoken/examples/deploy/internal/files"
	"github.com/statustoken/statustoken/token"
	"github.com/statustoken/statustoken/verify"
)

// ErrSpentFileDamaged is wrapped by the errors of a spent-token file that
// is not one this scanner wrote, or was changed since.
var ErrSpentFileDamaged = errors.New("spent-token file damaged")

// The spent-token file: a header, then one record per token accepted,
// appended under an exclusive lock (flock) of the file named like it
// with ".lock" added, which every scanner process using the file takes
// for each token:
//
//	header  "statustoken spent v1\n"
//	record  key_id[8] nonce[32] until[8] (Unix seconds, big-endian)
//	        crc32c[4] (Castagnoli, of the 48 bytes before it)
//
// A record is dropped once until has passed: the token's expiry plus the
// skew, after which it cannot verify anyway. When the file holds more
// such records than live ones, it is rewritten (atomically: a new file
// renamed over it) with the live ones only, so it is bounded by the
// tokens of the epochs it covers.
const (
	spentHeader = "statustoken spent v1\n"
	recordSize  = 8 + 32 + 8 + 4
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// spentFile is a verify.SpentStore kept in a local file: it survives the
// scanner's restarts (one process per scan, as a QR reader piping each
// code into the command runs it), and scanner processes on one machine
// share it. It does not sync each record to disk: a machine that crashes
// may lose the last tokens recorded, a process that exits does not.
type spentFile struct {
	name  string
	limit int
	now   func() time.Time

	mu   sync.Mutex
	lock *os.File
	f    *os.File
	fi   os.FileInfo // of f, to see that another process replaced it
	off  int64       // the bytes of f read
	seen map[tokenKey]int64
	dead int // records in the file that have expired
	// pruned is when seen was last rid of expired tokens.
	pruned int64
}

var _ verify.SpentStore = (*spentFile)(nil)

// openSpentFile opens, or creates, the spent-token file name and reads
// it. It remembers at most limit tokens at a time.
func openSpentFile(name string, limit int, now func() time.Time) (*spentFile, error) {
	if limit <= 0 {
		limit = verify.DefaultSpentLimit
	}
	lock, err := os.OpenFile(name+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	sf := &spentFile{name: name, limit: limit, now: now, lock: lock}
	err = sf.locked(func() error {
		if err := sf.reopen(); err != nil {
			return err
		}
		return sf.compact()
	})
	if err != nil {
		sf.Close()
		return nil, err
	}
	return sf, nil
}

// Close closes the file.
func (sf *spentFile) Close() error {
	if sf.f != nil {
		sf.f.Close()
	}
	return sf.lock.Close()
}

// locked runs fn holding the file lock, which also keeps out other
// scanner processes.
func (sf *spentFile) locked(fn func() error) error {
	sf.mu.Lock()
	defer sf.mu.Unlock()
	if err := lockFile(sf.lock); err != nil {
		return fmt.Errorf("locking %s: %w", sf.lock.Name(), err)
	}
	defer unlockFile(sf.lock)
	return fn()
}

// Spend implements verify.SpentStore: it refuses a token the file holds,
// and appends any other.
func (sf *spentFile) Spend(_ context.Context, id token.KeyID, nonce token.Nonce, until time.Time) error {
	return sf.locked(func() error {
		if err := sf.catchUp(); err != nil {
			return err
		}
		now := sf.now().Unix()
		k := tokenKey{id, nonce}
		if u, ok := sf.seen[k]; ok && u > now {
			return errSeenHere
		}
		u := until.Unix()
		if u <= now {
			// As verify.MemoryStore: the verifier's clock said the token
			// could verify; remember it for a while anyway.
			u = now + token.MinEpochLength
		}
		if len(sf.seen) >= sf.limit {
			sf.prune(now)
			if len(sf.seen) >= sf.limit {
				return fmt.Errorf("%w: %d tokens in %s", verify.ErrStoreFull, len(sf.seen), sf.name)
			}
		}
		var rec [recordSize]byte
		copy(rec[:8], id[:])
		copy(rec[8:40], nonce[:])
		binary.BigEndian.PutUint64(rec[40:48], uint64(u))
		binary.BigEndian.PutUint32(rec[48:], crc32.Checksum(rec[:48], castagnoli))
		if _, err := sf.f.Write(rec[:]); err != nil {
			// Take back a partial record; the token is refused.
			sf.f.Truncate(sf.off)
			return fmt.Errorf("recording the token in %s: %w", sf.name, err)
		}
		sf.off += recordSize
		sf.seen[k] = u
		return sf.compact()
	})
}

// reopen opens the file, creating it with its header if it is missing,
// and reads it whole.
func (sf *spentFile) reopen() error {
	if sf.f != nil {
		sf.f.Close()
		sf.f = nil
	}
	f, err := os.OpenFile(sf.name, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	fi, err := f.Stat()
	if err == nil && fi.Size() == 0 {
		if _, err = f.WriteString(spentHeader); err == nil {
			fi, err = f.Stat()
		}
	}
	if err != nil {
		f.Close()
		return err
	}
	sf.f, sf.fi, sf.off, sf.dead = f, fi, 0, 0
	sf.seen = make(map[tokenKey]int64)
	return sf.catchUp()
}

// catchUp reads the records that other processes appended since the last
// read, or the whole file again if another process replaced it.
func (sf *spentFile) catchUp() error {
	fi, err := os.Stat(sf.name)
	if err != nil {
		return err
	}
	if !os.SameFile(fi, sf.fi) || fi.Size() < sf.off {
		return sf.reopen()
	}
	if fi.Size() == sf.off {
		return nil
	}
	r := io.NewSectionReader(sf.f, sf.off, fi.Size()-sf.off)
	if sf.off == 0 {
		var h [len(spentHeader)]byte
		if _, err := io.ReadFull(r, h[:]); err != nil || string(h[:]) != spentHeader {
			return sf.damaged(0, "it does not start as a spent-token file does")
		}
		sf.off = int64(len(spentHeader))
	}
	now := sf.now().Unix()
	var rec [recordSize]byte
	for {
		n, err := io.ReadFull(r, rec[:])
		if err == io.EOF {
			return nil
		}
		if err == io.ErrUnexpectedEOF {
			// A write cut short by a crash: no token was accepted with
			// it, so it is dropped.
			return sf.f.Truncate(sf.off)
		}
		if err != nil {
			return err
		}
		if crc32.Checksum(rec[:48], castagnoli) != binary.BigEndian.Uint32(rec[48:]) {
			return sf.damaged(sf.off, "a record fails its checksum")
		}
		sf.off += int64(n)
		u := int64(binary.BigEndian.Uint64(rec[40:48]))
		if u <= now {
			sf.dead++
			continue
		}
		var k tokenKey
		copy(k.id[:], rec[:8])
		copy(k.nonce[:], rec[8:40])
		if _, dup := sf.seen[k]; dup {
			sf.dead++
		}
		sf.seen[k] = max(u, sf.seen[k])
		if len(sf.seen) > sf.limit {
			return fmt.Errorf("%w: %s holds more than %d unexpired tokens", verify.ErrStoreFull, sf.name, sf.limit)
		}
	}
}

func (sf *spentFile) damaged(at int64, why string) error {
	return fmt.Errorf("%w: %s at byte %d (%s): move it aside; the tokens it held may then be accepted again until they expire",
		ErrSpentFileDamaged, sf.name, at, why)
}

// prune forgets the tokens that expired.
func (sf *spentFile) prune(now int64) {
	sf.pruned = now
	for k, u := range sf.seen {
		if u <= now {
			delete(sf.seen, k)
			sf.dead++
		}
	}
}

// compact rewrites the file with the live records only, once it holds
// more dead records than live ones (and at least 64). It looks for
// expired tokens at most once a minute.
func (sf *spentFile) compact() error {
	if now := sf.now().Unix(); now-sf.pruned >= 60 || now < sf.pruned {
		sf.prune(now)
	}
	if sf.dead < 64 || sf.dead < len(sf.seen) {
		return nil
	}
	data := make([]byte, 0, len(spentHeader)+len(sf.seen)*recordSize)
	data = append(data, spentHeader...)
	for k, u := range sf.seen {
		var rec [recordSize]byte
		copy(rec[:8], k.id[:])
		copy(rec[8:40], k.nonce[:])
		binary.BigEndian.PutUint64(rec[40:48], uint64(u))
		binary.BigEndian.PutUint32(rec[48:], crc32.Checksum(rec[:48], castagnoli))
		data = append(data, rec[:]...)
	}
	if err := files.WriteAtomic(sf.name, data, 0o600); err != nil {
		return fmt.Errorf("rewriting %s: %w", sf.name, err)
	}
	return sf.reopen()
}
