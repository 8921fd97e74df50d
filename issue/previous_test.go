package issue

import (
	"testing"
	"time"

	"github.com/statustoken/statustoken/token"
	"github.com/statustoken/statustoken/verify"
)

// TestDirectoryListsPreviousKeys: within PreviousKeysFor of an epoch's
// start, the directory still lists the previous epoch's keys (those the
// key store holds), so that a token a scanner accepts within its skew
// is not an unknown key to a scanner holding the newer directory.
func TestDirectoryListsPreviousKeys(t *testing.T) {
	if PreviousKeysFor != 2*verify.DefaultSkew {
		t.Fatalf("PreviousKeysFor %v, want twice verify.DefaultSkew", PreviousKeysFor)
	}
	is := testIssuer(t, token.Ed25519, token.RSABSSA)
	day := testNow.Truncate(24 * time.Hour)
	previous := func(at time.Time) (ed, rsa int) {
		data, _, err := is.Directory(at, 1)
		if err != nil {
			t.Fatal(err)
		}
		d, err := token.ParseDirectory(data)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range d.Keys {
			if k.Expiry == uint32(day.Unix()) {
				if k.Suite == token.Ed25519 {
					ed++
				} else {
					rsa++
				}
			}
		}
		return ed, rsa
	}
	// The key store holds no RSA key of the day before: only the
	// derived Ed25519 keys are listed.
	if ed, rsa := previous(day.Add(time.Minute)); ed != len(testStatuses) || rsa != 0 {
		t.Errorf("at 00:01: %d Ed25519 and %d RSA keys of the previous epoch, want %d and 0", ed, rsa, len(testStatuses))
	}
	if ed, rsa := previous(day.Add(PreviousKeysFor - time.Second)); ed != len(testStatuses) {
		t.Errorf("just before PreviousKeysFor: %d Ed25519 and %d RSA keys of the previous epoch", ed, rsa)
	}
	if ed, rsa := previous(day.Add(PreviousKeysFor)); ed+rsa != 0 {
		t.Errorf("after PreviousKeysFor: %d keys of the previous epoch", ed+rsa)
	}
}
