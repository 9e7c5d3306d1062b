import fc from 'fast-check';

/**
 * Hostile JSON for the property campaign (test/hardening/hostile-bodies.test.ts). Values are
 * written as JSON text by hand rather than through JSON.stringify, because what an attacker sends
 * is text that JSON.stringify never produces: numbers past a double (1e309), huge integers, -0,
 * a key twice in one object, nesting deeper than any recursive walker survives.
 */
export type Hostile =
  | { kind: 'number'; text: string }
  | { kind: 'string'; value: string }
  | { kind: 'literal'; text: 'true' | 'false' | 'null' }
  | { kind: 'array'; items: Hostile[] }
  | { kind: 'object'; entries: [string, Hostile][] }
  /** `depth` brackets deep: written as text, so a test process never recurses into it. */
  | { kind: 'deep'; depth: number; bracket: '[' | '{' };

/** Numbers at the edges of what JSON text can say and a double can hold. */
const EDGE_NUMBERS = [
  '0',
  '-0',
  '1e309',
  '-1e309',
  '1e-400',
  '5e-324',
  '1.7976931348623157e308',
  '9007199254740993',
  '-9007199254740993',
  '123456789012345678901234567890123456789',
  '0.1e1',
  '1E2',
  '-1',
  '2147483648',
  '4294967296',
];

/** Keys that reach into an object's prototype, or that the gateway's bodies give meaning to. */
export const EDGE_KEYS = [
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
  'valueOf',
  '',
  'user_id',
  'features',
  'instances',
  'inputs',
  'outputs',
  'parameters',
  'data',
  'shape',
  'datatype',
  'name',
  'binary_data',
  'transaction_amount',
];

/** Strings at the edges: lone surrogates, NUL, long runs, escapes, bracket-like text. */
const EDGE_STRINGS = [
  '\ud800',
  '\udfff',
  '\udc00\ud800',
  '\u0000',
  '\\',
  '"',
  '{'.repeat(50),
  ']'.repeat(50),
  'x'.repeat(70_000),
  'FP32',
  'BYTES',
  'INT64',
  'BOOL',
  'features',
  'score',
];

const edgeNumber = fc.constantFrom(...EDGE_NUMBERS).map((text): Hostile => ({ kind: 'number', text }));
const anyNumber = fc
  .oneof(fc.double(), fc.integer(), fc.bigInt({ min: -(10n ** 40n), max: 10n ** 40n }))
  .map((n): Hostile => {
    const text = typeof n === 'bigint' ? n.toString() : JSON.stringify(n); // NaN/Infinity → null
    return text === 'null' ? { kind: 'literal', text: 'null' } : { kind: 'number', text };
  });
const hostileString = fc
  .oneof(
    fc.constantFrom(...EDGE_STRINGS),
    fc.string({ unit: 'binary', maxLength: 40 }),
    fc.string({ maxLength: 20 }),
  )
  .map((value): Hostile => ({ kind: 'string', value }));
const literal = fc.constantFrom('true', 'false', 'null').map((text): Hostile => ({ kind: 'literal', text }));
const key = fc.oneof(fc.constantFrom(...EDGE_KEYS), fc.string({ unit: 'binary', maxLength: 12 }));
/** Deep nesting, from a little past any sane limit to far past a recursive walker's stack. */
const deep = fc
  .record({
    depth: fc.oneof(fc.integer({ min: 1, max: 200 }), fc.constantFrom(1_000, 10_000, 100_000, 300_000)),
    bracket: fc.constantFrom('[' as const, '{' as const),
  })
  .map(({ depth, bracket }): Hostile => ({ kind: 'deep', depth, bracket }));

/** Any hostile JSON value: scalars at the edges, small trees of them, deep nesting. */
export const hostileValue: fc.Arbitrary<Hostile> = fc.letrec<{ value: Hostile }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    edgeNumber,
    anyNumber,
    hostileString,
    literal,
    deep,
    fc.array(tie('value'), { maxLength: 6 }).map((items): Hostile => ({ kind: 'array', items })),
    fc
      .array(fc.tuple(key, tie('value')), { maxLength: 6 })
      .map((entries): Hostile => ({ kind: 'object', entries })),
    // The same key twice: JSON.parse keeps the last, a streaming parser may keep the first.
    fc.tuple(key, tie('value'), tie('value')).map(([k, a, b]): Hostile => ({
      kind: 'object',
      entries: [
        [k, a],
        [k, b],
      ],
    })),
  ),
})).value;

