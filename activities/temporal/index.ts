// Temporal itself as an external system: a recurring deploy's workflow asks the environment
// for a deploy the way the CLI does (signal-with-start), which a workflow cannot do itself.
import type { Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { DeployRequest } from '../../contract/requests';
import { sendDeploy } from '../../starters/environment-client';

export function createTemporalActivities(client: Client | undefined, taskQueue: string) {
  return {
    /** Idempotent: the environment drops a deploy id it already knows. */
    async requestDeploy(request: DeployRequest): Promise<void> {
      if (!client) throw ApplicationFailure.nonRetryable('this worker has no Temporal client to request deploys with', 'NoTemporalClient');
      await sendDeploy(client, request, taskQueue);
    },
  };
}
