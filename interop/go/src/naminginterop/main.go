// Command naminginterop drives etcd's own Go naming packages (endpoints and resolver: etcd 3.4's
// go.etcd.io/etcd/clientv3/naming by default, etcd 3.5's go.etcd.io/etcd/client/v3/naming with -tags etcd35;
// see package naminginterop/etcd) and grpc-go, so the Node packages can be checked against the real thing
// rather than against a reading of it. Every subcommand talks JSON: requests as arguments, results as one
// JSON document (or one JSON line per event) on stdout.
//
//	naminginterop version
//	naminginterop vectors  -endpoints E -service S
//	naminginterop manager  -endpoints E -service S add|update|delete|list [request JSON]
//	naminginterop resolve  -endpoints E -service S [-for 10s]
//	naminginterop server   -endpoints E -service S -id ID [-ttl 10] [-metadata JSON]
//	naminginterop client   -endpoints E -target etcd:///S [-interval 50ms] [-deadline 2s] [-authority A]
//	naminginterop resolve-object-metadata -endpoints E -target etcd:///S [-for 20s]
//	naminginterop bench-writer -endpoints E -key S/ID -count N [-interval 120ms] [-port-base 20000]
//	naminginterop bench-listen -endpoints E -service S -probe ADDR -until ADDR
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/ioutil"
	"net"
	"os"
	"os/signal"
	"reflect"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"google.golang.org/grpc"

	"naminginterop/etcd"
)

// The wire contract of the test greeter shared with the Node side: JSON messages, any request, and a
// reply {"id": "<server id>"} so the caller sees which backend answered.
const (
	greeterService = "test.Greeter"
	greeterMethod  = "WhoAmI"
	greeterPath    = "/" + greeterService + "/" + greeterMethod
	roundRobin     = `{"loadBalancingConfig":[{"round_robin":{}}]}`
)

func main() {
	if len(os.Args) < 2 {
		fail(errors.New("usage: naminginterop version|vectors|manager|resolve|server|client|resolve-object-metadata|bench-writer|bench-listen [flags]"))
	}
	var err error
	switch cmd, args := os.Args[1], os.Args[2:]; cmd {
	case "version":
		out(map[string]string{"etcd": etcd.Version, "packages": etcd.Packages, "grpc": etcd.GRPCVersion, "go": runtime.Version()})
	case "vectors":
		err = runVectors(args)
	case "resolve":
		err = runResolve(args)
	case "manager":
		err = runManager(args)
	case "server":
		err = runServer(args)
	case "client":
		err = runClient(args, false)
	case "resolve-object-metadata":
		err = runClient(args, true)
	case "bench-writer":
		err = runBenchWriter(args)
	case "bench-listen":
		err = runBenchListen(args)
	default:
		err = fmt.Errorf("unknown subcommand %q", cmd)
	}
	if err != nil {
		fail(err)
	}
}

func fail(err error) {
	_ = json.NewEncoder(os.Stdout).Encode(map[string]string{"error": err.Error()})
	fmt.Fprintln(os.Stderr, "naminginterop:", err)
	os.Exit(1)
}

// out writes one JSON line; calls from several goroutines never interleave.
var outMu sync.Mutex

func out(v interface{}) {
	outMu.Lock()
	defer outMu.Unlock()
	enc := json.NewEncoder(os.Stdout)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

func connect(endpointList string) (*etcd.Client, error) {
	var eps []string
	for _, e := range strings.Split(endpointList, ",") {
		if e = strings.TrimSpace(e); e != "" {
			eps = append(eps, e)
		}
	}
	if len(eps) == 0 {
		return nil, errors.New("-endpoints is required")
	}
	return etcd.New(etcd.Config{Endpoints: eps, DialTimeout: 5 * time.Second})
}

// withManager connects to etcd, opens etcd's Go endpoints.Manager on service and runs f with them and a
// request context (opCtx); the context is cancelled and the client closed when f returns.
func withManager(endpointList, service string, f func(ctx context.Context, cli *etcd.Client, em etcd.Manager) error) error {
	cli, err := connect(endpointList)
	if err != nil {
		return err
	}
	defer cli.Close()
	em, err := etcd.NewManager(cli, service)
	if err != nil {
		return err
	}
	ctx, cancel := opCtx()
	defer cancel()
	return f(ctx, cli, em)
}

// commandFlags starts the flags of a subcommand with the -endpoints flag every subcommand takes.
func commandFlags(name string) (fs *flag.FlagSet, endpointList *string) {
	fs = flag.NewFlagSet(name, flag.ExitOnError)
	return fs, fs.String("endpoints", "", "etcd endpoints, comma-separated")
}

// serviceFlags is commandFlags with the -service flag of a subcommand that works on one service.
func serviceFlags(name, serviceUsage string) (fs *flag.FlagSet, endpointList, service *string) {
	fs, endpointList = commandFlags(name)
	return fs, endpointList, fs.String("service", "", serviceUsage)
}

func opCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 10*time.Second)
}

