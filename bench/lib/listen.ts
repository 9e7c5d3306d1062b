import type { Server } from 'node:http';

/**
 * Listens on a free loopback port and announces it on stdout as the line `listeningUrl`
 * (bench/lib/switchyard.ts) waits for: the bench's own helper servers start like switchyard's.
 */
export function listenAndAnnounce(server: Server, role: string): void {
  server.listen(0, '127.0.0.1', () => {
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    process.stdout.write(
      `${JSON.stringify({ msg: 'switchyard listening', role, url: `http://127.0.0.1:${port}` })}\n`,
    );
  });
}
