// Package etcd is the one place that names etcd's Go packages, so that the helper builds against either
// release line: etcd 3.4's go.etcd.io/etcd/clientv3/naming/... by default (etcd34.go) or, with
// `-tags etcd35`, etcd 3.5's go.etcd.io/etcd/client/v3/naming/... (etcd35.go). Both export the same names
// (aliases of etcd's own types and functions), so main.go is one program for both.
package etcd

import (
	"google.golang.org/grpc"
	gresolver "google.golang.org/grpc/resolver"
)

// GRPCVersion is the grpc-go release built in.
const GRPCVersion = grpc.Version

// ResolvedAddress is one address etcd's Go resolver handed to grpc-go, with the Metadata it set on it.
type ResolvedAddress struct {
	Addr     string      `json:"addr"`
	Metadata interface{} `json:"metadata"`
}

// ResolverState is what one resolver.ClientConn.UpdateState call carried: the flat State.Addresses (what
// etcd 3.4 fills) and State.Endpoints, one list of addresses per endpoint (what etcd 3.5 fills; grpc-go
// before 1.40 has no such field).
type ResolverState struct {
	// At is when UpdateState was called (wall clock, Unix nanoseconds), before anything else it does.
	At        int64               `json:"-"`
	Addresses []ResolvedAddress   `json:"addresses"`
	Endpoints [][]ResolvedAddress `json:"endpoints"`
}

// recorder is the resolver.ClientConn handed to etcd's resolver; the embedded interface (nil) is never
// called by it. Its UpdateState, whose signature depends on the grpc-go release, is in etcd34.go and
// etcd35.go.
type recorder struct {
	gresolver.ClientConn
	report func(ResolverState)
}

func (recorder) ReportError(error) {}

func addresses(in []gresolver.Address) []ResolvedAddress {
	out := make([]ResolvedAddress, 0, len(in))
	for _, a := range in {
		out = append(out, ResolvedAddress{Addr: a.Addr, Metadata: a.Metadata})
	}
	return out
}

// WatchResolver builds etcd's resolver for etcd:///service on a recording ClientConn and calls report with
// every state it sends to grpc-go; the returned function closes it.
func WatchResolver(cli *Client, service string, report func(ResolverState)) (func(), error) {
	builder, err := NewResolverBuilder(cli)
	if err != nil {
		return nil, err
	}
	r, err := builder.Build(resolverTarget(service), recorder{report: report}, gresolver.BuildOptions{})
	if err != nil {
		return nil, err
	}
	return r.Close, nil
}
