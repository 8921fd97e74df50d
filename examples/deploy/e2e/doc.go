// Package e2e holds the end-to-end test of the deployment examples: it
// builds the issuer, wallet and scanner and the litewitness witness, runs
// three witnesses and the issuer on loopback ports with a private
// redis-server, and plays holders, gates, and an authority that tries to
// show one wallet a split view of its directory.
package e2e
