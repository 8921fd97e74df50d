// Package issuer is the statustoken issuer service of the deployment
// examples (command cmd/issuer): it publishes the signed key directory
// through a transparency log that witnesses cosign, decides about each
// token request under a published decision policy, answers each with a
// signed receipt (DESIGN.md, section 11), signs blind token requests
// (rsabssa, RFC 9474) for holders it grants a status, and logs every
// decision in a second witnessed log.
//
// State lives in one directory (mode 0700): the root key that signs
// directories, the issuer seed, the RSA issuing keys, the decision key
// that signs receipts, the serial of the last directory served, the two
// logs on Tessera (internal/logstore: their keys, trees, the witnesses'
// tree sizes, the last cosigned checkpoints, and an archive of the
// directories logged), the queue of decision records, and the demo
// attester's holders file. The state directory must hold both log keys
// (LogKey, "issuer log-key"): a directory without them is refused and
// nothing is created there. On first run the service creates the root
// key, the seed, the decision key and the issuing keys, and writes the
// root public key to root.pub and the trust policy, which wallets and
// scanners pin, to trust.txt.
//
// At each start, before it creates or publishes anything, the service
// checks its state against what it published: the statuses keep every
// published code's name and every name's code (ErrStatusChanged); every
// published key whose epoch is not over keeps its private key, and the
// decision key is the one the directory lists (ErrKeyMissing), unless
// Config.Withdraw withdraws an issuing key; each log is whole and holds
// the last checkpoint the witnesses cosigned, and the log of directories
// the last serial served (logstore.ErrDamaged, logstore.ErrRolledBack,
// ErrStateRolledBack). Each refusal says what to restore or how to
// proceed.
//
// Every directory goes into the log; it is served only once a quorum of
// the witnesses (from the witnesses file: lines "witness NAME VKEY URL")
// has cosigned a checkpoint that includes it, with its proof. The quorum
// must be more than half of the witnesses, as trust policies require. The
// service has the witnesses cosign the log again every
// Config.CosignEvery, at most half of Config.IssueMaxAge, so that the
// proof stays within the trust policy's freshness bounds: its max-age
// (two epochs), for accepting a directory, and its issue-max-age, under
// which wallets request tokens. A new directory, with a new serial, is made when its window
// moves (an epoch ends) or the configuration changes it; a restart within
// the same window serves the directory already in the log, serial and
// all, with a fresh proof. A serial is used up only by a directory
// served: Serve binds its address before it publishes anything.
//
// Decisions: the directory publishes the reasons (Config.Reasons, see
// ParseReasons), the decision key, the decision log's key, the one
// number of tokens a request asks for and the decision log's delay. The
// attester decides, for each holder, a status or a refusal and the
// reason (see Attestation). Every answer that carries a decision, 200
// and 403, carries a receipt (issuehttp); its decision record is queued,
// synced, before the answer leaves, and appended to the decision log
// every Config.DecisionInterval in a batch of random order, which the
// witnesses then cosign (see decisions.go).
//
// HTTP interface (the wallet–issuer protocol, token/SPEC.md, served by
// issue/issuehttp; the logs by the service):
//
//	GET  /.well-known/statustoken-directory        the directory's exact bytes; its
//	                                               signature and log proof (base64) in the
//	                                               Statustoken-Directory-Signature and
//	                                               Statustoken-Directory-Proof headers
//	GET  /.well-known/statustoken-directory.sig    the detached 64-byte signature
//	GET  /.well-known/statustoken-directory.proof  the log proof (c2sp.org/tlog-proof@v1)
//	POST /token-request                            a blind token request (binary body),
//	                                               with "Authorization: Bearer API-KEY" and
//	                                               the Statustoken-Commitment header; the
//	                                               receipt in Statustoken-Receipt
//	GET  /decisions/proof/HEX                      a decision record's inclusion proof
//	                                               (404 with Retry-After until cosigned)
//	GET  /log/checkpoint                           the latest cosigned checkpoint
//	GET  /log/tile/...                             the log's tiles (c2sp.org/tlog-tiles)
//	GET  /log/directory/SERIAL[.sig]               every logged directory and its signature
//	GET  /decisions/checkpoint                     the decision log's latest cosigned checkpoint
//	GET  /decisions/tile/...                       the decision log's tiles
//	GET  /healthz                                  "ok"
//
// The directory paths and the logs answer cross-origin requests
// (Access-Control-Allow-Origin: *, with the two directory headers
// exposed, and OPTIONS preflight requests), so that a web scanner served
// from another origin can load the directory; /token-request does not.
//
// Errors are one line of plain text (token/SPEC.md, "Wallet–issuer
// protocol", for the protocol's paths): among them 400 for a malformed
// request, 401 for a missing or unknown API key, 403 with a receipt for
// a refusal, 413 for a body over the limit, 429 with Retry-After (in
// seconds) beyond the holder's rate limit.
//
// Logs hold no secret and nothing about holders: one line per request
// with the method, the route (a fixed string), the status and the
// duration; never an address, a header, a body, an API key or a token.
package issuer

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/statustoken/statustoken/examples/deploy/internal/logstore"
	"github.com/statustoken/statustoken/examples/deploy/internal/tlog"
	"github.com/statustoken/statustoken/examples/deploy/internal/witnessclient"
	"github.com/statustoken/statustoken/issue"
	"github.com/statustoken/statustoken/issue/issuehttp"
	"github.com/statustoken/statustoken/token"
)

