// Pure helpers for the prometheus activity: fill a canary query's placeholders, and judge the
// Prometheus HTTP API's answer (`/api/v1/query`) against the metric's rule. No I/O.
import { breaches, describeFailIf, type Measurement, type QueryVars } from '../../contract/analysis';
import type { FailIf, PrometheusMetric } from '../../contract/spec';
import { assertSafeName, UnsafeInputError } from '../shell';

const PLACEHOLDERS = ['version', 'color', 'app', 'env', 'stableVersion'] as const;
type Placeholder = (typeof PLACEHOLDERS)[number];
const isPlaceholder = (k: string): k is Placeholder => (PLACEHOLDERS as readonly string[]).includes(k);

/** Escape for a PromQL "..." or '...' string literal (the value may sit inside either). */
export const escapePromqlString = (s: string): string =>
  s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/'/g, "\\'").replace(/\n/g, '\\n');

/** Fill `{{version}}`, `{{color}}`, `{{app}}`, `{{env}}`, `{{stableVersion}}`; anything else throws. */
export function fillQuery(template: string, vars: QueryVars): string {
  return template.replace(/\{\{([^{}]*)\}\}/g, (_m, inner: string) => {
    const key = inner.trim();
    if (!isPlaceholder(key)) {
      throw new UnsafeInputError(
        `unknown placeholder {{${key}}} in query ${JSON.stringify(template)}; known: ${PLACEHOLDERS.map((k) => `{{${k}}}`).join(', ')}`,
      );
    }
    return escapePromqlString(assertSafeName(`query {{${key}}}`, vars[key]));
  });
}

interface Sample {
  labels: Record<string, string>;
  raw: string;
  value: number;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** `[ts, "1.5"]` → its value string, or undefined. */
const sampleValue = (v: unknown): string | undefined => (Array.isArray(v) && typeof v[1] === 'string' ? v[1] : undefined);

function labelsOf(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (isRecord(v)) for (const [k, l] of Object.entries(v)) if (typeof l === 'string') out[k] = l;
  return out;
}

/** The samples of a vector or scalar result, or a reason why there are none to judge. */
function samplesOf(data: unknown): Sample[] | string {
  if (!isRecord(data)) return 'response has no data';
  const { resultType, result } = data;
  const toSample = (labels: Record<string, string>, raw: string | undefined): Sample | undefined =>
    raw === undefined ? undefined : { labels, raw, value: Number(raw) };
  if (resultType === 'scalar') {
    const s = toSample({}, sampleValue(result));
    return s ? [s] : 'malformed scalar result';
  }
  if (resultType !== 'vector') return `query returned a ${String(resultType)}, not an instant vector or scalar`;
  if (!Array.isArray(result)) return 'malformed vector result';
  const samples: Sample[] = [];
  for (const r of result) {
    const s = isRecord(r) ? toSample(labelsOf(r.metric), sampleValue(r.value)) : undefined;
    if (!s) return 'malformed vector result';
    samples.push(s);
  }
  return samples;
}

/** Higher is worse: the value nearest to (or furthest past) breaching the rule. */
function badness(f: FailIf, v: number): number {
  switch (f.op) {
    case '>':
    case '>=':
      return v;
    case '<':
    case '<=':
      return -v;
    case '==':
      return -Math.abs(v - f.value);
    case '!=':
      return Math.abs(v - f.value);
  }
}

const fmt = (v: number): string => String(Number(v.toPrecision(4)));
const seriesName = (labels: Record<string, string>): string => {
  const parts = Object.entries(labels).map(([k, v]) => `${k}=${JSON.stringify(v)}`);
  return parts.length ? ` for {${parts.join(',')}}` : '';
};

/** Judge a `/api/v1/query` JSON body. No data is never a pass; any breaching series fails. */
export function judgeQueryResponse(body: unknown, metric: PrometheusMetric): Measurement {
  const threshold = describeFailIf(metric.failIf);
  const inconclusive = (detail: string): Measurement => ({ metric: metric.name, verdict: 'inconclusive', value: null, threshold, detail });
  if (!isRecord(body)) return inconclusive('unparseable Prometheus response');
  if (body.status === 'error') {
    return inconclusive(`Prometheus error ${String(body.errorType ?? 'unknown')}: ${String(body.error ?? '(no message)')}`);
  }
  if (body.status !== 'success') return inconclusive(`unexpected Prometheus status ${JSON.stringify(body.status)}`);
  const samples = samplesOf(body.data);
  if (typeof samples === 'string') return inconclusive(samples);
  if (samples.length === 0) return inconclusive('query returned no series');

  const byBadness = (a: Sample, b: Sample): number => badness(metric.failIf, b.value) - badness(metric.failIf, a.value);
  const finite = samples.filter((s) => Number.isFinite(s.value)).sort(byBadness);
  const breaching = finite.filter((s) => breaches(metric.failIf, s.value));
  const several = samples.length > 1;
  const fail = breaching[0];
  if (fail) {
    const n = several ? ` (${breaching.length} of ${samples.length} series breach)` : '';
    return { metric: metric.name, verdict: 'fail', value: fail.value, threshold, detail: `${fmt(fail.value)}${seriesName(fail.labels)}${n}` };
  }
  const worst = finite[0];
  const noNumber = samples.find((s) => !Number.isFinite(s.value));
  if (noNumber || !worst) {
    // e.g. 0/0 when the version has no traffic yet: there is no number to judge.
    const others = worst ? `; the other series pass (worst ${fmt(worst.value)})` : '';
    return inconclusive(`value is ${noNumber?.raw ?? 'missing'}${seriesName(noNumber?.labels ?? {})}${others}`);
  }
  const of = several ? ` (worst of ${samples.length} series)` : '';
  return { metric: metric.name, verdict: 'pass', value: worst.value, threshold, detail: `${fmt(worst.value)}${seriesName(worst.labels)}${of}` };
}
