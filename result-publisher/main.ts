import { runService } from "../common/run-service.ts";
import { readPublisherConfig } from "./config.ts";
import { startResultPublisher } from "./service.ts";

// `npm run start:publisher`: run one or more; one leads (advisory lock), the rest stand by.
await runService("result-publisher", () => readPublisherConfig(), startResultPublisher);
