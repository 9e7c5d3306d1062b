import { runScenarios } from './lib/scenario.js';
import { gatewayOverhead } from './scenarios/gateway-overhead.js';

await runScenarios([gatewayOverhead]);
