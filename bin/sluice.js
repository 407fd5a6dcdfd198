#!/usr/bin/env node
// Entry point of the `sluice` CLI. The sources are TypeScript; tsx compiles them on load (and caches),
// so there is no build step to forget and no stale output to run.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
