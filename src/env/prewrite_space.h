// The bookkeeping of pre-written space (AppendOptions::prewrite_bytes),
// shared by the disks so that PosixDisk and SimDisk keep the same policy:
// data goes over the zeros at data_size(); once fewer than half of
// prewrite_bytes zeros are left ahead of it, zeros are written up to
// prewrite_bytes past the data; after a failed zero write, no more.
// Each disk does the writing itself.
#pragma once

#include <algorithm>
#include <cstdint>

namespace shoal::env {

class PrewriteSpace {
 public:
  PrewriteSpace(uint64_t size, uint64_t prewrite_bytes)
      : size_(size), on_disk_(size), prewrite_(prewrite_bytes) {}

  bool enabled() const { return prewrite_ > 0; }
  // The data's size: where the next append writes.
  uint64_t data_size() const { return size_; }
  // The data and the zeros written after it: where the next zeros go.
  uint64_t on_disk() const { return on_disk_; }
  bool has_zeros_after_data() const { return on_disk_ > size_; }

  // `n` bytes of data were written at data_size().
  void wrote_data(uint64_t n) {
    size_ += n;
    on_disk_ = std::max(on_disk_, size_);
  }
  // How many zeros to write at on_disk() now (0: none due).
  uint64_t zeros_due() const {
    if (zeros_failed_ || on_disk_ - size_ >= prewrite_ / 2) return 0;
    return size_ + prewrite_ - on_disk_;
  }
  // `n` zeros were written at on_disk() (also the part of a failed write).
  void wrote_zeros(uint64_t n) { on_disk_ += n; }
  // Writing zeros failed (no space): the file's appends grow it from here on.
  void zeros_failed() { zeros_failed_ = true; }

 private:
  uint64_t size_;
  uint64_t on_disk_;
  const uint64_t prewrite_;
  bool zeros_failed_ = false;
};

}  // namespace shoal::env
