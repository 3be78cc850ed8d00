package web

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"net/http"
	"time"

	"github.com/zpam/zpam/controlplane/internal/errdefs"
	"github.com/zpam/zpam/controlplane/internal/store"
)

// Cookie names. The __Host- prefix makes the browser refuse them unless
// they are Secure, for the whole origin, and set without a Domain, so a
// neighbouring host cannot plant one.
const (
	sessionCookie = "__Host-zpam-session"
	loginCookie   = "__Host-zpam-login"
)

// touchEvery limits how often activity is written back; the idle
// deadline is therefore exact to this much.
const touchEvery = 30 * time.Second

// sessions keeps console sessions server-side, in the store, so they end
// on logout or expiry whatever the browser keeps, and every replica sees
// the same ones.
type sessions struct {
	db     *store.Store
	now    func() time.Time
	idle   time.Duration
	maxAge time.Duration
}

// session is a signed-in person, as the handlers see it.
type session struct {
	hash string
	user string
	csrf string
}

var errNoSession = errors.New("not signed in")

// errExpired: the cookie named a session that has ended.
var errExpired = errors.New("session expired")

// create starts a session for user and returns the cookie's token.
func (s *sessions) create(ctx context.Context, user string) (string, error) {
	token, csrf := randomToken(), randomToken()
	now := s.now()
	err := s.db.Update(ctx, func(tx *store.Tx) error {
		if _, err := tx.DeleteStaleConsoleSessions(now, now.Add(-s.idle)); err != nil {
			return err
		}
		return tx.InsertConsoleSession(store.ConsoleSession{TokenHash: hashToken(token), User: user, CSRFToken: csrf,
			CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(s.maxAge)})
	})
	return token, err
}

// lookup finds the live session the request's cookie names and records
// the activity; an ended one is deleted.
func (s *sessions) lookup(r *http.Request) (session, error) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return session{}, errNoSession
	}
	var out session
	live := false
	err = s.db.Update(r.Context(), func(tx *store.Tx) error {
		cs, err := tx.ConsoleSession(hashToken(c.Value))
		if errors.Is(err, errdefs.ErrNotFound) {
			return nil
		} else if err != nil {
			return err
		}
		out = session{hash: cs.TokenHash, user: cs.User, csrf: cs.CSRFToken}
		live, err = s.keepAlive(tx, cs)
		return err
	})
	if err == nil && !live {
		err = errExpired
	}
	return out, err
}

// keepAlive deletes cs when it has ended and otherwise records activity.
// The delete commits with the transaction, so an ended session is gone.
func (s *sessions) keepAlive(tx *store.Tx, cs store.ConsoleSession) (bool, error) {
	now := s.now()
	if !now.Before(cs.ExpiresAt) || now.Sub(cs.LastSeenAt) >= s.idle {
		return false, tx.DeleteConsoleSession(cs.TokenHash)
	}
	if now.Sub(cs.LastSeenAt) < touchEvery {
		return true, nil
	}
	return true, tx.TouchConsoleSession(cs.TokenHash, now)
}

// end deletes a session.
func (s *sessions) end(ctx context.Context, sess session) error {
	return s.db.Update(ctx, func(tx *store.Tx) error { return tx.DeleteConsoleSession(sess.hash) })
}

func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// randomToken is 256 bits from the system's CSPRNG, hex-encoded.
func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails: crypto/rand panics instead
	return hex.EncodeToString(b)
}

// sameToken compares tokens in constant time.
func sameToken(a, b string) bool {
	return a != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// setCookie sets a console cookie: Secure, HttpOnly, SameSite=Strict,
// whole origin. maxAge 0 makes it last until the browser closes; the
// server-side session ends sooner anyway.
func setCookie(w http.ResponseWriter, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: maxAge,
		Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode})
}

func clearCookie(w http.ResponseWriter, name string) { setCookie(w, name, "", -1) }
