import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { decodeEntries, requireDecoded, type RawEntry } from './outbox-events.ts';

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
