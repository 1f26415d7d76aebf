/**
 * The Redis Cluster hash slot of a key (CRC16/XMODEM of its hash tag, or of
 * the whole key when it has none, modulo 16384), as CLUSTER KEYSLOT computes
 * it: every key one script call names must map to one slot.
 */
export function keySlot(key: string): number {
  const bytes = Buffer.from(hashTagOf(key));
  let crc = 0;
  for (const byte of bytes) {
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc % 16_384;
}

/** The part of a key that decides its slot: the text between the first '{' and the next '}', when not empty. */
function hashTagOf(key: string): string {
  const open = key.indexOf('{');
  if (open < 0) return key;
  const close = key.indexOf('}', open + 1);
  return close > open + 1 ? key.slice(open + 1, close) : key;
}
