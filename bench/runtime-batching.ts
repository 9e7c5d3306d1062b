import { runScenarios } from './lib/scenario.js';
import { runtimeBatching } from './scenarios/runtime-batching.js';

await runScenarios([runtimeBatching]);
