package httpx

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// netHTTPRequests reads stream as net/http's server reads a connection:
// requests one after another, each body read whole, the CR or LF bytes it
// skips after a POST. It returns how many it would hand to the handler (not
// OPTIONS *) and whether it read the stream to its end without an error
// (an error closes the connection).
func netHTTPRequests(stream []byte) (n int, clean bool) {
	br := bufio.NewReader(bytes.NewReader(stream))
	post := false
	for {
		if post {
			peek, _ := br.Peek(skippedAfterPOST)
			skip := 0
			for skip < len(peek) && (peek[skip] == '\r' || peek[skip] == '\n') {
				skip++
			}
			_, _ = br.Discard(skip)
		}
		req, err := http.ReadRequest(br)
		if err == io.EOF {
			return n, true
		}
		if err != nil {
			return n, false
		}
		if req.Method != http.MethodOptions || req.RequestURI != "*" {
			n++
		}
		if _, err := io.Copy(io.Discard, req.Body); err != nil {
			return n, false
		}
		post = req.Method == http.MethodPost
	}
}

// follow feeds stream to a new framing, cut where cuts say.
func follow(stream []byte, cuts ...int) *framing {
	f := newFraming()
	at := 0
	for _, c := range cuts {
		if c > at && c < len(stream) {
			f.read(stream[at:c])
			at = c
		}
	}
	f.read(stream[at:])
	return f
}

// checkAgainstNetHTTP: the framing counts the requests net/http reads and
// ends where they end, or stops following at or before the first it would
// count wrong. After an error net/http closes the connection, so there it
// only needs to have counted every request net/http read.
func checkAgainstNetHTTP(t *testing.T, stream []byte, f *framing) {
	t.Helper()
	n, clean := netHTTPRequests(stream)
	switch {
	case clean && f.stop >= 0:
		assert.LessOrEqual(t, f.stop, n, "it stopped following after a request net/http reads: %q", stream)
	case clean:
		assert.Equal(t, n, f.indexed, "requests counted: %q", stream)
		assert.True(t, f.state == inHead && f.line.n == 0, "the stream ends between requests: %q", stream)
	case f.stop < 0:
		assert.GreaterOrEqual(t, f.indexed, n, "requests counted before net/http's error: %q", stream)
	}
}

const (
	getHealthz = "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n"
	postCL     = "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nhello world"
	postChunk  = "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;a=b\r\nhello\r\n6  \r\n world\r\n0\r\nT: 1\r\n\r\n"
)

var framingSeeds = []string{
	getHealthz + getHealthz,
	postCL + getHealthz,
	postCL + "\r\n" + getHealthz,
	postCL + "\r\n\r\n\r\n" + getHealthz,
	postChunk + postChunk + getHealthz,
	"POST /x HTTP/1.1\r\nHost: a\r\ntransfer-encoding: Chunked\r\n\r\n0\r\n\r\n" + getHealthz,
	"OPTIONS * HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc" + getHealthz,
	"POST /x HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n" + getHealthz,
	"GET /x HTTP/1.1\nHost: a\nContent-Length: 2\n\nab" + getHealthz,
	"GET /" + strings.Repeat("p", 1000) + " HTTP/1.0\r\nContent-Length: 1\r\n\r\nx" + getHealthz,
	"GET /x HTTP/1.1\r\nHost: a\r\nX-Long: " + strings.Repeat("v", 1000) + "\r\n\r\n" + getHealthz,
	"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + getHealthz,
	"POST /x HTTP/1.1\r\nHost: a\r\nX: 1\r\n Transfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\nx" + getHealthz,
	"POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n" + getHealthz,
	"POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n00000000000000005\r\nhello\r\n0\r\n\r\n" + getHealthz,
	"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nab" + getHealthz,
	"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: +2\r\n\r\nab" + getHealthz,
}

func TestFramingFollowsNetHTTP(t *testing.T) {
	for _, s := range framingSeeds {
		stream := []byte(s)
		checkAgainstNetHTTP(t, stream, follow(stream))
		cuts := make([]int, len(stream))
		for i := range cuts {
			cuts[i] = i + 1
		}
		checkAgainstNetHTTP(t, stream, follow(stream, cuts...)) // a byte a read
	}
}

func TestFramingVerdicts(t *testing.T) {
	for _, c := range []struct {
		name   string
		stream string
		want   []verdict // of the requests the handler gets, in order
	}{
		{"Followed", postCL + postChunk + getHealthz, []verdict{followed, followed, followed}},
		{"ContentLengthAndChunked", getHealthz + "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 40\r\n\r\n0\r\n\r\n" + getHealthz,
			[]verdict{followed, ambiguous, ambiguous}},
		{"OnHTTP10", "POST /x HTTP/1.0\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", []verdict{ambiguous}},
		{"AfterOptionsStar", "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\nPOST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
			[]verdict{ambiguous}},
		{"FoldedHeader", "POST /x HTTP/1.1\r\nHost: a\r\nX: 1\r\n y\r\nContent-Length: 1\r\n\r\nx" + getHealthz, []verdict{unfollowed, unfollowed}},
		{"MalformedChunk", "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n" + getHealthz, []verdict{followed, unfollowed}},
		{"ChunkWithoutItsCRLF", "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nxy\r\n0\r\n\r\n" + getHealthz, []verdict{followed, unfollowed}},
		{"TwoTransferEncodings", "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n", []verdict{unfollowed}},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := follow([]byte(c.stream))
			var got []verdict
			for range c.want {
				got = append(got, f.next())
			}
			assert.Equal(t, c.want, got)
		})
	}
}

// FuzzFraming: for any bytes, cut anywhere, the framing counts the
// requests net/http reads or stops following at or before it misses one.
func FuzzFraming(f *testing.F) {
	for _, s := range framingSeeds {
		f.Add([]byte(s), 7, 40)
	}
	f.Fuzz(func(t *testing.T, stream []byte, cut1, cut2 int) {
		checkAgainstNetHTTP(t, stream, follow(stream, cut1, cut2))
	})
}
