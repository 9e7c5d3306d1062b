import { runScenarios } from './lib/scenario.js';
import { fallbackSpeed } from './scenarios/fallback-speed.js';

await runScenarios([fallbackSpeed]);
