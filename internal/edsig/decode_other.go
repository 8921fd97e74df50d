//go:build !amd64 || purego

package edsig

// useFE8 is never set here: this build has no vector field arithmetic.
var useFE8 = false

// decodeNegManyVarTime sets out[i] to −R for the point R encoded by
// enc[i], for every i, and appends base+i to dropped for each enc[i] that
// is not a canonical point encoding.
func decodeNegManyVarTime(out []affinePoint, enc [][32]byte, base int, dropped []int32) []int32 {
	return decodeNegPairsVarTime(out, enc, base, dropped)
}

// useFE4 is never set here either.
var useFE4 = false
