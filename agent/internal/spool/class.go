package spool

import (
	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
)

// class is a queue: privileged events are dropped only when no other
// event is left to drop.
type class int

const (
	classPriv class = iota
	classBulk
	numClasses
)

var classDirs = [numClasses]string{classPriv: "priv", classBulk: "bulk"}

func classOf(k commonv1.EventKind) class {
	switch k {
	case commonv1.EventKind_EVENT_KIND_ESCALATION, commonv1.EventKind_EVENT_KIND_LOGIN, commonv1.EventKind_EVENT_KIND_GRANT,
		commonv1.EventKind_EVENT_KIND_RESIDUE:
		return classPriv
	}
	return classBulk
}
