/**
 * The package's main for Cloud Functions: every function is deployed from the repository root with this
 * file as `main` (package.json), and `entry_point` picks the export. The runtime loads JavaScript only, so
 * this registers tsx (a runtime dependency) and re-exports the TypeScript handlers. Each handler builds its
 * clients on its first request, so an instance only pays for the function it serves.
 */
import { register } from "tsx/esm/api";

register();

const { partnerApi } = await import("./partner-api/index.ts");
const { metaSync } = await import("./meta-sync/index.ts");
const { s3Drop } = await import("./s3-drop/index.ts");
const { scheduler } = await import("./scheduler/index.ts");
const { privacy } = await import("./privacy/index.ts");

export { metaSync, partnerApi, privacy, s3Drop, scheduler };
