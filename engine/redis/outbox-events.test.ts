import { readFileSync } from 'node:fs';
import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { decodeEntries, requireDecoded, type RawEntry } from './outbox-events.ts';

const golden = JSON.parse(readFileSync(new URL('../../test/fixtures/outbox-events.json', import.meta.url), 'utf8')) as {
  events: { name: string; msgpack: string; decoded: object }[];
};

const packr = new Packr({ useRecords: false });
const stock = { t: 'stock', sku: 'A', delta: 2, total: 5, at: 1 };
const entry = (id: string, ...fields: (string | Buffer)[]): RawEntry => [Buffer.from(id), fields.map((f) => Buffer.from(f))];

describe('decodeEntries', () => {
  it('decodes each entry on its own: one that cannot be read does not stop the others', () => {
    const decoded = decodeEntries(3, [
      entry('1-0', 'e', packr.pack(stock)),
      entry('2-0', 'e', packr.pack({ t: 'rebate' })),
      entry('3-0', 'e', Buffer.from([0x92, 0x01])),
      entry('4-0', 'x', 'y'),
      entry('5-0', 'e', packr.pack({ ...stock, delta: 'two' })),
      entry('6-0', 'e', packr.pack([1, 2])),
      entry('7-0', 'e', packr.pack(stock)),
    ]);
    expect(decoded.map((d) => d.event ? d.event.t : d.problem)).toEqual([
      'stock',
      'has an unknown event type "rebate"',
      expect.stringMatching(/^is not msgpack/),
      'has no event',
      'has a stock event without a valid delta',
      'is not a msgpack map',
      'stock',
    ]);
    expect(decoded.map((d) => d.eventId)).toEqual(['3:1-0', '3:2-0', '3:3-0', '3:4-0', '3:5-0', '3:6-0', '3:7-0']);
  });

  it('a parked entry keeps its outbox id as its event id', () => {
    const [parked] = decodeEntries(3, [entry('9-0', 'e', packr.pack(stock), 'src', '1-0', 'reason', '23503 x')], 'parked');
    expect(parked).toMatchObject({ eventId: '3:1-0', streamId: '9-0', event: stock });
  });

  it('requireDecoded refuses a batch that holds an undecodable entry, naming it', () => {
    const decoded = decodeEntries(0, [entry('1-0', 'e', packr.pack(stock)), entry('2-0', 'e', packr.pack({ t: 'x' }))]);
    expect(() => requireDecoded(decoded)).toThrow(expect.objectContaining({ code: 'OUTBOX_UNDECODABLE', message: 'outbox entry 0:2-0 has an unknown event type "x"' }));
    expect(requireDecoded(decoded.slice(0, 1))).toHaveLength(1);
  });
});

describe('the golden outbox event samples (test/fixtures/outbox-events.json)', () => {
  it.each(golden.events)('$name decodes to its expected value', ({ msgpack, decoded }) => {
    const [one] = decodeEntries(2, [entry('1-0', 'e', Buffer.from(msgpack, 'base64'))]);
    expect(one!.event).toEqual(decoded);
  });

  it('hold every event type in versions 1, 2 and 3', () => {
    const kinds = golden.events.map(({ msgpack }) => {
      const raw = new Packr({ useRecords: false, int64AsType: 'number' }).unpack(Buffer.from(msgpack, 'base64')) as { t: string; v?: number };
      return `${raw.t} v${raw.v ?? 1}`;
    });
    for (const t of ['product', 'stock', 'order', 'refund']) expect(kinds).toEqual(expect.arrayContaining([`${t} v1`, `${t} v2`, `${t} v3`]));
  });
});

describe('versions', () => {
  const order = { t: 'order', id: 'r', order: 'or', user: 'u', home: '', total: 3, amount: 3, payment: 'ch', at: 1 };
  const decode = (event: object) => decodeEntries(0, [entry('1-0', 'e', packr.pack(event))])[0]!;

  it('an event of a version this code does not know is undecodable (so it ends parked)', () => {
    expect(decode({ ...stock, v: 4 })).toMatchObject({ event: null, problem: 'has an unknown event version 4' });
    expect(decode({ ...stock, v: 3 })).toMatchObject({ event: null, problem: 'has a stock event without a valid q' });
    expect(decode({ ...stock, v: 3, q: 7 }).event).toEqual({ ...stock, q: 7 });
    expect(decode({ ...stock, v: '2' })).toMatchObject({ event: null, problem: 'has an unknown event version "2"' });
  });

  it('reads an order\'s lines and parts by the layout of its version', () => {
    const v1 = { ...order, parts: '4,9', lines: ['A', 2, 150, 1] };
    const v2 = { ...order, v: 2, parts: [4, 9], lines: [['A', 2, 150]] };
    const typed = { ...order, parts: [4, 9], lines: [{ sku: 'A', qty: 2, priceCents: 150 }] };
    expect(decode(v1).event).toEqual(typed);
    expect(decode(v2).event).toEqual(typed);
    expect(decode({ ...v1, v: 2 })).toMatchObject({ event: null, problem: 'has an order event without valid lines' });
    expect(decode({ ...v2, v: undefined })).toMatchObject({ event: null, problem: 'has an order event without valid lines' });
    expect(decode({ ...v1, lines: ['A', 2, 150] })).toMatchObject({ event: null, problem: 'has an order event without valid lines' });
    expect(decode({ ...v2, parts: '4,9' })).toMatchObject({ event: null, problem: 'has an order event without valid parts' });
    expect(decode({ ...v1, parts: '4,x' })).toMatchObject({ event: null, problem: 'has an order event without valid parts' });
  });
});
