// What the app module's template needs to build an app's package: one view per package kind
// and stack, with the runtime the source asked for (App.buildFacts) or the stack's default.
import type { App } from '../schema/model.js';

function nodejsView(app: App) {
  const build = app.package.build!;
  return {
    npmDepsHash: build.npmDepsHash ?? null,
    lockless: !!build.path && !build.npmDepsHash,
    lockPath: `/${build.path}/package-lock.json`,
    name: `${app.name}-source-only`,
    runtime: app.buildFacts?.runtime ?? 'nodejs',
  };
}

function pythonView(app: App) {
  // Only a build.path source can be read; a git source is built from its uv.lock.
  const lockless = app.buildFacts?.deps === 'none';
  return {
    name: `${app.name}-app`,
    runtime: app.buildFacts?.runtime ?? 'python3',
    uv: lockless ? null : { env: `${app.name}-env` },
  };
}

function goView(app: App) {
  const hash = app.package.build!.vendorHash;
  return { builder: app.buildFacts?.runtime ?? 'buildGoModule', vendorHash: hash ?? null };
}

function rustView(app: App) {
  const hashes = app.package.build!.cargoOutputHashes ?? {};
  return {
    platform: app.buildFacts?.runtime ?? 'rustPlatform',
    outputHashes: Object.keys(hashes).sort().map((key) => ({ key, hash: hashes[key] })),
  };
}

export function packageView(app: App) {
  const p = app.package;
  const stack = p.build?.stack;
  const flake = p.flake ? { ref: p.flake.slice(0, p.flake.indexOf('#')), attrPath: p.flake.slice(p.flake.indexOf('#') + 1).split('.') } : null;
  return {
    nixpkgs: p.nixpkgs ? p.nixpkgs.split('.') : null,
    flake,
    nodejs: stack === 'nodejs' ? nodejsView(app) : null,
    static: stack === 'static' ? { name: `${app.name}-static` } : null,
    python: stack === 'python' ? pythonView(app) : null,
    go: stack === 'go' ? goView(app) : null,
    rust: stack === 'rust' ? rustView(app) : null,
    compiled: stack === 'go' || stack === 'rust' ? { name: `${app.name}-app` } : null,
    // Module arguments beyond NixOS' own: the flake inputs a uv.lock build needs.
    uv2nix: stack === 'python' && app.buildFacts?.deps !== 'none',
  };
}

export function sourceView(app: App) {
  const build = app.package.build;
  return {
    path: build?.path ? `/${build.path}` : null,
    name: `${app.name}-source`,
    git: build?.git ?? null,
    digest: app.sourceDigest,
  };
}
