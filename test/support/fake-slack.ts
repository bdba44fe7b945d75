// A loopback Slack Web API for tests: chat.postMessage, chat.update, conversations.history,
// conversations.replies and conversations.list, with Slack's response shapes and its quirks
// that matter here (only chat.postMessage accepts a channel name; the others want the ID).
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeSlackMessage {
  channel: string; // channel ID
  ts: string;
  threadTs?: string;
  text: string;
  metadata?: { event_type: string; event_payload: Record<string, unknown> };
  updates: string[]; // texts after each chat.update, in order
}

export interface FakeSlack {
  url: string; // e.g. http://127.0.0.1:PORT/api/
  token: string;
  messages(): FakeSlackMessage[];
  calls(): { method: string; body: Record<string, unknown> }[];
  /** The next call of `method` answers `{ ok: false, error }`; `ratelimited` answers HTTP 429. */
  failNext(method: string, error: string): void;
  /** ID of a channel name (`#deploys` or `deploys`). */
  channelId(name: string): string | undefined;
  close(): Promise<void>;
}

export interface FakeSlackOptions {
  /** Channel names that exist in the workspace; any other name is `channel_not_found`. */
  channels?: string[];
}

type Body = Record<string, unknown>;
type Reply = { status?: number; headers?: Record<string, string>; json: Body };

