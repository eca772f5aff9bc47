#include "sim/linearizability.h"

#include <algorithm>
#include <map>
#include <unordered_set>

namespace shoal::sim {

namespace {

struct Zone {
  uint64_t lo;
  uint64_t hi;
};

// The operations on one written value: f = min return, s = max call.
struct Cluster {
  bool has_write = false;
  uint64_t write_call = 0;
  uint64_t f = kNever;
  uint64_t s = 0;
  bool read = false;
};

// Groups operations by value; false if the history is trivially bad (or
// outside the fast path: duplicate written values).
bool build_clusters(const std::vector<Op>& ops, std::map<std::string, Cluster>& clusters,
                    std::string* why) {
  clusters[""] = Cluster{true, 0, 0, 0, false};  // the initial value, written at time 0
  for (const Op& op : ops) {
    if (!op.is_write) continue;
    Cluster& c = clusters[op.value];
    if (c.has_write || op.value.empty()) {
      if (why) *why = "written values are not unique";
      return false;
    }
    c.has_write = true;
    c.write_call = op.call;
    c.f = std::min(c.f, op.ret);
    c.s = std::max(c.s, op.call);
  }
  for (const Op& op : ops) {
    if (op.is_write) continue;
    auto it = clusters.find(op.value);
    if (it == clusters.end() || !it->second.has_write) {
      if (why) *why = "read of a value never written: " + op.value;
      return false;
    }
    Cluster& c = it->second;
    if (op.ret <= c.write_call) {
      if (why) *why = "read of " + op.value + " returned before its write began";
      return false;
    }
    c.read = true;
    c.f = std::min(c.f, op.ret);
    c.s = std::max(c.s, op.call);
  }
  return true;
}

}  // namespace

// Gibbons & Korach's zones for registers with a known read mapping: per
// written value v, f = min return and s = max call over the write of v and
// the reads of v. f < s gives a forward zone [f, s], else a backward zone
// [s, f]. The history is linearizable iff no read precedes its write, no two
// forward zones intersect, and no backward zone lies inside a forward zone.
// Touching endpoints are treated as conflicts (conservative: fall back).
bool zone_check(const std::vector<Op>& ops, std::string* why) {
  std::map<std::string, Cluster> clusters;
  if (!build_clusters(ops, clusters, why)) return false;
  std::vector<Zone> fwd, bwd;
  for (auto& [v, c] : clusters) {
    // An ambiguous write nobody read may simply not have happened.
    if (c.f == kNever && !c.read) continue;
    if (c.f < c.s) {
      fwd.push_back({c.f, c.s});
    } else {
      bwd.push_back({c.s, c.f});
    }
  }
  std::sort(fwd.begin(), fwd.end(), [](const Zone& a, const Zone& b) { return a.lo < b.lo; });
  for (size_t i = 1; i < fwd.size(); ++i) {
    if (fwd[i].lo <= fwd[i - 1].hi) {
      if (why) *why = "two forward zones intersect";
      return false;
    }
  }
  for (const Zone& b : bwd) {
    // Forward zones are disjoint and sorted: only the last one starting at
    // or before b.lo can contain b.
    auto it = std::upper_bound(fwd.begin(), fwd.end(), b.lo,
                               [](uint64_t x, const Zone& z) { return x < z.lo; });
    if (it == fwd.begin()) continue;
    --it;
    if (it->lo <= b.lo && b.hi <= it->hi) {
      if (why) *why = "a backward zone lies inside a forward zone";
      return false;
    }
  }
  return true;
}

namespace {

struct Event {
  bool is_call;
  int op;
  uint64_t time;
  int prev = -1;
  int next = -1;
  int match = -1;  // call -> its return event (or -1)
};

class Search {
 public:
  Search(const std::vector<Op>& ops) : ops_(ops), bits_((ops.size() + 63) / 64, 0) {
    values_[""] = 0;
    for (const Op& op : ops) values_.emplace(op.value, static_cast<int>(values_.size()));
    build_events();
  }

