/**
 * JavaScript entry for the Cloud Functions runtime and the Functions Framework CLI, which load JavaScript
 * only: registers tsx (a runtime dependency of this project) and re-exports the TypeScript handler.
 */
import { register } from "tsx/esm/api";

register();

const { privacy } = await import("./index.ts");

export { privacy };
