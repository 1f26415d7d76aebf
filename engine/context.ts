import type { Cluster, Redis } from 'ioredis';
import type { EngineSettings } from './config.ts';
import type { KeySpace } from './keys.ts';
import type { ScriptCommands } from './scripts.ts';

/** What the engine's parts share: one Redis client, its scripts, the key space and the settings. */
export interface EngineContext {
  redis: Redis | Cluster;
  scripts: ScriptCommands;
  keys: KeySpace;
  settings: EngineSettings;
  /** How long terminal hold records are kept: longer than any idempotency claim that names them. */
  recordRetentionMs: number;
}

export function recordRetentionMs(settings: EngineSettings): number {
  return settings.idempotencyRetentionMs + 3_600_000;
}
