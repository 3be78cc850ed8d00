// Package jointoken is the wire format of an enrollment join token.
//
// A token is "zpam1.<secret>.<ca-fingerprint>": the secret is 32 random bytes
// in unpadded base64url and the fingerprint is the lowercase hex SHA-256 of
// the control plane CA certificate (DER). Carrying the fingerprint lets an
// agent given only --server and --join-token verify the server on first
// contact. Only a hash of the secret is stored by the control plane.
package jointoken

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

const prefix = "zpam1"

// ErrMalformed is returned for any string that is not a join token.
var ErrMalformed = errors.New("malformed join token")

// Token is a parsed join token.
type Token struct {
	Secret        string
	CAFingerprint string
}

// New makes a token with a fresh secret for the CA whose DER is caDER.
func New(caDER []byte) (Token, error) {
	buf := make([]byte, 32)
	if _, err := rand.Read(buf); err != nil {
		return Token{}, fmt.Errorf("read random: %w", err)
	}
	return Token{Secret: base64.RawURLEncoding.EncodeToString(buf), CAFingerprint: Fingerprint(caDER)}, nil
}

// String renders the token as handed to an operator.
func (t Token) String() string {
	return prefix + "." + t.Secret + "." + t.CAFingerprint
}

// SecretHash is what the control plane stores instead of the secret.
func (t Token) SecretHash() string {
	sum := sha256.Sum256([]byte(t.Secret))
	return hex.EncodeToString(sum[:])
}

// Parse reads a token produced by String.
func Parse(s string) (Token, error) {
	parts := strings.Split(strings.TrimSpace(s), ".")
	if len(parts) != 3 || parts[0] != prefix {
		return Token{}, fmt.Errorf("%w: expected zpam1.<secret>.<fingerprint>", ErrMalformed)
	}
	if raw, err := base64.RawURLEncoding.DecodeString(parts[1]); err != nil || len(raw) != 32 {
		return Token{}, fmt.Errorf("%w: secret is not 32 bytes of base64url", ErrMalformed)
	}
	if fp, err := hex.DecodeString(parts[2]); err != nil || len(fp) != sha256.Size {
		return Token{}, fmt.Errorf("%w: fingerprint is not a hex SHA-256", ErrMalformed)
	}
	return Token{Secret: parts[1], CAFingerprint: strings.ToLower(parts[2])}, nil
}

// Fingerprint is the lowercase hex SHA-256 of a certificate's DER bytes.
func Fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}
