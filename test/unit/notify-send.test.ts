// Sending one notification to a real HTTP server on 127.0.0.1, in process: a redirect is not
// followed (the body would go elsewhere), Retry-After is honoured within the bound, and the bound
// shrinks to a few seconds once the process is stopping.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server, type ServerResponse } from 'node:http';
import { createDeadline, STOPPING_BOUND_MS } from '../../src/core/notify/deadline.js';
import { postWithRetries } from '../../src/core/notify/send.js';
import { freePort } from '../helpers/tmp.js';

describe('postWithRetries', () => {
  let server: Server;
  let base: string;
  const hits = new Map<string, number[]>();
  const routes: Record<string, (n: number, res: ServerResponse) => void> = {
    '/redirect': (_n, res) => res.writeHead(301, { location: 'https://elsewhere.example.com/secret-path' }).end(),
    '/busy': (n, res) => (n === 0 ? res.writeHead(429, { 'retry-after': '1' }).end('slow down') : res.writeHead(204).end()),
    '/busy-long': (_n, res) => res.writeHead(429, { 'retry-after': '3600' }).end(),
    '/bad': (_n, res) => res.writeHead(400).end('invalid_payload\nsecond line'),
  };
  beforeAll(async () => {
    server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        const list = hits.get(req.url!) ?? [];
        list.push(Date.now());
        hits.set(req.url!, list);
        routes[req.url!]!(list.length - 1, res);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const post = (path: string, boundMs = 10_000) => {
    const deadline = createDeadline(boundMs);
    return postWithRetries({ url: `${base}${path}`, body: '{}', headers: { 'content-type': 'application/json' } }, deadline).finally(() => deadline.dispose());
  };

  it('a redirect is not followed, and its target is named by scheme://host only', async () => {
    const out = await post('/redirect');
    expect(out).toEqual({ ok: false, attempts: 1, reason: 'answered 301 Moved Permanently: a redirect to https://elsewhere.example.com, which is not followed; give the URL it points to' });
  });

  it('429 waits for Retry-After; one longer than the bound gives up at once', async () => {
    expect(await post('/busy')).toEqual({ ok: true, attempts: 2 });
    const [first, second] = hits.get('/busy')!;
    expect(second! - first!).toBeGreaterThanOrEqual(900);
    const out = await post('/busy-long', 5000);
    expect(out.ok).toBe(false);
    expect(out.attempts).toBe(1);
    expect(out.reason).toBe('answered 429 Too Many Requests; no time for another try within NOTIFY_TIMEOUT 5s');
  });

  it('another 4xx is not retried; its answer is quoted on one line', async () => {
    expect(await post('/bad')).toEqual({ ok: false, attempts: 1, reason: 'answered 400 Bad Request (invalid_payload second line)' });
  });

  it('nothing listening: a network error, retried with backoff until the bound', async () => {
    const port = await freePort();
    const deadline = createDeadline(3000);
    const out = await postWithRetries({ url: `http://127.0.0.1:${port}/hook`, body: '{}', headers: {} }, deadline);
    deadline.dispose();
    expect(out.ok).toBe(false);
    expect(out.attempts).toBeGreaterThanOrEqual(2);
    expect(out.reason).toMatch(new RegExp(`^request failed: connect ECONNREFUSED 127\\.0\\.0\\.1:${port}; no time for another try within NOTIFY_TIMEOUT 3s$`));
  });
});

describe('the deadline', () => {
  it('shrinks to a few seconds when the process starts stopping, and starts short for a stopped run', () => {
    const stop = new AbortController();
    const d = createDeadline(60_000, stop.signal);
    expect(d.remainingMs()).toBeGreaterThan(50_000);
    expect(d.describe()).toBe('NOTIFY_TIMEOUT 60s');
    stop.abort();
    expect(d.remainingMs()).toBeLessThanOrEqual(STOPPING_BOUND_MS);
    expect(d.describe()).toBe('3s while stopping');
    d.dispose();
    const stopped = createDeadline(60_000, undefined, true);
    expect(stopped.remainingMs()).toBeLessThanOrEqual(STOPPING_BOUND_MS);
    stopped.dispose();
    const short = createDeadline(1000, undefined, true); // never longer than NOTIFY_TIMEOUT
    expect(short.remainingMs()).toBeLessThanOrEqual(1000);
    expect(short.describe()).toBe('NOTIFY_TIMEOUT 1s');
    short.dispose();
  });
});
