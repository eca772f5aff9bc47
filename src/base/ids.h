// Strong ids: a Term can't be passed where a LogIndex is expected (STYLE.md #5).
#pragma once

#include <compare>
#include <cstdint>
#include <functional>

namespace shoal {

template <typename Tag, typename Rep = uint64_t>
class StrongId {
 public:
  constexpr StrongId() = default;
  constexpr explicit StrongId(Rep v) : v_(v) {}
  constexpr Rep value() const { return v_; }
  constexpr auto operator<=>(const StrongId&) const = default;
  constexpr StrongId next() const { return StrongId(v_ + 1); }
  constexpr StrongId prev() const { return StrongId(v_ - 1); }

 private:
  Rep v_ = 0;
};

using Term = StrongId<struct TermTag>;
using LogIndex = StrongId<struct LogIndexTag>;
using NodeId = StrongId<struct NodeIdTag>;
using ShardId = StrongId<struct ShardIdTag>;
using Slot = StrongId<struct SlotTag, uint16_t>;

inline constexpr uint16_t kSlotCount = 16384;

}  // namespace shoal

template <typename Tag, typename Rep>
struct std::hash<shoal::StrongId<Tag, Rep>> {
  size_t operator()(const shoal::StrongId<Tag, Rep>& id) const noexcept {
    return std::hash<Rep>()(id.value());
  }
};
