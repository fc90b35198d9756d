/** The Meta contract server moved to src/sandbox/ (it backs `slice sandbox`); tests keep importing it from here. */
export * from "../../src/sandbox/meta-contract-server.ts";