// Config configures the service. Each field's flag of cmd/issuer is
// given in parentheses. Start from DefaultConfig: every field but
// Witnesses has a default there.
type Config struct {
	// StateDir is the state directory (-state); it must hold the log key
	// (LogKey).
	StateDir string
	// Holders is the demo attester's holders file; StateDir/holders
	// when empty (-holders).
	Holders string
	// Attester, when not nil, replaces the demo attester and its
	// holders file.
	Attester Attester
	// Statuses are the status codes and names (-statuses); green (1) and
	// red (2) when empty.
	Statuses []token.StatusName
	// Epoch is the epoch length, 1h to 168h (-epoch).
	Epoch time.Duration
	// Epochs is the number of epochs a directory lists, the current one
	// included, 1 to 16 (-epochs).
	Epochs int
	// RateLimit token requests a holder may make per RateWindow
	// (-rate-limit, -rate-window).
	RateLimit  int
	RateWindow time.Duration
	// MaxHolders bounds the holders the rate limiter tracks at once
	// (-max-holders).
	MaxHolders int
	// MaxConcurrent bounds the token requests signed at once
	// (-max-concurrent).
	MaxConcurrent int

	// Reasons are the decision policy's reason codes (-reasons, a file
	// in the format of ParseReasons); DefaultReasons(Statuses) when
	// empty.
	Reasons []token.Reason
	// TokensPerRequest is the one number of tokens every request asks
	// for, published in the directory (-tokens-per-request).
	TokensPerRequest int
	// DecisionInterval is how often the queued decision records are
	// appended to the decision log, in a batch of random order, and
	// the log cosigned (-decision-interval).
	DecisionInterval time.Duration
	// DecisionLogDelay is the longest time from a receipt to its record
	// in a cosigned checkpoint of the decision log, published in the
	// directory: whole seconds from 60 to 86400, at least twice
	// DecisionInterval plus CosignRetry and WitnessTimeout
	// (-decision-log-delay).
	DecisionLogDelay time.Duration

	// Witnesses is the witnesses file: lines "witness NAME VKEY URL"
	// (-witnesses).
	Witnesses string
	// Quorum witnesses must cosign each checkpoint (-quorum).
	Quorum int
	// LogOrigin names the log in its checkpoints, for a new log; when
	// empty, the existing log's origin, else DefaultOrigin (-log-origin).
	LogOrigin string
	// CosignEvery is how often the witnesses cosign the log again, to
	// keep the proof fresh; at most half of IssueMaxAge (-cosign-every).
	CosignEvery time.Duration
	// IssueMaxAge is the trust policy's issue-max-age: wallets request
	// tokens only under a proof cosigned no longer ago; at most the
	// policy's max-age, two epochs (-issue-max-age).
	IssueMaxAge time.Duration
	// CosignRetry is when a cosigning round without a quorum is retried
	// (-cosign-retry).
	CosignRetry time.Duration
	// WitnessTimeout bounds each witness's answer (-witness-timeout).
	WitnessTimeout time.Duration
	// Republish makes Start publish a new directory, with a new serial,
	// even when the last one in the log is still current (-republish).
	Republish bool
	// Withdraw lists the IDs (hex) of published keys, still valid, to
	// withdraw at this start (-withdraw): each is replaced by a new key
	// in the next directory, and every token issued under it is refused
	// from then on. It is the only way to start when a published key's
	// private key file is lost; the file, when there is one, is kept as
	// FILE.withdrawn.
	Withdraw []string

	// Addr is the listen address of Serve; port 0 picks a free port
	// (-addr).
	Addr string
	// TLSCert and TLSKey are the PEM certificate and key files for HTTPS
	// (-tls-cert, -tls-key); Serve reloads them on Reload.
	TLSCert, TLSKey string
	// InsecureHTTP lets Serve serve plain HTTP on an address other than
	// loopback, for a service behind a TLS proxy (-insecure-http).
	InsecureHTTP bool
	// Reload, when not nil, makes Serve reload the holders file and the
	// TLS certificate at each value received (cmd/issuer: SIGHUP).
	Reload <-chan os.Signal
	// Listen opens Serve's listener; net.Listen when nil.
	Listen func(network, address string) (net.Listener, error)
}

