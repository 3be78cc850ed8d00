package export

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// syslogSink sends each line as one RFC 5424 message: over a unix
// datagram socket (/dev/log) or UDP one message per datagram, over TCP
// with octet-counting framing (RFC 6587). The message is the JSON line;
// the header carries the event's time, its host, the kind as MSGID, and
// severity warning for denied escalations, info otherwise, in facility
// authpriv.
type syslogSink struct {
	u       *url.URL
	network string
	addr    string
	mu      sync.Mutex
	conn    net.Conn
}

// NewSyslog is the sink for --export-syslog unix:///dev/log,
// udp://HOST:PORT or tcp://HOST:PORT. It connects on first delivery.
func NewSyslog(raw string) (Sink, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("syslog address %q: %w", raw, err)
	}
	s := &syslogSink{u: u}
	switch u.Scheme {
	case "unix":
		s.network, s.addr = "unixgram", u.Path
	case "udp", "tcp":
		s.network, s.addr = u.Scheme, u.Host
	default:
		return nil, fmt.Errorf("syslog address %q is not unix:///path, udp://HOST:PORT or tcp://HOST:PORT", raw)
	}
	return s, nil
}

func (s *syslogSink) Name() string { return "syslog:" + s.u.String() }

const (
	facilityAuthpriv = 10
	severityWarning  = 4
	severityInfo     = 6
)

func (s *syslogSink) Deliver(ctx context.Context, lines [][]byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn == nil {
		var d net.Dialer
		conn, err := d.DialContext(ctx, s.network, s.addr)
		if err != nil {
			return fmt.Errorf("connect to syslog: %w", err)
		}
		s.conn = conn
	}
	for _, l := range lines {
		_ = s.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
		if _, err := s.conn.Write(s.frame(message(l))); err != nil {
			s.conn.Close()
			s.conn = nil
			return fmt.Errorf("send to syslog: %w", err)
		}
	}
	return nil
}

func (s *syslogSink) frame(msg []byte) []byte {
	if s.network != "tcp" {
		return msg
	}
	return append([]byte(strconv.Itoa(len(msg))+" "), msg...)
}

// header is what of a line the syslog header needs.
type header struct {
	Time     string `json:"time"`
	Hostname string `json:"hostname"`
	Kind     string `json:"kind"`
	Detail   struct {
		Allowed *bool `json:"allowed"`
	} `json:"detail"`
}

// message is one RFC 5424 message: <PRI>1 TIMESTAMP HOSTNAME APP-NAME
// PROCID MSGID STRUCTURED-DATA MSG.
func message(line []byte) []byte {
	var h header
	_ = json.Unmarshal(line, &h)
	sev := severityInfo
	if h.Kind == "escalation" && h.Detail.Allowed != nil && !*h.Detail.Allowed {
		sev = severityWarning
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "<%d>1 %s %s zpam - %s - ", facilityAuthpriv*8+sev, nilOr(h.Time, 64), nilOr(h.Hostname, 255), nilOr(h.Kind, 32))
	b.Write(line)
	return b.Bytes()
}

// nilOr is s as a header field: printable US-ASCII without spaces, cut
// to n, or the NILVALUE "-".
func nilOr(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if r < 33 || r > 126 {
			return -1
		}
		return r
	}, s)
	if s == "" {
		return "-"
	}
	return s[:min(len(s), n)]
}

func (s *syslogSink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn == nil {
		return nil
	}
	return s.conn.Close()
}
