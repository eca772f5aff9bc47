#include "env/disk.h"

namespace shoal::env {

std::string parent_dir(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return "";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

Result<std::string> read_file(Disk& disk, const std::string& path) {
  auto file = disk.open_read(path);
  if (!file.is_ok()) return file.status();
  auto size = file.value()->size();
  if (!size.is_ok()) return size.status();
  std::string out(size.value(), '\0');
  auto n = file.value()->read_at(0, std::span<char>(out.data(), out.size()));
  if (!n.is_ok()) return n.status();
  out.resize(n.value());
  return out;
}

Status write_file_atomically(Disk& disk, const std::string& path, std::string_view data) {
  const std::string tmp = path + ".tmp";
  auto file = disk.open_append(tmp, AppendOptions{.create = true, .truncate = true});
  if (!file.is_ok()) return file.status();
  Status s = file.value()->append(data);
  if (s.is_ok()) s = file.value()->sync();
  Status closed = file.value()->close();
  if (s.is_ok()) s = closed;
  if (s.is_ok()) s = disk.rename(tmp, path);
  if (s.is_ok()) s = disk.sync_dir(parent_dir(path).empty() ? "." : parent_dir(path));
  return s;
}

}  // namespace shoal::env
