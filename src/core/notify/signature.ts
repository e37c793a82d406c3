// The signature of a notification: HMAC-SHA256 with NOTIFY_SECRET over the exact bytes of the body,
// hex, in `X-Pg-Backups-Signature: sha256=<hex>`. `X-Pg-Backups-Timestamp` says when it was sent
// (Unix seconds); the signed body holds the run's own times (startedAt, finishedAt).
import { createHmac } from 'node:crypto';

export const SIGNATURE_HEADER = 'X-Pg-Backups-Signature';
export const TIMESTAMP_HEADER = 'X-Pg-Backups-Timestamp';

export function signBody(secret: string, body: string | Uint8Array): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

export function signatureHeaders(secret: string | undefined, body: string, now: Date): Record<string, string> {
  const headers: Record<string, string> = { [TIMESTAMP_HEADER]: String(Math.floor(now.getTime() / 1000)) };
  if (secret !== undefined) headers[SIGNATURE_HEADER] = signBody(secret, body);
  return headers;
}
