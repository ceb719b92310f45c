// Public records for the client (client/client.hpp): the account's prekeys,
// kept in the profile, and its prekey bundle, published as a public record
// (swarm/public_record.hpp) in its own swarm; and looking up someone else's.
#include <algorithm>

#include "client/client_impl.hpp"

namespace nightjar::client {

namespace {

constexpr std::uint64_t hour_ms = 3'600'000;
// Published again every day, so a swarm that lost it (or a member that
// missed it) has it back, and a record never outlives its signed prekey:
// it expires a day after the prekey's rotation is due.
constexpr std::uint64_t republish_ms = 24 * hour_ms;
constexpr std::uint64_t record_lifetime_ms = prekeys::rotation_ms + 24 * hour_ms;
constexpr std::uint64_t retry_after_failure_ms = 30'000;
constexpr int record_attempts = 5;
constexpr auto bundle_type = static_cast<std::uint8_t>(RecordType::prekey_bundle);

}  // namespace

void Client::Impl::load_prekeys() {
  if (auto r = prekeys.load(profile_file("prekeys")); !r) {
    // Without its secrets no first message sealed to the old bundle opens;
    // a new bundle replaces it at once.
    log->error("prekeys not loaded, new ones will be published: {}", r.error());
    prekeys = Prekeys(identity);
  }
}

void Client::Impl::maintain_prekeys() {
  const std::uint64_t now = now_ms();
  next_prekey_check_ms = options.clock.unix_ms() + hour_ms;
  if (publishing) return;
  const bool changed = prekeys.maintain(now);
  if (changed && !options.profile_dir.empty()) {
    if (auto r = prekeys.save(profile_file("prekeys")); !r) {
      // Publishing keys whose secrets are not on disk would lose the first
      // messages sealed to them after a restart: try again later.
      log->error("cannot save prekeys: {}", r.error());
      next_prekey_check_ms = options.clock.unix_ms() + retry_after_failure_ms;
      return;
    }
  }
  if (!changed && last_published_ms != 0 && now < last_published_ms + republish_ms) return;
  publish_bundle([this](Result<void, std::string> r) {
    if (!r) {
      log->warn("prekey bundle not published: {}", r.error());
      next_prekey_check_ms = options.clock.unix_ms() + retry_after_failure_ms;
    }
  });
}

void Client::Impl::publish_bundle(std::function<void(Result<void, std::string>)> first) {
  // Whoever waits for this publish (Client::settle) hears of it after `first`.
  auto done = [this, first = std::move(first)](Result<void, std::string> r) {
    auto waiters = std::move(publish_waiters);
    publish_waiters.clear();
    first(std::move(r));
    for (auto& w : waiters) w();
  };
  if (!directory) return done(fail(std::string("no directory yet")));
  const std::uint64_t now = now_ms();
  if (!prekeys.bundle()) prekeys.maintain(now);
  const auto bundle = prekeys.bundle(prekeys::published_one_time);
  if (!bundle) return done(fail(std::string("no prekeys")));
  PublicRecord record;
  record.type = bundle_type;
  record.owner = identity.account();
  record.version = std::max(now, last_record_version + 1);  // a later publish always wins
  record.expires_ms = now + record_lifetime_ms;
  record.payload = encode(*bundle);
  sign_record(record, identity.signing_key());
  last_record_version = record.version;

  storage::StoreRequest req;
  req.ns = Namespace::records;
  req.recipient = identity.account();
  req.ttl_seconds = std::clamp(static_cast<std::uint32_t>(record_lifetime_ms / 1000),
                               directory->params.ttl_min_seconds, directory->params.ttl_max_seconds);
  req.body = encode(record);
  publishing = true;
  swarm_call(identity.account(), std::move(req), storage::Method::store,
             [this, done = std::move(done), now](Result<storage::Response, std::string> r) {
               publishing = false;
               if (!r) return done(r.failure());
               if (r->status != storage::Status::ok)
                 return done(fail(std::string(storage::to_string(r->status))));
               last_published_ms = now;
               ++stats.bundles_published;
               log->info("prekey bundle published");
               done({});
             },
             record_attempts);
}

void Client::Impl::swarm_call(const AccountKey& owner, storage::Request request,
                              storage::Method method, SwarmAnswer done, int attempts,
                              std::optional<NodeId> avoid) {
  if (stopped) return;
  if (!directory) return done(fail(std::string("no directory yet")));
  if (attempts <= 0) return done(fail(std::string("no answer from the swarm")));
  auto swarm = directory->swarm_for(owner);
  if (!swarm) return done(fail(std::string("empty directory")));
  auto path = paths.path_to_swarm(*swarm, now_ms(), avoid);
  if (!path && avoid) path = paths.path_to_swarm(*swarm, now_ms());
  if (!path) return done(fail(std::string("no path to the swarm")));
  const Path p = *path;
  send_request(p, request, [this, owner, request, method, done = std::move(done), attempts,
                            p](Result<std::vector<std::uint8_t>, RequestFailure> r) mutable {
    auto again = [&] { swarm_call(owner, std::move(request), method, std::move(done), attempts - 1, p.destination); };
    if (!r) {
      paths.report_path_failure(p, r.error(), now_ms());
      return again();
    }
    paths.report_path_success(p, now_ms());
    auto resp = storage::decode_response(method, *r);
    if (!resp) return again();
    if (resp->status == storage::Status::wrong_swarm) {
      return refresh_directory([this, owner, request = std::move(request), method,
                                done = std::move(done), attempts](bool) mutable {
        swarm_call(owner, std::move(request), method, std::move(done), attempts - 1);
      });
    }
    if (retryable(resp->status)) return again();
    done(std::move(*resp));
  });
}

// --- Client ------------------------------------------------------------------------------

void Client::publish_prekeys(std::function<void(Result<void, std::string>)> done) {
  Impl& m = *impl_;
  m.jobs.call_later(std::chrono::milliseconds(0), [&m, done = std::move(done)]() mutable {
    if (m.publishing) return done(fail(std::string("a publish is in progress")));
    m.publish_bundle(std::move(done));
  });
}

void Client::lookup_prekeys(const AccountKey& account, BundleHandler done) {
  Impl& m = *impl_;
  m.jobs.call_later(std::chrono::milliseconds(0), [&m, account, done = std::move(done)]() mutable {
    m.lookup_bundle(account, std::move(done));
  });
}

void Client::Impl::lookup_bundle(const AccountKey& account, BundleHandler done) {
  Impl& m = *this;
  {
    m.swarm_call(
        account, storage::LookupRequest{account, bundle_type}, storage::Method::lookup,
        [&m, account, done = std::move(done)](Result<storage::Response, std::string> r) {
          using Out = Result<std::optional<PrekeyBundle>, std::string>;
          if (!r) return done(Out(r.failure()));
          if (r->status == storage::Status::not_found) return done(Out(std::optional<PrekeyBundle>{}));
          if (r->status != storage::Status::ok)
            return done(Out(fail(std::string(storage::to_string(r->status)))));
          // The node is not trusted: the owner's signatures are checked here.
          auto record = decode_record(std::get<storage::LookupResult>(r->body).record);
          if (!record || !(record->owner == account) || record->type != bundle_type ||
              !verify_record(*record))
            return done(Out(fail(std::string("the swarm answered with a record the account did not sign"))));
          if (record->expires_ms <= m.now_ms())
            return done(Out(std::optional<PrekeyBundle>{}));  // as good as none
          auto bundle = decode_bundle(record->payload);
          if (!bundle || !(bundle->account == account) || !verify(*bundle))
            return done(Out(fail(std::string("the account's prekey bundle does not verify"))));
          done(Out(std::optional<PrekeyBundle>{std::move(*bundle)}));
        },
        record_attempts);
  }
}

const Prekeys& Client::prekeys() const { return impl_->prekeys; }

}  // namespace nightjar::client
