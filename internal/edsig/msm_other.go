//go:build !amd64 || purego

package edsig

// vecPippenger is empty where there is no vector field arithmetic.
type vecPippenger struct{}

// vecStrausMax is unused where there is no vector arithmetic.
const vecStrausMax = strausMax

func vecWindow(n int) uint { return pippengerWindow(n) }

// multVecVarTime is multVarTime: this build has no vector arithmetic.
func (w *pippenger) multVecVarTime(out *extPoint, pts []affinePoint, zs []scalar128, extra []extraTerm, c uint) {
	w.multVarTime(out, pts, zs, extra, c)
}
