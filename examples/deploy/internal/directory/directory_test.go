package directory

import "testing"

func TestIssuerURL(t *testing.T) {
	for _, ok := range []string{"http://127.0.0.1:8080", "https://issuer.example/", "https://issuer.example/base"} {
		if _, err := IssuerURL(ok); err != nil {
			t.Errorf("IssuerURL(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", "ftp://x", "127.0.0.1:8080", "https://", "https://x/?a=b", "https://u:p@x"} {
		if _, err := IssuerURL(bad); err == nil {
			t.Errorf("IssuerURL(%q) accepted", bad)
		}
	}
	for u, want := range map[string]bool{"http://localhost:1": true, "http://127.0.0.2": true, "http://[::1]:80": true,
		"http://10.0.0.1": false, "http://127.0.0.1.example": false, "http://example.test": false} {
		p, _ := IssuerURL(u)
		if got := Loopback(p); got != want {
			t.Errorf("Loopback(%s) = %v", u, got)
		}
	}
}
