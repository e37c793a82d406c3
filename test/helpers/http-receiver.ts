// A real HTTP receiver of notifications on 127.0.0.1: every request kept (path, headers, body, time),
// each answered as the test says (a status, or never).
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';

export const TOKEN = 'tok3nXXXXXXXXXXXXXXXXXXXXXXXXXXXX'; // as in a Slack/Discord webhook path

export interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
  at: number;
}

/** What the receiver answers to its n-th request (0-based): a status, or 'hang' (never answers). */
export type Answer = (n: number, res: ServerResponse) => number | 'hang';

export interface Receiver {
  url(path?: string): string;
  requests: Received[];
  close(): Promise<void>;
}

export async function startReceiver(answer: Answer = () => 200): Promise<Receiver> {
  const requests: Received[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const n = requests.length;
      requests.push({ path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks), at: Date.now() });
      const status = answer(n, res);
      if (status === 'hang') return;
      res.writeHead(status, { 'content-type': 'text/plain' }).end(status < 300 ? 'ok' : `answer ${status}`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: (path = `/hooks/T000/B000/${TOKEN}`) => `http://127.0.0.1:${port}${path}`,
    requests,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

export const json = (r: Received) => JSON.parse(r.body.toString('utf8'));
