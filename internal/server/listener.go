package server

import (
	"encoding/json"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/talkdesk-intercom/api/internal/access"
	"github.com/talkdesk-intercom/api/internal/web"
	"github.com/talkdesk-intercom/api/sources"
)

// connLimits caps the connections a listener keeps open: MAX_CONNECTIONS in
// all, MAX_CONNECTIONS_PER_ADDRESS from one peer address (TRUSTED_PROXIES
// excepted: behind a balancer every client is its address). A connection
// over a cap is answered 503 at once and closed, before a byte of it is
// read, so that it costs neither a request's goroutine nor its buffers; one
// client's idle keep-alive connections cannot then take the file
// descriptors that /healthz and other clients need.
//
// net/http has no such cap, and golang.org/x/net/netutil's LimitListener
// waits for a free place instead: the connections over the cap would sit
// in the kernel's backlog, where a balancer's health check times out.
type connLimits struct {
	net.Listener
	max, perAddress int
	proxies         *access.Proxies
	onRefuse        func(reason string)

	mu     sync.Mutex
	open   int
	byAddr map[netip.Addr]int
	// refusing counts the refused connections still being answered: past
	// maxRefusing they are closed without an answer, so that a storm does
	// not turn into as many goroutines.
	refusing int
}

const (
	maxRefusing = 256
	// refuseLinger is how long a refused connection is given to take its
	// answer: the answer is written and the connection half-closed, and what
	// the client had sent meanwhile is discarded for this long before the
	// close, since closing a socket with unread bytes resets it and the
	// client would lose the 503.
	refuseLinger = 250 * time.Millisecond
)

func limitConns(ln net.Listener, max, perAddress int, proxies *access.Proxies, onRefuse func(string)) *connLimits {
	return &connLimits{Listener: ln, max: max, perAddress: perAddress, proxies: proxies, onRefuse: onRefuse,
		byAddr: map[netip.Addr]int{}}
}

// Accept returns the next connection within the caps; those over a cap
// are answered and closed here.
func (l *connLimits) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		addr := remoteAddr(c)
		reason := l.take(addr)
		if reason == "" {
			return &limitedConn{Conn: c, release: func() { l.release(addr) }}, nil
		}
		l.refuse(c, reason)
	}
}

// take counts a new connection from addr, or says which cap it is over.
func (l *connLimits) take(addr netip.Addr) (over string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open >= l.max {
		return "MAX_CONNECTIONS"
	}
	perAddress := addr.IsValid() && !l.proxies.Trusted(addr)
	if perAddress && l.byAddr[addr] >= l.perAddress {
		return "MAX_CONNECTIONS_PER_ADDRESS"
	}
	l.open++
	if perAddress {
		l.byAddr[addr]++
	}
	return ""
}

func (l *connLimits) release(addr netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.open--
	if n, ok := l.byAddr[addr]; ok {
		if n <= 1 {
			delete(l.byAddr, addr) // the map holds open connections' addresses only
		} else {
			l.byAddr[addr] = n - 1
		}
	}
}

// refuse answers c 503 and closes it.
func (l *connLimits) refuse(c net.Conn, limit string) {
	if l.onRefuse != nil {
		l.onRefuse(limit)
	}
	l.mu.Lock()
	linger := l.refusing < maxRefusing
	if linger {
		l.refusing++
	}
	l.mu.Unlock()
	if !linger {
		_ = c.Close()
		return
	}
	go func() {
		defer func() {
			l.mu.Lock()
			l.refusing--
			l.mu.Unlock()
		}()
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(refuseLinger))
		if _, err := c.Write(refusal(limit)); err != nil {
			return
		}
		if tc, ok := c.(interface{ CloseWrite() error }); ok {
			_ = tc.CloseWrite()
		}
		var discard [4096]byte
		for {
			if _, err := c.Read(discard[:]); err != nil {
				return
			}
		}
	}()
}

// refusal is the answer to a connection over a cap: the error answer every
// endpoint gives (web.ErrorBody), written by hand since no request was read.
func refusal(limit string) []byte {
	body, _ := json.Marshal(web.ErrorBody{Code: sources.EUnavailable,
		Message: "too many open connections (" + limit + "); retry shortly"})
	body = append(body, '\n')
	return append([]byte("HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\nConnection: close\r\n"+
		"Content-Length: "+strconv.Itoa(len(body))+"\r\n\r\n"), body...)
}

func remoteAddr(c net.Conn) netip.Addr {
	if tcp, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		return tcp.AddrPort().Addr().Unmap()
	}
	return netip.Addr{} // a Unix socket: counted in all only
}

// limitedConn gives its place back once, however often it is closed (by
// net/http, and by a handler that hijacked it).
type limitedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// CloseWrite lets net/http half-close the connection after an answer whose
// request body it did not read (a 411, a 413), as it does for a bare TCP
// connection, so that the client reads the answer instead of a reset.
func (c *limitedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
