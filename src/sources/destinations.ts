// The enabled remote destinations, built from their settings.
import type { RemoteSettings, S3Settings } from '../core/settings/destinations.js';
import { RemoteDestination } from './remote.js';
import { S3Destination } from './s3.js';
import type { Destination } from './source.js';

export function openDestinations(settings: { s3?: S3Settings; remote?: RemoteSettings }): Destination[] {
  const destinations: Destination[] = [];
  if (settings.s3) destinations.push(new S3Destination(settings.s3));
  if (settings.remote) destinations.push(new RemoteDestination(settings.remote));
  return destinations;
}
