// `suiron serve` for the Node tests (tests/anthropic-sdk, tests/openai-sdk, tests/webchat): the built CLI, the test model,
// a free loopback port, waiting for /health; `startServer` runs it on stories260K with an API key, stopped by SIGTERM.
// Node built-ins only, so each test folder imports it as it is.
// Environment: SUIRON_CLI_DLL (default: the newest built src/Suiron.Cli/bin/*/net10.0/Suiron.Cli.dll),
// SUIRON_MODEL (default: ../shared/models/stories260K.gguf beside the checkout).

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..');
export const key = 'sdk-test-key';

export function findCliDll() {
  if (process.env.SUIRON_CLI_DLL) return process.env.SUIRON_CLI_DLL;
  const candidates = ['Release', 'Debug']
    .map((c) => path.join(repo, 'src', 'Suiron.Cli', 'bin', c, 'net10.0', 'Suiron.Cli.dll'))
    .filter((p) => existsSync(p))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  if (!candidates.length) throw new Error('Suiron.Cli.dll not found: run `dotnet build Suiron.slnx -c Release` first, or set SUIRON_CLI_DLL.');
  return candidates[0];
}

export function findModel() {
  if (process.env.SUIRON_MODEL) return process.env.SUIRON_MODEL;
  const shared = process.env.SUIRON_SHARED ?? path.join(repo, '..', 'shared');
  return path.join(shared, 'models', 'stories260K.gguf');
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Resolves once `server` answers /health at `base`; throws with its output if it exits or takes over 90 s. */
export async function waitForHealth(base, server, log) {
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline) {
    if (server.exitCode !== null) throw new Error(`suiron serve exited with ${server.exitCode}:\n${log.join('')}`);
    try {
      if ((await fetch(`${base}/health`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`suiron serve did not become healthy in 90 s:\n${log.join('')}`);
}

/** Starts `suiron serve` on stories260K on a free loopback port with the API key; resolves once /health answers. */
export async function startServer(extraArgs = []) {
  const model = findModel();
  assert.ok(existsSync(model), `test model not found: ${model}`);
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const log = [];
  const server = spawn('dotnet', [findCliDll(), 'serve', '--model', model, '--host', '127.0.0.1', '--port', String(port),
    '--threads', '1', '--parallel', '2', '--ctx-size', '2048', '--api-key', key, ...extraArgs], { stdio: ['ignore', 'pipe', 'pipe'] });
  server.stdout.on('data', (d) => log.push(String(d)));
  server.stderr.on('data', (d) => log.push(String(d)));
  await waitForHealth(base, server, log);
  return { server, base };
}

export async function stopServer(server) {
  if (!server || server.exitCode !== null) return;
  const exited = new Promise((resolve) => server.once('exit', resolve));
  server.kill('SIGTERM');
  await exited;
}
