//go:build !amd64 || purego

package edsig

// vecPippenger is empty where there is no vector field arithmetic.
type vecPippenger struct{}

// vec4Pippenger is empty where there is no vector field arithmetic.
type vec4Pippenger struct{}

// vecStrausMax is unused where there is no vector arithmetic.
const vecStrausMax = strausMax

func vecWindow(n int) uint { return pippengerWindow(n) }

// multVecVarTime is multVarTime: this build has no vector arithmetic.
func (w *pippenger) multVecVarTime(out *extPoint, pts []affinePoint, zs []scalar128, extra []extraTerm, c uint) {
	w.multVarTime(out, pts, zs, extra, c)
}

func vec4Window(n int) uint { return pippengerWindow(n) }

// multVec4VarTime is multVarTime: this build has no vector arithmetic.
func (w *pippenger) multVec4VarTime(out *extPoint, pts []affinePoint, zs []scalar128, extra []extraTerm, c uint) {
	w.multVarTime(out, pts, zs, extra, c)
}
