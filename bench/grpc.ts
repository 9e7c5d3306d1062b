import { runScenarios } from './lib/scenario.js';
import { grpcVsRest } from './scenarios/grpc.js';

await runScenarios([grpcVsRest]);
