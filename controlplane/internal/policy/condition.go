package policy

import (
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/ext"
)

// ConditionInput is what a `when:` expression sees as `request`.
type ConditionInput struct {
	User string `cel:"user"`
	// Host is the host's labels.
	Host map[string]string `cel:"host"`
	// Duration is in seconds.
	Duration      int64     `cel:"duration"`
	Reason        string    `cel:"reason"`
	TTY           bool      `cel:"tty"`
	SourceAddress string    `cel:"source_address"`
	Time          time.Time `cel:"time"`
}

// RiskInput is what a `when:` expression sees as `risk`: the request's
// risk score (0 to 100) and the names of the factors that make it, e.g.
// 'risk.score < 50 && !("new_source_address" in risk.factors)'.
type RiskInput struct {
	Score   int64    `cel:"score"`
	Factors []string `cel:"factors"`
}

// Condition is a compiled `when:` expression.
type Condition struct {
	text string
	prg  cel.Program
}

// costLimit bounds the work of one evaluation so a policy cannot stall
// request handling with a pathological expression.
const costLimit = 100000

var celEnv = sync.OnceValues(func() (*cel.Env, error) {
	return cel.NewEnv(
		ext.NativeTypes(ext.ParseStructTags(true), reflect.TypeFor[ConditionInput](), reflect.TypeFor[RiskInput]()),
		cel.Variable("request", cel.ObjectType("policy.ConditionInput")),
		cel.Variable("risk", cel.ObjectType("policy.RiskInput")),
		ext.Strings(),
	)
})

// CompileCondition type-checks expr; it must yield a bool.
func CompileCondition(expr string) (*Condition, error) {
	env, err := celEnv()
	if err != nil {
		return nil, fmt.Errorf("CEL environment: %w", err)
	}
	ast, iss := env.Compile(expr)
	if iss.Err() != nil {
		return nil, celError(iss.Err())
	}
	if ast.OutputType() != cel.BoolType {
		return nil, fmt.Errorf("CEL expression yields %s, expected bool", ast.OutputType())
	}
	prg, err := env.Program(ast, cel.CostLimit(costLimit))
	if err != nil {
		return nil, fmt.Errorf("CEL: %w", err)
	}
	return &Condition{text: expr, prg: prg}, nil
}

func (c *Condition) String() string { return c.text }

// Eval runs the condition; an evaluation error counts as false for the
// caller (fail closed) and is returned so it can be shown.
func (c *Condition) Eval(in ConditionInput, r RiskInput) (bool, error) {
	if r.Factors == nil {
		r.Factors = []string{}
	}
	out, _, err := c.prg.Eval(map[string]any{"request": &in, "risk": &r})
	if err != nil {
		return false, err
	}
	b, ok := out.Value().(bool)
	if !ok {
		return false, fmt.Errorf("CEL expression yielded %v, expected bool", out)
	}
	return b, nil
}

var celIssue = regexp.MustCompile(`^ERROR: <input>:\d+:(\d+): (.*)$`)

// celError keeps the first line of a CEL compile error; the rest is a
// caret drawing that does not fit a file:line message.
func celError(err error) error {
	first, _, _ := strings.Cut(err.Error(), "\n")
	if m := celIssue.FindStringSubmatch(first); m != nil {
		return fmt.Errorf("CEL error at column %s: %s", m[1], m[2])
	}
	return fmt.Errorf("CEL: %s", first)
}
