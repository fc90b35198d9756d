// s3rver ships no types; this declares the part `slice sandbox` and the tests use.
declare module "s3rver" {
  import type { EventEmitter } from "node:events";
  import type { Server } from "node:http";
  import type { AddressInfo } from "node:net";

  interface S3rverOptions {
    address?: string;
    port?: number;
    directory?: string;
    silent?: boolean;
    resetOnClose?: boolean;
    allowMismatchedSignatures?: boolean;
    vhostBuckets?: boolean;
    configureBuckets?: { name: string; configs?: unknown[] }[];
  }

  export interface S3rverEvent {
    Records: { eventName: string; eventTime: string; s3: { bucket: { name: string }; object: { key: string; size?: number } } }[];
  }

  export default class S3rver extends EventEmitter {
    constructor(options?: S3rverOptions);
    httpServer?: Server;
    run(): Promise<AddressInfo>;
    close(): Promise<void>;
  }
}
