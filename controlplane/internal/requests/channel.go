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

// byPerson reports whether the actor is a person signed in on a channel,
// as opposed to the holder of an admin credential.
func byPerson(ctx context.Context) bool { return channelFrom(ctx) == ChannelConsole }
