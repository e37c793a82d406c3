// The Prometheus text of /metrics: escaping of label values and help text, HELP/TYPE lines, values,
// and the status metrics of several named servers computed from their run histories.
import { describe, expect, it } from 'vitest';
import { evaluateHealth } from '../../src/core/history/health.js';
import type { HistoryReport } from '../../src/core/history/history-report.js';
import type { DrillRecord, RunRecord } from '../../src/core/history/run-record.js';
import { escapeHelp, escapeLabelValue, formatValue, renderMetrics } from '../../src/core/service/metrics.js';
import { statusMetrics } from '../../src/core/service/status-metrics.js';
import type { StatusSnapshot, TargetStatus } from '../../src/core/service/status-snapshot.js';
import { parsePromText, sampleValue } from '../helpers/prom-text.js';

describe('Prometheus text format', () => {
  it('escapes backslash, double quote and line feed in label values; backslash and line feed in HELP', () => {
    expect(escapeLabelValue('a\\b"c\nd')).toBe('a\\\\b\\"c\\nd');
    expect(escapeLabelValue('plain /backups s3://b/p user@h:/x')).toBe('plain /backups s3://b/p user@h:/x');
    expect(escapeHelp('say "hi"\\ now\nthen')).toBe('say "hi"\\\\ now\\nthen');
  });

  it('writes NaN, +Inf, -Inf and plain numbers as the format reads them', () => {
    expect([NaN, Infinity, -Infinity, 0, 1.5, 1796180400, 1e21, -3].map(formatValue)).toEqual(['NaN', '+Inf', '-Inf', '0', '1.5', '1796180400', '1e+21', '-3']);
  });

  it('renders HELP and TYPE before each family, samples together, and nothing for a family without samples', () => {
    const text = renderMetrics([
      { name: 'x_total', help: 'Runs.', type: 'counter', samples: [{ labels: { outcome: 'ok' }, value: 2 }, { labels: { outcome: 'failed' }, value: 0 }] },
      { name: 'empty', help: 'None.', type: 'gauge', samples: [] },
      { name: 'y', help: 'A "gauge"\\.', type: 'gauge', samples: [{ value: 1 }] },
    ]);
    expect(text).toBe(
      ['# HELP x_total Runs.', '# TYPE x_total counter', 'x_total{outcome="ok"} 2', 'x_total{outcome="failed"} 0', '# HELP y A "gauge"\\\\.', '# TYPE y gauge', 'y 1', ''].join('\n'),
    );
    expect(renderMetrics([])).toBe('');
  });

  it('label values of any text survive a strict parser of the format', () => {
    const hostile = ['back\\slash', 'quote " inside', 'line\nfeed', '}{,=', 'ünïcødé ✓', '\\n literally', '\\"', ''];
    const text = renderMetrics([{ name: 'm', help: 'h\nh', type: 'gauge', samples: hostile.map((v, i) => ({ labels: { location: v, destination: 's3' }, value: i })) }]);
    const parsed = parsePromText(text);
    expect(parsed.samples.map((s) => s.labels.location)).toEqual(hostile);
    expect(parsed.help.get('m')).toBe('h\nh');
    hostile.forEach((v, i) => expect(sampleValue(parsed, 'm', { location: v, destination: 's3' })).toBe(i));
  });

  it('refuses names the format does not allow, and a family given twice', () => {
    expect(() => renderMetrics([{ name: 'bad-name', help: '', type: 'gauge', samples: [{ value: 1 }] }])).toThrow(/metric name/);
    expect(() => renderMetrics([{ name: 'm', help: '', type: 'gauge', samples: [{ labels: { 'bad-label': 'x' }, value: 1 }] }])).toThrow(/label name/);
    expect(() => renderMetrics([{ name: 'm', help: '', type: 'gauge', samples: [{ labels: { __reserved: 'x' }, value: 1 }] }])).toThrow(/label name/);
    const twice = { name: 'm', help: '', type: 'gauge' as const, samples: [{ value: 1 }] };
    expect(() => renderMetrics([twice, twice])).toThrow(/twice/);
  });
});

