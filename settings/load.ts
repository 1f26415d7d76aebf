import { StockadeError } from '../common/errors.ts';
import { maskPassword } from './kinds.ts';
import { registry, type Group, type Role, type Setting, type Values } from './registry.ts';

export type Env = Record<string, string | undefined>;

/** A setting's text in the environment; empty counts as unset. */
function rawOf(env: Env, s: Setting): string | undefined {
  const raw = env[s.name];
  return raw === undefined || raw === '' ? undefined : raw;
}

/** Text as it may appear in a message: secrets not at all, a URL's password masked, odd characters quoted. */
function shownRaw(s: Setting, raw: string): string {
  if (s.kind.name === 'secret') return `(${raw.length} characters, not shown)`;
  const text = s.kind.name === 'url' ? maskPassword(raw) : raw;
  return /^[\x21-\x7e]+$/.test(text) ? text : JSON.stringify(text);
}

export function invalidSetting(problems: string[]): StockadeError {
  return new StockadeError('INVALID_SETTING', problems.join('; '));
}

/**
 * The values of a group of settings: the environment's where set, else the
 * defaults. Every bad value stops it, all named in one INVALID_SETTING error
 * (the variable, its value, what is allowed).
 */
export function readGroup<G extends Group>(env: Env, group: G): Values<G> {
  const values: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [key, s] of Object.entries(group)) {
    const raw = rawOf(env, s);
    const value = raw === undefined ? s.default : s.kind.parse(raw);
    if (raw !== undefined && value === undefined) problems.push(`${s.name}=${shownRaw(s, raw)} is not ${s.kind.allowed}`);
    values[key] = value;
  }
  if (problems.length > 0) throw invalidSetting(problems);
  return values as Values<G>;
}

const formatNumber = (n: number) => (Math.abs(n) >= 10_000 ? n.toLocaleString('en-US') : String(n));

/** A setting's default as the README writes it. */
export function defaultText(s: Setting): string {
  if (s.defaultDoc !== undefined) return s.defaultDoc;
  return typeof s.default === 'number' ? formatNumber(s.default) : `\`${String(s.default)}\``;
}

/** One setting as `stockade config` shows it. */
export interface EffectiveSetting {
  name: string;
  /** The value in force (a number for numeric kinds), secrets and passwords masked; null when unset (the default says what that means). */
  value: string | number | null;
  source: 'environment' | 'default';
  default: string;
  allowed: string;
  roles: Role[];
  doc: string;
}

/** The settings the given roles use, with their values in force. Check them first (views.checkSettings): this does not. */
export function effectiveSettings(env: Env, of: readonly Role[]): EffectiveSetting[] {
  return registry.filter((s) => s.roles.some((r) => of.includes(r))).map((s) => {
    const raw = rawOf(env, s);
    const value = raw === undefined ? s.default : s.kind.parse(raw);
    return {
      name: s.name,
      value: value === undefined ? null : typeof value === 'number' ? value : s.kind.show(value),
      source: raw === undefined ? 'default' : 'environment',
      default: defaultText(s),
      allowed: s.kind.allowed,
      roles: [...s.roles],
      doc: s.doc,
    };
  });
}
