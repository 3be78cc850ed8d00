package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"reflect"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// Load reads the YAML file at path. A missing file yields an empty Config
// unless namedBy says who named it ("--config", "PAM_AGENT_CONFIG"; empty
// for the default path): a file the user named must exist. Syntax errors
// name path:line. The caller applies flags to File.Config, then calls
// File.Check once.
func Load(path, namedBy string) (*File, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		if namedBy != "" {
			return nil, fmt.Errorf("config file %s does not exist; give an existing one with %s or leave it out to use %s when present", path, namedBy, DefaultPath)
		}
		return &File{Config: &Config{}, Path: path, lines: map[string]int{}}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return parse(path, data)
}

// File is a loaded config and where its keys were written.
type File struct {
	Config *Config
	Path   string
	lines  map[string]int
	flags  map[string]string
}

// SetByFlag records that a flag or its environment variable overrode
// field, so that an error in it names source ("--server",
// "PAM_AGENT_SERVER") rather than a line of the file.
func (f *File) SetByFlag(field, source string) {
	delete(f.lines, field)
	if f.flags == nil {
		f.flags = map[string]string{}
	}
	f.flags[field] = source
}

// Check runs CheckAndSetDefaults and, when the bad value came from the
// file, prefixes the error with path:line.
func (f *File) Check() error {
	err := f.Config.CheckAndSetDefaults()
	var fe *FieldError
	if !errors.As(err, &fe) {
		return err
	}
	if source, ok := f.flags[fe.Field]; ok {
		return fmt.Errorf("%s: %w", source, fe.Err)
	}
	if line, ok := f.lines[fe.Field]; ok {
		return fmt.Errorf("%s:%d: %w", f.Path, line, fe)
	}
	return err
}

func parse(path string, data []byte) (*File, error) {
	f := &File{Config: &Config{}, Path: path, lines: map[string]int{}}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, located(path, err)
	}
	recordLines(&root, f.lines)
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(f.Config); err != nil && !errors.Is(err, io.EOF) {
		return nil, located(path, err)
	}
	return f, nil
}

// recordLines notes the line of every top-level key.
func recordLines(root *yaml.Node, lines map[string]int) {
	if root.Kind != yaml.DocumentNode || len(root.Content) == 0 {
		return
	}
	m := root.Content[0]
	if m.Kind != yaml.MappingNode {
		return
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		lines[m.Content[i].Value] = m.Content[i].Line
	}
}

var (
	yamlLineRE    = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)
	unknownKeyRE  = regexp.MustCompile(`field (\S+) not found in type \S+`)
	unknownKeyMsg = `unknown key "$1"; known keys are ` + strings.Join(knownKeys(), ", ")
)

// knownKeys are Config's YAML keys, read from its tags so the message
// cannot fall behind the struct.
func knownKeys() []string {
	t := reflect.TypeFor[Config]()
	keys := make([]string, 0, t.NumField())
	for i := range t.NumField() {
		keys = append(keys, strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0])
	}
	return keys
}

// located rewrites yaml.v3's "yaml: line N: msg" errors as "path:N: msg".
func located(path string, err error) error {
	var te *yaml.TypeError
	msgs := []string{strings.TrimPrefix(err.Error(), "yaml: ")}
	if errors.As(err, &te) {
		msgs = te.Errors
	}
	out := make([]string, 0, len(msgs))
	for _, m := range msgs {
		if sub := yamlLineRE.FindStringSubmatch(m); sub != nil {
			m = path + ":" + sub[1] + ": " + sub[2]
		} else {
			m = path + ": " + m
		}
		out = append(out, unknownKeyRE.ReplaceAllString(m, unknownKeyMsg))
	}
	return errors.New(strings.Join(out, "; "))
}
