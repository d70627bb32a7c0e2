#!/usr/bin/env node
// Thin launcher: the compiled CLI lives in dist/ (built by `npm ci` through the prepare script).
import { main } from "../dist/src/cli/main.js";

main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    console.error(`beamsync: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 2;
  },
);
