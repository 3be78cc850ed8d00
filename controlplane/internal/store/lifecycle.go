package store

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
)

// appendLifecycle writes an audit event into the telemetry events as
// well, in the same transaction, so that one query, one Follow and one
// export carry the control plane's request and grant lifecycle beside
// what the hosts observed.
func (t *Tx) appendLifecycle(e AuditEvent) error {
	hostname, err := t.hostname(e.HostID)
	if err != nil {
		return err
	}
	id, err := uuid.NewV7()
	if err != nil {
		return fmt.Errorf("lifecycle event id: %w", err)
	}
	ev := &commonv1.Event{
		Id: id.String(), HostId: e.HostID, Hostname: hostname, Time: timestamppb.New(e.At),
		Kind: commonv1.EventKind_EVENT_KIND_GRANT, User: e.User, GrantId: e.GrantID, RequestId: e.RequestID,
		Detail: &commonv1.Event_Grant{Grant: &commonv1.LifecycleEvent{Action: e.Kind, Actor: e.Actor, Detail: detailText(e.Detail)}},
	}
	data, err := proto.Marshal(ev)
	if err != nil {
		return fmt.Errorf("encode lifecycle event: %w", err)
	}
	_, err = t.InsertEvents([]EventRow{{
		HostID: e.HostID, ID: ev.Id, Hostname: hostname, At: e.At, Kind: int32(ev.Kind),
		User: e.User, GrantID: e.GrantID, RequestID: e.RequestID, Data: data,
	}})
	return err
}

// detailText is a one-value detail as that value ("reason": "…" reads
// as the reason), anything else as JSON with sorted keys.
func detailText(d map[string]any) string {
	switch len(d) {
	case 0:
		return ""
	case 1:
		for _, v := range d {
			if s, ok := v.(string); ok {
				return s
			}
		}
	}
	b, _ := json.Marshal(d) // encoding/json sorts map keys
	return string(b)
}

// hostname is host id's name, empty for no host or an unknown one. It
// reads the one column: a group grant writes lifecycle events for a
// thousand hosts, and decoding each host's labels for its name was a
// tenth of the decision.
func (t *Tx) hostname(id string) (string, error) {
	if id == "" {
		return "", nil
	}
	var name string
	err := t.queryRow(`SELECT hostname FROM hosts WHERE id = ?`, id).Scan(&name)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read hostname of %s: %w", id, err)
	}
	return name, nil
}