// Default values of Config's fields.
const (
	DefaultAddr        = "127.0.0.1:8080"
	DefaultStateDir    = "issuer-state"
	DefaultEpoch       = 24 * time.Hour
	DefaultRateLimit   = 10
	DefaultRateWindow  = time.Hour
	DefaultMaxHolders  = 100000
	DefaultQuorum      = 2
	DefaultCosignEvery = time.Hour
	DefaultIssueMaxAge = 2 * time.Hour
	DefaultCosignRetry = time.Minute

	DefaultTokensPerRequest = 10
	DefaultDecisionInterval = 2 * time.Second
	DefaultDecisionLogDelay = 10 * time.Minute
)

// DefaultConfig returns the default configuration, the defaults of
// cmd/issuer's flags. Only Witnesses remains to be set.
func DefaultConfig() Config {
	return Config{
		StateDir:      DefaultStateDir,
		Statuses:      []token.StatusName{{Code: 1, Name: "green"}, {Code: 2, Name: "red"}},
		Epoch:         DefaultEpoch,
		Epochs:        issue.DefaultEpochs,
		RateLimit:     DefaultRateLimit,
		RateWindow:    DefaultRateWindow,
		MaxHolders:    DefaultMaxHolders,
		MaxConcurrent: 2 * runtime.GOMAXPROCS(0),

		TokensPerRequest: DefaultTokensPerRequest,
		DecisionInterval: DefaultDecisionInterval,
		DecisionLogDelay: DefaultDecisionLogDelay,
		Quorum:           DefaultQuorum,
		CosignEvery:      DefaultCosignEvery,
		IssueMaxAge:      DefaultIssueMaxAge,
		CosignRetry:      DefaultCosignRetry,
		WitnessTimeout:   witnessclient.DefaultTimeout,
		Addr:             DefaultAddr,
	}
}

// Check returns an error, naming the flag of cmd/issuer, for a
// configuration that cannot work, the listen address included (see
// CheckAddr). It does not read any file.
func (c Config) Check() error {
	if err := c.checkService(); err != nil {
		return err
	}
	return CheckAddr(c.Addr, c.TLSCert != "", c.InsecureHTTP)
}