/** The value as JSON text; only `deep` can be deep, and it is written without recursion. */
export function jsonText(value: Hostile): string {
  switch (value.kind) {
    case 'number':
      return value.text;
    case 'literal':
      return value.text;
    case 'string':
      // Well-formed JSON.stringify writes a lone surrogate as a \u escape: the escape is what
      // reaches the server, and decodes back to the lone surrogate there.
      return JSON.stringify(value.value);
    case 'array':
      return `[${value.items.map(jsonText).join(',')}]`;
    case 'object':
      return `{${value.entries.map(([k, v]) => `${JSON.stringify(k)}:${jsonText(v)}`).join(',')}}`;
    case 'deep':
      return value.bracket === '['
        ? `${'['.repeat(value.depth)}1${']'.repeat(value.depth)}`
        : `${'{"a":'.repeat(value.depth)}1${'}'.repeat(value.depth)}`;
  }
}

/**
 * A request body with one hole: each endpoint's valid body written as text, with the hostile
 * value put in one place a stage reads (a feature value, the features, a tensor's data, shape,
 * datatype, name, `parameters`, `outputs`, the user key, an unknown extra key, the whole body).
 */
export type BodyTemplate = (hole: string) => string;

export function templates(
  row: readonly number[],
  featureNames: readonly string[],
): Record<string, BodyTemplate[]> {
  const features = (hole: string, at: number) =>
    `{${featureNames.map((name, i) => `${JSON.stringify(name)}:${i === at ? hole : row[i]}`).join(',')}}`;
  const tensor = (parts: { name?: string; datatype?: string; shape?: string; data?: string }) =>
    `{"name":${parts.name ?? '"features"'},"datatype":${parts.datatype ?? '"FP32"'},` +
    `"shape":${parts.shape ?? `[1,${row.length}]`},"data":${parts.data ?? JSON.stringify(row)}}`;
  const rowWith = (hole: string) => `[${row.map((v, i) => (i === 0 ? hole : String(v))).join(',')}]`;
  return {
    decision: [
      (h) => `{"user_id":"u-1","features":${features(h, 0)}}`,
      (h) => `{"user_id":"u-1","features":${features(h, 5)}}`,
      (h) => `{"user_id":"u-1","features":${h}}`,
      (h) => `{"user_id":${h},"features":${features(String(row[0]), -1)}}`,
      (h) => `{"user_id":"u-1","features":${features(String(row[0]), -1)},"extra":${h}}`,
      (h) => `{"user_id":"u-1","features":${features(String(row[0]), -1)},"features":${h}}`,
      (h) => h,
    ],
    predict: [
      (h) => `{"instances":[${rowWith(h)}]}`,
      (h) => `{"instances":[${features(h, 2)}]}`,
      (h) => `{"instances":${h}}`,
      (h) => `{"instances":[${h}]}`,
      (h) => `{"instances":[${JSON.stringify(row)}],"parameters":${h}}`,
      (h) => h,
    ],
    infer: [
      (h) => `{"inputs":[${tensor({ data: rowWith(h) })}]}`,
      (h) => `{"inputs":[${tensor({ data: h })}]}`,
      (h) => `{"inputs":[${tensor({ shape: h })}]}`,
      (h) => `{"inputs":[${tensor({ datatype: h })}]}`,
      (h) => `{"inputs":[${tensor({ name: h })}]}`,
      (h) => `{"inputs":[${tensor({})}],"parameters":${h}}`,
      (h) => `{"inputs":[${tensor({})}],"outputs":${h}}`,
      (h) => `{"inputs":[${tensor({})}],"outputs":[{"name":"score","parameters":${h}}]}`,
      (h) => `{"id":${h},"inputs":[${tensor({})}]}`,
      (h) => `{"inputs":${h}}`,
      (h) => h,
    ],
  };
}

/** A hostile body for one endpoint: a valid body with a hostile value in one of its holes. */
export function hostileBody(forEndpoint: BodyTemplate[]): fc.Arbitrary<string> {
  return fc
    .tuple(fc.integer({ min: 0, max: forEndpoint.length - 1 }), hostileValue)
    .map(([at, value]) => forEndpoint[at]!(jsonText(value)));
}
