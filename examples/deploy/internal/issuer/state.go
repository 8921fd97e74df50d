package issuer

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/statustoken/statustoken/examples/deploy/internal/files"
	"github.com/statustoken/statustoken/issue"
	"github.com/statustoken/statustoken/token"
)

// The issuer's state directory holds:
//
//	root.key    the Ed25519 root key that signs directories (PKCS #8 PEM, 0600)
//	root.pub    its public key in base64, for wallets and scanners to pin
//	seed.key    the issuer seed (PEM, 0600)
//	decision.key the Ed25519 key that signs receipts (PKCS #8 PEM, 0600)
//	serial      the serial of the last directory served (0600)
//	cosigned    the last checkpoint a quorum of the witnesses cosigned, a
//	            copy kept outside log/ to tell a log restored from an old
//	            copy (0600)
//	ratelimit   the rate limiter's buckets (see limiter.go)
//	keys/       RSA issuing keys, one PEM file each (issue.FileKeyStore)
//	holders     the demo attester's API keys (see attester.go), by default
//	trust.txt   the trust policy that wallets and scanners pin (public)
//	log.key     the log's note signer key, and log/ the log on Tessera, the
//	log/        archive of the directories logged, the witnesses' tree
//	            sizes and the last cosigned checkpoint (internal/logstore)
//	decisions.key the decision log's note signer key, and decisions/ that
//	decisions/  log on Tessera, its witnesses' sizes and last cosigned
//	            checkpoint, and the queue and batch files of records not
//	            yet appended (decisions.go)
const (
	rootKeyFile  = "root.key"
	decisionFile = "decision.key"
	rootPubFile  = "root.pub"
	seedFile     = "seed.key"
	serialFile   = "serial"
	cosignedFile = "cosigned"
	keysDir      = "keys"
	holdersFile  = "holders"

	seedPEMType = "STATUSTOKEN ISSUER SEED"
	// maxSecretFile bounds what is read from a key, seed or serial file.
	maxSecretFile = 4096
)

// state is an opened state directory.
type state struct {
	dir  string
	root ed25519.PrivateKey
	seed []byte
	// decision signs receipts; decisionCreated reports that this start
	// made it.
	decision        ed25519.PrivateKey
	created         bool
	decisionCreated bool

	mu sync.Mutex
	// serial is the serial of the last directory served, as stored.
	serial uint64
}

// openState opens the state directory dir, creating a new root key and
// seed when it holds neither and create is set (the caller's log is
// empty). It refuses a directory or secret file that others may read.
func openState(dir string, create bool) (*state, error) {
	if err := files.EnsurePrivateDir(dir); err != nil {
		return nil, err
	}
	if err := files.EnsurePrivateDir(filepath.Join(dir, keysDir)); err != nil {
		return nil, err
	}
	st := &state{dir: dir}
	rootPath, seedPath := filepath.Join(dir, rootKeyFile), filepath.Join(dir, seedFile)
	_, rootErr := os.Lstat(rootPath)
	_, seedErr := os.Lstat(seedPath)
	switch {
	case errors.Is(rootErr, fs.ErrNotExist) && errors.Is(seedErr, fs.ErrNotExist) && !create:
		return nil, fmt.Errorf("%s holds neither %s nor %s, but its log holds directories they signed: restore both from a backup (a new root key would make every wallet and scanner refuse the issuer)", dir, rootKeyFile, seedFile)
	case errors.Is(rootErr, fs.ErrNotExist) && errors.Is(seedErr, fs.ErrNotExist):
		if err := st.create(); err != nil {
			return nil, err
		}
		st.created = true
	case errors.Is(rootErr, fs.ErrNotExist) || errors.Is(seedErr, fs.ErrNotExist):
		return nil, fmt.Errorf("%s holds only one of %s and %s: restore the missing file from a backup, or start with an empty state directory", dir, rootKeyFile, seedFile)
	default:
		if err := st.load(); err != nil {
			return nil, err
		}
	}
	if err := st.loadDecisionKey(create); err != nil {
		return nil, err
	}
	if err := st.readSerial(); err != nil {
		return nil, err
	}
	// root.pub is public and only informative: rewrite it if it is missing
	// or does not match the root key.
	want := rootPublicText(st.root.Public().(ed25519.PublicKey)) + "\n"
	if have, err := os.ReadFile(filepath.Join(dir, rootPubFile)); err != nil || string(have) != want {
		if err := files.WriteAtomic(filepath.Join(dir, rootPubFile), []byte(want), 0o644); err != nil {
			return nil, err
		}
	}
	return st, nil
}

// rootPublicText is the form in which the root public key is printed and
// pinned: standard base64 of its 32 bytes.
func rootPublicText(pub ed25519.PublicKey) string {
	return base64.StdEncoding.EncodeToString(pub)
}