// checkService is Check but for the listen address, which Open does not
// use.
func (c Config) checkService() error {
	switch {
	case c.StateDir == "":
		return errors.New("-state must name a directory")
	case c.Epoch < time.Hour || c.Epoch > 168*time.Hour || c.Epoch%time.Second != 0:
		return errors.New("-epoch must be whole seconds from 1h to 168h")
	case c.Epochs < 1 || c.Epochs > 16:
		return errors.New("-epochs must be from 1 to 16")
	case c.RateLimit < 1 || c.RateWindow < time.Second:
		return errors.New("-rate-limit must be at least 1 and -rate-window at least 1s")
	case c.MaxHolders < 1 || c.MaxConcurrent < 1:
		return errors.New("-max-holders and -max-concurrent must be at least 1")
	case (c.TLSCert == "") != (c.TLSKey == ""):
		return errors.New("-tls-cert and -tls-key go together")
	case c.Witnesses == "":
		return errors.New("-witnesses is required: a file of lines \"witness NAME VKEY URL\", one for each witness that cosigns the log")
	case c.Quorum < 1:
		return errors.New("-quorum must be at least 1")
	case c.IssueMaxAge < time.Minute || c.IssueMaxAge > 2*c.Epoch || c.IssueMaxAge%time.Second != 0:
		return errors.New("-issue-max-age must be whole seconds from 1m to two epochs (the trust policy's max-age)")
	case c.CosignEvery < time.Second || c.CosignEvery > c.IssueMaxAge/2:
		return fmt.Errorf("-cosign-every must be from 1s to half of -issue-max-age (%v), so that wallets always find a proof fresh enough to request tokens under", c.IssueMaxAge)
	case c.CosignRetry < 100*time.Millisecond || c.WitnessTimeout < 100*time.Millisecond:
		return errors.New("-cosign-retry and -witness-timeout must be at least 100ms")
	case c.TokensPerRequest < 1 || c.TokensPerRequest > issue.MaxTokens:
		return fmt.Errorf("-tokens-per-request must be from 1 to %d", issue.MaxTokens)
	case c.DecisionInterval < 100*time.Millisecond:
		return errors.New("-decision-interval must be at least 100ms")
	case c.DecisionLogDelay < time.Minute || c.DecisionLogDelay > 24*time.Hour || c.DecisionLogDelay%time.Second != 0:
		return errors.New("-decision-log-delay must be whole seconds from 1m to 24h")
	case c.DecisionLogDelay < 2*c.DecisionInterval+c.CosignRetry+c.WitnessTimeout:
		return fmt.Errorf("-decision-log-delay must be at least twice -decision-interval plus -cosign-retry and -witness-timeout (%v), the time a record may take to be cosigned when a round fails",
			2*c.DecisionInterval+c.CosignRetry+c.WitnessTimeout)
	}
	if err := CheckStatuses(c.Statuses); err != nil {
		return fmt.Errorf("-statuses: %v", err)
	}
	if len(c.Reasons) > 0 {
		if err := checkPolicy(c.Statuses, c.Reasons); err != nil {
			return fmt.Errorf("-reasons: %v", err)
		}
	}
	return nil
}

// checkPolicy applies the directory's rules for a decision policy, which
// the library checks when it makes an issuer: it makes one with
// throwaway keys.
func checkPolicy(statuses []token.StatusName, reasons []token.Reason) error {
	_, vkey, err := issue.GenerateLogKey("check.invalid/decisions")
	if err != nil {
		return err
	}
	_, err = issue.NewIssuer(issue.Config{
		RootKey:          ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)),
		Seed:             make([]byte, issue.SeedSize),
		EpochLength:      time.Hour,
		Statuses:         statuses,
		DecisionKey:      ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, ed25519.SeedSize)),
		Reasons:          reasons,
		DecisionLogKey:   vkey,
		DecisionLogDelay: time.Hour,
	})
	return err
}

// Policy returns the decision policy's reasons: c.Reasons or the
// default.
func (c Config) Policy() []token.Reason {
	if len(c.Reasons) > 0 {
		return c.Reasons
	}
	return DefaultReasons(c.Statuses)
}

// HoldersPath returns the holders file of the demo attester.
func (c Config) HoldersPath() string {
	if c.Holders != "" {
		return c.Holders
	}
	return filepath.Join(c.StateDir, holdersFile)
}

