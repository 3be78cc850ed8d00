package eventjson_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	commonv1 "github.com/zpam/zpam/proto/zpam/common/v1"
	"github.com/zpam/zpam/proto/zpam/eventjson"
)

func TestMarshalHasStableKeysAndUTCTimes(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 30, 0, 500, time.FixedZone("CET", 3600))
	ev := &commonv1.Event{Id: "e1", HostId: "h1", Hostname: "web-1", Time: timestamppb.New(at), Kind: commonv1.EventKind_EVENT_KIND_EXEC,
		User: "alice", GrantId: "g1", Detail: &commonv1.Event_Exec{Exec: &commonv1.ExecEvent{Filename: "/usr/bin/id", Argv: []string{"id", "-u"}}}}
	b, err := eventjson.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil || strings.Contains(string(b), "\n") {
		t.Fatalf("%s is not one JSON line: %v", b, err)
	}
	if got["time"] != "2026-03-01T11:30:00.0000005Z" || got["kind"] != "exec" || got["grant_id"] != "g1" {
		t.Fatalf("line %s", b)
	}
	keys := make([]string, 0, len(got))
	for k := range got {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	want := []string{"approvers", "detail", "grant_id", "host_id", "hostname", "id", "kind", "request_id", "time", "user"}
	if !slices.Equal(keys, want) {
		t.Fatalf("keys %v, want %v", keys, want)
	}
	detail := got["detail"].(map[string]any)
	if argv, _ := detail["argv"].([]any); len(argv) != 2 || detail["argv_truncated"] != false || detail["cwd"] != "" {
		t.Fatalf("detail %v: want argv and every field present", detail)
	}
}

func TestParseKind(t *testing.T) {
	for _, name := range eventjson.KindNames() {
		k, err := eventjson.ParseKind(name)
		if err != nil || eventjson.KindName(k) != name {
			t.Fatalf("ParseKind(%q) = %v, %v", name, k, err)
		}
	}
	if _, err := eventjson.ParseKind("bogus"); err == nil || !strings.Contains(err.Error(), `"bogus" is not an event kind; accepted: exec, exit, escalation`) {
		t.Fatalf("ParseKind(bogus) = %v", err)
	}
}
