// A CommonJS package loaded on first use instead of at import. Every `skyrec` command is a new
// process, and a static import makes each one pay for the package (yaml ~55 ms, pino ~30 ms on
// this project's 2-core machine) whether it uses it or not: `--help` parses no YAML and
// `validate` with a warm parse cache writes no log. Only for packages whose Node entry is
// CommonJS for `import` and `require` alike (yaml, pino, isomorphic-git, prom-client,
// handlebars), or that one module alone loads (smol-toml): another module's static import then
// gets this very instance, and no class or symbol is ever loaded twice.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** A function that returns the package `name`, loading it on its first call. */
export function lazyModule<T>(name: string): () => T {
  let loaded: T | undefined;
  return () => (loaded ??= require(name) as T);
}
