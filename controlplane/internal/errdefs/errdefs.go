// Package errdefs holds the error kinds the control plane core returns.
// Each boundary (gRPC, CLI) maps these kinds to its own codes in one table,
// so callers compare with errors.Is and never by message.
package errdefs

import "errors"

var (
	// ErrNotFound: the named object does not exist or is not visible to the caller.
	ErrNotFound = errors.New("not found")
	// ErrInvalid: the caller sent a value that can never be accepted.
	ErrInvalid = errors.New("invalid argument")
	// ErrPermission: the caller is known but may not do this.
	ErrPermission = errors.New("permission denied")
	// ErrUnauthenticated: the caller's credential (join token, certificate) is not valid.
	ErrUnauthenticated = errors.New("unauthenticated")
	// ErrConflict: the object is not in a state that allows the change.
	ErrConflict = errors.New("conflict")
	// ErrUnavailable: try again later (e.g. a watcher fell behind).
	ErrUnavailable = errors.New("unavailable")
	// ErrTooManyAttempts: the caller failed too often and must wait.
	ErrTooManyAttempts = errors.New("too many attempts")
	// ErrNotImplemented: the feature is asked for but not built yet.
	ErrNotImplemented = errors.New("not implemented")
)
