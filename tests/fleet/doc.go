// Package fleet simulates a fleet of agents against a real control plane
// process: thousands of hosts in one process, each enrolled with its own
// join token, holding its own mutual-TLS connection and its own
// WatchGrants stream that resumes from the last revision it saw, the way
// pam-agent does. Every grant event is checked as it arrives (revision
// order, nothing twice) and timestamped, so a caller that issues a change
// can tell when each targeted host received it and whether any host
// missed it.
//
// The stream loop is written here rather than taken from the agent's
// cpclient, which Go's internal-package rule keeps out of reach of tests/.
// It keeps the agent's reconnect pacing (capped exponential backoff drawn
// from the upper half, 0.5 s to 30 s) so that a reconnect storm looks as
// it would from real agents, and it keeps its own memory small (one
// goroutine per stream, small gRPC buffers), so that figures measured
// beside it are the control plane's.
package fleet
