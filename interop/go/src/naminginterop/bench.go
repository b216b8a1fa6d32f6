package main

// The Go side of `pnpm bench`'s comparison with etcd's Go resolver (bench/src/scenarios/go-propagation.ts):
// a writer that puts one endpoint on a schedule, and a listener that runs etcd's Go resolver (on a
// recording resolver.ClientConn) and a raw clientv3 watch on the same puts. Every time is the wall clock in
// Unix nanoseconds (time.Now().UnixNano()), written as a decimal string: the bench compares it with
// times taken in another process, and a JSON number above 2^53 would lose the last digits.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"runtime"
	"strconv"
	"sync"
	"time"

	"naminginterop/etcd"
)

func nanos(t int64) string { return strconv.FormatInt(t, 10) }

// stopped is closed when stdin closes (the parent went away) or on SIGTERM/SIGINT.
func stopped() <-chan struct{} {
	stop := make(chan struct{})
	go func() {
		waitForStop()
		close(stop)
	}()
	return stop
}

// ---- bench-writer ----

type writerSample struct {
	Addr   string `json:"addr"`
	SentAt string `json:"sentAt"`
	AckAt  string `json:"ackAt"`
}

// runBenchWriter puts `count` endpoints {"Op":0,"Addr":"<host>:<port-base + i>","Metadata":null} (the value
// Go's endpoints.Manager writes) under one key, one every `interval` from its start, and prints when each put
// was sent and acknowledged once they are all done.
func runBenchWriter(args []string) error {
	fs, endpointList := commandFlags("bench-writer")
	key := fs.String("key", "", "the key to put (<service>/<id>)")
	host := fs.String("host", "127.0.0.1", "the host of every address put")
	portBase := fs.Int("port-base", 20000, "the port of the first address; each put adds one")
	count := fs.Int("count", 0, "how many puts")
	interval := fs.Duration("interval", 120*time.Millisecond, "time between the starts of two puts")
	_ = fs.Parse(args)
	switch {
	case *key == "":
		return errors.New("-key is required")
	case *count < 1:
		return errors.New("-count must be at least 1")
	case *portBase < 1 || *portBase+*count-1 > 65535:
		return fmt.Errorf("-port-base %d with -count %d leaves the port range", *portBase, *count)
	case *interval <= 0:
		return errors.New("-interval must be positive")
	}
	cli, err := connect(*endpointList)
	if err != nil {
		return err
	}
	defer cli.Close()
	// One read first, so the connection is up before the first timed put.
	ctx, cancel := opCtx()
	_, err = cli.Get(ctx, *key)
	cancel()
	if err != nil {
		return err
	}
	out(map[string]interface{}{"event": "ready"})

	stop := stopped()
	samples := make([]writerSample, 0, *count)
	start := time.Now()
	for i := 0; i < *count; i++ {
		select {
		case <-stop:
			return fmt.Errorf("stopped after %d of %d puts", i, *count)
		case <-time.After(time.Until(start.Add(time.Duration(i) * *interval))):
		}
		addr := net.JoinHostPort(*host, strconv.Itoa(*portBase+i))
		value, err := json.Marshal(internalUpdate{Op: uint8(etcd.Add), Addr: addr})
		if err != nil {
			return err
		}
		ctx, cancel := opCtx()
		sent := time.Now().UnixNano()
		_, err = cli.Put(ctx, *key, string(value))
		acked := time.Now().UnixNano()
		cancel()
		if err != nil {
			return fmt.Errorf("put %d: %w", i, err)
		}
		samples = append(samples, writerSample{Addr: addr, SentAt: nanos(sent), AckAt: nanos(acked)})
	}
	out(map[string]interface{}{"event": "done", "samples": samples})
	return nil
}

// ---- bench-listen ----

type sighting struct {
	At    string   `json:"at"`
	Addrs []string `json:"addrs"`
}

const (
	byResolver = iota
	byWatch
)

// sightings collects what the resolver and the raw watch saw, and signals once both have seen an address.
type sightings struct {
	mu          sync.Mutex
	log         [2][]sighting
	probe       string
	until       string
	sawProbe    [2]bool
	sawUntil    [2]bool
	probed      chan struct{}
	finished    chan struct{}
	wasProbed   bool
	wasFinished bool
}

