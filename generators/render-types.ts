// What rendering hands on: a node's files and manifest.json, and the options of a render.
// Its own module so that render-node.ts and render-inputs.ts (and the plan, the apply and the
// drivers downstream) share them without importing each other.
import type { AddonName } from '../schema/model.js';

export interface Manifest {
  node: string;
  revision: string | null;
  /** sha256 of every rendered file of the node but manifest.json itself. */
  hash: string;
  system: string;
  ingress: boolean;
  /** The config repo's flake files every node is built with (absent when it has no flake.lock). */
  flake?: FlakeInputs;
  apps: Record<string, ManifestApp>;
}

/**
 * sha256 of the config repo's flake.nix and flake.lock (null: the file is missing). They pin
 * nixpkgs and every other input of every node, so they are part of every node's hash: a new
 * flake.lock changes every node, as `nixos-rebuild` will rebuild every node with it.
 */
export interface FlakeInputs {
  nix: string | null;
  lock: string | null;
}

export interface ManifestApp {
  processes: Record<string, { instance: number; port: number }[]>;
  domains: string[];
  anchor: boolean;
  /** On the data node of the app's addons: each addon held here, its port and (postgres) its server's major version. */
  data?: Partial<Record<AddonName, { port: number; version?: number }>>;
}

export interface RenderedNode {
  node: string;
  /** Digest of everything the node's files were rendered from (see render-inputs.ts). */
  inputs: string;
  /** Relative path → content, in sorted path order. */
  files: Record<string, string>;
  manifest: Manifest;
  /** sha256 of each file by path, when known without reading `files` (a node from the compile cache): what a plan without diffs compares. */
  readonly fileDigests?: Record<string, string>;
}

/** Rendered nodes by input digest (a Map, or the reconciler's store on disk, reconciler/pipeline/render-store.ts). */
export interface RenderCache {
  get(inputs: string): RenderedNode | undefined;
  set(inputs: string, node: RenderedNode): void;
}

export interface RenderOptions {
  /**
   * The git revision rendered, or null for a working tree. It is written to manifest.json
   * only, outside the hashed files: a new revision that changes nothing for a node leaves the
   * node as it is (and a cached render keeps the revision that last changed the node).
   */
  revision: string | null;
  /** Rendered nodes by input digest: a node whose inputs are cached is not rendered again. */
  renderCache?: RenderCache;
  /** Called for each node actually rendered (not taken from renderCache). */
  onRendered?: (node: string) => void;
  /** The revision's flake.nix and flake.lock digests (reconciler/pipeline/flake-inputs.ts). */
  flake?: FlakeInputs;
  /**
   * For a plan that compares digests only (render-node.ts sameFiles): the files of a node known
   * to be the same in the revision compared with, left unrendered. Such a node is for comparing
   * with another rendered so, never to write or cache: its manifest.hash is made from digests,
   * and its `files` lack those files.
   */
  sameFiles?: (node: string) => ReadonlySet<string>;
}
