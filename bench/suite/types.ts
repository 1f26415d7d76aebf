/**
 * The benchmark suite's results (`npm run bench`): what the scenarios measure,
 * what the report writer (bench/report/) turns into markdown, JSON and a chart.
 * One run of every scenario, so that ratios between them hold on a noisy machine.
 */

/** The machine and the software a run measured. */
export interface Machine {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  /** e.g. "Linux 6.1.0-30-amd64 x64" */
  os: string;
  node: string;
  redis: string;
  postgres: string;
}

/** One autocannon run against the server, and what the machine spent on it. */
export interface LoadRun {
  /** The row's name in the report, e.g. "reserve-hot" or "scale: 1,000,000 active holds". */
  label: string;
  connections: number;
  /** Responses received (every status), and the measured seconds. */
  requests: number;
  seconds: number;
  requestsPerSec: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number };
  /** Responses by HTTP status, e.g. {"201": 51234}. */
  statuses: Record<string, number>;
  /** Connection errors and timeouts (autocannon's). */
  errors: number;
  timeouts: number;
  /** All busy CPU of the machine (/proc/stat, without steal) minus the load generator's own, per request, µs. */
  serverCpuUsPerRequest: number;
  /** The load generator's own CPU (this process) per request, µs. */
  generatorCpuUsPerRequest: number;
  /** Redis's CPU (INFO cpu) per request, µs; absent where Redis is not involved (ceiling). */
  redisCpuUsPerRequest?: number;
}

/** One invariant or scenario check after a scenario. */
export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

export interface ScenarioResult {
  /** ceiling | reserve-hot | sold-out-stampede | flash-sale | cart-mix | row-lock-baseline | scale */
  name: string;
  /** One line: what it does. */
  description: string;
  /** Its load runs (most scenarios one; scale several). */
  runs: LoadRun[];
  /** Figures of its own, by name, e.g. {"time to sell out (s)": 1.9}; numbers or short text. */
  figures: Record<string, number | string>;
  /** The invariants of DESIGN.md §2 and the scenario's own expectations, checked after it ran. */
  checks: Check[];
}

/** A target of the issue, from this run: pass or fail. */
export interface TargetResult {
  /** e.g. "reserve-hot server CPU per reservation" */
  name: string;
  /** e.g. "≤ 1.5 × ceiling" */
  target: string;
  /** e.g. "4.1 × (259 µs vs 63 µs)" */
  measured: string;
  pass: boolean;
}

export interface SuiteReport {
  /** ISO 8601 UTC of the start. */
  startedAt: string;
  durationSec: number;
  mode: 'quick' | 'full';
  machine: Machine;
  /** The settings that shape the figures (API processes, partitions, durations, connections…), by name. */
  settings: Record<string, number | string>;
  /** How requests are generated (and what that costs the generator). */
  generator: string;
  scenarios: ScenarioResult[];
  targets: TargetResult[];
  /** Every check of every scenario held (the run exits 1 otherwise). */
  ok: boolean;
}