// ParseStatuses parses "CODE=NAME,..." into a status list, sorted by
// code, that CheckStatuses accepts.
func ParseStatuses(v string) ([]token.StatusName, error) {
	var list []token.StatusName
	for _, part := range strings.Split(v, ",") {
		code, name, ok := strings.Cut(strings.TrimSpace(part), "=")
		n, err := strconv.ParseUint(code, 10, 8)
		if !ok || err != nil || n == 0 {
			return nil, fmt.Errorf("%q: want CODE=NAME with CODE from 1 to 255", part)
		}
		list = append(list, token.StatusName{Code: token.Status(n), Name: name})
	}
	slices.SortFunc(list, func(a, b token.StatusName) int { return int(a.Code) - int(b.Code) })
	if err := CheckStatuses(list); err != nil {
		return nil, err
	}
	return list, nil
}

// CheckStatuses applies the directory's rules for status lists (codes
// strictly increasing, names unique, 1 to 32 of [a-z0-9_-]), which the
// library checks when it makes an issuer: it makes one for list with a
// throwaway key.
func CheckStatuses(list []token.StatusName) error {
	_, err := issue.NewIssuer(issue.Config{
		RootKey:     ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)),
		Seed:        make([]byte, issue.SeedSize),
		EpochLength: time.Hour,
		Statuses:    list,
	})
	return err
}

// errClearText explains the refusal of plain HTTP beyond loopback.
const errClearText = "API keys would travel in clear text; use -tls-cert and -tls-key, or -insecure-http behind a TLS proxy"

// CheckAddr refuses plain HTTP (tls false) on the listen address addr
// unless it is a loopback address or insecure is set. An address whose
// host is a name is checked by Serve once bound; one with no host listens
// on every interface, and is not loopback.
func CheckAddr(addr string, tls, insecure bool) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("-addr %q: want HOST:PORT, for example 127.0.0.1:8080", addr)
	}
	if tls || insecure {
		return nil
	}
	if host == "" {
		return clearTextError(addr)
	}
	if ip := net.ParseIP(host); ip != nil && !ip.IsLoopback() {
		return clearTextError(addr)
	}
	return nil
}

// loopback reports whether a bound address is a loopback one.
func loopback(a net.Addr) bool {
	ta, ok := a.(*net.TCPAddr)
	return ok && ta.IP.IsLoopback()
}

func clearTextError(addr string) error {
	return fmt.Errorf("refusing to serve plain HTTP on %s, which is not a loopback address: %s", addr, errClearText)
}

// Service is an issuer service on an opened state directory.
type Service struct {
	cfg     Config
	is      *issue.Issuer
	pub     *publisher
	att     Attester
	holders *swappableAttester // the demo attester, or nil
	lim     *limiter
	dec     *decisionLog
	// h serves the wallet–issuer protocol: the directory and the token
	// requests.
	h *issuehttp.Handler
	// limitMsg states the rate limit, for the 429 answer.
	limitMsg string
	logger   *slog.Logger
	now      func() time.Time
}

// swappableAttester lets the holders file be reloaded while serving.
type swappableAttester struct{ p atomic.Pointer[fileAttester] }

func (s *swappableAttester) Attest(ctx context.Context, credential string) (Attestation, error) {
	return s.p.Load().Attest(ctx, credential)
}

// Open checks and opens the state directory (creating the root key and
// seed on first run) and the log, loads the holders and the witnesses,
// and writes the trust policy. It publishes nothing: Start does.
func Open(cfg Config, logger *slog.Logger) (*Service, error) {
	return open(cfg, logger, time.Now)
}

