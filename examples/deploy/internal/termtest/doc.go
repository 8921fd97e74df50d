// Package termtest runs programs on a real 80x24 terminal, a detached
// tmux session, and checks what the screen shows: the root module's demo
// (its report fits 80 columns and ends with its verdict) and "wallet
// show" (an ed25519 token's whole QR code is on the screen with the
// token's details, and decodes to the token; an rsabssa token's, too
// large, is in the PNG the wallet says to open).
//
// The tests need tmux, and zbarimg (zbar-tools) to decode the captured
// code; without them they skip, unless CI is set, when they fail.
package termtest
