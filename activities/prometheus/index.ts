// The `prometheus` activity: run a canary metric's PromQL query and judge the answer. Trouble
// reaching Prometheus is an inconclusive measurement, not an error: the workflow counts those
// against the metric's inconclusiveLimit instead of retrying the activity.
import { ApplicationFailure } from '@temporalio/common';
import { describeFailIf, type Measurement, type QueryVars } from '../../contract/analysis';
import { ACTIVITY_ERROR } from '../../contract/failures';
import type { PrometheusMetric } from '../../contract/spec';
import { UnsafeInputError } from '../shell';
import { fillQuery, judgeQueryResponse } from './promql';

export interface PrometheusDeps {
  fetch?: typeof fetch;
  /** Per query; default 5 s. */
  timeoutMs?: number;
}

export interface MeasurePrometheusInput {
  metric: PrometheusMetric;
  vars: QueryVars;
}

function queryUrl(base: string, query: string): URL {
  const url = new URL('api/v1/query', base.endsWith('/') ? base : `${base}/`);
  url.searchParams.set('query', query);
  return url;
}

function why(err: unknown, timeoutMs: number): string {
  if (err instanceof Error && err.name === 'TimeoutError') return `no answer within ${timeoutMs} ms`;
  const cause = err instanceof Error ? err.cause : undefined;
  if (cause instanceof Error) return 'code' in cause && typeof cause.code === 'string' ? cause.code : cause.message;
  return err instanceof Error ? err.message : String(err);
}

export function createPrometheusActivities(deps: PrometheusDeps = {}) {
  const doFetch = deps.fetch ?? fetch;
  const timeoutMs = deps.timeoutMs ?? 5000;
  return {
    async measurePrometheus(input: MeasurePrometheusInput): Promise<Measurement> {
      const { metric } = input;
      let query: string;
      try {
        query = fillQuery(metric.query, input.vars);
      } catch (err) {
        if (err instanceof UnsafeInputError) throw ApplicationFailure.nonRetryable(err.message, ACTIVITY_ERROR.unsafeInput);
        throw err;
      }
      const inconclusive = (detail: string): Measurement => ({
        metric: metric.name,
        verdict: 'inconclusive',
        value: null,
        threshold: describeFailIf(metric.failIf),
        detail,
      });
      let status: number;
      let text: string;
      try {
        const res = await doFetch(queryUrl(metric.url, query), { signal: AbortSignal.timeout(timeoutMs) });
        status = res.status;
        text = await res.text();
      } catch (err) {
        return inconclusive(`Prometheus at ${metric.url} unreachable: ${why(err, timeoutMs)}`);
      }
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        return inconclusive(`HTTP ${status} from Prometheus with an unparseable body: ${JSON.stringify(text.slice(0, 200))}`);
      }
      // Prometheus answers query errors (4xx/5xx) with a JSON error body; judge that for its message.
      const isErrorBody = typeof body === 'object' && body !== null && 'status' in body && body.status === 'error';
      if ((status < 200 || status > 299) && !isErrorBody) return inconclusive(`HTTP ${status} from Prometheus`);
      return judgeQueryResponse(body, metric);
    },
  };
}

export type PrometheusActivities = ReturnType<typeof createPrometheusActivities>;
