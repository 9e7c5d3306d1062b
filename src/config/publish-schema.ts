import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GatewayConfigSchema } from './schema.js';

const SCHEMA_FILE = fileURLToPath(new URL('../../config/gateway.schema.json', import.meta.url));

/**
 * The JSON schema of config/gateway.yaml for editors and other tools, generated from the same
 * TypeBox schema the gateway validates with. It describes the file as written, which differs from
 * the validated config in two ways: a property with a default may be left out (the gateway fills
 * it in before validating), and any string may be a `${VAR}` reference (resolved before
 * validating), so patterns also accept those.
 */
export function renderJsonSchema(): string {
  const schema: unknown = JSON.parse(JSON.stringify(GatewayConfigSchema));
  describeFileAsWritten(schema);
  const document = {
    $schema: 'http://json-schema.org/draft-07/schema#',
    title: 'switchyard gateway config',
    $comment:
      'Generated from src/config/schema.ts by src/config/publish-schema.ts; do not edit. Describes the file ' +
      'as written: properties with a default may be left out, and string patterns also accept ${VAR}.',
    ...(schema as Record<string, unknown>),
  };
  return `${JSON.stringify(document, null, 2)}\n`;
}

function describeFileAsWritten(node: unknown): void {
  if (Array.isArray(node)) {
    for (const item of node) describeFileAsWritten(item);
    return;
  }
  if (node === null || typeof node !== 'object') return;
  const schema = node as Record<string, unknown>;
  const properties = schema.properties as Record<string, Record<string, unknown>> | undefined;
  if (properties && Array.isArray(schema.required)) {
    const required = schema.required.filter(
      (key: unknown) => !('default' in (properties[String(key)] ?? {})),
    );
    if (required.length > 0) schema.required = required;
    else delete schema.required;
  }
  if (schema.type === 'string' && typeof schema.pattern === 'string') {
    schema.pattern = `(?:${schema.pattern})|^\\$\\{`;
  }
  for (const child of Object.values(schema)) describeFileAsWritten(child);
}

/** `tsx src/config/publish-schema.ts [OUT]` writes config/gateway.schema.json (or OUT). */
function main(argv: readonly string[]): void {
  const out = argv[0] ? resolve(argv[0]) : SCHEMA_FILE;
  writeFileSync(out, renderJsonSchema());
  process.stdout.write(`wrote ${out}\n`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2));
}
