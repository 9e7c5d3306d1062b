import { runScenarios } from './lib/scenario.js';
import { grpcUpstream } from './scenarios/grpc-upstream.js';

await runScenarios([grpcUpstream]);
