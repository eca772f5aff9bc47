#include "transport/wire_codec.h"

#include <cstring>
#include <utility>

#include "peer.pb.h"

namespace shoal::transport {
namespace {

// ---- enums: explicit tables both ways, so a renumbering on either side is
// caught by the round-trip tests and an unknown wire value is an error.

pb::MessageType to_pb(raft::MessageType t) {
  using T = raft::MessageType;
  switch (t) {
    case T::kApp:
      return pb::MESSAGE_TYPE_APP;
    case T::kAppResp:
      return pb::MESSAGE_TYPE_APP_RESP;
    case T::kVote:
      return pb::MESSAGE_TYPE_VOTE;
    case T::kVoteResp:
      return pb::MESSAGE_TYPE_VOTE_RESP;
    case T::kPreVote:
      return pb::MESSAGE_TYPE_PRE_VOTE;
    case T::kPreVoteResp:
      return pb::MESSAGE_TYPE_PRE_VOTE_RESP;
    case T::kHeartbeat:
      return pb::MESSAGE_TYPE_HEARTBEAT;
    case T::kHeartbeatResp:
      return pb::MESSAGE_TYPE_HEARTBEAT_RESP;
    case T::kSnap:
      return pb::MESSAGE_TYPE_SNAP;
    case T::kTimeoutNow:
      return pb::MESSAGE_TYPE_TIMEOUT_NOW;
    case T::kReadIndex:
      return pb::MESSAGE_TYPE_READ_INDEX;
    case T::kReadIndexResp:
      return pb::MESSAGE_TYPE_READ_INDEX_RESP;
  }
  SHOAL_ASSERT_MSG(false, "unhandled raft::MessageType");
  return pb::MESSAGE_TYPE_APP;
}

// `v` is the raw wire value: proto3 enums are open, so anything may arrive.
std::optional<raft::MessageType> from_pb_message_type(int v) {
  using T = raft::MessageType;
  switch (v) {
    case pb::MESSAGE_TYPE_APP:
      return T::kApp;
    case pb::MESSAGE_TYPE_APP_RESP:
      return T::kAppResp;
    case pb::MESSAGE_TYPE_VOTE:
      return T::kVote;
    case pb::MESSAGE_TYPE_VOTE_RESP:
      return T::kVoteResp;
    case pb::MESSAGE_TYPE_PRE_VOTE:
      return T::kPreVote;
    case pb::MESSAGE_TYPE_PRE_VOTE_RESP:
      return T::kPreVoteResp;
    case pb::MESSAGE_TYPE_HEARTBEAT:
      return T::kHeartbeat;
    case pb::MESSAGE_TYPE_HEARTBEAT_RESP:
      return T::kHeartbeatResp;
    case pb::MESSAGE_TYPE_SNAP:
      return T::kSnap;
    case pb::MESSAGE_TYPE_TIMEOUT_NOW:
      return T::kTimeoutNow;
    case pb::MESSAGE_TYPE_READ_INDEX:
      return T::kReadIndex;
    case pb::MESSAGE_TYPE_READ_INDEX_RESP:
      return T::kReadIndexResp;
    default:
      return std::nullopt;
  }
}

pb::EntryType to_pb(raft::EntryType t) {
  switch (t) {
    case raft::EntryType::kNormal:
      return pb::ENTRY_TYPE_NORMAL;
    case raft::EntryType::kConfChange:
      return pb::ENTRY_TYPE_CONF_CHANGE;
  }
  SHOAL_ASSERT_MSG(false, "unhandled raft::EntryType");
  return pb::ENTRY_TYPE_NORMAL;
}

std::optional<raft::EntryType> from_pb_entry_type(int v) {
  switch (v) {
    case pb::ENTRY_TYPE_NORMAL:
      return raft::EntryType::kNormal;
    case pb::ENTRY_TYPE_CONF_CHANGE:
      return raft::EntryType::kConfChange;
    default:
      return std::nullopt;
  }
}

pb::ForwardCode to_pb(ForwardCode c) {
  switch (c) {
    case ForwardCode::kOk:
      return pb::FORWARD_CODE_OK;
    case ForwardCode::kNotLeader:
      return pb::FORWARD_CODE_NOT_LEADER;
    case ForwardCode::kUnavailable:
      return pb::FORWARD_CODE_UNAVAILABLE;
    case ForwardCode::kUnknownOutcome:
      return pb::FORWARD_CODE_UNKNOWN_OUTCOME;
    case ForwardCode::kStaleEpoch:
      return pb::FORWARD_CODE_STALE_EPOCH;
  }
  SHOAL_ASSERT_MSG(false, "unhandled ForwardCode");
  return pb::FORWARD_CODE_OK;
}

std::optional<ForwardCode> from_pb_forward_code(int v) {
  switch (v) {
    case pb::FORWARD_CODE_OK:
      return ForwardCode::kOk;
    case pb::FORWARD_CODE_NOT_LEADER:
      return ForwardCode::kNotLeader;
    case pb::FORWARD_CODE_UNAVAILABLE:
      return ForwardCode::kUnavailable;
    case pb::FORWARD_CODE_UNKNOWN_OUTCOME:
      return ForwardCode::kUnknownOutcome;
    case pb::FORWARD_CODE_STALE_EPOCH:
      return ForwardCode::kStaleEpoch;
    default:
      return std::nullopt;
  }
}

pb::SnapshotAckCode to_pb(SnapshotAckCode c) {
  switch (c) {
    case SnapshotAckCode::kProgress:
      return pb::SNAPSHOT_ACK_PROGRESS;
    case SnapshotAckCode::kResend:
      return pb::SNAPSHOT_ACK_RESEND;
    case SnapshotAckCode::kDone:
      return pb::SNAPSHOT_ACK_DONE;
    case SnapshotAckCode::kAbort:
      return pb::SNAPSHOT_ACK_ABORT;
  }
  SHOAL_ASSERT_MSG(false, "unhandled SnapshotAckCode");
  return pb::SNAPSHOT_ACK_PROGRESS;
}

std::optional<SnapshotAckCode> from_pb_snapshot_ack_code(int v) {
  switch (v) {
    case pb::SNAPSHOT_ACK_PROGRESS:
      return SnapshotAckCode::kProgress;
    case pb::SNAPSHOT_ACK_RESEND:
      return SnapshotAckCode::kResend;
    case pb::SNAPSHOT_ACK_DONE:
      return SnapshotAckCode::kDone;
    case pb::SNAPSHOT_ACK_ABORT:
      return SnapshotAckCode::kAbort;
    default:
      return std::nullopt;
  }
}

// ---- plain structs -> protobuf

void ids_to_pb(const std::vector<NodeId>& ids, google::protobuf::RepeatedField<uint64_t>* out) {
  out->Reserve(static_cast<int>(ids.size()));
  for (NodeId id : ids) out->Add(id.value());
}

void conf_to_pb(const raft::ConfState& c, pb::ConfState* out) {
  ids_to_pb(c.voters, out->mutable_voters());
  ids_to_pb(c.voters_outgoing, out->mutable_voters_outgoing());
  ids_to_pb(c.learners, out->mutable_learners());
  ids_to_pb(c.learners_next, out->mutable_learners_next());
  out->set_auto_leave(c.auto_leave);
}

bool snapshot_is_empty(const raft::Snapshot& s) {
  return s.data.empty() && s.meta.index == LogIndex() && s.meta.term == Term() &&
         s.meta.conf == raft::ConfState();
}

void message_to_pb(const raft::Message& m, pb::RaftMessage* out) {
  out->set_type(to_pb(m.type));
  out->set_from(m.from.value());
  out->set_to(m.to.value());
  out->set_term(m.term.value());
  out->set_log_term(m.log_term.value());
  out->set_index(m.index.value());
  out->set_commit(m.commit.value());
  out->set_reject_hint(m.reject_hint.value());
  out->set_hint_term(m.hint_term.value());
  out->set_reject(m.reject);
  out->set_force(m.force);
  out->set_seq(m.seq);
  out->set_context(m.context);
  out->mutable_entries()->Reserve(static_cast<int>(m.entries.size()));
  for (const raft::Entry& e : m.entries) {
    pb::Entry* pe = out->add_entries();
    pe->set_term(e.term.value());
    pe->set_index(e.index.value());
    pe->set_type(to_pb(e.type));
    pe->set_data(e.data);
  }
  if (!snapshot_is_empty(m.snapshot)) {
    pb::Snapshot* ps = out->mutable_snapshot();
    ps->mutable_meta()->set_index(m.snapshot.meta.index.value());
    ps->mutable_meta()->set_term(m.snapshot.meta.term.value());
    conf_to_pb(m.snapshot.meta.conf, ps->mutable_meta()->mutable_conf());
    ps->set_data(m.snapshot.data);
  }
}

void epoch_to_pb(const ShardEpoch& e, pb::ShardEpoch* out) {
  out->set_conf_ver(e.conf_ver);
  out->set_version(e.version);
}

void batch_to_pb(const PeerBatch& b, pb::Batch* out) {
  for (const RaftEnvelope& env : b.raft) {
    pb::RaftEnvelope* pe = out->add_raft();
    pe->set_shard(env.shard.value());
    epoch_to_pb(env.epoch, pe->mutable_epoch());
    message_to_pb(env.msg, pe->mutable_msg());
  }
  for (const ForwardRequest& r : b.requests) {
    pb::ForwardRequest* pr = out->add_requests();
    pr->set_id(r.id);
    pr->set_shard(r.shard.value());
    epoch_to_pb(r.epoch, pr->mutable_epoch());
    for (const std::string& arg : r.args) pr->add_args(arg);
    pr->set_allow_follower(r.allow_follower);
  }
  for (const ForwardResponse& r : b.responses) {
    pb::ForwardResponse* pr = out->add_responses();
    pr->set_id(r.id);
    pr->set_code(to_pb(r.code));
    pr->set_reply(r.reply);
    pr->set_message(r.message);
    pr->set_leader_hint(r.leader_hint.value());
  }
  for (const LeaderHint& h : b.hints) {
    pb::LeaderHint* ph = out->add_hints();
    ph->set_shard(h.shard.value());
    ph->set_term(h.term.value());
    ph->set_leader(h.leader.value());
  }
  for (const SnapshotChunk& c : b.snapshot_chunks) {
    pb::SnapshotChunk* pc = out->add_snapshot_chunks();
    pc->set_shard(c.shard.value());
    epoch_to_pb(c.epoch, pc->mutable_epoch());
    pc->set_term(c.term.value());
    pc->set_index(c.index.value());
    pc->set_round(c.round);
    pc->set_frame(c.frame);
    pc->set_bytes(c.bytes);
    pc->set_last(c.last);
  }
  for (const SnapshotAck& a : b.snapshot_acks) {
    pb::SnapshotAck* pa = out->add_snapshot_acks();
    pa->set_shard(a.shard.value());
    pa->set_index(a.index.value());
    pa->set_round(a.round);
    pa->set_next_frame(a.next_frame);
    pa->set_code(to_pb(a.code));
  }
}

// ---- protobuf -> plain structs. The pb objects are consumed: byte fields are
// moved out rather than copied (no arena, so mutable_*() returns std::string*).

std::vector<NodeId> ids_from_pb(const google::protobuf::RepeatedField<uint64_t>& ids) {
  std::vector<NodeId> out;
  out.reserve(ids.size());
  for (uint64_t id : ids) out.emplace_back(id);
  return out;
}

raft::ConfState conf_from_pb(const pb::ConfState& c) {
  raft::ConfState out;
  out.voters = ids_from_pb(c.voters());
  out.voters_outgoing = ids_from_pb(c.voters_outgoing());
  out.learners = ids_from_pb(c.learners());
  out.learners_next = ids_from_pb(c.learners_next());
  out.auto_leave = c.auto_leave();
  return out;
}

Status message_from_pb(pb::RaftMessage* p, raft::Message* m) {
  std::optional<raft::MessageType> type = from_pb_message_type(p->type());
  if (!type) return Status::corruption("raft message: unknown type " + std::to_string(p->type()));
  m->type = *type;
  m->from = NodeId(p->from());
  m->to = NodeId(p->to());
  m->term = Term(p->term());
  m->log_term = Term(p->log_term());
  m->index = LogIndex(p->index());
  m->commit = LogIndex(p->commit());
  m->reject_hint = LogIndex(p->reject_hint());
  m->hint_term = Term(p->hint_term());
  m->reject = p->reject();
  m->force = p->force();
  m->seq = p->seq();
  m->context = p->context();
  m->entries.clear();
  m->entries.reserve(p->entries_size());
  for (pb::Entry& pe : *p->mutable_entries()) {
    std::optional<raft::EntryType> et = from_pb_entry_type(pe.type());
    if (!et) return Status::corruption("raft entry: unknown type " + std::to_string(pe.type()));
    m->entries.push_back(raft::Entry{.term = Term(pe.term()),
                                     .index = LogIndex(pe.index()),
                                     .type = *et,
                                     .data = std::move(*pe.mutable_data())});
  }
  m->snapshot = raft::Snapshot();
  if (p->has_snapshot()) {
    pb::Snapshot* ps = p->mutable_snapshot();
    m->snapshot.meta.index = LogIndex(ps->meta().index());
    m->snapshot.meta.term = Term(ps->meta().term());
    m->snapshot.meta.conf = conf_from_pb(ps->meta().conf());
    m->snapshot.data = std::move(*ps->mutable_data());
  }
  return Status::ok();
}

ShardEpoch epoch_from_pb(const pb::ShardEpoch& e) {
  return ShardEpoch{.conf_ver = e.conf_ver(), .version = e.version()};
}

Status batch_from_pb(pb::Batch* p, PeerBatch* b) {
  b->raft.reserve(p->raft_size());
  for (pb::RaftEnvelope& pe : *p->mutable_raft()) {
    RaftEnvelope& env = b->raft.emplace_back();
    env.shard = ShardId(pe.shard());
    env.epoch = epoch_from_pb(pe.epoch());
    if (Status s = message_from_pb(pe.mutable_msg(), &env.msg); !s.is_ok()) return s;
  }
  b->requests.reserve(p->requests_size());
  for (pb::ForwardRequest& pr : *p->mutable_requests()) {
    ForwardRequest& r = b->requests.emplace_back();
    r.id = pr.id();
    r.shard = ShardId(pr.shard());
    r.epoch = epoch_from_pb(pr.epoch());
    r.args.reserve(pr.args_size());
    for (std::string& arg : *pr.mutable_args()) r.args.push_back(std::move(arg));
    r.allow_follower = pr.allow_follower();
  }
  b->responses.reserve(p->responses_size());
  for (pb::ForwardResponse& pr : *p->mutable_responses()) {
    std::optional<ForwardCode> code = from_pb_forward_code(pr.code());
    if (!code)
      return Status::corruption("forward response: unknown code " + std::to_string(pr.code()));
    b->responses.push_back(ForwardResponse{.id = pr.id(),
                                           .code = *code,
                                           .reply = std::move(*pr.mutable_reply()),
                                           .message = std::move(*pr.mutable_message()),
                                           .leader_hint = NodeId(pr.leader_hint())});
  }
  b->hints.reserve(p->hints_size());
  for (const pb::LeaderHint& ph : p->hints()) {
    b->hints.push_back(LeaderHint{
        .shard = ShardId(ph.shard()), .term = Term(ph.term()), .leader = NodeId(ph.leader())});
  }
  b->snapshot_chunks.reserve(p->snapshot_chunks_size());
  for (pb::SnapshotChunk& pc : *p->mutable_snapshot_chunks()) {
    b->snapshot_chunks.push_back(SnapshotChunk{.shard = ShardId(pc.shard()),
                                               .epoch = epoch_from_pb(pc.epoch()),
                                               .term = Term(pc.term()),
                                               .index = LogIndex(pc.index()),
                                               .round = pc.round(),
                                               .frame = pc.frame(),
                                               .bytes = std::move(*pc.mutable_bytes()),
                                               .last = pc.last()});
  }
  b->snapshot_acks.reserve(p->snapshot_acks_size());
  for (const pb::SnapshotAck& pa : p->snapshot_acks()) {
    std::optional<SnapshotAckCode> code = from_pb_snapshot_ack_code(pa.code());
    if (!code) return Status::corruption("snapshot ack: unknown code " + std::to_string(pa.code()));
    b->snapshot_acks.push_back(SnapshotAck{.shard = ShardId(pa.shard()),
                                           .index = LogIndex(pa.index()),
                                           .round = pa.round(),
                                           .next_frame = pa.next_frame(),
                                           .code = *code});
  }
  return Status::ok();
}

// ---- framing

void put_be32(uint32_t v, char* out) {
  out[0] = static_cast<char>(v >> 24);
  out[1] = static_cast<char>(v >> 16);
  out[2] = static_cast<char>(v >> 8);
  out[3] = static_cast<char>(v);
}

std::string frame(const pb::PeerFrame& f) {
  size_t n = f.ByteSizeLong();
  // Protobuf cannot serialize 2 GiB or more; nothing we send comes close
  // (the sender also checks max_frame_bytes before queueing).
  SHOAL_ASSERT_MSG(n < (size_t{1} << 31), "peer frame too large to serialize");
  std::string out(kFrameHeaderBytes + n, '\0');
  put_be32(static_cast<uint32_t>(n), out.data());
  f.SerializeWithCachedSizesToArray(reinterpret_cast<uint8_t*>(out.data() + kFrameHeaderBytes));
  return out;
}

}  // namespace

std::string encode_hello_frame(const Hello& hello) {
  pb::PeerFrame f;
  pb::Hello* h = f.mutable_hello();
  h->set_node_id(hello.node.value());
  h->set_cluster_id(hello.cluster_id);
  h->set_protocol_version(hello.protocol_version);
  return frame(f);
}

std::string encode_batch_frame(const PeerBatch& batch) {
  pb::PeerFrame f;
  batch_to_pb(batch, f.mutable_batch());
  return frame(f);
}

Result<Frame> decode_frame_body(std::string_view body) {
  if (body.size() > kMaxFrameBodyLimit) return Status::corruption("peer frame too large");
  pb::PeerFrame f;
  if (!f.ParseFromArray(body.data(), static_cast<int>(body.size()))) {
    return Status::corruption("peer frame does not parse");
  }
  switch (f.kind_case()) {
    case pb::PeerFrame::kHello:
      return Frame(Hello{.node = NodeId(f.hello().node_id()),
                         .cluster_id = f.hello().cluster_id(),
                         .protocol_version = f.hello().protocol_version()});
    case pb::PeerFrame::kBatch: {
      PeerBatch b;
      if (Status s = batch_from_pb(f.mutable_batch(), &b); !s.is_ok()) return s;
      return Frame(std::move(b));
    }
    case pb::PeerFrame::KIND_NOT_SET:
      break;
  }
  return Status::corruption("peer frame is neither hello nor batch");
}

std::string encode_raft_message(const raft::Message& msg) {
  pb::RaftMessage p;
  message_to_pb(msg, &p);
  return p.SerializeAsString();
}

Result<raft::Message> decode_raft_message(std::string_view bytes) {
  if (bytes.size() > kMaxFrameBodyLimit) return Status::corruption("raft message too large");
  pb::RaftMessage p;
  if (!p.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return Status::corruption("raft message does not parse");
  }
  raft::Message m;
  if (Status s = message_from_pb(&p, &m); !s.is_ok()) return s;
  return m;
}

}  // namespace shoal::transport
