// Slack over the fake world: messages kept once per idempotency key.
import type { SlackActivities } from '../../../activities/slack';
import type { FakeWorld } from './world';

export function fakeSlack(world: FakeWorld): SlackActivities {
  return {
    async slackPost(input) {
      const existing = world.slack.findIndex((m) => m.key === input.key);
      if (existing < 0) world.slack.push(input);
      return { ts: `ts-${existing < 0 ? world.slack.length : existing + 1}` };
    },
    async slackUpdate() {},
  };
}