  CheckResult run(size_t max_states) {
    CheckResult res;
    res.used_search = true;
    int state = 0;
    int entry = head_;
    std::vector<std::pair<int, int>> stack;  // (call event, state before)
    size_t explored = 0;
    while (entry != -1) {
      const Event& ev = events_[entry];
      if (ev.is_call) {
        const Op& op = ops_[ev.op];
        int v = values_.at(op.value);
        bool ok = op.is_write || v == state;
        int next_state = op.is_write ? v : state;
        if (ok) {
          set_bit(ev.op, true);
          if (cache_.insert(key(next_state)).second) {
            if (++explored > max_states) {
              res.ok = false;
              res.detail = "search budget exhausted (inconclusive)";
              return res;
            }
            stack.push_back({entry, state});
            state = next_state;
            lift(entry);
            entry = head_;
            continue;
          }
          set_bit(ev.op, false);
        }
        entry = ev.next;
      } else {
        if (stack.empty()) {
          res.ok = false;
          res.detail = "no linearization exists";
          return res;
        }
        auto [e, s] = stack.back();
        stack.pop_back();
        state = s;
        set_bit(events_[e].op, false);
        unlift(e);
        entry = events_[e].next;
      }
    }
    return res;  // only calls of ambiguous operations remain
  }

 private:
  void build_events() {
    for (size_t i = 0; i < ops_.size(); ++i) {
      events_.push_back({true, static_cast<int>(i), ops_[i].call});
      if (ops_[i].ret != kNever) events_.push_back({false, static_cast<int>(i), ops_[i].ret});
    }
    std::vector<int> order(events_.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int>(i);
    // Calls sort before returns at equal times: concurrent, the permissive reading.
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
      if (events_[a].time != events_[b].time) return events_[a].time < events_[b].time;
      return events_[a].is_call && !events_[b].is_call;
    });
    std::vector<int> call_of(ops_.size(), -1);
    for (size_t k = 0; k < order.size(); ++k) {
      Event& e = events_[order[k]];
      e.prev = k ? order[k - 1] : -1;
      e.next = k + 1 < order.size() ? order[k + 1] : -1;
      if (e.is_call) call_of[e.op] = order[k];
    }
    for (size_t k = 0; k < order.size(); ++k) {
      Event& e = events_[order[k]];
      if (!e.is_call) events_[call_of[e.op]].match = order[k];
    }
    head_ = order.empty() ? -1 : order[0];
  }

  void unlink(int i) {
    Event& e = events_[i];
    if (e.prev != -1)
      events_[e.prev].next = e.next;
    else
      head_ = e.next;
    if (e.next != -1) events_[e.next].prev = e.prev;
  }
  void relink(int i) {
    Event& e = events_[i];
    if (e.prev != -1)
      events_[e.prev].next = i;
    else
      head_ = i;
    if (e.next != -1) events_[e.next].prev = i;
  }
  void lift(int call) {
    unlink(call);
    if (events_[call].match != -1) unlink(events_[call].match);
  }
  void unlift(int call) {
    if (events_[call].match != -1) relink(events_[call].match);
    relink(call);
  }
  void set_bit(int op, bool on) {
    uint64_t m = uint64_t{1} << (op % 64);
    if (on)
      bits_[op / 64] |= m;
    else
      bits_[op / 64] &= ~m;
  }
  std::string key(int state) const {
    std::string k(reinterpret_cast<const char*>(bits_.data()), bits_.size() * 8);
    k.append(reinterpret_cast<const char*>(&state), sizeof(state));
    return k;
  }

  const std::vector<Op>& ops_;
  std::vector<uint64_t> bits_;
  std::map<std::string, int> values_;
  std::vector<Event> events_;
  int head_ = -1;
  std::unordered_set<std::string> cache_;
};

}  // namespace

CheckResult wgl_check(const std::vector<Op>& ops, size_t max_states) {
  return Search(ops).run(max_states);
}

CheckResult check_register(const std::vector<Op>& ops, size_t max_search_states) {
  CheckResult res;
  std::string why;
  if (zone_check(ops, &why)) return res;
  res = wgl_check(ops, max_search_states);
  if (!res.ok) res.detail += " (fast path: " + why + ")";
  return res;
}

}  // namespace shoal::sim
