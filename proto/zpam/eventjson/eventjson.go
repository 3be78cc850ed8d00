// Package eventjson is the JSON lines form of a telemetry event, shared
// by `pamctl audit --json` and the control plane's SIEM exports so that
// both print the same keys. Keys are stable: every one is present in
// every line, times are RFC 3339 in UTC.
package eventjson

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
)

// Line is one event as JSON. Detail is the kind's own message (exec,
// exit, escalation, login, grant, agent, recording, residue) with its proto field
// names, every field present.
type Line struct {
	Time      string          `json:"time"`
	ID        string          `json:"id"`
	HostID    string          `json:"host_id"`
	Hostname  string          `json:"hostname"`
	Kind      string          `json:"kind"`
	User      string          `json:"user"`
	GrantID   string          `json:"grant_id"`
	RequestID string          `json:"request_id"`
	Approvers []string        `json:"approvers"`
	Detail    json.RawMessage `json:"detail"`
}

var detailJSON = protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: true}

// Marshal is ev as one line of JSON, without the newline.
func Marshal(ev *commonv1.Event) ([]byte, error) {
	detail := json.RawMessage("{}")
	if m := detailMessage(ev); m != nil {
		b, err := detailJSON.Marshal(m)
		if err != nil {
			return nil, fmt.Errorf("encode event detail: %w", err)
		}
		detail = b // re-encoded compact by encoding/json
	}
	approvers := ev.GetApprovers()
	if approvers == nil {
		approvers = []string{}
	}
	return json.Marshal(Line{
		Time: ev.GetTime().AsTime().UTC().Format(time.RFC3339Nano), ID: ev.GetId(), HostID: ev.GetHostId(),
		Hostname: ev.GetHostname(), Kind: KindName(ev.GetKind()), User: ev.GetUser(), GrantID: ev.GetGrantId(),
		RequestID: ev.GetRequestId(), Approvers: approvers, Detail: detail,
	})
}

func detailMessage(ev *commonv1.Event) proto.Message {
	switch d := ev.GetDetail().(type) {
	case *commonv1.Event_Exec:
		return d.Exec
	case *commonv1.Event_Exit:
		return d.Exit
	case *commonv1.Event_Escalation:
		return d.Escalation
	case *commonv1.Event_Login:
		return d.Login
	case *commonv1.Event_Grant:
		return d.Grant
	case *commonv1.Event_Agent:
		return d.Agent
	case *commonv1.Event_Recording:
		return d.Recording
	case *commonv1.Event_Residue:
		return d.Residue
	}
	return nil
}

// KindName is the lower-case name of a kind without its prefix: exec,
// exit, escalation, login, grant, agent, recording, residue.
func KindName(k commonv1.EventKind) string {
	return strings.ToLower(strings.TrimPrefix(k.String(), "EVENT_KIND_"))
}

// KindNames lists the names ParseKind accepts.
func KindNames() []string {
	var out []string
	for n := range int32(len(commonv1.EventKind_name)) {
		if n != 0 {
			out = append(out, KindName(commonv1.EventKind(n)))
		}
	}
	return out
}

// ParseKind reads a kind by its name.
func ParseKind(s string) (commonv1.EventKind, error) {
	v, ok := commonv1.EventKind_value["EVENT_KIND_"+strings.ToUpper(s)]
	if !ok || v == 0 {
		return 0, fmt.Errorf("%q is not an event kind; accepted: %s", s, strings.Join(KindNames(), ", "))
	}
	return commonv1.EventKind(v), nil
}
