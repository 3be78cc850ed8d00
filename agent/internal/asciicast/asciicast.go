// Package asciicast writes and plays asciicast v2 recordings: a JSON
// header line, then one JSON array per event, [seconds, code, data], with
// code "o" (output), "i" (input) or "r" (resize, data "COLSxROWS"). Any
// asciinema player reads what Writer writes.
package asciicast

// Version is the asciicast format version written and read.
const Version = 2

// Header is the first line of a recording.
type Header struct {
	Version   int               `json:"version"`
	Width     uint32            `json:"width"`
	Height    uint32            `json:"height"`
	Timestamp int64             `json:"timestamp"`
	Title     string            `json:"title,omitempty"`
	Env       map[string]string `json:"env,omitempty"`
}

// Event codes.
const (
	Output = "o"
	Input  = "i"
	Resize = "r"
)
