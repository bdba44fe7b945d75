// Prometheus over the fake world: a metric has a value for a version only while that version
// takes traffic somewhere (no traffic: no series, inconclusive), judged by the metric's rule.
import type { PrometheusActivities } from '../../../activities/prometheus';
import { breaches, describeFailIf } from '../../../contract';
import type { FakeWorld } from './world';

export function fakePrometheus(world: FakeWorld): PrometheusActivities {
  return {
    async measurePrometheus({ metric, vars }) {
      world.log({ op: 'measure', host: metric.name, version: vars.version });
      const threshold = describeFailIf(metric.failIf);
      if (world.prometheusDown) return { metric: metric.name, verdict: 'inconclusive', value: null, threshold, detail: 'Prometheus unreachable' };
      const value = world.metrics.get(metric.name)?.get(vars.version);
      if (value === undefined || !world.takesTraffic(vars.version)) {
        return { metric: metric.name, verdict: 'inconclusive', value: null, threshold, detail: 'query returned no series' };
      }
      return { metric: metric.name, verdict: breaches(metric.failIf, value) ? 'fail' : 'pass', value, threshold, detail: `${vars.version}: ${value}` };
    },
  };
}
