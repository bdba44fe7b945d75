// Pure builders and readers for CodeDeploy: the revision of a version (from the platform's S3
// template), the CreateDeployment request for a colour, and what a GetDeployment answer means.
import type { CreateDeploymentInput, DeploymentInfo, DeploymentTarget, RevisionLocation } from '@aws-sdk/client-codedeploy';
import type { AwsPlatform } from '../../contract/aws';
import type { Color } from '../../contract/spec';

/** `s3://bucket/shop/{{version}}.zip` + `1.2.3` → S3 revision `bucket`, `shop/1.2.3.zip`, bundle zip. */
export function revisionFor(template: string, version: string): RevisionLocation {
  const filled = template.replaceAll('{{version}}', version);
  const m = /^s3:\/\/([^/]+)\/(.+)$/.exec(filled);
  if (!m) throw new Error(`revision ${JSON.stringify(template)} is not an S3 location like s3://bucket/app/{{version}}.zip`);
  const key = m[2]!;
  const bundleType = key.endsWith('.zip') ? 'zip' : key.endsWith('.tar') ? 'tar' : 'tgz';
  return { revisionType: 'S3', s3Location: { bucket: m[1]!, key, bundleType } };
}

export function createDeploymentRequest(platform: AwsPlatform, color: Color, version: string, description: string): CreateDeploymentInput {
  return {
    applicationName: platform.application,
    deploymentGroupName: platform.deploymentGroups[color],
    revision: revisionFor(platform.revision, version),
    description: description.slice(0, 100),
    // Whatever CodeDeploy left on the instances is replaced: the idle colour is ours to overwrite.
    fileExistsBehavior: 'OVERWRITE',
    autoRollbackConfiguration: { enabled: true, events: ['DEPLOYMENT_FAILURE', 'DEPLOYMENT_STOP_ON_REQUEST'] },
  };
}

export type DeploymentState =
  | { done: false; status: string; overview: string }
  | { done: true; succeeded: true; status: 'Succeeded'; overview: string }
  | { done: true; succeeded: false; status: string; reason: string; overview: string };

/** Where a deployment stands, from GetDeployment's deploymentInfo. */
export function deploymentState(info: DeploymentInfo | undefined): DeploymentState {
  const status = info?.status ?? 'Unknown';
  const o = info?.deploymentOverview;
  const overview = o ? `${o.Succeeded ?? 0} succeeded, ${o.InProgress ?? 0} in progress, ${o.Pending ?? 0} pending, ${o.Failed ?? 0} failed` : '';
  if (status === 'Succeeded') return { done: true, succeeded: true, status, overview };
  if (status === 'Failed' || status === 'Stopped') {
    const e = info?.errorInformation;
    return { done: true, succeeded: false, status, reason: e ? `${e.code ?? 'Error'}: ${e.message ?? ''}`.trim() : status, overview };
  }
  return { done: false, status, overview };
}

/** The first failed lifecycle hook among the deployment's targets: `i-123 ValidateService: ScriptFailed: ...`. */
export function failedHook(targets: readonly DeploymentTarget[] | undefined): string | undefined {
  for (const t of targets ?? []) {
    const it = t.instanceTarget;
    const ev = it?.lifecycleEvents?.find((e) => e.status === 'Failed');
    if (ev) return `${it?.targetId ?? '?'} ${ev.lifecycleEventName ?? '?'}: ${ev.diagnostics?.errorCode ?? 'Failed'}${ev.diagnostics?.message ? `: ${ev.diagnostics.message}` : ''}`;
  }
  return undefined;
}
