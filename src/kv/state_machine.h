// StateMachine: one shard's replicated state: the keyspace (Store) plus the
// exactly-once table, driven by committed log entries.
//
// apply() is deterministic: every replica that applies the same entries in
// the same order ends with the same state, byte for byte, and produces the
// same replies (H19). Its inputs are only the entry bytes; time comes from
// the entry (`now_ms`), never from the local clock.
//
// Exactly-once (H17): a write carrying (client_id, seq) is applied at most
// once. A retry of the client's latest request (same seq) is answered with the
// reply recorded when it was first applied; an older seq is refused. Sessions
// are bounded: at most `max_sessions` are kept, and a session idle for
// `session_ttl_ms` (by entry time) is forgotten; both evictions are decided
// by the entries themselves, so they are deterministic too.
//
// Thread-safety: none; the replica host serializes all calls.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <span>

#include "kv/command.h"
#include "kv/recorded_reply.h"
#include "kv/store.h"
#include "kv/write_command.h"

namespace shoal::kv {

struct StateMachineOptions {
  size_t max_sessions = 100000;
  int64_t session_ttl_ms = 60LL * 60 * 1000;
};

class StateMachine {
 public:
  // `sessions`, if given, is a durable engine that mirrors the exactly-once
  // table (written in the same batch as the data, loaded here at open), for
  // a replica whose data engine is durable too. Without it the table lives
  // in memory only and is restored from snapshots.
  StateMachine(std::unique_ptr<storage::Engine> engine, StateMachineOptions options = {},
               std::unique_ptr<storage::Engine> sessions = nullptr);

  // Applies one committed write; returns its reply (also for duplicates).
  RecordedReply apply(const WriteCommand& cmd);
  RecordedReply apply(const WriteCommandView& cmd);
  // Applies a committed entry's bytes (one command or a batch,
  // write_command.h) and appends one reply per command, in order. A corrupt
  // command yields an error reply and changes nothing (it was validated by
  // the proposer, so this means a bug or a disk fault that the log's
  // checksum missed: surfaced, never guessed); a corrupt batch frame yields
  // a single error reply.
  void apply_entry(std::string_view entry, std::vector<RecordedReply>& replies);

  // Executes a read-only command against the current state.
  void read(const CommandSpec& spec, std::span<const std::string_view> args, int64_t now_ms,
            uint64_t random_bits, ReplySink& reply);

  Store& store() { return store_; }
  size_t session_count() const { return sessions_.size(); }

  // The whole state as bytes (a point-in-time snapshot for log compaction and
  // for followers that fell behind), and its inverse. restore() validates
  // everything (a CRC32C covers the bytes) and replaces the state only if the
  // snapshot is intact.
  std::string snapshot_data() const;
  // The size snapshot_data() reserves for: learnt from its last call or the
  // last restore; a snapshot serialized elsewhere (a child process) tells it.
  size_t snapshot_size_hint() const { return last_snapshot_bytes_; }
  void set_snapshot_size_hint(size_t bytes) const { last_snapshot_bytes_ = bytes; }
  Status restore(std::string_view data);
  // Everything restore() checks, without changing the state: for snapshots
  // from peers, which are validated before Raft accepts them (STYLE.md #4).
  static Status check_snapshot(std::string_view data) { return load_snapshot(data, nullptr); }

  // A hash of the whole state (keyspace and exactly-once table) that every
  // replica at the same applied index must agree on (anti-entropy, moves).
  uint64_t state_hash() const;

 private:
  // Parses and verifies a snapshot; installs it into `into` unless null.
  static Status load_snapshot(std::string_view data, StateMachine* into);
  struct Session {
    uint64_t last_seq = 0;
    int64_t last_ms = 0;
    std::string reply;  // encoded RecordedReply of last_seq
  };
  // The spec of a replicated command (args non-empty), or null.
  const CommandSpec* find_spec(const std::vector<std::string_view>& args);
  void expire_sessions(int64_t now_ms);
  void remember(uint64_t client_id, uint64_t seq, int64_t now_ms, const RecordedReply& reply);
  void forget(uint64_t client_id);
  // The durable mirror of sessions_ (null when there is none).
  void store_session(uint64_t client_id, const Session& s);
  void load_sessions();

  Store store_;
  StateMachineOptions options_;
  std::map<uint64_t, Session> sessions_;
  std::set<std::pair<int64_t, uint64_t>> by_age_;  // (last_ms, client_id)
  std::unique_ptr<storage::Engine> session_store_;
  const CommandSpec* last_spec_ = nullptr;  // find_spec's memo: never a container
  mutable size_t last_snapshot_bytes_ = 0;  // snapshot_data's size hint
  // apply_entry's scratch, reused from entry to entry.
  struct Decoded {
    Status status;
    WriteCommandView view;
  };
  std::vector<Decoded> decoded_;
  std::vector<std::string_view> prefetch_keys_;
};

}  // namespace shoal::kv
