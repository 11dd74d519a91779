// grpc-go (Debian's 1.33) peer of kumo-documents for bench/compare's
// database scenario: kumo.documents.v1.DocumentService/GetDocument answered
// the way people write it with grpc-go and go-sql-driver/mysql (Debian's
// 1.5): verify the caller's ES256 access token against kumo-users' JWKS
// (verified tokens cached until they expire, as kumo caches them), run the
// same indexed, tenant-scoped queries as kumo-documents (a prepared
// statement on the documents row, one on the current version row) and
// build the same response. The other methods answer UNIMPLEMENTED.
//
// Built by bench/peers/build in GOPATH mode; the package kumobench/docsv1
// is generated there from proto/kumo/documents/v1/documents.proto.
//
// Usage: kumo-peer-grpc-go-docs -dsn DSN -jwks FILE [-port N] [-procs N]
//
//	[-conns N] [-issuer S] [-audience S]
//
//	-dsn       go-sql-driver DSN, e.g. user:pass@tcp(127.0.0.1:3306)/kumo_documents
//	-jwks      file holding kumo-users' JWKS (GET /.well-known/jwks.json)
//	-port      TCP port on 127.0.0.1 (default $PEER_PORT, else 7398; 0 = any)
//	-procs     GOMAXPROCS (default: the Go runtime's)
//	-conns     most open MySQL connections (default 8, kumo's pool size)
//
// Prints "listening on PORT" on stdout once serving; SIGTERM/SIGINT stop it.
package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	_ "github.com/go-sql-driver/mysql"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "kumobench/docsv1"
)

// ---- access tokens ----

type claims struct {
	Iss   string      `json:"iss"`
	Aud   interface{} `json:"aud"`
	Sub   string      `json:"sub"`
	Tid   string      `json:"tid"`
	Roles interface{} `json:"roles"`
	Exp   int64       `json:"exp"`
}

type verifier struct {
	keys     map[string]*ecdsa.PublicKey
	issuer   string
	audience string
	cache    sync.Map // token -> *claims
}

func b64(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }

