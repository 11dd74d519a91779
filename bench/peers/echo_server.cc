// gRPC C++ (Debian's 1.51) peer of kumo-echo for bench/compare: the same
// kumo.test.v1.EchoService Echo, answered like tests/echo/echo_service.c
// (message, payload, echo_headers, deadline_ms, request_id, the
// x-echo-initial header, the x-echo-trailer trailer and an x-request-id
// header), over h2c. The other methods answer UNIMPLEMENTED.
//
// Usage: kumo-peer-grpc-cpp [--port N] [--api async|callback] [--threads N]
//   --port     TCP port on 127.0.0.1 (default $PEER_PORT, else 7299; 0 = any,
//              the chosen port is printed)
//   --api      callback: the CallbackService API, gRPC's recommended one,
//              threads managed by gRPC (default; faster than async here,
//              pinned to one core: about 1.3-1.8x at 10x10);
//              async: one completion queue per thread, the layout of gRPC's
//              own QPS benchmark server
//   --threads  completion-queue threads for --api async (default 1, as
//              kumo-echo's single I/O thread)
// Prints "listening on PORT" on stdout once serving; SIGTERM/SIGINT stop it.
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include "kumo/test/v1/echo.grpc.pb.h"

using kumo::test::v1::EchoRequest;
using kumo::test::v1::EchoResponse;
using kumo::test::v1::EchoService;

namespace
{

// kumo accepts a client's x-request-id of at most 47 such characters.
bool RequestIdOk(const std::string &s)
{
    if (s.empty() || s.size() >= 48)
        return false;
    for (char c : s)
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.'))
            return false;
    return true;
}

// 32 hex digits from a per-thread xorshift64*, as kumo makes them.
std::string MakeRequestId()
{
    static thread_local uint64_t state;
    if (state == 0)
        state = static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()) ^
                (reinterpret_cast<uintptr_t>(&state) << 16) ^ 0x9e3779b97f4a7c15u;
    static const char hex[] = "0123456789abcdef";
    std::string out(32, '0');
    for (int i = 0; i < 2; i++) {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        uint64_t v = state * 0x2545F4914F6CDD1Du;
        for (int j = 0; j < 16; j++)
            out[i * 16 + j] = hex[(v >> (60 - 4 * j)) & 15];
    }
    return out;
}

// The handler body shared by both APIs: fills resp and the metadata.
void DoEcho(grpc::ServerContextBase *ctx, const EchoRequest &req, EchoResponse *resp)
{
    const auto &md = ctx->client_metadata();
    resp->set_message(req.message());
    resp->set_payload(req.payload());
    std::string rid;
    auto it = md.find("x-request-id");
    if (it != md.end())
        rid.assign(it->second.data(), it->second.size());
    if (!RequestIdOk(rid))
        rid = MakeRequestId();
    resp->set_request_id(rid);
    auto deadline = ctx->deadline();
    if (deadline != std::chrono::system_clock::time_point::max()) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                        deadline - std::chrono::system_clock::now())
                        .count();
        resp->set_deadline_ms(left < 0 ? 0 : left);
    }
    for (const auto &name : req.echo_headers()) {
        auto h = md.find(name);
        if (h != md.end())
            (*resp->mutable_headers())[name] = std::string(h->second.data(), h->second.size());
    }
    ctx->AddInitialMetadata("x-request-id", rid);
    ctx->AddInitialMetadata("x-echo-initial", "initial");
    ctx->AddTrailingMetadata("x-echo-trailer", "trailing");
}

class CallbackEcho final : public EchoService::CallbackService
{
    grpc::ServerUnaryReactor *Echo(grpc::CallbackServerContext *ctx, const EchoRequest *req,
                                   EchoResponse *resp) override
    {
        DoEcho(ctx, *req, resp);
        grpc::ServerUnaryReactor *r = ctx->DefaultReactor();
        r->Finish(grpc::Status::OK);
        return r;
    }
};

