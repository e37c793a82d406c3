// Servers the benchmarks start on 127.0.0.1 (free ports, own process groups, stopped with the
// other children at exit): any server that listens on a port, and s3rver.
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as netConnect } from 'node:net';
import { promisify } from 'node:util';
import { root } from './util.mjs';
import { children, tempDirs } from './procs.mjs';

import { freePort } from '../../scripts/lib/free-port.mjs';

export { freePort };
export const execFileP = promisify(execFile);
export function portAccepts(port) {
  return new Promise((res) => {
    const sock = netConnect({ host: '127.0.0.1', port });
    sock.once('connect', () => {
      sock.destroy();
      res(true);
    });
    sock.once('error', () => res(false));
  });
}
/** Spawns a server in its own process group (stopped with the others at the end); waits for its port. */
export async function startServer(name, command, args, port, opts = {}) {
  const proc = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'], detached: true, ...opts });
  children.add(proc.pid);
  let output = '';
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (d) => (output = (output + d).slice(-20_000)));
  proc.once('exit', () => children.delete(proc.pid));
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`${name} exited (${proc.exitCode ?? proc.signalCode}) before listening:\n${output}`);
    if (await portAccepts(port)) return { proc, pid: proc.pid, output: () => output };
    if (Date.now() > deadline) throw new Error(`${name} did not listen on 127.0.0.1:${port} within 15 s:\n${output}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

// S3: s3rver (npm) as a child process on 127.0.0.1, a random free port, its own temp directory,
// under `node --openssl-legacy-provider` (without it, ListObjectsV2 pagination answers 500).
// Credentials: s3rver's built-in account S3RVER/S3RVER, given to pg-backups in its environment.
// `dir`: a folder of the caller's for the objects (kept: a later run serves them again); by default
// a temp folder, removed at the end.
export const S3RVER_KEY = 'S3RVER';
export async function startS3rver(bucket, { dir: ownDir } = {}) {
  const bin = join(root, 'node_modules', 's3rver', 'bin', 's3rver.js');
  if (!existsSync(bin)) throw new Error(`s3rver is not installed (${bin}); run npm install (it is a dev dependency)`);
  let dir = ownDir;
  if (dir) mkdirSync(dir, { recursive: true });
  else {
    dir = mkdtempSync(join(tmpdir(), 'pg-backups-bench-s3rver-'));
    tempDirs.add(dir);
  }
  const port = await freePort();
  const env = { ...process.env, NODE_OPTIONS: '' };
  const srv = await startServer('s3rver', process.execPath, ['--openssl-legacy-provider', bin, '-d', dir, '-a', '127.0.0.1', '-p', String(port), '--silent'], port, { env });
  const endpoint = `http://127.0.0.1:${port}`;
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const { S3Client, CreateBucketCommand } = await import('@aws-sdk/client-s3');
  const client = new S3Client({
    region: 'us-east-1',
    endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: S3RVER_KEY, secretAccessKey: S3RVER_KEY },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  try {
    if (!ownDir || !existsSync(join(dir, bucket))) await client.send(new CreateBucketCommand({ Bucket: bucket }));
  } finally {
    client.destroy();
  }
  return {
    ...srv,
    dir,
    bucket,
    endpoint,
    /** Where s3rver stores the objects under `prefix` (key `a/b` is the file `a/b._S3rver_object`). */
    prefixDir: (prefix) => join(dir, bucket, prefix),
    env: (prefix) => ({
      S3_ENABLED: 'true',
      S3_BUCKET: bucket,
      S3_PREFIX: prefix,
      S3_ENDPOINT: endpoint,
      S3_FORCE_PATH_STYLE: 'true',
      S3_REGION: 'us-east-1',
      S3_ACCESS_KEY: S3RVER_KEY,
      S3_SECRET_KEY: S3RVER_KEY,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    }),
  };
}
