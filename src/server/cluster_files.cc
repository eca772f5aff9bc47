#include "server/cluster_files.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

namespace shoal::server {
namespace fs = std::filesystem;
namespace {

Status fsync_path(const fs::path& p, int flags) {
  int fd = ::open(p.c_str(), flags);
  if (fd < 0) return Status::io_error("open " + p.string() + ": " + std::strerror(errno));
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return Status::io_error("fsync " + p.string() + ": " + std::strerror(errno));
  return Status::ok();
}

Status write_durably(const fs::path& path, const std::string& bytes) {
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  if (ec) return Status::io_error("create " + path.parent_path().string() + ": " + ec.message());
  fs::path tmp = path;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.close();  // flushes: a write error (e.g. ENOSPC) shows here
    if (!out) return Status::io_error("write " + tmp.string());
  }
  if (Status s = fsync_path(tmp, O_RDONLY); !s.is_ok()) return s;
  fs::rename(tmp, path, ec);
  if (ec) return Status::io_error("rename " + tmp.string() + ": " + ec.message());
  return fsync_path(path.parent_path(), O_RDONLY | O_DIRECTORY);
}

Result<std::optional<std::string>> read_file(const fs::path& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return std::optional<std::string>();
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::io_error("open " + path.string());
  std::ostringstream buf;
  buf << in.rdbuf();
  return std::optional<std::string>(buf.str());
}

}  // namespace

Result<NodeId> load_or_create_node_id(const std::string& dir) {
  fs::path path = fs::path(dir) / "node.id";
  auto text = read_file(path);
  if (!text.is_ok()) return text.status();
  if (text.value()) {
    uint64_t id = 0;
    try {
      id = std::stoull(*text.value());
    } catch (...) {
      return Status::corruption(path.string() + " does not hold a node id");
    }
    if (id == 0) return Status::corruption(path.string() + " holds node id 0");
    return NodeId(id);
  }
  std::random_device rd;
  uint64_t id = 0;
  while (id == 0) id = (static_cast<uint64_t>(rd()) << 32) ^ rd();
  if (Status s = write_durably(path, std::to_string(id) + "\n"); !s.is_ok()) return s;
  return NodeId(id);
}

Result<std::optional<cluster::ClusterMap>> load_cluster_map(const std::string& dir) {
  fs::path path = fs::path(dir) / "cluster.map";
  auto bytes = read_file(path);
  if (!bytes.is_ok()) return bytes.status();
  if (!bytes.value()) return std::optional<cluster::ClusterMap>();
  auto map = cluster::decode_cluster_map(*bytes.value());
  if (!map.is_ok()) return Status::corruption(path.string() + ": " + map.status().message());
  return std::optional<cluster::ClusterMap>(std::move(map).value());
}

Status save_cluster_map(const std::string& dir, const cluster::ClusterMap& map) {
  return write_durably(fs::path(dir) / "cluster.map", cluster::encode_cluster_map(map));
}

}  // namespace shoal::server
