import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Code } from './codes.ts';
import { internalsOf, type Engine } from '../engine.ts';
import { partitionOf } from './partition.ts';
import { decodeRecord, type HoldRecord, type Line } from './records.ts';
import { expandIncludes } from './script-loader.ts';
import { advanceClock, skusInOnePartition, stockOf, testEngine } from '../../test/support/engine.ts';

// Hold records: the TypeScript and the Lua decoder read every golden sample
// (test/fixtures/records.json) as expected, and records written before
// versions (v1) are still acted on by the scripts.
interface Sample {
  name: string;
  raw: string;
  decoded: Omit<HoldRecord, 'lines'> & { lines: (Line & { counted: boolean })[] };
}
const golden = JSON.parse(readFileSync(new URL('../../test/fixtures/records.json', import.meta.url), 'utf8')) as { records: Sample[] };
const SEP = '\x1f';

let engine: Engine;
let close: () => Promise<void>;
let n = 0;

beforeAll(() => ({ engine, close } = testEngine()));
afterAll(() => close());

/** Lua's decoding of a record: its fields (JSON), its flat line list, and the record encoded again. */
const luaDecode = `${expandIncludes('--- @include "record"')}
local rec = decodeRecord(ARGV[1])
local fields = { status = rec.status, created = rec.created, expires = rec.expires, home = rec.home, parts = rec.parts,
  ended = rec.ended, order = rec.order, note = rec.note, user = rec.user }
return { cjson.encode(fields), rec.lines, encodeRecord(rec) }`;

async function decodeInLua(raw: string): Promise<{ fields: Record<string, unknown>; lines: unknown[]; encoded: string }> {
  const [fields, lines, encoded] = (await internalsOf(engine).ctx.redis.eval(luaDecode, 0, raw)) as [string, unknown[], string];
  return { fields: JSON.parse(fields), lines, encoded };
}

/** The note as Lua keeps it: one slot, the recorded outcome or a word. */
const noteSlot = (d: Sample['decoded']) => d.note ?? (d.unfinished ? 'unfinished' : d.reason);

describe('the golden hold record samples (test/fixtures/records.json)', () => {
  it.each(golden.records)('$name: TypeScript reads what is expected', ({ raw, decoded }) => {
    expect(decodeRecord(raw)).toEqual({ ...decoded, lines: decoded.lines.map(({ counted: _, ...line }) => line) });
  });

  it.each(golden.records)('$name: Lua reads what is expected, and writes it again as version 2', async ({ name, raw, decoded: d }) => {
    const lua = await decodeInLua(raw);
    expect(lua.fields).toEqual({ status: d.status, created: d.createdAtMs, expires: d.expiresAtMs, home: d.home, parts: d.parts.join(','),
      ended: d.endedAtMs, order: d.orderId, note: noteSlot(d), user: d.userId });
    expect(lua.lines).toEqual(d.lines.flatMap((l) => [l.sku, l.qty, l.priceCents, l.counted ? 1 : 0]));
    const v2 = golden.records.find((s) => s.name === name.replace(/ v1$/, ' v2'))!;
    expect(lua.encoded).toBe(v2.raw);
  });

  it('hold both versions of every case', () => {
    const names = golden.records.map((s) => s.name);
    for (const name of names) expect(names).toContain(name.replace(/ v[12]$/, (v) => (v === ' v1' ? ' v2' : ' v1')));
    expect(names.filter((s) => s.endsWith(' v1')).length).toBeGreaterThanOrEqual(19);
  });

  it('a record of an unknown version is refused by both, not misread', async () => {
    for (const raw of [`3${SEP}held${SEP}1`, `Held${SEP}1`, '']) {
      expect(() => decodeRecord(raw)).toThrow(expect.objectContaining({ code: 'ASSERTION' }));
      await expect(internalsOf(engine).ctx.redis.eval(luaDecode, 0, raw)).rejects.toThrow(/unknown version/);
    }
  });
});