export async function startFakeSlack(opts: FakeSlackOptions = {}): Promise<FakeSlack> {
  const token = 'xoxb-fake-token';
  const channels = new Map<string, string>(); // name -> ID
  (opts.channels ?? ['deploys', 'general', 'ops']).forEach((name, i) =>
    channels.set(name.replace(/^#/, ''), `C${String(i + 1).padStart(8, '0')}`),
  );
  const ids = new Set(channels.values());
  const messages: FakeSlackMessage[] = [];
  const calls: { method: string; body: Body }[] = [];
  const failures: { method: string; error: string }[] = [];
  let seq = 0;
  const nextTs = () => {
    seq += 100;
    return `${1700000000 + Math.floor(seq / 1e6)}.${String(seq % 1e6).padStart(6, '0')}`;
  };

  const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
  const bool = (v: unknown) => v === true || v === 'true' || v === '1';
  const fail = (error: string): Reply => ({ json: { ok: false, error } });
  const byId = (v: unknown) => (typeof v === 'string' && ids.has(v) ? v : undefined);
  const byIdOrName = (v: unknown) =>
    byId(v) ?? (typeof v === 'string' ? channels.get(v.replace(/^#/, '')) : undefined);
  const view = (m: FakeSlackMessage, withMetadata: boolean) => ({
    type: 'message',
    user: 'U0FAKEBOT',
    bot_id: 'B0FAKEBOT',
    text: m.text,
    ts: m.ts,
    ...(m.threadTs ? { thread_ts: m.threadTs } : {}),
    ...(withMetadata && m.metadata ? { metadata: m.metadata } : {}),
    ...(m.updates.length ? { edited: { user: 'U0FAKEBOT', ts: m.ts } } : {}),
  });
  const page = <T>(items: T[], body: Body, defaultLimit: number) => {
    const start = Number(str(body.cursor) ?? 0);
    const limit = Number(body.limit ?? defaultLimit);
    const end = start + limit;
    return {
      items: items.slice(start, end),
      has_more: end < items.length,
      response_metadata: { next_cursor: end < items.length ? String(end) : '' },
    };
  };

  const methods: Record<string, (body: Body) => Reply> = {
    'chat.postMessage'(body) {
      const channel = byIdOrName(body.channel);
      if (!channel) return fail('channel_not_found');
      const text = str(body.text);
      if (!text) return fail('no_text');
      let metadata: FakeSlackMessage['metadata'];
      const raw = typeof body.metadata === 'string' ? JSON.parse(body.metadata) : body.metadata;
      if (raw !== undefined) {
        if (typeof raw?.event_type !== 'string' || typeof raw.event_payload !== 'object') {
          return fail('invalid_metadata_format');
        }
        metadata = { event_type: raw.event_type, event_payload: raw.event_payload };
      }
      const threadTs = str(body.thread_ts);
      const msg: FakeSlackMessage = { channel, ts: nextTs(), text, updates: [] };
      if (threadTs) msg.threadTs = threadTs;
      if (metadata) msg.metadata = metadata;
      messages.push(msg);
      return { json: { ok: true, channel, ts: msg.ts, message: view(msg, true) } };
    },
    'chat.update'(body) {
      const channel = byId(body.channel);
      if (!channel) return fail('channel_not_found');
      const msg = messages.find((m) => m.channel === channel && m.ts === body.ts);
      if (!msg) return fail('message_not_found');
      const text = str(body.text);
      if (!text) return fail('no_text');
      msg.text = text;
      msg.updates.push(text);
      return { json: { ok: true, channel, ts: msg.ts, text, message: view(msg, false) } };
    },
    'conversations.history'(body) {
      const channel = byId(body.channel);
      if (!channel) return fail('channel_not_found');
      const top = messages
        .filter((m) => m.channel === channel && (!m.threadTs || m.threadTs === m.ts))
        .reverse(); // newest first, like Slack
      const p = page(top, body, 100);
      const meta = bool(body.include_all_metadata);
      return {
        json: { ok: true, messages: p.items.map((m) => view(m, meta)), has_more: p.has_more, response_metadata: p.response_metadata },
      };
    },
    'conversations.replies'(body) {
      const channel = byId(body.channel);
      if (!channel) return fail('channel_not_found');
      const parent = messages.find((m) => m.channel === channel && m.ts === body.ts);
      if (!parent) return fail('thread_not_found');
      const root = parent.threadTs ?? parent.ts;
      const thread = messages.filter((m) => m.channel === channel && (m.ts === root || m.threadTs === root));
      const p = page(thread, body, 1000); // parent first, then replies oldest first
      const meta = bool(body.include_all_metadata);
      return {
        json: { ok: true, messages: p.items.map((m) => view(m, meta)), has_more: p.has_more, response_metadata: p.response_metadata },
      };
    },
    'conversations.list'(body) {
      const all = [...channels].map(([name, id]) => ({
        id,
        name,
        is_channel: true,
        is_private: false,
        is_archived: false,
        is_member: true,
      }));
      const p = page(all, body, 100);
      return { json: { ok: true, channels: p.items, response_metadata: p.response_metadata } };
    },
  };

  function handle(method: string, auth: string | undefined, body: Body): Reply {
    calls.push({ method, body });
    const failure = failures.find((f) => f.method === method);
    if (failure) {
      failures.splice(failures.indexOf(failure), 1);
      const { error } = failure;
      if (error === 'ratelimited') return { status: 429, headers: { 'retry-after': '2' }, json: { ok: false, error } };
      return fail(error);
    }
    const bearer = auth?.replace(/^Bearer /, '') ?? str(body.token);
    if (!bearer) return fail('not_authed');
    if (bearer !== token) return fail('invalid_auth');
    const impl = methods[method];
    return impl ? impl(body) : fail('unknown_method');
  }

  const server = createServer(async (req, res) => {
    let reply: Reply;
    try {
      const method = (req.url ?? '').replace(/^\/api\//, '').split('?')[0] ?? '';
      reply = handle(method, req.headers.authorization, await readBody(req));
    } catch {
      reply = fail('invalid_form_data');
    }
    res.writeHead(reply.status ?? 200, { 'content-type': 'application/json; charset=utf-8', ...reply.headers });
    res.end(JSON.stringify(reply.json));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}/api/`,
    token,
    messages: () => messages.map((m) => ({ ...m, updates: [...m.updates] })),
    calls: () => [...calls],
    failNext: (method, error) => void failures.push({ method, error }),
    channelId: (name) => channels.get(name.replace(/^#/, '')),
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}

/** Slack takes form-urlencoded or JSON bodies; @slack/web-api sends form-urlencoded. */
async function readBody(req: IncomingMessage): Promise<Body> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const raw = Buffer.concat(chunks).toString('utf8');
  if (!raw) return {};
  if ((req.headers['content-type'] ?? '').includes('application/json')) return JSON.parse(raw) as Body;
  return Object.fromEntries(new URLSearchParams(raw));
}