// waitForStop returns when stdin closes (the parent went away) or on SIGTERM/SIGINT.
func waitForStop() {
	done := make(chan struct{}, 2)
	go func() {
		_, _ = io.Copy(ioutil.Discard, os.Stdin)
		done <- struct{}{}
	}()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-sig
		done <- struct{}{}
	}()
	<-done
}

// ---- gRPC codec: the messages are JSON bytes passed through untouched ----

type rawCodec struct{}

func (rawCodec) Marshal(v interface{}) ([]byte, error) {
	switch m := v.(type) {
	case *[]byte:
		return *m, nil
	case []byte:
		return m, nil
	}
	return nil, fmt.Errorf("rawCodec: cannot marshal %T", v)
}

func (rawCodec) Unmarshal(data []byte, v interface{}) error {
	m, ok := v.(*[]byte)
	if !ok {
		return fmt.Errorf("rawCodec: cannot unmarshal into %T", v)
	}
	*m = append([]byte(nil), data...)
	return nil
}

func (rawCodec) Name() string   { return "json" }
func (rawCodec) String() string { return "json" }

// ---- vectors ----

// internalUpdate mirrors endpoints/internal.Update, which Go's import rules keep private to the endpoints
// package. Its decisions are checked against the real Manager.List on every run (see checkDecodeWithManager).
type internalUpdate struct {
	Op       uint8
	Addr     string
	Metadata interface{}
}

type encodeCase struct {
	Addr     string      `json:"addr"`
	Metadata interface{} `json:"metadata"`
	Value    string      `json:"value"`
	Name     string      `json:"name"`
}

type decodeCase struct {
	Name     string       `json:"name"`
	Value    string       `json:"value"`
	Accept   bool         `json:"accept"`
	Addr     *string      `json:"addr,omitempty"`
	Metadata *interface{} `json:"metadata,omitempty"`
	Why      string       `json:"why,omitempty"`
	Note     string       `json:"note,omitempty"`
}

type vectorsDoc struct {
	About  string       `json:"about"`
	Encode []encodeCase `json:"encode"`
	Decode []decodeCase `json:"decode"`
}

// vectorsAbout names the etcd, package and Go release that produced the vectors; the committed file was
// produced by etcd 3.4.23 and Go 1.19.
func vectorsAbout() string {
	goMinor := strings.Join(strings.SplitN(strings.TrimPrefix(runtime.Version(), "go"), ".", 3)[:2], ".")
	return fmt.Sprintf("Produced by etcd's own Go code (%s, etcd %s as packaged by Debian, Go %s encoding/json). "+
		"'encode': the exact bytes Go's endpoints.Manager writes for an Add of {Addr, Metadata}. 'decode': how a "+
		"stored value must be read; accept=false means the value is skipped (with a warning naming the key), "+
		"never fatal.", strings.TrimSuffix(etcd.Packages, "/{endpoints,resolver}")+"/endpoints", etcd.Version, goMinor)
}

func encodeInputs() []encodeCase {
	return []encodeCase{
		{Name: "no metadata", Addr: "1.2.3.4:50051"},
		{Name: "string metadata (seed example)", Addr: "1.2.3.4", Metadata: "..."},
		{
			Name: "object metadata (keys given unsorted; Go writes them sorted)", Addr: "10.0.0.7:8080",
			Metadata: map[string]interface{}{"zone": "us-east-1a", "weight": 3, "version": "v2"},
		},
		{
			Name: "nested metadata", Addr: "[::1]:9000",
			Metadata: map[string]interface{}{"labels": map[string]interface{}{"tier": "gold"}, "ports": []interface{}{1, 2}},
		},
		{Name: "html-ish chars are escaped by Go", Addr: "host.example:443", Metadata: "<a&b>"},
		{Name: "unicode", Addr: "unix:///tmp/s.sock", Metadata: "zone-é-東京"},
		{Name: "number metadata", Addr: "dns-name:1", Metadata: 42.5},
		{Name: "bool metadata", Addr: "h:2", Metadata: true},
	}
}

