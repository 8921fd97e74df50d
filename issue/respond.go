package issue

import (
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/statustoken/statustoken/internal/format"
	"github.com/statustoken/statustoken/internal/rsabssa"
	"github.com/statustoken/statustoken/token"
)

const (
	// MaxRequestSize is the length of the largest valid token request.
	MaxRequestSize = format.MaxBlindSize
	// MaxResponseSize is the length of the largest valid token response.
	MaxResponseSize = format.MaxBlindSize
)

// rsaKey returns the prepared private key for status and the epoch starting
// at notBefore, generating and storing it first when create is set.
func (is *Issuer) rsaKey(status token.Status, notBefore uint32, create bool) (rsaEntry, error) {
	ref := KeyRef{Status: status, NotBefore: notBefore, EpochLength: is.epoch}
	is.mu.Lock()
	e, ok := is.rsa[ref]
	is.mu.Unlock()
	if ok {
		return e, nil
	}
	sk, err := is.rsaKeys.Get(ref)
	if errors.Is(err, ErrKeyNotFound) && create {
		if sk, err = rsabssa.GenerateKey(rand.Reader); err == nil {
			if err = is.rsaKeys.Put(ref, sk); errors.Is(err, ErrKeyExists) {
				sk, err = is.rsaKeys.Get(ref)
			}
		}
	}
	if err != nil {
		return rsaEntry{}, err
	}
	k, err := rsabssa.NewPrivateKey(sk)
	if err != nil {
		return rsaEntry{}, fmt.Errorf("%w: key %v: %s", ErrKeyFile, ref, keyDetail(err))
	}
	e = rsaEntry{key: k, pub: k.PublicKeyBytes()}
	e.id = token.ComputeKeyID(e.pub)
	is.mu.Lock()
	defer is.mu.Unlock()
	if len(is.rsa) > 1024 {
		clear(is.rsa)
	}
	is.rsa[ref] = e
	return e, nil
}

// rsaEntry is a prepared RSABSSA key with its public encoding and key ID,
// computed once.
type rsaEntry struct {
	key *rsabssa.PrivateKey
	pub []byte
	id  token.KeyID
}

// activeRSAKey finds the issuer's rsabssa key with ID id among the epochs
// a directory published at now lists.
func (is *Issuer) activeRSAKey(id token.KeyID, now time.Time) (*rsabssa.PrivateKey, token.Status, error) {
	start, err := is.epochStart(now)
	if err != nil {
		return nil, 0, err
	}
	for e := range is.epochs {
		nb := start + uint32(e)*is.epoch
		for _, st := range is.statuses {
			e, err := is.rsaKey(st.Code, nb, false)
			if errors.Is(err, ErrKeyNotFound) {
				continue
			}
			if err != nil {
				return nil, 0, err
			}
			if e.id == id {
				return e.key, st.Code, nil
			}
		}
	}
	return nil, 0, fmt.Errorf("%w: no current or upcoming rsabssa key has ID %v", ErrNotIssuing, id)
}

// Respond answers a holder's blind token request (RFC 9474 BlindSign for
// every blinded message) for a holder to whom the issuer's own policy has
// given status. Authenticate the holder and decide its status from your
// own evidence first, then call Respond: it parses the request strictly,
// finds its key among the keys of the current and upcoming epochs, refuses
// a request for any other status than status with ErrStatusNotAssigned,
// then signs each blinded message with a constant-time CRT private
// operation whose result is checked (s^e = m) before anything is returned.
//
// The issuer learns only the key (so the status and epoch) and the count:
// blinded messages are uniformly random to it, and it never sees a token.
//
// A request is at most MaxRequestSize bytes; a longer one is refused as
// malformed without being read.
func (is *Issuer) Respond(request []byte, now time.Time, status token.Status) ([]byte, error) {
	id, count, elems, k, keyStatus, err := is.checkRequest(request, now)
	if err != nil {
		return nil, err
	}
	if keyStatus != status {
		return nil, fmt.Errorf("%w: requested status %d", ErrStatusNotAssigned, keyStatus)
	}
	resp := format.AppendBlindHeader(make([]byte, 0, format.BlindSize(count)), &id, count)
	for i := range count {
		s, err := k.BlindSign(elems[i*format.ElementSize : (i+1)*format.ElementSize])
		switch {
		case errors.Is(err, rsabssa.ErrInvalidBlindedMessage):
			return nil, fmt.Errorf("%w: blinded message %d is not in [1, n)", ErrMalformedRequest, i)
		case err != nil:
			return nil, ErrSigning
		}
		resp = append(resp, s...)
	}
	return resp, nil
}

// RequestStatus checks a blind token request as Respond does before it
// signs anything (its encoding, the count the directory fixes, its key
// among the keys of the current and upcoming epochs) and returns the
// status of its key: the status the holder asks for. An issuer that
// decides with a receipt (Decide) calls it first, so that it decides
// only about requests it could grant; Respond still checks each blinded
// message. It returns the errors of Respond: ErrMalformedRequest,
// ErrCount, ErrNotIssuing.
func (is *Issuer) RequestStatus(request []byte, now time.Time) (token.Status, error) {
	_, _, _, _, st, err := is.checkRequest(request, now)
	return st, err
}

// checkRequest parses a blind request and finds its key.
func (is *Issuer) checkRequest(request []byte, now time.Time) (id [8]byte, count int, elems []byte, k *rsabssa.PrivateKey, st token.Status, err error) {
	if err = is.ready(); err != nil {
		return
	}
	if !is.publishes(token.RSABSSA) {
		err = fmt.Errorf("%w: the issuer does not publish rsabssa keys", ErrNotIssuing)
		return
	}
	if id, count, elems, err = format.ParseBlind(request); err != nil {
		err = fmt.Errorf("%w: %v", ErrMalformedRequest, err)
		return
	}
	if n := is.decision.tokensPerRequest; n != 0 && count != n {
		err = fmt.Errorf("%w: %d tokens requested, the directory fixes %d", ErrCount, count, n)
		return
	}
	k, st, err = is.activeRSAKey(id, now)
	return
}

func (is *Issuer) publishes(s token.Suite) bool { return slices.Contains(is.suites, s) }
