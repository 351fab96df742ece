package web

import (
	"net/http"

	"github.com/talkdesk-intercom/api/sources"
)

// RefuseAmbiguousFraming refuses request bodies whose length is not a
// Content-Length, and closes their connections.
//
// A body framed by Transfer-Encoding, alone or beside a Content-Length, is
// how requests are smuggled: a proxy in front that frames by the length and
// this server, which frames by the encoding (as net/http does, deleting the
// Content-Length before any handler sees it), disagree on where the body
// ends, and the rest is read as a second request that the proxy never
// checked. RFC 9112 (section 6.1) lets a server refuse such a message and
// requires the connection to be closed. No client of this API needs a
// chunked body (each sends JSON of a known length), so every one is refused
// with 411 Length Required: which headers came with it is not known here.
// net/http already refuses the other shapes itself (two differing
// Content-Lengths, an encoding other than chunked, a malformed header) with
// a 4xx or 501 and closes the connection.
//
// An HTTP/1.0 request with a body also has its connection closed after the
// answer: net/http ignores Transfer-Encoding on HTTP/1.0 (and drops the
// header), so a 1.0 body could still be framed two ways.
func RefuseAmbiguousFraming(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.TransferEncoding) > 0 {
			w.Header().Set("Connection", "close")
			r.Close = true
			WriteError(w, r, Present, sources.Errorf(sources.ELengthRequired,
				"send the body with a Content-Length: Transfer-Encoding is not accepted (a proxy may frame it differently)"))
			return
		}
		if !r.ProtoAtLeast(1, 1) && r.ContentLength != 0 {
			w.Header().Set("Connection", "close")
		}
		next.ServeHTTP(w, r)
	})
}
