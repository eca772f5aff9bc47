// Server commands: INFO, CONFIG GET/SET/RESETSTAT/HELP, TIME.
#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "kv/glob.h"
#include "server/connection_commands.h"

namespace shoal::server {
namespace {

int64_t rss_bytes() {
  std::ifstream statm("/proc/self/statm");
  long pages = 0, resident = 0;
  statm >> pages >> resident;
  return int64_t{resident} * sysconf(_SC_PAGESIZE);
}

std::string section_server(ServerContext& s) {
  Config cfg = s.config();
  int64_t uptime = (s.clock().now_ms() - s.start_ms()) / 1000;
  std::ostringstream o;
  o << "# Server\r\n"
    << "redis_version:" << kRedisCompatVersion << "\r\n"
    << "shoal_version:" << kShoalVersion << "\r\n"
    << "redis_mode:" << (cfg.cluster_enabled ? "cluster" : "standalone") << "\r\n"
    << "shoal_engine:" << cfg.engine << "\r\n"
    << "shoal_fsync:" << cfg.fsync << "\r\n"
    << "os:Linux\r\n"
    << "arch_bits:64\r\n"
    << "multiplexing_api:epoll\r\n"
    << "process_id:" << getpid() << "\r\n"
    << "tcp_port:" << cfg.port << "\r\n"
    << "uptime_in_seconds:" << uptime << "\r\n"
    << "uptime_in_days:" << uptime / 86400 << "\r\n"
    << "hz:" << cfg.hz << "\r\n"
    << "io_threads_active:" << (cfg.threads > 1 ? 1 : 0) << "\r\n"
    << "event_loop_threads:" << cfg.threads << "\r\n";
  return o.str();
}

std::string section_clients(ServerContext& s) {
  Config cfg = s.config();
  std::ostringstream o;
  o << "# Clients\r\n"
    << "connected_clients:" << s.stats().connected_clients.load() << "\r\n"
    << "maxclients:" << cfg.maxclients << "\r\n"
    << "blocked_clients:0\r\n"
    << "paused_reading_clients:" << s.stats().paused_clients.load() << "\r\n";
  return o.str();
}

std::string section_memory() {
  int64_t rss = rss_bytes();
  std::ostringstream o;
  o << "# Memory\r\n"
    << "used_memory:" << rss << "\r\n"
    << "used_memory_rss:" << rss << "\r\n"
    << "maxmemory:0\r\n"
    << "maxmemory_policy:noeviction\r\n";
  return o.str();
}

std::string section_persistence() {
  // Redis's RDB/AOF fields, for clients that read them: Shoal's durability is
  // its Raft log (shoal_fsync and shoal_engine in the Server section).
  return "# Persistence\r\nloading:0\r\nrdb_changes_since_last_save:0\r\naof_enabled:0\r\n";
}

std::string section_stats(ServerContext& s) {
  auto& st = s.stats();
  std::ostringstream o;
  o << "# Stats\r\n"
    << "total_connections_received:" << st.connections_received.load() << "\r\n"
    << "total_commands_processed:" << st.commands_processed.load() << "\r\n"
    << "total_net_input_bytes:" << st.net_input_bytes.load() << "\r\n"
    << "total_net_output_bytes:" << st.net_output_bytes.load() << "\r\n"
    << "rejected_connections:" << st.rejected_connections.load() << "\r\n"
    << "expired_keys:" << s.keyspace().expired_total() << "\r\n"
    << "raft_log_batches:" << s.keyspace().log_batches() << "\r\n"
    << "shoal_connection_loop_moves:" << st.loop_moves.load() << "\r\n"
    << "shoal_compactions_memory_only:" << s.keyspace().compactions_memory_only() << "\r\n"
    << "shoal_compactions_stored:" << s.keyspace().compactions_stored() << "\r\n"
    << "shoal_wal_syncs:" << s.keyspace().wal_syncs().syncs << "\r\n"
    << "shoal_wal_sync_us:" << s.keyspace().wal_syncs().sync_us << "\r\n"
    << "shoal_wal_sync_wait_us:" << s.keyspace().wal_syncs().wait_us << "\r\n"
    << "total_error_replies:" << st.error_replies.load() << "\r\n";
  return o.str();
}

std::string section_keyspace(ServerContext& s) {
  size_t keys = s.keyspace().dbsize();
  std::string out = "# Keyspace\r\n";
  if (keys > 0) {
    out += "db0:keys=" + std::to_string(keys) +
           ",expires=" + std::to_string(s.keyspace().expires()) + ",avg_ttl=0\r\n";
  }
  return out;
}

std::string section_cluster(ServerContext& s) {
  auto t = s.keyspace().topology();
  return std::string("# Cluster\r\ncluster_enabled:") + (t && t->clustered ? "1" : "0") + "\r\n";
}

}  // namespace

void cmd_info(ServerCommandContext& c) {
  struct Section {
    std::string_view name;
    bool in_default;
  };
  static constexpr Section kSections[] = {
      {"server", true}, {"clients", true}, {"memory", true},  {"persistence", true},
      {"stats", true},  {"cluster", true}, {"keyspace", true}};
  auto wanted = [&](std::string_view name) {
    if (c.args.size() == 1) return true;
    for (size_t i = 1; i < c.args.size(); ++i) {
      if (kv::iequals(c.args[i], name) || kv::iequals(c.args[i], "all") ||
          kv::iequals(c.args[i], "default") || kv::iequals(c.args[i], "everything")) {
        return true;
      }
    }
    return false;
  };
  std::string text;
  for (const auto& sec : kSections) {
    if (!wanted(sec.name)) continue;
    if (!text.empty()) text += "\r\n";
    if (sec.name == "server") text += section_server(c.server);
    if (sec.name == "clients") text += section_clients(c.server);
    if (sec.name == "memory") text += section_memory();
    if (sec.name == "persistence") text += section_persistence();
    if (sec.name == "stats") text += section_stats(c.server);
    if (sec.name == "cluster") text += section_cluster(c.server);
    if (sec.name == "keyspace") text += section_keyspace(c.server);
  }
  c.reply.writer().verbatim(text);
}

void cmd_config_get(ServerCommandContext& c) {
  std::vector<std::pair<std::string, std::string>> matched;
  for (const auto& [name, value] : c.server.config_pairs()) {
    for (size_t i = 2; i < c.args.size(); ++i) {
      std::string pattern(c.args[i]);
      for (auto& ch : pattern) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      if (kv::glob_match(pattern, name)) {
        matched.emplace_back(name, value);
        break;
      }
    }
  }
  c.reply.map(matched.size());
  for (const auto& [name, value] : matched) {
    c.reply.bulk(name);
    c.reply.bulk(value);
  }
}

void cmd_config_set(ServerCommandContext& c) {
  if ((c.args.size() - 2) % 2 != 0) return c.reply.error(arity_error("config|set"));
  for (size_t i = 2; i + 1 < c.args.size(); i += 2) {
    std::string name(c.args[i]);
    for (auto& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    std::string err = c.server.set_config(name, std::string(c.args[i + 1]));
    if (!err.empty()) return c.reply.error(err);
  }
  c.reply.ok();
}

void cmd_config_resetstat(ServerCommandContext& c) {
  auto& st = c.server.stats();
  st.commands_processed = 0;
  st.connections_received = 0;
  st.rejected_connections = 0;
  st.error_replies = 0;
  st.net_input_bytes = 0;
  st.net_output_bytes = 0;
  c.reply.ok();
}

void cmd_config_help(ServerCommandContext& c) {
  static constexpr std::string_view kLines[] = {
      "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
      "GET <pattern>",
      "    Return parameters matching the glob-like <pattern> and their values.",
      "SET <directive> <value>",
      "    Set the configuration <directive> to <value>.",
      "RESETSTAT",
      "    Reset statistics reported by the INFO command.",
      "HELP",
      "    Prints this help.",
  };
  c.reply.simple_lines(kLines);
}

void cmd_time(ServerCommandContext& c) {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  c.reply.array(2);
  c.reply.bulk(std::to_string(ts.tv_sec));
  c.reply.bulk(std::to_string(ts.tv_nsec / 1000));
}

}  // namespace shoal::server
