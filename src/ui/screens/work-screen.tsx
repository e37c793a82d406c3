// Long work in progress: one bar per phase (bytes, percent, rate, time left, current object),
// elapsed time, the last log lines, and the stop question.
import { Box } from 'ink';
import type { Progress } from '../../core/progress.js';
import { bar, fit, formatBytes, formatDuration, oneLine } from '../format.js';
import type { Job, Screen, State } from '../state/types.js';
import { Tone } from './tone.js';
import { DrillResult } from './drill-result.js';

export function phaseFigures(p: Progress): string {
  const parts: string[] = [];
  const total = p.totalBytes !== undefined && p.totalBytes > 0 ? p.totalBytes : undefined;
  if (total !== undefined) {
    parts.push(`${Math.min(100, Math.floor((p.bytes / total) * 100))}%`.padStart(4));
    parts.push(`${formatBytes(p.bytes)} of ${formatBytes(total)}`);
  } else {
    parts.push(formatBytes(p.bytes));
  }
  if (p.state === 'running') {
    if (p.rate !== undefined) parts.push(`${formatBytes(Math.round(p.rate))}/s`);
    parts.push(p.etaMs !== undefined ? `${formatDuration(p.etaMs)} left` : `${formatDuration(p.elapsedMs)} so far`);
  } else {
    parts.push(`in ${formatDuration(p.elapsedMs)}`);
  }
  return parts.join('  ');
}

function PhaseView(props: { p: Progress; columns: number }) {
  const { p, columns } = props;
  if (p.state !== 'running') {
    const mark = p.state === 'done' ? '[done]  ' : '[FAILED]';
    return <Tone tone={p.state === 'done' ? 'ok' : 'bad'}>{fit(`${mark} ${oneLine(p.label)}: ${phaseFigures(p)}`, columns)}</Tone>;
  }
  const total = p.totalBytes !== undefined && p.totalBytes > 0 ? p.totalBytes : undefined;
  return (
    <Box flexDirection="column">
      <Tone tone="busy">{fit(`[....]   ${oneLine(p.label)}${p.object ? ` · ${oneLine(p.object)}` : ''}`, columns)}</Tone>
      <Tone>{fit(`  ${bar(total ? p.bytes / total : undefined, 32)} ${phaseFigures(p)}`, columns)}</Tone>
    </Box>
  );
}

/** What a stop leaves, said under the stop question. */
const STOP_NOTE: Record<Job['kind'], string> = {
  restore: '(the staging database is dropped; the target stays as it was)',
  backup: '(nothing half-done is kept)',
  verify: '(nothing half-done is kept)',
  drill: '(its scratch databases are dropped; no other database is touched)',
};

export function WorkScreen(props: { state: State; screen: Extract<Screen, { name: 'work' }>; height: number }) {
  const { state, screen } = props;
  const { columns } = state;
  const running = screen.phases.filter((p) => p.state === 'running');
  const ended = screen.phases.filter((p) => p.state !== 'running');
  const question = screen.ask || screen.stopping ? 2 : 0;
  const logRoom = Math.max(2, Math.min(6, props.height - 2 - question - running.length * 2 - Math.min(ended.length, 3)));
  const phaseRoom = Math.max(2, props.height - 2 - question - logRoom - 1);
  // Running phases first claim the room (two lines each); ended ones fill what is left, newest last.
  const runningShown = running.slice(0, Math.max(1, Math.floor(phaseRoom / 2)));
  const endedRoom = Math.max(0, phaseRoom - runningShown.length * 2 - (ended.length > 0 ? 1 : 0));
  const endedShown = ended.slice(Math.max(0, ended.length - endedRoom));
  const hiddenEnded = ended.length - endedShown.length;
  const what = screen.job.kind;
  return (
    <Box flexDirection="column">
      <Tone bold>{fit(`${screen.job.title} · elapsed ${formatDuration(state.now - screen.startedAt)}`, columns)}</Tone>
      {screen.phases.length === 0 ? <Tone tone="busy">starting...</Tone> : null}
      {hiddenEnded > 0 ? <Tone tone="dim">{`  ${hiddenEnded} earlier phase(s) ended`}</Tone> : null}
      {endedShown.map((p) => (
        <PhaseView key={p.id} p={p} columns={columns} />
      ))}
      {runningShown.map((p) => (
        <PhaseView key={p.id} p={p} columns={columns} />
      ))}
      {running.length > runningShown.length ? <Tone tone="dim">{`  and ${running.length - runningShown.length} more running`}</Tone> : null}
      {screen.ask === 'stop' ? (
        <Box flexDirection="column">
          <Tone tone="warn" bold>{fit(`Stop the ${what}? y: stop now · n: go on · Ctrl-C again: stop at once`, columns)}</Tone>
          <Tone tone="warn">{fit(STOP_NOTE[what], columns)}</Tone>
        </Box>
      ) : screen.ask === 'quit' ? (
        <Box flexDirection="column">
          <Tone tone="warn" bold>{fit(`The ${what} is running. Stop it and quit? y: stop, clean up, quit`, columns)}</Tone>
          <Tone tone="warn">n: go on</Tone>
        </Box>
      ) : screen.stopping ? (
        <Box flexDirection="column">
          <Tone tone="warn" bold>{fit(what === 'drill' ? 'Stopping: ending psql and its child processes, dropping the scratch databases...' : `Stopping: ending psql and the other child processes, dropping staging databases...`, columns)}</Tone>
          <Tone tone="warn">{screen.exitAfter ? 'pg-backups leaves when this is done' : 'the result follows when this is done'}</Tone>
        </Box>
      ) : null}
      <Tone tone="dim">Log:</Tone>
      {screen.log.slice(-logRoom).map((l, i) => (
        <Tone key={i} tone={l.level === 'error' ? 'bad' : l.level === 'warn' ? 'warn' : 'dim'}>
          {fit(`  ${l.level === 'info' ? '' : `${l.level}: `}${oneLine(l.text)}`, columns)}
        </Tone>
      ))}
    </Box>
  );
}

export function ResultScreen(props: { state: State; screen: Extract<Screen, { name: 'result' }> }) {
  const { state, screen } = props;
  const r = screen.result;
  if (r.drill) return <DrillResult state={state} screen={screen} report={r.drill} />;
  const head = r.ok ? `Done: ${screen.job.title}` : r.stopped ? `STOPPED: ${screen.job.title}` : `FAILED: ${screen.job.title}`;
  return (
    <Box flexDirection="column">
      <Tone tone={r.ok ? 'ok' : 'bad'} bold>{fit(head, state.columns)}</Tone>
      {r.error ? <Tone tone="bad" wrap="wrap">{r.error}</Tone> : null}
      <Tone> </Tone>
      {r.lines.map((l, i) => (
        <Tone key={i} wrap="wrap">{l}</Tone>
      ))}
      <Tone> </Tone>
      <Tone tone="dim">{`exit code if you quit now: ${state.exitCode}`}</Tone>
    </Box>
  );
}
