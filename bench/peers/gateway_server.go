// grpc-gateway peer for bench/bff (issue 17.4): GET /api/v1/documents/{id}
// mapped to kumo.documents.v1.DocumentService/GetDocument on kumo-documents,
// the way protoc-gen-grpc-gateway's generated code does it (a runtime.ServeMux
// pattern, path and query parameters into the request, the Authorization
// header forwarded as metadata, the response marshaled with runtime.JSONPb).
// The handler is written out because Debian's grpc-gateway (1.6.4) ships the
// runtime, not a working protoc plugin, and documents.proto carries no
// google.api.http annotations; it is the body of a generated
// request_DocumentService_GetDocument_0 + its mux.Handle registration.
//
// Usage: kumo-peer-grpc-gateway -listen 127.0.0.1:0 -backend 127.0.0.1:7102
// Prints "listening on ADDR" once it accepts.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"

	"github.com/grpc-ecosystem/grpc-gateway/runtime"
	"github.com/grpc-ecosystem/grpc-gateway/utilities"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "kumobench/docsv1"
)

// GET /api/v1/documents/{id}, as protoc-gen-grpc-gateway compiles it.
var patternGetDocument = runtime.MustPattern(runtime.NewPattern(1,
	[]int{2, 0, 2, 1, 2, 2, 1, 0, 4, 1, 5, 3}, []string{"api", "v1", "documents", "id"}, ""))

var filterGetDocument = &utilities.DoubleArray{Encoding: map[string]int{"id": 0},
	Base: []int{1, 1, 0}, Check: []int{0, 1, 2}}

func requestGetDocument(ctx context.Context, client pb.DocumentServiceClient, req *http.Request,
	pathParams map[string]string) (*pb.GetDocumentResponse, runtime.ServerMetadata, error) {
	var protoReq pb.GetDocumentRequest
	var metadata runtime.ServerMetadata
	id, ok := pathParams["id"]
	if !ok {
		return nil, metadata, status.Errorf(codes.InvalidArgument, "missing parameter %s", "id")
	}
	var err error
	protoReq.Id, err = runtime.String(id)
	if err != nil {
		return nil, metadata, status.Errorf(codes.InvalidArgument, "type mismatch, parameter: %s, error: %v", "id", err)
	}
	if err := runtime.PopulateQueryParameters(&protoReq, req.URL.Query(), filterGetDocument); err != nil {
		return nil, metadata, status.Errorf(codes.InvalidArgument, "%v", err)
	}
	msg, err := client.GetDocument(ctx, &protoReq, grpc.Header(&metadata.HeaderMD),
		grpc.Trailer(&metadata.TrailerMD))
	return msg, metadata, err
}

func main() {
	listen := flag.String("listen", "127.0.0.1:8090", "address to serve HTTP on")
	backend := flag.String("backend", "127.0.0.1:7102", "kumo-documents RPC address")
	flag.Parse()
	conn, err := grpc.Dial(*backend, grpc.WithInsecure())
	if err != nil {
		log.Fatal(err)
	}
	client := pb.NewDocumentServiceClient(conn)
	mux := runtime.NewServeMux(runtime.WithMarshalerOption(runtime.MIMEWildcard,
		&runtime.JSONPb{OrigName: true}))
	mux.Handle("GET", patternGetDocument, func(w http.ResponseWriter, req *http.Request,
		pathParams map[string]string) {
		ctx, cancel := context.WithCancel(req.Context())
		defer cancel()
		inboundMarshaler, outboundMarshaler := runtime.MarshalerForRequest(mux, req)
		_ = inboundMarshaler
		rctx, err := runtime.AnnotateContext(ctx, mux, req)
		if err != nil {
			runtime.HTTPError(ctx, mux, outboundMarshaler, w, req, err)
			return
		}
		resp, md, err := requestGetDocument(rctx, client, req, pathParams)
		ctx = runtime.NewServerMetadataContext(ctx, md)
		if err != nil {
			runtime.HTTPError(ctx, mux, outboundMarshaler, w, req, err)
			return
		}
		runtime.ForwardResponseMessage(ctx, mux, outboundMarshaler, w, req, resp,
			mux.GetForwardResponseOptions()...)
	})
	l, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("listening on %s\n", l.Addr())
	os.Stdout.Sync()
	log.Fatal(http.Serve(l, mux))
}
