import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultConnectionsMax, descriptorLimit } from './connections.ts';

const root = join(import.meta.dirname, '..');

describe('the connection cap', () => {
  it('defaults to the soft descriptor limit less a tenth (at least 256, at most half) for Redis, PostgreSQL and files', () => {
    expect(defaultConnectionsMax({ soft: 20_000, hard: 20_000 })).toBe(18_000);
    expect(defaultConnectionsMax({ soft: 1_024, hard: 4_096 })).toBe(768);
    expect(defaultConnectionsMax({ soft: 256, hard: 256 })).toBe(128);
    expect(defaultConnectionsMax({ soft: 1_048_576, hard: 1_048_576 })).toBe(943_718);
    expect(defaultConnectionsMax(null)).toBe(768); // no /proc: a soft limit of 1,024 assumed
  });

  it.runIf(descriptorLimit() !== null)('a start raises a soft descriptor limit below the hard one (prlimit), and says so', () => {
    const hard = descriptorLimit()!.hard;
    const soft = Math.min(1_024, hard);
    // Node itself raises the soft limit to the hard one as it starts (src/node.cc), so the child lowers its
    // own first, as a runtime whose raise failed or a later setrlimit would leave it.
    const code = `
      const { execFileSync } = await import('node:child_process');
      execFileSync('prlimit', ['--pid', String(process.pid), '--nofile=${soft}:${hard}']);
      const { raiseDescriptorLimit, descriptorLimit } = await import('./api/connections.ts');
      const before = descriptorLimit();
      const lines = [];
      const log = { info: (o, m) => lines.push({ o, m }), warn: (o, m) => lines.push({ o, m, warn: true }) };
      raiseDescriptorLimit(log);
      console.log(JSON.stringify({ before, now: descriptorLimit(), lines }));`;
    const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { cwd: root, encoding: 'utf8' });
    const { before, now, lines } = JSON.parse(out.trim().split('\n').at(-1)!);
    expect(before).toEqual({ soft, hard });
    expect(now).toEqual({ soft: hard, hard });
    expect(lines).toEqual([{ m: 'descriptor limit and connection cap (per API process)',
      o: { descriptors: { from: soft, to: hard, hard }, connectionsMax: defaultConnectionsMax({ soft: hard, hard }) } }]);
  });
});
