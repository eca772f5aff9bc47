#include "server/server_context.h"

#include <charconv>

#include <spdlog/spdlog.h>

namespace shoal::server {

ServerContext::ServerContext(Config config, env::Clock& clock)
    : clock_(clock),
      start_ms_(clock.now_ms()),
      auth_required_(!config.requirepass.empty()),
      pause_bytes_(config.client_output_pause_bytes),
      hard_limit_(config.client_output_hard_limit),
      query_limit_(config.client_query_buffer_limit),
      config_(std::move(config)),
      keyspace_(config_, clock) {}

Config ServerContext::config() const {
  std::lock_guard lock(mu_);
  return config_;
}

std::string ServerContext::requirepass() const {
  std::lock_guard lock(mu_);
  return config_.requirepass;
}

namespace {
bool parse_i64(const std::string& s, int64_t* out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}
}  // namespace

std::string ServerContext::set_config(const std::string& name, const std::string& value) {
  std::lock_guard lock(mu_);
  auto bad = [&](const std::string& why) {
    return "ERR CONFIG SET failed (possibly related to argument '" + name + "') - " + why;
  };
  int64_t n = 0;
  if (name == "requirepass") {
    config_.requirepass = value;
    auth_required_ = !value.empty();
  } else if (name == "maxclients") {
    if (!parse_i64(value, &n) || n < 1 || n > 1000000)
      return bad("argument must be between 1 and 1000000 inclusive");
    config_.maxclients = static_cast<int>(n);
  } else if (name == "proto-max-bulk-len") {
    if (!parse_i64(value, &n) || n < 1024 * 1024)
      return bad("argument must be a memory value of at least 1mb");
    config_.proto_max_bulk_len = n;
  } else if (name == "client-query-buffer-limit") {
    if (!parse_i64(value, &n) || n < 1024 * 1024)
      return bad("argument must be a memory value of at least 1mb");
    config_.client_query_buffer_limit = n;
    query_limit_ = n;
  } else if (name == "hz") {
    if (!parse_i64(value, &n) || n < 1 || n > 500)
      return bad("argument must be between 1 and 500 inclusive");
    config_.hz = static_cast<int>(n);
  } else if (name == "loglevel" || name == "log-level") {
    auto level = spdlog::level::from_str(value);
    if (level == spdlog::level::off && value != "off")
      return bad("argument(s) must be one of the following: trace, debug, info, warn, error, off");
    config_.log_level = value;
    spdlog::set_level(level);
  } else if (name == "port" || name == "bind" || name == "data-dir" || name == "dir" ||
             name == "threads") {
    return bad("can't set immutable config");
  } else {
    return "ERR Unknown option or number of arguments for CONFIG SET - '" + name + "'";
  }
  return "";
}

std::vector<std::pair<std::string, std::string>> ServerContext::config_pairs() const {
  std::lock_guard lock(mu_);
  return {
      {"bind", config_.bind},
      {"port", std::to_string(config_.port)},
      {"dir", config_.data_dir},
      {"requirepass", config_.requirepass},
      {"threads", std::to_string(config_.threads)},
      {"maxclients", std::to_string(config_.maxclients)},
      {"proto-max-bulk-len", std::to_string(config_.proto_max_bulk_len)},
      {"client-query-buffer-limit", std::to_string(config_.client_query_buffer_limit)},
      {"hz", std::to_string(config_.hz)},
      {"loglevel", config_.log_level},
      {"databases", "1"},
      {"save", ""},
      {"appendonly", "no"},
      {"cluster-enabled", config_.cluster_enabled ? "yes" : "no"},
      {"cluster-port", std::to_string(config_.cluster_port)},
      {"cluster-routing", config_.cluster_routing},
  };
}

void ServerContext::register_client(uint64_t id, std::shared_ptr<const ClientInfo> info) {
  std::lock_guard lock(mu_);
  clients_[id] = std::move(info);
}

void ServerContext::unregister_client(uint64_t id) {
  std::lock_guard lock(mu_);
  clients_.erase(id);
}

std::vector<std::shared_ptr<const ClientInfo>> ServerContext::clients() const {
  std::lock_guard lock(mu_);
  std::vector<std::shared_ptr<const ClientInfo>> out;
  out.reserve(clients_.size());
  for (const auto& [id, info] : clients_) out.push_back(info);
  return out;
}

}  // namespace shoal::server