func decodeInputs() []decodeCase {
	return []decodeCase{
		{Name: "seed etcdctl form (no Op)", Value: `{"Addr":"1.2.3.4","Metadata":"..."}`},
		{Name: "go v3.2-3.6 form", Value: `{"Op":0,"Addr":"1.2.3.4:50051","Metadata":null}`},
		{Name: "v3.5 docs form, address only", Value: `{"Addr":"1.2.3.4"}`},
		{Name: "object metadata", Value: `{"Op":0,"Addr":"10.0.0.7:8080","Metadata":{"zone":"a","weight":3}}`},
		{Name: "unknown fields ignored", Value: `{"Addr":"h:1","Extra":{"x":1},"Metadata":1}`},
		{Name: "lower-case field names (Go matches case-insensitively)", Value: `{"addr":"h:2","metadata":"m"}`},
		{Name: "Op 1 stored in a put value", Value: `{"Op":1,"Addr":"h:3"}`},
		{Name: "whitespace around", Value: "  {\"Addr\" : \"h:4\" }\n"},
		{Name: "not JSON", Value: `1.2.3.4:50051`},
		{Name: "empty value", Value: ``},
		{Name: "JSON array", Value: `["1.2.3.4"]`},
		{Name: "JSON string", Value: `"1.2.3.4"`},
		{Name: "JSON null", Value: `null`},
		{Name: "Addr is a number", Value: `{"Addr":5}`},
		{Name: "Op is negative", Value: `{"Op":-1,"Addr":"h:5"}`},
		{Name: "Op is 256", Value: `{"Op":256,"Addr":"h:6"}`},
		{Name: "truncated JSON", Value: `{"Addr":"h:7"`},
		{Name: "trailing garbage", Value: `{"Addr":"h:8"} x`},
		{Name: "empty object", Value: `{}`},
		{
			Name: "__proto__ in metadata", Value: `{"Addr":"h:9","Metadata":{"__proto__":{"polluted":true},"ok":1}}`,
			Note: "metadata may keep '__proto__' as an own data property or drop it; Object.prototype must never change",
		},
	}
}

func runVectors(args []string) error {
	fs, endpointList, service := serviceFlags("vectors", "a scratch service prefix (deleted afterwards)")
	_ = fs.Parse(args)
	if *service == "" {
		return errors.New("-service is required")
	}
	return withManager(*endpointList, *service, func(ctx context.Context, cli *etcd.Client, em etcd.Manager) error {
		defer func() { _, _ = cli.Delete(context.Background(), *service+"/", etcd.WithPrefix()) }()

		doc := vectorsDoc{About: vectorsAbout()}
		// Encode: what the real Manager.AddEndpoint stores, read back byte for byte.
		for i, c := range encodeInputs() {
			key := fmt.Sprintf("%s/encode-%d", *service, i)
			if err := em.AddEndpoint(ctx, key, etcd.Endpoint{Addr: c.Addr, Metadata: c.Metadata}); err != nil {
				return fmt.Errorf("AddEndpoint %q: %w", c.Name, err)
			}
			resp, err := cli.Get(ctx, key)
			if err != nil {
				return err
			}
			if len(resp.Kvs) != 1 {
				return fmt.Errorf("encode %q: key %s not found after AddEndpoint", c.Name, key)
			}
			c.Value = string(resp.Kvs[0].Value)
			doc.Encode = append(doc.Encode, c)
		}

		// Decode: the manager's json.Unmarshal into its update struct, with the error text when it refuses.
		for _, c := range decodeInputs() {
			var iup internalUpdate
			switch err := json.Unmarshal([]byte(c.Value), &iup); {
			case err != nil:
				c.Why = "Go's decoder rejects it: " + err.Error()
			case iup.Addr == "":
				c.Why = "Go's decoder accepts it but the address is empty: no usable endpoint"
			default:
				c.Accept = true
				addr, md := iup.Addr, iup.Metadata
				c.Addr, c.Metadata = &addr, &md
			}
			doc.Decode = append(doc.Decode, c)
		}
		if err := checkDecodeWithManager(ctx, cli, em, *service, doc.Decode); err != nil {
			return err
		}

		enc := json.NewEncoder(os.Stdout)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		return enc.Encode(doc)
	})
}

