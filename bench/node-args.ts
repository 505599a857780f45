/** Node flags a benchmark runs a function with: those of its package.json script, unless overridden. */
import { readFileSync } from 'node:fs';

/**
 * The flags between `node` and the program in package.json's `script` (what the image's NODE_OPTIONS
 * holds too; a test keeps the two equal), or `override` (space-separated) when it is set, to try others.
 */
export function scriptNodeArgs(script: string, override: string | undefined): string[] {
  const scripts = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).scripts;
  const flags = override ?? String(scripts[script]).split(/\s+/).slice(1, -1).join(' ');
  return flags.split(/\s+/).filter(Boolean);
}
