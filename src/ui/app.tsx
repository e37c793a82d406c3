// The session: the reducer's state drawn by SessionView, keys turned into actions, and the work the
// state asks for started through the core services. Every piece of work has an AbortController
// owned by the effect that started it: leaving its screen (or unmounting) aborts it.
import { useEffect, useReducer, useRef } from 'react';
import { useInput, useStdout } from 'ink';
import { describeProgress } from '../core/progress.js';
import { AbortedError, messageOf } from '../core/errors.js';
import { redact } from '../core/secrets.js';
import type { SourceKind } from '../core/source.js';
import { formatBytes } from './format.js';
import { runJob } from './jobs.js';
import type { UiServices } from './services.js';
import type { SessionLog } from './session-log.js';
import type { Action } from './state/actions.js';
import { splitBurst } from './state/keys.js';
import { initialState, reduce } from './state/reducer.js';
import { copyOf, current, findRow } from './state/select.js';
import type { Screen, State } from './state/types.js';
import { SessionView } from './screens/session-view.js';

export interface AppProps {
  services: UiServices;
  log: SessionLog;
  /** Aborted by SIGINT/SIGTERM from outside: stop the work, clean up, leave. */
  signal?: AbortSignal;
  onExit(code: number, history: string[]): void;
  /** Ticks of the clock (ages, elapsed time, spinners); tests pass 0 for none. */
  tickMs?: number;
}

const PROGRESS_LOG_MS = 5000;

