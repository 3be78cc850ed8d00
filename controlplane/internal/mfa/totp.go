// Package mfa enrolls people for TOTP and verifies their codes.
package mfa

import (
	"fmt"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// Issuer names the product in authenticator apps.
const Issuer = "ZPAM"

// period and skew are the TOTP parameters; Verify accepts the current step
// and one on either side for clock drift.
const (
	period = 30
	skew   = 1
)

// Enrollment is a new TOTP secret and the otpauth:// URI that carries it.
type Enrollment struct {
	Secret string
	URI    string
}

// Enroll makes a new TOTP secret for account.
func Enroll(account string) (Enrollment, error) {
	key, err := totp.Generate(totp.GenerateOpts{Issuer: Issuer, AccountName: account, Period: period})
	if err != nil {
		return Enrollment{}, fmt.Errorf("generate TOTP secret: %w", err)
	}
	return Enrollment{Secret: key.Secret(), URI: key.URL()}, nil
}

// Verify checks code against secret at now and returns the time step the
// code belongs to. The caller must refuse a step it has already accepted:
// that is what stops a code from being replayed within its window.
func Verify(secret, code string, now time.Time) (int64, bool) {
	opts := totp.ValidateOpts{Period: period, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}
	step := now.Unix() / period
	for delta := int64(-skew); delta <= skew; delta++ {
		at := time.Unix((step+delta)*period, 0)
		if ok, err := totp.ValidateCustom(code, secret, at, withSkew(opts, 0)); err == nil && ok {
			return step + delta, true
		}
	}
	return 0, false
}

func withSkew(o totp.ValidateOpts, s uint) totp.ValidateOpts {
	o.Skew = s
	return o
}

// Code is the current code for secret, for tests and tooling.
func Code(secret string, now time.Time) (string, error) {
	return totp.GenerateCode(secret, now)
}
