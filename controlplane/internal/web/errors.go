package web

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/zpam/zpam/controlplane/internal/errdefs"
)

// errorStatus is the one place core error kinds become HTTP statuses.
var errorStatus = []struct {
	kind   error
	status int
}{
	{errdefs.ErrNotFound, http.StatusNotFound},
	{errdefs.ErrInvalid, http.StatusBadRequest},
	{errdefs.ErrPermission, http.StatusForbidden},
	{errdefs.ErrUnauthenticated, http.StatusUnauthorized},
	{errdefs.ErrConflict, http.StatusConflict},
	{errdefs.ErrUnavailable, http.StatusServiceUnavailable},
	{errdefs.ErrNotImplemented, http.StatusNotImplemented},
	{context.DeadlineExceeded, http.StatusServiceUnavailable},
}

// failure is an error as the console shows it: a status and one sentence.
type failure struct {
	status  int
	message string
}

// failureOf maps a core error. The message drops the kind's suffix
// (": permission denied"), which the status already says. Unknown errors
// are internal and their text is not shown: it may name files or SQL.
func failureOf(err error) failure {
	for _, e := range errorStatus {
		if errors.Is(err, e.kind) {
			return failure{status: e.status, message: sentence(strings.TrimSuffix(err.Error(), ": "+e.kind.Error()))}
		}
	}
	return failure{status: http.StatusInternalServerError, message: "internal error; see the control plane log."}
}

// sentence ends s with a full stop. The first letter stays as the core
// wrote it: it is often a user name, and those are case-sensitive.
func sentence(s string) string {
	if s == "" {
		return s
	}
	if !strings.HasSuffix(s, ".") && !strings.HasSuffix(s, ")") {
		s += "."
	}
	return s
}

// Failures of the console's own checks.
var (
	errStaleForm = failure{status: http.StatusForbidden,
		message: "This form is stale or did not come from this console (CSRF token missing or wrong); reload the page and try again."}
	errStaleLogin = failure{status: http.StatusForbidden,
		message: "The sign-in form expired or did not come from this console; reload the page and try again."}
)
