/**
 * `slice serve` (the partner API on the configured warehouse: DuckDB file or BigQuery) and `slice api-key create --partner ID`.
 */
import { wholeNumber } from "../cli-options.ts";
import type { Command } from "commander";
import { addWarehouseOptions, warehouseConfigFromFlags } from "../warehouse/config.ts";
import { createApiKey, DEFAULT_API_KEYS_FILE, type HashAlgorithm } from "./keys.ts";
import { DEFAULT_CLIENT_THROTTLE, DEFAULT_RATE_LIMIT } from "./rate-limit.ts";
import { DEFAULT_SPOOL_SETTINGS, parseSpoolSettings } from "./spool.ts";
import { DEFAULT_API_HOST, DEFAULT_API_PORT, servePartnerApi } from "./serve.ts";
import { DEFAULT_STREAM_LIMITS, parseStreamLimits } from "./streams.ts";

function positiveNumber(name: string, integer: boolean) {
  return (value: string): number => {
    const parsed = Number(value);
    if (!Number.isFinite(parsed) || parsed <= 0 || (integer && !Number.isInteger(parsed))) {
      throw new Error(`${name} ${value}: expected a positive ${integer ? "whole " : ""}number`);
    }
    return parsed;
  };
}

/** The lines `slice api-key create` prints: the key once, then the registry entry to add. */
export function describeNewApiKey(partner: string, algorithm: HashAlgorithm, keysFile = DEFAULT_API_KEYS_FILE): string[] {
  const created = createApiKey(partner, { algorithm });
  return [
    `New API key for partner ${partner} (shown only now; send it to the partner over a secure channel):`,
    "",
    `  ${created.key}`,
    "",
    `Add this entry under keys: in ${keysFile} (it holds only the ${algorithm} hash):`,
    "",
    created.registryLine,
    "",
    "Revoke the key later by deleting that entry and restarting the API.",
  ];
}

export function registerApiCommands(program: Command): void {
  const serveCommand = program
    .command("serve")
    .description("Serve the partner pull API (GET /v1/audiences…) on the DuckDB warehouse file or a BigQuery dataset.")
    .option("--port <n>", "TCP port (0 picks a free one)", wholeNumber("--port", { min: 0, max: 65535 }), DEFAULT_API_PORT)
    .option("--host <address>", "address to bind; 0.0.0.0 exposes it to the network", DEFAULT_API_HOST)
    .option("--keys-file <path>", "API key registry (YAML/JSON of key hashes)", DEFAULT_API_KEYS_FILE)
    .option("--rate-burst <n>", "requests a partner may send at once", positiveNumber("--rate-burst", true), DEFAULT_RATE_LIMIT.burst)
    .option("--rate-per-second <n>", "sustained requests per second per partner", positiveNumber("--rate-per-second", false), DEFAULT_RATE_LIMIT.per_second)
    .option("--max-streams-per-partner <n>", "NDJSON streams one partner may have open at once", positiveNumber("--max-streams-per-partner", true), DEFAULT_STREAM_LIMITS.per_partner)
    .option("--max-streams <n>", "NDJSON streams open at once, all partners together", positiveNumber("--max-streams", true), DEFAULT_STREAM_LIMITS.total)
    .option("--client-rate-burst <n>", "requests one client address may send at once, before its key is checked", positiveNumber("--client-rate-burst", true), DEFAULT_CLIENT_THROTTLE.burst)
    .option("--client-rate-per-second <n>", "sustained requests per second per client address", positiveNumber("--client-rate-per-second", false), DEFAULT_CLIENT_THROTTLE.per_second)
    .option("--trusted-proxy-hops <n>", "proxies in front that append to X-Forwarded-For; the client address is the entry that many from the right (0: the TCP peer)", wholeNumber("--trusted-proxy-hops", { min: 0, max: 10 }), DEFAULT_CLIENT_THROTTLE.trusted_proxy_hops)
    .option("--spool-dir <path>", "folder for the NDJSON spool files (default: the system temp folder)")
    .option("--spool-max-mb <n>", "disk the NDJSON spool files may take in MiB; 0 streams every request from the warehouse", wholeNumber("--spool-max-mb", { min: 0 }), DEFAULT_SPOOL_SETTINGS.max_bytes / 2 ** 20);
  addWarehouseOptions(serveCommand).action(async (opts) => {
    const running = await servePartnerApi({
      warehouse: warehouseConfigFromFlags(opts),
      port: opts.port,
      host: opts.host,
      keysFile: opts.keysFile,
      // From the environment only: a secret on the command line shows in `ps`.
      cursorSecret: process.env.SLICE_CURSOR_SECRET,
      rateLimit: { burst: opts.rateBurst, per_second: opts.ratePerSecond },
      streamLimits: parseStreamLimits(
        { ...DEFAULT_STREAM_LIMITS, per_partner: opts.maxStreamsPerPartner, total: opts.maxStreams },
        "--max-streams-per-partner / --max-streams",
      ),
      clientThrottle: { burst: opts.clientRateBurst, per_second: opts.clientRatePerSecond, trusted_proxy_hops: opts.trustedProxyHops },
      spool: parseSpoolSettings({ ...DEFAULT_SPOOL_SETTINGS, dir: opts.spoolDir, max_bytes: opts.spoolMaxMb * 2 ** 20 }, "--spool-dir / --spool-max-mb"),
    });
    await new Promise<void>((resolve) => {
      const stop = () => {
        process.off("SIGINT", stop);
        process.off("SIGTERM", stop);
        resolve();
      };
      process.on("SIGINT", stop);
      process.on("SIGTERM", stop);
    });
    console.log("Stopping the partner API.");
    await running.close();
  });

  const apiKey = program.command("api-key").description("Partner API keys.");
  apiKey
    .command("create")
    .description("Print a new random API key for a partner and the hash entry to add to the key registry.")
    .requiredOption("--partner <id>", "partner id (equals activation.audience_members.destination)")
    .option("--algorithm <name>", "hash stored in the registry: sha256 or scrypt", "sha256")
    .option("--keys-file <path>", "registry the entry is meant for (only named in the output)", DEFAULT_API_KEYS_FILE)
    .action((opts) => {
      if (opts.algorithm !== "sha256" && opts.algorithm !== "scrypt") throw new Error(`--algorithm ${opts.algorithm}: use sha256 or scrypt`);
      for (const line of describeNewApiKey(opts.partner, opts.algorithm, opts.keysFile)) console.log(line);
    });
}