describe('status metrics', () => {
  const at = (s: number) => new Date(Date.UTC(2026, 11, 1, 0, 0, s)).toISOString();
  const now = new Date(Date.UTC(2026, 11, 1, 1, 0, 0));
  const s3 = 's3://bucket/pre"fix';
  const run = (start: number, outcome: RunRecord['outcome'], extra: Partial<RunRecord> = {}): RunRecord => ({
    trigger: 'schedule',
    outcome,
    startedAt: at(start),
    finishedAt: at(start + 10),
    destinations: [{ kind: 'local', location: '/b/prod', ok: outcome !== 'stopped' }, { kind: 's3', location: s3, ok: outcome === 'ok' }],
    ...extra,
  });
  const target = (name: string, runs: RunRecord[], running = false, drills: DrillRecord[] = [], drillMaxAgeMs?: number): TargetStatus => {
    const folderTime = new Date(Date.UTC(2026, 11, 1, 0, 0, 0));
    const health = evaluateHealth({ runs, entries: [{ folder: '20261201_000000', time: folderTime, status: 'finished', files: [] }], maxAgeMs: 7200_000, now });
    const report: HistoryReport = {
      backupDir: `/b/${name}`,
      runs: [...runs].reverse(),
      drills: [...drills].reverse(),
      ...(drillMaxAgeMs !== undefined ? { drillMaxAgeMs } : {}),
      maxAgeMs: 7200_000,
      maxAgeOrigin: 'HEALTHCHECK_MAX_AGE',
      health,
      ...(running ? { running: { since: now, pid: 1, host: 'h' } } : {}),
    };
    return { target: { name, backupDir: `/b/${name}` }, report, healthy: health.healthy, reason: health.reason };
  };

  it('per named server: last success, last run, runs by outcome, destinations, health, age, running; the next run once', () => {
    const prod = target('prod', [run(0, 'ok', { bytes: 100, folder: '20261201_000000' }), run(100, 'failed', { bytes: 50 }), run(200, 'stopped')], true);
    const dev = target('dev', [run(0, 'ok', { bytes: 7 })]);
    const broken: TargetStatus = { target: { name: 'broken', backupDir: '/b/broken' }, error: 'the run history is damaged', healthy: false, reason: 'cannot read' };
    const snapshot: StatusSnapshot = { now, next: new Date(Date.UTC(2026, 11, 2, 3)), healthy: false, reason: 'x', targets: [prod, dev, broken] };
    const parsed = parsePromText(renderMetrics(statusMetrics(snapshot)));
    const v = (name: string, labels: Record<string, string> = {}) => sampleValue(parsed, `pg_backups_${name}`, labels);
    const ts = (s: number) => Date.parse(at(s)) / 1000;

    expect(v('last_success_timestamp_seconds', { server: 'prod' })).toBe(ts(10));
    expect(v('last_run_timestamp_seconds', { server: 'prod' })).toBe(ts(210)); // the stopped run is the last one
    expect(v('last_run_duration_seconds', { server: 'prod' })).toBe(10);
    expect(v('last_run_bytes', { server: 'prod' })).toBe(0);
    expect(v('last_run_bytes', { server: 'dev' })).toBe(7);
    expect(['ok', 'failed', 'stopped'].map((outcome) => v('recorded_runs', { server: 'prod', outcome }))).toEqual([1, 1, 1]);
    // local got the failed run's backup; s3 only the first run's. The last run that ended is the failed one.
    expect(v('destination_last_success_timestamp_seconds', { server: 'prod', destination: 'local', location: '/b/prod' })).toBe(ts(110));
    expect(v('destination_last_success_timestamp_seconds', { server: 'prod', destination: 's3', location: s3 })).toBe(ts(10));
    expect(v('destination_last_run_ok', { server: 'prod', destination: 'local', location: '/b/prod' })).toBe(1);
    expect(v('destination_last_run_ok', { server: 'prod', destination: 's3', location: s3 })).toBe(0);
    expect(v('healthy', { server: 'prod' })).toBe(0);
    expect(v('healthy', { server: 'dev' })).toBe(1);
    expect(v('healthy', { server: 'broken' })).toBe(0);
    expect(v('last_success_timestamp_seconds', { server: 'broken' })).toBeUndefined();
    expect(v('newest_backup_age_seconds', { server: 'dev' })).toBe(3600);
    expect(v('max_age_seconds', { server: 'dev' })).toBe(7200);
    expect(v('running', { server: 'prod' })).toBe(1);
    expect(v('running', { server: 'dev' })).toBe(0);
    expect(v('next_run_timestamp_seconds')).toBe(Date.UTC(2026, 11, 2, 3) / 1000);
    expect(parsed.type.get('pg_backups_recorded_runs')).toBe('gauge');
    for (const name of new Set(parsed.samples.map((s) => s.name))) {
      expect(parsed.help.get(name)).toBeTruthy();
      expect(parsed.type.get(name)).toBeTruthy();
    }
  });

  it('one server without a name: no server label; no run yet: last success 0, no last-run samples', () => {
    const only = target('x', []);
    const unnamed: TargetStatus = { ...only, target: { backupDir: '/b' } };
    const parsed = parsePromText(renderMetrics(statusMetrics({ now, healthy: false, reason: 'x', targets: [unnamed] })));
    expect(sampleValue(parsed, 'pg_backups_last_success_timestamp_seconds')).toBe(0);
    expect(sampleValue(parsed, 'pg_backups_last_run_duration_seconds')).toBeUndefined();
    expect(sampleValue(parsed, 'pg_backups_recorded_runs', { outcome: 'ok' })).toBe(0);
    expect(sampleValue(parsed, 'pg_backups_next_run_timestamp_seconds')).toBeUndefined();
    expect(parsed.samples.some((s) => 'server' in s.labels)).toBe(false);
  });

  it('drills: the newest passed one (end, duration), the last one not stopped (end, verdict, differences), drills by outcome, the limit; none without drills', () => {
    const drill = (start: number, outcome: DrillRecord['outcome'], took: number, differences = 0): DrillRecord => ({
      trigger: 'schedule', outcome, startedAt: at(start), finishedAt: at(start + took), folder: '20261201_000000', databases: 2, tablesChecked: 9, differences,
    });
    const ts = (s: number) => Date.parse(at(s)) / 1000;
    const drilled = target('prod', [run(0, 'ok')], false, [drill(100, 'passed', 42), drill(300, 'differences', 30, 3), drill(400, 'stopped', 5)], 86_400_000);
    const parsed = parsePromText(renderMetrics(statusMetrics({ now, healthy: false, reason: 'x', targets: [drilled] })));
    const v = (name: string, labels: Record<string, string> = {}) => sampleValue(parsed, `pg_backups_${name}`, { server: 'prod', ...labels });
    expect(v('drill_last_success_timestamp_seconds')).toBe(ts(142));
    expect(v('drill_last_success_duration_seconds')).toBe(42);
    expect(v('drill_last_timestamp_seconds')).toBe(ts(330)); // the stopped one neither passed nor failed
    expect(v('drill_last_passed')).toBe(0);
    expect(v('drill_last_differences')).toBe(3);
    expect(['passed', 'differences', 'damaged', 'failed', 'stopped'].map((outcome) => v('recorded_drills', { outcome }))).toEqual([1, 1, 0, 0, 1]);
    expect(v('drill_max_age_seconds')).toBe(86_400);

    // Judged but none recorded yet: last success 0 and the limit; nothing recorded and not judged: no drill metrics.
    const waiting = parsePromText(renderMetrics(statusMetrics({ now, healthy: false, reason: 'x', targets: [target('prod', [], false, [], 3600_000)] })));
    expect(sampleValue(waiting, 'pg_backups_drill_last_success_timestamp_seconds', { server: 'prod' })).toBe(0);
    expect(sampleValue(waiting, 'pg_backups_drill_last_passed', { server: 'prod' })).toBeUndefined();
    const none = parsePromText(renderMetrics(statusMetrics({ now, healthy: false, reason: 'x', targets: [target('prod', [run(0, 'ok')])] })));
    expect(none.samples.some((s) => s.name.includes('drill'))).toBe(false);
  });
});
