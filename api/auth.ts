import { createHash, timingSafeEqual } from 'node:crypto';

export type Role = 'admin' | 'client';
/** What an Authorization header shows: a role, no bearer token at all, or a bearer token that is neither. */
export type Credentials = Role | 'none' | 'invalid';

const digest = (text: string) => createHash('sha256').update(text).digest();
const authorizationLengthMax = 300;

/** Bearer tokens compared in constant time (digests of equal length). */
export class Auth {
  private readonly admin: Buffer;
  private readonly client: Buffer;
  constructor(adminToken: string, clientToken: string) {
    this.admin = digest(adminToken);
    this.client = digest(clientToken);
  }

  /** What an Authorization header grants. Another scheme (Basic, …) is no bearer token (RFC 6750 §3). */
  credentialsOf(authorization: string): Credentials {
    // The scheme is case-insensitive (RFC 7235).
    if (authorization.slice(0, 7).toLowerCase() !== 'bearer ') return 'none';
    if (authorization.length > authorizationLengthMax) return 'invalid';
    const given = digest(authorization.slice(7).trim());
    const isAdmin = timingSafeEqual(given, this.admin);
    const isClient = timingSafeEqual(given, this.client);
    return isAdmin ? 'admin' : isClient ? 'client' : 'invalid';
  }
}