// checkDecodeWithManager stores every decode input and reads it back through the real Manager.List, which
// drops what fails to unmarshal: the mirror struct must agree with it on every case.
func checkDecodeWithManager(ctx context.Context, cli *etcd.Client, em etcd.Manager, service string, cases []decodeCase) error {
	keys := make([]string, len(cases))
	for i, c := range cases {
		keys[i] = fmt.Sprintf("%s/decode-%d", service, i)
		if _, err := cli.Put(ctx, keys[i], c.Value); err != nil {
			return err
		}
	}
	listed, err := em.List(ctx)
	if err != nil {
		return err
	}
	for i, c := range cases {
		ep, found := listed[keys[i]]
		var iup internalUpdate
		unmarshalled := json.Unmarshal([]byte(c.Value), &iup) == nil
		if found != unmarshalled {
			return fmt.Errorf("decode %q: Manager.List found=%v but the mirror struct unmarshalled=%v", c.Name, found, unmarshalled)
		}
		if found && (ep.Addr != iup.Addr || !reflect.DeepEqual(ep.Metadata, iup.Metadata)) {
			return fmt.Errorf("decode %q: Manager.List gave %#v, the mirror struct %#v", c.Name, ep, iup)
		}
	}
	return nil
}

// ---- manager ----

type endpointJSON struct {
	Addr     string      `json:"addr"`
	Metadata interface{} `json:"metadata"`
}

type opRequest struct {
	Op       *uint8      `json:"op"`
	Key      string      `json:"key"`
	Addr     string      `json:"addr"`
	Metadata interface{} `json:"metadata"`
	Lease    string      `json:"lease"`
}

func (r opRequest) opts() ([]etcd.OpOption, error) {
	if r.Lease == "" {
		return nil, nil
	}
	id, err := strconv.ParseInt(r.Lease, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("bad lease id %q: %w", r.Lease, err)
	}
	return []etcd.OpOption{etcd.WithLease(etcd.LeaseID(id))}, nil
}

func runManager(args []string) error {
	fs, endpointList, service := serviceFlags("manager", "the manager's target (service name)")
	_ = fs.Parse(args)
	rest := fs.Args()
	if len(rest) == 0 {
		return errors.New("manager: add|update|delete|list [request JSON]")
	}
	return withManager(*endpointList, *service, func(ctx context.Context, cli *etcd.Client, em etcd.Manager) error {
		request := ""
		if len(rest) > 1 {
			request = rest[1]
		}

		switch rest[0] {
		case "add", "delete":
			var r opRequest
			if err := json.Unmarshal([]byte(request), &r); err != nil {
				return fmt.Errorf("bad request: %w", err)
			}
			opts, err := r.opts()
			if err != nil {
				return err
			}
			if rest[0] == "add" {
				err = em.AddEndpoint(ctx, r.Key, etcd.Endpoint{Addr: r.Addr, Metadata: r.Metadata}, opts...)
			} else {
				err = em.DeleteEndpoint(ctx, r.Key, opts...)
			}
			if err != nil {
				return err
			}
		case "update":
			var rs []opRequest
			if err := json.Unmarshal([]byte(request), &rs); err != nil {
				return fmt.Errorf("bad request: %w", err)
			}
			updates := make([]*etcd.UpdateWithOpts, 0, len(rs))
			for _, r := range rs {
				opts, err := r.opts()
				if err != nil {
					return err
				}
				switch {
				case r.Op == nil:
					return fmt.Errorf("update for %q has no op", r.Key)
				case etcd.Operation(*r.Op) == etcd.Add:
					updates = append(updates, etcd.NewAddUpdateOpts(r.Key, etcd.Endpoint{Addr: r.Addr, Metadata: r.Metadata}, opts...))
				case etcd.Operation(*r.Op) == etcd.Delete:
					updates = append(updates, etcd.NewDeleteUpdateOpts(r.Key, opts...))
				default:
					// Passed through so Go's own "bad update op" error is what the caller sees.
					updates = append(updates, &etcd.UpdateWithOpts{Update: etcd.Update{Op: etcd.Operation(*r.Op), Key: r.Key}})
				}
			}
			if err := em.Update(ctx, updates); err != nil {
				return err
			}
		case "list":
			listed, err := em.List(ctx)
			if err != nil {
				return err
			}
			result := make(map[string]endpointJSON, len(listed))
			for k, ep := range listed {
				result[k] = endpointJSON{Addr: ep.Addr, Metadata: ep.Metadata}
			}
			out(map[string]interface{}{"endpoints": result})
			return nil
		default:
			return fmt.Errorf("manager: unknown operation %q", rest[0])
		}
		resp, err := cli.Get(ctx, *service+"/", etcd.WithPrefix(), etcd.WithCountOnly())
		if err != nil {
			return err
		}
		out(map[string]interface{}{"ok": true, "revision": resp.Header.Revision})
		return nil
	})
}

