import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Code, statusCodes } from '../codes.ts';
import { scriptSpecs } from './index.ts';

// Each lua/<name>-<keys>.lua has one TypeScript module (engine/redis/scripts/<name>.ts)
// that decodes its replies. These checks hold the three together: the codes a
// script's body returns are listed in its header; the header's codes are the
// module's; the module decodes each of them and refuses any other.
const luaDir = fileURLToPath(new URL('../../../lua/', import.meta.url));
/** A stored hold record (beginPayment answers one), from the golden samples. */
const goldenRecord = (JSON.parse(readFileSync(new URL('../../../test/fixtures/records.json', import.meta.url), 'utf8')) as
  { records: { raw: string }[] }).records[0]!.raw;
const statusPhrase = /status codes? of includes\/status\.lua/;
const named: Record<string, number> = {
  NOT_FOUND: Code.NOT_FOUND, EXPIRED: Code.EXPIRED, RELEASED: Code.RELEASED, CONFIRMED: Code.CONFIRMED,
  PENDING: Code.PENDING, PAYING: Code.PAYING, HELD: Code.HELD, OVERDUE: Code.OVERDUE, FENCED: Code.FENCED,
};

const scripts = readdirSync(luaDir).filter((f) => /^[a-zA-Z]+-\d+\.lua$/.test(f)).map((file) => {
  const source = readFileSync(luaDir + file, 'utf8');
  const end = source.indexOf('\n]]');
  return { name: file.replace(/-\d+\.lua$/, ''), header: source.slice(0, end), body: source.slice(end + 3) };
});

/** The codes a header's Returns section lists: `{ code, ... }` and lines that begin with a code. */
function headerCodes(header: string): Set<number> {
  const at = header.search(/^\s*Returns\b/m);
  if (at < 0) return new Set();
  const returns = header.slice(at).replace(/^\s*Returns\b[^\n]*\n?/, '');
  const codes = new Set<number>();
  for (const line of returns.split('\n')) {
    const lead = /^\s*(-?\d+)[,\s]/.exec(line);
    if (lead) codes.add(Number(lead[1]));
    for (const [, code] of line.matchAll(/\{\s*(-?\d+)\b/g)) codes.add(Number(code));
  }
  if (statusPhrase.test(returns)) for (const code of statusCodes) codes.add(code);
  return codes;
}

/** The codes a script's own body returns in plain sight (literals and named status codes, and statusReply's). */
function bodyCodes(body: string): Set<number> {
  const codes = new Set<number>();
  const patterns = [/\breturn\s*\{\s*(-?\d+)\b/g, /\breturn\s+(-?\d+)\b/g, /\breply\(\s*(-?\d+)\b/g,
    /\brecordOp\([^{]*\{\s*(-?\d+)\b/g, /\]\s*=\s*(-?\d+),/g];
  for (const pattern of patterns) for (const [, code] of body.matchAll(pattern)) codes.add(Number(code));
  for (const [, name] of body.matchAll(/\breturn\s*\{\s*([A-Z_]+)\b/g)) codes.add(named[name!]!);
  if (/\bstatusReply\(/.test(body)) for (const code of statusCodes) codes.add(code);
  return codes;
}

/** A reply of the script's shape carrying `code`. */
function sample(name: string, code: number): unknown {
  if (name === 'reserveHolds') return code === Code.DUPLICATE ? [4, code, Code.OK, 1_000, 0] : [3, code, 'SKU-1', 1];
  if (name === 'forgetClaim') return code;
  if (name === 'beginPayment') return [code, 1, 1, '', goldenRecord];
  return [code, 'x', 1, ''];
}

const sorted = (codes: Iterable<number>) => [...codes].sort((a, b) => a - b);

describe('script modules', () => {
  it('every script has its module, and every module its script', () => {
    expect(sorted([]).length).toBe(0);
    expect(scriptSpecs.map((s) => s.name).sort()).toEqual(scripts.map((s) => s.name).sort());
  });

  for (const script of scripts) {
    const spec = scriptSpecs.find((s) => s.name === script.name);
    describe(script.name, () => {
      it('its header lists the codes its module declares', () => {
        expect(sorted(headerCodes(script.header))).toEqual(sorted(new Set(spec!.codes)));
      });

      it('every code its body returns is in its header', () => {
        if (spec!.codes.length === 0) return; // it returns values, not codes (its header says which)
        const listed = headerCodes(script.header);
        expect(sorted([...bodyCodes(script.body)].filter((c) => !listed.has(c)))).toEqual([]);
      });

      it('its module decodes every code it declares and refuses any other', () => {
        for (const code of spec!.codes) expect(() => spec!.decode(sample(script.name, code)), `code ${code}`).not.toThrow();
        if (spec!.codes.length > 0) expect(() => spec!.decode(sample(script.name, 99))).toThrow(expect.objectContaining({ code: 'UNKNOWN_REPLY' }));
      });
    });
  }
});
