package policy

import (
	"fmt"

	"gopkg.in/yaml.v3"
)

// FieldError is one problem in a policy file, located by line.
type FieldError struct {
	File    string
	Line    int
	Field   string
	Problem string
}

func (e *FieldError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Problem)
	}
	return fmt.Sprintf("%s:%d: %s: %s", e.File, e.Line, e.Field, e.Problem)
}

// problems collects every error of a file so one edit can fix them all.
type problems struct {
	file string
	errs []error
}

func (p *problems) add(n *yaml.Node, field, format string, args ...any) {
	p.errs = append(p.errs, &FieldError{File: p.file, Line: n.Line, Field: field, Problem: fmt.Sprintf(format, args...)})
}
