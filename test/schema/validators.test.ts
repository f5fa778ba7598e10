// The validators `npm run build` generates as ajv standalone code must report exactly what the
// validators compiled at run time report: every error, its path, parameters and schema (which
// check-schema.ts turns into the messages users read).
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { parse } from 'yaml';
import { afterAll, describe, expect, test } from 'vitest';
import { packageRoot } from '../../common/paths.js';
import { compileValidators, loadGeneratedValidators, validatorModuleSource, validatorsDigest, type SpecKind, type Validators } from '../../schema/validators.js';

const root = packageRoot();
const tmp = mkdtempSync(join(root, 'dist', 'validators-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The generated module, written where `npm run build` would and loaded as the CLI loads it. */
function generated(): Validators {
  const file = join(tmp, 'validators.generated.cjs');
  writeFileSync(file, validatorModuleSource());
  const v = loadGeneratedValidators(file);
  if (!v) throw new Error('the generated validators did not load');
  return v;
}

const runtime = compileValidators();
const built = generated();

/** What a validator reports for a value: valid, or its errors as plain data. */
function verdict(v: Validators, kind: SpecKind, data: unknown) {
  const ok = v[kind](data);
  return { ok, errors: JSON.parse(JSON.stringify(v[kind].errors ?? null)) as unknown };
}

/** The specs of the fixture repos and the example config repo. */
function fixtureSpecs(): { kind: SpecKind; file: string; data: Record<string, unknown> }[] {
  const repos = [fileURLToPath(new URL('../fixtures/valid-repo', import.meta.url)), join(root, 'apps.example')];
  return repos.flatMap((repo) => [
    { kind: 'fleet' as const, file: join(repo, 'fleet.yaml') },
    ...readdirSync(join(repo, 'apps')).map((f) => ({ kind: 'app' as const, file: join(repo, 'apps', f) })),
  ]).map((s) => ({ ...s, data: parse(readFileSync(s.file, 'utf8')) as Record<string, unknown> }));
}

/** Broken variants of a spec, as people get them wrong: unknown, mistyped, missing and out-of-range fields. */
function breakSpec(data: Record<string, unknown>): unknown[] {
  const out: unknown[] = [null, [], 'name: x', {}];
  for (const key of Object.keys(data)) {
    const { [key]: _dropped, ...without } = data;
    out.push(without, { ...data, [key]: null }, { ...data, [key]: 42 }, { ...data, [key]: 'Not Valid!' }, { ...data, [key]: [{}] }, { ...data, [`${key}s`]: true });
  }
  out.push({ ...data, processes: { Web: { instances: -1 } } }, { ...data, domains: ['a.example', 'a.example', 'x y'] }, { ...data, nodes: [{ name: 'UPPER', host: 3 }] });
  return out;
}

describe('validators generated at build time (ajv standalone)', () => {
  const specs = fixtureSpecs();

  test('the fixture specs are valid to both', () => {
    expect(specs.length).toBeGreaterThan(5);
    for (const s of specs) expect([s.file, verdict(built, s.kind, s.data)]).toEqual([s.file, verdict(runtime, s.kind, s.data)]);
    for (const s of specs) expect([s.file, built[s.kind](s.data)]).toEqual([s.file, true]);
  });

  test('broken specs get the same errors from both', () => {
    let invalid = 0;
    for (const s of specs) {
      for (const data of breakSpec(s.data)) {
        const want = verdict(runtime, s.kind, data);
        if (!want.ok) invalid++;
        expect(verdict(built, s.kind, data)).toEqual(want);
      }
    }
    expect(invalid).toBeGreaterThan(100);
  });

  test('random edits of the fixture specs get the same errors from both', () => {
    const [app] = specs.filter((s) => s.kind === 'app');
    const value = fc.oneof(fc.string(), fc.integer(), fc.boolean(), fc.constant(null), fc.array(fc.string(), { maxLength: 3 }), fc.dictionary(fc.string({ maxLength: 8 }), fc.oneof(fc.string(), fc.integer()), { maxKeys: 3 }));
    const key = fc.oneof(fc.constantFrom(...Object.keys(app.data), 'processes', 'env', 'resources', 'placement', 'addons'), fc.string({ maxLength: 10 }));
    fc.assert(
      fc.property(fc.dictionary(key, value, { maxKeys: 4 }), (edits) => {
        const data = { ...app.data, ...edits };
        expect(verdict(built, 'app', data)).toEqual(verdict(runtime, 'app', data));
      }),
      { numRuns: 300 },
    );
  });

  test('a generated file from other schemas or another ajv is not used: the digest differs', () => {
    const stale = join(tmp, 'stale.cjs');
    writeFileSync(stale, `exports.app = () => true; exports.fleet = () => true; exports.digest = "not-${validatorsDigest()}";\n`);
    expect(loadGeneratedValidators(stale)).toBeNull();
    expect(loadGeneratedValidators(join(tmp, 'missing.cjs'))).toBeNull();
  });

  test('the generated module needs only ajv\'s small runtime, not its compiler', () => {
    const required = [...validatorModuleSource().matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1]);
    expect(required.length).toBeGreaterThan(0);
    for (const r of required) expect(r).toMatch(/^ajv\/dist\/runtime\//);
    expect(() => createRequire(import.meta.url).resolve(required[0])).not.toThrow();
  });
});