/** A record as version 1 wrote it (the test's own copy of the old layout, checked against a golden sample below). */
function v1Record(r: { status: string; created: number; expires: number; home?: string; parts?: string; ended?: number; order?: string;
  note?: string; lines: [string, number, number, number][]; user: string }): string {
  return [r.status, r.created, r.expires, r.home ?? '', r.parts ?? '', r.ended ?? 0, r.order ?? '', r.note ?? '', r.lines.length,
    ...r.lines.flat(), r.user].join(SEP);
}

describe('records written before versions (v1) are acted on by the scripts', () => {
  const keysOf = (sku: string) => internalsOf(engine).ctx.keys.partition(partitionOf(sku, engine.settings.partitions));

  it('v1Record writes the golden version 1 layout', () => {
    const { raw, decoded: d } = golden.records.find((s) => s.name === 'aborted cart part, refused v1')!;
    expect(v1Record({ status: d.status, created: d.createdAtMs, expires: d.expiresAtMs, home: d.home, ended: d.endedAtMs,
      note: d.note!.join(','), lines: d.lines.map((l) => [l.sku, l.qty, l.priceCents, l.counted ? 1 : 0]), user: d.userId })).toBe(raw);
  });

  /** A hold of 2 units (a per-user limited SKU: its line is counted), whose record is then put back as version 1 wrote it. */
  async function v1Hold(ttlMs?: number) {
    const [sku] = skusInOnePartition(engine, `v1h${n++}`, 1) as [string];
    await engine.createProduct({ sku, name: sku, priceCents: 250, stock: 10, perUserLimit: 5 });
    const held = await engine.reserve({ userId: 'u\x1fé', items: [{ sku, qty: 2 }], ttlMs });
    if (held.kind !== 'held') throw new Error(held.kind);
    const { id, expiresAtMs } = held.reservation;
    const k = keysOf(sku);
    const v2 = (await internalsOf(engine).ctx.redis.hget(k.holds, id))!;
    expect(v2.startsWith(`2${SEP}held${SEP}`)).toBe(true);
    const v1 = v1Record({ status: 'held', created: decodeRecord(v2).createdAtMs, expires: expiresAtMs, lines: [[sku, 2, 250, 1]], user: 'u\x1fé' });
    await internalsOf(engine).ctx.redis.hset(k.holds, id, v1);
    expect(await engine.getReservation(id)).toEqual(held.reservation);
    return { sku, id, k };
  }

  const userUnits = (sku: string) => internalsOf(engine).ctx.redis.hget(keysOf(sku).users, `${sku}:u\x1fé`);

  it('a v1 held hold is paid for and committed; its order event has its lines; its record is rewritten as version 2', async () => {
    const { sku, id, k } = await v1Hold();
    expect(await engine.beginPayment(id)).toMatchObject({ kind: 'paying', totalCents: 500 });
    // A hold made before ids were random gets a random order id too.
    expect(await engine.commit(id, { amountCents: 500, reference: 'ch_v1' })).toEqual({ kind: 'confirmed', orderId: expect.stringMatching(/^o[a-z2-7]{24}$/) });
    expect(await stockOf(engine, sku)).toEqual({ total: 10, available: 8, reserved: 0, sold: 2 });
    expect(await userUnits(sku)).toBe('2');
    expect((await internalsOf(engine).ctx.redis.hget(k.holds, id))!.startsWith(`2${SEP}confirmed${SEP}`)).toBe(true);
    expect((await engine.getReservation(id))?.status).toBe('confirmed');
    const events = await engine.outbox.read(partitionOf(sku, engine.settings.partitions), 100);
    expect(events.at(-1)?.event).toMatchObject({ t: 'order', id, user: 'u\x1fé', parts: [], lines: [{ sku, qty: 2, priceCents: 250 }], amount: 500 });
  });

  it('a v1 held hold is released: its units and the user\'s allowance come back', async () => {
    const { sku, id } = await v1Hold();
    expect(await engine.release(id)).toEqual({ kind: 'released' });
    expect(await stockOf(engine, sku)).toEqual({ total: 10, available: 10, reserved: 0, sold: 0 });
    expect(await userUnits(sku)).toBeNull();
    expect((await engine.getReservation(id))?.status).toBe('released');
  });

  it('a v1 held hold past its deadline is expired by the sweep', async () => {
    const { sku, id, k } = await v1Hold(1_000);
    await advanceClock(engine, 1_000);
    await engine.sweepOnce();
    expect(await stockOf(engine, sku)).toEqual({ total: 10, available: 10, reserved: 0, sold: 0 });
    expect(await userUnits(sku)).toBeNull();
    expect(decodeRecord((await internalsOf(engine).ctx.redis.hget(k.holds, id))!).status).toBe('expired');
  });

  it('a v1 pending cart home is activated', async () => {
    const [sku] = skusInOnePartition(engine, `v1p${n++}`, 1) as [string];
    const p = partitionOf(sku, engine.settings.partitions);
    const id = `${p}.v1pendingcart${n}`;
    const far = Date.now() + 3_600_000;
    await internalsOf(engine).ctx.redis.hset(keysOf(sku).holds, id, v1Record({ status: 'pending', created: Date.now(), expires: far, parts: `${p},${p + 1}`,
      lines: [[sku, 1, 100, 0]], user: 'u' }));
    expect(await internalsOf(engine).holds.activateCart(id, p)).toBe(true);
    expect(decodeRecord((await internalsOf(engine).ctx.redis.hget(keysOf(sku).holds, id))!)).toMatchObject({ status: 'held', parts: [p, p + 1], expiresAtMs: far });
  });

  it('a resent reserve of an id with a v1 recorded rejection answers that rejection', async () => {
    const [sku] = skusInOnePartition(engine, `v1r${n++}`, 1) as [string];
    await engine.createProduct({ sku, name: sku, priceCents: 5, stock: 10 });
    const k = keysOf(sku);
    const id = `${partitionOf(sku, engine.settings.partitions)}.v1rejected0${n}`;
    await internalsOf(engine).ctx.redis.hset(k.holds, id, v1Record({ status: 'rejected', created: Date.now(), expires: 0, ended: Date.now(),
      note: `${Code.OUT_OF_STOCK},${sku},3`, lines: [[sku, 4, 0, 0]], user: 'u' }));
    const reply = await internalsOf(engine).ctx.scripts.reserveHolds(k.skus, k.holds, k.due, k.dueHolds, k.users, k.gc, k.meta, k.outbox,
      4, 64, 60_000, 1, 1e6, id, 'u', 60_000, 'h1', '', 1, sku, 4);
    expect(reply).toEqual([4, Code.DUPLICATE, Code.OUT_OF_STOCK, sku, 3]);
    expect((await stockOf(engine, sku)).reserved).toBe(0);
  });

  it('abandoning a v1 aborted record tells a recorded refusal from a plain give-back', async () => {
    const [sku] = skusInOnePartition(engine, `v1a${n++}`, 1) as [string];
    const k = keysOf(sku);
    const p = partitionOf(sku, engine.settings.partitions);
    const abandon = (id: string) => internalsOf(engine).ctx.scripts.releaseHold(k.skus, k.holds, k.paying, k.users, k.gc, k.meta, k.voided,
      id, 'abandon', 0, '', 0, 60_000, 60_000);
    const aborted = (id: string, note: string) => internalsOf(engine).ctx.redis.hset(k.holds, id, v1Record({ status: 'aborted', created: Date.now(),
      expires: Date.now(), ended: Date.now(), parts: `${p},${p + 1}`, note, lines: [], user: '' }));
    await aborted(`${p}.v1refused00000${n}`, `${Code.OUT_OF_STOCK},${sku},0`);
    await aborted(`${p}.v1abandoned000${n}`, '0,,0');
    expect(await abandon(`${p}.v1refused00000${n}`)).toEqual([1, `${p},${p + 1}`, 'refused']);
    expect(await abandon(`${p}.v1abandoned000${n}`)).toEqual([1, `${p},${p + 1}`]);
  });
});
