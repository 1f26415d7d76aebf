import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { emptyRecord, Engine, partitionOf, type ReserveOutcome } from '../index.ts';
import { conserved, stockOf, testEngine } from '../../test/support/engine.ts';
import { waitFor } from '../../test/support/api.ts';
import { SoldOutFlags } from './sold-out.ts';

/**
 * The holes an audit of the sold-out short-circuit (#14) found, one test each:
 * the publish that aborts the scripts giving units back, flags outliving their
 * bound, a process's own release not seen at once, and a subscription that
 * keeps a closed engine's process alive.
 */
describe('SoldOutFlags, audited', () => {
  it('a token taken before the freed counts started again (the map at flagsMax) flags nothing', () => {
    const flags = new SoldOutFlags({ ttlMs: 100, flagsMax: 2 });
    const before = flags.epoch('A');
    for (const sku of ['A', 'B', 'C']) flags.freed(sku); // C empties the counts: A's count starts again
    expect(flags.epoch('A').freed).toBe(before.freed);
    flags.flag('A', before);
    expect(flags.soldOut(['A'])).toBeNull();
  });

  it('a flag counts its TTL from when Redis was asked, not from when the reply was read', () => {
    let now = 1_000;
    const flags = new SoldOutFlags({ ttlMs: 100, flagsMax: 2, now: () => now });
    const asked = flags.epoch('A');
    now += 60;
    flags.flag('A', asked);
    now += 39;
    expect(flags.soldOut(['A'])).toBe('A');
    now += 1;
    expect(flags.soldOut(['A'])).toBeNull();
    const late = flags.epoch('B');
    now += 100;
    flags.flag('B', late);
    expect(flags.soldOut(['B'])).toBeNull();
  });
});