func open(cfg Config, logger *slog.Logger, now func() time.Time) (*Service, error) {
	c := cfg
	if err := c.checkService(); err != nil {
		return nil, err
	}
	// Everything that can be checked is checked before anything is
	// created: a start from the wrong directory creates nothing.
	origin, err := logstore.Origin(c.StateDir, logstore.Directories)
	if err != nil {
		return nil, err
	}
	decOrigin, err := logstore.Origin(c.StateDir, logstore.Decisions)
	if err != nil {
		return nil, err
	}
	if origin == "" || decOrigin == "" {
		return nil, fmt.Errorf("%s holds no log key, or not both: is it the issuer's state directory (-state)? A new issuer starts with \"issuer log-key -state %s\", then registers its two logs with the witnesses", c.StateDir, c.StateDir)
	}
	c.Reasons = c.Policy()
	if c.LogOrigin == "" {
		c.LogOrigin = origin
	}
	ws, err := loadWitnesses(c.Witnesses, c.Quorum)
	if err != nil {
		return nil, err
	}
	s := &Service{
		cfg:      c,
		limitMsg: fmt.Sprintf("at most %s %s", plural(c.RateLimit, "token request", "token requests"), per(c.RateWindow)),
		logger:   logger,
		now:      now,
		att:      c.Attester,
	}
	if s.att == nil {
		fa, err := loadFileAttester(c.HoldersPath(), c.Statuses, c.Reasons)
		if err != nil {
			return nil, err
		}
		s.holders = &swappableAttester{}
		s.holders.p.Store(fa)
		s.att = s.holders
	}
	logs, err := logstore.Open(c.StateDir, logstore.Directories, c.LogOrigin, nil)
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			logs.Close()
		}
	}()
	decisions, err := logstore.Open(c.StateDir, logstore.Decisions, decOrigin, &tlog.Options{MaxEntrySize: token.RecordSize})
	if err != nil {
		return nil, err
	}
	defer func() {
		if !ok {
			decisions.Close()
		}
	}()
	// A new root key and seed only for a log that holds nothing yet.
	st, err := openState(c.StateDir, logs.Size() == 0)
	if err != nil {
		return nil, err
	}
	withdraw, err := checkPublished(&c, st, logs, now())
	if err != nil {
		return nil, err
	}
	if st.created {
		logger.Info("created a new issuer state: root key, issuer seed, decision key", "dir", c.StateDir)
	} else if st.decisionCreated {
		if err := st.saveDecisionKey(); err != nil {
			return nil, err
		}
		logger.Info("created a decision key", "file", filepath.Join(c.StateDir, decisionFile))
	}
	if s.lim, err = loadLimiter(c, st, now()); err != nil {
		return nil, err
	}
	s.is, err = issue.NewIssuer(issue.Config{
		RootKey:     st.root,
		Seed:        st.seed,
		EpochLength: c.Epoch,
		Statuses:    c.Statuses,
		Suites:      []token.Suite{token.RSABSSA},
		Epochs:      c.Epochs,
		RSAKeys:     issue.FileKeyStore{Dir: filepath.Join(c.StateDir, keysDir)},

		TokensPerRequest: c.TokensPerRequest,
		DecisionKey:      st.decision,
		Reasons:          c.Reasons,
		DecisionLogKey:   decisions.Log().VerifierKey(),
		DecisionLogDelay: c.DecisionLogDelay,
	})
	if err != nil {
		return nil, err
	}
	trust, err := writeTrustPolicy(&c, st, logs, ws)
	if err != nil {
		return nil, err
	}
	if err := withdrawKeys(withdraw, logger); err != nil {
		return nil, err
	}
	logger.Info("trust policy: pin it in wallets and scanners", "file", filepath.Join(c.StateDir, trustFile),
		"root", rootPublicText(s.is.RootPublicKey()), "log", logs.Log().VerifierKey(), "witnesses", len(ws), "quorum", c.Quorum)
	s.pub = &publisher{
		is: s.is, st: st, logs: logs, witnesses: ws, trust: trust, quorum: c.Quorum,
		client: &witnessclient.Client{Timeout: c.WitnessTimeout},
		epoch:  c.Epoch, cosignEvery: c.CosignEvery, retry: c.CosignRetry, logger: logger,
	}
	s.h, err = issuehttp.NewHandler(issuehttp.Options{
		Issuer: s.is, Decide: s.decide, Record: s.record, DecisionProof: s.decisionProof,
		MaxConcurrent: c.MaxConcurrent, Now: now, Logger: logger,
	})
	if err != nil {
		return nil, err
	}
	s.pub.serve = func(p *published) {
		if err := s.h.Publish(token.Published{Directory: p.data, Signature: p.sig, Proof: p.proof}, p.next); err != nil {
			logger.Error("serving the directory", "serial", p.serial, "error", err)
		}
	}
	s.pub.cur = s.pub.restore(now())
	if s.pub.cur != nil {
		s.pub.serve(s.pub.cur)
	}
	s.dec = &decisionLog{
		client: s.pub.client, witnesses: ws, quorum: c.Quorum, interval: c.DecisionInterval,
		cosignEvery: c.CosignEvery, retry: c.CosignRetry, logger: logger,
	}
	if err := openDecisionLog(context.Background(), decisions, s.dec); err != nil {
		return nil, err
	}
	ok = true
	return s, nil
}

