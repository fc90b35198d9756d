/**
 * JavaScript entry for the Cloud Functions runtime, which loads JavaScript only: registers tsx (a runtime
 * dependency of this project) and re-exports the TypeScript handler. Deploy with
 * `--entry-point partnerApi` and this file as the package's main (see docs/api.md, "Deploying").
 */
import { register } from "tsx/esm/api";

register();

const { partnerApi } = await import("./index.ts");

export { partnerApi };
