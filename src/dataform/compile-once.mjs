/**
 * Preloaded (`node --import`) into the Dataform CLI by src/dataform/compile.ts; the CLI's compile worker
 * inherits it through fork's execArgv. The CLI's worker_bundle.js (@dataform/cli 3.0.69) registers its
 * compile-request listener twice when it runs as the main module (once under `require.main === module`,
 * once at the end of the file), so every request compiles the project twice in a row: the CLI takes the
 * first answer and kills the worker, but a graph too large for the IPC pipe is only flushed after the
 * second compilation, which the CLI then discards (~1/3 of every compile of this project).
 *
 * In the worker only, a "message" listener whose source text equals one already registered is not added
 * again. The compilation itself is untouched: the CLI's own worker, vm2 sandbox and @dataform/core produce
 * the graph, and the CLI decodes and prints it as before (the same JSON byte for byte).
 */
import { basename } from "node:path";

if (basename(process.argv[1] ?? "") === "worker_bundle.js") {
  const seen = new Set();
  const once = (register) =>
    function (event, listener) {
      if (event === "message" && typeof listener === "function") {
        const source = Function.prototype.toString.call(listener);
        if (seen.has(source)) return this;
        seen.add(source);
      }
      return register.call(this, event, listener);
    };
  process.on = once(process.on);
  process.addListener = once(process.addListener);
}
