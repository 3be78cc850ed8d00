package export

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// httpSink POSTs each batch as newline-delimited JSON. 2xx is delivered;
// 408, 429, 5xx and transport errors are retried; any other status is a
// refusal for good, and the batch is dropped and counted.
type httpSink struct {
	url    string
	client *http.Client
}

// NewHTTP is the sink for --export-http URL.
func NewHTTP(raw string) (Sink, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("export URL %q is not an http:// or https:// URL", raw)
	}
	return &httpSink{url: raw, client: &http.Client{Timeout: 30 * time.Second}}, nil
}

func (s *httpSink) Name() string { return "http:" + s.url }

func (s *httpSink) Deliver(ctx context.Context, lines [][]byte) error {
	var body bytes.Buffer
	for _, l := range lines {
		body.Write(l)
		body.WriteByte('\n')
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, &body)
	if err != nil {
		return fmt.Errorf("export request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	req.Header.Set("User-Agent", "pam-controlplane")
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("post to %s: %w", s.url, err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	switch c := resp.StatusCode; {
	case c >= 200 && c < 300:
		return nil
	case c == http.StatusRequestTimeout || c == http.StatusTooManyRequests || c >= 500:
		return fmt.Errorf("post to %s: %s", s.url, resp.Status)
	}
	return fmt.Errorf("post to %s: %s: %w", s.url, resp.Status, ErrRejected)
}

func (s *httpSink) Close() error {
	s.client.CloseIdleConnections()
	return nil
}
