// The report's files: per-message and per-node CSV logs (--csv DIR) and
// plots drawn by gnuplot (--plot DIR) when it is installed. gnuplot is never
// a build dependency: write_plots checks for it at run time and, without it,
// returns a note saying what was skipped.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "routing/result.hpp"
#include "simnet/report.hpp"

namespace nightjar::simnet {

// messages.csv (one row per planned message) and nodes.csv. Client names are
// "client<i>" (i from 0), node names those of the report.
Result<void, std::string> write_csv(const std::filesystem::path& dir,
                                    const std::vector<MessageRecord>& records,
                                    const Report& report);

// latency_cdf.svg (stored and received latency CDFs) and node_load.svg (cells
// relayed and messages stored per node), with their data files and the
// gnuplot script. Returns notes for the report (what was written, or why not).
std::vector<std::string> write_plots(const std::filesystem::path& dir,
                                     const std::vector<MessageRecord>& records,
                                     const Report& report);

// The CSV field for a text: quoted when it holds a comma, quote or newline.
std::string csv_field(const std::string& text);

}  // namespace nightjar::simnet
