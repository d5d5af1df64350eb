package remote

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// ChunkHeader marks one chunk of a message bigger than the server's max
// payload: "SENDER MSGID INDEX COUNT". A sender publishes the chunks of a
// message one after the other on one subject, so they arrive in order
// (NATS keeps the order of one connection's messages on a subject).
const ChunkHeader = "Wk-Chunk"

// ErrOrphanChunk is Add's error for a chunk of a message it dropped
// before: the receiver ignores it.
var ErrOrphanChunk = errors.New("a chunk of a message dropped before")

// headerRoom is what a chunk's header may take of the max payload.
const headerRoom = 512

// Publisher publishes messages of any size on one connection: in chunks
// when they exceed the server's max payload.
type Publisher struct {
	nc *nats.Conn
	id string

	mu   sync.Mutex // keeps one message's chunks together
	next uint64
}

// NewPublisher returns a Publisher on nc whose chunks name id as their
// sender.
func NewPublisher(nc *nats.Conn, id string) *Publisher { return &Publisher{nc: nc, id: id} }

// Publish sends data on subject with reply as its reply subject.
func (p *Publisher) Publish(subject, reply string, data []byte) error {
	limit := int(p.nc.MaxPayload()) - headerRoom
	if limit <= 0 || len(data) <= limit {
		if reply == "" {
			return p.nc.Publish(subject, data)
		}
		return p.nc.PublishRequest(subject, reply, data)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.next++
	n := (len(data) + limit - 1) / limit
	for i := range n {
		part := data[i*limit : min(len(data), (i+1)*limit)]
		m := &nats.Msg{Subject: subject, Reply: reply, Data: part, Header: nats.Header{}}
		m.Header.Set(ChunkHeader, p.id+" "+strconv.FormatUint(p.next, 10)+" "+strconv.Itoa(i)+" "+strconv.Itoa(n))
		if err := p.nc.PublishMsg(m); err != nil {
			return fmt.Errorf("chunk %d of %d of a message of %d bytes: %w", i+1, n, len(data), err)
		}
	}
	return nil
}

// Assembler puts chunked messages back together, one in progress per
// sender; a message is at most limit bytes. A message left unfinished
// (its sender died) is dropped with Drop, or after partialMaxAge. Safe for
// concurrent use.
type Assembler struct {
	limit int
	mu    sync.Mutex
	parts map[string]*partial
}

// partialMaxAge is how long a chunked message may take to arrive.
const partialMaxAge = time.Minute

type partial struct {
	id    uint64
	next  int
	buf   []byte
	start time.Time
}

// Sender returns the sender a chunk names, "" for a whole message.
func Sender(m *nats.Msg) string {
	h := m.Header.Get(ChunkHeader)
	if i := strings.IndexByte(h, ' '); i > 0 {
		return h[:i]
	}
	return ""
}

// Drop forgets the message in progress from sender.
func (a *Assembler) Drop(sender string) {
	a.mu.Lock()
	delete(a.parts, sender)
	a.mu.Unlock()
}

// NewAssembler returns an Assembler of messages of at most limit bytes.
func NewAssembler(limit int) *Assembler {
	return &Assembler{limit: limit, parts: make(map[string]*partial)}
}

// Add takes one received message; it returns the whole message and true
// when m is one (not chunked) or its last chunk, false when more chunks
// are to come, and an error naming what is wrong with a chunk that does
// not fit (the message it belonged to is dropped).
func (a *Assembler) Add(m *nats.Msg) ([]byte, bool, error) {
	h := m.Header.Get(ChunkHeader)
	if h == "" {
		if len(m.Data) > a.limit {
			return nil, false, fmt.Errorf("a message of %d bytes (at most %d)", len(m.Data), a.limit)
		}
		return m.Data, true, nil
	}
	f := strings.Fields(h)
	if len(f) != 4 {
		return nil, false, fmt.Errorf("chunk header %q: want SENDER MSGID INDEX COUNT", h)
	}
	sender := f[0]
	a.mu.Lock()
	defer a.mu.Unlock()
	id, err1 := strconv.ParseUint(f[1], 10, 64)
	i, err2 := strconv.Atoi(f[2])
	n, err3 := strconv.Atoi(f[3])
	if err1 != nil || err2 != nil || err3 != nil || i < 0 || n < 2 || i >= n {
		return nil, false, fmt.Errorf("chunk header %q: bad numbers", h)
	}
	p := a.parts[sender]
	if i == 0 {
		// A new message; an earlier one left unfinished lost its chunks.
		now := time.Now()
		for s, q := range a.parts {
			if now.Sub(q.start) > partialMaxAge {
				delete(a.parts, s)
			}
		}
		p = &partial{id: id, start: now}
		a.parts[sender] = p
	}
	if p == nil && i > 0 {
		// The rest of a message dropped before (its sender was lost, or
		// it was too old): nothing to put together.
		return nil, false, ErrOrphanChunk
	}
	if p == nil || p.id != id || p.next != i {
		delete(a.parts, sender)
		return nil, false, fmt.Errorf("chunk %d of %d of message %d from %s: out of order", i+1, n, id, sender)
	}
	if len(p.buf)+len(m.Data) > a.limit {
		delete(a.parts, sender)
		return nil, false, fmt.Errorf("a chunked message of more than %d bytes from %s", a.limit, sender)
	}
	p.buf = append(p.buf, m.Data...)
	p.next++
	if p.next < n {
		return nil, false, nil
	}
	delete(a.parts, sender)
	return p.buf, true, nil
}

// CheckMaxPayload says why nc's server cannot carry a farm's messages: a
// max payload under MinMaxPayload, too small for the chunks of a big
// message and their headers.
func CheckMaxPayload(nc *nats.Conn) error {
	if mp := nc.MaxPayload(); mp < MinMaxPayload {
		return fmt.Errorf("the NATS server's max_payload is %d bytes: workestrator needs at least %d (64 KiB)", mp, MinMaxPayload)
	}
	return nil
}
