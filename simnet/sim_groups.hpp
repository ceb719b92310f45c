// SimGroups: the simnet's closed-group workload (Scenario::groups,
// docs/SIMNET.md "Closed groups"), carried out through the SimClients'
// real client::Client objects:
//
//   set-up     each group's admin creates it and adds the other members
//              (commits of at most 64 changes) once every member has
//              published its prekey bundle; a group is ready when every
//              member holds the same epoch and every other member's
//              current sender key
//   workload   the planned group messages (plan_group_messages), each
//              Client::send_group; every other member's reception is timed
//   removal    after the drain, each ready group's admin removes its planned
//              member; the removal is done when every remaining member holds
//              every other remaining member's *new* sender key. Then each
//              admin sends one message: the remaining members must receive
//              it, the removed member must not open it
//
// The runner drives the phases from its tick; nothing here blocks. Times are
// milliseconds on the runner's workload clock.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "simnet/report.hpp"
#include "simnet/sim_clients.hpp"
#include "simnet/workload.hpp"

namespace nightjar::simnet {

class SimGroups {
 public:
  // `now_ms`: the runner's clock (milliseconds, monotonic).
  SimGroups(const Scenario& s, SimClients& clients, std::vector<PlannedGroup> groups,
            std::vector<PlannedGroupMessage> messages, std::function<double()> now_ms);

  // --- Set-up. start_setup once the clients are ready; then setup_step on
  // every tick until it returns true (every group ready, or the bound
  // groups.setup_timeout_s passed: the groups not ready send nothing).
  void start_setup();
  bool setup_step();
  std::string setup_status() const;

  // --- Workload.
  void send_due(double workload_s);
  void received(std::size_t client, const client::GroupKey& group,
                std::optional<std::uint64_t> index, const AccountKey& sender);
  // Sends without an answer, and receptions owed by acknowledged messages.
  std::size_t outstanding() const;

  // --- Removals, after the drain: start_removals, then removal_step on
  // every tick until it returns true.
  void start_removals();
  bool removal_step();
  std::string removal_status() const;

  GroupReport report() const;
  std::vector<std::string> notes() const;

 private:
  struct Record {
    PlannedGroupMessage plan;
    std::optional<double> sent_ms, acked_ms, failed_ms;
    std::vector<std::optional<double>> received;  // per member position
    std::size_t receptions = 0;                   // distinct members, sender excluded
    bool probe = false;                           // sent after the removal
  };
  struct Run {
    PlannedGroup plan;
    std::optional<client::GroupKey> key;
    enum class Step { bundles, creating, adding, keying, ready, failed } step = Step::bundles;
    std::size_t added = 0;  // members added by finished commits
    bool busy = false;      // a create or change is under way
    std::optional<double> ready_ms;
    // The removal.
    std::vector<std::size_t> remaining;  // members after the removal
    std::vector<std::uint32_t> generation_before;
    bool removal_started = false;
    std::optional<double> removal_start_ms, converged_ms;
    std::optional<std::uint64_t> probe;  // its record index
  };

  std::optional<std::size_t> position(const Run& r, std::size_t client) const;
  // Every one of `members` holds the admin's epoch with exactly `members`
  // listed, and every other member's current sender key (and, with
  // `before`, a newer generation of its own than that).
  bool keyed(const Run& r, const std::vector<std::size_t>& members,
             const std::vector<std::uint32_t>* before) const;
  void step_setup(std::size_t g);
  void send(std::size_t record);
  void send_probes();
  std::uint64_t controls_sent() const;
  std::size_t owed(const Record& r) const;  // receptions an acked record still owes

  const Scenario& s_;
  SimClients& clients_;
  std::vector<Run> runs_;
  std::vector<Record> records_;
  std::size_t planned_ = 0;  // records_[0, planned_) are the workload's
  std::function<double()> now_ms_;
  double check_every_ms_;
  std::size_t next_ = 0;
  std::size_t unanswered_ = 0;
  std::size_t owed_ = 0;  // receptions owed by acknowledged workload messages
  std::uint64_t duplicates_ = 0, removed_opened_ = 0, stray_ = 0;
  double setup_start_ms_ = 0, setup_end_ms_ = 0;
  double last_check_ms_ = -1e9;
  std::uint64_t setup_messages_ = 0, controls_at_setup_ = 0, controls_at_removal_ = 0, removal_messages_ = 0;
  double removal_start_ms_ = 0, cpu_at_removal_ = 0, removal_cpu_s_ = 0;
  std::optional<double> probes_start_ms_;
  bool removal_done_ = false;
  std::vector<std::string> notes_;
};

}  // namespace nightjar::simnet
