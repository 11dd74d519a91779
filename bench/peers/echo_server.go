// grpc-go (Debian's 1.33) peer of kumo-echo for bench/compare: the same
// kumo.test.v1.EchoService Echo, answered like tests/echo/echo_service.c
// (message, payload, echo_headers, deadline_ms, request_id, the
// x-echo-initial header, the x-echo-trailer trailer and an x-request-id
// header), over h2c with grpc-go's default (production) server settings.
// The other methods answer UNIMPLEMENTED.
//
// Built by bench/peers/build in GOPATH mode; the package kumobench/echov1 is
// generated there from tests/proto/kumo/test/v1/echo.proto.
//
// Usage: kumo-peer-grpc-go [-port N] [-procs N]
//
//	-port   TCP port on 127.0.0.1 (default $PEER_PORT, else 7399; 0 = any)
//	-procs  GOMAXPROCS (default: the Go runtime's, i.e. the CPUs of the
//	        affinity mask: 1 under `taskset -c 0`)
//
// Prints "listening on PORT" on stdout once serving; SIGTERM/SIGINT stop it.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	pb "kumobench/echov1"
)

type echoServer struct {
	pb.UnimplementedEchoServiceServer
}

// requestIDOk accepts what kumo accepts from a client: 1..47 characters of
// [A-Za-z0-9._-].
func requestIDOk(s string) bool {
	if len(s) == 0 || len(s) >= 48 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

var idState = uint64(time.Now().UnixNano()) ^ 0x9e3779b97f4a7c15

// makeRequestID returns 32 hex digits (as kumo's), lock-free: splitmix64
// over an atomic counter.
func makeRequestID() string {
	const hex = "0123456789abcdef"
	var out [32]byte
	for i := 0; i < 2; i++ {
		z := atomic.AddUint64(&idState, 0x9e3779b97f4a7c15)
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
		z = (z ^ (z >> 27)) * 0x94d049bb133111eb
		z ^= z >> 31
		for j := 0; j < 16; j++ {
			out[i*16+j] = hex[(z>>(60-4*uint(j)))&15]
		}
	}
	return string(out[:])
}

func (echoServer) Echo(ctx context.Context, req *pb.EchoRequest) (*pb.EchoResponse, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	rid := ""
	if v := md.Get("x-request-id"); len(v) > 0 {
		rid = v[0]
	}
	if !requestIDOk(rid) {
		rid = makeRequestID()
	}
	resp := &pb.EchoResponse{Message: req.Message, Payload: req.Payload, RequestId: rid}
	if dl, ok := ctx.Deadline(); ok {
		left := time.Until(dl).Milliseconds()
		if left < 0 {
			left = 0
		}
		resp.DeadlineMs = left
	}
	for _, name := range req.EchoHeaders {
		if v := md.Get(name); len(v) > 0 {
			if resp.Headers == nil {
				resp.Headers = make(map[string]string)
			}
			resp.Headers[name] = v[0]
		}
	}
	if err := grpc.SetHeader(ctx, metadata.Pairs("x-request-id", rid, "x-echo-initial", "initial")); err != nil {
		return nil, err
	}
	if err := grpc.SetTrailer(ctx, metadata.Pairs("x-echo-trailer", "trailing")); err != nil {
		return nil, err
	}
	return resp, nil
}

func main() {
	defPort := 7399
	if s := os.Getenv("PEER_PORT"); s != "" {
		p, err := strconv.Atoi(s)
		if err != nil {
			fmt.Fprintln(os.Stderr, "kumo-peer-grpc-go: bad PEER_PORT")
			os.Exit(2)
		}
		defPort = p
	}
	port := flag.Int("port", defPort, "TCP port on 127.0.0.1 (0: any)")
	procs := flag.Int("procs", 0, "GOMAXPROCS (0: the runtime's default)")
	flag.Parse()
	if *procs > 0 {
		runtime.GOMAXPROCS(*procs)
	}

	lis, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", *port))
	if err != nil {
		fmt.Fprintln(os.Stderr, "kumo-peer-grpc-go:", err)
		os.Exit(1)
	}
	srv := grpc.NewServer()
	pb.RegisterEchoServiceServer(srv, echoServer{})

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-sigs
		srv.Stop()
	}()

	fmt.Fprintf(os.Stderr, "kumo-peer-grpc-go: GOMAXPROCS %d\n", runtime.GOMAXPROCS(0))
	fmt.Printf("listening on %d\n", lis.Addr().(*net.TCPAddr).Port)
	os.Stdout.Sync()
	if err := srv.Serve(lis); err != nil {
		fmt.Fprintln(os.Stderr, "kumo-peer-grpc-go:", err)
		os.Exit(1)
	}
}
