// run_simnet: one whole simnet run, what `nightjar-simnet run` does. It
// starts the network (SimNetwork, in the scenario's mode), waits until every
// node is listed, starts the clients (SimClients), carries out the seeded
// plan (workload.hpp: messages, offline windows, faults), then gives every
// client a drain period online, stops everything it started, and builds the
// report (report.hpp), writing the files that were asked for.
//
// Every phase is bounded in time; SIGINT ends the workload early and still
// reports. The run directory (data directories and logs) is a fresh
// temporary directory, removed at the end unless kept.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "simnet/report.hpp"
#include "simnet/scenario.hpp"

namespace nightjar::simnet {

struct RunOptions {
  Scenario scenario;
  std::filesystem::path run_dir;      // empty: a temporary directory
  bool keep_run_dir = false;          // a given run_dir is always kept
  std::filesystem::path node_binary;  // process mode
  std::optional<std::filesystem::path> json_file, csv_dir, plot_dir;
  std::string log_level = "warn";  // nodes and clients, into RUN-DIR/simnet.log (and node.log)
  bool progress = true;
};

struct RunResult {
  Report report;
  std::vector<MessageRecord> records;
};

// Errors are for the researcher (a network that never became ready, a
// binary not found, a file that cannot be written).
Result<RunResult, std::string> run_simnet(const RunOptions& options);

}  // namespace nightjar::simnet