// Start makes the run's first publication: the directory already in the
// log when it is still current (unless Config.Republish), else a new one
// with the next serial; then the witnesses cosign the log and the
// directory is served. When they do not reach a quorum, the directory
// served before is served meanwhile (none on a first run: the directory
// paths answer 503 until a quorum cosigns) and Run retries. Start returns
// an error when no directory could be made or logged, or when the
// witnesses have cosigned more of the log than it holds (a state restored
// from an old copy, ErrStateRolledBack).
func (s *Service) Start(ctx context.Context) error {
	s.logger.Info("preparing the directory (new RSA keys take a few seconds each)")
	if err := s.pub.start(ctx, s.now(), s.cfg.Republish); err != nil {
		if ctx.Err() != nil {
			s.logger.Info("interrupted before the witnesses cosigned the log")
			return nil
		}
		s.pub.pubMu.Lock()
		logged := s.pub.latest != nil
		s.pub.pubMu.Unlock()
		if !logged || errors.Is(err, ErrStateRolledBack) {
			return err
		}
		s.logger.Error("publication incomplete", "error", err, "serving_serial", servingSerial(s.pub.current()))
	}
	return nil
}

func servingSerial(p *published) any {
	if p == nil {
		return "none"
	}
	return p.serial
}

// limiterSaveEvery is how often Run saves the rate limiter's buckets
// when they changed; Close saves them too.
const limiterSaveEvery = 10 * time.Second

// Run publishes a new directory whenever an epoch ends, and has the
// witnesses cosign the log again every Config.CosignEvery; it appends the
// queued decision records every Config.DecisionInterval and has the
// witnesses cosign the decision log; until ctx is done, and its rounds
// have ended. It saves the rate limits every few seconds.
func (s *Service) Run(ctx context.Context) {
	go func() {
		t := time.NewTicker(limiterSaveEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if err := s.lim.save(s.cfg.StateDir, s.now()); err != nil {
				s.logger.Error("saving the rate limits", "error", err)
			}
		}
	}()
	done := make(chan struct{})
	go func() {
		s.dec.run(ctx, s.now)
		close(done)
	}()
	s.pub.run(ctx, s.now)
	<-done
}

// ReloadHolders reads the demo attester's holders file again; on error,
// the previous holders stay. It does nothing with Config.Attester set.
func (s *Service) ReloadHolders() (int, error) {
	if s.holders == nil {
		return 0, nil
	}
	fa, err := loadFileAttester(s.cfg.HoldersPath(), s.cfg.Statuses, s.cfg.Reasons)
	if err != nil {
		return 0, err
	}
	s.holders.p.Store(fa)
	return len(fa.holders), nil
}

// Close saves the rate limits and closes the logs. Decision records
// still queued stay in the queue file, for the next start.
func (s *Service) Close() error {
	err := s.lim.save(s.cfg.StateDir, s.now())
	return errors.Join(err, s.dec.close(), s.dec.store.Close(), s.pub.logs.Close())
}

// certificate holds the TLS certificate served, reloadable.
type certificate struct {
	certFile, keyFile string
	cert              atomic.Pointer[tls.Certificate]
}

func (c *certificate) load() error {
	cert, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		return fmt.Errorf("TLS certificate (-tls-cert %s, -tls-key %s): %v", c.certFile, c.keyFile, err)
	}
	c.cert.Store(&cert)
	return nil
}

// listenError explains a failed bind.
func listenError(addr string, err error) error {
	if errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Errorf("cannot listen on %s: the address is in use (another issuer?); nothing was published: %w", addr, err)
	}
	return fmt.Errorf("cannot listen on %s; nothing was published: %w", addr, err)
}

