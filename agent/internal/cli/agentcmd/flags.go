package agentcmd

import (
	"errors"
	"sort"
	"strings"

	"github.com/zpam/zpam/agent/internal/config"
	"github.com/zpam/zpam/agent/internal/kernel"
)

// modeValue is --mode, checked when parsed.
type modeValue struct{ mode *kernel.Mode }

func (v modeValue) String() string {
	if v.mode == nil {
		return ""
	}
	return string(*v.mode)
}

func (v modeValue) Set(s string) error {
	m, err := kernel.ParseMode(s)
	if err != nil {
		return errors.New("is not one of auto, lsm, signal, audit")
	}
	*v.mode = m
	return nil
}

func (modeValue) Type() string { return "mode" }

// labelsValue is --labels k=v,…, checked when parsed.
type labelsValue struct{ labels *map[string]string }

func (v labelsValue) String() string {
	if v.labels == nil {
		return ""
	}
	pairs := make([]string, 0, len(*v.labels))
	for k, val := range *v.labels {
		pairs = append(pairs, k+"="+val)
	}
	sort.Strings(pairs)
	return strings.Join(pairs, ",")
}

func (v labelsValue) Set(s string) error {
	l, err := config.ParseLabels(s)
	if err != nil {
		return errors.New("is not a list like env=prod,role=db: " + err.Error())
	}
	*v.labels = l
	return nil
}

func (labelsValue) Type() string { return "k=v,…" }

// serversValue is --server HOST:PORT[,HOST:PORT…]; checked with the
// rest of the config, so that the error names the bad address.
type serversValue struct{ servers *config.Servers }

func (v serversValue) String() string {
	if v.servers == nil {
		return ""
	}
	return v.servers.String()
}

func (v serversValue) Set(s string) error {
	*v.servers = config.ParseServers(s)
	return nil
}

func (serversValue) Type() string { return "HOST:PORT[,…]" }