func (st *state) create() error {
	_, root, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	seed := make([]byte, issue.SeedSize)
	if _, err := rand.Read(seed); err != nil {
		return err
	}
	der, err := x509.MarshalPKCS8PrivateKey(root)
	if err != nil {
		return err
	}
	if err := files.WriteNew(filepath.Join(st.dir, seedFile), pem.EncodeToMemory(&pem.Block{Type: seedPEMType, Bytes: seed})); err != nil {
		return err
	}
	if err := files.WriteNew(filepath.Join(st.dir, rootKeyFile), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})); err != nil {
		return err
	}
	st.root, st.seed = root, seed
	return nil
}

// loadDecisionKey reads the decision key, or makes one when there is
// none: written at once for a new state (create), else only by
// saveDecisionKey once the start's checks passed. checkPublished refuses
// a start whose key is not the one the last directory published lists.
func (st *state) loadDecisionKey(create bool) error {
	name := filepath.Join(st.dir, decisionFile)
	if _, err := os.Lstat(name); errors.Is(err, fs.ErrNotExist) {
		_, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return err
		}
		st.decision, st.decisionCreated = k, true
		if create {
			return st.saveDecisionKey()
		}
		return nil
	}
	block, err := readPEM(name, "PRIVATE KEY")
	if err != nil {
		return err
	}
	k, err := x509.ParsePKCS8PrivateKey(block)
	d, ok := k.(ed25519.PrivateKey)
	if err != nil || !ok {
		return fmt.Errorf("%s: not a PKCS #8 Ed25519 private key; restore it from a backup", name)
	}
	st.decision = d
	return nil
}

// saveDecisionKey writes a decision key that loadDecisionKey made.
func (st *state) saveDecisionKey() error {
	der, err := x509.MarshalPKCS8PrivateKey(st.decision)
	if err != nil {
		return err
	}
	return files.WriteNew(filepath.Join(st.dir, decisionFile), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

func (st *state) load() error {
	block, err := readPEM(filepath.Join(st.dir, rootKeyFile), "PRIVATE KEY")
	if err != nil {
		return err
	}
	k, err := x509.ParsePKCS8PrivateKey(block)
	if err != nil {
		return fmt.Errorf("%s: not a PKCS #8 private key: %v", filepath.Join(st.dir, rootKeyFile), err)
	}
	root, ok := k.(ed25519.PrivateKey)
	if !ok {
		return fmt.Errorf("%s: not an Ed25519 key", filepath.Join(st.dir, rootKeyFile))
	}
	seed, err := readPEM(filepath.Join(st.dir, seedFile), seedPEMType)
	if err != nil {
		return err
	}
	if len(seed) != issue.SeedSize {
		return fmt.Errorf("%s: seed of %s, want %d bytes", filepath.Join(st.dir, seedFile), plural(len(seed), "byte", "bytes"), issue.SeedSize)
	}
	st.root, st.seed = root, seed
	return nil
}

// readSerial reads the serial of the last directory served; 0 when none
// was.
func (st *state) readSerial() error {
	name := filepath.Join(st.dir, serialFile)
	data, err := files.ReadPrivate(name, maxSecretFile)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return err
	}
	last, err := strconv.ParseUint(strings.TrimSpace(string(data)), 10, 64)
	if err != nil {
		return fmt.Errorf("%s is not a decimal serial number; it must hold the serial of the last directory served", name)
	}
	st.serial = last
	return nil
}

// lastSerial returns the serial of the last directory served.
func (st *state) lastSerial() uint64 {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.serial
}

// served stores serial as that of the last directory served, when it is
// higher than the one stored, and checkpoint, the cosigned checkpoint
// that proves it, as the last one cosigned. Serials only increase, across
// restarts too. It is called only once the directory is logged, cosigned
// and served, so that a start that fails leaves the stored serial as it
// was.
func (st *state) served(serial uint64, checkpoint []byte) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	if err := files.WriteAtomic(filepath.Join(st.dir, cosignedFile), checkpoint, 0o600); err != nil {
		return err
	}
	if serial <= st.serial {
		return nil
	}
	if err := files.WriteAtomic(filepath.Join(st.dir, serialFile), []byte(strconv.FormatUint(serial, 10)+"\n"), 0o600); err != nil {
		return err
	}
	st.serial = serial
	return nil
}

// lastCosigned returns the last checkpoint stored by served, or nil.
func (st *state) lastCosigned() ([]byte, error) {
	data, err := files.ReadPrivate(filepath.Join(st.dir, cosignedFile), token.MaxProofSize)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return data, err
}

func readPEM(name, typ string) ([]byte, error) {
	data, err := files.ReadPrivate(name, maxSecretFile)
	if err != nil {
		return nil, err
	}
	block, rest := pem.Decode(data)
	if block == nil || block.Type != typ || len(bytes.TrimSpace(rest)) != 0 {
		return nil, fmt.Errorf("%s is not one PEM %q block", name, typ)
	}
	return block.Bytes, nil
}
