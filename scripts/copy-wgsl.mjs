#!/usr/bin/env node
// Copies kernels/**/*.wgsl into dist/kernels/ after tsc (which copies only .ts outputs), so that the
// built CLI finds the WGSL files beside its own JavaScript (sim/gpu/primitives.ts commonWgsl).
import { cpSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';

function copy(dir) {
  for (const name of readdirSync(dir)) {
    const src = path.join(dir, name);
    if (statSync(src).isDirectory()) copy(src);
    else if (name.endsWith('.wgsl')) {
      const dst = path.join('dist', src);
      mkdirSync(path.dirname(dst), { recursive: true });
      cpSync(src, dst);
    }
  }
}
copy('kernels');
