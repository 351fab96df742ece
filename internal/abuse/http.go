package abuse

import (
	"net/http"
	"strings"
)

// Raw is one abusive request as bytes on a connection, below HTTP's
// parsing: the shapes that smuggle a second request past a proxy, or that
// make the server hold what a client sends. The tests write each to a raw
// TCP connection, followed by a probe (GET /healthz) on the same
// connection, and read what comes back.
type Raw struct {
	Name    string
	Request string
	// Status is the status of the answer.
	Status int
	// Closes: the server closes the connection after the answer, so the
	// probe written behind the request is never answered (a request that a
	// proxy may frame differently must not be followed by what it hid).
	Closes bool
}

// Probe is the request written behind each Raw request.
const Probe = "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n"

// graphqlBody is a small GraphQL request every default server answers.
const graphqlBody = `{"query":"{ __typename }"}`

// HTTP is the corpus of raw requests, with the server's default limits in
// mind (MAX_HEADER_BYTES).
func HTTP() []Raw {
	post := "POST /graphql HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
	chunked := "1a\r\n" + graphqlBody + "\r\n0\r\n\r\n"
	return []Raw{
		{Name: "Content-Length and Transfer-Encoding (CL.TE: a proxy that frames by the length passes the rest on)",
			Request: post + "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked,
			Status:  http.StatusLengthRequired, Closes: true},
		{Name: "Transfer-Encoding before Content-Length (TE.CL)",
			Request: post + "Transfer-Encoding: chunked\r\nContent-Length: 60\r\n\r\n" + chunked,
			Status:  http.StatusLengthRequired, Closes: true},
		{Name: "Transfer-Encoding: chunked alone",
			Request: post + "Transfer-Encoding: chunked\r\n\r\n" + chunked,
			Status:  http.StatusLengthRequired, Closes: true},
		{Name: "Transfer-Encoding in upper case",
			Request: post + "TRANSFER-ENCODING: CHUNKED\r\n\r\n" + chunked,
			Status:  http.StatusLengthRequired, Closes: true},
		{Name: "two Transfer-Encoding headers",
			Request: post + "Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n" + chunked,
			Status:  http.StatusNotImplemented, Closes: true},
		{Name: "Transfer-Encoding: chunked, identity",
			Request: post + "Transfer-Encoding: chunked, identity\r\n\r\n" + chunked,
			Status:  http.StatusNotImplemented, Closes: true},
		{Name: "an obfuscated Transfer-Encoding (xchunked)",
			Request: post + "Content-Length: 26\r\nTransfer-Encoding: xchunked\r\n\r\n" + graphqlBody,
			Status:  http.StatusNotImplemented, Closes: true},
		{Name: "a space before the colon (Transfer-Encoding : chunked)",
			Request: post + "Content-Length: 26\r\nTransfer-Encoding : chunked\r\n\r\n" + graphqlBody,
			Status:  http.StatusBadRequest, Closes: true},
		{Name: "a folded Transfer-Encoding line (obs-fold)",
			Request: post + "Content-Length: 26\r\nTransfer-Encoding:\r\n chunked\r\n\r\n" + graphqlBody,
			Status:  http.StatusLengthRequired, Closes: true}, // net/http unfolds it to chunked
		{Name: "two different Content-Lengths",
			Request: post + "Content-Length: 26\r\nContent-Length: 4\r\n\r\n" + graphqlBody,
			Status:  http.StatusBadRequest, Closes: true},
		{Name: "a Content-Length with a sign",
			Request: post + "Content-Length: +26\r\n\r\n" + graphqlBody,
			Status:  http.StatusBadRequest, Closes: true},
		{Name: "HTTP/1.0 with Transfer-Encoding and Content-Length, kept alive (net/http frames it by the length)",
			Request: strings.Replace(post, "HTTP/1.1", "HTTP/1.0", 1) + "Connection: keep-alive\r\nTransfer-Encoding: chunked\r\nContent-Length: 26\r\n\r\n" + graphqlBody,
			Status:  http.StatusOK, Closes: true},
		{Name: "a 64 KB header (over MAX_HEADER_BYTES)",
			Request: "GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Padding: " + strings.Repeat("a", 64<<10) + "\r\n\r\n",
			Status:  http.StatusRequestHeaderFieldsTooLarge, Closes: true},
		{Name: "4,000 small headers (over MAX_HEADER_BYTES)",
			Request: "GET /healthz HTTP/1.1\r\nHost: localhost\r\n" + strings.Repeat("X-A: b\r\n", 4000) + "\r\n",
			Status:  http.StatusRequestHeaderFieldsTooLarge, Closes: true},
		{Name: "a well-framed request is answered and its connection kept (the control)",
			Request: post + "Content-Length: 26\r\n\r\n" + graphqlBody,
			Status:  http.StatusOK, Closes: false},
	}
}
