// `cutover failback <site>`, `failback/<site>/<id>`: after a failover, bring the service back to
// its configured primary. Re-seed the old primary as a standby of the promoted one (its
// `fence.reseed`, a fresh pg_basebackup; skipped when it already is a standby), wait until it
// has caught up, then run the same failover workflow the other way round as a child: fence the
// promoted standby, gate, promote the old primary, start its app servers, DNS back, smoke test.
import { ApplicationFailure, executeChild, sleep, workflowInfo } from '@temporalio/workflow';
import { FAILOVER_FAILURE, failoverRequestSchema, failoverWorkflowId, reversedSpec, type FailbackResult, type FailoverRequest } from '../contract/failover';
import { ACTIVITY_ERROR } from '../contract/failures';
import { failoverWorkflow } from './failover';
import { dbOps } from './steps/failover-activities';
import { Journal } from './steps/journal';

const CATCH_UP_LIMIT_MS = 30 * 60_000;

export async function failbackWorkflow(raw: FailoverRequest): Promise<FailbackResult> {
  const parsed = failoverRequestSchema.safeParse(raw);
  if (!parsed.success) {
    throw ApplicationFailure.create({ type: ACTIVITY_ERROR.unsafeInput, nonRetryable: true, message: `failback request: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}` });
  }
  const req = parsed.data;
  const { primary, standby } = req.spec;
  const journal = new Journal(req.spec.slack?.channel, workflowInfo().workflowId, { app: req.spec.site, env: primary.name, enabled: req.spec.audit === true, operation: 'failback', version: null, actor: req.by });

  journal.step('reseed', `re-seeding ${primary.name} as a standby of ${standby.name}`);
  const reseed = await dbOps.pgReseed.executeWithOptions({ summary: `re-seed ${primary.name} from ${standby.name}` }, [{ fence: primary.fence, database: primary.database, source: standby.database }]);
  journal.step('reseed', reseed.detail);

  const started = Date.now();
  for (;;) {
    const lag = await dbOps.pgLag.executeWithOptions({ summary: `${primary.name} catching up with ${standby.name}` }, [{ standby: primary.database, primary: standby.database }]);
    if (lag.bytes === 0) break;
    if (Date.now() - started > CATCH_UP_LIMIT_MS) {
      throw ApplicationFailure.create({ type: FAILOVER_FAILURE.lagTooHigh, nonRetryable: true, message: `${primary.name} is still ${lag.bytes ?? '?'} bytes behind ${standby.name} after ${CATCH_UP_LIMIT_MS / 60_000} min; nothing was switched` });
    }
    journal.step('catch-up', `${primary.name} is ${lag.bytes ?? '?'} bytes behind`);
    await sleep(1000);
  }
  const catchUpMs = Date.now() - started;
  journal.step('switch', `${primary.name} caught up in ${catchUpMs} ms; failing over back to it`);

  const id = `failback-${req.id}`;
  const failover = await executeChild(failoverWorkflow, {
    workflowId: failoverWorkflowId(req.spec.site, id),
    args: [{ ...req, spec: reversedSpec(req.spec), id }],
  });
  return { reseeded: reseed.reseeded, catchUpMs, failover };
}
