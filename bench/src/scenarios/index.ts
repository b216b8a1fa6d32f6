import type { Scenario } from "../context.js";
import { churn } from "./churn.js";
import { drain } from "./drain.js";
import { failover } from "./failover.js";
import { fanIn } from "./fan-in.js";
import { firstRpc } from "./first-rpc.js";
import { goPropagation } from "./go-propagation.js";
import { largeService } from "./large-service.js";
import { manyServices } from "./many-services.js";
import { resolverPropagation, watcherPropagation } from "./propagation.js";
import { registration } from "./registration.js";

/** Every scenario, in the order of the table. */
export const scenarios: readonly Scenario[] = [
  watcherPropagation,
  resolverPropagation,
  firstRpc,
  largeService,
  churn,
  fanIn,
  registration,
  failover,
  drain,
  goPropagation,
  manyServices,
];
