// ApplicationFailure types the workflows and activities fail with, and what each means for the
// environment: the CLI turns the category into its exit code (README, "Exit codes").
export const FAILURE = {
  deployFailed: 'DeployFailed',
  rollbackFailed: 'RollbackFailed',
  /** No earlier colour is still running: nothing was changed. */
  nothingToRollBack: 'NothingToRollBack',
  /** The routers serve different colours: nothing was changed. */
  hostsDisagree: 'HostsDisagree',
  /** The hosts could not be read before anything changed (unreachable, reading failed): nothing was changed. */
  notDeployable: 'EnvironmentNotDeployable',
  /** Bad input found on the hosts: nothing was changed. */
  versionNotInstalled: 'VersionNotInstalled',
  /** The canary's analysis found a breach (or too many inconclusive measurements): rolled back. */
  canaryFailed: 'CanaryFailed',
  /** `cutover abort`: rolled back on request. */
  canaryAborted: 'CanaryAborted',
  /** A freeze window is in force and the environment refuses deploys in one (or a break-glass cannot be approved): nothing was changed. */
  deployFrozen: 'DeployFrozen',
  /** An approver rejected the deploy, or no approval came in time: ended before traffic moved. */
  deployRejected: 'DeployRejected',
} as const;

/** Activity error types that are final: retrying cannot help. */
export const ACTIVITY_ERROR = {
  unsafeInput: 'UnsafeInput',
  hostKeyRejected: 'HostKeyRejected',
  commandFailed: 'CommandFailed',
  healthCheckFailed: 'HealthCheckFailed',
  routerConfigRejected: 'RouterConfigRejected',
  verifyFailed: 'VerifyFailed',
} as const;

/**
 * What a failed operation did:
 * - `bad-input`: the request was wrong (fix the command or cutover.yml); nothing was changed;
 * - `refused`: the environment is not deployable as it is (fix the hosts, then run again); nothing was changed;
 * - `failed`: it changed things, failed, and put them back (or says what it could not put back).
 */
export type FailureCategory = 'bad-input' | 'refused' | 'failed';

export const BAD_INPUT_FAILURES: ReadonlySet<string> = new Set([FAILURE.versionNotInstalled, ACTIVITY_ERROR.unsafeInput]);

export const REFUSED_FAILURES: ReadonlySet<string> = new Set([
  FAILURE.deployFrozen,
  FAILURE.hostsDisagree,
  FAILURE.notDeployable,
  FAILURE.nothingToRollBack,
  ACTIVITY_ERROR.hostKeyRejected,
]);

/**
 * The type of the outermost ApplicationFailure in an error's cause chain: the workflow's own (a
 * deploy that failed and rolled back is DeployFailed even when a host key changed midway), or,
 * when a workflow let an activity's failure through unwrapped (runs started before
 * EnvironmentNotDeployable), the activity's (HostKeyRejected). By name, so that workflows, the
 * CLI and tests read it alike whichever SDK package made the error.
 */
export function outermostFailureType(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 20; e = e.cause, depth++) {
    if (e.name === 'ApplicationFailure') return (e as Error & { type?: string | null }).type ?? undefined;
  }
  return undefined;
}

/** The category of an operation's failure, from the type of its outermost ApplicationFailure. */
export function failureCategory(type: string | undefined): FailureCategory {
  if (type !== undefined && BAD_INPUT_FAILURES.has(type)) return 'bad-input';
  if (type !== undefined && REFUSED_FAILURES.has(type)) return 'refused';
  return 'failed';
}
