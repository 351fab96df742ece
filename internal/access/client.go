package access

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Proxies are the balancers in front of the server (TRUSTED_PROXIES): from
// them, X-Forwarded-For names the client. From any other peer the header is
// the client's own text and is ignored, so that no one can pick the address
// their requests count against.
type Proxies struct{ prefixes []netip.Prefix }

// NewProxies trusts the peers in prefixes; none: every peer is the client.
func NewProxies(prefixes []netip.Prefix) *Proxies { return &Proxies{prefixes: prefixes} }

// Trusted reports whether addr is one of the proxies.
func (p *Proxies) Trusted(addr netip.Addr) bool {
	if p == nil {
		return false
	}
	addr = addr.Unmap()
	for _, pre := range p.prefixes {
		if pre.Contains(addr) {
			return true
		}
	}
	return false
}

// Client is the address of the client r comes from: its peer, or, when the
// peer is a proxy, the right-most address of X-Forwarded-For that is not a
// proxy. Each proxy appends the address it was called from, so the
// right-most untrusted one is the last that a trusted proxy vouches for;
// those left of it are the client's own claims. A header that holds only
// proxies names the left-most of them; one that cannot be read names the
// peer.
func (p *Proxies) Client(r *http.Request) netip.Addr {
	peer := peerAddr(r.RemoteAddr)
	if !peer.IsValid() || !p.Trusted(peer) {
		return peer
	}
	hops := forwardedFor(r.Header.Values("X-Forwarded-For"))
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(hops[i])
		if err != nil {
			return client // a hop that is not an address: trust nothing left of it
		}
		client = a.Unmap()
		if !p.Trusted(client) {
			return client
		}
	}
	return client
}

// forwardedFor lists the hops of every X-Forwarded-For header, in order.
func forwardedFor(values []string) []string {
	var hops []string
	for _, v := range values {
		for _, h := range strings.Split(v, ",") {
			if h = strings.TrimSpace(h); h != "" {
				hops = append(hops, h)
			}
		}
	}
	return hops
}

func peerAddr(remote string) netip.Addr {
	if ap, err := netip.ParseAddrPort(remote); err == nil {
		return ap.Addr().Unmap()
	}
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	a, _ := netip.ParseAddr(host)
	return a.Unmap()
}

type clientKey struct{}

// client is what ClientAddress learned of a request's client.
type client struct {
	addr netip.Addr
	// viaProxy: the peer is a trusted proxy, so its X-Forwarded-* headers
	// are the proxy's word.
	viaProxy bool
}

// ClientAddress finds each request's client once (see Proxies.Client), for
// the limits and logs that go by address.
func ClientAddress(p *Proxies) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c := client{addr: p.Client(r), viaProxy: p.Trusted(peerAddr(r.RemoteAddr))}
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), clientKey{}, c)))
		})
	}
}

// ViaTrustedProxy reports whether r came through one of TRUSTED_PROXIES,
// whose X-Forwarded-* headers may then be believed.
func ViaTrustedProxy(r *http.Request) bool {
	c, _ := r.Context().Value(clientKey{}).(client)
	return c.viaProxy
}

// clientIP names the caller by its client address, "ip:<address>".
func clientIP(r *http.Request) string {
	if c, ok := r.Context().Value(clientKey{}).(client); ok && c.addr.IsValid() {
		return "ip:" + c.addr.String()
	}
	if a := peerAddr(r.RemoteAddr); a.IsValid() {
		return "ip:" + a.String()
	}
	return "ip:" + r.RemoteAddr
}
