// S3 failures as one clear line each, and which of them are worth another try.
// Every message names the setting to fix (S3_BUCKET, S3_ACCESS_KEY/S3_SECRET_KEY, S3_ENDPOINT,
// S3_REGION) and never a secret: callers pass the result through redact() as well.
import { AbortedError, UsageError, VerificationError, messageOf } from '../core/errors.js';
import type { S3Settings } from '../core/settings/destinations.js';

/** A failure that another try cannot fix (a local file that changed, a store that alters objects). */
export class PermanentS3Error extends Error {
  override readonly name = 'PermanentS3Error';
}

interface SdkErrorShape {
  name?: string;
  Code?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
  cause?: unknown;
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN',
  'EPIPE', 'ECONNABORTED', 'EPROTO', 'UND_ERR_SOCKET', 'ERR_SOCKET_CONNECTION_TIMEOUT',
]);

/** Errors the store answers with that no retry can fix. */
const PERMANENT_CODES = new Set([
  'NoSuchBucket', 'AccessDenied', 'InvalidAccessKeyId', 'SignatureDoesNotMatch', 'InvalidBucketName',
  'AllAccessDisabled', 'AccountProblem', 'PermanentRedirect', 'AuthorizationHeaderMalformed',
  'InvalidToken', 'ExpiredToken', 'CredentialsProviderError', 'Forbidden', 'NotImplemented',
  'InvalidArgument', 'MethodNotAllowed',
]);

/** 4xx answers that are still worth another try. */
const TRANSIENT_CODES = new Set(['RequestTimeout', 'SlowDown', 'Throttling', 'ThrottlingException', 'RequestTimeTooSkewed', 'NoSuchUpload', 'TimeoutError']);

function shape(err: unknown): SdkErrorShape {
  return (err !== null && typeof err === 'object' ? err : {}) as SdkErrorShape;
}

/** The S3 error code ("NoSuchBucket"), or a network error code ("ECONNREFUSED"), or the error's name. */
export function s3ErrorCode(err: unknown): string {
  const e = shape(err);
  if (typeof e.Code === 'string' && e.Code) return e.Code;
  const net = networkCode(err);
  if (net) return net;
  return typeof e.name === 'string' ? e.name : 'Error';
}

function networkCode(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e && depth < 4; e = shape(e).cause, depth++) {
    const code = shape(e).code;
    if (typeof code === 'string' && NETWORK_CODES.has(code)) return code;
    const name = shape(e).name;
    if (name === 'TimeoutError') return 'ETIMEDOUT';
    const message = shape(e).message;
    if (typeof message === 'string' && /socket hang up/i.test(message)) return 'ECONNRESET';
  }
  return undefined;
}

export function isNoSuchKey(err: unknown): boolean {
  const code = s3ErrorCode(err);
  return code === 'NoSuchKey' || (code === 'NotFound' && shape(err).$metadata?.httpStatusCode === 404);
}

/** Whether another try may succeed: network failures, timeouts, 5xx, throttling. */
export function isTransientS3(err: unknown): boolean {
  if (err instanceof AbortedError || err instanceof UsageError || err instanceof VerificationError || err instanceof PermanentS3Error) return false;
  if (shape(err).name === 'AbortError') return false;
  if (networkCode(err)) return true;
  const code = s3ErrorCode(err);
  if (TRANSIENT_CODES.has(code)) return true;
  if (PERMANENT_CODES.has(code)) return false;
  const status = shape(err).$metadata?.httpStatusCode;
  if (status === undefined) return true; // no answer from the store at all
  if (status === 408 || status === 429) return true;
  return status >= 500;
}

/** Whether the failure is one of the settings (bucket, credentials, region) rather than the network or the store. */
export function isSettingsProblem(err: unknown): boolean {
  const code = s3ErrorCode(err);
  return PERMANENT_CODES.has(code) && code !== 'NotImplemented' && code !== 'InvalidArgument' && code !== 'MethodNotAllowed';
}

/** Where the store is, for people: the endpoint, or AWS and its region. */
export function storeName(settings: S3Settings): string {
  return settings.endpoint ? settings.endpoint : `AWS S3 (region ${settings.region})`;
}

/** One line saying what went wrong and which setting to look at. */
export function describeS3Error(err: unknown, settings: S3Settings): string {
  if (err instanceof AbortedError || err instanceof VerificationError || err instanceof UsageError || err instanceof PermanentS3Error) return err.message;
  const e = shape(err);
  const code = s3ErrorCode(err);
  const status = e.$metadata?.httpStatusCode;
  const keys = settings.accessKey !== undefined
    ? 'S3_ACCESS_KEY/S3_SECRET_KEY'
    : 'the AWS credentials (S3_ACCESS_KEY is not set, so the standard AWS credential chain supplied them)';
  switch (code) {
    case 'NoSuchBucket':
      return `S3_BUCKET=${settings.bucket} does not exist at ${storeName(settings)}; create the bucket or correct S3_BUCKET (and S3_ENDPOINT, S3_REGION)`;
    case 'InvalidAccessKeyId':
      return settings.accessKey !== undefined
        ? `the store does not know this access key (InvalidAccessKeyId); check S3_ACCESS_KEY (and S3_ENDPOINT: ${storeName(settings)})`
        : `the store does not know the access key of ${keys} (InvalidAccessKeyId)`;
    case 'SignatureDoesNotMatch':
      return settings.accessKey !== undefined
        ? 'the request signature does not match (SignatureDoesNotMatch): S3_SECRET_KEY is not the secret of S3_ACCESS_KEY'
        : `the request signature does not match (SignatureDoesNotMatch): check ${keys}`;
    case 'AccessDenied':
    case 'AllAccessDisabled':
    case 'Forbidden':
      return `access denied (${code}) to s3://${settings.bucket}${settings.prefix ? `/${settings.prefix}` : ''}: check ${keys} and that this key may list, read, write and delete objects in S3_BUCKET=${settings.bucket}`;
    case 'InvalidToken':
    case 'ExpiredToken':
      return `the session token of ${keys} is invalid or expired (${code})`;
    case 'CredentialsProviderError':
      return 'no AWS credentials found: set S3_ACCESS_KEY and S3_SECRET_KEY (or S3_SECRET_KEY_FILE), or configure the standard AWS credential chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, ~/.aws/credentials, an instance role)';
    case 'PermanentRedirect':
    case 'AuthorizationHeaderMalformed':
      return `S3_BUCKET=${settings.bucket} is not in region S3_REGION=${settings.region} (${code}); set S3_REGION to the bucket's region`;
    case 'InvalidBucketName':
      return `S3_BUCKET=${settings.bucket} is not a valid bucket name for ${storeName(settings)} (InvalidBucketName)`;
    default:
      break;
  }
  const net = networkCode(err);
  if (net) {
    return settings.endpoint
      ? `cannot reach S3_ENDPOINT=${settings.endpoint} (${net}); check that the store is up and S3_ENDPOINT is right`
      : `cannot reach ${storeName(settings)} (${net}); check the network, S3_REGION and S3_ENDPOINT`;
  }
  if (status === 403) return `access denied (HTTP 403) to s3://${settings.bucket}: check ${keys}`;
  const text = messageOf(err).split('\n')[0] ?? '';
  const plain = !text || text === 'UnknownError' || text === code ? '' : `: ${text}`;
  return `${code}${plain}${status ? ` (HTTP ${status})` : ''}`;
}
