package httpx

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"strconv"
	"sync"
)

// Serve is srv.Serve(ln), with each connection's requests followed as they
// are read (framing), so that the server can refuse a request whose head has
// both Content-Length and Transfer-Encoding: net/http drops the
// Content-Length, reads the body as chunked and keeps the connection, so
// whatever a proxy that went by Content-Length took for the rest of the
// body would be served as the next request. RFC 9112 6.1 asks the server to
// close the connection after answering it; endConnections answers 400 and
// closes it. srv's ConnContext, when set, still runs.
func Serve(srv *http.Server, ln net.Listener) error {
	inner := srv.ConnContext
	srv.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
		if inner != nil {
			ctx = inner(ctx, c)
		}
		if fc, ok := c.(*framedConn); ok {
			ctx = context.WithValue(ctx, framingKey{}, fc.framing)
		}
		return ctx
	}
	return srv.Serve(framedListener{ln})
}

type framingKey struct{}

// verdict is what the framing of a connection says of one of its requests.
type verdict int

const (
	// followed: the request and those before it were framed one way.
	followed verdict = iota
	// unfollowed: the framing of this request (or of one before it) could
	// not be followed, so the connection ends after its response.
	unfollowed
	// ambiguous: the request's head had both Content-Length and
	// Transfer-Encoding.
	ambiguous
)

// framingOf is the verdict on r, the next request its connection hands to
// the handler: call it once per request. A request that did not come
// through Serve (a test's recorder) is followed.
func framingOf(r *http.Request) verdict {
	f, ok := r.Context().Value(framingKey{}).(*framing)
	if !ok {
		return followed
	}
	return f.next()
}

type framedListener struct{ net.Listener }

func (l framedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &framedConn{Conn: c, framing: newFraming()}, nil
}

// framedConn shows the framing every byte the server reads.
type framedConn struct {
	net.Conn
	framing *framing
}

func (c *framedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.framing.read(p[:n])
	}
	return n, err
}

