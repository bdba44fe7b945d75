// The pure half of the prometheus activity: filling queries and judging Prometheus' answers.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { escapePromqlString, fillQuery, judgeQueryResponse } from '../../activities/prometheus/promql';
import { UnsafeInputError } from '../../activities/shell';
import type { QueryVars } from '../../contract/analysis';
import type { FailIf, PrometheusMetric } from '../../contract/spec';

const vars: QueryVars = { app: 'shop', env: 'prod', version: 'v2.1', color: 'green', stableVersion: 'v2.0' };
const metric = (failIf: FailIf = { op: '>', value: 0.05 }): PrometheusMetric => ({
  kind: 'prometheus',
  name: 'error-rate',
  url: 'http://127.0.0.1:9090',
  query: 'q',
  failIf,
});
const vector = (...series: Array<[Record<string, string>, string]>) => ({
  status: 'success',
  data: { resultType: 'vector', result: series.map(([m, v]) => ({ metric: m, value: [1700000000.123, v] })) },
});

describe('fillQuery', () => {
  it('fills every placeholder, with whitespace inside the braces', () => {
    const q = fillQuery('x{app="{{app}}",env="{{ env }}",version="{{version}}",color="{{  color}}"} / y{version="{{stableVersion }}"}', vars);
    assert.equal(q, 'x{app="shop",env="prod",version="v2.1",color="green"} / y{version="v2.0"}');
  });

  it('leaves PromQL braces alone', () => {
    assert.equal(fillQuery('sum by (le) (rate(m{version="{{version}}"}[30s]))', vars), 'sum by (le) (rate(m{version="v2.1"}[30s]))');
  });

  it('escapes values for a PromQL string literal (defence in depth: safe names need none)', () => {
    assert.equal(escapePromqlString(`a\\b"c'd\ne`), `a\\\\b\\"c\\'d\\ne`);
    assert.equal(escapePromqlString('v1.2-rc_3'), 'v1.2-rc_3');
  });

  it('throws on an unknown placeholder, naming it and the known ones', () => {
    assert.throws(
      () => fillQuery('m{host="{{host}}"}', vars),
      (e: unknown) =>
        e instanceof UnsafeInputError &&
        e.message.includes('{{host}}') &&
        ['{{version}}', '{{color}}', '{{app}}', '{{env}}', '{{stableVersion}}'].every((k) => e.message.includes(k)),
    );
    assert.throws(() => fillQuery('m{x="{{constructor}}"}', vars), UnsafeInputError);
  });

  it('rejects a value that is not a safe name, whichever placeholder it fills', () => {
    for (const bad of ['v2"} or vector(1) #', "v2'", 'v2\\', 'v2\nx', '', 'a b']) {
      assert.throws(() => fillQuery('m{version="{{version}}"}', { ...vars, version: bad }), UnsafeInputError, JSON.stringify(bad));
    }
    assert.throws(() => fillQuery('{{app}}', { ...vars, app: 'shop"' }), /query \{\{app\}\}/);
  });

  it('does not check values of placeholders the query does not use', () => {
    assert.equal(fillQuery('up', { ...vars, stableVersion: 'not safe!' }), 'up');
  });
});

