// Where output goes: JSON and results on stdout, logs on stderr. Everything passes through redact().
import { redact } from '../core/secrets.js';

export interface Output {
  json: boolean;
  /** A log line on stderr (suppressed with --quiet). */
  log(message: string): void;
  warn(message: string): void;
  error(message: string): void;
  /** A result line on stdout (text mode only). */
  print(line: string): void;
  /** The JSON document on stdout (json mode only). */
  printJson(value: unknown): void;
}

export function createOutput(opts: { json: boolean; quiet: boolean }): Output {
  const stamp = () => new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const line = (level: string, message: string) => process.stderr.write(`${stamp()} ${level} ${redact(message)}\n`);
  return {
    json: opts.json,
    log: (m) => {
      if (!opts.quiet) line('info ', m);
    },
    warn: (m) => line('warn ', m),
    error: (m) => line('error', m),
    print: (l) => {
      if (!opts.json) process.stdout.write(`${redact(l)}\n`);
    },
    printJson: (v) => {
      if (opts.json) process.stdout.write(`${redact(JSON.stringify(v, null, 2))}\n`);
    },
  };
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

/** Left-aligned columns for a text table. */
export function table(rows: string[][]): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, [...cell].length)));
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell + ' '.repeat(widths[i]! - [...cell].length))).join('  '));
}

/** The same output with every log line (not stdout results) prefixed, e.g. "prod: " for one of several servers. */
export function prefixedOutput(out: Output, prefix: string): Output {
  if (!prefix) return out;
  return { ...out, log: (m) => out.log(prefix + m), warn: (m) => out.warn(prefix + m), error: (m) => out.error(prefix + m) };
}
