// SPDX-License-Identifier: Apache-2.0
// A real nats-server with JetStream on a free loopback port, for the sync
// tests: started, stopped and restarted on the same store directory.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

async function waitForPort(port, ms) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const ok = await new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nats-server did not listen on ${port} within ${ms} ms`);
}

/**
 * Starts `nats-server -js` on a free port with its own store directory.
 * Resolves {url, port, stop(), start(), cleanup()}; fails with the install
 * hint when nats-server is missing.
 */
export async function startNats() {
  const dir = mkdtempSync(path.join(tmpdir(), 'cpm-nats-'));
  const port = await freePort();
  const nats = { url: `nats://127.0.0.1:${port}`, port, child: null };
  nats.start = async () => {
    const child = spawn('nats-server', ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', dir], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const failed = new Promise((_, reject) =>
      child.on('error', (e) =>
        reject(new Error(`cannot run nats-server (${e.message}); scripts/deps.sh test installs it`)),
      ),
    );
    nats.child = child;
    await Promise.race([waitForPort(port, 10000), failed]);
  };
  nats.stop = async () => {
    if (!nats.child || nats.child.exitCode !== null) return;
    const exited = new Promise((r) => nats.child.on('exit', r));
    nats.child.kill('SIGKILL');
    await exited;
  };
  nats.cleanup = async () => {
    await nats.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  await nats.start();
  return nats;
}