func loadJWKS(path string) (map[string]*ecdsa.PublicKey, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var doc struct {
		Keys []struct{ Kty, Crv, Kid, X, Y string } `json:"keys"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, err
	}
	keys := map[string]*ecdsa.PublicKey{}
	for _, k := range doc.Keys {
		if k.Kty != "EC" || k.Crv != "P-256" {
			continue
		}
		x, err1 := b64(k.X)
		y, err2 := b64(k.Y)
		if err1 != nil || err2 != nil {
			return nil, errors.New("bad key coordinates")
		}
		keys[k.Kid] = &ecdsa.PublicKey{Curve: elliptic.P256(), X: new(big.Int).SetBytes(x),
			Y: new(big.Int).SetBytes(y)}
	}
	if len(keys) == 0 {
		return nil, errors.New("no P-256 keys in the JWKS")
	}
	return keys, nil
}

func audOK(aud interface{}, want string) bool {
	switch a := aud.(type) {
	case string:
		return a == want
	case []interface{}:
		for _, v := range a {
			if s, ok := v.(string); ok && s == want {
				return true
			}
		}
	}
	return false
}

// verify checks an ES256 compact JWS (algorithm pinned) and its claims.
func (v *verifier) verify(token string) (*claims, error) {
	now := time.Now().Unix()
	if c, ok := v.cache.Load(token); ok && c.(*claims).Exp > now {
		return c.(*claims), nil
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, errors.New("malformed token")
	}
	hdrRaw, err := b64(parts[0])
	if err != nil {
		return nil, err
	}
	var hdr struct{ Alg, Kid string }
	if err := json.Unmarshal(hdrRaw, &hdr); err != nil || hdr.Alg != "ES256" {
		return nil, errors.New("bad header")
	}
	key := v.keys[hdr.Kid]
	sig, err := b64(parts[2])
	if key == nil || err != nil || len(sig) != 64 {
		return nil, errors.New("bad key or signature")
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
	if !ecdsa.Verify(key, digest[:], r, s) {
		return nil, errors.New("bad signature")
	}
	body, err := b64(parts[1])
	if err != nil {
		return nil, err
	}
	var c claims
	if err := json.Unmarshal(body, &c); err != nil {
		return nil, err
	}
	if c.Iss != v.issuer || !audOK(c.Aud, v.audience) || c.Exp <= now || c.Tid == "" {
		return nil, errors.New("bad claims")
	}
	v.cache.Store(token, &c)
	return &c, nil
}

// ---- the service ----

type docsServer struct {
	pb.UnimplementedDocumentServiceServer
	v       *verifier
	getDoc  *sql.Stmt
	getVers *sql.Stmt
}

// The column lists of kumo-documents' queries (services/documents/documents.h
// DOCS_DOC_COLUMNS and DOCS_VERSION_COLUMNS), in the same order.
const docColumns = "d.seq, d.size, d.status, d.current_version, d.pending_version, d.version," +
	" d.create_time, d.update_time, d.archive_time, d.delete_time, d.purge_time," +
	" d.restore_state, d.restore_tier, d.restore_days, d.restore_ready_time," +
	" d.restore_expire_time, d.extraction_state, d.status_before_delete, d.id, d.number," +
	" d.title, d.description, d.file_name, d.content_type, d.sha256, d.tags_text, d.metadata," +
	" d.owner_id, d.detected_content_type"

const versionColumns = "v.version, v.status, v.size, v.upload_method, v.part_size," +
	" v.part_count, v.create_time, v.complete_time, v.file_name, v.content_type, v.sha256," +
	" v.detected_content_type, v.creator_id, v.object_key, v.upload_id"

func ts(raw sql.NullString) *timestamppb.Timestamp {
	if !raw.Valid {
		return nil
	}
	t, err := time.Parse("2006-01-02 15:04:05.999999", raw.String)
	if err != nil {
		return nil
	}
	return timestamppb.New(t)
}

func (s *docsServer) GetDocument(ctx context.Context, req *pb.GetDocumentRequest) (*pb.GetDocumentResponse, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	auth := md.Get("authorization")
	if len(auth) != 1 || !strings.HasPrefix(auth[0], "Bearer ") {
		return nil, status.Error(codes.Unauthenticated, "missing or invalid access token")
	}
	c, err := s.v.verify(auth[0][len("Bearer "):])
	if err != nil {
		return nil, status.Error(codes.Unauthenticated, "missing or invalid access token")
	}
	if len(req.Id) == 0 || len(req.Id) > 32 {
		return nil, status.Error(codes.InvalidArgument, "id: must be a document id")
	}
	d := &pb.Document{}
	var sha, meta []byte
	var tags string
	var seq, etag, pending int64
	var status_, extraction, restoreState, restoreTier, restoreDays int32
	var beforeDelete sql.NullInt32
	var create, update, archive, del, purge, ready, expire sql.NullString
	err = s.getDoc.QueryRowContext(ctx, c.Tid, req.Id).Scan(&seq, &d.Size, &status_,
		&d.CurrentVersion, &pending, &etag, &create, &update, &archive, &del, &purge,
		&restoreState, &restoreTier, &restoreDays, &ready, &expire, &extraction, &beforeDelete,
		&d.Id, &d.Number, &d.Title, &d.Description, &d.FileName, &d.ContentType, &sha, &tags,
		&meta, &d.OwnerId, &d.DetectedContentType)
	if err == sql.ErrNoRows {
		return nil, status.Error(codes.NotFound, "no such document")
	}
	if err != nil {
		return nil, status.Error(codes.Unavailable, "database unavailable")
	}
	d.ArchiveTime, d.DeleteTime, d.PurgeTime = ts(archive), ts(del), ts(purge)
	if restoreState != 0 {
		d.Restore = &pb.Restore{State: pb.RestoreState(restoreState),
			Tier: pb.RestoreTier(restoreTier), Days: restoreDays, ReadyTime: ts(ready),
			ExpireTime: ts(expire)}
	}
	d.Sha256 = sha
	if tags != "" {
		d.Tags = strings.Split(tags, " ")
	}
	if len(meta) > 0 {
		var m map[string]interface{}
		if json.Unmarshal(meta, &m) == nil {
			d.Metadata, _ = structpb.NewStruct(m)
		}
	}
	d.Status = pb.DocumentStatus(status_)
	d.ExtractionState = pb.ExtractionState(extraction)
	d.Etag = strconv.FormatInt(etag, 10)
	d.CreateTime, d.UpdateTime = ts(create), ts(update)
	resp := &pb.GetDocumentResponse{Document: d}
	want := req.Version
	if want == 0 {
		want = d.CurrentVersion
	}
	if want > 0 {
		v := &pb.Version{}
		var vstatus int32
		var vsha []byte
		var method, partSize, partCount int64
		var objectKey string
		var uploadID sql.NullString
		var vcreate, vcomplete sql.NullString
		err = s.getVers.QueryRowContext(ctx, c.Tid, req.Id, want).Scan(&v.Version, &vstatus,
			&v.Size, &method, &partSize, &partCount, &vcreate, &vcomplete, &v.FileName,
			&v.ContentType, &vsha, &v.DetectedContentType, &v.CreatorId, &objectKey, &uploadID)
		if err == sql.ErrNoRows {
			return nil, status.Error(codes.NotFound, "no such version")
		}
		if err != nil {
			return nil, status.Error(codes.Unavailable, "database unavailable")
		}
		v.Status = pb.VersionStatus(vstatus)
		v.Sha256 = vsha
		v.CreateTime, v.CompleteTime = ts(vcreate), ts(vcomplete)
		resp.Version = v
	}
	return resp, nil
}

func main() {
	def := 7398
	if p, err := strconv.Atoi(os.Getenv("PEER_PORT")); err == nil {
		def = p
	}
	port := flag.Int("port", def, "TCP port on 127.0.0.1 (0 = any)")
	procs := flag.Int("procs", 0, "GOMAXPROCS (0 = the runtime's default)")
	dsn := flag.String("dsn", "", "go-sql-driver DSN")
	jwks := flag.String("jwks", "", "JWKS file")
	conns := flag.Int("conns", 8, "most open MySQL connections")
	issuer := flag.String("issuer", "kumo-users", "required iss")
	audience := flag.String("audience", "kumo", "required aud")
	flag.Parse()
	if *procs > 0 {
		runtime.GOMAXPROCS(*procs)
	}
	keys, err := loadJWKS(*jwks)
	if err != nil {
		fmt.Fprintln(os.Stderr, "jwks:", err)
		os.Exit(1)
	}
	db, err := sql.Open("mysql", *dsn)
	if err == nil {
		db.SetMaxOpenConns(*conns)
		db.SetMaxIdleConns(*conns)
		err = db.Ping()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "mysql:", err)
		os.Exit(1)
	}
	srv := &docsServer{v: &verifier{keys: keys, issuer: *issuer, audience: *audience}}
	srv.getDoc, err = db.Prepare("SELECT " + docColumns +
		" FROM documents d WHERE d.tenant_id = ? AND d.id = ?")
	if err == nil {
		srv.getVers, err = db.Prepare("SELECT " + versionColumns +
			" FROM document_versions v WHERE v.tenant_id = ? AND v.document_id = ? AND v.version = ?")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "prepare:", err)
		os.Exit(1)
	}
	lis, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", *port))
	if err != nil {
		fmt.Fprintln(os.Stderr, "listen:", err)
		os.Exit(1)
	}
	s := grpc.NewServer()
	pb.RegisterDocumentServiceServer(s, srv)
	fmt.Printf("listening on %d\n", lis.Addr().(*net.TCPAddr).Port)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-sigs
		s.Stop()
	}()
	if err := s.Serve(lis); err != nil {
		fmt.Fprintln(os.Stderr, "serve:", err)
		os.Exit(1)
	}
}
