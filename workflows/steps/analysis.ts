// The canary's analysis: every metric measured at once, each measurement an activity; a metric
// that fails `failureLimit` times in a row, or is inconclusive `inconclusiveLimit` times in a
// row, ends the canary.
import { isCancellation } from '@temporalio/workflow';
import type { Measurement, QueryVars } from '../../contract/analysis';
import { describeFailIf } from '../../contract/analysis';
import { isAwsPlan } from '../../contract/plan-kinds';
import type { AnalysisSpec, Color, HttpMetric, MetricSpec, Plan } from '../../contract/spec';
import { analysisOps } from './activities';
import { onEveryHost, sshOnly } from './hosts';
import { reasonOf } from './journal';

export interface Breach {
  metric: string;
  /** Why, with the measured values, e.g. `error-rate = 0.2 (fail if > 0.01), 1 time(s) in a row`. */
  reason: string;
  measurements: Measurement[];
}

/** 0.2 → `0.2`, 0.012345 → `0.0123`, 1234.5 → `1235` (not `0.200` or `1.23e+3`). */
const fmt = (v: number | null): string =>
  v === null ? 'no value' : Number.isInteger(v) || Math.abs(v) >= 1000 ? String(Math.round(v)) : String(Number(v.toPrecision(3)));
export const describeMeasurement = (m: Measurement): string => `${m.metric} = ${fmt(m.value)} (${m.threshold}): ${m.verdict}`;

const thresholdOf = (m: MetricSpec): string => (m.kind === 'http' ? `HTTP ${m.expectStatus} on every host` : describeFailIf(m.failIf));

export class Analysis {
  private readonly streaks = new Map<string, { fail: number; inconclusive: number; last: Measurement[] }>();

  constructor(
    private readonly spec: AnalysisSpec,
    private readonly plan: Plan,
  ) {}

  get hasMetrics(): boolean {
    return this.spec.metrics.length > 0;
  }

  /** Measure every metric once, at the same time; returns the measurements and a breach, if any. */
  async measure(vars: QueryVars, color: Color): Promise<{ measurements: Measurement[]; breach: Breach | null }> {
    const measurements = await Promise.all(this.spec.metrics.map((m) => this.measureOne(m, vars, color)));
    let breach: Breach | null = null;
    // Streaks carry over from one step to the next. An inconclusive measurement does not reset
    // a metric's failure streak (fail, no data, fail is two failures in a row): no data is not
    // evidence that the canary got better.
    for (const m of measurements) {
      const s = this.streaks.get(m.metric) ?? { fail: 0, inconclusive: 0, last: [] };
      if (m.verdict === 'pass') Object.assign(s, { fail: 0, inconclusive: 0, last: [] });
      else if (m.verdict === 'fail') Object.assign(s, { fail: s.fail + 1, inconclusive: 0, last: [...s.last, m] });
      else Object.assign(s, { inconclusive: s.inconclusive + 1, last: [...s.last, m] });
      this.streaks.set(m.metric, s);
      if (breach) continue;
      if (s.fail >= this.spec.failureLimit) {
        breach = { metric: m.metric, measurements: s.last, reason: `${describeMeasurement(m)}, ${s.fail} failed measurement(s) in a row (limit ${this.spec.failureLimit}): ${m.detail}` };
      } else if (s.inconclusive >= this.spec.inconclusiveLimit) {
        breach = { metric: m.metric, measurements: s.last, reason: `${m.metric} inconclusive ${s.inconclusive} time(s) in a row (limit ${this.spec.inconclusiveLimit}): ${m.detail}` };
      }
    }
    return { measurements, breach };
  }

  private async measureOne(metric: MetricSpec, vars: QueryVars, color: Color): Promise<Measurement> {
    const threshold = thresholdOf(metric);
    try {
      if (metric.kind === 'prometheus') {
        return await analysisOps.measurePrometheus.executeWithOptions({ summary: `measure ${metric.name} of ${vars.version} (${threshold})` }, [{ metric, vars }]);
      }
      if (metric.kind === 'cloudwatch') {
        const plan = this.plan;
        if (!isAwsPlan(plan)) throw new Error(`${metric.name}: a cloudwatch metric needs the aws platform with an alb router`);
        return await analysisOps.measureCloudWatch.executeWithOptions({ summary: `measure ${metric.name} of ${vars.version} in CloudWatch (${threshold})` }, [
          { metric, region: plan.platform.region, router: plan.router, color },
        ]);
      }
      return combine(metric, await this.probeEveryHost(metric, color, vars.version));
    } catch (err) {
      // A cancelled canary (a rollback) is not a measurement that could not be made.
      if (isCancellation(err)) throw err;
      return { metric: metric.name, verdict: 'inconclusive', value: null, threshold, detail: `could not measure: ${reasonOf(err)}` };
    }
  }

  private probeEveryHost(metric: HttpMetric, color: Color, version: string): Promise<Measurement[]> {
    const slots = sshOnly(this.plan).platform.slots;
    return onEveryHost(this.plan, (host) =>
      analysisOps.probeSlot.executeWithOptions({ summary: `measure ${metric.name} of ${version} on ${host.name} (HTTP ${metric.expectStatus})` }, [{ host, slots, color, metric }]),
    );
  }
}

/** One verdict for an HTTP metric over every host: any fail fails, else any inconclusive. */
function combine(metric: HttpMetric, perHost: Measurement[]): Measurement {
  const worst = perHost.find((m) => m.verdict === 'fail') ?? perHost.find((m) => m.verdict === 'inconclusive') ?? perHost[0];
  return {
    metric: metric.name,
    verdict: worst?.verdict ?? 'inconclusive',
    value: worst?.value ?? null,
    threshold: thresholdOf(metric),
    detail: perHost.map((m) => m.detail).join('; '),
  };
}