// CloseWrite lets net/http half-close the connection after a last
// response, as it does with a *net.TCPConn.
func (c *framedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// Limits of net/http's reading that the framing needs: its buffer (a chunk
// line must end within it), a chunk size's hex digits, and the leading CR
// or LF bytes it skips after a POST.
const (
	netHTTPBuffer    = 4096
	maxChunkSizeHex  = 16
	skippedAfterPOST = 4
)

// maxFramingLine is how much of a line the framing keeps: enough for the
// request line's method and the headers it reads.
const maxFramingLine = 256

type framingState int

const (
	inHead      framingState = iota // the lines of a request's head
	inBody                          // Content-Length bytes
	inChunkSize                     // a chunk-size line
	inChunkData                     // a chunk's bytes
	inChunkEnd                      // the CRLF after them
	inTrailer                       // trailer lines, up to an empty one
	stopped                         // not followed any more
)

// framing follows the requests on one connection the way net/http frames
// them (net/http/transfer.go, net/http/internal/chunked.go): a body of
// Content-Length bytes, a chunked one, or none. What net/http would refuse
// (and then close the connection) or reads another way than this does (a
// folded header line, a line too long to keep), it stops following: from
// that request on, the verdict closes the connection.
type framing struct {
	mu sync.Mutex
	// indexed counts the heads read whole that net/http hands to the
	// handler (not OPTIONS *); served, the requests the handler has seen.
	indexed, served int
	// stop is the index of the first request not followed, -1 while all
	// are; both tells that its head had Content-Length and
	// Transfer-Encoding.
	stop int
	both bool

	state    framingState
	line     framingLine
	head     framingHead
	remain   uint64 // bytes of the body or chunk still to come
	crlf     int    // bytes of a chunk's closing CRLF seen
	skipCRLF int    // leading CR or LF bytes net/http skips before the next head
}

// framingLine is the line being read: its first maxFramingLine bytes and
// what the framing needs of the rest.
type framingLine struct {
	kept []byte
	n    int  // its length, up to the LF
	crs  int  // CR bytes in it
	last byte // its last byte
	tail [8]byte
}

// framingHead is what the framing needs of a request's head.
type framingHead struct {
	lines                     int
	post, optionsStar, http10 bool
	cl                        string
	hasCL, te                 int
	teValue                   string
	unfollowed                bool
}

func newFraming() *framing { return &framing{stop: -1} }

// next is the verdict on the next request the handler gets.
func (f *framing) next() verdict {
	f.mu.Lock()
	defer f.mu.Unlock()
	i := f.served
	f.served++
	switch {
	case f.stop < 0 || i < f.stop:
		return followed
	case f.both:
		return ambiguous
	}
	return unfollowed
}

// read follows p, the next bytes read from the connection.
func (f *framing) read(p []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for len(p) > 0 && f.state != stopped {
		switch f.state {
		case inBody, inChunkData:
			n := min(uint64(len(p)), f.remain)
			p, f.remain = p[n:], f.remain-n
			if f.remain > 0 {
				continue
			}
			if f.state == inBody {
				f.startHead()
			} else {
				f.state, f.crlf = inChunkEnd, 0
			}
		case inChunkEnd:
			if p[0] != "\r\n"[f.crlf] {
				f.stopAt(f.indexed, false) // net/http: malformed chunked encoding
				return
			}
			p, f.crlf = p[1:], f.crlf+1
			if f.crlf == 2 {
				f.state = inChunkSize
			}
		default:
			if f.skipCRLF > 0 && f.line.n == 0 {
				if p[0] == '\r' || p[0] == '\n' {
					p, f.skipCRLF = p[1:], f.skipCRLF-1
					continue
				}
				f.skipCRLF = 0
			}
			i := bytes.IndexByte(p, '\n')
			if i < 0 {
				f.line.add(p)
				return
			}
			f.line.add(p[:i])
			p = p[i+1:]
			f.endLine()
			f.line = framingLine{kept: f.line.kept[:0]}
		}
	}
}

func (l *framingLine) add(b []byte) {
	if room := maxFramingLine - len(l.kept); room > 0 {
		l.kept = append(l.kept, b[:min(room, len(b))]...)
	}
	if len(b) == 0 {
		return
	}
	l.n += len(b)
	l.crs += bytes.Count(b, []byte{'\r'})
	l.last = b[len(b)-1]
	if len(b) >= len(l.tail) {
		copy(l.tail[:], b[len(b)-len(l.tail):])
	} else {
		copy(l.tail[:], l.tail[len(b):])
		copy(l.tail[len(l.tail)-len(b):], b)
	}
}

// text is the line without a final CR, and whether it is whole.
func (l *framingLine) text() ([]byte, bool) {
	n := l.n
	if n > 0 && l.last == '\r' {
		n--
	}
	if n > len(l.kept) {
		return l.kept, false
	}
	return l.kept[:n], true
}

func (f *framing) endLine() {
	text, whole := f.line.text()
	switch f.state {
	case inHead:
		f.headLine(text, whole)
	case inChunkSize:
		f.chunkSize()
	case inTrailer:
		if len(text) == 0 && whole {
			f.startHead()
		}
	}
}

func (f *framing) headLine(text []byte, whole bool) {
	h := &f.head
	h.lines++
	switch {
	case h.lines == 1: // the request line
		if len(text) == 0 {
			f.stopAt(f.indexed, false) // net/http: malformed request
			return
		}
		h.post = bytes.HasPrefix(text, []byte("POST "))
		h.optionsStar = bytes.HasPrefix(text, []byte("OPTIONS * "))
		tail := f.line.tail[:]
		if f.line.last == '\r' {
			tail = tail[:len(tail)-1]
		}
		h.http10 = bytes.HasSuffix(tail, []byte("HTTP/1.0"))
	case len(text) == 0 && whole:
		f.endHead()
	case text[0] == ' ' || text[0] == '\t':
		h.unfollowed = true // a folded line: part of the header above
	default:
		name, value, ok := bytes.Cut(text, []byte(":"))
		value = bytes.TrimSpace(value)
		switch {
		case !ok:
			h.unfollowed = true
		case http.CanonicalHeaderKey(string(name)) == "Content-Length":
			if h.hasCL > 0 && h.cl != string(value) {
				h.unfollowed = true // net/http refuses differing values
			}
			h.cl, h.hasCL = string(value), h.hasCL+1
			h.unfollowed = h.unfollowed || !whole
		case http.CanonicalHeaderKey(string(name)) == "Transfer-Encoding":
			h.teValue, h.te = string(value), h.te+1
			h.unfollowed = h.unfollowed || !whole
		}
	}
}

// endHead decides how the body of the request whose head just ended is
// framed.
func (f *framing) endHead() {
	h := f.head
	index := f.indexed
	if !h.optionsStar {
		f.indexed++
	}
	switch {
	case h.hasCL > 0 && h.te > 0:
		f.stopAt(index, true)
	case h.unfollowed:
		f.stopAt(index, false)
	case h.te > 0 && !h.http10: // net/http ignores it on HTTP/1.0
		if h.te != 1 || !bytes.EqualFold([]byte(h.teValue), []byte("chunked")) {
			f.stopAt(index, false) // net/http: 501, then it closes
			return
		}
		f.state = inChunkSize
	case h.hasCL > 0:
		n, err := strconv.ParseUint(h.cl, 10, 63)
		switch {
		case err != nil:
			f.stopAt(index, false) // net/http: 400, then it closes
		case n > 0:
			f.state, f.remain = inBody, n
		default:
			f.startHead()
		}
	default:
		f.startHead()
	}
}

// chunkSize reads a chunk-size line as net/http does: CRLF-terminated with
// no other CR, within its buffer, hex digits (at most 16), then white space
// and extensions, which it ignores.
func (f *framing) chunkSize() {
	l := f.line
	if l.last != '\r' || l.crs != 1 || l.n+1 > netHTTPBuffer {
		f.stopAt(f.indexed, false)
		return
	}
	text, whole := l.text()
	if whole {
		text = bytes.TrimRight(text, " \t")
	}
	hex, _, cut := bytes.Cut(text, []byte(";"))
	size, err := strconv.ParseUint(string(hex), 16, 64)
	if (!whole && !cut) || len(hex) == 0 || len(hex) > maxChunkSizeHex || err != nil {
		f.stopAt(f.indexed, false)
		return
	}
	if size == 0 {
		f.state = inTrailer
		return
	}
	f.state, f.remain = inChunkData, size
}

// startHead expects the next request's head.
func (f *framing) startHead() {
	f.skipCRLF = 0
	if f.head.post {
		f.skipCRLF = skippedAfterPOST
	}
	f.state, f.head = inHead, framingHead{}
}

func (f *framing) stopAt(index int, both bool) {
	f.stop, f.both, f.state = index, both, stopped
}