describe('judgeQueryResponse', () => {
  it('no series is inconclusive, never a pass', () => {
    const m = judgeQueryResponse(vector(), metric());
    assert.deepEqual(m, { metric: 'error-rate', verdict: 'inconclusive', value: null, threshold: 'fail if > 0.05', detail: 'query returned no series' });
  });

  it('NaN and ±Inf are inconclusive', () => {
    for (const v of ['NaN', '+Inf', '-Inf']) {
      const m = judgeQueryResponse(vector([{}, v]), metric());
      assert.equal(m.verdict, 'inconclusive', v);
      assert.equal(m.value, null);
      assert.match(m.detail, new RegExp(v.replace('+', '\\+')));
    }
  });

  it('a single value passes or fails by the rule', () => {
    assert.deepEqual(judgeQueryResponse(vector([{}, '0.01']), metric()), {
      metric: 'error-rate', verdict: 'pass', value: 0.01, threshold: 'fail if > 0.05', detail: '0.01',
    });
    const failed = judgeQueryResponse(vector([{}, '0.19999999999999998']), metric());
    assert.equal(failed.verdict, 'fail');
    assert.equal(failed.value, 0.19999999999999998);
    assert.equal(failed.detail, '0.2');
  });

  it('several series: any breach fails and reports the breaching (worst) value', () => {
    const m = judgeQueryResponse(vector([{ instance: 'a' }, '0.01'], [{ instance: 'b' }, '0.3'], [{ instance: 'c' }, '0.1']), metric());
    assert.equal(m.verdict, 'fail');
    assert.equal(m.value, 0.3);
    assert.equal(m.detail, '0.3 for {instance="b"} (2 of 3 series breach)');
    const ok = judgeQueryResponse(vector([{ instance: 'a' }, '0.01'], [{ instance: 'b' }, '0.02']), metric());
    assert.equal(ok.verdict, 'pass');
    assert.equal(ok.value, 0.02);
    assert.equal(ok.detail, '0.02 for {instance="b"} (worst of 2 series)');
  });

  it('several series: a breach fails even next to NaN; NaN next to passing ones is inconclusive', () => {
    const failed = judgeQueryResponse(vector([{ instance: 'a' }, 'NaN'], [{ instance: 'b' }, '0.5']), metric());
    assert.equal(failed.verdict, 'fail');
    assert.equal(failed.value, 0.5);
    const unsure = judgeQueryResponse(vector([{ instance: 'a' }, 'NaN'], [{ instance: 'b' }, '0.01']), metric());
    assert.equal(unsure.verdict, 'inconclusive');
    assert.match(unsure.detail, /NaN for \{instance="a"\}.*worst 0\.01/);
  });

  it('"worst" follows the comparator: for < the lowest value counts', () => {
    const m = judgeQueryResponse(vector([{ i: 'a' }, '0.99'], [{ i: 'b' }, '0.97']), metric({ op: '<', value: 0.95 }));
    assert.equal(m.verdict, 'pass');
    assert.equal(m.value, 0.97);
  });

  it('a scalar result is judged like one series', () => {
    const m = judgeQueryResponse({ status: 'success', data: { resultType: 'scalar', result: [1700000000, '7'] } }, metric({ op: '>=', value: 7 }));
    assert.equal(m.verdict, 'fail');
    assert.equal(m.value, 7);
    const nan = judgeQueryResponse({ status: 'success', data: { resultType: 'scalar', result: [1700000000, 'NaN'] } }, metric());
    assert.equal(nan.verdict, 'inconclusive');
  });

  it('an error status is inconclusive with Prometheus’ errorType and error', () => {
    const m = judgeQueryResponse({ status: 'error', errorType: 'bad_data', error: '1:5: parse error: unexpected "}"' }, metric());
    assert.equal(m.verdict, 'inconclusive');
    assert.equal(m.detail, 'Prometheus error bad_data: 1:5: parse error: unexpected "}"');
  });

  it('anything else it cannot read is inconclusive', () => {
    const bodies: unknown[] = [
      null,
      'text',
      [],
      { status: 'success' },
      { status: 'weird', data: {} },
      { status: 'success', data: { resultType: 'matrix', result: [] } },
      { status: 'success', data: { resultType: 'vector', result: [{ metric: {}, value: [1, 2] }] } },
      { status: 'success', data: { resultType: 'vector', result: {} } },
    ];
    for (const b of bodies) assert.equal(judgeQueryResponse(b, metric()).verdict, 'inconclusive', JSON.stringify(b));
  });

  it('each comparator, through breaches()', () => {
    const cases: Array<[FailIf['op'], string, 'pass' | 'fail']> = [
      ['>', '0.06', 'fail'], ['>', '0.05', 'pass'],
      ['>=', '0.05', 'fail'], ['>=', '0.04', 'pass'],
      ['<', '0.04', 'fail'], ['<', '0.05', 'pass'],
      ['<=', '0.05', 'fail'], ['<=', '0.06', 'pass'],
      ['==', '0.05', 'fail'], ['==', '0.06', 'pass'],
      ['!=', '0.06', 'fail'], ['!=', '0.05', 'pass'],
    ];
    for (const [op, v, verdict] of cases) {
      const m = judgeQueryResponse(vector([{}, v]), metric({ op, value: 0.05 }));
      assert.equal(m.verdict, verdict, `${v} ${op} 0.05`);
      assert.equal(m.threshold, `fail if ${op} 0.05`);
      assert.equal(m.value, Number(v));
    }
  });
});