// ---- resolve ----

// runResolve builds etcd's Go resolver for etcd:///<service> on a recording resolver.ClientConn and prints
// the first state it hands to grpc-go that holds an address ({"addresses":[…],"endpoints":[[…]]}, each
// address with its Metadata, sorted by address): what grpc-go would receive, without a channel in the way.
func runResolve(args []string) error {
	fs, endpointList, service := serviceFlags("resolve", "the service to resolve")
	maxWait := fs.Duration("for", 10*time.Second, "how long to wait for a state with an address")
	_ = fs.Parse(args)
	if *service == "" {
		return errors.New("-service is required")
	}
	cli, err := connect(*endpointList)
	if err != nil {
		return err
	}
	defer cli.Close()
	states := make(chan etcd.ResolverState, 16)
	closeResolver, err := etcd.WatchResolver(cli, *service, func(s etcd.ResolverState) {
		select {
		case states <- s:
		default:
		}
	})
	if err != nil {
		return err
	}
	defer closeResolver()
	timeout := time.After(*maxWait)
	for {
		select {
		case s := <-states:
			if len(s.Addresses) == 0 && len(s.Endpoints) == 0 {
				continue
			}
			sortResolved(s.Addresses)
			for _, e := range s.Endpoints {
				sortResolved(e)
			}
			sort.Slice(s.Endpoints, func(i, j int) bool { return firstAddr(s.Endpoints[i]) < firstAddr(s.Endpoints[j]) })
			out(s)
			return nil
		case <-timeout:
			return fmt.Errorf("etcd's resolver sent no state with an address for %q within %s", *service, *maxWait)
		}
	}
}

func sortResolved(as []etcd.ResolvedAddress) {
	sort.Slice(as, func(i, j int) bool { return as[i].Addr < as[j].Addr })
}

func firstAddr(as []etcd.ResolvedAddress) string {
	if len(as) == 0 {
		return ""
	}
	return as[0].Addr
}

// ---- server ----