export function App(props: AppProps) {
  const { services, log } = props;
  const { stdout } = useStdout();
  const [state, dispatch] = useReducer(reduce, undefined, () =>
    initialState({
      serverWhere: services.serverWhere,
      serverAddress: services.serverAddress,
      drillWhere: services.drillWhere,
      sources: services.sources,
      columns: stdout.columns || 80,
      rows: stdout.rows || 24,
      now: Date.now(),
    }),
  );
  const stateRef = useRef<State>(state);
  stateRef.current = state;

  useInput((input, key) => {
    for (const k of splitBurst(input, key)) dispatch({ type: 'key', input: k.input, key: k.key });
  });

  // The terminal's size, and its changes.
  useEffect(() => {
    const onResize = () => dispatch({ type: 'resize', columns: stdout.columns || 80, rows: stdout.rows || 24 });
    stdout.on('resize', onResize);
    return () => {
      stdout.off('resize', onResize);
    };
  }, [stdout]);

  // The clock.
  useEffect(() => {
    const ms = props.tickMs ?? 250;
    if (ms <= 0) return;
    const timer = setInterval(() => dispatch({ type: 'tick', now: Date.now() }), ms);
    return () => clearInterval(timer);
  }, [props.tickMs]);

  // A signal from outside: stop the work (with its cleanup), then leave.
  useEffect(() => {
    const signal = props.signal;
    if (!signal) return;
    const onAbort = () => dispatch({ type: 'terminate' });
    if (signal.aborted) onAbort();
    signal.addEventListener('abort', onAbort);
    return () => signal.removeEventListener('abort', onAbort);
  }, [props.signal]);

  // The server and every source, listed at once; each answers on its own.
  useEffect(() => {
    const controller = new AbortController();
    const { signal } = controller;
    const answer = (a: Action) => {
      if (!signal.aborted) dispatch(a);
    };
    services.inspect().then(
      (s) => answer({ type: 'server-loaded', version: s.version, superuser: s.superuser, databases: s.databases }),
      (err) => {
        log.write('warn', `target server ${services.serverWhere} not reachable: ${messageOf(err)}`);
        answer({ type: 'server-failed', error: redact(messageOf(err)) });
      },
    );
    for (const source of services.sources) {
      services.list(source.kind, signal).then(
        (entries) => {
          log.write('info', `${source.kind}:${source.location}: ${entries.length} backup(s)`);
          answer({ type: 'source-loaded', kind: source.kind, entries });
        },
        (err) => {
          if (signal.aborted) return;
          log.write('warn', `cannot list ${source.kind}:${source.location}: ${messageOf(err)}`);
          answer({ type: 'source-failed', kind: source.kind, error: redact(messageOf(err)) });
        },
      );
    }
    return () => controller.abort();
  }, [state.loadId, services, log]);

  // The plan of the plan screen, while it is open.
  const planning = state.stack.find((s): s is Extract<Screen, { name: 'plan' }> => s.name === 'plan' && !s.plan && !s.error);
  useEffect(() => {
    if (!planning) return;
    const controller = new AbortController();
    const { id, choice } = planning;
    const entry = entryFor(stateRef.current, choice.folder, choice.copy);
    if (!entry) {
      dispatch({ type: 'plan-failed', id, error: `backup ${choice.folder} is no longer listed on ${choice.copy}` });
      return;
    }
    services.plan(choice, entry, controller.signal).then(
      (plan) => {
        log.write('info', `plan of ${JSON.stringify(choice)}: ${plan.ok ? 'would start' : `refused: ${plan.refusals.map((r) => r.message).join('; ')}`}`);
        if (!controller.signal.aborted) dispatch({ type: 'plan-ready', id, plan });
      },
      (err) => {
        if (controller.signal.aborted) return;
        log.write('error', `plan failed: ${messageOf(err)}`);
        dispatch({ type: 'plan-failed', id, error: redact(messageOf(err)) });
      },
    );
    return () => controller.abort(new AbortedError('the plan screen was left'));
  }, [planning?.id, services, log]); // eslint-disable-line react-hooks/exhaustive-deps

  // The tables of a custom-format backup, while the pick list is open.
  const picking = state.stack.find((s): s is Extract<Screen, { name: 'pick-tables' }> => s.name === 'pick-tables' && !s.tables && !s.error);
  useEffect(() => {
    if (!picking) return;
    const controller = new AbortController();
    const { id, choice } = picking;
    const entry = entryFor(stateRef.current, choice.folder, choice.copy);
    if (!entry) {
      dispatch({ type: 'tables-failed', id, error: `backup ${choice.folder} is no longer listed on ${choice.copy}` });
      return;
    }
    services.tables(choice, entry, controller.signal).then(
      (tables) => {
        if (!controller.signal.aborted) dispatch({ type: 'tables-ready', id, tables });
      },
      (err) => {
        if (controller.signal.aborted) return;
        log.write('error', `reading the tables of ${choice.folder} failed: ${messageOf(err)}`);
        dispatch({ type: 'tables-failed', id, error: redact(messageOf(err)) });
      },
    );
    return () => controller.abort(new AbortedError('the pick list was left'));
  }, [picking?.id, services, log]); // eslint-disable-line react-hooks/exhaustive-deps

  // The job of the work screen. Its controller is aborted by "stop" and when the screen goes away.
  const top = current(state);
  const work = top.name === 'work' ? top : undefined;
  const jobController = useRef<AbortController | undefined>(undefined);
  useEffect(() => {
    if (!work) return;
    const controller = new AbortController();
    jobController.current = controller;
    const job = work.job;
    const entry = job.kind === 'verify' ? entryFor(stateRef.current, job.folder, job.copy) : undefined;
    log.write('info', `started: ${job.title}`);
    const lastLogged = new Map<string, number>();
    void runJob(job, {
      services,
      signal: controller.signal,
      entry,
      logPath: log.path,
      onProgress: (p) => {
        const t = Date.now();
        if (p.state !== 'running' || t - (lastLogged.get(p.id) ?? 0) >= PROGRESS_LOG_MS) {
          lastLogged.set(p.id, t);
          log.write('info', `${p.state === 'running' ? '' : `${p.state}: `}${describeProgress(p, formatBytes)}`);
        }
        dispatch({ type: 'job-progress', id: job.id, progress: p });
      },
      onLog: (line) => {
        log.write(line.level, line.text);
        dispatch({ type: 'job-log', id: job.id, line });
      },
    }).then((result) => {
      log.write(result.ok ? 'info' : 'error', `${result.ok ? 'finished' : result.stopped ? 'stopped' : 'failed'}: ${job.title}${result.error ? `: ${result.error}` : ''}`);
      for (const line of result.lines) log.write('info', line);
      dispatch({ type: 'job-done', id: job.id, result });
    });
    return () => controller.abort(new AbortedError('the screen of the work was left'));
  }, [work?.job.id, services, log]); // eslint-disable-line react-hooks/exhaustive-deps

  const stopping = work?.stopping ?? false;
  useEffect(() => {
    if (stopping) {
      log.write('warn', 'stop asked for: stopping the work and cleaning up');
      jobController.current?.abort(new AbortedError('stopped by the operator'));
    }
  }, [stopping, log]);

  // The end of the session.
  useEffect(() => {
    if (state.exit !== undefined) props.onExit(state.exit, state.history);
  }, [state.exit]); // eslint-disable-line react-hooks/exhaustive-deps

  return <SessionView state={state} logPath={log.path} />;
}

function entryFor(state: State, folder: string, copy: SourceKind) {
  const row = findRow(state, folder);
  return row ? copyOf(row, copy)?.entry : undefined;
}
