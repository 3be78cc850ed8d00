package server

import (
	"errors"

	"github.com/zpam/zpam/controlplane/internal/config"
	"github.com/zpam/zpam/controlplane/internal/export"
)

// openSinks opens the --export-* sinks; on error those opened are closed.
func openSinks(cfg config.Serve) ([]export.Sink, error) {
	var sinks []export.Sink
	add := func(s export.Sink, err error) error {
		if err == nil {
			sinks = append(sinks, s)
		}
		return err
	}
	var errs []error
	for _, p := range cfg.ExportFiles {
		errs = append(errs, add(export.NewFile(p)))
	}
	for _, u := range cfg.ExportSyslog {
		errs = append(errs, add(export.NewSyslog(u)))
	}
	for _, u := range cfg.ExportHTTP {
		errs = append(errs, add(export.NewHTTP(u)))
	}
	if err := errors.Join(errs...); err != nil {
		for _, s := range sinks {
			s.Close()
		}
		return nil, err
	}
	return sinks, nil
}