func runServer(args []string) error {
	fs, endpointList, service := serviceFlags("server", "the service to register under")
	id := fs.String("id", "", "the id this server answers with")
	ttl := fs.Int64("ttl", 10, "lease TTL in seconds")
	metadataJSON := fs.String("metadata", "", "endpoint metadata as JSON (default: none)")
	_ = fs.Parse(args)
	if *service == "" || *id == "" {
		return errors.New("-service and -id are required")
	}
	var metadata interface{}
	if *metadataJSON != "" {
		if err := json.Unmarshal([]byte(*metadataJSON), &metadata); err != nil {
			return fmt.Errorf("bad -metadata: %w", err)
		}
	}
	reply, _ := json.Marshal(map[string]string{"id": *id})

	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := grpc.NewServer(grpc.CustomCodec(rawCodec{}))
	srv.RegisterService(&grpc.ServiceDesc{
		ServiceName: greeterService,
		HandlerType: (*interface{})(nil),
		Methods: []grpc.MethodDesc{{
			MethodName: greeterMethod,
			Handler: func(_ interface{}, _ context.Context, dec func(interface{}) error, _ grpc.UnaryServerInterceptor) (interface{}, error) {
				var in []byte
				if err := dec(&in); err != nil {
					return nil, err
				}
				return &reply, nil
			},
		}},
	}, struct{}{})
	go func() { _ = srv.Serve(lis) }()
	defer srv.Stop()

	return withManager(*endpointList, *service, func(ctx context.Context, cli *etcd.Client, em etcd.Manager) error {
		lease, err := cli.Grant(ctx, *ttl)
		if err != nil {
			return err
		}
		addr := lis.Addr().String()
		key := *service + "/" + addr
		if err := em.AddEndpoint(ctx, key, etcd.Endpoint{Addr: addr, Metadata: metadata}, etcd.WithLease(lease.ID)); err != nil {
			return err
		}
		keepCtx, stopKeep := context.WithCancel(context.Background())
		defer stopKeep()
		kch, err := cli.KeepAlive(keepCtx, lease.ID)
		if err != nil {
			return err
		}
		go func() {
			for range kch {
			}
			// The channel closes when the lease is gone (revoked, expired) or on shutdown; the server keeps
			// serving either way, so whoever stops calling it does so because the registry says so.
			if keepCtx.Err() == nil {
				out(map[string]string{"event": "lease-lost"})
			}
		}()
		out(map[string]string{"event": "serving", "addr": addr, "key": key, "leaseId": strconv.FormatInt(int64(lease.ID), 10)})

		waitForStop()
		stopKeep()
		cleanup, cancelCleanup := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancelCleanup()
		_, _ = cli.Revoke(cleanup, lease.ID)
		return nil
	})
}

// ---- client / resolve-object-metadata ----

func runClient(args []string, survivalCheck bool) error {
	name := "client"
	if survivalCheck {
		name = "resolve-object-metadata"
	}
	fs, endpointList := commandFlags(name)
	target := fs.String("target", "", "e.g. etcd:///my-service")
	interval := fs.Duration("interval", 50*time.Millisecond, "pause between calls")
	deadline := fs.Duration("deadline", 2*time.Second, "per-call deadline")
	maxRun := fs.Duration("for", 20*time.Second, "resolve-object-metadata: how long to keep calling")
	authority := fs.String("authority", "", "the :authority to send (default: grpc-go's, the service name)")
	_ = fs.Parse(args)
	if !strings.HasPrefix(*target, "etcd:///") {
		return errors.New("-target must look like etcd:///<service>")
	}
	cli, err := connect(*endpointList)
	if err != nil {
		return err
	}
	defer cli.Close()
	builder, err := etcd.NewResolverBuilder(cli)
	if err != nil {
		return err
	}
	dialOptions := []grpc.DialOption{grpc.WithInsecure(), grpc.WithResolvers(builder), grpc.WithDefaultServiceConfig(roundRobin)}
	if *authority != "" {
		dialOptions = append(dialOptions, grpc.WithAuthority(*authority))
	}
	conn, err := grpc.Dial(*target, dialOptions...)
	if err != nil {
		return err
	}
	defer conn.Close()
	out(map[string]string{"event": "dialed", "target": *target})

	stop := make(chan struct{})
	go func() {
		waitForStop()
		close(stop)
	}()
	var until <-chan time.Time
	if survivalCheck {
		until = time.After(*maxRun)
	}
	request := []byte("{}")
	answered := map[string]int{}
	for seq := 1; ; seq++ {
		ctx, cancel := context.WithTimeout(context.Background(), *deadline)
		var response []byte
		err := conn.Invoke(ctx, greeterPath, &request, &response, grpc.ForceCodec(rawCodec{}))
		cancel()
		if err != nil {
			out(map[string]interface{}{"seq": seq, "error": err.Error()})
		} else {
			var r struct {
				ID string `json:"id"`
			}
			if err := json.Unmarshal(response, &r); err != nil {
				out(map[string]interface{}{"seq": seq, "error": "bad reply: " + err.Error()})
			} else {
				answered[r.ID]++
				out(map[string]interface{}{"seq": seq, "server": r.ID})
			}
		}
		select {
		case <-stop:
			return nil
		case <-until:
			ids := make([]string, 0, len(answered))
			for id := range answered {
				ids = append(ids, id)
			}
			sort.Strings(ids)
			out(map[string]interface{}{"event": "survived", "answeredBy": ids})
			return nil
		case <-time.After(*interval):
		}
	}
}
