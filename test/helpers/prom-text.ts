// A strict reader of the Prometheus text exposition format 0.0.4, written from the format's
// description (not from pg-backups' writer): HELP/TYPE lines, samples with escaped label values.
// Throws on anything the format does not allow, so a test that parses /metrics checks its syntax too.

export interface PromSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface PromText {
  samples: PromSample[];
  help: Map<string, string>;
  type: Map<string, string>;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*/;

function unescape(text: string, quoteAllowed: boolean): string {
  return text.replace(/\\(.)/g, (_m, c: string) => {
    if (c === '\\') return '\\';
    if (c === 'n') return '\n';
    if (c === '"' && quoteAllowed) return '"';
    throw new Error(`bad escape \\${c}`);
  });
}

function parseValue(text: string): number {
  if (text === 'NaN') return NaN;
  if (text === '+Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) throw new Error(`bad value ${JSON.stringify(text)}`);
  return Number(text);
}

function parseSample(line: string): PromSample {
  const name = NAME.exec(line)?.[0];
  if (!name) throw new Error(`no metric name in ${JSON.stringify(line)}`);
  let rest = line.slice(name.length);
  const labels: Record<string, string> = {};
  if (rest.startsWith('{')) {
    rest = rest.slice(1);
    while (!rest.startsWith('}')) {
      const label = LABEL.exec(rest)?.[0];
      if (!label || rest[label.length] !== '=' || rest[label.length + 1] !== '"') throw new Error(`bad label in ${JSON.stringify(line)}`);
      rest = rest.slice(label.length + 2);
      let i = 0;
      while (i < rest.length && rest[i] !== '"') i += rest[i] === '\\' ? 2 : 1;
      if (i >= rest.length) throw new Error(`unterminated label value in ${JSON.stringify(line)}`);
      if (label in labels) throw new Error(`label ${label} twice in ${JSON.stringify(line)}`);
      labels[label] = unescape(rest.slice(0, i), true);
      rest = rest.slice(i + 1);
      if (rest.startsWith(',')) rest = rest.slice(1);
      else if (!rest.startsWith('}')) throw new Error(`expected , or } in ${JSON.stringify(line)}`);
    }
    rest = rest.slice(1);
  }
  const parts = rest.trim().split(/[ \t]+/);
  if (!/^[ \t]/.test(rest) || parts.length < 1 || parts.length > 2) throw new Error(`bad sample line ${JSON.stringify(line)}`);
  return { name, labels, value: parseValue(parts[0]!) };
}

export function parsePromText(text: string): PromText {
  if (text !== '' && !text.endsWith('\n')) throw new Error('the exposition does not end with a line feed');
  const out: PromText = { samples: [], help: new Map(), type: new Map() };
  const done = new Set<string>(); // families whose samples ended: they may not start again
  let current: string | undefined;
  for (const line of text.split('\n').slice(0, -1)) {
    const meta = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (meta) {
      const [, kind, name, body] = meta as unknown as [string, 'HELP' | 'TYPE', string, string];
      const map = kind === 'HELP' ? out.help : out.type;
      if (map.has(name)) throw new Error(`${kind} of ${name} twice`);
      if (kind === 'TYPE' && !['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(body)) throw new Error(`bad TYPE ${body}`);
      if (kind === 'TYPE' && out.samples.some((s) => s.name === name)) throw new Error(`TYPE of ${name} after its samples`);
      map.set(name, kind === 'HELP' ? unescape(body, false) : body);
      continue;
    }
    if (line.startsWith('#') || line.trim() === '') continue;
    const sample = parseSample(line);
    if (sample.name !== current) {
      if (current !== undefined) done.add(current);
      if (done.has(sample.name)) throw new Error(`samples of ${sample.name} are not together`);
      current = sample.name;
    }
    out.samples.push(sample);
  }
  return out;
}

/** The value of the one sample of `name` whose labels are exactly `labels`; undefined when none. */
export function sampleValue(parsed: PromText, name: string, labels: Record<string, string> = {}): number | undefined {
  const matches = parsed.samples.filter((s) => s.name === name && JSON.stringify(Object.entries(s.labels).sort()) === JSON.stringify(Object.entries(labels).sort()));
  if (matches.length > 1) throw new Error(`${name} ${JSON.stringify(labels)} appears ${matches.length} times`);
  return matches[0]?.value;
}
