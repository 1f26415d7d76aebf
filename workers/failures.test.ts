import { describe, expect, it } from 'vitest';
import { StockadeError } from '../engine/index.ts';
import { failureKind, failureReason, failureReasonLengthMax } from './failures.ts';

const coded = (code: string, message = 'boom') => Object.assign(new Error(message), { code });

describe('write-through failure kinds', () => {
  it.each([
    '22001', '22P02', '22003', // data exceptions: too long, bad text representation, out of range
    '23503', '23502', '23514', // integrity: foreign key, not null, check
    '42P01', '42703', '42501', // undefined table, undefined column, insufficient privilege
    '54000', '54001', // program limits
    'MAX_PARAMETERS_EXCEEDED',
  ])('%s is permanent', (code) => {
    expect(failureKind(coded(code))).toBe('permanent');
  });

  it('an outbox entry that cannot be decoded is permanent', () => {
    expect(failureKind(new StockadeError('OUTBOX_UNDECODABLE', 'outbox entry 1:1-0 has no event'))).toBe('permanent');
  });

  it.each([
    'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT',
    'CONNECTION_CLOSED', 'CONNECTION_ENDED', 'CONNECTION_DESTROYED', 'CONNECT_TIMEOUT',
    '08006', '08001', // connection failure, cannot connect
    '53100', '53300', // disk full, too many connections
    '57014', '57P01', '57P03', // statement timeout, admin shutdown, cannot connect now
    '40001', '40P01', // serialization failure, deadlock
    'XX000', '25P02', // not known to be permanent
  ])('%s is transient', (code) => {
    expect(failureKind(coded(code))).toBe('transient');
  });

  it('errors without a code (Redis replies, anything unknown) are transient', () => {
    expect(failureKind(new Error('OOM command not allowed when used memory > maxmemory'))).toBe('transient');
    expect(failureKind(new TypeError('x is undefined'))).toBe('transient');
    expect(failureKind(null)).toBe('transient');
    expect(failureKind('a string')).toBe('transient');
  });

  it('a reason names the code, the message and PostgreSQL\'s detail, within a bound', () => {
    const fk = Object.assign(coded('23503', 'insert on table "order_items" violates foreign key constraint'), { detail: 'Key (sku)=(X) is not present in table "products".' });
    expect(failureReason(fk)).toBe('23503 insert on table "order_items" violates foreign key constraint (Key (sku)=(X) is not present in table "products".)');
    expect(failureReason(new Error('plain'))).toBe('ERROR plain');
    expect(failureReason(coded('22001', 'x'.repeat(10_000)))).toHaveLength(failureReasonLengthMax);
  });
});
