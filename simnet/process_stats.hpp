// Figures of the simnet process itself, for the report: CPU time so far and
// fields of /proc/self/status.
#pragma once

namespace nightjar::simnet {

// CPU time (user + system, all threads) of this process so far, in seconds.
double process_cpu_s();
// A /proc/self/status field in kB ("VmRSS:"), in MB; 0 when unreadable.
double status_mb(const char* field);

}  // namespace nightjar::simnet
