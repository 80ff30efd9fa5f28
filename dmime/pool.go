package dmime

import (
	"bufio"
	"io"
	"sync"
)

// Buffer pools. Every Seal and Open needs a few 64 KiB buffers; for small
// messages allocating and clearing them cost more than the AEAD itself.
// Pooled objects hold no secrets worth clearing beyond what the next user
// overwrites: plaintext buffers are wiped before they return (putSegBuf).

const ioBufSize = 64 << 10

var (
	readerPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, ioBufSize) }}
	writerPool = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, ioBufSize) }}
	segPool    = sync.Pool{New: func() any { b := make([]byte, chunkHeaderLen+maxSegmentPayload); return &b }}
)

func getReader(r io.Reader) *bufio.Reader {
	br := readerPool.Get().(*bufio.Reader)
	br.Reset(r)
	return br
}

func putReader(br *bufio.Reader) {
	br.Reset(nil)
	readerPool.Put(br)
}

func getWriter(w io.Writer) *bufio.Writer {
	bw := writerPool.Get().(*bufio.Writer)
	bw.Reset(w)
	return bw
}

func putWriter(bw *bufio.Writer) {
	bw.Reset(nil)
	writerPool.Put(bw)
}

func getSegBuf() *[]byte { return segPool.Get().(*[]byte) }

// putSegBuf clears a buffer that held plaintext and returns it.
func putSegBuf(b *[]byte) {
	clear((*b)[:cap(*b)])
	segPool.Put(b)
}