func (s *sightings) add(by int, at int64, addrs []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log[by] = append(s.log[by], sighting{At: nanos(at), Addrs: addrs})
	for _, addr := range addrs {
		s.sawProbe[by] = s.sawProbe[by] || addr == s.probe
		s.sawUntil[by] = s.sawUntil[by] || addr == s.until
	}
	if !s.wasProbed && s.sawProbe[byResolver] && s.sawProbe[byWatch] {
		s.wasProbed = true
		close(s.probed)
	}
	if !s.wasFinished && s.sawUntil[byResolver] && s.sawUntil[byWatch] {
		s.wasFinished = true
		close(s.finished)
	}
}

func (s *sightings) snapshot(by int) []sighting {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]sighting{}, s.log[by]...)
}

// runBenchListen builds etcd's Go resolver for etcd:///<service> on a recording resolver.ClientConn and
// opens a raw clientv3 watch on <service>/, both on one client, and records the time of every state the
// resolver hands to grpc-go (with its addresses) and of every put the watch delivers. It prints "ready"
// once both are set up, "probed" once both have seen the address -probe, and everything it recorded
// ("done") once both have seen the address -until, or when stdin closes.
func runBenchListen(args []string) error {
	fs, endpointList, service := serviceFlags("bench-listen", "the service to resolve and watch")
	probe := fs.String("probe", "", "print \"probed\" once both paths have seen this address")
	until := fs.String("until", "", "print everything and stop once both paths have seen this address")
	maxRun := fs.Duration("for", 10*time.Minute, "stop after this long whatever was seen")
	_ = fs.Parse(args)
	if *service == "" || *probe == "" || *until == "" {
		return errors.New("-service, -probe and -until are required")
	}
	cli, err := connect(*endpointList)
	if err != nil {
		return err
	}
	defer cli.Close()
	s := &sightings{probe: *probe, until: *until, probed: make(chan struct{}), finished: make(chan struct{})}

	closeResolver, err := etcd.WatchResolver(cli, *service, func(state etcd.ResolverState) {
		addrs := make([]string, 0, len(state.Addresses)+len(state.Endpoints))
		for _, a := range state.Addresses {
			addrs = append(addrs, a.Addr)
		}
		for _, e := range state.Endpoints {
			for _, a := range e {
				addrs = append(addrs, a.Addr)
			}
		}
		s.add(byResolver, state.At, addrs)
	})
	if err != nil {
		return err
	}
	resolverOpen := true
	defer func() {
		if resolverOpen {
			closeResolver()
		}
	}()

	watchCtx, cancelWatch := context.WithCancel(context.Background())
	defer cancelWatch()
	wch := cli.Watch(watchCtx, *service+"/", etcd.WithPrefix(), etcd.WithCreatedNotify())
	select {
	case first, ok := <-wch:
		if !ok || first.Err() != nil || !first.Created {
			return fmt.Errorf("the watch on %s/ was not created: %v", *service, first.Err())
		}
	case <-time.After(10 * time.Second):
		return fmt.Errorf("the watch on %s/ was not created within 10s", *service)
	}
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		for resp := range wch {
			at := time.Now().UnixNano()
			for _, ev := range resp.Events {
				if ev.Type != etcd.EventTypePut {
					continue
				}
				var up internalUpdate
				if json.Unmarshal(ev.Kv.Value, &up) == nil {
					s.add(byWatch, at, []string{up.Addr})
				}
			}
		}
	}()
	out(map[string]interface{}{"event": "ready", "gomaxprocs": runtime.GOMAXPROCS(0), "numCPU": runtime.NumCPU()})

	stop := stopped()
	deadline := time.After(*maxRun)
	select {
	case <-s.probed:
		out(map[string]string{"event": "probed"})
		select {
		case <-s.finished:
		case <-stop:
		case <-deadline:
		}
	case <-stop:
	case <-deadline:
	}
	closeResolver()
	resolverOpen = false
	cancelWatch()
	select {
	case <-watchDone:
	case <-time.After(5 * time.Second):
	}
	out(map[string]interface{}{"event": "done", "resolver": s.snapshot(byResolver), "watch": s.snapshot(byWatch)})
	return nil
}
