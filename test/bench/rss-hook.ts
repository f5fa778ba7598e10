// Loaded with `node --import` by the benchmark: reports the process's peak RSS and the CPU time
// it used (user + system) on exit.
import { writeSync } from 'node:fs';

process.on('exit', () => {
  const usage = process.resourceUsage();
  writeSync(2, `\nSKYREC_BENCH_MAXRSS_KB=${usage.maxRSS}\nSKYREC_BENCH_CPU_US=${usage.userCPUTime + usage.systemCPUTime}\n`);
});
