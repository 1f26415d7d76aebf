import { createHash, timingSafeEqual } from 'node:crypto';

export type Role = 'admin' | 'client';

const digest = (text: string) => createHash('sha256').update(text).digest();

/** Bearer tokens compared in constant time (digests of equal length). */
export class Auth {
  private readonly admin: Buffer;
  private readonly client: Buffer;
  constructor(adminToken: string, clientToken: string) {
    this.admin = digest(adminToken);
    this.client = digest(clientToken);
  }

  /** The role an Authorization header grants, or null. */
  roleOf(authorization: string): Role | null {
    // The scheme is case-insensitive (RFC 7235).
    if (authorization.length > 300 || authorization.slice(0, 7).toLowerCase() !== 'bearer ') return null;
    const given = digest(authorization.slice(7).trim());
    const isAdmin = timingSafeEqual(given, this.admin);
    const isClient = timingSafeEqual(given, this.client);
    return isAdmin ? 'admin' : isClient ? 'client' : null;
  }
}
