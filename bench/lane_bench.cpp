// lane_bench: the cost of the data path, measured end to end through real processes.
//   1. Round trip of a 1-row batch through a Python identity function (p50, p99): the fixed cost
//      per batch (Lane write, bell, executor wake-up, Python call, result check, client wake-up).
//   2. Throughput of a 64 MiB batch (one DOUBLE column) in and out through the identity function,
//      next to this machine's memcpy bandwidth measured in the same run. The batch is written once
//      into the Lane; the result is read through a zero-copy view (`batch_gbps`), and, for
//      comparison, also copied out into an engine buffer (`batch_copyout_gbps`).
// Usage: lane_bench [--json] [--iterations N]
#include <imlane/dbend_context.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

using Clock = std::chrono::steady_clock;

namespace {

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

int Die(const char* what, const imlane::Status& st) {
  std::fprintf(stderr, "lane_bench: %s: %s\n", what, st.ToString().c_str());
  return 1;
}

double MemcpyGbps(size_t bytes) {
  std::vector<char> a(bytes, 1), b(bytes, 2);  // touched: no page faults inside the timing
  double best = 1e9;
  for (int i = 0; i < 8; i++) {
    auto t0 = Clock::now();
    std::memcpy(b.data(), a.data(), bytes);
    best = std::min(best, Seconds(Clock::now() - t0));
    a[i] = b[bytes - 1 - i];  // keep the copy observable
  }
  return static_cast<double>(bytes) / best / 1e9;
}

}  // namespace

int main(int argc, char** argv) {
  bool json = false;
  int iterations = 20000;
  for (int i = 1; i < argc; i++) {
    if (!std::strcmp(argv[i], "--json")) json = true;
    if (!std::strcmp(argv[i], "--iterations") && i + 1 < argc) iterations = std::atoi(argv[++i]);
  }
  const size_t kBatchBytes = 64u << 20;
  const size_t kRows = kBatchBytes / sizeof(double);

  char tmpl[] = "/tmp/imlane-bench-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  imlane::Settings settings;
  settings.socket_path = dir + "/imlane.sock";
  settings.n_executors = 1;
  settings.slots_per_executor = 1;
  settings.lane_bytes = 2 * kBatchBytes + (8u << 20);  // request + result + headers
  auto ctx = imlane::DBEndContext::Setup(settings);
  if (!ctx.ok()) return Die("setup", ctx.status());
  auto spec = imlane::FunctionSpec::Make("identity", "def pyfun(x):\n    return x\n", "DOUBLE", "DOUBLE");
  if (auto st = (*ctx)->RegisterFunction(*spec); !st.ok()) return Die("register", st);

  // 1. One-row round trips.
  std::vector<double> samples;
  samples.reserve(static_cast<size_t>(iterations));
  for (int i = -1000; i < iterations; i++) {  // the first 1000 warm up
    auto t0 = Clock::now();
    auto open = (*ctx)->BeginBatch("identity", 1);
    if (!open.ok()) return Die("begin", open.status());
    if (auto st = open->builder().column(0).Append<double>(i); !st.ok()) return Die("append", st);
    auto ticket = (*ctx)->Submit(std::move(*open));
    if (!ticket.ok()) return Die("submit", ticket.status());
    auto result = (*ctx)->Pull(*ticket);
    if (!result.ok()) return Die("pull", result.status());
    if (result->batch().column(0).Get<double>(0) != static_cast<double>(i)) {
      std::fprintf(stderr, "lane_bench: wrong result\n");
      return 1;
    }
    if (i >= 0) samples.push_back(Seconds(Clock::now() - t0) * 1e6);
  }
  std::sort(samples.begin(), samples.end());
  const double p50 = samples[samples.size() / 2];
  const double p99 = samples[samples.size() * 99 / 100];

  // 2. 64 MiB batches.
  std::vector<double> source(kRows), sink(kRows);
  for (size_t i = 0; i < kRows; i++) source[i] = static_cast<double>(i);
  double best_view = 1e9, best_copy = 1e9;
  for (int round = 0; round < 6; round++) {
    auto t0 = Clock::now();
    auto open = (*ctx)->BeginBatch("identity", kRows);
    if (!open.ok()) return Die("begin (64 MiB)", open.status());
    if (auto st = open->builder().column(0).AppendValues(source.data(), kRows); !st.ok()) return Die("append", st);
    auto ticket = (*ctx)->Submit(std::move(*open));
    if (!ticket.ok()) return Die("submit", ticket.status());
    auto result = (*ctx)->Pull(*ticket);
    if (!result.ok()) return Die("pull (64 MiB)", result.status());
    const imlane::ColumnView& out = result->batch().column(0);
    auto t1 = Clock::now();
    std::memcpy(sink.data(), out.data(), kBatchBytes);
    auto t2 = Clock::now();
    if (round > 0) {  // round 0 warms up
      best_view = std::min(best_view, Seconds(t1 - t0));
      best_copy = std::min(best_copy, Seconds(t2 - t0));
    }
  }
  for (size_t i = 0; i < kRows; i += 4099) {
    if (sink[i] != source[i]) {
      std::fprintf(stderr, "lane_bench: wrong result in the 64 MiB batch at row %zu\n", i);
      return 1;
    }
  }
  const double batch_gbps = static_cast<double>(kBatchBytes) / best_view / 1e9;
  const double copyout_gbps = static_cast<double>(kBatchBytes) / best_copy / 1e9;
  const double memcpy_gbps = MemcpyGbps(kBatchBytes);
  ctx->reset();
  std::filesystem::remove_all(dir);

  if (json) {
    std::printf(
        "{\"roundtrip_p50_us\": %.2f, \"roundtrip_p99_us\": %.2f, \"roundtrip_samples\": %zu, "
        "\"batch_bytes\": %zu, \"batch_gbps\": %.3f, \"batch_copyout_gbps\": %.3f, \"memcpy_gbps\": %.3f}\n",
        p50, p99, samples.size(), kBatchBytes, batch_gbps, copyout_gbps, memcpy_gbps);
  } else {
    std::printf("1-row round trip through Python identity (%zu samples): p50 %.2f us, p99 %.2f us\n", samples.size(),
                p50, p99);
    std::printf("64 MiB batch in and out: %.2f GB/s (zero-copy result view), %.2f GB/s (result copied out)\n",
                batch_gbps, copyout_gbps);
    std::printf("memcpy on this machine, same run: %.2f GB/s (batch path = %.2f of memcpy)\n", memcpy_gbps,
                batch_gbps / memcpy_gbps);
  }
  return 0;
}
