// ESLint for the TypeScript of src/, functions/, macros/, tests/ and bench/ (npm run lint; npm test runs it).
// The recommended rules of ESLint and typescript-eslint without type information, so it stays fast; the
// type checker (npm run typecheck) covers the rest. includes/ is generated from macros/ and not linted.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["includes/**", "node_modules/**", "artifacts/**", "bench/work/**", "bench/results/**", ".scratch/**", "warehouse/**", "definitions/**", "deploy/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ["**/*.ts", "**/*.tsx", "**/*.mjs", "**/*.js"],
    languageOptions: { ecmaVersion: 2023, sourceType: "module", globals: { process: "readonly", console: "readonly", Buffer: "readonly", setTimeout: "readonly", clearTimeout: "readonly", setInterval: "readonly", clearInterval: "readonly", URL: "readonly", fetch: "readonly", performance: "readonly", structuredClone: "readonly", TextEncoder: "readonly", TextDecoder: "readonly", AbortController: "readonly", Response: "readonly", Request: "readonly", Headers: "readonly", queueMicrotask: "readonly", setImmediate: "readonly" } },
    rules: {
      // Unused names are errors, except a deliberately ignored one written with a leading underscore.
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none" }],
    },
  },
  {
    // The explorer's page scripts run in the browser.
    files: ["src/explorer/assets/**/*.js"],
    languageOptions: { globals: { document: "readonly", window: "readonly", getComputedStyle: "readonly", Chart: "readonly" } },
  },
  {
    // Published reference values (CDNOW fits, special functions) are quoted with every digit their source
    // prints; the comparisons use a tolerance, so the digits past a double's precision do no harm.
    files: ["tests/scores/**/*.ts"],
    rules: { "no-loss-of-precision": "off" },
  },
  {
    // Tests read JSON bodies of every shape from the local servers they run against.
    files: ["tests/**/*.ts"],
    rules: { "@typescript-eslint/no-explicit-any": "off" },
  },
);
