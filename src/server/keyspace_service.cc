#include "server/keyspace_service.h"

#include <spdlog/spdlog.h>

#include <filesystem>

namespace shoal::server {
namespace {
constexpr auto kTick = std::chrono::milliseconds(10);
constexpr size_t kExpiryBatch = 64;

storage::FsyncPolicy policy_of(const std::string& s) {
  if (s == "everysec") return storage::FsyncPolicy::kEverySec;
  if (s == "no") return storage::FsyncPolicy::kNo;
  return storage::FsyncPolicy::kAlways;
}
}  // namespace

// A single-node cluster has no peers; a message to anyone else is a bug.
class KeyspaceService::NoPeers final : public replica::Transport {
 public:
  void send(ShardId, raft::Message m) override {
    spdlog::warn("dropping raft message to node {}: no peers in a single-node cluster",
                 m.to.value());
  }
};

KeyspaceService::KeyspaceService(const Config& config, env::Clock& clock)
    : config_(config), clock_(clock) {}

KeyspaceService::~KeyspaceService() { stop(); }

Status KeyspaceService::start() {
  storage::RocksDbOptions db;
  db.path = (std::filesystem::path(config_.data_dir) / "raft").string();
  auto store = replica::RocksLogStore::open(db, policy_of(config_.fsync), clock_);
  if (!store.is_ok()) return store.status();
  store_ = std::move(store).value();
  transport_ = std::make_unique<NoPeers>();
  node::NodeOptions opts;
  opts.replica.compact_after_entries = config_.compact_after_entries;
  node_ = std::make_unique<node::Node>(opts, *store_, *transport_, clock_);
  if (Status s = node_->open(); !s.is_ok()) return s;
  node_->replica()->set_apply_lock(&state_mu_);
  // Replay to the end of the log before serving.
  for (int i = 0; i < 1000 && node_->replica()->raft().has_ready(); ++i) {
    if (Status s = node_->run_once(); !s.is_ok()) return s;
  }
  publish_counters();
  guard_ = std::make_unique<asio::executor_work_guard<asio::io_context::executor_type>>(
      loop_.get_executor());
  schedule_tick();
  schedule_expiry();
  thread_ = std::thread([this] { loop_.run(); });
  return Status::ok();
}

void KeyspaceService::stop() {
  if (!thread_.joinable()) return;
  asio::post(loop_, [this] {
    tick_timer_.cancel();
    expiry_timer_.cancel();
    // Make whatever was accepted durable before leaving.
    if (node_) (void)node_->run_once();
    guard_.reset();
  });
  thread_.join();
  loop_.stop();
}

void KeyspaceService::submit(uint64_t client, std::shared_ptr<CompletionSink> sink,
                             std::vector<KeyspaceRequest> requests) {
  asio::post(loop_, [this, client, sink = std::move(sink), reqs = std::move(requests)]() mutable {
    for (auto& r : reqs) {
      auto done = [this, sink, tag = r.tag](Status s, kv::RecordedReply reply) {
        // Gathered per connection and handed over once per iteration.
        auto& entry = outbox_[sink.get()];
        entry.first = sink;
        entry.second.push_back({tag, std::move(s), std::move(reply)});
        schedule_iteration();
      };
      node_->execute(client, *r.spec, std::move(r.args), std::move(done));
    }
    schedule_iteration();
  });
}

void KeyspaceService::cancel(uint64_t client) {
  asio::post(loop_, [this, client] { node_->forget_client(client); });
}

// Runs after everything already queued on the loop: requests that arrived
// together share one log write (group commit).
void KeyspaceService::schedule_iteration() {
  if (iteration_scheduled_) return;
  iteration_scheduled_ = true;
  asio::post(loop_, [this] { iterate(); });
}

void KeyspaceService::iterate() {
  iteration_scheduled_ = false;
  for (int round = 0; round < 4; ++round) {
    if (Status s = node_->run_once(); !s.is_ok()) {
      healthy_ = false;
      break;
    }
    if (!node_->replica()->has_ready()) break;
  }
  batches_ = store_->commits();
  publish_counters();
  auto outbox = std::move(outbox_);
  outbox_.clear();
  for (auto& [raw, entry] : outbox) entry.first->deliver(std::move(entry.second));
}

void KeyspaceService::schedule_tick() {
  tick_timer_.expires_after(kTick);
  tick_timer_.async_wait([this](const asio::error_code& ec) {
    if (ec) return;
    node_->tick();
    schedule_iteration();
    schedule_tick();
  });
}

void KeyspaceService::schedule_expiry() {
  expiry_timer_.expires_after(std::chrono::milliseconds(1000 / std::max(1, config_.hz)));
  expiry_timer_.async_wait([this](const asio::error_code& ec) {
    if (ec) return;
    size_t n = node_->expire_cycle(kExpiryBatch);
    if (n) {
      expired_total_.fetch_add(n, std::memory_order_relaxed);
      schedule_iteration();
    }
    schedule_expiry();
  });
}

bool KeyspaceService::try_read_local(const kv::CommandSpec& spec,
                                     std::span<const std::string_view> args, kv::ReplySink& out) {
  if (!local_reads_.load(std::memory_order_acquire)) return false;
  kv::RecordedReply reply;
  std::vector<std::string> expired;
  {
    std::shared_lock lock(state_mu_);
    kv::Store::ExpiredCollector collect(&expired);
    int64_t now = clock_.now_ms();
    node_->replica()->state_machine().read(spec, args, now,
                                           static_cast<uint64_t>(clock_.monotonic_ns()), reply);
  }
  if (!expired.empty()) return false;
  reply.replay(out);
  return true;
}

void KeyspaceService::publish_counters() {
  replica::Replica* r = node_->replica();
  bool single_voter_leader = r && r->is_leader() && r->raft().conf().voters.size() == 1 &&
                             r->raft().conf().voters_outgoing.empty() && node_->healthy();
  local_reads_.store(single_voter_leader, std::memory_order_release);
  dbsize_.store(node_->dbsize(), std::memory_order_relaxed);
  expires_.store(node_->expires_count(), std::memory_order_relaxed);
}

}  // namespace shoal::server
