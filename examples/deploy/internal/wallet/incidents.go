package wallet

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"time"
)

// IncidentsFile, in the state directory, records every answer to a token
// request that the wallet refused for its receipt: one JSON line each,
// appended and synced, never rewritten. An issuer that withholds a
// receipt leaves the holder no signature; this is the holder's own
// record of it, to show with the error message (token/SPEC.md, "Checking
// a receipt").
const IncidentsFile = "incidents"

// incident is one line of IncidentsFile.
type incident struct {
	Time          string `json:"time"`
	Issuer        string `json:"issuer"`
	HTTPStatus    int    `json:"http_status,omitempty"`
	Problem       string `json:"problem"`
	RequestSHA256 string `json:"request_sha256"`
	Commitment    string `json:"commitment,omitempty"`
	Receipt       string `json:"receipt,omitempty"` // the refused receipt, standard base64
}

// recordIncident appends an incident to the state's IncidentsFile and
// syncs it. The caller holds the state's lock.
func recordIncident(state string, now time.Time, issuer string, code int, problem string, req []byte, commitment *[32]byte, receipt []byte) error {
	sum := sha256.Sum256(req)
	in := incident{Time: now.UTC().Format(time.RFC3339), Issuer: issuer, HTTPStatus: code, Problem: problem,
		RequestSHA256: hex.EncodeToString(sum[:])}
	if commitment != nil {
		in.Commitment = hex.EncodeToString(commitment[:])
	}
	if len(receipt) > 0 {
		in.Receipt = base64.StdEncoding.EncodeToString(receipt)
	}
	line, err := json.Marshal(in)
	if err != nil {
		return err
	}
	name := filepath.Join(state, IncidentsFile)
	_, statErr := os.Stat(name)
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	if _, err = f.Write(append(line, '\n')); err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && statErr != nil {
		err = syncDir(state)
	}
	return err
}
