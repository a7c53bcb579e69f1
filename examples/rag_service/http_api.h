// The HTTP/JSON front end of the service (cpp-httplib): routes, request validation, error
// replies, metrics and report. See README.md for the endpoints.
#pragma once

#include <vecperf/status.h>

#include <cstddef>
#include <memory>
#include <string>

#include "rag_store.h"
#include "service_metrics.h"

namespace httplib {
class Server;
}

namespace rag {

struct ServerOptions {
  /// Address to listen on. Default: 127.0.0.1.
  std::string host = "127.0.0.1";
  /// 0 picks a free port (bind() returns it). Default: 8080.
  int port = 8080;
  /// Worker threads; each serves one connection at a time. Default: 8.
  int threads = 8;
  /// Larger request bodies get 413. Default: 8 MiB.
  size_t max_body_bytes = size_t{8} << 20;
};

/// Thread-safety: stop() may be called from any thread; the others from one thread.
class RagServer {
 public:
  /// Most documents in one POST /documents.
  static constexpr size_t kMaxDocumentsPerRequest = 10000;

  /// `store` must outlive the server.
  RagServer(RagStore* store, ServerOptions options);
  ~RagServer();

  /// Binds the listening socket and returns its port. Errors: kUnavailable.
  vecperf::Result<int> bind();
  /// Serves until stop() is called. Requires: bind() succeeded.
  void serve();
  /// Makes serve() return once the requests in progress are answered.
  void stop();

 private:
  void register_routes();

  RagStore* store_;
  ServerOptions options_;
  ServiceMetrics metrics_;
  std::unique_ptr<httplib::Server> server_;
};

}  // namespace rag
