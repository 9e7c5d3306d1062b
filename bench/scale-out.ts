import { runScenarios } from './lib/scenario.js';
import { scaleOut } from './scenarios/scale-out.js';

await runScenarios([scaleOut]);
