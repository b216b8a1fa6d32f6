//go:build !etcd35

package etcd

import (
	"time"

	clientv3 "go.etcd.io/etcd/clientv3"
	"go.etcd.io/etcd/clientv3/naming/endpoints"
	etcdresolver "go.etcd.io/etcd/clientv3/naming/resolver"
	"go.etcd.io/etcd/version"
	"google.golang.org/grpc"
	gresolver "google.golang.org/grpc/resolver"
)

// Version is the etcd release whose Go packages are built in.
var Version = version.Version

// Packages names the naming packages built in.
const Packages = "go.etcd.io/etcd/clientv3/naming/{endpoints,resolver}"

// GRPCVersion is the grpc-go release built in.
const GRPCVersion = grpc.Version

type (
	Client         = clientv3.Client
	Config         = clientv3.Config
	OpOption       = clientv3.OpOption
	LeaseID        = clientv3.LeaseID
	Endpoint       = endpoints.Endpoint
	Manager        = endpoints.Manager
	Operation      = endpoints.Operation
	Update         = endpoints.Update
	UpdateWithOpts = endpoints.UpdateWithOpts
)

const (
	Add          = endpoints.Add
	Delete       = endpoints.Delete
	EventTypePut = clientv3.EventTypePut
)

var (
	New                 = clientv3.New
	WithPrefix          = clientv3.WithPrefix
	WithCountOnly       = clientv3.WithCountOnly
	WithLease           = clientv3.WithLease
	WithCreatedNotify   = clientv3.WithCreatedNotify
	NewManager          = endpoints.NewManager
	NewAddUpdateOpts    = endpoints.NewAddUpdateOpts
	NewDeleteUpdateOpts = endpoints.NewDeleteUpdateOpts
	NewResolverBuilder  = etcdresolver.NewBuilder
)

// recorder is the resolver.ClientConn handed to etcd's resolver; the embedded interface (nil) is never
// called by it.
type recorder struct {
	gresolver.ClientConn
	report func(ResolverState)
}

func (r recorder) UpdateState(s gresolver.State) {
	at := time.Now().UnixNano()
	r.report(ResolverState{At: at, Addresses: addresses(s.Addresses), Endpoints: [][]ResolvedAddress{}})
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
	builder, err := etcdresolver.NewBuilder(cli)
	if err != nil {
		return nil, err
	}
	target := gresolver.Target{Scheme: "etcd", Endpoint: service}
	r, err := builder.Build(target, recorder{report: report}, gresolver.BuildOptions{})
	if err != nil {
		return nil, err
	}
	return r.Close, nil
}
