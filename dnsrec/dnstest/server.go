// Package dnstest runs a small DNS server on 127.0.0.1 for tests and for
// the demo's test network: UDP and TCP on one ephemeral port, answering
// from records the caller controls, the way a recursive resolver would
// (CNAMEs followed, AD set for zones marked signed, UDP answers truncated
// to the client's buffer).
//
// A Server is safe for concurrent use: tests may change records while
// queries are in flight.
package dnstest

import (
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/miekg/dns"
)

// Server is a running test DNS server.
type Server struct {
	// Addr is host:port for both UDP and TCP.
	Addr string

	mu      sync.Mutex
	rrs     map[string][]dns.RR // by lowercase owner name
	fails   map[string]failure  // names answered with an error rcode
	drops   map[string]bool     // names never answered
	signed  []string            // zone apexes whose answers are authentic
	queries map[string]int      // by transport, "udp" or "tcp"
	servers []*dns.Server
}

type failure struct {
	rcode int
	ede   []uint16
}

// NewServer starts a server and stops it when the test ends.
func NewServer(t testing.TB) *Server {
	t.Helper()
	s, err := Start()
	if err != nil {
		t.Fatalf("dnstest: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// Start starts a server on an ephemeral port of 127.0.0.1, outside a test
// (the test network of package testnet and `umbra demo` use it). Close
// stops it.
func Start() (*Server, error) {
	s := &Server{
		rrs:     map[string][]dns.RR{},
		fails:   map[string]failure{},
		drops:   map[string]bool{},
		queries: map[string]int{},
	}
	// UDP and TCP share a port number; try a few ephemeral ports in case
	// the TCP one is taken.
	var pc net.PacketConn
	var ln net.Listener
	for try := 0; ; try++ {
		var err error
		pc, err = net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ln, err = net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			break
		}
		pc.Close()
		if try == 10 {
			return nil, err
		}
	}
	s.Addr = pc.LocalAddr().String()
	for _, srv := range []*dns.Server{{PacketConn: pc, Handler: s}, {Listener: ln, Handler: s}} {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		go srv.ActivateAndServe()
		<-started
		s.servers = append(s.servers, srv)
	}
	return s, nil
}

// Close stops the server.
func (s *Server) Close() {
	for _, srv := range s.servers {
		srv.Shutdown()
	}
}

// Add adds one record in zone-file syntax, such as
// `_dime.a.test. 300 IN TXT "ver=1 ..."`, failing t if it does not parse.
func (s *Server) Add(t testing.TB, zoneLine string) {
	t.Helper()
	if err := s.AddRecord(zoneLine); err != nil {
		t.Fatal(err)
	}
}

// AddRecord is Add outside a test.
func (s *Server) AddRecord(zoneLine string) error {
	rr, err := dns.NewRR(zoneLine)
	if err != nil || rr == nil {
		return fmt.Errorf("dnstest: bad record %q: %v", zoneLine, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := key(rr.Header().Name)
	s.rrs[n] = append(s.rrs[n], rr)
	return nil
}

// AddTXT adds a TXT record at name made of the given character-strings,
// in miekg/dns presentation form (\" \\ and \DDD escapes).
func (s *Server) AddTXT(name string, strs ...string) {
	rr := &dns.TXT{Hdr: dns.RR_Header{Name: dns.Fqdn(name), Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 300}, Txt: strs}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := key(name)
	s.rrs[n] = append(s.rrs[n], rr)
}

// Remove deletes every record at name and any failure set for it; the
// name then answers NXDOMAIN.
func (s *Server) Remove(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.rrs, key(name))
	delete(s.fails, key(name))
	delete(s.drops, key(name))
}

// Fail makes queries for name answer rcode, with the given RFC 8914
// extended error codes in the OPT record.
func (s *Server) Fail(name string, rcode int, ede ...uint16) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fails[key(name)] = failure{rcode: rcode, ede: ede}
}

// Drop makes queries for name go unanswered, as if packets were lost.
func (s *Server) Drop(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.drops[key(name)] = true
}

// Sign marks a zone as DNSSEC-signed and validated: answers for names at
// or under it carry AD when the query set AD or DO (RFC 6840 §5.7).
func (s *Server) Sign(zone string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.signed = append(s.signed, key(zone))
}

// Unsign marks a zone as unsigned again: its answers lose AD, as when an
// attacker strips DNSSEC on the path to a non-validating resolver.
func (s *Server) Unsign(zone string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.signed = slices.DeleteFunc(s.signed, func(z string) bool { return z == key(zone) })
}

// Queries returns how many queries arrived over net ("udp" or "tcp").
func (s *Server) Queries(net string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.queries[net]
}

func key(name string) string { return strings.ToLower(dns.Fqdn(name)) }

// ServeDNS implements dns.Handler.
func (s *Server) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	_, udp := w.RemoteAddr().(*net.UDPAddr)
	resp, ok := s.answer(req, udp)
	if !ok {
		return
	}
	if udp {
		size := dns.MinMsgSize
		if opt := req.IsEdns0(); opt != nil && int(opt.UDPSize()) > size {
			size = int(opt.UDPSize())
		}
		resp.Truncate(size)
	}
	w.WriteMsg(resp)
}

func (s *Server) answer(req *dns.Msg, udp bool) (*dns.Msg, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if udp {
		s.queries["udp"]++
	} else {
		s.queries["tcp"]++
	}
	resp := new(dns.Msg)
	resp.SetReply(req)
	resp.RecursionAvailable = true
	opt := req.IsEdns0()
	if opt != nil {
		resp.SetEdns0(4096, opt.Do())
	}
	if len(req.Question) != 1 {
		resp.Rcode = dns.RcodeFormatError
		return resp, true
	}
	q := req.Question[0]
	name := key(q.Name)
	if s.drops[name] {
		return nil, false
	}
	if f, ok := s.fails[name]; ok {
		resp.Rcode = f.rcode
		if resp.IsEdns0() != nil {
			for _, code := range f.ede {
				resp.IsEdns0().Option = append(resp.IsEdns0().Option, &dns.EDNS0_EDE{InfoCode: code})
			}
		}
		return resp, true
	}
	authentic := true
	// Follow CNAMEs within our data, as a recursive resolver would.
	for hops := 0; hops < 8; hops++ {
		authentic = authentic && s.isSigned(name)
		rrs, exists := s.rrs[name]
		if !exists {
			// The rcode speaks of the last name in the chain (RFC 6604 §2).
			resp.Rcode = dns.RcodeNameError
			break
		}
		var next string
		for _, rr := range rrs {
			switch {
			case rr.Header().Rrtype == q.Qtype:
				resp.Answer = append(resp.Answer, dns.Copy(rr))
			case rr.Header().Rrtype == dns.TypeCNAME:
				resp.Answer = append(resp.Answer, dns.Copy(rr))
				next = key(rr.(*dns.CNAME).Target)
			}
		}
		if next == "" {
			break
		}
		name = next
	}
	resp.AuthenticatedData = authentic && (req.AuthenticatedData || opt != nil && opt.Do())
	return resp, true
}

func (s *Server) isSigned(name string) bool {
	for _, z := range s.signed {
		if name == z || strings.HasSuffix(name, "."+z) {
			return true
		}
	}
	return false
}
