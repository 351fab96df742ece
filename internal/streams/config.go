// Package streams serves GraphQL over long-lived connections: subscriptions
// over graphql-transport-ws (WebSocket) and GraphQL over SSE, and @defer over
// multipart/mixed and SSE. Streams are a route group of their own: they are
// not cut by REQUEST_TIMEOUT or the server's write timeout, and have their
// own limits instead (lifetime, idle time, connections per caller and per
// replica, subscriptions per connection, message size), each with a setting
// and a code.
package streams

import "time"

// Config bounds streams; the zero value of a field takes its default.
type Config struct {
	// MaxLifetime closes a stream this long after it opened (1001 on a
	// WebSocket; the end of an SSE response): clients reconnect and resume.
	MaxLifetime time.Duration
	// IdleTimeout closes a WebSocket that has had no subscription this long.
	IdleTimeout time.Duration
	// InitTimeout is how long a WebSocket may wait before connection_init
	// (4408 after it).
	InitTimeout time.Duration
	// PingInterval is how often graphql-transport-ws pings; a pong must
	// come within twice as long.
	PingInterval time.Duration
	// MaxConnections bounds this replica's streams, MaxPerCaller each
	// caller's (an API key, a token's workspace, else a client address).
	MaxConnections int
	MaxPerCaller   int
	// MaxSubscriptions bounds the operations running at once on one
	// WebSocket.
	MaxSubscriptions int
	// MaxMessageBytes bounds a WebSocket message from a client.
	MaxMessageBytes int64
}

// Defaults are the settings' defaults.
var Defaults = Config{
	MaxLifetime:      time.Hour,
	IdleTimeout:      5 * time.Minute,
	InitTimeout:      10 * time.Second,
	PingInterval:     25 * time.Second,
	MaxConnections:   20_000,
	MaxPerCaller:     100,
	MaxSubscriptions: 50,
	MaxMessageBytes:  64 << 10,
}
