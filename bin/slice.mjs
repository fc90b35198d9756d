#!/usr/bin/env node
// Runs the TypeScript CLI through tsx, so `npx slice` works straight after `npm ci` with no build step.
import { register } from "tsx/esm/api";

// Supported: Node 22 and 24. Node 20 still works; the README says so once, so the AWS SDK need not print
// its nine-line end-of-support notice on every S3 command.
if (Number(process.versions.node.split(".")[0]) < 22) process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

register();
const { main } = await import("../src/cli.ts");
await main(process.argv);
