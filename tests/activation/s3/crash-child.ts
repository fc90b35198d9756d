/**
 * Child process for crash.test.ts: drops an audience and kills itself with SIGKILL at the event named by
 * CRASH_AT (`<event type>` or `<event type>:<file>`), as a real crash would: no finally, no cleanup.
 */
import { dropToS3 } from "../../../src/activation/s3/drop.ts";
import { Warehouse } from "../../../src/warehouse/duckdb.ts";
import { LocalS3, TEST_ENV } from "./local-s3.ts";

const [crashType, crashFile] = process.env.CRASH_AT!.split(":");
const s3 = new LocalS3(process.env.CRASH_S3_DIRECTORY!);
s3.endpoint = process.env.CRASH_S3_ENDPOINT!;
const wh = await Warehouse.open(process.env.CRASH_WAREHOUSE!);
await dropToS3(wh, {
  audienceId: process.env.CRASH_AUDIENCE!,
  partner: s3.partner(),
  rowsPerPart: Number(process.env.CRASH_ROWS_PER_PART),
  env: TEST_ENV,
  tempRoot: process.env.CRASH_TEMP_ROOT!,
  onProgress: (event) => {
    const file = "file" in event ? event.file : "key" in event ? event.key.split("/").at(-1) : undefined;
    if (event.type === crashType && (!crashFile || crashFile === file)) process.kill(process.pid, "SIGKILL");
  },
});
console.log("finished without crashing");
