// One row per deploy strategy: the child workflow that runs it and how the UI names it.
import type { DeployResult } from '../../contract/api';
import type { DeployRequest } from '../../contract/requests';
import type { StrategyKind } from '../../contract/spec';
import { blueGreenDeploy } from './blue-green';
import { canaryDeploy } from './canary';

export interface Strategy {
  workflow: (input: { request: DeployRequest }) => Promise<DeployResult>;
  /** The `CutoverStrategy` search attribute and the words of the summary. */
  label: string;
}

export const strategies: Record<StrategyKind, Strategy> = {
  blueGreen: { workflow: blueGreenDeploy, label: 'blue-green' },
  canary: { workflow: canaryDeploy, label: 'canary' },
};
