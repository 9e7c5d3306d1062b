import { runScenarios } from './lib/scenario.js';
import { binaryTensors } from './scenarios/binary-tensors.js';

await runScenarios([binaryTensors]);
