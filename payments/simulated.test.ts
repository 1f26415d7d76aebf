import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SimulatedProvider } from './simulated.ts';

const root = mkdtempSync(join(tmpdir(), 'stockade-provider-test-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const line = { sku: 'S', qty: 1, priceCents: 100 };
const charge = (p: SimulatedProvider, id: string, token: string) => p.charge({ reservationId: id, amountCents: 100, token, lines: [line] }, 1_000);
const ids = async (iterable: AsyncIterable<{ reservationId: string }>) => {
  const out: string[] = [];
  for await (const c of iterable) out.push(c.reservationId);
  return out.sort();
};

describe('capturedSince (the captures a restarted Redis is compared with)', () => {
  it('lists the captures of the window once each, refunded or not; not declines, voids, or captures before the window', async () => {
    const dir = join(root, 'window');
    const p = await SimulatedProvider.create(dir);
    expect((await charge(p, 'r-1', 'tok_ok')).status).toBe('captured');
    expect((await charge(p, 'r-2', 'tok_declined')).status).toBe('declined');
    await p.void('r-3');
    expect((await charge(p, 'r-3', 'tok_ok')).status).toBe('voided');
    expect((await charge(p, 'r-4', 'tok_ok')).status).toBe('captured');
    await p.refund('r-4');
    expect((await charge(p, 'r-1', 'tok_ok')).status).toBe('captured'); // sent again: still one capture
    expect(await ids(p.capturedSince(Date.now() - 60_000))).toEqual(['r-1', 'r-4']);
    const refunded = new Map<string, boolean>();
    for await (const c of p.capturedSince(Date.now() - 60_000)) refunded.set(c.reservationId, c.refunded);
    expect(refunded).toEqual(new Map([['r-1', false], ['r-4', true]]));
    expect(await ids(p.capturedSince(Date.now() + 120_000))).toEqual([]);
  });

  it('a capture whose index entry a crash lost is indexed again when its charge is sent again (before it is answered)', async () => {
    const dir = join(root, 'crash');
    const p = await SimulatedProvider.create(dir);
    expect((await charge(p, 'r-9', 'tok_ok')).status).toBe('captured');
    rmSync(join(dir, 'captured'), { recursive: true });
    expect(await ids(p.capturedSince(Date.now() - 60_000))).toEqual([]);
    expect((await charge(p, 'r-9', 'tok_ok')).status).toBe('captured');
    expect(await ids(p.capturedSince(Date.now() - 60_000))).toEqual(['r-9']);
    // The index holds second names of the records (hard links), nothing else.
    const [minute] = readdirSync(join(dir, 'captured'));
    expect(readdirSync(join(dir, 'captured', minute!))).toHaveLength(1);
  });
});
