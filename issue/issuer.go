package issue

import (
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/statustoken/statustoken/internal/format"
	"github.com/statustoken/statustoken/internal/tokenmsg"
	"github.com/statustoken/statustoken/token"
)

// Errors of the issuer, each for a case a caller handles in its own way.
var (
	// ErrConfig: NewIssuer was given an unusable configuration, or an
	// Issuer was not made by NewIssuer. Fix the configuration.
	ErrConfig = errors.New("issue: invalid issuer configuration")
	// ErrMalformedRequest: a token request is not exactly one valid
	// encoding, or a blinded message in it is not in [1, n).
	// Refuse it as the holder's fault (HTTP 400).
	ErrMalformedRequest = errors.New("issue: malformed token request")
	// ErrNotIssuing: the issuer has no key for what was asked: a suite it
	// does not publish, a status it does not know, a request for a key
	// that is not among the current and upcoming epochs' keys, or a time
	// outside the token format's range. The holder should fetch the
	// current directory and ask again (HTTP 404 or 409).
	ErrNotIssuing = errors.New("issue: no key for this suite, status and epoch")
	// ErrStatusNotAssigned: a request is for another status than the one
	// the issuer's policy gave the holder (HTTP 403).
	ErrStatusNotAssigned = errors.New("issue: status not assigned to this holder")
	// ErrCount: the number of tokens asked of IssueEd25519 is outside
	// 1..MaxTokens, or a request to Respond asks for another number than
	// the directory's tokens_per_request (HTTP 400).
	ErrCount = errors.New("issue: token count out of range")
	// ErrSigning: the private operation failed its own check (s^e = m);
	// nothing was returned. It points at a hardware or memory fault:
	// alert the operator (HTTP 500).
	ErrSigning = errors.New("issue: signing failed its own check")
)

// MaxTokens bounds the tokens issued by one call or requested in one
// request.
const MaxTokens = format.MaxTokens

// SeedSize is the length of an issuer seed.
const SeedSize = 32

// DefaultEpochs is the number of epochs, the current one included, that a
// directory lists when Config.Epochs is zero.
const DefaultEpochs = 2

// Config configures an Issuer.
type Config struct {
	// RootKey signs directories. Wallets and scanners pin its public key.
	RootKey ed25519.PrivateKey
	// Seed is the secret from which every Ed25519 issuing key is derived
	// (SeedSize bytes, uniformly random, kept like a private key).
	Seed []byte
	// EpochLength is the length of every key's epoch, a whole number of
	// seconds from 1 hour to 7 days. Tokens expire at the end of the
	// epoch of their key.
	EpochLength time.Duration
	// MaxLifetime is published in the directory: verifiers refuse tokens
	// whose expiry is further ahead. EpochLength when zero; at most twice
	// EpochLength.
	MaxLifetime time.Duration
	// Statuses names the status codes the issuer can issue.
	Statuses []token.StatusName
	// Suites lists the suites the issuer publishes keys for. Ed25519
	// when empty. RSABSSA needs RSAKeys.
	Suites []token.Suite
	// Epochs is the number of epochs the directory lists, starting with
	// the current one. DefaultEpochs when zero.
	Epochs int
	// RSAKeys stores the issuer's RSABSSA private keys.
	RSAKeys KeyStore
	// TokensPerRequest, when nonzero, is published in the directory as
	// the one number of tokens a blind request may ask for (1 to
	// MaxTokens); Respond refuses every other count.
	TokensPerRequest int
	// DecisionKey, Reasons, DecisionLogKey and DecisionLogDelay are the
	// decision policy (token/SPEC.md, "Decisions"), all set or all
	// unset: the Ed25519 key that signs receipts (Decide), the reason
	// codes a decision may cite, the signed-note verifier key of the
	// decision log, whose origin differs from the directory log's, and
	// the longest time from a receipt to its record being in a cosigned
	// checkpoint of that log (whole seconds, from 1 minute to 1 day),
	// published as the directory's decision_log_delay.
	DecisionKey      ed25519.PrivateKey
	Reasons          []token.Reason
	DecisionLogKey   string
	DecisionLogDelay time.Duration
}

// Issuer holds an issuer's keys: it publishes the signed directory and
// signs tokens. It is safe for concurrent use.
type Issuer struct {
	root     ed25519.PrivateKey
	seed     []byte
	epoch    uint32
	lifetime uint32
	statuses []token.StatusName
	suites   []token.Suite
	epochs   int
	rsaKeys  KeyStore
	decision decisionPolicy

	mu  sync.Mutex
	ed  map[edKeyRef]ed25519.PrivateKey
	rsa map[KeyRef]rsaEntry
}

type edKeyRef struct {
	status    token.Status
	notBefore uint32
}

