// Package e2e holds the end-to-end test of the deployment examples: it
// builds the issuer, wallet and scanner, runs the issuer on a loopback
// port with a private redis-server, and plays a holder and two gates.
package e2e
