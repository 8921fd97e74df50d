package scanner

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/statustoken/statustoken/examples/deploy/internal/files"
	"github.com/statustoken/statustoken/examples/deploy/redisstore"
)

// maxLostFile bounds the file of lost spends: redisstore.MaxLost of them,
// with room for a few IDs each.
const maxLostFile = redisstore.MaxLost * 256

// The spends whose answer Redis lost, and that the verifier refused, are
// kept from one run to the next in a JSON file named like the spent-token
// file with ".lost" added, under the same lock: a run takes them all at
// its start (so that no two runs release or reuse the same ones) and
// writes back those still to release when it closes.

// takeLost reads and empties the file of lost spends.
func takeLost(spentFile string) ([]redisstore.LostSpend, error) {
	var lost []redisstore.LostSpend
	err := withLock(spentFile, func() error {
		var err error
		if lost, err = readLost(spentFile + ".lost"); err != nil {
			return err
		}
		if len(lost) == 0 {
			return nil
		}
		return os.Remove(spentFile + ".lost")
	})
	return lost, err
}

// keepLost adds lost spends to the file.
func keepLost(spentFile string, lost []redisstore.LostSpend) error {
	if len(lost) == 0 {
		return nil
	}
	return withLock(spentFile, func() error {
		name := spentFile + ".lost"
		old, err := readLost(name)
		if err != nil {
			return err
		}
		data, err := json.Marshal(append(old, lost...))
		if err != nil {
			return err
		}
		return files.WriteAtomic(name, data, 0o600)
	})
}

func readLost(name string) ([]redisstore.LostSpend, error) {
	data, err := files.ReadLimited(name, maxLostFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var lost []redisstore.LostSpend
	if err := json.Unmarshal(data, &lost); err != nil {
		return nil, fmt.Errorf("%w: %s is not a list of lost spends (%v): move it aside", ErrSpentFileDamaged, name, err)
	}
	return lost, nil
}

// withLock runs fn holding the lock of the spent-token file.
func withLock(spentFile string, fn func() error) error {
	lock, err := os.OpenFile(spentFile+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := lockFile(lock); err != nil {
		return fmt.Errorf("locking %s: %w", lock.Name(), err)
	}
	defer unlockFile(lock)
	return fn()
}
