package requests

import "context"

// Channel names where an action came from; the audit trail records it in
// each event's detail as "channel".
type Channel string

// ChannelConsole is the web console. Its actors are registered people who
// signed in with their TOTP code, never an admin credential, so they act
// only where policy names them.
const ChannelConsole Channel = "console"

type channelKey struct{}

// WithChannel marks ctx as coming through ch. The network edge sets it
// once per call; the core reads it when it authorises and audits.
func WithChannel(ctx context.Context, ch Channel) context.Context {
	return context.WithValue(ctx, channelKey{}, ch)
}

func channelFrom(ctx context.Context) Channel {
	ch, _ := ctx.Value(channelKey{}).(Channel)
	return ch
}

// ChannelCredential is a person's own client certificate (pam-controlplane
// user credential): it proves the person, who acts only where policy
// names them.
const ChannelCredential Channel = "credential"

// ChannelHost is a person on a host, relayed by that host's agent, which
// identified them by their kernel credentials. The person is only the
// host's word: a host whose root is compromised could name any local
// account. So an approval on this channel also needs the approver's
// current TOTP code, which the host does not have. Deny and revoke only
// take access away and need no code; the audit trail names the host.
const ChannelHost Channel = "host"

// byPerson reports whether the actor is a person, signed in or named on a
// channel, as opposed to the holder of an admin credential.
func byPerson(ctx context.Context) bool { return channelFrom(ctx) != "" }

type relayHostKey struct{}

// WithRelayHost marks ctx as relayed by hostID for a person it names.
func WithRelayHost(ctx context.Context, hostID string) context.Context {
	return context.WithValue(WithChannel(ctx, ChannelHost), relayHostKey{}, hostID)
}

func relayHostFrom(ctx context.Context) string {
	h, _ := ctx.Value(relayHostKey{}).(string)
	return h
}
