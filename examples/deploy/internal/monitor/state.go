package monitor

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/statustoken/statustoken/token"
)

// StateFormat names the state's encoding.
const StateFormat = "statustoken-monitor-state/v1"

// MaxStateSize bounds a state's encoding that ParseState reads.
const MaxStateSize = 64 << 20

// State is what a Run verified, for the next Run to continue from: the
// last checkpoint verified (the next one must extend it), how many of the
// log's records were examined, and what the public rules across versions
// need to remember of them. Every key ever published is kept, because a
// withdrawn key must never return. Persist it with Marshal; the zero
// State is never valid, pass a nil *State for a first run.
type State struct {
	Format string `json:"format"`
	// Checkpoint is the signed checkpoint note last verified, with its
	// cosignatures.
	Checkpoint string `json:"checkpoint"`
	// Next is the index of the first record not yet examined.
	Next int64 `json:"next"`
	// LastSerial is the highest serial among the records examined, nil
	// before the first.
	LastSerial *uint64 `json:"last_serial,omitempty"`
	// Directory describes the last verified version.
	Directory *DirectoryState `json:"directory,omitempty"`
	// Keys is every key of every verified version, in order of first
	// appearance.
	Keys []*KeyState `json:"keys,omitempty"`
	// Statuses is every status code and name published, each code with
	// the name it was first published with.
	Statuses []token.StatusName `json:"statuses,omitempty"`
	// Slots maps each (suite, status, epoch), as slotName writes it, to
	// the last key published for it.
	Slots map[string]token.KeyID `json:"slots,omitempty"`
	// Alarms counts the alarms of every Run that led to this state.
	Alarms int `json:"alarms"`
	// DecisionLog is the decision log's verifier key that the newest
	// verified version with a decision policy names, empty before one.
	DecisionLog string `json:"decision_log,omitempty"`
	// Policies are the decision policies in force, one per epoch that a
	// verified version with a decision policy lists keys for, in order
	// of epoch.
	Policies []*EpochPolicy `json:"policies,omitempty"`
	// Decisions is the replay of the decision log, nil before the first.
	Decisions *DecisionState `json:"decisions,omitempty"`
}

// EpochPolicy is the decision policy in force in one epoch: every
// distinct reason that a verified version listing keys for the epoch
// publishes, in the order first seen (a code whose text or outcomes a
// later version changed is listed once for each).
type EpochPolicy struct {
	// Epoch is the epoch's start in Unix seconds, as decision records
	// carry it.
	Epoch   uint32         `json:"epoch"`
	Reasons []token.Reason `json:"reasons"`
}

// DecisionState is how far the decision log was replayed, and the
// tallies so far.
type DecisionState struct {
	// Log is the decision log's verifier key.
	Log string `json:"log"`
	// Checkpoint is the signed checkpoint note last verified, empty
	// before the first.
	Checkpoint string `json:"checkpoint,omitempty"`
	// Next is the index of the first record not yet counted.
	Next int64 `json:"next"`
	// Tallies are the counts per epoch, in order of epoch.
	Tallies []*EpochTally `json:"tallies,omitempty"`
}

// EpochTally counts the decision records of one epoch.
type EpochTally struct {
	Epoch uint32 `json:"epoch"`
	// Counts are the records by (outcome, reason, evidence), for the
	// reasons of the epoch's policy and the outcomes it may name.
	Counts []*Count `json:"counts"`
	// Unlisted counts the records of the epoch with a reason outside its
	// policy or an outcome that is no status (each raised an alarm).
	Unlisted int64 `json:"unlisted,omitempty"`
}

// Count is the number of decision records with one outcome, reason and
// evidence flag.
type Count struct {
	Outcome  token.Outcome `json:"outcome"`
	Reason   uint16        `json:"reason"`
	Evidence bool          `json:"evidence"`
	N        int64         `json:"n"`
}

// DirectoryState is what the rules remember of a verified version.
type DirectoryState struct {
	Serial      uint64             `json:"serial"`
	EpochLength uint32             `json:"epoch_length"`
	Statuses    []token.StatusName `json:"statuses"`
}

// KeyState is one published key.
type KeyState struct {
	ID        token.KeyID  `json:"key_id"`
	Suite     token.Suite  `json:"suite"`
	Status    token.Status `json:"status"`
	NotBefore uint32       `json:"not_before"`
	Expiry    uint32       `json:"expiry"`
	// FirstSerial is the serial of the first version that listed it.
	FirstSerial uint64 `json:"first_serial"`
	// WithdrawnSerial is the serial of the first version after it that
	// did not list it, or nil while every verified version since lists it.
	WithdrawnSerial *uint64 `json:"withdrawn_serial,omitempty"`
}

func (k *KeyState) slot() string { return slotName(k.Suite, k.Status, k.NotBefore) }

func slotName(s token.Suite, st token.Status, notBefore uint32) string {
	return fmt.Sprintf("%s/%d/%d", s, st, notBefore)
}

// Marshal returns the state's JSON encoding.
func (s *State) Marshal() ([]byte, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(s, "", "\t")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// ParseState decodes a state written by Marshal. Its checkpoint is
// checked against the trust policy by Run.
func ParseState(b []byte) (*State, error) {
	if len(b) > MaxStateSize {
		return nil, fmt.Errorf("monitor state of %d bytes, limit %d", len(b), MaxStateSize)
	}
	var s State
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("malformed monitor state: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("malformed monitor state: data after the state")
	}
	if err := s.check(); err != nil {
		return nil, err
	}
	return &s, nil
}

func (s *State) check() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("invalid monitor state: "+format, args...)
	}
	if s == nil {
		return bad("none")
	}
	if s.Format != StateFormat {
		return bad("format %q, want %q", s.Format, StateFormat)
	}
	if s.Checkpoint == "" {
		return bad("no checkpoint")
	}
	if s.Next < 0 || s.Alarms < 0 {
		return bad("negative count")
	}
	ids := make(map[token.KeyID]*KeyState, len(s.Keys))
	for _, k := range s.Keys {
		if k == nil || !k.Suite.Valid() {
			return bad("key without a valid suite")
		}
		if ids[k.ID] != nil {
			return bad("key %v listed twice", k.ID)
		}
		ids[k.ID] = k
	}
	for slot, id := range s.Slots {
		if k := ids[id]; k == nil || k.slot() != slot {
			return bad("slot %q names key %v, not one of its keys", slot, id)
		}
	}
	for i, p := range s.Policies {
		if p == nil || (i > 0 && s.Policies[i-1].Epoch >= p.Epoch) {
			return bad("decision policies not in order of epoch")
		}
	}
	if ds := s.Decisions; ds != nil {
		if ds.Log == "" || ds.Next < 0 {
			return bad("decision log replay without a log or with a negative count")
		}
		for i, t := range ds.Tallies {
			if t == nil || (i > 0 && ds.Tallies[i-1].Epoch >= t.Epoch) || t.Unlisted < 0 {
				return bad("decision tallies not in order of epoch")
			}
			for _, c := range t.Counts {
				if c == nil || c.N < 0 {
					return bad("a negative decision count")
				}
			}
		}
	}
	return nil
}

// clone returns a deep copy of s.
func (s *State) clone() *State {
	b, err := json.Marshal(s)
	if err != nil {
		panic("monitor: cannot encode a state: " + err.Error())
	}
	var c State
	if err := json.Unmarshal(b, &c); err != nil {
		panic("monitor: cannot decode a state: " + err.Error())
	}
	return &c
}
