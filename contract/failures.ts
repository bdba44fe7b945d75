// ApplicationFailure types the workflows fail with; the CLI maps them to messages and exit codes.
export const FAILURE = {
  deployFailed: 'DeployFailed',
  rollbackFailed: 'RollbackFailed',
  nothingToRollBack: 'NothingToRollBack',
  hostsDisagree: 'HostsDisagree',
  /** Bad input found on the hosts (the CLI exits 2): nothing was changed. */
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

/** Failures that mean the request itself was wrong and nothing was changed: the CLI exits 2. */
export const BAD_INPUT_FAILURES: ReadonlySet<string> = new Set([FAILURE.versionNotInstalled, FAILURE.deployFrozen]);

/** Activity error types that are final: retrying cannot help. */
export const ACTIVITY_ERROR = {
  unsafeInput: 'UnsafeInput',
  hostKeyRejected: 'HostKeyRejected',
  commandFailed: 'CommandFailed',
  healthCheckFailed: 'HealthCheckFailed',
  routerConfigRejected: 'RouterConfigRejected',
  verifyFailed: 'VerifyFailed',
} as const;