// One outstanding Echo call of the async API: requested, then answered,
// then deleted once the answer is sent (and a new one is requested).
class AsyncCall
{
  public:
    AsyncCall(EchoService::AsyncService *svc, grpc::ServerCompletionQueue *cq)
        : svc_(svc), cq_(cq), writer_(&ctx_)
    {
        svc_->RequestEcho(&ctx_, &req_, &writer_, cq_, cq_, this);
    }
    // ok is the completion's status; returns once the call's step is done.
    void Proceed(bool ok)
    {
        if (!answering_) {
            if (!ok) { // the queue is shutting down
                delete this;
                return;
            }
            new AsyncCall(svc_, cq_);
            answering_ = true;
            DoEcho(&ctx_, req_, &resp_);
            writer_.Finish(resp_, grpc::Status::OK, this);
            return;
        }
        delete this;
    }

  private:
    EchoService::AsyncService *svc_;
    grpc::ServerCompletionQueue *cq_;
    grpc::ServerContext ctx_;
    EchoRequest req_;
    EchoResponse resp_;
    grpc::ServerAsyncResponseWriter<EchoResponse> writer_;
    bool answering_ = false;
};

// Calls requested ahead per queue, so a burst of streams does not wait for
// a new request to be posted (gRPC's QPS benchmark posts many too).
constexpr int kOutstandingPerQueue = 256;

void PollQueue(EchoService::AsyncService *svc, grpc::ServerCompletionQueue *cq)
{
    for (int i = 0; i < kOutstandingPerQueue; i++)
        new AsyncCall(svc, cq);
    void *tag;
    bool ok;
    while (cq->Next(&tag, &ok))
        static_cast<AsyncCall *>(tag)->Proceed(ok);
}

std::atomic<bool> g_stop{false};

void OnSignal(int)
{
    g_stop.store(true);
}

[[noreturn]] void Usage()
{
    std::fprintf(stderr, "usage: kumo-peer-grpc-cpp [--port N] [--api async|callback] "
                         "[--threads N]\n");
    std::exit(2);
}

long ParseNum(const char *s, long lo, long hi)
{
    char *end = nullptr;
    long v = std::strtol(s, &end, 10);
    if (end == s || *end != '\0' || v < lo || v > hi)
        Usage();
    return v;
}

} // namespace

int main(int argc, char **argv)
{
    const char *env_port = std::getenv("PEER_PORT");
    long port = env_port ? ParseNum(env_port, 0, 65535) : 7299;
    std::string api = "callback";
    long threads = 1;
    for (int i = 1; i < argc; i++) {
        std::string a = argv[i];
        if (i + 1 >= argc)
            Usage();
        if (a == "--port")
            port = ParseNum(argv[++i], 0, 65535);
        else if (a == "--api")
            api = argv[++i];
        else if (a == "--threads")
            threads = ParseNum(argv[++i], 1, 256);
        else
            Usage();
    }
    if (api != "async" && api != "callback")
        Usage();

    grpc::ServerBuilder builder;
    int bound = 0;
    builder.AddListeningPort("127.0.0.1:" + std::to_string(port), grpc::InsecureServerCredentials(),
                             &bound);
    CallbackEcho callback_svc;
    EchoService::AsyncService async_svc;
    std::vector<std::unique_ptr<grpc::ServerCompletionQueue>> cqs;
    if (api == "callback") {
        builder.RegisterService(&callback_svc);
    } else {
        builder.RegisterService(&async_svc);
        for (long i = 0; i < threads; i++)
            cqs.push_back(builder.AddCompletionQueue());
    }
    std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
    if (!server || bound == 0) {
        std::fprintf(stderr, "kumo-peer-grpc-cpp: cannot listen on 127.0.0.1:%ld\n", port);
        return 1;
    }
    std::printf("listening on %d\n", bound);
    std::fflush(stdout);

    std::signal(SIGTERM, OnSignal);
    std::signal(SIGINT, OnSignal);
    std::vector<std::thread> pollers;
    for (auto &cq : cqs)
        pollers.emplace_back(PollQueue, &async_svc, cq.get());
    while (!g_stop.load())
        usleep(50000);
    server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
    for (auto &cq : cqs)
        cq->Shutdown();
    for (auto &t : pollers)
        t.join();
    return 0;
}