// NewIssuer checks cfg and returns an Issuer.
func NewIssuer(cfg Config) (*Issuer, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrConfig}, args...)...)
	}
	if len(cfg.RootKey) != ed25519.PrivateKeySize {
		return nil, bad("root key must be an ed25519.PrivateKey")
	}
	if len(cfg.Seed) != SeedSize {
		return nil, bad("seed must be %d bytes", SeedSize)
	}
	if cfg.EpochLength%time.Second != 0 || cfg.EpochLength < token.MinEpochLength*time.Second ||
		cfg.EpochLength > token.MaxEpochLength*time.Second {
		return nil, bad("epoch length %v: want whole seconds from 1h to 168h", cfg.EpochLength)
	}
	lifetime := cfg.MaxLifetime
	if lifetime == 0 {
		lifetime = cfg.EpochLength
	}
	if lifetime%time.Second != 0 || lifetime < cfg.EpochLength || lifetime > 2*cfg.EpochLength {
		return nil, bad("max lifetime %v: want whole seconds from one to two epoch lengths", lifetime)
	}
	suites := slices.Clone(cfg.Suites)
	if len(suites) == 0 {
		suites = []token.Suite{token.Ed25519}
	}
	slices.Sort(suites)
	suites = slices.Compact(suites)
	for _, s := range suites {
		if !s.Valid() {
			return nil, bad("unknown suite %d", uint8(s))
		}
		if s == token.RSABSSA && cfg.RSAKeys == nil {
			return nil, bad("the rsabssa suite needs an RSA key store")
		}
	}
	epochs := cfg.Epochs
	if epochs == 0 {
		epochs = DefaultEpochs
	}
	if epochs < 1 || epochs > 16 {
		return nil, bad("%d epochs: want 1 to 16", epochs)
	}
	if n := len(cfg.Statuses) * len(suites) * epochs; n > token.MaxDirectoryKeys {
		return nil, bad("%d statuses, %d suites and %d epochs make %d keys, more than a directory holds (%d)",
			len(cfg.Statuses), len(suites), epochs, n, token.MaxDirectoryKeys)
	}
	is := &Issuer{
		root:     slices.Clone(cfg.RootKey),
		seed:     slices.Clone(cfg.Seed),
		epoch:    uint32(cfg.EpochLength / time.Second),
		lifetime: uint32(lifetime / time.Second),
		statuses: slices.Clone(cfg.Statuses),
		suites:   suites,
		epochs:   epochs,
		rsaKeys:  cfg.RSAKeys,
		ed:       make(map[edKeyRef]ed25519.PrivateKey),
		rsa:      make(map[KeyRef]rsaEntry),
	}
	// The status rules are the directory's: check them on a directory
	// this issuer could publish, with one derived key.
	probe := token.Directory{Version: token.Version, EpochLength: is.epoch, MaxLifetime: is.lifetime, Statuses: is.statuses}
	if len(is.statuses) > 0 {
		k, err := is.directoryKey(token.Ed25519, is.statuses[0].Code, 0)
		if err != nil {
			return nil, bad("%v", err)
		}
		probe.Keys = []token.Key{k}
	}
	if err := is.setDecisionPolicy(cfg); err != nil {
		return nil, bad("%v", err)
	}
	is.decision.publish(&probe)
	if err := probe.Validate(); err != nil {
		return nil, bad("%v", err)
	}
	return is, nil
}

// RootPublicKey returns the public key that wallets and scanners pin, or
// nil for an Issuer not made by NewIssuer.
func (is *Issuer) RootPublicKey() ed25519.PublicKey {
	if is.ready() != nil {
		return nil
	}
	return slices.Clone(is.root.Public().(ed25519.PublicKey))
}

// ready returns an error for an Issuer not made by NewIssuer.
func (is *Issuer) ready() error {
	if is == nil || is.epoch == 0 || len(is.root) != ed25519.PrivateKeySize {
		return fmt.Errorf("%w: the issuer was not made by NewIssuer", ErrConfig)
	}
	return nil
}

// epochStart returns the start of the epoch containing t.
func (is *Issuer) epochStart(t time.Time) (uint32, error) {
	u := t.Unix()
	if u < 0 || u >= 1<<32-int64(is.epoch)*int64(is.epochs+1) {
		return 0, fmt.Errorf("%w: time %v outside the token format's range", ErrNotIssuing, t.UTC())
	}
	return uint32(u) - uint32(u)%is.epoch, nil
}

func (is *Issuer) knownStatus(s token.Status) bool {
	for _, n := range is.statuses {
		if n.Code == s {
			return true
		}
	}
	return false
}

// edPrivateKey derives the Ed25519 key for status and the epoch starting
// at notBefore: HKDF-SHA-256 over the issuer seed, with the suite, status,
// epoch start and epoch length in the info (SPEC.md, "Keys").
func (is *Issuer) edPrivateKey(status token.Status, notBefore uint32) ed25519.PrivateKey {
	ref := edKeyRef{status, notBefore}
	is.mu.Lock()
	defer is.mu.Unlock()
	if k, ok := is.ed[ref]; ok {
		return k
	}
	info := []byte("statustoken/v1 ed25519 issuing key")
	info = append(info, byte(token.Ed25519), byte(status))
	info = binary.BigEndian.AppendUint32(info, notBefore)
	info = binary.BigEndian.AppendUint32(info, is.epoch)
	seed, err := hkdf.Key(sha256.New, is.seed, nil, string(info), ed25519.SeedSize)
	if err != nil {
		panic("issue: HKDF failed: " + err.Error()) // only for lengths beyond 255 hashes
	}
	k := ed25519.NewKeyFromSeed(seed)
	if len(is.ed) > 4096 {
		clear(is.ed)
	}
	is.ed[ref] = k
	return k
}

