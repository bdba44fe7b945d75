// The delayed stop of the colour a deploy replaced, a child of the environment workflow that
// runs when the teardown window closes: stop the old colour, unless some router still serves
// it (the hosts are the truth).
import type { TeardownInput, TeardownResult } from '../contract/api';
import { teardownOps } from './steps/teardown';

export async function teardownWorkflow({ plan, previous }: TeardownInput): Promise<TeardownResult> {
  return teardownOps(plan, previous, `${previous.replacedBy}:teardown`);
}
