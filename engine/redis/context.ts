import type { Cluster, Redis } from 'ioredis';
import type { EngineSettings } from '../../settings/views.ts';
import type { Fencing } from '../fencing/fencing.ts';
import type { KeySpace } from './keys.ts';
import type { MemoryGuard } from './memory.ts';
import type { ScriptCommands } from './script-loader.ts';

/** What the engine's parts share: one Redis client, its scripts, the key space and the settings. */
export interface EngineContext {
  redis: Redis | Cluster;
  scripts: ScriptCommands;
  keys: KeySpace;
  settings: EngineSettings;
  /** How long terminal hold records are kept: longer than any idempotency claim that names them. */
  recordRetentionMs: number;
  /** Redis memory against its watermark: new holds are refused past it. */
  memory: MemoryGuard;
  /** Whether each partition may grant (DESIGN.md §3): granting script calls go through its guard. */
  fencing: Fencing;
}

export function recordRetentionMs(settings: EngineSettings): number {
  return settings.idempotencyRetentionMs + 3_600_000;
}