describe('the sold-out short-circuit, audited (real Redis)', () => {
  const open: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const close of open.splice(0).reverse()) await close();
  });
  const hex = () => randomBytes(4).toString('hex');
  const key = () => `k-${randomBytes(6).toString('hex')}`;
  const one = (userId: string, sku: string) => ({ userId, items: [{ sku, qty: 1 }], idempotencyKey: key() });

  /** A gate that holds back the replies of reserve script calls while it is shut. */
  function replyGate() {
    let shut: { open: () => void; opened: Promise<void>; held: number } | null = null;
    return {
      faults: {
        afterScript: (name: string) => {
          if (name !== 'reserveHolds' || !shut) return;
          shut.held += 1;
          return shut.opened;
        },
      },
      shut() {
        let open!: () => void;
        const opened = new Promise<void>((resolve) => { open = resolve; });
        shut = { open, opened, held: 0 };
      },
      held: () => shut?.held ?? 0,
      open() {
        shut?.open();
        shut = null;
      },
    };
  }

  // Redis 7 gives an ACL user made without channel rules none (acl-pubsub-default resetchannels), and the README tells an
  // operator with an external Redis to give Stockade a user like the embedded one's (`+@all -@dangerous +info`). A PUBLISH it
  // may not run fails the script after it has moved units: a release that errors half done, retried, gives the units twice.
  it('a Redis user without channel permissions: a release (and its retry) gives the units back once', async () => {
    const admin = new Redis(inject('redisAdminUrl'));
    const user = `nochan-${hex()}`;
    const password = randomBytes(12).toString('hex');
    await admin.call('ACL', 'SETUSER', user, 'on', `>${password}`, '~*', 'resetchannels', '+@all', '-@dangerous', '+info');
    const url = new URL(inject('redisUrl'));
    url.username = user;
    url.password = password;
    const redis = new Redis(url.toString(), { maxRetriesPerRequest: 2 });
    const engine = Engine.create(redis, { keyPrefix: `a${hex()}:`, soldOutCacheMs: 100 });
    open.push(async () => {
      await engine.close();
      await redis.quit();
      await admin.call('ACL', 'DELUSER', user);
      admin.disconnect();
    });
    await engine.useRecord(emptyRecord);
    const s = `NC-${hex()}`;
    await engine.createProduct({ sku: s, name: s, priceCents: 100, stock: 1 });
    const held = await engine.reserve(one('a', s));
    if (held.kind !== 'held') throw new Error(held.kind);
    const id = held.reservation.id;
    // The client's release, and its retry after a 5xx.
    const first = await engine.release(id).then((o) => o.kind, (e: Error) => `error: ${e.message}`);
    const retry = await engine.release(id).then((o) => o.kind, (e: Error) => `error: ${e.message}`);
    const stock = await stockOf(engine, s);
    const granted: string[] = [];
    for (const u of ['b', 'c']) granted.push((await engine.reserve(one(u, s))).kind);
    expect({ first, retry, stock, granted }).toEqual({ first: 'released', retry: 'released', stock: { total: 1, available: 1, reserved: 0, sold: 0 },
      granted: ['held', 'out_of_stock'] });
    expect(conserved(await stockOf(engine, s))).toBe(true);
  });

  // The flag lasts ttlMs from when its reply was read; the units may have come back before that, while the reply was on its way,
  // and the freed message is lost when the process is not (yet, or no longer) subscribed: its first flag, a reconnect.
  it('a flag never outlives STOCKADE_SOLD_OUT_CACHE_MS after units came back, though its reply came late and the message was lost', async () => {
    const gate = replyGate();
    const ttlMs = 100;
    const a = testEngine({ soldOutCacheMs: ttlMs }, gate.faults);
    open.push(a.close);
    const s = `LT-${hex()}`;
    await a.engine.createProduct({ sku: s, name: s, priceCents: 100, stock: 1 });
    expect((await a.engine.reserve(one('a', s))).kind).toBe('held');
    // A refusal read late: the script ran (0 available), its reply is held back.
    gate.shut();
    const late = a.engine.reserve(one('late', s));
    await waitFor(async () => gate.held() === 1, 10_000, 'the refusal held back');
    // Another process restocks: its message reaches no one here (this process has flagged nothing yet, so it listens to nothing).
    const b = testEngine({ keyPrefix: a.engine.settings.keyPrefix, soldOutCacheMs: ttlMs });
    open.push(b.close);
    expect((await b.engine.adjustStock(s, 5)).kind).toBe('adjusted');
    const backAt = Date.now();
    await waitFor(async () => Date.now() > backAt + ttlMs, 10_000, 'the bound to pass');
    gate.open();
    expect(await late).toEqual({ kind: 'out_of_stock', sku: s, available: 0 });
    // Past the bound since the units came back: no refusal from the flag.
    expect((await a.engine.reserve(one('after', s))).kind).toBe('held');
  });

  // "A process sees its own restocks, releases and expiries at once" (README): its release clears every flag, but a refusal
  // read from Redis before the release and whose reply comes after it flags the SKU again, for the whole TTL.
  it('a process sees its own release at once, also when a refusal read before it comes back after it', async () => {
    const gate = replyGate();
    const t = testEngine({ soldOutCacheMs: 60_000 }, gate.faults); // only the release may end a flag within the test
    open.push(t.close);
    const s = `OR-${hex()}`;
    await t.engine.createProduct({ sku: s, name: s, priceCents: 100, stock: 1 });
    const held = await t.engine.reserve(one('a', s));
    if (held.kind !== 'held') throw new Error(held.kind);
    gate.shut();
    const late = t.engine.reserve(one('late', s));
    await waitFor(async () => gate.held() === 1, 10_000, 'the refusal held back');
    expect((await t.engine.release(held.reservation.id)).kind).toBe('released');
    gate.open();
    expect(await late).toEqual({ kind: 'out_of_stock', sku: s, available: 0 });
    expect((await t.engine.reserve(one('after', s))).kind).toBe('held');
  });

  // A fenced partition grants nothing and answers 503 fenced (DESIGN.md §3); from the flag it answered 409 and claimed the key for
  // that refusal, so the key's replay answers 409 for its whole retention, also once the partition is repaired.
  it('a flagged SKU of a partition this process knows fenced is answered 503 fenced, and its key is not claimed', async () => {
    const t = testEngine({ soldOutCacheMs: 60_000 });
    open.push(t.close);
    const s = `FE-${hex()}`;
    await t.engine.createProduct({ sku: s, name: s, priceCents: 100, stock: 1 });
    expect((await t.engine.reserve(one('a', s))).kind).toBe('held');
    expect((await t.engine.reserve(one('b', s))).kind).toBe('out_of_stock'); // flagged
    await t.engine.fence(partitionOf(s, t.engine.settings.partitions), 'audit');
    const req = one('c', s);
    const out = await t.engine.reserve(req).then((o) => o.kind, (e: { code?: string }) => e.code);
    expect({ out, claimed: await t.engine.isReplay(req) }).toEqual({ out: 'FENCED', claimed: false });
  });

  // runtime.close() closes the engine, then quits Redis: a reserve still in flight then (a stampede at shutdown) that reads a
  // sold-out reply starts the subscription anew, on a connection of its own that nothing closes: the process never exits.
  it('a process whose engine was closed with a refusal in flight exits', async () => {
    const fixture = fileURLToPath(new URL('./sold-out-close.fixture.ts', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', fixture, inject('redisUrl'), `c${hex()}:`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { out += d.toString(); });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const code = await Promise.race([exited, new Promise<'running'>((resolve) => setTimeout(() => resolve('running'), 20_000).unref())]);
      expect({ code, out: out.trim() }).toEqual({ code: 0, out: JSON.stringify({ kind: 'out_of_stock', available: 0 } satisfies Partial<ReserveOutcome>) });
    } finally {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
    }
  });
});
