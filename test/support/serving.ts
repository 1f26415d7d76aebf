import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { connect } from 'node:net';
import { once } from 'node:events';

/**
 * The pid of the process that serves a new connection to 127.0.0.1:port (one
 * of several API processes sharing the port), read from /proc while the
 * connection is open: the server side of the connection is a socket whose
 * inode /proc/net/tcp names, and the process holding it has that socket among
 * its descriptors. Responses carry nothing that names their process (request
 * ids are random), so tests ask the kernel.
 */
export async function servingPid(port: number): Promise<number> {
  return (await servedBy(port, 'GET', '/healthz')).pid;
}

/**
 * One request on a connection of its own, and the pid of the process that
 * served it: its status, body text and pid. The connection stays open until
 * the whole answer is in (Content-Length), and the pid is read before it closes.
 */
export async function servedBy(port: number, method: string, path: string, headers: Record<string, string> = {}):
  Promise<{ pid: number; status: number; body: string }> {
  const socket = connect(port, '127.0.0.1');
  try {
    await once(socket, 'connect');
    const lines = [`${method} ${path} HTTP/1.1`, 'Host: x', 'Content-Length: 0', ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
    socket.write(`${lines.join('\r\n')}\r\n\r\n`);
    // An answer means the server accepted the connection (a socket still in the accept queue has no owner yet).
    let buffer = Buffer.alloc(0);
    for (;;) {
      const [chunk] = (await once(socket, 'data')) as [Buffer];
      buffer = Buffer.concat([buffer, chunk]);
      const end = buffer.indexOf('\r\n\r\n');
      if (end < 0) continue;
      const head = buffer.subarray(0, end).toString('latin1');
      const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? 0);
      if (buffer.length < end + 4 + length) continue;
      const inode = serverSideInode(port, socket.localPort!);
      const pid = ownerOf(inode);
      if (pid === null) throw new Error(`no process holds the socket of the connection from port ${socket.localPort} to ${port}`);
      return { pid, status: Number(head.split(' ')[1]), body: buffer.subarray(end + 4, end + 4 + length).toString('utf8') };
    }
  } finally {
    socket.destroy();
  }
}

/** The inode of the established IPv4 socket from 127.0.0.1:port to the client's port. */
function serverSideInode(port: number, clientPort: number): string {
  const hex = (n: number) => n.toString(16).toUpperCase().padStart(4, '0');
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10) continue;
    if (f[1]!.endsWith(`:${hex(port)}`) && f[2]!.endsWith(`:${hex(clientPort)}`) && f[3] === '01') return f[9]!;
  }
  throw new Error(`no established connection from port ${clientPort} to ${port} in /proc/net/tcp`);
}

function ownerOf(inode: string): number | null {
  const target = `socket:[${inode}]`;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${entry}/fd`);
    } catch {
      continue; // gone, or not ours
    }
    for (const fd of fds) {
      try {
        if (readlinkSync(`/proc/${entry}/fd/${fd}`) === target) return Number(entry);
      } catch { /* closed meanwhile */ }
    }
  }
  return null;
}
