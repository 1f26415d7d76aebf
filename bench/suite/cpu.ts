import { readFileSync } from 'node:fs';

/**
 * What the machine and this process spent, to split a run's CPU between the
 * server (everything but the load generator: API, Redis, PostgreSQL, workers)
 * and the generator (this process). /proc/stat's first line sums every core in
 * clock ticks (USER_HZ, 100 per second on Linux); busy is user + nice + system
 * + irq + softirq: idle, iowait and steal (another guest's time) are not ours,
 * and guest time is already inside user.
 */
export interface CpuMark {
  machineBusySec: number;
  selfSec: number;
}

const ticksPerSec = 100;

export function machineBusySec(stat = readFileSync('/proc/stat', 'utf8')): number {
  const fields = stat.slice(0, stat.indexOf('\n')).trim().split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0] = fields;
  return (user + nice + system + irq + softirq) / ticksPerSec;
}

export function cpuMark(): CpuMark {
  const self = process.cpuUsage();
  return { machineBusySec: machineBusySec(), selfSec: (self.user + self.system) / 1e6 };
}

/** The CPU between two marks: the server's (the machine's busy time minus this process's) and the generator's, seconds. */
export function cpuSpent(before: CpuMark, after: CpuMark): { serverSec: number; generatorSec: number } {
  const generatorSec = after.selfSec - before.selfSec;
  return { serverSec: Math.max(0, after.machineBusySec - before.machineBusySec - generatorSec), generatorSec };
}
