package config

import (
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/talkdesk-intercom/api/internal/identity"
	"github.com/talkdesk-intercom/api/internal/redis"
)

// A parser turns a setting's text into its field of Config. Its error says
// what is wrong with the value; Load puts the setting's name in front.
type parser func(v string) error

func text(dst *string) parser {
	return func(v string) error { *dst = v; return nil }
}

func trimmed(dst *string) parser {
	return func(v string) error { *dst = strings.TrimSpace(v); return nil }
}

// oneOf accepts one of names, in any case.
func oneOf(dst *string, names ...string) parser {
	return func(v string) error {
		*dst = strings.ToLower(strings.TrimSpace(v))
		for _, n := range names {
			if *dst == n {
				return nil
			}
		}
		return fmt.Errorf("%q is not %s", v, orList(names))
	}
}

func boolean(dst *bool) parser {
	return func(v string) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("%q is not true or false", v)
		}
		*dst = b
		return nil
	}
}

// count accepts a whole number from lo to hi.
func count(dst *int, lo, hi int) parser {
	return func(v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < lo || n > hi {
			return fmt.Errorf("%q is not a number from %d to %d", v, lo, hi)
		}
		*dst = n
		return nil
	}
}

func byteCount(dst *int64, atLeast int64) parser {
	return func(v string) error {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < atLeast {
			return fmt.Errorf("%q is not a number of bytes of at least %d", v, atLeast)
		}
		*dst = n
		return nil
	}
}

// positiveDuration is a deadline or a TTL that cannot be zero, written to
// each of dsts (one setting may set several fields of a section).
func positiveDuration(dsts ...*time.Duration) parser {
	return func(v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return fmt.Errorf("%q is not a positive duration such as 10s or 5m", v)
		}
		for _, dst := range dsts {
			*dst = d
		}
		return nil
	}
}

// duration is a wait or an interval where 0 means none.
func duration(dst *time.Duration) parser {
	return func(v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return fmt.Errorf("%q is not a duration of 0 or more such as 5m", v)
		}
		*dst = d
		return nil
	}
}

// listenAddr accepts what net.Listen would: host:port with a port number or
// a service name (":http"), so that a wrong port fails here, before anything
// started.
func listenAddr(dst *string) parser {
	return func(v string) error {
		_, port, err := net.SplitHostPort(v)
		if err == nil {
			_, err = net.LookupPort("tcp", port)
		}
		if err != nil {
			return fmt.Errorf("%q is not host:port (e.g. :8080)", v)
		}
		*dst = v
		return nil
	}
}

// optionalListenAddr is listenAddr for a listener that may be left out.
func optionalListenAddr(dst *string) parser {
	return func(v string) error {
		if v == "" {
			*dst = ""
			return nil
		}
		return listenAddr(dst)(v)
	}
}

// httpURL accepts an empty value or an absolute http(s) URL without query or
// fragment; it drops a trailing slash.
func httpURL(dst *string, what string) parser {
	return func(v string) error {
		if v == "" {
			*dst = ""
			return nil
		}
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			return fmt.Errorf("%q is not %s", v, what)
		}
		*dst = strings.TrimRight(v, "/")
		return nil
	}
}

func redisURL(dst *string) parser {
	return func(v string) error {
		*dst = strings.TrimSpace(v)
		if *dst == "" {
			return nil
		}
		// internal/redis's parser is the one redis.Open uses; its errors
		// never repeat the URL, which may hold a password.
		if _, err := redis.ParseURL(*dst, false); err != nil {
			return fmt.Errorf("is not a Redis URL (redis://, rediss://, redis-sentinel://, rediss-sentinel://): %w", err)
		}
		return nil
	}
}

// prefixes is a comma-separated list of CIDRs or addresses (an address is
// its own /32 or /128); blanks are dropped.
func prefixes(dst *[]netip.Prefix) parser {
	return func(v string) error {
		*dst = nil
		for _, item := range strings.Split(v, ",") {
			if item = strings.TrimSpace(item); item == "" {
				continue
			}
			p, err := netip.ParsePrefix(item)
			if err != nil {
				a, aerr := netip.ParseAddr(item)
				if aerr != nil {
					return fmt.Errorf("%q is not an address or a CIDR such as 10.0.0.0/8", item)
				}
				p = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
			}
			*dst = append(*dst, p.Masked())
		}
		return nil
	}
}

// list is a comma-separated list; blanks are dropped.
func list(dst *[]string) parser {
	return func(v string) error {
		*dst = nil
		for _, item := range strings.Split(v, ",") {
			if item = strings.TrimSpace(item); item != "" {
				*dst = append(*dst, item)
			}
		}
		return nil
	}
}

func logLevel(dst *slog.Level) parser {
	return func(v string) error {
		if err := dst.UnmarshalText([]byte(v)); err != nil {
			return fmt.Errorf("%q is not debug, info, warn or error", v)
		}
		return nil
	}
}

var versionPattern = regexp.MustCompile(`^(\d+\.\d+|Unstable)$`)

func intercomVersion(dst *string) parser {
	return func(v string) error {
		if !versionPattern.MatchString(v) {
			return fmt.Errorf("%q is not an Intercom API version such as 2.16", v)
		}
		*dst = v
		return nil
	}
}

// orList writes "a, b or c".
func orList(names []string) string {
	if len(names) == 1 {
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// customerDBURL accepts postgres://, postgresql:// or sqlite:PATH. Its
// errors never repeat the URL, which may hold a password.
func customerDBURL(dst *string) parser {
	return func(v string) error {
		*dst = strings.TrimSpace(v)
		switch {
		case *dst == "":
		case strings.HasPrefix(*dst, "sqlite:") && len(*dst) > len("sqlite:"):
		case strings.HasPrefix(*dst, "postgres://"), strings.HasPrefix(*dst, "postgresql://"):
			if u, err := url.Parse(*dst); err != nil || u.Host == "" {
				return fmt.Errorf("is not a PostgreSQL URL (postgres://user:password@host:5432/db)")
			}
		default:
			return fmt.Errorf("is neither postgres://user:password@host:5432/db nor sqlite:PATH")
		}
		return nil
	}
}

// blockedValues reads identity.ParseBlocked's list.
func blockedValues(dst *map[string]bool) parser {
	return func(v string) error {
		m, err := identity.ParseBlocked(v)
		if err != nil {
			return err
		}
		*dst = m
		return nil
	}
}
