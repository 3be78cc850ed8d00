// Package harness runs the exec benchmark: it sets up a control plane, a
// non-root user and a setuid binary, times fork+exec in interleaved rounds
// with and without the agent, and removes everything it attached or
// created, on failure too. It needs root and Linux.
package harness
