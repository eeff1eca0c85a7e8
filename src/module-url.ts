/**
 * Resolves a sibling module's URL with the same extension as the caller's own file, so that a kind's
 * kernels module resolves to `.ts` when running from sources (tests) and `.js` when built.
 *
 * @example
 * ```ts
 * kernels: moduleUrl(import.meta.url, '../../kernels/circles/cpu'),
 * ```
 */
export function moduleUrl(base: string, relativeWithoutExtension: string): string {
  const ext = base.endsWith('.ts') ? '.ts' : '.js';
  return new URL(relativeWithoutExtension + ext, base).href;
}
