// A long-running command of the built CLI (`pg-backups schedule`) as a child process: its stderr so
// far, a wait for a line in it, and its exit code.
import type { ChildProcess } from 'node:child_process';
import { startCli } from './cli.js';
import { freePort } from './tmp.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface ServiceProcess {
  child: ChildProcess;
  state: { stderr: string };
  /** The exit code, once it has ended. */
  closed: Promise<number | null>;
  /** Resolves when stderr matches; throws after the timeout, or as soon as the process has ended without it. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>;
}

export function startService(args: string[], env: Record<string, string>): ServiceProcess {
  const child = startCli(args, env);
  const state = { stderr: '' };
  child.stderr!.on('data', (d) => (state.stderr += d));
  const closed = new Promise<number | null>((r) => child.once('close', (code) => r(code)));
  const waitFor = async (pattern: RegExp, timeoutMs = 60_000) => {
    const until = Date.now() + timeoutMs;
    while (!pattern.test(state.stderr)) {
      if (Date.now() > until || child.exitCode !== null) throw new Error(`no ${pattern} in:\n${state.stderr}`);
      await sleep(50);
    }
  };
  return { child, state, closed, waitFor };
}

/** Polls `done` until it holds or `timeoutMs` has passed, then stops the service (SIGTERM) and waits for its exit. */
export async function stopWhen(svc: ServiceProcess, done: () => boolean | Promise<boolean>, timeoutMs: number): Promise<number | null> {
  try {
    const until = Date.now() + timeoutMs;
    while (!(await done()) && Date.now() < until) await sleep(200);
  } finally {
    svc.child.kill('SIGTERM');
  }
  return svc.closed;
}

export interface Answer {
  status: number;
  headers: Headers;
  body: string;
}

/** A running `pg-backups schedule` with its status endpoint, and every answer it gave (for the secret check). */
export async function startStatusService(env: Record<string, string>) {
  const port = await freePort();
  const svc = startService(['schedule'], { ...env, STATUS_PORT: String(port), STATUS_HOST: '127.0.0.1' });
  const { child, waitFor } = svc;
  const answers: Answer[] = [];
  const request = async (path: string, init: RequestInit = {}): Promise<Answer> => {
    const res = await fetch(`http://127.0.0.1:${port}${path}`, init);
    const answer = { status: res.status, headers: res.headers, body: await res.text() };
    answers.push(answer);
    return answer;
  };
  const stop = async () => {
    if (child.exitCode === null) child.kill('SIGTERM');
    return svc.closed;
  };
  await waitFor(new RegExp(`status on http://127\\.0\\.0\\.1:${port} \\(/healthz /status /metrics\\)`));
  return { ...svc, port, request, answers, stop };
}
