// A real S3-compatible server for tests: s3rver as a child process on 127.0.0.1 (a random free
// port, its own temp directory), so a test can kill it mid-upload and start it again on the same
// port and directory. Runs under `node --openssl-legacy-provider`: without it s3rver answers 500 to
// ListObjectsV2 with a continuation token (pagination).
import { spawn, type ChildProcess } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { ROOT } from './cli.js';
import { freePort, makeTempDir, portAccepts } from './tmp.js';

const S3RVER_BIN = join(ROOT, 'node_modules', 's3rver', 'bin', 's3rver.js');
/** s3rver's built-in account (lib/models/account.js). */
export const S3RVER_KEY = 'S3RVER';

export interface S3Server {
  endpoint: string;
  bucket: string;
  region: string;
  dir: string;
  port: number;
  accessKey: string;
  secretKey: string;
  /** The S3_* settings of pg-backups for this server (RETRY_DELAY small). */
  s3Env(extra?: Record<string, string>): Record<string, string>;
  /** An SDK client for checking what the server holds. */
  client(): S3Client;
  /** Creates another bucket. */
  createBucket(name: string): Promise<void>;
  /** SIGKILL, now: the server dies mid-request. Resolves once the process is gone. */
  kill(): Promise<void>;
  /** Starts it again on the same port and directory (after kill() or stop()). */
  restart(): Promise<void>;
  /** Stops it and removes its directory; safe to call twice. */
  stop(): Promise<void>;
  /** Whether the process runs. */
  running(): boolean;
}

export async function startS3Server(opts: { bucket?: string } = {}): Promise<S3Server> {
  const dir = await makeTempDir('pgb-s3rver-');
  const port = await freePort();
  const bucket = opts.bucket ?? 'pgb-test';
  const region = 'us-east-1';
  const endpoint = `http://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  let output = '';
  let sdk: S3Client | undefined;
  let stopped = false;

  const alive = () => child !== undefined && child.exitCode === null && child.signalCode === null;

  const launch = async () => {
    output = '';
    const proc = spawn(process.execPath, ['--openssl-legacy-provider', S3RVER_BIN, '-d', dir, '-a', '127.0.0.1', '-p', String(port), '--silent'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NODE_OPTIONS: '' },
    });
    child = proc;
    proc.stdout!.on('data', (d) => (output += d));
    proc.stderr!.on('data', (d) => (output += d));
    const deadline = Date.now() + 15_000;
    for (;;) {
      if (!alive()) throw new Error(`s3rver exited (${String(proc.exitCode ?? proc.signalCode)}) before accepting connections:\n${output}`);
      if (await portAccepts(port)) return;
      if (Date.now() > deadline) {
        proc.kill('SIGKILL');
        throw new Error(`s3rver did not accept connections on 127.0.0.1:${port} within 15 s:\n${output}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  const waitExit = (proc: ChildProcess | undefined) =>
    new Promise<void>((resolve) => {
      if (!proc || proc.exitCode !== null || proc.signalCode !== null) return resolve();
      proc.once('exit', () => resolve());
    });

  const client = () => {
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
    sdk ??= new S3Client({
      region,
      endpoint,
      forcePathStyle: true,
      credentials: { accessKeyId: S3RVER_KEY, secretAccessKey: S3RVER_KEY },
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    return sdk;
  };

  await launch();
  await client().send(new CreateBucketCommand({ Bucket: bucket }));

  const server: S3Server = {
    endpoint,
    bucket,
    region,
    dir,
    port,
    accessKey: S3RVER_KEY,
    secretKey: S3RVER_KEY,
    s3Env: (extra = {}) => ({
      S3_ENABLED: 'true',
      S3_BUCKET: bucket,
      S3_ENDPOINT: endpoint,
      S3_FORCE_PATH_STYLE: 'true',
      S3_REGION: region,
      S3_ACCESS_KEY: S3RVER_KEY,
      S3_SECRET_KEY: S3RVER_KEY,
      RETRY_DELAY: '0.2',
      ...extra,
    }),
    client,
    createBucket: async (name) => {
      await client().send(new CreateBucketCommand({ Bucket: name }));
    },
    kill: async () => {
      const proc = child;
      if (alive()) proc!.kill('SIGKILL');
      await waitExit(proc);
    },
    restart: async () => {
      if (stopped) throw new Error('s3rver was stopped for good');
      if (alive()) {
        const proc = child;
        proc!.kill('SIGKILL');
        await waitExit(proc);
      }
      await launch();
    },
    stop: async () => {
      if (stopped) return;
      stopped = true;
      sdk?.destroy();
      const proc = child;
      if (alive()) proc!.kill('SIGTERM');
      const timer = setTimeout(() => proc?.kill('SIGKILL'), 3000);
      await waitExit(proc);
      clearTimeout(timer);
      await rm(dir, { recursive: true, force: true });
    },
    running: alive,
  };
  return server;
}

