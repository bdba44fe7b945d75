// The `codedeploy` activity over @aws-sdk/client-codedeploy: put a version on a colour's
// deployment group and wait for CodeDeploy to finish, heartbeating. The deployment's id is kept
// in the heartbeat, so a retry on another worker resumes watching it instead of starting a
// second one. Cancelled or out of time: the deployment is stopped with auto-rollback.
import { Context } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import {
  BatchGetDeploymentTargetsCommand,
  CodeDeployClient,
  CreateDeploymentCommand,
  GetDeploymentCommand,
  ListDeploymentTargetsCommand,
  StopDeploymentCommand,
} from '@aws-sdk/client-codedeploy';
import type { AwsPlatform } from '../../contract/aws';
import type { Color } from '../../contract/spec';
import { awsCall } from '../aws/errors';
import { createDeploymentRequest, deploymentState, failedHook } from './requests';
import { pollDelay } from '../aws/poll';
import { perRegion } from '../aws/clients';

export const CODEDEPLOY_ERROR = { failed: 'CodeDeployFailed', timedOut: 'CodeDeployTimedOut' } as const;

export interface CodeDeployDeps {
  client?: (region: string) => CodeDeployClient;
}

export interface CodeDeployInput {
  platform: AwsPlatform;
  color: Color;
  version: string;
  /** Shown in the CodeDeploy console: who deploys what, from which cutover deploy. */
  description: string;
}
export interface CodeDeployResult {
  deploymentId: string;
  status: string;
  ms: number;
}

interface Progress {
  deploymentId: string;
  status: string;
}

export function createCodeDeployActivities(deps: CodeDeployDeps = {}) {
  const client = perRegion((region) => deps.client?.(region) ?? new CodeDeployClient({ region, maxAttempts: 4 }));

  async function whyFailed(c: CodeDeployClient, deploymentId: string): Promise<string | undefined> {
    try {
      const ids = await c.send(new ListDeploymentTargetsCommand({ deploymentId }));
      if (!ids.targetIds?.length) return undefined;
      const targets = await c.send(new BatchGetDeploymentTargetsCommand({ deploymentId, targetIds: ids.targetIds.slice(0, 25) }));
      return failedHook(targets.deploymentTargets);
    } catch {
      return undefined;
    }
  }

  return {
    async codeDeploy(input: CodeDeployInput): Promise<CodeDeployResult> {
      const ctx = Context.current();
      const { platform } = input;
      const c = client(platform.region);
      const started = Date.now();
      const resumed = ctx.info.heartbeatDetails as Progress | undefined;
      let deploymentId = resumed?.deploymentId;
      if (!deploymentId) {
        const created = await awsCall('CreateDeployment', () => c.send(new CreateDeploymentCommand(createDeploymentRequest(platform, input.color, input.version, input.description))));
        deploymentId = created.deploymentId!;
      }
      const id = deploymentId;
      ctx.heartbeat({ deploymentId: id, status: 'Created' } satisfies Progress);
      const stop = (why: string) =>
        awsCall('StopDeployment', () => c.send(new StopDeploymentCommand({ deploymentId: id, autoRollbackEnabled: true }))).then(
          () => ctx.log.info('stopped CodeDeploy deployment with auto-rollback', { deploymentId: id, why }),
          (err: unknown) => ctx.log.warn('could not stop CodeDeploy deployment', { deploymentId: id, error: String(err) }),
        );
      const deadline = started + platform.deployTimeoutMs;
      let polls = 0;
      try {
        for (;;) {
          const got = await awsCall('GetDeployment', () => c.send(new GetDeploymentCommand({ deploymentId: id })));
          const state = deploymentState(got.deploymentInfo);
          ctx.heartbeat({ deploymentId: id, status: state.status } satisfies Progress);
          if (state.done && state.succeeded) return { deploymentId: id, status: state.status, ms: Date.now() - started };
          if (state.done) {
            const hook = await whyFailed(c, id);
            throw ApplicationFailure.create({
              type: CODEDEPLOY_ERROR.failed,
              nonRetryable: true,
              message: `CodeDeploy deployment ${id} of ${input.version} to ${platform.deploymentGroups[input.color]} ${state.status.toLowerCase()}: ${hook ?? state.reason}`,
              details: [{ deploymentId: id, status: state.status }],
            });
          }
          if (Date.now() >= deadline) {
            await stop('timeout');
            throw ApplicationFailure.create({
              type: CODEDEPLOY_ERROR.timedOut,
              nonRetryable: true,
              message: `CodeDeploy deployment ${id} still ${state.status} after ${platform.deployTimeoutMs} ms; stopped it with auto-rollback`,
              details: [{ deploymentId: id, status: state.status }],
            });
          }
          await ctx.sleep(pollDelay(polls++, platform.pollIntervalMs));
        }
      } catch (err) {
        if (err instanceof CancelledFailure || ctx.cancellationSignal.aborted) await stop('cancelled');
        throw err;
      }
    },
  };
}
