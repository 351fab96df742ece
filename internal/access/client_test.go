package access

import (
	"net/http"
	"net/netip"
	"testing"
)

func TestProxiesClient(t *testing.T) {
	proxies := NewProxies([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.1/32")})
	for _, tc := range []struct {
		name, peer string
		xff        []string
		want       string
	}{
		{"a direct client", "203.0.113.5:4000", nil, "203.0.113.5"},
		{"a direct client's own header is ignored", "203.0.113.5:4000", []string{"198.51.100.1"}, "203.0.113.5"},
		{"through a proxy", "10.1.1.1:4000", []string{"198.51.100.1"}, "198.51.100.1"},
		{"a forged address left of the real one", "10.1.1.1:4000", []string{"6.6.6.6, 198.51.100.1"}, "198.51.100.1"},
		{"two proxies", "10.1.1.1:4000", []string{"198.51.100.1, 192.0.2.1"}, "198.51.100.1"},
		{"headers in several lines", "10.1.1.1:4000", []string{"6.6.6.6", "198.51.100.1, 10.2.2.2"}, "198.51.100.1"},
		{"only proxies: the left-most", "10.1.1.1:4000", []string{"10.3.3.3, 10.2.2.2"}, "10.3.3.3"},
		{"no header: the proxy itself", "10.1.1.1:4000", nil, "10.1.1.1"},
		{"junk right of the client: trust nothing past it", "10.1.1.1:4000", []string{"198.51.100.1, junk"}, "10.1.1.1"},
		{"IPv6 and an IPv4-mapped peer", "[::ffff:10.1.1.1]:4000", []string{"2001:db8::7"}, "2001:db8::7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, _ := http.NewRequest("GET", "/", nil)
			r.RemoteAddr = tc.peer
			for _, v := range tc.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := proxies.Client(r); got.String() != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}
