import { runScenarios } from './lib/scenario.js';
import { binaryTensors } from './scenarios/binary-tensors.js';
import { fallbackSpeed } from './scenarios/fallback-speed.js';
import { gatewayOverhead } from './scenarios/gateway-overhead.js';
import { grpcVsRest } from './scenarios/grpc.js';
import { grpcUpstream } from './scenarios/grpc-upstream.js';
import { runtimeBatching } from './scenarios/runtime-batching.js';
import { scaleOut } from './scenarios/scale-out.js';
import { shadowCost } from './scenarios/shadow-cost.js';

// Every scenario, one after the other (never two at once: they would measure each other).
await runScenarios([
  gatewayOverhead,
  runtimeBatching,
  shadowCost,
  fallbackSpeed,
  scaleOut,
  binaryTensors,
  grpcVsRest,
  grpcUpstream,
]);