func (is *Issuer) directoryKey(suite token.Suite, status token.Status, notBefore uint32) (token.Key, error) {
	var pub []byte
	switch suite {
	case token.Ed25519:
		pub = slices.Clone(is.edPrivateKey(status, notBefore).Public().(ed25519.PublicKey))
	case token.RSABSSA:
		e, err := is.rsaKey(status, notBefore, true)
		if err != nil {
			return token.Key{}, err
		}
		pub = slices.Clone(e.pub)
	}
	return token.Key{
		ID:        token.ComputeKeyID(pub),
		Suite:     suite,
		Status:    status,
		NotBefore: notBefore,
		Expiry:    notBefore + is.epoch,
		PublicKey: pub,
	}, nil
}

// PreviousKeysFor is how long into an epoch a directory still lists the
// previous epoch's keys: twice verify.DefaultSkew, the scanners' skew
// and the issuer's own. A scanner that tolerates that skew accepts a
// token of the previous epoch for a few minutes after it ended; a
// directory published meanwhile must not turn that token into an unknown
// key, or two scanners would give it two verdicts.
const PreviousKeysFor = 10 * time.Minute

// Directory returns the signed directory for the time now: every key of
// every suite and status for the current epoch and the upcoming ones, and
// within PreviousKeysFor of the current epoch's start the previous
// epoch's keys too, in canonical form, with its detached root signature.
// serial must be higher than that of every directory published before.
// RSABSSA keys missing from the key store are generated and stored first,
// except the previous epoch's, which are listed only if stored.
func (is *Issuer) Directory(now time.Time, serial uint64) (data, sig []byte, err error) {
	if err := is.ready(); err != nil {
		return nil, nil, err
	}
	start, err := is.epochStart(now)
	if err != nil {
		return nil, nil, err
	}
	d := token.Directory{
		Version:     token.Version,
		Serial:      serial,
		EpochLength: is.epoch,
		MaxLifetime: is.lifetime,
		Statuses:    is.statuses,
	}
	is.decision.publish(&d)
	if start >= is.epoch && now.Unix()-int64(start) < int64(PreviousKeysFor/time.Second) &&
		len(is.suites)*len(is.statuses)*(is.epochs+1) <= token.MaxDirectoryKeys {
		for _, suite := range is.suites {
			for _, st := range is.statuses {
				if suite == token.RSABSSA {
					if _, err := is.rsaKey(st.Code, start-is.epoch, false); errors.Is(err, ErrKeyNotFound) {
						// Never issued from this key store: nothing to honour.
						continue
					}
				}
				k, err := is.directoryKey(suite, st.Code, start-is.epoch)
				if err != nil {
					return nil, nil, err
				}
				d.Keys = append(d.Keys, k)
			}
		}
	}
	for e := range is.epochs {
		nb := start + uint32(e)*is.epoch
		for _, suite := range is.suites {
			for _, st := range is.statuses {
				k, err := is.directoryKey(suite, st.Code, nb)
				if err != nil {
					return nil, nil, err
				}
				d.Keys = append(d.Keys, k)
			}
		}
	}
	data, err = d.MarshalBinary()
	if err != nil {
		return nil, nil, fmt.Errorf("issue: cannot publish the directory: %w", err)
	}
	return data, ed25519.Sign(is.root, format.DirectoryMessage(data)), nil
}

// IssueEd25519 signs n tokens of status for the epoch containing now, each
// with a fresh random nonce.
//
// The issuer sees every Ed25519 token it signs and could recognise it when
// it is scanned. Use this suite only where issuance never learns who the
// holder is (a walk-in test site that asks for no identity); an issuer that
// knows the holder must issue through the blind rsabssa suite.
func (is *Issuer) IssueEd25519(status token.Status, now time.Time, n int) ([]*token.Token, error) {
	if err := is.ready(); err != nil {
		return nil, err
	}
	if n < 1 || n > MaxTokens {
		return nil, fmt.Errorf("%w: %d", ErrCount, n)
	}
	if !is.knownStatus(status) {
		return nil, fmt.Errorf("%w: unknown status %d", ErrNotIssuing, status)
	}
	if !is.publishes(token.Ed25519) {
		return nil, fmt.Errorf("%w: the issuer does not publish ed25519 keys", ErrNotIssuing)
	}
	nb, err := is.epochStart(now)
	if err != nil {
		return nil, err
	}
	priv := is.edPrivateKey(status, nb)
	id := token.ComputeKeyID(priv.Public().(ed25519.PublicKey))
	toks := make([]*token.Token, n)
	var msg [tokenmsg.Size]byte
	for i := range toks {
		t := &token.Token{Suite: token.Ed25519, Status: status, Expiry: nb + is.epoch, KeyID: id}
		rand.Read(t.Nonce[:])
		t.Signature = ed25519.Sign(priv, tokenmsg.Append(msg[:0], t))
		toks[i] = t
	}
	return toks, nil
}
