// `npm run build` (and `prepare`, so a clean clone's `npm ci` makes it) runs this after tsc:
// writes the JSON Schema validators as ajv standalone code, which validators.ts loads instead
// of compiling the schemas in every process that validates.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { generatedValidatorsPath, validatorModuleSource } from './validators.js';

const out = process.argv[2] ?? generatedValidatorsPath();
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, validatorModuleSource());