// Serve runs the service until ctx is done, then shuts down gracefully:
// it stops accepting connections and lets requests in flight finish. It
// loads the TLS certificate and binds Config.Addr before anything else,
// so that a start that fails there publishes nothing and leaves the state
// as it was; then it opens the state, makes the first publication (Start)
// and serves. It logs "listening" with the URL once it serves.
func Serve(ctx context.Context, cfg Config, logger *slog.Logger) error {
	c := cfg
	if err := c.Check(); err != nil {
		return err
	}
	var cert *certificate
	if c.TLSCert != "" {
		cert = &certificate{certFile: c.TLSCert, keyFile: c.TLSKey}
		if err := cert.load(); err != nil {
			return err
		}
	}
	listen := c.Listen
	if listen == nil {
		listen = net.Listen
	}
	ln, err := listen("tcp", c.Addr)
	if err != nil {
		return listenError(c.Addr, err)
	}
	defer ln.Close()
	if cert == nil && (CheckAddr(c.Addr, false, false) != nil || !loopback(ln.Addr())) {
		if !c.InsecureHTTP {
			return fmt.Errorf("refusing to serve plain HTTP on %s (%s), which is not a loopback address: %s", c.Addr, ln.Addr(), errClearText)
		}
		logger.Warn("serving plain HTTP beyond loopback (-insecure-http): API keys travel in clear text unless a TLS proxy is in front", "addr", c.Addr)
	}

	s, err := open(c, logger, time.Now)
	if err != nil {
		return err
	}
	defer s.Close()
	if err := s.Start(ctx); err != nil {
		return err
	}
	if ctx.Err() != nil {
		logger.Info("stopped")
		return nil
	}
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          log.New(redactingWriter{logger}, "", 0),
	}
	if cert != nil {
		srv.TLSConfig = &tls.Config{
			MinVersion: tls.VersionTLS12,
			GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
				return cert.cert.Load(), nil
			},
		}
	}
	bg, stopBG := context.WithCancel(ctx)
	ran := make(chan struct{})
	go func() {
		s.Run(bg)
		close(ran)
	}()
	// Run's rounds end before the logs close.
	defer func() {
		stopBG()
		<-ran
	}()
	if c.Reload != nil {
		go s.reloadOn(bg, c.Reload, cert)
	}

	scheme := "http"
	if cert != nil {
		scheme = "https"
	}
	logger.Info("listening", "url", scheme+"://"+ln.Addr().String())
	errc := make(chan error, 1)
	go func() {
		if cert != nil {
			errc <- srv.ServeTLS(ln, "", "")
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down: finishing requests in flight")
	shutCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	logger.Info("stopped")
	return nil
}

// reloadOn reloads the holders file and the TLS certificate at each value
// from reload; what cannot be reloaded stays as it was.
func (s *Service) reloadOn(ctx context.Context, reload <-chan os.Signal, cert *certificate) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-reload:
		}
		if s.holders != nil {
			if n, err := s.ReloadHolders(); err != nil {
				s.logger.Error("holders file not reloaded; keeping the previous one", "error", err)
			} else {
				s.logger.Info("holders file reloaded", "holders", n)
			}
		}
		if cert != nil {
			if err := cert.load(); err != nil {
				s.logger.Error("TLS certificate not reloaded; keeping the previous one", "error", err)
			} else {
				s.logger.Info("TLS certificate reloaded")
			}
		}
	}
}

// addrPattern matches IPv4 and bracketed IPv6 addresses, with a port.
var addrPattern = regexp.MustCompile(`\[[0-9A-Fa-f:.%a-z]+\](:\d+)?|\b\d{1,3}(\.\d{1,3}){3}(:\d+)?`)

// redactingWriter passes the HTTP server's own error messages (TLS
// handshake failures and the like) to the logger without the client
// addresses they quote.
type redactingWriter struct{ logger *slog.Logger }

func (w redactingWriter) Write(p []byte) (int, error) {
	msg := addrPattern.ReplaceAllString(strings.TrimSpace(string(p)), "[address]")
	w.logger.Warn("http server", "message", msg)
	return len(p), nil
}
