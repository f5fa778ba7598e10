// Generates schema/spec-types.ts from the JSON Schemas, so that types and schemas cannot drift apart.
// Run: npm run gen:types   (a test fails when the committed file is stale)
import { compileFromFile } from 'json-schema-to-typescript';
import { writeFile } from 'node:fs/promises';

const opts = { bannerComment: '', additionalProperties: false, style: { singleQuote: true } };
const parts = [
  '// Generated from schema/*.schema.json by schema/gen-types.mjs. Do not edit.',
  await compileFromFile(new URL('./app.schema.json', import.meta.url).pathname, opts),
  await compileFromFile(new URL('./fleet.schema.json', import.meta.url).pathname, opts),
];
const out = process.argv[2] ?? new URL('./spec-types.ts', import.meta.url).pathname;
await writeFile(out, parts.join('\n'));
