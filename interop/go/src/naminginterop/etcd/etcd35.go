//go:build etcd35

package etcd

import (
	"net/url"
	"time"

	"go.etcd.io/etcd/api/v3/version"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/naming/endpoints"
	etcdresolver "go.etcd.io/etcd/client/v3/naming/resolver"
	gresolver "google.golang.org/grpc/resolver"
)

// Version is the etcd release whose Go packages are built in.
var Version = version.Version

// Packages names the naming packages built in.
const Packages = "go.etcd.io/etcd/client/v3/naming/{endpoints,resolver}"

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

// UpdateState records the state etcd's resolver hands to grpc-go.
func (r recorder) UpdateState(s gresolver.State) error {
	at := time.Now().UnixNano()
	endpoints := make([][]ResolvedAddress, 0, len(s.Endpoints))
	for _, e := range s.Endpoints {
		endpoints = append(endpoints, addresses(e.Addresses))
	}
	r.report(ResolverState{At: at, Addresses: addresses(s.Addresses), Endpoints: endpoints})
	return nil
}

// resolverTarget is etcd:///service as this grpc-go release spells a resolver.Target.
func resolverTarget(service string) gresolver.Target {
	return gresolver.Target{URL: url.URL{Scheme: "etcd", Path: "/" + service}}
}
