#include "client/history.hpp"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "routing/key_file.hpp"
#include "routing/wire.hpp"

namespace nightjar::client {

namespace {

constexpr std::string_view history_label = "nightjar history v1";
constexpr std::uint8_t type_message = 1;
constexpr std::uint8_t type_state = 2;
constexpr std::uint8_t type_read = 3;
constexpr std::size_t max_record_bytes = 1u << 20;  // a 64 KiB message and its fields, with room
constexpr std::size_t max_detail_bytes = 1024;
constexpr std::uint64_t max_file_bytes = 4ull << 30;

std::string errno_text(const std::string& what) {
  return what + ": " + std::strerror(errno);
}

bool valid_state(std::uint8_t s) {
  return s >= static_cast<std::uint8_t>(DeliveryState::sending) &&
         s <= static_cast<std::uint8_t>(DeliveryState::received);
}

// Forward order of an outgoing message's states.
int rank(DeliveryState s) {
  switch (s) {
    case DeliveryState::sending: return 0;
    case DeliveryState::failed: return 1;
    case DeliveryState::stored: return 2;
    case DeliveryState::delivered: return 3;
    case DeliveryState::received: return 4;
  }
  return 0;
}

void write_conversation(WireWriter& w, const ConversationKey& c) {
  w.u8(c.group ? 1 : 0);
  w.raw(c.key.bytes);
}

template <class Key>
bool read_key(WireReader& r, Key& k) {
  auto b = r.raw(k.bytes.size());
  if (!b) return false;
  std::copy(b->begin(), b->end(), k.bytes.begin());
  return true;
}

bool read_conversation(WireReader& r, ConversationKey& c) {
  auto g = r.u8();
  if (!g || *g > 1) return false;
  c.group = *g == 1;
  return read_key(r, c.key);
}

std::vector<std::uint8_t> encode_message(const HistoryEntry& e) {
  WireWriter w;
  w.u8(type_message);
  w.u64(e.seq);
  write_conversation(w, e.conversation);
  w.u8(static_cast<std::uint8_t>((e.outgoing ? 1 : 0) | (e.request ? 2 : 0)));
  w.raw(e.sender.bytes);
  w.raw(e.message_id.bytes);
  w.u64(e.sent_ms);
  w.u64(e.recorded_ms);
  w.u8(static_cast<std::uint8_t>(e.state));
  w.u64(e.state_ms);
  w.var16(Bytes(reinterpret_cast<const std::uint8_t*>(e.detail.data()), e.detail.size()));
  w.var32(e.text);
  return w.take();
}

std::vector<std::uint8_t> encode_state(std::uint64_t seq, DeliveryState s, std::uint64_t at,
                                       const MessageId& id, const std::string& detail) {
  WireWriter w;
  w.u8(type_state);
  w.u64(seq);
  w.u8(static_cast<std::uint8_t>(s));
  w.u64(at);
  w.raw(id.bytes);
  w.var16(Bytes(reinterpret_cast<const std::uint8_t*>(detail.data()), detail.size()));
  return w.take();
}

std::vector<std::uint8_t> encode_read(const ConversationKey& c, std::uint64_t up_to) {
  WireWriter w;
  w.u8(type_read);
  write_conversation(w, c);
  w.u64(up_to);
  return w.take();
}

struct Decoded {
  std::uint8_t type = 0;
  HistoryEntry entry;  // message; state: seq, state, state_ms, message_id, detail
  ConversationKey conversation;  // read
  std::uint64_t up_to = 0;       // read
};

Result<Decoded, std::string> decode_record(Bytes bytes) {
  WireReader r(bytes);
  Decoded d;
  auto type = r.u8();
  if (!type) return fail(std::string("empty record"));
  d.type = *type;
  HistoryEntry& e = d.entry;
  switch (d.type) {
    case type_message: {
      auto seq = r.u64();
      if (!seq || *seq == 0 || !read_conversation(r, e.conversation)) return fail(std::string("bad message record"));
      e.seq = *seq;
      auto flags = r.u8();
      if (!flags || *flags > 3 || !read_key(r, e.sender) || !read_key(r, e.message_id))
        return fail(std::string("bad message record"));
      e.outgoing = (*flags & 1) != 0;
      e.request = (*flags & 2) != 0;
      auto sent = r.u64();
      auto recorded = r.u64();
      auto state = r.u8();
      auto state_ms = r.u64();
      if (!sent || !recorded || !state || !valid_state(*state) || !state_ms)
        return fail(std::string("bad message record"));
      e.sent_ms = *sent;
      e.recorded_ms = *recorded;
      e.state = static_cast<DeliveryState>(*state);
      e.state_ms = *state_ms;
      auto detail = r.var16(max_detail_bytes);
      auto text = r.var32(max_record_bytes);
      if (!detail || !text) return fail(std::string("bad message record"));
      e.detail.assign(detail->begin(), detail->end());
      e.text.assign(text->begin(), text->end());
      break;
    }
    case type_state: {
      auto seq = r.u64();
      auto state = r.u8();
      auto at = r.u64();
      if (!seq || !state || !valid_state(*state) || !at || !read_key(r, e.message_id))
        return fail(std::string("bad state record"));
      auto detail = r.var16(max_detail_bytes);
      if (!detail) return fail(std::string("bad state record"));
      e.seq = *seq;
      e.state = static_cast<DeliveryState>(*state);
      e.state_ms = *at;
      e.detail.assign(detail->begin(), detail->end());
      break;
    }
    case type_read: {
      auto ok = read_conversation(r, d.conversation);
      auto up_to = r.u64();
      if (!ok || !up_to) return fail(std::string("bad read record"));
      d.up_to = *up_to;
      break;
    }
    default:
      return fail("unknown record type " + std::to_string(d.type));
  }
  if (r.remaining() != 0) return fail(std::string("bytes after a record"));
  return d;
}

}  // namespace

std::vector<std::uint8_t> encode_receipt(const std::vector<MessageId>& ids) {
  std::vector<std::uint8_t> body{static_cast<std::uint8_t>(ids.size())};
  for (const MessageId& id : ids) body.insert(body.end(), id.bytes.begin(), id.bytes.end());
  return body;
}

std::optional<std::vector<MessageId>> parse_receipt(Bytes body) {
  if (body.empty() || body[0] == 0 || body[0] > max_receipt_ids || body.size() != 1 + 16 * std::size_t{body[0]})
    return std::nullopt;
  std::vector<MessageId> ids(body[0]);
  for (std::size_t i = 0; i < ids.size(); ++i)
    std::copy_n(body.begin() + 1 + 16 * static_cast<std::ptrdiff_t>(i), 16, ids[i].bytes.begin());
  return ids;
}

const char* to_string(DeliveryState s) {
  switch (s) {
    case DeliveryState::sending: return "sending";
    case DeliveryState::stored: return "stored";
    case DeliveryState::delivered: return "delivered";
    case DeliveryState::failed: return "failed";
    case DeliveryState::received: return "received";
  }
  return "?";
}

History::History(History&& o) noexcept { *this = std::move(o); }

History& History::operator=(History&& o) noexcept {
  if (this == &o) return *this;
  if (fd_ >= 0) ::close(fd_);
  file_ = std::move(o.file_);
  identity_ = o.identity_;
  limits_ = o.limits_;
  fd_ = std::exchange(o.fd_, -1);
  dirty_ = o.dirty_;
  next_seq_ = o.next_seq_;
  records_ = o.records_;
  damaged_ = o.damaged_;
  entries_ = std::move(o.entries_);
  read_up_to_ = std::move(o.read_up_to_);
  sent_ids_ = std::move(o.sent_ids_);
  return *this;
}

History::~History() {
  if (fd_ >= 0) {
    if (dirty_) ::fdatasync(fd_);
    ::close(fd_);
  }
}

std::vector<std::uint8_t> History::ad() const {
  std::vector<std::uint8_t> out(history_label.begin(), history_label.end());
  if (identity_) {
    const AccountKey& own = identity_->account();
    out.insert(out.end(), own.bytes.begin(), own.bytes.end());
  }
  return out;
}

Result<void, std::string> History::check_record(Bytes record) {
  auto d = decode_record(record);
  if (!d) return d.failure();
  return {};
}

Result<void, std::string> History::replay(Bytes record) {
  auto d = decode_record(record);
  if (!d) return d.failure();
  switch (d->type) {
    case type_message: {
      HistoryEntry& e = d->entry;
      next_seq_ = std::max(next_seq_, e.seq + 1);
      if (e.outgoing && !e.message_id.is_zero()) sent_ids_[{e.conversation, e.message_id}] = e.seq;
      entries_[e.seq] = std::move(e);
      break;
    }
    case type_state: {
      auto it = entries_.find(d->entry.seq);
      if (it == entries_.end()) break;  // dropped by the limits since
      HistoryEntry& e = it->second;
      e.state = d->entry.state;
      e.state_ms = d->entry.state_ms;
      e.detail = std::move(d->entry.detail);
      if (!d->entry.message_id.is_zero()) {
        e.message_id = d->entry.message_id;
        if (e.outgoing) sent_ids_[{e.conversation, e.message_id}] = e.seq;
      }
      break;
    }
    case type_read:
      read_up_to_[d->conversation] = std::max(read_up_to_[d->conversation], d->up_to);
      break;
  }
  return {};
}

Result<History, std::string> History::open(std::filesystem::path file, const Identity& identity,
                                           HistoryLimits limits, std::uint64_t now_ms) {
  History h;
  h.file_ = std::move(file);
  h.identity_ = &identity;
  h.limits_ = limits;
  const int fd = ::open(h.file_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return fail(errno_text("cannot open " + h.file_.string()));
  h.fd_ = fd;
  struct stat st {};
  if (::fstat(fd, &st) != 0) return fail(errno_text("cannot read " + h.file_.string()));
  if (static_cast<std::uint64_t>(st.st_size) > max_file_bytes)
    return fail(h.file_.string() + " is larger than the history's bound");
  std::vector<std::uint8_t> bytes(static_cast<std::size_t>(st.st_size));
  std::size_t got = 0;
  while (got < bytes.size()) {
    const ssize_t n = ::pread(fd, bytes.data() + got, bytes.size() - got, static_cast<off_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return fail(errno_text("cannot read " + h.file_.string()));
    got += static_cast<std::size_t>(n);
  }
  const ProfileSealer sealer(identity);
  const auto ad = h.ad();
  std::size_t at = 0, whole = 0;
  while (at + 4 <= bytes.size()) {
    const std::uint32_t len = (std::uint32_t{bytes[at]} << 24) | (std::uint32_t{bytes[at + 1]} << 16) |
                              (std::uint32_t{bytes[at + 2]} << 8) | bytes[at + 3];
    if (len > max_record_bytes + 128 || at + 4 + len > bytes.size()) break;  // cut short
    auto plain = sealer.open(Bytes(bytes.data() + at + 4, len), ad);
    at += 4 + len;
    whole = at;
    ++h.records_;
    if (!plain || !h.replay(*plain)) ++h.damaged_;
    if (plain) sodium_memzero(plain->data(), plain->size());
  }
  // A record cut by a crash: the log goes on from the last whole one.
  if (whole < bytes.size() && ::ftruncate(fd, static_cast<off_t>(whole)) != 0)
    return fail(errno_text("cannot truncate " + h.file_.string()));
  sodium_memzero(bytes.data(), bytes.size());
  if (::lseek(fd, 0, SEEK_END) < 0) return fail(errno_text("cannot seek " + h.file_.string()));
  h.apply_limits(now_ms);
  if (h.records_ > 2 * (h.entries_.size() + h.read_up_to_.size()) + 16)
    if (auto r = h.rewrite(); !r) return r.failure();
  return h;
}

void History::apply_limits(std::uint64_t now_ms) {
  const std::uint64_t oldest = now_ms > limits_.max_age_ms ? now_ms - limits_.max_age_ms : 0;
  std::map<ConversationKey, std::size_t> count;
  // Newest first: the first max_per_conversation of each conversation stay.
  for (auto it = entries_.rbegin(); it != entries_.rend();) {
    const HistoryEntry& e = it->second;
    const bool keep = e.recorded_ms >= oldest && ++count[e.conversation] <= limits_.max_per_conversation;
    if (keep) {
      ++it;
      continue;
    }
    if (e.outgoing) sent_ids_.erase({e.conversation, e.message_id});
    it = std::make_reverse_iterator(entries_.erase(std::next(it).base()));
  }
}

Result<void, std::string> History::append(const std::vector<std::uint8_t>& record) {
  if (!identity_) return {};  // in memory only
  if (fd_ < 0) return fail("the history file " + file_.string() + " is not open");
  const ProfileSealer sealer(*identity_);
  const auto sealed = sealer.seal(record, ad());
  std::vector<std::uint8_t> out(4);
  const auto len = static_cast<std::uint32_t>(sealed.size());
  out[0] = static_cast<std::uint8_t>(len >> 24);
  out[1] = static_cast<std::uint8_t>(len >> 16);
  out[2] = static_cast<std::uint8_t>(len >> 8);
  out[3] = static_cast<std::uint8_t>(len);
  out.insert(out.end(), sealed.begin(), sealed.end());
  std::size_t done = 0;
  while (done < out.size()) {
    const ssize_t n = ::write(fd_, out.data() + done, out.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return fail(errno_text("cannot write " + file_.string()));
    done += static_cast<std::size_t>(n);
  }
  dirty_ = true;
  ++records_;
  return {};
}

Result<std::uint64_t, std::string> History::add(HistoryEntry e) {
  e.seq = next_seq_;
  if (e.detail.size() > max_detail_bytes) e.detail.resize(max_detail_bytes);
  auto record = encode_message(e);
  auto r = append(record);
  sodium_memzero(record.data(), record.size());
  if (!r) return r.failure();
  ++next_seq_;
  if (e.outgoing && !e.message_id.is_zero()) sent_ids_[{e.conversation, e.message_id}] = e.seq;
  const std::uint64_t seq = e.seq;
  const ConversationKey c = e.conversation;
  entries_[seq] = std::move(e);
  // The limit on a conversation, as entries come (the age limit applies at open).
  std::size_t n = 0;
  for (auto it = entries_.rbegin(); it != entries_.rend(); ++it)
    if (it->second.conversation == c && ++n > limits_.max_per_conversation) {
      if (it->second.outgoing) sent_ids_.erase({c, it->second.message_id});
      entries_.erase(std::next(it).base());
      break;
    }
  return seq;
}

Result<bool, std::string> History::set_state(std::uint64_t seq, DeliveryState state,
                                             std::uint64_t now_ms, std::string detail,
                                             const std::optional<MessageId>& id) {
  auto it = entries_.find(seq);
  if (it == entries_.end()) return false;
  HistoryEntry& e = it->second;
  if (rank(state) <= rank(e.state) && !(id && e.message_id.is_zero())) return false;
  if (detail.size() > max_detail_bytes) detail.resize(max_detail_bytes);
  const MessageId recorded = id ? *id : e.message_id;
  if (auto r = append(encode_state(seq, rank(state) > rank(e.state) ? state : e.state, now_ms,
                                   recorded, detail));
      !r)
    return r.failure();
  if (rank(state) > rank(e.state)) {
    e.state = state;
    e.state_ms = now_ms;
    e.detail = std::move(detail);
  }
  if (id && e.message_id.is_zero()) {
    e.message_id = *id;
    if (e.outgoing) sent_ids_[{e.conversation, e.message_id}] = e.seq;
  }
  return true;
}

std::optional<std::uint64_t> History::find_sent(const ConversationKey& conversation,
                                                const MessageId& id) const {
  auto it = sent_ids_.find({conversation, id});
  if (it == sent_ids_.end()) return std::nullopt;
  return it->second;
}

Result<void, std::string> History::mark_read(const ConversationKey& conversation) {
  std::uint64_t last = 0;
  for (const auto& [seq, e] : entries_)
    if (e.conversation == conversation) last = seq;
  if (last == 0 || read_up_to_[conversation] >= last) return {};
  if (auto r = append(encode_read(conversation, last)); !r) return r;
  read_up_to_[conversation] = last;
  return {};
}

Result<void, std::string> History::flush() {
  if (fd_ < 0 || !dirty_) return {};
  if (::fdatasync(fd_) != 0) return fail(errno_text("cannot sync " + file_.string()));
  dirty_ = false;
  return {};
}

Result<void, std::string> History::rewrite() {
  if (!identity_) return {};
  const ProfileSealer sealer(*identity_);
  const auto a = ad();
  std::vector<std::uint8_t> out;
  std::size_t records = 0;
  auto put = [&](std::vector<std::uint8_t> record) {
    const auto sealed = sealer.seal(record, a);
    sodium_memzero(record.data(), record.size());
    const auto len = static_cast<std::uint32_t>(sealed.size());
    out.push_back(static_cast<std::uint8_t>(len >> 24));
    out.push_back(static_cast<std::uint8_t>(len >> 16));
    out.push_back(static_cast<std::uint8_t>(len >> 8));
    out.push_back(static_cast<std::uint8_t>(len));
    out.insert(out.end(), sealed.begin(), sealed.end());
    ++records;
  };
  for (const auto& [seq, e] : entries_) put(encode_message(e));
  for (const auto& [c, up_to] : read_up_to_) put(encode_read(c, up_to));
  auto r = replace_private_file(file_, out);
  sodium_memzero(out.data(), out.size());
  if (!r) return r;
  // Appends go to the new file from now on.
  const int fd = ::open(file_.c_str(), O_RDWR | O_APPEND | O_CLOEXEC);
  if (fd < 0) return fail(errno_text("cannot open " + file_.string()));
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
  records_ = records;
  dirty_ = false;
  return {};
}

Result<void, std::string> History::erase() {
  entries_.clear();
  read_up_to_.clear();
  sent_ids_.clear();
  if (!identity_) return {};
  return rewrite();
}

const HistoryEntry* History::entry(std::uint64_t seq) const {
  auto it = entries_.find(seq);
  return it == entries_.end() ? nullptr : &it->second;
}

std::vector<HistoryEntry> History::messages(const ConversationKey& conversation,
                                            std::size_t limit) const {
  std::vector<HistoryEntry> out;
  for (auto it = entries_.rbegin(); it != entries_.rend(); ++it) {
    if (!(it->second.conversation == conversation)) continue;
    out.push_back(it->second);
    if (limit && out.size() == limit) break;
  }
  std::reverse(out.begin(), out.end());
  return out;
}

std::vector<ConversationSummary> History::conversations() const {
  std::map<ConversationKey, ConversationSummary> by;
  for (const auto& [seq, e] : entries_) {
    ConversationSummary& s = by[e.conversation];
    s.conversation = e.conversation;
    ++s.messages;
    auto read = read_up_to_.find(e.conversation);
    if (!e.outgoing && (read == read_up_to_.end() || seq > read->second)) ++s.unread;
    s.last = e;
  }
  std::vector<ConversationSummary> out;
  for (auto& [c, s] : by) out.push_back(std::move(s));
  std::sort(out.begin(), out.end(), [](const ConversationSummary& a, const ConversationSummary& b) {
    return a.last.seq > b.last.seq;
  });
  return out;
}

}  // namespace nightjar::client
