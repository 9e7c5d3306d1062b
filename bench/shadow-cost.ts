import { runScenarios } from './lib/scenario.js';
import { shadowCost } from './scenarios/shadow-cost.js';

await runScenarios([shadowCost]);
