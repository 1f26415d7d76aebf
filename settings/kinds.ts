import { isIP } from 'node:net';

/**
 * A kind of setting: how its text becomes a value. `parse` answers undefined
 * for text that is not allowed; `allowed` says in words what is, for errors,
 * `stockade config` and the README.
 */
export interface Kind<T> {
  readonly name: 'int' | 'number' | 'enum' | 'string' | 'url' | 'path' | 'host' | 'secret';
  readonly allowed: string;
  parse(raw: string): T | undefined;
  /** The value as it may be shown (a secret, or a URL's password, masked). */
  show(value: T): string;
}

export const masked = '****';

const plain = (value: unknown) => String(value);

/** An integer in [min, max]. */
export function int(min: number, max?: number): Kind<number> {
  return {
    name: 'int',
    allowed: max === undefined ? `an integer >= ${min}` : `an integer in [${min}, ${max}]`,
    parse: (raw) => {
      const value = Number(raw);
      return Number.isSafeInteger(value) && value >= min && (max === undefined || value <= max) ? value : undefined;
    },
    show: plain,
  };
}

/** 0, or an integer in [min, max] (a count where 0 means none of it). */
export function zeroOr(min: number, max: number): Kind<number> {
  const inRange = int(min, max);
  return {
    name: 'int',
    allowed: `0, or an integer in [${min}, ${max}]`,
    parse: (raw) => (raw === '0' ? 0 : inRange.parse(raw)),
    show: plain,
  };
}

/** A number (fractions allowed) in [min, max]. */
export function number(min: number, max: number): Kind<number> {
  return {
    name: 'number',
    allowed: `a number in [${min}, ${max}]`,
    parse: (raw) => {
      const value = Number(raw);
      return value >= min && value <= max ? value : undefined;
    },
    show: plain,
  };
}

/** One of a few words. */
export function oneOf<const T extends string>(values: readonly T[]): Kind<T> {
  return {
    name: 'enum',
    allowed: `one of ${values.join(', ')}`,
    parse: (raw) => values.find((v) => v === raw),
    show: plain,
  };
}

/**
 * Crash points and their probabilities, `point:p,point:p` with p in (0, 1]: the fault harness's
 * test-only hook (common/crash-points.ts). Empty: none.
 */
export function crashPoints<const P extends string>(points: readonly P[]): Kind<ReadonlyMap<P, number>> {
  return {
    name: 'string',
    allowed: `comma separated point:probability pairs (points: ${points.join(', ')}; probability in (0, 1])`,
    parse: (raw) => {
      const table = new Map<P, number>();
      for (const pair of raw.split(',').map((x) => x.trim()).filter(Boolean)) {
        const [name, p] = pair.split(':');
        const point = points.find((x) => x === name);
        const probability = Number(p);
        if (!point || !(probability > 0 && probability <= 1)) return undefined;
        table.set(point, probability);
      }
      return table;
    },
    show: (table) => [...table].map(([point, p]) => `${point}:${p}`).join(','),
  };
}

/** Any text. */
export const text: Kind<string> = { name: 'string', allowed: 'any text', parse: (raw) => raw, show: plain };

/** A file system path (relative ones are taken from the working directory). */
export const path: Kind<string> = { name: 'path', allowed: 'a file system path', parse: (raw) => raw, show: plain };

/** An address to listen on: what uWebSockets.js binds without a name lookup, or localhost. */
export const host: Kind<string> = {
  name: 'host',
  allowed: 'an IPv4 or IPv6 address, or localhost',
  parse: (raw) => (isIP(raw) !== 0 || raw === 'localhost' ? raw : undefined),
  show: plain,
};

/** Whether a listen address reaches this machine alone: localhost, 127.0.0.0/8, ::1 (also IPv4-mapped). */
export function isLoopback(address: string): boolean {
  const a = address.toLowerCase().replace(/^::ffff:/, '');
  return a === 'localhost' || a === '::1' || (isIP(a) === 4 && a.startsWith('127.'));
}

/** Hides the password of a URL (or of text that looks like one), keeping the rest readable. */
export function maskPassword(raw: string): string {
  return raw.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@]*:)[^@]*@/i, `$1${masked}@`);
}

/** Hides the password of every URL inside text (a log line, an error message). */
export function maskPasswords(text: string): string {
  return text.replace(/\b([a-z][a-z0-9+.-]*:\/\/[^\s:/@]*:)[^@\s/]*@/gi, `$1${masked}@`);
}

/** A URL of one of the given schemes, with a host. */
export function url(schemes: readonly string[]): Kind<string> {
  return {
    name: 'url',
    allowed: `a URL (${schemes.map((s) => `${s}//`).join(' or ')}host…)`,
    parse: (raw) => {
      if (!URL.canParse(raw)) return undefined;
      const parsed = new URL(raw);
      return schemes.includes(parsed.protocol) && parsed.hostname !== '' ? raw : undefined;
    },
    show: maskPassword,
  };
}

/**
 * A bearer token: 1..255 visible ASCII characters. Auth (api/auth.ts) trims the
 * header's token and refuses headers past 300 characters, so a token with
 * spaces at its ends, control characters or a greater length could never match.
 */
export const secret: Kind<string> = {
  name: 'secret',
  allowed: '1..255 visible ASCII characters',
  parse: (raw) => (/^[\x21-\x7e]{1,255}$/.test(raw) ? raw : undefined),
  show: () => masked,
};
