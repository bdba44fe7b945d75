// The delayed stop of the colour a deploy replaced, a child of the environment workflow that
// runs when the teardown window closes: stop the old colour, unless some router still serves
// it (the hosts are the truth).
import type { TeardownInput, TeardownResult } from '../contract/api';
import { Journal } from './steps/journal';
import { teardownOps } from './steps/teardown';

export async function teardownWorkflow({ plan, previous }: TeardownInput): Promise<TeardownResult> {
  const journal = new Journal(undefined, `${previous.replacedBy}:teardown`, { app: plan.app, env: plan.env, enabled: plan.audit === true, operation: 'teardown', version: previous.version, actor: null });
  const result = await teardownOps(plan, previous, `${previous.replacedBy}:teardown`);
  journal.record('torn-down', {
    outcome: result.outcome,
    message: result.outcome === 'succeeded' ? `stopped ${previous.color} (${previous.version}); rollback window closed` : (result.reason ?? result.outcome),
    detail: { color: previous.color, replacedBy: previous.replacedBy },
  });
  return result;
}
