// The custom search attributes cutover writes, so the Temporal UI alone answers "what is
// deploying where, who started it, where is it stuck".
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const SA = {
  app: defineSearchAttributeKey('CutoverApp', SearchAttributeType.KEYWORD),
  env: defineSearchAttributeKey('CutoverEnv', SearchAttributeType.KEYWORD),
  version: defineSearchAttributeKey('CutoverVersion', SearchAttributeType.KEYWORD),
  strategy: defineSearchAttributeKey('CutoverStrategy', SearchAttributeType.KEYWORD),
  phase: defineSearchAttributeKey('CutoverPhase', SearchAttributeType.KEYWORD),
  triggeredBy: defineSearchAttributeKey('CutoverTriggeredBy', SearchAttributeType.KEYWORD),
  /** The canary's current share of traffic, 0-100. */
  weight: defineSearchAttributeKey('CutoverWeight', SearchAttributeType.INT),
} as const;

const CLI_TYPE: Record<string, string> = { [SearchAttributeType.KEYWORD]: 'Keyword', [SearchAttributeType.INT]: 'Int' };

/** Name and `temporal operator search-attribute create --type` of every key. */
export const SEARCH_ATTRIBUTES: { name: string; type: string }[] = Object.values(SA).map((k) => ({ name: k.name, type: CLI_TYPE[k.type] ?? 'Keyword' }));

/** `temporal server start-dev --search-attribute` arguments for the keys above. */
export const SEARCH_ATTRIBUTE_FLAGS: string[] = SEARCH_ATTRIBUTES.flatMap((k) => ['--search-attribute', `${k.name}=${k.type}`]);
