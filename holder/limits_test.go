package holder

import (
	"errors"
	"testing"

	"github.com/statustoken/statustoken/internal/misusetest"
	"github.com/statustoken/statustoken/issue"
)

// TestInputLimits checks Finalize's documented maximum: the largest valid
// response has exactly MaxResponseSize bytes, and a response ten times
// larger is refused with ErrResponse without being decoded. Like every
// refusal it uses the Pending up.
func TestInputLimits(t *testing.T) {
	is := testIssuer(t, nil)
	h := testHolder(t, is)
	p, req, resp := request(t, is, h, 1, MaxTokens)
	if len(req) != issue.MaxRequestSize {
		t.Fatalf("largest request: %d bytes, MaxRequestSize %d", len(req), issue.MaxRequestSize)
	}
	if len(resp) != MaxResponseSize {
		t.Fatalf("largest response: %d bytes, MaxResponseSize %d", len(resp), MaxResponseSize)
	}
	bigResp := make([]byte, 10*MaxResponseSize)
	copy(bigResp, resp)
	// Each measured run refuses the response for a pending request of
	// its own: a refusal uses its request up.
	var spare []*Pending
	for range misusetest.Runs - 1 {
		q, _, _ := request(t, is, h, 1, MaxTokens)
		spare = append(spare, q)
	}
	spare = append(spare, p)
	var err error
	if n := misusetest.Allocated(func() {
		_, err = h.Finalize(spare[0], bigResp)
		spare = spare[1:]
	}); n > misusetest.MaxWork {
		t.Errorf("Holder.Finalize: allocated %d bytes to refuse %d", n, len(bigResp))
	}
	if !errors.Is(err, ErrResponse) {
		t.Errorf("Holder.Finalize of %d bytes: %v, want %v", len(bigResp), err, ErrResponse)
	}
	// The oversized response used up the pending request.
	if !p.used.Load() {
		t.Fatal("an oversized response left the pending request unused")
	}
	if _, err := h.Finalize(p, resp); !errors.Is(err, ErrPending) {
		t.Fatalf("Finalize after an oversized response: %v", err)
	}
	// One byte over the limit is refused too.
	p, _, resp = request(t, is, h, 1, MaxTokens)
	if _, err := h.Finalize(p, append(resp, 0)); !errors.Is(err, ErrResponse) {
		t.Fatalf("response of MaxResponseSize+1 bytes: %v", err)
	}
	// And the largest valid response finalizes.
	p, _, resp = request(t, is, h, 2, MaxTokens)
	toks, err := h.Finalize(p, resp)
	if err != nil || len(toks) != MaxTokens {
		t.Fatalf("largest response: %d tokens, %v", len(toks), err)
	}
}
