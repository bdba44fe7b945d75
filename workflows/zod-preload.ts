// Loaded once into the worker's shared V8 context (bundle option `preloadModules`, see
// workers/worker.ts), so that zod is initialised once per worker instead of once per cached
// workflow, which made zod most of a cached workflow's memory and of the CPU of every cache miss.
//
// The SDK deep-freezes preloaded modules. zod v4 installs each schema type's members on its
// prototype when the first instance of that type is built, and computes some values on first
// use; after the freeze either would throw. So this module builds, before the freeze, an
// instance of every schema type and check zod exports, and parses a few inputs with each.
// It runs inside the SDK's 5 s limit for creating the workflow context, so it stays small
// (about 0.3 s). Nothing here keeps per-workflow state, and nothing it builds is used afterwards.
import { z } from 'zod';

type AnyFn = (...args: unknown[]) => unknown;
// Enough to run the checks and the error paths (issue messages need the locale) once.
const inputs: unknown[] = [undefined, 'a', 1, {}];

function exercise(s: unknown): void {
  if (!s || typeof s !== 'object' || typeof (s as { safeParse?: unknown }).safeParse !== 'function') return;
  for (const input of inputs) {
    try {
      const r = (s as z.ZodType).safeParse(input);
      if (!r.success) void r.error.issues[0]?.message;
    } catch {
      /* some schemas refuse some inputs outright */
    }
  }
}

function chains(s: z.ZodType): unknown[] {
  const out: unknown[] = [];
  const o = s as unknown as Record<string, AnyFn>;
  const calls: [string, unknown[]][] = [
    ['optional', []], ['nullable', []], ['nullish', []], ['default', ['a']], ['catch', ['a']], ['array', []],
    ['refine', [() => true]], ['superRefine', [() => undefined]], ['check', [() => undefined]], ['transform', [(x: unknown) => x]],
    ['pipe', [z.unknown()]], ['describe', ['d']], ['brand', []], ['readonly', []], ['or', [z.number()]], ['and', [z.unknown()]],
    ['min', [1]], ['max', [5]], ['length', [2]], ['regex', [/^a/]], ['startsWith', ['a']], ['endsWith', ['c']], ['includes', ['b']],
    ['email', []], ['url', []], ['uuid', []], ['trim', []], ['toLowerCase', []], ['toUpperCase', []], ['nonempty', []],
    ['int', []], ['positive', []], ['nonnegative', []], ['negative', []], ['nonpositive', []], ['multipleOf', [2]], ['gt', [0]], ['lt', [9]],
    ['gte', [0]], ['lte', [9]], ['finite', []], ['safe', []], ['strict', []], ['passthrough', []], ['partial', []], ['required', []],
    ['extend', [{ b: z.string() }]], ['pick', [{}]], ['omit', [{}]], ['keyof', []], ['element', []],
  ];
  for (const [name, args] of calls) {
    try {
      if (typeof o[name] === 'function') out.push(o[name]!.apply(s, args));
    } catch {
      /* not applicable to this type */
    }
  }
  return out;
}

const built: unknown[] = [
  z.string(), z.number(), z.boolean(), z.bigint(), z.date(), z.null(), z.undefined(), z.unknown(), z.any(), z.never(),
  z.literal('a'), z.enum(['a', 'b']), z.array(z.string()), z.tuple([z.string()]), z.record(z.string(), z.string()),
  z.object({ a: z.string() }), z.strictObject({ a: z.string() }), z.looseObject({ a: z.string() }),
  z.union([z.string(), z.number()]), z.discriminatedUnion('k', [z.strictObject({ k: z.literal('a') }), z.strictObject({ k: z.literal('b') })]),
  z.intersection(z.object({}), z.object({})), z.preprocess((x) => x, z.string()), z.url(), z.email(), z.uuid(), z.int(),
  z.map(z.string(), z.string()), z.set(z.string()), z.lazy(() => z.string()), z.custom(() => true), z.nan(),
];
// Every other schema builder zod exports, called with no arguments where it allows that.
for (const [name, value] of Object.entries(z)) {
  if (typeof value !== 'function' || /^[A-Z_]/.test(name) || ['config', 'setErrorMap', 'getErrorMap', 'registry', 'globalRegistry', 'promise'].includes(name)) continue;
  try {
    const v = (value as AnyFn)();
    // An async builder (parseAsync...) without arguments rejects: nothing may be left unhandled.
    if (v instanceof Promise) v.catch(() => undefined);
    else built.push(v);
  } catch {
    /* needs arguments */
  }
}
// Members live per prototype, so one schema of each kind is enough, for the chains and for parsing.
const kinds = new Set<object>();
const oneOfEachKind = (list: unknown[]): z.ZodType[] =>
  list.filter((s): s is z.ZodType => {
    if (!s || typeof s !== 'object' || !('safeParse' in s)) return false;
    const proto = Object.getPrototypeOf(s) as object;
    if (kinds.has(proto)) return false;
    kinds.add(proto);
    return true;
  });
const bases = oneOfEachKind(built);
const chained = bases.flatMap(chains);
for (const s of [...bases, ...oneOfEachKind(chained)]) exercise(s);

export {};
